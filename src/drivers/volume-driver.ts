import type { ResultAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import type { VolkitError } from "../core/errors.js";
import type {
  ConnectionInfo,
  ConnectorProperties,
  ExistingRef,
  ImageLocation,
  ManageableVolume,
  ModelUpdate,
  Snapshot,
  SnapshotSpec,
  Volume,
  VolumeSpec,
  VolumeStats,
} from "../core/types.js";

/** What a driver can do; the runtime and schedulers read these instead of probing. */
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
  /** Transport it exports volumes with. */
  readonly protocol: "iSCSI" | "NFS" | "local" | "RBD" | "NVMe-oF";
}

/**
 * The contract every volkit volume driver implements (modelled on Cinder's VolumeDriver).
 *
 * Drivers are stateless: they derive backend names from ids and read the backend, so the
 * orchestrator's records are the only state. Every method must be safe to retry: deleting a
 * missing volume succeeds, creating one that exists fails with `VOLUME_EXISTS` (or succeeds if it
 * matches exactly), and a failed multi-step method undoes what it created.
 *
 * Drivers receive an {@link OperationContext} (signal, deadline, phases, progress). Callers do not
 * call drivers directly; they use the {@link VolumeBackend} that wraps a driver with validation,
 * locks and events (see `createDriver` and `wrapDriver`).
 */
export interface VolumeDriver {
  /** Short driver name (`lvm`, `nfs`, or a driver author's). */
  readonly driverName: string;
  /** Vendor reported in stats. */
  readonly vendorName: string;
  /** Driver version reported in stats. */
  readonly driverVersion: string;
  /** Capability flags. */
  readonly capabilities: DriverCapabilities;

  /** Prepares the backend and checks it is usable (Cinder's do_setup + check_for_setup_error). */
  setup(ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Releases resources (connections, timers). Optional. */
  close?(): ResultAsync<void, VolkitError>;

  /** Allocates a volume (no export). */
  createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<Volume, VolkitError>;
  /** Deletes a volume, wiping it per config; `VOLUME_BUSY` while it has snapshots; ok if missing. */
  deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Takes a point-in-time snapshot. */
  createSnapshot(snapshot: SnapshotSpec, volume: Volume, ctx: OperationContext): ResultAsync<Snapshot, VolkitError>;
  /** Deletes a snapshot; ok if missing. */
  deleteSnapshot(snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** New volume with a snapshot's data, grown to `spec.sizeGiB` when larger. */
  createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<Volume, VolkitError>;
  /** New volume with another volume's data, grown to `spec.sizeGiB` when larger. */
  createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<Volume, VolkitError>;
  /** Grows a volume to `newSizeGiB` (never shrinks). */
  extendVolume(volume: Volume, newSizeGiB: number, ctx: OperationContext): ResultAsync<Volume, VolkitError>;
  /** Restores a volume's data to a snapshot's; keeps the volume's size and the snapshot. */
  revertToSnapshot(volume: Volume, snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError>;

  /** Exports the volume (creates the target). */
  createExport(volume: Volume, connector: ConnectorProperties | undefined, ctx: OperationContext): ResultAsync<ModelUpdate, VolkitError>;
  /** Re-creates the export if it is missing (at service start). */
  ensureExport(volume: Volume, ctx: OperationContext): ResultAsync<ModelUpdate, VolkitError>;
  /** Removes the export; ok if missing. */
  removeExport(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Grants `connector` access and returns what it needs to attach. May be called repeatedly. */
  initializeConnection(volume: Volume, connector: ConnectorProperties, ctx: OperationContext): ResultAsync<ConnectionInfo, VolkitError>;
  /** Revokes a host's access; with no connector, revokes every host's (force detach). */
  terminateConnection(volume: Volume, connector: ConnectorProperties | undefined, ctx: OperationContext): ResultAsync<void, VolkitError>;

  /** Capacity and capabilities, with pools. */
  getVolumeStats(refresh: boolean, ctx: OperationContext): ResultAsync<VolumeStats, VolkitError>;

  /** Writes an image (any qemu-img format) into the volume. */
  copyImageToVolume(image: ImageLocation, volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Writes the volume's data to an image file. */
  copyVolumeToImage(volume: Volume, image: ImageLocation & { readonly format: string }, ctx: OperationContext): ResultAsync<void, VolkitError>;

  /** Takes over an existing backend object as `spec.id` (renamed to volkit's naming). */
  manageExisting(spec: VolumeSpec, ref: ExistingRef, ctx: OperationContext): ResultAsync<Volume, VolkitError>;
  /** Size in GiB (rounded up) of an existing object. */
  manageExistingGetSize(ref: ExistingRef, ctx: OperationContext): ResultAsync<number, VolkitError>;
  /** Stops managing a volume; its data stays. */
  unmanage(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Objects on the backend that could be managed. */
  listManageable(ctx: OperationContext): ResultAsync<readonly ManageableVolume[], VolkitError>;
}

/** Names of the operations of {@link VolumeDriver} the runtime wraps. */
export type DriverOperation = Exclude<keyof VolumeDriver, "driverName" | "vendorName" | "driverVersion" | "capabilities" | "close">;
