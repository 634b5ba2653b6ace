import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { backgroundContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type {
  ConnectionInfoInput,
  ExistingRef,
  HostProperties,
  ImageLocation,
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
import { GiB, VolumeDriverBase } from "../base.js";
import type { DriverCapabilities, ExportState } from "../volume-driver.js";
import type { RbdClient } from "./rbd-client.js";
import { createClonedVolume, createVolumeFromSnapshot, volumeRecord } from "./rbd-clone.js";
import type { ParsedRbdConfig } from "./rbd-config.js";
import { rbdConnectionInfo, monitorsForClients } from "./rbd-connection-info.js";
import { copyImageToVolume, copyVolumeToImage } from "./rbd-data.js";
import { deleteSnapshot, deleteVolume } from "./rbd-delete.js";
import { listManageable, manageExisting, manageExistingGetSize } from "./rbd-manage.js";
import { imageSpec } from "./rbd-names.js";
import { snapshotNotFound, volumeNotFound, RbdPool } from "./rbd-pool.js";
import { applyTypeQos } from "./rbd-qos.js";
import { poolStatsOf } from "./rbd-stats.js";

/** Dependencies of {@link RbdDriver}. */
export interface RbdDriverDeps {
  /** Runs `rbd`, `ceph` and `qemu-img` (locally, via a root helper or over SSH). */
  readonly runner: CommandRunner;
  /** CLI access as the configured client (built on `runner`). */
  readonly client: RbdClient;
}

/** What the driver reads from the monitor map (once) for connection info. */
interface ClusterFacts {
  readonly fsid: string;
  /** Monitors as clients should be given them (`host:port`). */
  readonly monitors: readonly string[];
}

/**
 * Cinder-compatible Ceph RBD driver: thin images in one pool (and namespace), snapshots,
 * copy-on-write clones of snapshots and volumes with flattening by depth, revert by rollback,
 * online extend, capacity from `ceph df` and `rbd du`, image copies and manage through librbd
 * (`qemu-img` on `rbd:` names), back-end QoS per volume type, and `rbd` connection info for
 * QEMU (libvirt network disks) or the kernel connector. Nothing is exported: any host with the
 * key reaches the images, so exports are no-ops and `describeExport` lists the clients that have
 * the image open (its watchers).
 *
 * @example
 * ```ts
 * const backend = (await createBackend({ driver: "rbd", clientId: "cinder", pool: "volumes", libvirtSecretUuid: uuid }))._unsafeUnwrap();
 * ```
 */
export class RbdDriver extends VolumeDriverBase {
  /** {@inheritDoc index!VolumeDriver.driverName} */
  readonly driverName = "rbd";
  /** {@inheritDoc index!VolumeDriver.vendorName} */
  override readonly vendorName = "Open Source";
  /** {@inheritDoc index!VolumeDriver.driverVersion} */
  override readonly driverVersion = "0.2.0";
  /** Everything an RBD pool does natively; volumes are always thin. */
  readonly capabilities: DriverCapabilities = {
    thin: true,
    thick: false,
    snapshots: true,
    nativeClone: true,
    revertToSnapshot: true,
    onlineExtend: true,
    multiattach: false,
    manageExisting: true,
    sparseCopy: true,
    qos: true,
    sharedTargets: false,
    protocol: "rbd",
  };

  /** Typed CLI access (exposed for tests and advanced callers). */
  readonly client: RbdClient;
  readonly #config: ParsedRbdConfig;
  readonly #pool: RbdPool;
  readonly #runner: CommandRunner;
  #cluster: ClusterFacts | undefined;

  /** @param config - parsed config (see `RbdConfigSchema`); @param deps - runner and client. */
  constructor(config: ParsedRbdConfig, deps: RbdDriverDeps) {
    super(deps.runner);
    this.#config = config;
    this.#runner = deps.runner;
    this.client = deps.client;
    this.#pool = new RbdPool(deps.client, config);
  }

  /**
   * Reads only, with one `rbd` call per pool (a refused key fails in a fraction of a second): the
   * monitors answer and accept the key, and the pool (and namespace, and data pool) exist. A
   * missing pool or namespace is `INVALID_CONFIG`. The monitor map (slower: the `ceph` CLI) is
   * read at the first `initializeConnection`.
   */
  override initialize(ctx: OperationContext): ResultAsync<void, VolkitError> {
    const { pool, namespace, dataPool } = this.#config;
    return ctx
      .phase("pool", () => this.#poolExists(pool, ctx))
      .andThen((namespaces) =>
        namespace === undefined || namespaces.includes(namespace)
          ? okAsync(undefined)
          : errAsync(new VolkitError("INVALID_CONFIG", `namespace ${namespace} does not exist in pool ${pool} (rbd namespace create ${pool}/${namespace})`, { source: "rbd" })),
      )
      .andThen(() => (dataPool === undefined ? okAsync(undefined) : ctx.phase("data-pool", () => this.#poolExists(dataPool, ctx)).map(() => undefined)));
  }

  /** Removes the key file, if one was written. */
  close(): ResultAsync<void, VolkitError> {
    return this.client.close(backgroundContext("close", "rbd"));
  }

  /** Creates a thin image of the spec's size (features and data pool from the config) with its type's QoS. */
  createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const ref = this.#pool.volume(spec.id);
    return ctx
      .phase("create", () => this.client.create(ref, spec.sizeGiB * GiB, ctx, this.#pool.layout()))
      .andThen(() => applyTypeQos(this.#pool, ref, spec, false, ctx).orElse((e) => this.undo<void>({ ...spec }, ctx, e)))
      .map(() => volumeRecord(spec, ref));
  }

  /** See `deleteVolume` in rbd-delete.ts: `VOLUME_BUSY` with snapshots or open; clones handled per `deleteWithClones`. */
  deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return deleteVolume(this.#pool, volume, ctx);
  }

  /** Takes the snapshot `snapshot-<id>`; one already there (a retry) is returned as is. */
  override createSnapshot(spec: SnapshotSpec, volume: Volume, ctx: OperationContext): ResultAsync<SnapshotInput, VolkitError> {
    const ref = this.#pool.snapshot(volume.id, spec.id);
    return ctx
      .phase("snap-create", () => this.client.snapCreate(ref, ctx).orElse((e) => (e.code === "SNAPSHOT_EXISTS" ? okAsync(undefined) : errAsync(e))))
      .map((): SnapshotInput => ({ ...spec, providerLocation: imageSpec(ref) }));
  }

  /** See `deleteSnapshot` in rbd-delete.ts: missing = success; clones handled per `deleteWithClones`. */
  override deleteSnapshot(snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return deleteSnapshot(this.#pool, snapshot, ctx);
  }

  /** A copy-on-write clone of the snapshot (flattened per config or clone depth). */
  override createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return createVolumeFromSnapshot(this.#pool, spec, snapshot, ctx);
  }

  /** A copy-on-write clone of the volume through a snapshot of it (flattened by clone depth). */
  createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return createClonedVolume(this.#pool, spec, source, ctx);
  }

  /** Grows the image (online: librbd and krbd clients see the new size). */
  extendVolume(volume: Volume, newSizeGiB: number, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const ref = this.#pool.volume(volume.id);
    const grown: VolumeInput = { ...volume, sizeGiB: newSizeGiB };
    return this.client
      .findImage(ref, ctx)
      .andThen((info) => {
        if (info === undefined) return errAsync(volumeNotFound(volume.id, ref));
        if (info.sizeBytes >= newSizeGiB * GiB) return okAsync(undefined); // done already (a retry)
        return ctx.phase("resize", () => this.client.resize(ref, newSizeGiB * GiB, ctx));
      })
      .map(() => grown);
  }

  /**
   * Rolls the image back to the snapshot (`rbd snap rollback`, which rewrites the data), then grows
   * it back to the volume's size when it was extended after the snapshot. The volume must not be
   * open anywhere (`VOLUME_BUSY`).
   */
  override revertToSnapshot(volume: Volume, snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const ref = this.#pool.volume(volume.id);
    const snap = this.#pool.snapshot(volume.id, snapshot.id);
    return this.client
      .snapshots(ref, ctx)
      .mapErr((e) => (e.code === "VOLUME_NOT_FOUND" ? volumeNotFound(volume.id, ref) : e))
      .andThen((snaps) => {
        const found = snaps.find((s) => s.name === snap.snapshot);
        if (!found) return errAsync(snapshotNotFound(snapshot.id, snap));
        return this.#pool
          .mustBeClosed(ref, "revert", ctx)
          .andThen(() => ctx.phase("rollback", () => this.client.snapRollback(snap, ctx)))
          .andThen(() => (found.sizeBytes < volume.sizeGiB * GiB ? ctx.phase("resize", () => this.client.resize(ref, volume.sizeGiB * GiB, ctx)) : okAsync(undefined)));
      });
  }

  /** Exported means reachable: always. `hosts` are the clients that have the image open (its watchers). */
  override describeExport(volume: Volume, ctx: OperationContext): ResultAsync<ExportState, VolkitError> {
    return this.client.status(this.#pool.volume(volume.id), ctx).map((s) => ({ exported: true, hosts: [...new Set(s.watchers.map((w) => w.address))] }));
  }

  /**
   * `rbd` connection info: the image, the monitors (from the monitor map), the client id, the
   * libvirt secret and host keyring from the config, and the key only with `exposeKey`.
   */
  initializeConnection(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError> {
    const ref = this.#pool.volume(volume.id);
    return this.client
      .findImage(ref, ctx)
      .andThen((info) => (info === undefined ? errAsync(volumeNotFound(volume.id, ref)) : this.#clusterFacts(ctx)))
      .map((cluster) => rbdConnectionInfo(this.#config, ref, volume.id, cluster.monitors, host));
  }

  /** One pool: capacity from `ceph df detail`, provisioning from `rbd du` (see `poolStatsOf`). Reads only. */
  getPoolStats(ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError> {
    const { pool, namespace } = this.#config;
    return ctx
      .phase("ceph-df", () => this.client.cephDf(ctx, { detail: true }))
      .andThen((df) => ctx.phase("rbd-du", () => this.client.diskUsage({ pool, ...(namespace === undefined ? {} : { namespace }) }, ctx)).map((du) => [poolStatsOf(this.#config, df, du)]));
  }

  /** `qemu-img convert` into the volume through librbd (no attach). */
  override copyImageToVolume(image: ImageLocation, volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return copyImageToVolume(this.#pool, this.#runner, image, volume, ctx);
  }

  /** `qemu-img convert` of the volume through librbd (no attach). */
  override copyVolumeToImage(volume: Volume, image: ImageLocation & { readonly format: string }, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return copyVolumeToImage(this.#pool, this.#runner, volume, image, ctx);
  }

  /** Renames an image of the pool to `volume-<id>` (grown to whole GiB) with its type's QoS. */
  override manageExisting(spec: VolumeSpec, ref: ExistingRef, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return manageExisting(this.#pool, spec, ref, ctx);
  }

  /** Size in whole GiB of an image that could be managed. */
  override manageExistingGetSize(ref: ExistingRef, ctx: OperationContext): ResultAsync<number, VolkitError> {
    return manageExistingGetSize(this.#pool, ref, ctx);
  }

  /** Stops managing a volume; the image and its data stay as they are. */
  override unmanage(_volume: Volume, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return okAsync(undefined);
  }

  /** The pool's images, with whether each can be managed. */
  override listManageable(ctx: OperationContext): ResultAsync<readonly ManageableVolume[], VolkitError> {
    return listManageable(this.#pool, ctx);
  }

  /** The monitor map, read once (`ceph mon dump`). */
  #clusterFacts(ctx: OperationContext): ResultAsync<ClusterFacts, VolkitError> {
    return this.#cluster === undefined ? this.#readCluster(ctx) : okAsync(this.#cluster);
  }

  #readCluster(ctx: OperationContext): ResultAsync<ClusterFacts, VolkitError> {
    return this.client.monDump(ctx).andThen((map) => {
      const monitors = monitorsForClients(map);
      if (monitors.length === 0) return errAsync(new VolkitError("BACKEND_UNAVAILABLE", "the monitor map lists no monitor address", { source: "rbd" }));
      this.#cluster = { fsid: map.fsid, monitors };
      return okAsync(this.#cluster);
    });
  }

  /** The pool's namespaces; a missing pool is `INVALID_CONFIG`. */
  #poolExists(pool: string, ctx: OperationContext): ResultAsync<string[], VolkitError> {
    return this.client
      .namespaces(pool, ctx)
      .mapErr((e) => (e.code === "BACKEND_UNAVAILABLE" && !e.transient ? new VolkitError("INVALID_CONFIG", `pool ${pool} does not exist`, { source: "rbd", cause: e }) : e));
  }
}
