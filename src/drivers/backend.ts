import { type ResultAsync, err, errAsync, ok, okAsync, type Result } from "neverthrow";
import { createOperationContext, type OperationContext, type OperationOptions } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { EventBus, silentLogger, type Logger } from "../core/events.js";
import { InProcessLocks, withLocks, type LockBackend } from "../core/locks.js";
import { awaitShared, guardResult, runOperation } from "../core/operation.js";
import {
  ExistingRefSchema,
  HostPropertiesSchema,
  ImageLocationSchema,
  SnapshotSchema,
  SnapshotSpecSchema,
  VolumeSchema,
  VolumeSpecSchema,
  type ConnectionInfo,
  type ExistingRef,
  type HostProperties,
  type HostPropertiesInput,
  type ImageLocation,
  type ManageableVolume,
  type Snapshot,
  type SnapshotInput,
  type SnapshotSpecInput,
  type Volume,
  type VolumeInput,
  type VolumeSpec,
  type VolumeSpecInput,
  type VolumeStats,
} from "../core/records.js";
import { SizeGiBSchema, validate } from "../core/validation.js";
import type { ConnectorSource } from "../connectors/connector.js";
import { DriverOutput } from "./backend-output.js";
import { driverIo } from "./driver-io.js";
import type { AllocationSubject, ByteRange, DriverCapabilities, ExportState, VolumeDriver } from "./volume-driver.js";

/** Options for {@link wrapDriver} and `createBackend`. */
export interface BackendOptions {
  /** Backend name reported in stats and events (default: the driver name). */
  readonly name?: string;
  /** pino-compatible logger. */
  readonly logger?: Logger;
  /** Lock backend (default: in-process). Use `FileLocks` when several processes share a host. */
  readonly locks?: LockBackend;
  /** Event bus to publish on (default: a new one, see {@link VolumeBackend.events}). */
  readonly events?: EventBus;
  /**
   * This machine's connectors (`createHost()`), so the driver can reach a volume's bytes through an
   * attach (image copies, generic clones, backups of remote volumes). Without it those operations
   * work only for drivers with a local path.
   */
  readonly host?: ConnectorSource;
}

/** Options of {@link VolumeBackend.getVolumeStats}. */
export interface StatsOptions extends OperationOptions {
  /** Stats read at most this long ago are returned from the cache (default 0: always read). */
  readonly maxAgeMs?: number;
}

/** How long the driver's initialize and setup may run; they have their own deadline, not a caller's. */
const SETUP_TIMEOUT_MS = 10 * 60_000;

/**
 * What an operation needs first: every operation needs the driver's read-only `initialize`; those
 * that write new volumes also need its `setup`.
 */
type Preparation = "initialize" | "setup";

/**
 * The runtime every driver runs inside, built-in or a driver author's; what callers hold. Every
 * method returns a `ResultAsync` and accepts a signal and a deadline. Around each driver call it:
 * - runs the driver's read-only `initialize` once before the first operation, and its `setup`
 *   (which may create things, e.g. a thin pool) once before the first write or on {@link setup};
 *   each on a context of its own, retried on the next call when it failed;
 * - validates every argument with zod (bad input fails with `INVALID_ARGUMENT` before the driver
 *   sees it, so nothing changes), including the driver's own id rule at create;
 * - checks and parses what the driver returns (records, connection info, pools): a mismatch is a
 *   driver bug and fails with `INTERNAL`; builds the stats header from the driver's capabilities;
 * - turns anything a driver throws, or a rejected promise, into an `INTERNAL` error;
 * - holds per-volume locks (`volume:<id>`), never a global lock;
 * - emits start/end events with per-phase timings, and logs without secrets.
 *
 * @example
 * ```ts
 * const backend = wrapDriver(new MyDriver());
 * const vol = await backend.createVolume({ id: "vol1", sizeGiB: 1 });
 * ```
 */
export class VolumeBackend {
  /** The wrapped driver (for capability checks; call through the backend, not the driver). */
  readonly driver: VolumeDriver;
  /** Backend name. */
  readonly name: string;
  /** Subscribe here to operation and progress events. */
  readonly events: EventBus;
  /** The logger operations log to (without secrets). */
  readonly logger: Logger;
  readonly #locks: LockBackend;
  readonly #host: ConnectorSource | undefined;
  readonly #output: DriverOutput;
  readonly #startup = new Map<Preparation, Promise<Result<void, VolkitError>>>();
  #stats: VolumeStats | undefined;

  /** Wraps `driver`; prefer {@link wrapDriver} or `createBackend`. */
  constructor(driver: VolumeDriver, options: BackendOptions = {}) {
    this.driver = driver;
    this.name = options.name ?? driver.driverName;
    this.events = options.events ?? new EventBus();
    this.logger = options.logger ?? silentLogger;
    this.#locks = options.locks ?? new InProcessLocks();
    this.#host = options.host;
    this.#output = new DriverOutput(driver, this.name);
  }

  /** The driver's capabilities. */
  get capabilities(): DriverCapabilities {
    return this.driver.capabilities;
  }

  /** Runs the driver's read-only checks now (otherwise they run before the first operation). */
  initialize(options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#run("initialize", undefined, [], options, "initialize", () => okAsync(undefined));
  }

  /** Prepares the backend now: initialize, then the driver's setup, which may create things (a thin pool). */
  setup(options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#run("setup", undefined, [], options, "setup", () => okAsync(undefined));
  }

  /** Creates a volume. `VOLUME_EXISTS` if one with this id exists with other properties. */
  createVolume(spec: VolumeSpecInput, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    return this.#spec(spec).asyncAndThen((s) =>
      this.#run("createVolume", s.id, [`volume:${s.id}`], options, "setup", (ctx) => this.driver.createVolume(s, ctx).andThen((v) => this.#output.volume("createVolume", v, s.id, s.sizeGiB))),
    );
  }

  /** Deletes a volume (wiped per config). Succeeds if it is already gone; `VOLUME_BUSY` with snapshots. */
  deleteVolume(volume: VolumeInput, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) => this.#run("deleteVolume", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.deleteVolume(v, ctx)));
  }

  /** Snapshots a volume. */
  createSnapshot(snapshot: SnapshotSpecInput, volume: VolumeInput, options: OperationOptions = {}): ResultAsync<Snapshot, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      validate(SnapshotSpecSchema, snapshot, "snapshot spec")
        .andThen((s) => this.#idRule(s.id, "snapshot").map(() => s))
        .asyncAndThen((s) =>
          s.volumeId !== v.id
            ? errAsync(new VolkitError("INVALID_ARGUMENT", `snapshot ${s.id} names volume ${s.volumeId} but volume ${v.id} was given`, { source: this.name }))
            : this.#run("createSnapshot", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.createSnapshot(s, v, ctx).andThen((snap) => this.#output.snapshot(snap, s.id, v.id))),
        ),
    );
  }

  /** Deletes a snapshot; succeeds if it is already gone. */
  deleteSnapshot(snapshot: SnapshotInput, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return validate(SnapshotSchema, snapshot, "snapshot").asyncAndThen((s) =>
      this.#run("deleteSnapshot", s.volumeId, [`volume:${s.volumeId}`], options, "initialize", (ctx) => this.driver.deleteSnapshot(s, ctx)),
    );
  }

  /** Creates a volume from a snapshot (grown to `spec.sizeGiB` if larger). */
  createVolumeFromSnapshot(spec: VolumeSpecInput, snapshot: SnapshotInput, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    return this.#spec(spec).asyncAndThen((s) =>
      validate(SnapshotSchema, snapshot, "snapshot").asyncAndThen((snap) =>
        s.sizeGiB < snap.volumeSizeGiB
          ? errAsync(new VolkitError("INVALID_ARGUMENT", `new volume (${s.sizeGiB} GiB) is smaller than the snapshot (${snap.volumeSizeGiB} GiB)`, { source: this.name }))
          : this.#run("createVolumeFromSnapshot", s.id, [`volume:${s.id}`, `volume:${snap.volumeId}`], options, "setup", (ctx) =>
              this.driver.createVolumeFromSnapshot(s, snap, ctx).andThen((v) => this.#output.volume("createVolumeFromSnapshot", v, s.id, s.sizeGiB)),
            ),
      ),
    );
  }

  /** Clones a volume (grown to `spec.sizeGiB` if larger). */
  createClonedVolume(spec: VolumeSpecInput, source: VolumeInput, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    return this.#spec(spec).asyncAndThen((s) =>
      this.#volume(source).asyncAndThen((src) =>
        s.sizeGiB < src.sizeGiB
          ? errAsync(new VolkitError("INVALID_ARGUMENT", `clone (${s.sizeGiB} GiB) is smaller than its source (${src.sizeGiB} GiB)`, { source: this.name }))
          : this.#run("createClonedVolume", s.id, [`volume:${s.id}`, `volume:${src.id}`], options, "setup", (ctx) =>
              this.driver.createClonedVolume(s, src, ctx).andThen((v) => this.#output.volume("createClonedVolume", v, s.id, s.sizeGiB)),
            ),
      ),
    );
  }

  /** True when the driver makes linked clones (see {@link VolumeBackend.createLinkedClone}). */
  get linkedClones(): boolean {
    return typeof this.driver.createLinkedClone === "function";
  }

  /**
   * A clone that may keep reading shared data from `source` (`VolumeDriver.createLinkedClone`), or
   * an ordinary clone when the driver has no linked clones. Only for sources never written again.
   */
  createLinkedClone(spec: VolumeSpecInput, source: VolumeInput, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    const linked = this.driver.createLinkedClone?.bind(this.driver);
    if (linked === undefined) return this.createClonedVolume(spec, source, options);
    return this.#spec(spec).asyncAndThen((s) =>
      this.#volume(source).asyncAndThen((src) =>
        s.sizeGiB < src.sizeGiB
          ? errAsync(new VolkitError("INVALID_ARGUMENT", `clone (${s.sizeGiB} GiB) is smaller than its source (${src.sizeGiB} GiB)`, { source: this.name }))
          : this.#run("createLinkedClone", s.id, [`volume:${s.id}`, `volume:${src.id}`], options, "setup", (ctx) =>
              linked(s, src, ctx).andThen((v) => this.#output.volume("createLinkedClone", v, s.id, s.sizeGiB)),
            ),
      ),
    );
  }

  /** Grows a volume; shrinking is refused with `INVALID_ARGUMENT`. Returns the record at its new size. */
  extendVolume(volume: VolumeInput, newSizeGiB: number, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      validate(SizeGiBSchema, newSizeGiB, "new size").asyncAndThen((size) =>
        size < v.sizeGiB
          ? errAsync(new VolkitError("INVALID_ARGUMENT", `cannot shrink volume ${v.id} from ${v.sizeGiB} to ${size} GiB`, { source: this.name }))
          : this.#run("extendVolume", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.extendVolume(v, size, ctx).andThen((out) => this.#output.volume("extendVolume", out, v.id, size))),
      ),
    );
  }

  /** Reverts a volume to one of its snapshots. */
  revertToSnapshot(volume: VolumeInput, snapshot: SnapshotInput, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      validate(SnapshotSchema, snapshot, "snapshot").asyncAndThen((s) =>
        s.volumeId !== v.id
          ? errAsync(new VolkitError("INVALID_ARGUMENT", `snapshot ${s.id} belongs to volume ${s.volumeId}, not ${v.id}`, { source: this.name }))
          : this.#run("revertToSnapshot", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.revertToSnapshot(v, s, ctx)),
      ),
    );
  }

  /** Exports a volume (idempotent) and returns the updated record (provider location and auth filled in). */
  createExport(volume: VolumeInput, host?: HostPropertiesInput, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      this.#optionalHost(host).asyncAndThen((h) =>
        this.#run("createExport", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.createExport(v, h, ctx).andThen((u) => this.#output.exported("createExport", v, u))),
      ),
    );
  }

  /** Re-creates a missing export (at service start) and returns the updated record. */
  ensureExport(volume: VolumeInput, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      this.#run("ensureExport", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.ensureExport(v, ctx).andThen((u) => this.#output.exported("ensureExport", v, u))),
    );
  }

  /** Removes an export; succeeds if there is none. */
  removeExport(volume: VolumeInput, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) => this.#run("removeExport", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.removeExport(v, ctx)));
  }

  /** Whether the volume is exported and which hosts still have access. */
  describeExport(volume: VolumeInput, options: OperationOptions = {}): ResultAsync<ExportState, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) => this.#run("describeExport", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.describeExport(v, ctx)));
  }

  /** Grants a host access and returns its connection info (parsed: defaults applied). */
  initializeConnection(volume: VolumeInput, host: HostPropertiesInput, options: OperationOptions = {}): ResultAsync<ConnectionInfo, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      validate(HostPropertiesSchema, host, "host properties").asyncAndThen((h) =>
        this.#run("initializeConnection", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.initializeConnection(v, h, ctx).andThen((info) => this.#output.connection(info, v.id))),
      ),
    );
  }

  /** Revokes a host's access, or every host's when `host` is omitted (force detach). */
  terminateConnection(volume: VolumeInput, host?: HostPropertiesInput, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      this.#optionalHost(host).asyncAndThen((h) => this.#run("terminateConnection", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.terminateConnection(v, h, ctx))),
    );
  }

  /**
   * The byte ranges of a volume or snapshot that may hold data (see `VolumeDriver.allocationMap`);
   * `NOT_SUPPORTED` when the driver cannot tell. Reads only.
   */
  allocationMap(subject: { readonly volume: VolumeInput } | { readonly snapshot: SnapshotInput }, options: OperationOptions = {}): ResultAsync<readonly ByteRange[], VolkitError> {
    const parsed: Result<AllocationSubject, VolkitError> =
      "volume" in subject ? this.#volume(subject.volume).map((volume) => ({ volume })) : validate(SnapshotSchema, subject.snapshot, "snapshot").map((snapshot) => ({ snapshot }));
    return parsed.asyncAndThen((s) => {
      const volumeId = "volume" in s ? s.volume.id : s.snapshot.volumeId;
      return this.#run("allocationMap", volumeId, [`volume:${volumeId}`], options, "initialize", (ctx) => {
        const driver = this.driver;
        if (driver.allocationMap === undefined) return errAsync(new VolkitError("NOT_SUPPORTED", `${driver.driverName} does not support allocationMap`, { source: this.name, details: { operation: "allocationMap", volumeId } }));
        return driver.allocationMap(s, ctx).andThen((ranges) =>
          ranges.every((r) => Number.isSafeInteger(r.offset) && Number.isSafeInteger(r.length) && r.offset >= 0 && r.length > 0)
            ? okAsync(ranges)
            : errAsync(new VolkitError("INTERNAL", `${driver.driverName} returned an allocation map with a negative, empty or fractional range`, { source: this.name, details: { volumeId } })),
        );
      });
    });
  }

  /**
   * Capacity and capabilities: the driver's pools under a header the runtime fills from the
   * driver's declarations. Reads never change the storage (no setup runs for them).
   */
  getVolumeStats(options: StatsOptions = {}): ResultAsync<VolumeStats, VolkitError> {
    const cached = this.#stats;
    const maxAge = options.maxAgeMs ?? 0;
    if (cached && maxAge > 0 && Date.now() - cached.updatedAt <= maxAge) return okAsync(cached);
    return this.#run("getVolumeStats", undefined, [], options, "initialize", (ctx) =>
      this.driver.getPoolStats(ctx).andThen((pools) => this.#output.stats(pools, Date.now())).map((stats) => {
        this.#stats = stats;
        return stats;
      }),
    );
  }

  /** Copies an image into a volume. */
  copyImageToVolume(image: ImageLocation, volume: VolumeInput, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return validate(ImageLocationSchema, image, "image").asyncAndThen((img) =>
      this.#volume(volume).asyncAndThen((v) => this.#run("copyImageToVolume", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.copyImageToVolume(img, v, ctx))),
    );
  }

  /** Copies a volume into an image file of the given format. */
  copyVolumeToImage(volume: VolumeInput, image: ImageLocation & { readonly format: string }, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return validate(ImageLocationSchema.required({ format: true }), image, "image").asyncAndThen((img) =>
      this.#volume(volume).asyncAndThen((v) => this.#run("copyVolumeToImage", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.copyVolumeToImage(v, img, ctx))),
    );
  }

  /** Takes over an existing backend object. */
  manageExisting(spec: VolumeSpecInput, ref: ExistingRef, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    return this.#spec(spec).asyncAndThen((s) =>
      validate(ExistingRefSchema, ref, "existing reference").asyncAndThen((r) =>
        this.#run("manageExisting", s.id, [`volume:${s.id}`, `manage:${JSON.stringify(r)}`], options, "setup", (ctx) =>
          this.driver.manageExisting(s, r, ctx).andThen((v) => this.#output.volume("manageExisting", v, s.id)),
        ),
      ),
    );
  }

  /** Size in GiB of an existing backend object. */
  manageExistingGetSize(ref: ExistingRef, options: OperationOptions = {}): ResultAsync<number, VolkitError> {
    return validate(ExistingRefSchema, ref, "existing reference").asyncAndThen((r) =>
      this.#run("manageExistingGetSize", undefined, [], options, "initialize", (ctx) => this.driver.manageExistingGetSize(r, ctx)),
    );
  }

  /** Stops managing a volume (data kept). */
  unmanage(volume: VolumeInput, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) => this.#run("unmanage", v.id, [`volume:${v.id}`], options, "initialize", (ctx) => this.driver.unmanage(v, ctx)));
  }

  /** Backend objects that could be managed. */
  listManageable(options: OperationOptions = {}): ResultAsync<readonly ManageableVolume[], VolkitError> {
    return this.#run("listManageable", undefined, [], options, "initialize", (ctx) => this.driver.listManageable(ctx));
  }

  /** Releases the driver's resources. */
  close(): ResultAsync<void, VolkitError> {
    return guardResult(() => (this.driver.close ? this.driver.close() : okAsync(undefined)), this.name);
  }

  #spec(spec: VolumeSpecInput): Result<VolumeSpec, VolkitError> {
    return validate(VolumeSpecSchema, spec, "volume spec").andThen((s) => this.#idRule(s.id, "volume").map(() => s));
  }

  #volume(volume: VolumeInput): Result<Volume, VolkitError> {
    return validate(VolumeSchema, volume, "volume");
  }

  #optionalHost(host: HostPropertiesInput | undefined): Result<HostProperties | undefined, VolkitError> {
    return host === undefined ? ok(undefined) : validate(HostPropertiesSchema, host, "host properties");
  }

  /** The driver's own id rule (checked at create, so a driver never accepts an id it cannot serve later). */
  #idRule(id: string, what: "volume" | "snapshot"): Result<void, VolkitError> {
    const rule = this.driver.idRule;
    if (!rule || rule.pattern.test(id)) return ok(undefined);
    return err(
      new VolkitError("INVALID_ARGUMENT", `${what} id ${id} cannot be served by the ${this.driver.driverName} driver: ids must be ${rule.description}`, {
        source: this.name,
        details: { id, rule: rule.description },
      }),
    );
  }

  /** Runs the driver's initialize (and its setup, for writes) once for everyone; each caller waits with its own signal. */
  #prepare(level: Preparation, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const init = awaitShared(this.#shared("initialize"), ctx.signal, this.name);
    return level === "initialize" ? init : init.andThen(() => awaitShared(this.#shared("setup"), ctx.signal, this.name));
  }

  /**
   * One shared run of a driver start-up step on a context of its own (its own deadline, no caller's
   * signal: one caller giving up never fails it for the others). A failure is forgotten, so the next
   * operation tries again.
   */
  #shared(step: Preparation): Promise<Result<void, VolkitError>> {
    const running = this.#startup.get(step);
    if (running) return running;
    const ctx = createOperationContext({ operation: step, source: this.name, logger: this.logger, events: this.events, deadline: Date.now() + SETUP_TIMEOUT_MS });
    const driver = this.driver;
    const call = (): ResultAsync<void, VolkitError> => (step === "initialize" ? driver.initialize?.(ctx) : driver.setup?.(ctx)) ?? okAsync(undefined);
    const attempt: Promise<Result<void, VolkitError>> = Promise.resolve(guardResult(call, this.name)).then((result) => {
      if (result.isErr() && this.#startup.get(step) === attempt) this.#startup.delete(step);
      return result;
    });
    this.#startup.set(step, attempt);
    return attempt;
  }

  #run<T>(
    operation: string,
    volumeId: string | undefined,
    lockKeys: readonly string[],
    options: OperationOptions,
    preparation: Preparation,
    fn: (ctx: OperationContext) => ResultAsync<T, VolkitError>,
  ): ResultAsync<T, VolkitError> {
    const host = this.#host;
    const scope = { source: this.name, logger: this.logger, events: this.events };
    const io = host === undefined ? {} : { io: (ctx: OperationContext) => driverIo(this.driver, this.#output, host, this.name, ctx) };
    return runOperation(scope, operation, volumeId, { ...options, ...io }, (ctx) =>
      withLocks(this.#locks, lockKeys, ctx.signal, () => ctx.phase("prepare", () => this.#prepare(preparation, ctx)).andThen(() => guardResult(() => fn(ctx), this.name))),
    );
  }
}

/** Wraps any {@link VolumeDriver} (yours or a built-in) in the volkit runtime. */
export function wrapDriver(driver: VolumeDriver, options: BackendOptions = {}): VolumeBackend {
  return new VolumeBackend(driver, options);
}
