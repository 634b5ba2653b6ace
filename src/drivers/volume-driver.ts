import type { ResultAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import type { VolkitError } from "../core/errors.js";
import type {
  ConnectionInfoInput,
  ExistingRef,
  HostProperties,
  ImageLocation,
  ManageableVolume,
  ModelUpdateInput,
  PoolStatsInput,
  Protocol,
  Snapshot,
  SnapshotInput,
  SnapshotSpec,
  Volume,
  VolumeInput,
  VolumeSpec,
} from "../core/records.js";

/** What a driver can do; the runtime, the stats header and schedulers read these instead of probing. */
export interface DriverCapabilities {
  /** Thin-provisioned volumes. */
  readonly thin: boolean;
  /** Fully allocated volumes. */
  readonly thick: boolean;
  /** Native snapshots. */
  readonly snapshots: boolean;
  /** Native (not generic-copy) clones. */
  readonly nativeClone: boolean;
  /** `revertToSnapshot` works. */
  readonly revertToSnapshot: boolean;
  /** Extend while attached. */
  readonly onlineExtend: boolean;
  /** One volume attached to several hosts. */
  readonly multiattach: boolean;
  /** `manageExisting`/`unmanage`/`listManageable`. */
  readonly manageExisting: boolean;
  /** Copies keep thin targets sparse. */
  readonly sparseCopy: boolean;
  /** Back-end QoS (limits applied by the storage, from a volume type's QoS specs). */
  readonly qos: boolean;
  /** Several volumes share one target (detach must not log out what other volumes use). */
  readonly sharedTargets: boolean;
  /** Transport it exports volumes with. */
  readonly protocol: Protocol;
}

/** Whether a volume is exported, and which hosts (initiator IQNs or host names) have access to it. */
export interface ExportState {
  /** The export (target, share, mapping) exists. */
  readonly exported: boolean;
  /**
   * Hosts that still have access: initiators in the target's ACLs or with a live session, mapped
   * hosts on an array. Empty when nobody uses the export (the attach flow then removes it).
   */
  readonly hosts: readonly string[];
}

/**
 * A backend's rule for volume and snapshot ids beyond volkit's own `IdSchema` (an array's name
 * length, a target's IQN alphabet). The runtime checks it at create, so a driver never accepts an
 * id it cannot serve later.
 */
export interface IdRule {
  /** Ids must match this. */
  readonly pattern: RegExp;
  /** What the rule says, for the error message (`"letters, digits and '-', at most 36"`). */
  readonly description: string;
}

/** A byte range of a volume or snapshot. */
export interface ByteRange {
  /** First byte. */
  readonly offset: number;
  /** Length in bytes. */
  readonly length: number;
}

/** What {@link VolumeDriver.allocationMap} is asked about: a volume, or a snapshot. */
export type AllocationSubject = { readonly volume: Volume } | { readonly snapshot: Snapshot };

/**
 * The contract every volkit volume driver implements (modelled on Cinder's VolumeDriver).
 *
 * Drivers are stateless: they derive backend names from ids and read the backend, so the caller's
 * records are the only state. Every method must be safe to retry: deleting a missing volume
 * succeeds, creating one that exists fails with `VOLUME_EXISTS` (or succeeds if it matches
 * exactly), and a failed multi-step method undoes what it created.
 *
 * Drivers receive validated, parsed input and an {@link OperationContext} (signal, deadline,
 * phases, progress, and `io` to reach a volume's bytes on this host). They return input forms
 * (`VolumeInput`, `ConnectionInfoInput`…); the runtime checks and parses them once. Callers never
 * call drivers directly: they use the `VolumeBackend` that `createBackend` or `wrapDriver` builds.
 */
export interface VolumeDriver {
  /** Short driver name (`lvm`, `nfs`, `ipsan`, or a driver author's). */
  readonly driverName: string;
  /** Vendor reported in stats. */
  readonly vendorName: string;
  /** Driver version reported in stats. */
  readonly driverVersion: string;
  /** Capability flags; correct before `setup` has run (they may be refined by `initialize`). */
  readonly capabilities: DriverCapabilities;
  /** Extra rule for volume and snapshot ids, checked by the runtime at create. */
  readonly idRule?: IdRule;

  /**
   * Read-only start-up checks (the backend answers, the pool exists, tools are installed), run once
   * before the first operation. Must change nothing on the storage.
   */
  initialize?(ctx: OperationContext): ResultAsync<void, VolkitError>;
  /**
   * Creates what the backend needs before volumes can be written (a thin pool, a directory), run
   * once before the first write, or when the caller calls `backend.setup()`. Never run for reads.
   */
  setup?(ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Releases resources (connections, timers). */
  close?(): ResultAsync<void, VolkitError>;

  /** Allocates a volume (no export). */
  createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError>;
  /** Deletes a volume, wiping it per config; `VOLUME_BUSY` while it has snapshots; ok if missing. */
  deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Takes a point-in-time snapshot. */
  createSnapshot(spec: SnapshotSpec, volume: Volume, ctx: OperationContext): ResultAsync<SnapshotInput, VolkitError>;
  /** Deletes a snapshot; ok if missing. */
  deleteSnapshot(snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** New volume with a snapshot's data, grown to `spec.sizeGiB` when larger. */
  createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError>;
  /** New volume with another volume's data, grown to `spec.sizeGiB` when larger. */
  createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError>;
  /**
   * Optional: a new volume that keeps reading the data it shares with `source` from `source`
   * itself (an NFS qcow2 overlay on the source's file) instead of a copy, so it is made in about a
   * second whatever the size. For sources that are never written again (image-cache volumes): the
   * driver refuses writes to `source` from then on, and its delete (`VOLUME_BUSY`) while such clones
   * exist. Clones, snapshots' volumes and migrations of a linked clone are independent copies.
   * Drivers whose native clones are independent anyway (thin snapshots, array copies) leave it out;
   * `VolumeBackend.createLinkedClone` then makes an ordinary clone.
   */
  createLinkedClone?(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError>;
  /** Grows a volume to `newSizeGiB` (never shrinks). */
  extendVolume(volume: Volume, newSizeGiB: number, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError>;
  /** Restores a volume's data to a snapshot's; keeps the volume's size and the snapshot. */
  revertToSnapshot(volume: Volume, snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError>;

  /** Exports the volume (creates the target); idempotent. Returns what changed in the record. */
  createExport(volume: Volume, host: HostProperties | undefined, ctx: OperationContext): ResultAsync<ModelUpdateInput, VolkitError>;
  /** Re-creates the export if it is missing (at service start). */
  ensureExport(volume: Volume, ctx: OperationContext): ResultAsync<ModelUpdateInput, VolkitError>;
  /** Removes the export; ok if missing. */
  removeExport(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Whether the volume is exported and who still has access (decides when a detach removes the export). */
  describeExport(volume: Volume, ctx: OperationContext): ResultAsync<ExportState, VolkitError>;
  /** Grants `host` access and returns what it needs to attach. May be called repeatedly. */
  initializeConnection(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError>;
  /** Revokes a host's access; with no host, revokes every host's (force detach). */
  terminateConnection(volume: Volume, host: HostProperties | undefined, ctx: OperationContext): ResultAsync<void, VolkitError>;

  /**
   * Optional: the byte ranges of a volume or snapshot that may hold data, everything else reading
   * as zeros (a thin LV: its mappings in the thin pool). Backups read only these ranges instead of
   * every byte. Ranges may be unsorted, overlap, or cover more than the data (a whole pool block);
   * they must never miss data. `NOT_SUPPORTED` (the default) when the backend cannot tell: callers
   * then read everything and detect zeros. Reads only.
   */
  allocationMap?(subject: AllocationSubject, ctx: OperationContext): ResultAsync<readonly ByteRange[], VolkitError>;

  /** Capacity and capabilities of each pool, read fresh (the runtime caches and adds the header). */
  getPoolStats(ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError>;

  /** Writes an image (any qemu-img format) into the volume. */
  copyImageToVolume(image: ImageLocation, volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Writes the volume's data to an image file. */
  copyVolumeToImage(volume: Volume, image: ImageLocation & { readonly format: string }, ctx: OperationContext): ResultAsync<void, VolkitError>;

  /** Takes over an existing backend object as `spec.id` (renamed to volkit's naming). */
  manageExisting(spec: VolumeSpec, ref: ExistingRef, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError>;
  /** Size in GiB (rounded up) of an existing object. */
  manageExistingGetSize(ref: ExistingRef, ctx: OperationContext): ResultAsync<number, VolkitError>;
  /** Stops managing a volume; its data stays. */
  unmanage(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Objects on the backend that could be managed. */
  listManageable(ctx: OperationContext): ResultAsync<readonly ManageableVolume[], VolkitError>;
}

/** Names of the operations of {@link VolumeDriver} the runtime wraps. */
export type DriverOperation = Exclude<keyof VolumeDriver, "driverName" | "vendorName" | "driverVersion" | "capabilities" | "idRule" | "close">;
