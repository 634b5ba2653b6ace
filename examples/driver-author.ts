/**
 * Writing your own volkit driver: a small file-backed driver (one sparse file per volume, snapshots
 * as file copies — reflinks where the filesystem has them), wrapped in the volkit runtime.
 *
 * What the example shows:
 * - extend `VolumeDriverBase`, declare `capabilities`, implement the abstract members, override
 *   what the backend does natively (everything else returns `NOT_SUPPORTED` for you);
 * - every method returns a `ResultAsync`; third-party calls (here `node:fs`) are wrapped with
 *   `ResultAsync.fromPromise`, multi-step flows written with `safeTry`;
 * - commands (here `cp`, which keeps files sparse and reflinks where it can) go through the
 *   injected `CommandRunner` as argv arrays, with the operation's signal, never a shell string;
 * - Cinder's rules: deleting a missing volume succeeds, `VOLUME_BUSY` while snapshots exist,
 *   `VOLUME_EXISTS` unless an identical volume exists, `*_NOT_FOUND` for missing sources;
 * - `wrapDriver` adds validation, per-volume locks, setup-once, events and deadlines — the driver
 *   never validates ids or sizes itself (but it may trust nothing else);
 * - `describeVolumeDriverConformance` from `volkit/testing` proves it (see
 *   test/unit/examples/driver-author.test.ts).
 *
 * Run it:  npx tsx examples/driver-author.ts [directory]
 */
import { mkdir, mkdtemp, open, readdir, rm, stat, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ResultAsync, err, errAsync, ok, okAsync, safeTry } from "neverthrow";
import {
  GiB,
  VolkitError,
  createLocalRunner,
  type CommandRunner,
  VolumeDriverBase,
  toVolkitError,
  wrapDriver,
  type ConnectionInfo,
  type ConnectorProperties,
  type DriverCapabilities,
  type ErrorCode,
  type OperationContext,
  type Snapshot,
  type SnapshotSpec,
  type Volume,
  type VolumeSpec,
  type VolumeStats,
} from "../src/index.js";

/** Options of {@link FileVolumeDriver}. */
export interface FileVolumeDriverOptions {
  /** Directory holding `volumes/` and `snapshots/` (created by setup). */
  readonly directory: string;
  /** Quota of the pool in GiB: provisioned sizes may not exceed it. */
  readonly capacityGiB: number;
}

const NAME = "file-example";

/** Wraps a `node:fs` promise: a rejection becomes a typed error instead of a throw. */
function fs<T>(promise: Promise<T>): ResultAsync<T, VolkitError> {
  return ResultAsync.fromPromise(promise, (e) => toVolkitError(e, "INTERNAL", NAME));
}

/** True when the path exists (a missing file is an answer, not an error). */
function exists(path: string): ResultAsync<boolean, VolkitError> {
  return statIfExists(path).map((s) => s !== undefined);
}

/** The file's stats, or `undefined` when it does not exist. */
function statIfExists(path: string): ResultAsync<Awaited<ReturnType<typeof stat>> | undefined, VolkitError> {
  return ResultAsync.fromPromise(stat(path), (e) => e).orElse((e) =>
    (e as NodeJS.ErrnoException).code === "ENOENT" ? okAsync(undefined) : errAsync(toVolkitError(e, "INTERNAL", NAME)),
  );
}

/** A typed failure of this driver. */
function fail<T>(code: ErrorCode, message: string): ResultAsync<T, VolkitError> {
  return errAsync(new VolkitError(code, message, { source: NAME }));
}

/**
 * A thin-provisioned driver storing each volume as a sparse file. Connection info is `local`
 * with the file as the "device" (a loop device or a VM's raw disk would use it).
 */
export class FileVolumeDriver extends VolumeDriverBase {
  /** Name used in errors, events and stats. */
  readonly driverName = NAME;
  /** What this backend does natively; the runtime and schedulers read these. */
  readonly capabilities: DriverCapabilities = {
    thin: true,
    thick: false,
    snapshots: true,
    nativeClone: true,
    revertToSnapshot: true,
    onlineExtend: false,
    multiattach: false,
    manageExisting: false,
    sparseCopy: true,
    protocol: "local",
  };

  readonly #options: FileVolumeDriverOptions;
  readonly #runner: CommandRunner;

  /**
   * @param options - directory and quota of the pool.
   * @param runner - runs `cp` (default: local, no root helper; use an SSH runner for a remote pool
   *   — the `node:fs` calls would then have to become commands too).
   */
  constructor(options: FileVolumeDriverOptions, runner: CommandRunner = createLocalRunner()) {
    super(runner);
    this.#options = options;
    this.#runner = runner;
  }

  /** Copies a file, keeping it sparse (`cp` skips holes and reflinks where the filesystem can). */
  #copy(from: string, to: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#runner.run({ argv: ["cp", "--reflink=auto", "--sparse=always", "--", from, to], signal: ctx.signal }).map(() => undefined);
  }

  /** Where a volume's data lives. Ids are validated by the runtime, so they are safe in paths. */
  volumePath(volumeId: string): string {
    return join(this.#options.directory, "volumes", `${volumeId}.img`);
  }

  #snapshotDir(volumeId: string): string {
    return join(this.#options.directory, "snapshots", volumeId);
  }

  #snapshotPath(snapshot: SnapshotSpec): string {
    return join(this.#snapshotDir(snapshot.volumeId), `${snapshot.id}.img`);
  }

  /** Creates the pool's directories (the runtime calls it once, before the first operation). */
  setup(_ctx: OperationContext): ResultAsync<void, VolkitError> {
    return fs(mkdir(join(this.#options.directory, "volumes"), { recursive: true }))
      .andThen(() => fs(mkdir(join(this.#options.directory, "snapshots"), { recursive: true })))
      .map(() => undefined);
  }

  /** A new sparse file of the requested size. */
  createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return this.#allocate(spec, undefined, ctx);
  }

  /** Removes the file; `VOLUME_BUSY` while snapshots exist; ok when already gone. */
  deleteVolume(volume: Volume, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    const snapshots = ResultAsync.fromPromise(readdir(this.#snapshotDir(volume.id)), (e) => e).orElse((e) =>
      (e as NodeJS.ErrnoException).code === "ENOENT" ? okAsync([]) : errAsync(toVolkitError(e, "INTERNAL", NAME)),
    );
    return snapshots.andThen((names) =>
      names.length > 0
        ? fail<void>("VOLUME_BUSY", `volume ${volume.id} has ${names.length} snapshot(s)`)
        : fs(rm(this.volumePath(volume.id), { force: true })).andThen(() => fs(rm(this.#snapshotDir(volume.id), { recursive: true, force: true }))),
    );
  }

  /** Copies (reflinks) the volume's file. */
  override createSnapshot(spec: SnapshotSpec, volume: Volume, ctx: OperationContext): ResultAsync<Snapshot, VolkitError> {
    const target = this.#snapshotPath(spec);
    const record: Snapshot = { id: spec.id, volumeId: volume.id, volumeSizeGiB: volume.sizeGiB, providerLocation: target };
    return exists(this.volumePath(volume.id)).andThen((found) => {
      if (!found) return fail<Snapshot>("VOLUME_NOT_FOUND", `volume ${volume.id} does not exist`);
      return exists(target).andThen((already) =>
        already
          ? okAsync(record) // a retried create: the snapshot is there already
          : fs(mkdir(this.#snapshotDir(volume.id), { recursive: true }))
              .andThen(() => this.#copy(this.volumePath(volume.id), target, ctx))
              .map(() => record),
      );
    });
  }

  /** Removes the snapshot's file; ok when already gone. */
  override deleteSnapshot(snapshot: Snapshot, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return fs(rm(this.#snapshotPath(snapshot), { force: true }));
  }

  /** A new volume from the snapshot's file, grown to the requested size. */
  override createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    const source = this.#snapshotPath(snapshot);
    return exists(source).andThen((found) =>
      found ? this.#allocate(spec, source, ctx) : fail<Volume>("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} does not exist`),
    );
  }

  /** A new volume from a copy of the source's file. */
  override createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    const from = this.volumePath(source.id);
    return exists(from).andThen((found) =>
      // `phase` times the step; it shows up in the runtime's operation:end event.
      found ? ctx.phase("copy", () => this.#allocate(spec, from, ctx)) : fail<Volume>("VOLUME_NOT_FOUND", `volume ${source.id} does not exist`),
    );
  }

  /** Grows the file (sparse). */
  override extendVolume(volume: Volume, newSizeGiB: number, _ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    const path = this.volumePath(volume.id);
    return exists(path).andThen((found) =>
      found
        ? this.#ensureRoom(newSizeGiB - volume.sizeGiB)
            .andThen(() => fs(truncate(path, newSizeGiB * GiB)))
            .map(() => ({ ...volume, sizeGiB: newSizeGiB }))
        : fail<Volume>("VOLUME_NOT_FOUND", `volume ${volume.id} does not exist`),
    );
  }

  /** Copies the snapshot's data back, keeping the volume's size. */
  override revertToSnapshot(volume: Volume, snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const path = this.volumePath(volume.id);
    return exists(this.#snapshotPath(snapshot)).andThen((found) =>
      found
        ? this.#copy(this.#snapshotPath(snapshot), path, ctx).andThen(() => fs(truncate(path, volume.sizeGiB * GiB))) // keep the volume's size
        : fail<void>("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} does not exist`),
    );
  }

  /** `local` connection info pointing at the volume's file. */
  initializeConnection(volume: Volume, connector: ConnectorProperties, _ctx: OperationContext): ResultAsync<ConnectionInfo, VolkitError> {
    const devicePath = this.volumePath(volume.id);
    return exists(devicePath).andThen((found) =>
      found
        ? okAsync({ type: "local" as const, volumeId: volume.id, devicePath, accessMode: connector.readOnly ? ("ro" as const) : ("rw" as const), encrypted: false })
        : fail<ConnectionInfo>("VOLUME_NOT_FOUND", `volume ${volume.id} does not exist`),
    );
  }

  /** Quota, provisioned and free space of the single pool. */
  getVolumeStats(_refresh: boolean, _ctx: OperationContext): ResultAsync<VolumeStats, VolkitError> {
    return this.#provisionedGiB().map((provisioned) => {
      const free = Math.max(0, this.#options.capacityGiB - provisioned);
      return {
        volumeBackendName: NAME,
        vendorName: "example",
        driverVersion: this.driverVersion,
        storageProtocol: "local",
        totalCapacityGb: this.#options.capacityGiB,
        freeCapacityGb: free,
        reservedPercentage: 0,
        onlineExtendSupport: false,
        sparseCopyVolume: true,
        sharedTargets: false,
        pools: [
          {
            poolName: "files",
            totalCapacityGb: this.#options.capacityGiB,
            freeCapacityGb: free,
            reservedPercentage: 0,
            provisionedCapacityGb: provisioned,
            thinProvisioningSupport: true,
            thickProvisioningSupport: false,
            multiattach: false,
            qosSupport: false,
          },
        ],
      };
    });
  }

  /** Creates the volume file (empty, or a copy of `from`) at the requested size. Retry-safe. */
  #allocate(spec: VolumeSpec, from: string | undefined, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    const path = this.volumePath(spec.id);
    const volume: Volume = { id: spec.id, sizeGiB: spec.sizeGiB, providerLocation: path };
    const ensureRoom = (): ResultAsync<void, VolkitError> => this.#ensureRoom(spec.sizeGiB);
    const fill = (): ResultAsync<void, VolkitError> =>
      from === undefined ? fs(open(path, "wx").then((handle) => handle.close())) : this.#copy(from, path, ctx);
    return safeTry(async function* () {
      const existing = yield* statIfExists(path);
      if (existing) {
        // Already there (a retried call): identical is fine, anything else is a conflict.
        return existing.size === spec.sizeGiB * GiB
          ? ok(volume)
          : err(new VolkitError("VOLUME_EXISTS", `volume ${spec.id} exists with another size`, { source: NAME }));
      }
      yield* ensureRoom();
      yield* fill();
      yield* fs(truncate(path, spec.sizeGiB * GiB)); // sparse: no blocks are written
      return ok(volume);
    });
  }

  #ensureRoom(neededGiB: number): ResultAsync<void, VolkitError> {
    return this.#provisionedGiB().andThen((provisioned) =>
      provisioned + neededGiB > this.#options.capacityGiB
        ? fail<void>("INSUFFICIENT_CAPACITY", `need ${neededGiB} GiB, ${this.#options.capacityGiB - provisioned} GiB free`)
        : okAsync(undefined),
    );
  }

  #provisionedGiB(): ResultAsync<number, VolkitError> {
    const dir = join(this.#options.directory, "volumes");
    return fs(readdir(dir)).andThen((names) =>
      ResultAsync.combine(names.map((n) => fs(stat(join(dir, n))).map((s) => Math.ceil(s.size / GiB)))).map((sizes) => sizes.reduce((a, b) => a + b, 0)),
    );
  }
}

/** A short session against the driver, through the runtime. */
async function main(directory: string): Promise<number> {
  const backend = wrapDriver(new FileVolumeDriver({ directory, capacityGiB: 10 }));
  backend.events.on((e) => {
    if (e.type === "operation:end") console.log(`${e.operation} ${e.ok ? "ok" : e.errorCode} ${e.durationMs} ms [${e.phases.map((p) => p.name).join(", ")}]`);
  });
  const result = await backend.createVolume({ id: "vol-1", sizeGiB: 1 }).andThen((volume) =>
    backend
      .createSnapshot({ id: "snap-1", volumeId: volume.id, volumeSizeGiB: volume.sizeGiB }, volume)
      .andThen((snapshot) => backend.createVolumeFromSnapshot({ id: "vol-2", sizeGiB: 2 }, snapshot).map((copy) => ({ volume, snapshot, copy }))),
  );
  if (result.isErr()) {
    console.error(`failed: ${result.error.code}: ${result.error.message}`);
    return 1;
  }
  const { volume, snapshot, copy } = result.value;
  console.log(await backend.initializeConnection(copy, { host: "localhost" }).match((info) => JSON.stringify(info), (e) => e.message));
  // Refused by the runtime before the driver sees it:
  console.log(await backend.createVolume({ id: "../escape", sizeGiB: 1 }).match(() => "created?!", (e) => `${e.code}: ${e.message}`));
  const cleanup = await backend.deleteVolume(copy).andThen(() => backend.deleteSnapshot(snapshot)).andThen(() => backend.deleteVolume(volume));
  return cleanup.isOk() ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const directory = process.argv[2] ?? (await mkdtemp(join(tmpdir(), "volkit-example-")));
  process.exitCode = await main(directory);
  if (process.argv[2] === undefined) await rm(directory, { recursive: true, force: true });
}
