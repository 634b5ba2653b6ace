/**
 * Writing your own volkit driver: the minimal driver. It stores each volume as a sparse file and
 * implements exactly the abstract members of `VolumeDriverBase` — create, delete, clone, extend,
 * pool stats, connection info — which is exactly what the conformance suite requires, so a driver
 * that compiles passes it (test/unit/examples/driver-author.test.ts runs the suite on it).
 *
 * What the example shows:
 * - extend `VolumeDriverBase`, declare `capabilities` (spread `NO_CAPABILITIES`), implement the
 *   six abstract members; everything else (snapshots, revert, manage, exports) answers
 *   `NOT_SUPPORTED` or "nothing to do" for you until you override it;
 * - every method returns a `ResultAsync`; third-party calls (here `node:fs`) are wrapped with
 *   `ResultAsync.fromPromise`, multi-step flows written with `safeTry`;
 * - commands (here `cp`, which keeps files sparse and reflinks where it can) go through the
 *   injected `CommandRunner` as argv arrays, with the operation's signal, never a shell string;
 * - Cinder's rules: deleting a missing volume succeeds, `VOLUME_EXISTS` unless an identical volume
 *   exists, `VOLUME_NOT_FOUND` for a missing source, `INSUFFICIENT_CAPACITY` past the quota;
 * - the runtime (`wrapDriver`) adds validation, per-volume locks, setup-once, events, deadlines and
 *   the stats header — the driver never validates ids or sizes itself, and returns plain records.
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
  NO_CAPABILITIES,
  VolkitError,
  VolumeDriverBase,
  createLocalRunner,
  toVolkitError,
  wrapDriver,
  type CommandRunner,
  type ConnectionInfoInput,
  type DriverCapabilities,
  type HostProperties,
  type OperationContext,
  type PoolStatsInput,
  type Volume,
  type VolumeInput,
  type VolumeSpec,
} from "../src/index.js";

/** Options of {@link FileVolumeDriver}. */
export interface FileVolumeDriverOptions {
  /** Directory holding the volume files (created by setup). */
  readonly directory: string;
  /** Quota of the pool in GiB: provisioned sizes may not exceed it. */
  readonly capacityGiB: number;
}

const NAME = "file-example";

/** Wraps a `node:fs` promise: a rejection becomes a typed error instead of a throw. */
function fs<T>(promise: Promise<T>): ResultAsync<T, VolkitError> {
  return ResultAsync.fromPromise(promise, (e) => toVolkitError(e, "INTERNAL", NAME));
}

/** The file's size, or `undefined` when it does not exist (a missing file is an answer, not an error). */
function sizeIfExists(path: string): ResultAsync<number | undefined, VolkitError> {
  return ResultAsync.fromPromise(stat(path), (e) => e).map((s) => s.size as number | undefined).orElse((e) =>
    (e as NodeJS.ErrnoException).code === "ENOENT" ? okAsync(undefined) : errAsync(toVolkitError(e, "INTERNAL", NAME)),
  );
}

/** A typed failure of this driver. */
function fail<T>(code: VolkitError["code"], message: string): ResultAsync<T, VolkitError> {
  return errAsync(new VolkitError(code, message, { source: NAME }));
}

/**
 * A thin-provisioned driver storing each volume as a sparse file. Connection info is `local` with
 * the file as the "device" (a loop device or a VM's raw disk would use it).
 */
export class FileVolumeDriver extends VolumeDriverBase {
  /** Name used in errors, events and stats. */
  readonly driverName = NAME;
  /** What this backend does natively; the runtime, the stats header and schedulers read these. */
  readonly capabilities: DriverCapabilities = { ...NO_CAPABILITIES, thin: true, nativeClone: true, sparseCopy: true, protocol: "local" };

  readonly #options: FileVolumeDriverOptions;
  readonly #runner: CommandRunner;

  /**
   * @param options - directory and quota of the pool.
   * @param runner - runs `cp` (default: local, no root helper).
   */
  constructor(options: FileVolumeDriverOptions, runner: CommandRunner = createLocalRunner()) {
    super(runner);
    this.#options = options;
    this.#runner = runner;
  }

  /** Where a volume's data lives. Ids are validated by the runtime, so they are safe in paths. */
  volumePath(volumeId: string): string {
    return join(this.#options.directory, `${volumeId}.img`);
  }

  /** Creates the pool's directory (the runtime calls it once, before the first write). */
  override setup(_ctx: OperationContext): ResultAsync<void, VolkitError> {
    return fs(mkdir(this.#options.directory, { recursive: true })).map(() => undefined);
  }

  /** A new sparse file of the requested size. */
  createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#allocate(spec, undefined, ctx);
  }

  /** Removes the file; ok when already gone. */
  deleteVolume(volume: Volume, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return fs(rm(this.volumePath(volume.id), { force: true }));
  }

  /** A new volume from a copy of the source's file (reflinked or sparse). */
  createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const from = this.volumePath(source.id);
    return sizeIfExists(from).andThen((size) =>
      // `phase` times the step; it shows up in the runtime's operation:end event.
      size === undefined ? fail<VolumeInput>("VOLUME_NOT_FOUND", `volume ${source.id} does not exist`) : ctx.phase("copy", () => this.#allocate(spec, from, ctx)),
    );
  }

  /** Grows the file (sparse). */
  extendVolume(volume: Volume, newSizeGiB: number, _ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const path = this.volumePath(volume.id);
    return sizeIfExists(path).andThen((size) =>
      size === undefined
        ? fail<VolumeInput>("VOLUME_NOT_FOUND", `volume ${volume.id} does not exist`)
        : this.#ensureRoom(newSizeGiB - volume.sizeGiB)
            .andThen(() => fs(truncate(path, newSizeGiB * GiB)))
            .map(() => ({ ...volume, sizeGiB: newSizeGiB })),
    );
  }

  /** One pool: the quota, what is provisioned, what is left. The runtime adds the header. */
  getPoolStats(_ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError> {
    return this.#provisionedGiB().map((provisioned) => [
      {
        poolName: "files",
        totalCapacityGiB: this.#options.capacityGiB,
        freeCapacityGiB: Math.max(0, this.#options.capacityGiB - provisioned),
        provisionedCapacityGiB: provisioned,
        thinProvisioningSupport: true,
        thickProvisioningSupport: false,
      },
    ]);
  }

  /** `local` connection info pointing at the volume's file. */
  initializeConnection(volume: Volume, host: HostProperties, _ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError> {
    const devicePath = this.volumePath(volume.id);
    return sizeIfExists(devicePath).andThen((size) =>
      size === undefined
        ? fail<ConnectionInfoInput>("VOLUME_NOT_FOUND", `volume ${volume.id} does not exist`)
        : okAsync({ type: "local" as const, volumeId: volume.id, devicePath, accessMode: host.readOnly ? ("ro" as const) : ("rw" as const) }),
    );
  }

  /** Creates the volume file (empty, or a copy of `from`) at the requested size. Retry-safe. */
  #allocate(spec: VolumeSpec, from: string | undefined, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const path = this.volumePath(spec.id);
    const volume: VolumeInput = { id: spec.id, sizeGiB: spec.sizeGiB, providerLocation: path };
    const ensureRoom = (): ResultAsync<void, VolkitError> => this.#ensureRoom(spec.sizeGiB);
    const fill = (): ResultAsync<void, VolkitError> =>
      from === undefined
        ? fs(open(path, "wx").then((handle) => handle.close()))
        : this.#runner.run({ argv: ["cp", "--reflink=auto", "--sparse=always", "--", from, path], signal: ctx.signal }).map(() => undefined);
    return safeTry(async function* () {
      const existing = yield* sizeIfExists(path);
      if (existing !== undefined) {
        // Already there (a retried call): identical is fine, anything else is a conflict.
        return existing === spec.sizeGiB * GiB ? ok(volume) : err(new VolkitError("VOLUME_EXISTS", `volume ${spec.id} exists with another size`, { source: NAME }));
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
    const dir = this.#options.directory;
    const names = ResultAsync.fromPromise(readdir(dir), (e) => e).orElse((e) => ((e as NodeJS.ErrnoException).code === "ENOENT" ? okAsync([]) : errAsync(toVolkitError(e, "INTERNAL", NAME))));
    return names.andThen((list) =>
      ResultAsync.combine(list.map((n) => fs(stat(join(dir, n))).map((s) => Math.ceil(s.size / GiB)))).map((sizes) => sizes.reduce((a, b) => a + b, 0)),
    );
  }
}

/** A short session against the driver, through the runtime. */
async function main(directory: string): Promise<number> {
  const backend = wrapDriver(new FileVolumeDriver({ directory, capacityGiB: 10 }));
  backend.events.on((e) => {
    if (e.type === "operation:end") console.log(`${e.operation} ${e.ok ? "ok" : e.errorCode} ${e.durationMs} ms [${e.phases.map((p) => p.name).join(", ")}]`);
  });
  const result = await backend.createVolume({ id: "vol-1", sizeGiB: 1 }).andThen((volume) => backend.createClonedVolume({ id: "vol-2", sizeGiB: 2 }, volume).map((copy) => ({ volume, copy })));
  if (result.isErr()) {
    console.error(`failed: ${result.error.code}: ${result.error.message}`);
    return 1;
  }
  const { volume, copy } = result.value;
  console.log(await backend.getVolumeStats().match((s) => `${s.freeCapacityGiB} of ${s.totalCapacityGiB} GiB free`, (e) => e.message));
  console.log(await backend.initializeConnection(copy, { host: "localhost" }).match((info) => JSON.stringify(info), (e) => e.message));
  // Refused by the runtime before the driver sees it; snapshots were not implemented:
  console.log(await backend.createVolume({ id: "../escape", sizeGiB: 1 }).match(() => "created?!", (e) => `${e.code}: ${e.message}`));
  console.log(await backend.createSnapshot({ id: "s1", volumeId: volume.id, volumeSizeGiB: 1 }, volume).match(() => "snapshot?!", (e) => `${e.code}: ${e.message}`));
  const cleanup = await backend.deleteVolume(copy).andThen(() => backend.deleteVolume(volume));
  return cleanup.isOk() ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const directory = process.argv[2] ?? (await mkdtemp(join(tmpdir(), "volkit-example-")));
  process.exitCode = await main(directory);
  if (process.argv[2] === undefined) await rm(directory, { recursive: true, force: true });
}
