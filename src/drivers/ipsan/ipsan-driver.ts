import { type ResultAsync, okAsync } from "neverthrow";
import { backgroundContext, type OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import { InProcessLocks, type LockBackend } from "../../core/locks.js";
import type {
  ConnectionInfoInput,
  ExistingRef,
  HostProperties,
  ManageableVolume,
  PoolStatsInput,
  Snapshot,
  SnapshotInput,
  SnapshotSpec,
  Volume,
  VolumeInput,
  VolumeSpec,
} from "../../core/records.js";
import type { CommandRunner } from "../../exec/runner.js";
import { VolumeDriverBase } from "../base.js";
import type { DriverCapabilities, ExportState } from "../volume-driver.js";
import { ArrayFacts } from "./ipsan-array.js";
import type { IpsanClient } from "./ipsan-client.js";
import type { ParsedIpsanConfig } from "./ipsan-config.js";
import { IpsanCopies } from "./ipsan-copies.js";
import { IpsanLuns } from "./ipsan-luns.js";
import { IpsanManage } from "./ipsan-manage.js";
import { IpsanMappings } from "./ipsan-mapping.js";
import { IpsanQos } from "./ipsan-qos.js";
import { IpsanSnapshots } from "./ipsan-snapshots.js";
import { IpsanVolumes } from "./ipsan-volumes.js";

/** Dependencies of {@link IpsanDriver}. */
export interface IpsanDriverDeps {
  /** The array's REST client (see `createIpsanClient`). */
  readonly client: IpsanClient;
  /** Runs `qemu-img` for image copies through an attached device (default: none, image copies are then `NOT_SUPPORTED`). */
  readonly runner?: CommandRunner | undefined;
  /**
   * Locks of the per-host mapping sections (default: in-process). Keys are `ipsan-host:<host>`,
   * one per host, so hosts map in parallel; give `FileLocks` when several processes drive one array.
   */
  readonly locks?: LockBackend | undefined;
}

/**
 * The IP-SAN driver for OceanStor-style arrays (the REST dialect of Cinder's Huawei driver and its
 * vendor forks): thin or thick LUNs in the configured pools, snapshots, volumes from snapshots and
 * clones (linked clone LUNs within `maxCloneDepth`, else LUN copies or clone pairs), revert, extend,
 * back-end QoS from a volume type's specs, manage/unmanage, and iSCSI host mappings (host, initiator
 * with CHAP, host group, LUN group, port group, mapping view) with every healthy portal for
 * multipath. Image copies go through the runtime's attach-for-I/O port (`ctx.io`).
 *
 * Stateless like Cinder's: every array object is named from volkit ids, so retries find what an
 * earlier attempt made, and a half-made copy is recognized by its description and started over.
 *
 * @example
 * ```ts
 * const backend = (await createBackend({ driver: "ipsan", restUrls: [url], user: "admin", password, storagePools: ["StoragePool001"] }))._unsafeUnwrap();
 * const vol = await backend.createVolume({ id: "vol-1", sizeGiB: 10, volumeType: "gold" });
 * ```
 */
export class IpsanDriver extends VolumeDriverBase {
  /** {@inheritDoc index!VolumeDriver.driverName} */
  readonly driverName = "ipsan";
  /** {@inheritDoc index!VolumeDriver.vendorName} */
  override readonly vendorName = "OceanStor-compatible";
  /** {@inheritDoc index!VolumeDriver.driverVersion} */
  override readonly driverVersion = "0.2.0";
  /** {@inheritDoc index!VolumeDriver.capabilities} */
  readonly capabilities: DriverCapabilities = {
    thin: true,
    thick: true,
    snapshots: true,
    nativeClone: true,
    revertToSnapshot: true,
    onlineExtend: true,
    multiattach: true,
    manageExisting: true,
    sparseCopy: true,
    qos: true,
    // Every LUN of a host is served by the same per-port targets: a detach must not log out sessions others use.
    sharedTargets: true,
    protocol: "iscsi",
  };

  /** The array's REST client (for tests and advanced callers). */
  readonly client: IpsanClient;
  readonly #config: ParsedIpsanConfig;
  readonly #luns: IpsanLuns;
  readonly #volumes: IpsanVolumes;
  readonly #copies: IpsanCopies;
  readonly #snapshots: IpsanSnapshots;
  readonly #mappings: IpsanMappings;
  readonly #manage: IpsanManage;

  /** @param config - parsed config (see `IpsanConfigSchema`); @param deps - client, runner, locks. */
  constructor(config: ParsedIpsanConfig, deps: IpsanDriverDeps) {
    super(deps.runner);
    this.#config = config;
    const client = deps.client;
    this.client = client;
    const facts = new ArrayFacts(client, config);
    const qos = new IpsanQos(client, config);
    const luns = new IpsanLuns({ client, config, facts, qos });
    const copies = new IpsanCopies({ client, config, facts, luns, qos });
    const mappings = new IpsanMappings({ client, config, luns, locks: deps.locks ?? new InProcessLocks() });
    this.#luns = luns;
    this.#copies = copies;
    this.#mappings = mappings;
    this.#volumes = new IpsanVolumes({ client, config, facts, luns, qos, copies, mappings });
    this.#snapshots = new IpsanSnapshots({ client, config, luns, copies });
    this.#manage = new IpsanManage({ client, config, luns, qos });
  }

  /**
   * Offline checks only (the config was validated when parsed); logs when TLS verification is off.
   * The array is first contacted by the first operation, within that operation's deadline, so an
   * unreachable array is that operation's `BACKEND_UNAVAILABLE`, never a start-up wait.
   */
  override initialize(ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (!this.#config.tls.verify) {
      ctx.logger.warn({ restUrls: this.#config.restUrls.length }, "ipsan: TLS certificate verification of the array REST API is OFF (tls.verify=false): anyone on the path can read the array password");
    }
    return okAsync(undefined);
  }

  /** Logs out of the array and closes its HTTP connections. */
  close(): ResultAsync<void, VolkitError> {
    return this.client.close(backgroundContext("close", "ipsan"));
  }

  /** {@inheritDoc index!VolumeDriver.createVolume} */
  createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#volumes.create(spec, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.deleteVolume} */
  deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#volumes.delete(volume, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.extendVolume} */
  extendVolume(volume: Volume, newSizeGiB: number, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#volumes.extend(volume, newSizeGiB, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.createClonedVolume} */
  createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#copies.clone(spec, source, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.createVolumeFromSnapshot} */
  override createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#copies.fromSnapshot(spec, snapshot, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.createSnapshot} */
  override createSnapshot(spec: SnapshotSpec, volume: Volume, ctx: OperationContext): ResultAsync<SnapshotInput, VolkitError> {
    return this.#snapshots.create(spec, volume, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.deleteSnapshot} */
  override deleteSnapshot(snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#snapshots.delete(snapshot, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.revertToSnapshot} */
  override revertToSnapshot(volume: Volume, snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#snapshots.revert(volume, snapshot, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.getPoolStats} */
  getPoolStats(ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError> {
    return this.#volumes.poolStats(ctx);
  }

  /** Whether the LUN is mapped (in a LUN group) and which hosts see it. */
  override describeExport(volume: Volume, ctx: OperationContext): ResultAsync<ExportState, VolkitError> {
    return this.#mappings.describe(volume, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.initializeConnection} */
  initializeConnection(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError> {
    return this.#mappings.initialize(volume, host, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.terminateConnection} */
  override terminateConnection(volume: Volume, host: HostProperties | undefined, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#mappings.terminate(volume, host, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.manageExisting} */
  override manageExisting(spec: VolumeSpec, ref: ExistingRef, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#manage.manage(spec, ref, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.manageExistingGetSize} */
  override manageExistingGetSize(ref: ExistingRef, ctx: OperationContext): ResultAsync<number, VolkitError> {
    return this.#manage.size(ref, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.unmanage} */
  override unmanage(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#manage.unmanage(volume, ctx);
  }

  /** {@inheritDoc index!VolumeDriver.listManageable} */
  override listManageable(ctx: OperationContext): ResultAsync<readonly ManageableVolume[], VolkitError> {
    return this.#manage.list(ctx);
  }

  /** How deep a volume is in a chain of linked clones (0: independent); for tests and tooling. */
  cloneDepth(volume: Volume, ctx: OperationContext): ResultAsync<number, VolkitError> {
    return this.#luns.require(volume, ctx).andThen((lun) => this.#copies.cloneDepth(lun.id, ctx));
  }
}
