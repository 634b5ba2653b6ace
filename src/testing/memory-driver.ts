import { setTimeout as sleep } from "node:timers/promises";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type {
  ConnectionInfoInput,
  HostProperties,
  ModelUpdateInput,
  PoolStatsInput,
  Snapshot,
  SnapshotSpec,
  Volume,
  VolumeSpec,
} from "../core/records.js";
import { GiB, VolumeDriverBase } from "../drivers/base.js";
import type { CommandRunner } from "../exec/runner.js";
import type { DriverCapabilities, ExportState } from "../drivers/volume-driver.js";

/** Options for {@link MemoryVolumeDriver}. */
export interface MemoryVolumeDriverOptions {
  /** Capacity of the single pool, in GiB (default 1000). Volumes are thick: they use their full size. */
  readonly capacityGiB?: number;
  /**
   * Simulated time every operation takes (ms, default 0). The wait honours the context's signal,
   * so tests of deadlines, cancellation and locks have something to interrupt.
   */
  readonly latencyMs?: number;
  /** Driver name (default `memory`). */
  readonly driverName?: string;
  /**
   * Runner for the base class's generic copy paths (`qemu-img convert` of images). The driver has no
   * local path, so those paths attach the volume through the runtime's `ctx.io`.
   */
  readonly runner?: CommandRunner;
}

/** Reads and writes the start of a volume's data (what the conformance suite's `io` option needs). */
export interface MemoryVolumeIo {
  /** Writes `data` at offset 0 of the volume. */
  write(volume: Volume, data: Buffer): Promise<void>;
  /** Reads the first `bytes` bytes of the volume (zeros where nothing was written). */
  read(volume: Volume, bytes: number): Promise<Buffer>;
}

interface StoredVolume {
  volume: Volume;
  /** The written prefix of the volume's data; everything after it reads as zeros. */
  data: Buffer;
}

interface StoredSnapshot {
  readonly snapshot: Snapshot;
  readonly data: Buffer;
}

/**
 * A complete volume driver that keeps everything in memory: volumes with (sparse) data, snapshots,
 * clones, extend, revert, exports and connections (type `local`, with a fake device path under
 * `/dev/volkit-memory/` that does not exist on any host).
 *
 * It exists to test the runtime and the conformance suite, and to show a driver author what a
 * driver looks like: stateless API, idempotent deletes, `VOLUME_EXISTS`/`VOLUME_BUSY`/`*_NOT_FOUND`
 * errors, the context's signal checked before changing anything.
 *
 * @example
 * ```ts
 * const backend = wrapDriver(new MemoryVolumeDriver({ capacityGiB: 100 }));
 * const vol = (await backend.createVolume({ id: "vol1", sizeGiB: 1 }))._unsafeUnwrap();
 * ```
 */
export class MemoryVolumeDriver extends VolumeDriverBase {
  /** {@inheritDoc index!VolumeDriver.driverName} */
  readonly driverName: string;
  /** {@inheritDoc index!VolumeDriver.capabilities} */
  readonly capabilities: DriverCapabilities = {
    thin: false,
    thick: true,
    snapshots: true,
    nativeClone: true,
    revertToSnapshot: true,
    onlineExtend: true,
    multiattach: true,
    manageExisting: false,
    sparseCopy: true,
    qos: false,
    sharedTargets: false,
    protocol: "local",
  };

  readonly #capacityGiB: number;
  readonly #latencyMs: number;
  readonly #volumes = new Map<string, StoredVolume>();
  readonly #snapshots = new Map<string, StoredSnapshot>();
  readonly #exports = new Set<string>();
  readonly #connections = new Map<string, Set<string>>();

  /** @param options - capacity, simulated latency, name. */
  constructor(options: MemoryVolumeDriverOptions = {}) {
    super(options.runner);
    this.driverName = options.driverName ?? "memory";
    this.#capacityGiB = options.capacityGiB ?? 1000;
    this.#latencyMs = options.latencyMs ?? 0;
  }

  /** Ids of the volumes that exist now. */
  volumeIds(): string[] {
    return [...this.#volumes.keys()];
  }

  /** Ids of the snapshots that exist now. */
  snapshotIds(): string[] {
    return [...this.#snapshots.keys()];
  }

  /** Whether a volume is exported. */
  isExported(volumeId: string): boolean {
    return this.#exports.has(volumeId);
  }

  /** Hosts currently connected to a volume. */
  connectedHosts(volumeId: string): string[] {
    return [...(this.#connections.get(volumeId) ?? [])];
  }

  /** Data access for tests (pass it as the conformance suite's `io`). */
  get io(): MemoryVolumeIo {
    return {
      write: (volume, data) =>
        settle(() => {
          const stored = this.#volumes.get(volume.id);
          if (!stored) throw new Error(`no volume ${volume.id}`);
          if (data.length > stored.volume.sizeGiB * GiB) throw new Error("write beyond the end of the volume");
          const next = Buffer.alloc(Math.max(stored.data.length, data.length));
          stored.data.copy(next);
          data.copy(next);
          stored.data = next;
        }),
      read: (volume, bytes) =>
        settle(() => {
          const stored = this.#volumes.get(volume.id);
          if (!stored) throw new Error(`no volume ${volume.id}`);
          const out = Buffer.alloc(bytes);
          stored.data.copy(out, 0, 0, Math.min(bytes, stored.data.length));
          return out;
        }),
    };
  }

  /** Nothing to prepare (the simulated latency applies). */
  override setup(ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#step(ctx);
  }

  /** Allocates the volume; an identical existing one is returned as is (retry-safe). */
  createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return this.#step(ctx).andThen(() => this.#allocate(spec, Buffer.alloc(0)));
  }

  /** Deletes the volume; `VOLUME_BUSY` while it has snapshots; ok if it is already gone. */
  deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#step(ctx).andThen(() => {
      if (!this.#volumes.has(volume.id)) return okAsync(undefined);
      const snapshots = [...this.#snapshots.values()].filter((s) => s.snapshot.volumeId === volume.id).map((s) => s.snapshot.id);
      if (snapshots.length > 0) {
        return errAsync(this.#error("VOLUME_BUSY", `volume ${volume.id} has ${snapshots.length} snapshot(s)`, { volumeId: volume.id, snapshots }));
      }
      this.#volumes.delete(volume.id);
      this.#exports.delete(volume.id);
      this.#connections.delete(volume.id);
      return okAsync(undefined);
    });
  }

  /** Copies the volume's current data into a snapshot. */
  override createSnapshot(snapshot: SnapshotSpec, volume: Volume, ctx: OperationContext): ResultAsync<Snapshot, VolkitError> {
    return this.#step(ctx).andThen(() => {
      const existing = this.#snapshots.get(snapshot.id);
      if (existing) {
        return existing.snapshot.volumeId === snapshot.volumeId
          ? okAsync({ ...existing.snapshot })
          : errAsync(this.#error("SNAPSHOT_EXISTS", `snapshot ${snapshot.id} exists for another volume`, { snapshotId: snapshot.id }));
      }
      const source = this.#volumes.get(volume.id);
      if (!source) return errAsync(this.#notFound(volume.id));
      const record: Snapshot = {
        id: snapshot.id,
        volumeId: volume.id,
        volumeSizeGiB: source.volume.sizeGiB,
        ...(snapshot.displayName === undefined ? {} : { displayName: snapshot.displayName }),
        providerLocation: `memory:${volume.id}@${snapshot.id}`,
      };
      this.#snapshots.set(snapshot.id, { snapshot: record, data: Buffer.from(source.data) });
      return okAsync({ ...record });
    });
  }

  /** Deletes a snapshot; ok if it is already gone. */
  override deleteSnapshot(snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#step(ctx).map(() => {
      this.#snapshots.delete(snapshot.id);
    });
  }

  /** A new volume holding the snapshot's data, at the (possibly larger) requested size. */
  override createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return this.#step(ctx).andThen(() => {
      const stored = this.#snapshots.get(snapshot.id);
      if (!stored) return errAsync(this.#error("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} does not exist`, { snapshotId: snapshot.id }));
      if (spec.sizeGiB < stored.snapshot.volumeSizeGiB) {
        return errAsync(this.#error("INVALID_ARGUMENT", `volume size ${spec.sizeGiB} GiB is smaller than the snapshot's ${stored.snapshot.volumeSizeGiB} GiB`));
      }
      return this.#allocate(spec, Buffer.from(stored.data));
    });
  }

  /** A new volume holding a copy of the source's data. */
  createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return this.#step(ctx).andThen(() => {
      const stored = this.#volumes.get(source.id);
      if (!stored) return errAsync(this.#notFound(source.id));
      if (spec.sizeGiB < stored.volume.sizeGiB) {
        return errAsync(this.#error("INVALID_ARGUMENT", `clone size ${spec.sizeGiB} GiB is smaller than the source's ${stored.volume.sizeGiB} GiB`));
      }
      return this.#allocate(spec, Buffer.from(stored.data));
    });
  }

  /** Grows the volume; data is kept. */
  extendVolume(volume: Volume, newSizeGiB: number, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return this.#step(ctx).andThen(() => {
      const stored = this.#volumes.get(volume.id);
      if (!stored) return errAsync(this.#notFound(volume.id));
      const current = stored.volume.sizeGiB;
      if (newSizeGiB < current) return errAsync(this.#error("INVALID_ARGUMENT", `cannot shrink volume ${volume.id} from ${current} to ${newSizeGiB} GiB`));
      const free = this.#capacityGiB - this.#provisionedGiB();
      if (newSizeGiB - current > free) return errAsync(this.#insufficient(newSizeGiB - current, free));
      stored.volume = { ...stored.volume, sizeGiB: newSizeGiB };
      return okAsync({ ...stored.volume });
    });
  }

  /** Restores the snapshot's data into the volume; size and snapshot are kept. */
  override revertToSnapshot(volume: Volume, snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#step(ctx).andThen(() => {
      const stored = this.#volumes.get(volume.id);
      if (!stored) return errAsync(this.#notFound(volume.id));
      const snap = this.#snapshots.get(snapshot.id);
      if (!snap || snap.snapshot.volumeId !== volume.id) {
        return errAsync(this.#error("SNAPSHOT_NOT_FOUND", `volume ${volume.id} has no snapshot ${snapshot.id}`, { snapshotId: snapshot.id }));
      }
      stored.data = Buffer.from(snap.data);
      return okAsync(undefined);
    });
  }

  /** Marks the volume exported (idempotent). */
  override createExport(volume: Volume, _host: HostProperties | undefined, ctx: OperationContext): ResultAsync<ModelUpdateInput, VolkitError> {
    return this.#step(ctx).andThen(() => {
      if (!this.#volumes.has(volume.id)) return errAsync(this.#notFound(volume.id));
      this.#exports.add(volume.id);
      return okAsync({ providerLocation: `memory:${volume.id}` });
    });
  }

  /** Removes the export; ok if there is none. */
  override removeExport(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#step(ctx).map(() => {
      this.#exports.delete(volume.id);
    });
  }

  /** Whether the volume is exported and which hosts are connected. */
  override describeExport(volume: Volume, ctx: OperationContext): ResultAsync<ExportState, VolkitError> {
    return this.#step(ctx).map(() => ({ exported: this.#exports.has(volume.id), hosts: this.connectedHosts(volume.id) }));
  }

  /** Records the host and returns `local` connection info with a fake device path. */
  initializeConnection(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError> {
    return this.#step(ctx).andThen(() => {
      if (!this.#volumes.has(volume.id)) return errAsync(this.#notFound(volume.id));
      const hosts = this.#connections.get(volume.id) ?? new Set<string>();
      hosts.add(host.host);
      this.#connections.set(volume.id, hosts);
      return okAsync({
        type: "local" as const,
        volumeId: volume.id,
        devicePath: `/dev/volkit-memory/${volume.id}`,
        accessMode: host.readOnly === true ? ("ro" as const) : ("rw" as const),
        encrypted: false,
        discard: true,
      });
    });
  }

  /** Forgets the host, or every host when `host` is undefined; ok if not connected. */
  override terminateConnection(volume: Volume, host: HostProperties | undefined, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#step(ctx).map(() => {
      if (host === undefined) this.#connections.delete(volume.id);
      else this.#connections.get(volume.id)?.delete(host.host);
    });
  }

  /** One pool; thick accounting (provisioned = allocated = sum of volume sizes). */
  getPoolStats(ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError> {
    return this.#step(ctx).map(() => {
      const provisioned = this.#provisionedGiB();
      return [
        {
          poolName: "memory",
          totalCapacityGiB: this.#capacityGiB,
          freeCapacityGiB: this.#capacityGiB - provisioned,
          provisionedCapacityGiB: provisioned,
          allocatedCapacityGiB: provisioned,
          thinProvisioningSupport: false,
          thickProvisioningSupport: true,
          totalVolumes: this.#volumes.size,
          multiattach: true,
        },
      ];
    });
  }

  /** Creates the record unless the id is taken (identical size: returned as is; else `VOLUME_EXISTS`). */
  #allocate(spec: VolumeSpec, data: Buffer): ResultAsync<Volume, VolkitError> {
    const existing = this.#volumes.get(spec.id);
    if (existing) {
      return existing.volume.sizeGiB === spec.sizeGiB
        ? okAsync({ ...existing.volume })
        : errAsync(this.#error("VOLUME_EXISTS", `volume ${spec.id} exists with size ${existing.volume.sizeGiB} GiB`, { volumeId: spec.id }));
    }
    const free = this.#capacityGiB - this.#provisionedGiB();
    if (spec.sizeGiB > free) return errAsync(this.#insufficient(spec.sizeGiB, free));
    const volume: Volume = {
      id: spec.id,
      sizeGiB: spec.sizeGiB,
      ...(spec.displayName === undefined ? {} : { displayName: spec.displayName }),
      ...(spec.volumeType === undefined ? {} : { volumeType: spec.volumeType }),
      ...(spec.metadata === undefined ? {} : { metadata: { ...spec.metadata } }),
      providerLocation: `memory:${spec.id}`,
    };
    this.#volumes.set(spec.id, { volume, data });
    return okAsync({ ...volume });
  }

  /** Simulated latency, then a check that the operation was not cancelled meanwhile. */
  #step(ctx: OperationContext): ResultAsync<void, VolkitError> {
    const check = (): ResultAsync<void, VolkitError> => {
      const aborted = ctx.abortError();
      return aborted ? errAsync(aborted) : okAsync(undefined);
    };
    if (this.#latencyMs <= 0) return check();
    return ResultAsync.fromPromise(sleep(this.#latencyMs, undefined, { signal: ctx.signal }), () => ctx.abortError() ?? this.#error("ABORTED", "aborted")).andThen(check);
  }

  #provisionedGiB(): number {
    let sum = 0;
    for (const v of this.#volumes.values()) sum += v.volume.sizeGiB;
    return sum;
  }

  #notFound(volumeId: string): VolkitError {
    return this.#error("VOLUME_NOT_FOUND", `volume ${volumeId} does not exist`, { volumeId });
  }

  #insufficient(neededGiB: number, freeGiB: number): VolkitError {
    return this.#error("INSUFFICIENT_CAPACITY", `need ${neededGiB} GiB, ${freeGiB} GiB free`, { neededGiB, freeGiB });
  }

  #error(code: VolkitError["code"], message: string, details: Record<string, unknown> = {}): VolkitError {
    return new VolkitError(code, message, { source: this.driverName, details });
  }
}

/** Runs `fn` and returns its outcome as a promise (a throw becomes a rejection). */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}
