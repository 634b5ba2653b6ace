/**
 * A small file-backed volume driver and its connector for the unit tests of the volume-level
 * backup flows: volumes are sparse files in a directory, snapshots and volumes from snapshots copy
 * only the extents the test wrote (the driver tracks them, so it also has an allocation map), and
 * the connector hands the file out as an `nfs` device. No command runs.
 */
import { closeSync, ftruncateSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { OperationContext, OperationOptions } from "../../../src/core/context.js";
import { VolkitError } from "../../../src/core/errors.js";
import { EventBus } from "../../../src/core/events.js";
import type {
  AttachedDevice,
  AttachedDeviceInput,
  ConnectionInfoInput,
  DisconnectReport,
  HostProperties,
  PoolStatsInput,
  Snapshot,
  SnapshotInput,
  SnapshotSpec,
  Volume,
  VolumeInput,
  VolumeSpec,
} from "../../../src/core/records.js";
import type { Connector } from "../../../src/connectors/connector.js";
import { GiB, NO_CAPABILITIES, VolumeDriverBase } from "../../../src/drivers/base.js";
import type { AllocationSubject, ByteRange, DriverCapabilities } from "../../../src/drivers/volume-driver.js";

const SHARE = "127.0.0.1:/unit-volumes";

/** What a test can switch on or off. */
export interface FileVolumesOptions {
  /** Snapshots supported (default true). */
  readonly snapshots?: boolean;
  /** Allocation map supported (default true). */
  readonly allocationMap?: boolean;
  /** Volumes are thin (default true). */
  readonly thin?: boolean;
}

/** The driver: every volume `volume-<id>`, every snapshot `snapshot-<id>`, sparse files under `dir`. */
export class FileVolumes extends VolumeDriverBase {
  readonly driverName = "files";
  readonly capabilities: DriverCapabilities;
  /** Calls made, in order (`createSnapshot snap-id`, `deleteVolume vol-id`…). */
  readonly calls: string[] = [];
  /** Make the next call of this method fail. */
  failNext: { method: string; error: VolkitError } | undefined;
  readonly #extents = new Map<string, ByteRange[]>();
  readonly #sizes = new Map<string, number>();
  readonly #mapSupported: boolean;

  constructor(
    readonly dir: string,
    options: FileVolumesOptions = {},
  ) {
    super();
    const thin = options.thin ?? true;
    this.capabilities = { ...NO_CAPABILITIES, thin, thick: !thin, snapshots: options.snapshots ?? true, protocol: "nfs" };
    this.#mapSupported = options.allocationMap ?? true;
  }

  /** Path of a volume's file. */
  pathOf(volumeId: string): string {
    return join(this.dir, `volume-${volumeId}`);
  }

  /** Names of the files (volumes and snapshots) that exist. */
  objects(): string[] {
    return [...this.#sizes.keys()].sort();
  }

  /** Writes data into a volume (as a guest would) and records the extent. */
  write(volumeId: string, offset: number, data: Uint8Array): void {
    const name = `volume-${volumeId}`;
    const fd = openSync(join(this.dir, name), "r+");
    try {
      writeSync(fd, data, 0, data.length, offset);
    } finally {
      closeSync(fd);
    }
    this.#extents.get(name)?.push({ offset, length: data.length });
  }

  createVolume(spec: VolumeSpec, _ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#step(`createVolume ${spec.id}`, () => this.#create(`volume-${spec.id}`, spec.sizeGiB * GiB, []).map(() => ({ ...spec, providerLocation: SHARE })));
  }

  deleteVolume(volume: Volume, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#step(`deleteVolume ${volume.id}`, () => okAsync(this.#remove(`volume-${volume.id}`)));
  }

  override createSnapshot(spec: SnapshotSpec, volume: Volume, _ctx: OperationContext): ResultAsync<SnapshotInput, VolkitError> {
    if (!this.capabilities.snapshots) return this.notSupported("createSnapshot", volume.id);
    return this.#step(`createSnapshot ${spec.id}`, () => this.#copy(`volume-${volume.id}`, `snapshot-${spec.id}`, volume.sizeGiB * GiB).map(() => ({ ...spec })));
  }

  override deleteSnapshot(snapshot: Snapshot, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#step(`deleteSnapshot ${snapshot.id}`, () => okAsync(this.#remove(`snapshot-${snapshot.id}`)));
  }

  override createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, _ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#step(`createVolumeFromSnapshot ${spec.id}`, () => this.#copy(`snapshot-${snapshot.id}`, `volume-${spec.id}`, spec.sizeGiB * GiB).map(() => ({ ...spec, providerLocation: SHARE })));
  }

  createClonedVolume(spec: VolumeSpec, source: Volume, _ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#copy(`volume-${source.id}`, `volume-${spec.id}`, spec.sizeGiB * GiB).map(() => ({ ...spec, providerLocation: SHARE }));
  }

  extendVolume(volume: Volume, newSizeGiB: number, _ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return okAsync({ ...volume, sizeGiB: newSizeGiB });
  }

  getPoolStats(_ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError> {
    return okAsync([{ poolName: "files", totalCapacityGiB: 100, freeCapacityGiB: 100, thinProvisioningSupport: true, thickProvisioningSupport: false }]);
  }

  initializeConnection(volume: Volume, _host: HostProperties, _ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError> {
    return this.#step(`initializeConnection ${volume.id}`, () => okAsync({ type: "nfs", volumeId: volume.id, export: SHARE, name: `volume-${volume.id}`, format: "raw" }));
  }

  override allocationMap(subject: AllocationSubject, ctx: OperationContext): ResultAsync<readonly ByteRange[], VolkitError> {
    if (!this.#mapSupported) return super.allocationMap(subject, ctx);
    const name = "volume" in subject ? `volume-${subject.volume.id}` : `snapshot-${subject.snapshot.id}`;
    return this.#step(`allocationMap ${name}`, () => okAsync([...(this.#extents.get(name) ?? [])]));
  }

  #step<T>(call: string, run: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
    this.calls.push(call);
    const failure = this.failNext;
    if (failure !== undefined && call.startsWith(failure.method)) {
      this.failNext = undefined;
      return errAsync(failure.error);
    }
    return run();
  }

  #create(name: string, size: number, extents: ByteRange[]): ResultAsync<void, VolkitError> {
    if (this.#sizes.has(name)) return errAsync(new VolkitError("VOLUME_EXISTS", `${name} exists`, { source: "files" }));
    const fd = openSync(join(this.dir, name), "w");
    ftruncateSync(fd, size);
    closeSync(fd);
    this.#sizes.set(name, size);
    this.#extents.set(name, extents);
    return okAsync(undefined);
  }

  /** Copies the recorded extents of `from` into a new sparse file `to`. */
  #copy(from: string, to: string, size: number): ResultAsync<void, VolkitError> {
    const extents = [...(this.#extents.get(from) ?? [])];
    return this.#create(to, size, extents).map(() => {
      const src = openSync(join(this.dir, from), "r");
      const dst = openSync(join(this.dir, to), "r+");
      try {
        for (const e of extents) {
          const buf = Buffer.alloc(e.length);
          readSync(src, buf, 0, e.length, e.offset);
          writeSync(dst, buf, 0, e.length, e.offset);
        }
      } finally {
        closeSync(src);
        closeSync(dst);
      }
    });
  }

  #remove(name: string): void {
    rmSync(join(this.dir, name), { force: true });
    this.#sizes.delete(name);
    this.#extents.delete(name);
  }
}

/** The connector: an `nfs` connection is the driver's file, attached as a raw file device. */
export class FileConnector implements Connector {
  readonly protocol = "nfs" as const;
  readonly events = new EventBus();
  /** Volume ids attached now. */
  readonly attached = new Set<string>();

  constructor(readonly driver: FileVolumes) {}

  getHostProperties(): ResultAsync<HostProperties, VolkitError> {
    return okAsync({ host: "unit-host", multipath: false });
  }

  connectVolume(info: ConnectionInfoInput, _options?: OperationOptions): ResultAsync<AttachedDevice, VolkitError> {
    if (info.type !== "nfs") return errAsync(new VolkitError("INVALID_ARGUMENT", "not nfs", { source: "unit" }));
    this.attached.add(info.volumeId);
    return okAsync({ type: "file", path: join(this.driver.dir, info.name), paths: [], format: "raw" });
  }

  disconnectVolume(info: ConnectionInfoInput, _device: AttachedDeviceInput): ResultAsync<DisconnectReport, VolkitError> {
    this.attached.delete(info.volumeId);
    return okAsync({ removed: [`file ${info.volumeId}`], leftBehind: [] });
  }

  extendVolume(): ResultAsync<number, VolkitError> {
    return okAsync(0);
  }
}
