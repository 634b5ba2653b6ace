import { ResultAsync, err, errAsync, ok, okAsync, type Result } from "neverthrow";
import { z } from "zod";
import { abortReasonToError, createOperationContext, type OperationContext, type OperationOptions } from "../core/context.js";
import { VolkitError, toVolkitError } from "../core/errors.js";
import { EventBus, silentLogger, type Logger } from "../core/events.js";
import { InProcessLocks, withLocks, type LockBackend } from "../core/locks.js";
import { registerSecret } from "../core/secrets.js";
import {
  ConnectionInfoSchema,
  ConnectorPropertiesSchema,
  SnapshotSchema,
  SnapshotSpecSchema,
  VolumeSchema,
  VolumeSpecSchema,
  type ConnectionInfo,
  type ConnectorProperties,
  type ExistingRef,
  type ImageLocation,
  type ManageableVolume,
  type ModelUpdate,
  type Snapshot,
  type SnapshotSpec,
  type Volume,
  type VolumeSpec,
  type VolumeStats,
} from "../core/types.js";
import { AbsolutePathSchema, SizeGiBSchema, validate } from "../core/validation.js";
import type { DriverCapabilities, VolumeDriver } from "./volume-driver.js";

/** Options for {@link wrapDriver}. */
export interface BackendOptions {
  /** Backend name reported in stats and events (default: the driver name). */
  readonly name?: string;
  /** pino-compatible logger. */
  readonly logger?: Logger;
  /** Lock backend (default: in-process). Use `FileLocks` when several processes share a host. */
  readonly locks?: LockBackend;
  /** Event bus to publish on (default: a new one, see {@link VolumeBackend.events}). */
  readonly events?: EventBus;
}

const ExistingRefSchema = z.union([
  z.object({ sourceName: z.string().regex(/^[A-Za-z0-9_+.][A-Za-z0-9_+.-]{0,254}$/) }).strict(),
  z.object({ sourceId: z.string().regex(/^[A-Za-z0-9_.:-]{1,255}$/) }).strict(),
]);
const ImageLocationSchema = z.object({ path: AbsolutePathSchema, format: z.string().regex(/^[a-z0-9]{2,16}$/).optional() });

/** How long the driver's setup may run; it has its own deadline, not any caller's. */
const SETUP_TIMEOUT_MS = 10 * 60_000;

/**
 * Waits for `shared` (which never rejects) but gives up on `signal`: the caller gets `ABORTED` or
 * `TIMEOUT` while the shared work goes on for whoever else waits on it.
 */
function awaitWithSignal<T>(shared: Promise<Result<T, VolkitError>>, signal: AbortSignal, source: string): Promise<Result<T, VolkitError>> {
  if (signal.aborted) return Promise.resolve(err(abortReasonToError(signal.reason, source)));
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(err(abortReasonToError(signal.reason, source)));
    signal.addEventListener("abort", onAbort, { once: true });
    void shared.then((result) => {
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    });
  });
}

/**
 * The runtime every driver runs inside, built-in or a driver author's. It gives callers the
 * public API — every method returns a `ResultAsync` and accepts a signal and a deadline — and
 * around each driver call it:
 * - runs `setup` once (again on the next call if it failed), on its own context: a caller that
 *   gives up while it runs gets `ABORTED`/`TIMEOUT`, the setup goes on for the others;
 * - validates every argument with zod (bad input fails with `INVALID_ARGUMENT` before the driver
 *   sees it, so nothing changes);
 * - checks what the driver returns (connection info against its schema, the volume or snapshot
 *   record against the request): a mismatch is a driver bug and fails with `INTERNAL`;
 * - turns anything a driver throws, or a rejected promise, into an `INTERNAL` error: nothing thrown
 *   crosses the public API;
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
  readonly #logger: Logger;
  readonly #locks: LockBackend;
  /** The running or finished setup; never rejects, and cleared when it fails so the next call retries. */
  #setup: Promise<Result<void, VolkitError>> | undefined;

  /** Wraps `driver`; prefer {@link wrapDriver} or `createDriver`. */
  constructor(driver: VolumeDriver, options: BackendOptions = {}) {
    this.driver = driver;
    this.name = options.name ?? driver.driverName;
    this.events = options.events ?? new EventBus();
    this.#logger = options.logger ?? silentLogger;
    this.#locks = options.locks ?? new InProcessLocks();
  }

  /** The driver's capabilities. */
  get capabilities(): DriverCapabilities {
    return this.driver.capabilities;
  }

  /** Runs the driver's setup now (otherwise it runs before the first operation). */
  setup(options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#run("setup", undefined, [], options, (ctx) => this.#ensureSetup(ctx), false);
  }

  /** Creates a volume. `VOLUME_EXISTS` if one with this id exists with other properties. */
  createVolume(spec: VolumeSpec, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    return validate(VolumeSpecSchema, spec, "volume spec").asyncAndThen((s) =>
      this.#run("createVolume", s.id, [`volume:${s.id}`], options, (ctx) => this.driver.createVolume(s, ctx).andThen((v) => this.#checkVolume("createVolume", v, s.id))),
    );
  }

  /** Deletes a volume (wiped per config). Succeeds if it is already gone; `VOLUME_BUSY` with snapshots. */
  deleteVolume(volume: Volume, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) => this.#run("deleteVolume", v.id, [`volume:${v.id}`], options, (ctx) => this.driver.deleteVolume(v, ctx)));
  }

  /** Snapshots a volume. */
  createSnapshot(snapshot: SnapshotSpec, volume: Volume, options: OperationOptions = {}): ResultAsync<Snapshot, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      validate(SnapshotSpecSchema, snapshot, "snapshot spec").asyncAndThen((s) =>
        s.volumeId !== v.id
          ? errAsync(new VolkitError("INVALID_ARGUMENT", `snapshot ${s.id} names volume ${s.volumeId} but volume ${v.id} was given`, { source: this.name }))
          : this.#run("createSnapshot", v.id, [`volume:${v.id}`], options, (ctx) => this.driver.createSnapshot(s, v, ctx).andThen((snap) => this.#checkSnapshot(snap, s.id, v.id))),
      ),
    );
  }

  /** Deletes a snapshot; succeeds if it is already gone. */
  deleteSnapshot(snapshot: Snapshot, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#snapshot(snapshot).asyncAndThen((s) => this.#run("deleteSnapshot", s.volumeId, [`volume:${s.volumeId}`], options, (ctx) => this.driver.deleteSnapshot(s, ctx)));
  }

  /** Creates a volume from a snapshot (grown to `spec.sizeGiB` if larger). */
  createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    return validate(VolumeSpecSchema, spec, "volume spec").asyncAndThen((s) =>
      this.#snapshot(snapshot).asyncAndThen((snap) =>
        s.sizeGiB < snap.volumeSizeGiB
          ? errAsync(new VolkitError("INVALID_ARGUMENT", `new volume (${s.sizeGiB} GiB) is smaller than the snapshot (${snap.volumeSizeGiB} GiB)`, { source: this.name }))
          : this.#run("createVolumeFromSnapshot", s.id, [`volume:${s.id}`, `volume:${snap.volumeId}`], options, (ctx) =>
              this.driver.createVolumeFromSnapshot(s, snap, ctx).andThen((v) => this.#checkVolume("createVolumeFromSnapshot", v, s.id)),
            ),
      ),
    );
  }

  /** Clones a volume (grown to `spec.sizeGiB` if larger). */
  createClonedVolume(spec: VolumeSpec, source: Volume, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    return validate(VolumeSpecSchema, spec, "volume spec").asyncAndThen((s) =>
      this.#volume(source).asyncAndThen((src) =>
        s.sizeGiB < src.sizeGiB
          ? errAsync(new VolkitError("INVALID_ARGUMENT", `clone (${s.sizeGiB} GiB) is smaller than its source (${src.sizeGiB} GiB)`, { source: this.name }))
          : this.#run("createClonedVolume", s.id, [`volume:${s.id}`, `volume:${src.id}`], options, (ctx) =>
              this.driver.createClonedVolume(s, src, ctx).andThen((v) => this.#checkVolume("createClonedVolume", v, s.id)),
            ),
      ),
    );
  }

  /** Grows a volume; shrinking is refused with `INVALID_ARGUMENT`. */
  extendVolume(volume: Volume, newSizeGiB: number, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      validate(SizeGiBSchema, newSizeGiB, "new size").asyncAndThen((size) =>
        size < v.sizeGiB
          ? errAsync(new VolkitError("INVALID_ARGUMENT", `cannot shrink volume ${v.id} from ${v.sizeGiB} to ${size} GiB`, { source: this.name }))
          : this.#run("extendVolume", v.id, [`volume:${v.id}`], options, (ctx) => this.driver.extendVolume(v, size, ctx).andThen((out) => this.#checkVolume("extendVolume", out, v.id, size))),
      ),
    );
  }

  /** Reverts a volume to one of its snapshots. */
  revertToSnapshot(volume: Volume, snapshot: Snapshot, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      this.#snapshot(snapshot).asyncAndThen((s) =>
        s.volumeId !== v.id
          ? errAsync(new VolkitError("INVALID_ARGUMENT", `snapshot ${s.id} belongs to volume ${s.volumeId}, not ${v.id}`, { source: this.name }))
          : this.#run("revertToSnapshot", v.id, [`volume:${v.id}`], options, (ctx) => this.driver.revertToSnapshot(v, s, ctx)),
      ),
    );
  }

  /** Exports a volume. */
  createExport(volume: Volume, connector?: ConnectorProperties, options: OperationOptions = {}): ResultAsync<ModelUpdate, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      this.#optionalConnector(connector).asyncAndThen((c) =>
        this.#run("createExport", v.id, [`volume:${v.id}`], options, (ctx) => this.driver.createExport(v, c, ctx)),
      ),
    );
  }

  /** Re-creates a missing export. */
  ensureExport(volume: Volume, options: OperationOptions = {}): ResultAsync<ModelUpdate, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) => this.#run("ensureExport", v.id, [`volume:${v.id}`], options, (ctx) => this.driver.ensureExport(v, ctx)));
  }

  /** Removes an export; succeeds if there is none. */
  removeExport(volume: Volume, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) => this.#run("removeExport", v.id, [`volume:${v.id}`], options, (ctx) => this.driver.removeExport(v, ctx)));
  }

  /** Grants a host access and returns its connection info. */
  initializeConnection(volume: Volume, connector: ConnectorProperties, options: OperationOptions = {}): ResultAsync<ConnectionInfo, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      this.#connector(connector).asyncAndThen((c) =>
        this.#run("initializeConnection", v.id, [`volume:${v.id}`], options, (ctx) =>
          this.driver.initializeConnection(v, c, ctx).andThen((info) => this.#checkConnectionInfo(info, v.id)),
        ),
      ),
    );
  }

  /** Revokes a host's access, or every host's when `connector` is omitted (force detach). */
  terminateConnection(volume: Volume, connector?: ConnectorProperties, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) =>
      this.#optionalConnector(connector).asyncAndThen((c) =>
        this.#run("terminateConnection", v.id, [`volume:${v.id}`], options, (ctx) => this.driver.terminateConnection(v, c, ctx)),
      ),
    );
  }

  /** Capacity and capabilities. */
  getVolumeStats(refresh = true, options: OperationOptions = {}): ResultAsync<VolumeStats, VolkitError> {
    return this.#run("getVolumeStats", undefined, [], options, (ctx) => this.driver.getVolumeStats(refresh, ctx)).map((s) => ({ ...s, volumeBackendName: this.name }));
  }

  /** Copies an image into a volume. */
  copyImageToVolume(image: ImageLocation, volume: Volume, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return validate(ImageLocationSchema, image, "image").asyncAndThen((img) =>
      this.#volume(volume).asyncAndThen((v) => this.#run("copyImageToVolume", v.id, [`volume:${v.id}`], options, (ctx) => this.driver.copyImageToVolume(img, v, ctx))),
    );
  }

  /** Copies a volume into an image file of the given format. */
  copyVolumeToImage(volume: Volume, image: ImageLocation & { readonly format: string }, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return validate(ImageLocationSchema.required({ format: true }), image, "image").asyncAndThen((img) =>
      this.#volume(volume).asyncAndThen((v) => this.#run("copyVolumeToImage", v.id, [`volume:${v.id}`], options, (ctx) => this.driver.copyVolumeToImage(v, img, ctx))),
    );
  }

  /** Takes over an existing backend object. */
  manageExisting(spec: VolumeSpec, ref: ExistingRef, options: OperationOptions = {}): ResultAsync<Volume, VolkitError> {
    return validate(VolumeSpecSchema, spec, "volume spec").asyncAndThen((s) =>
      validate(ExistingRefSchema, ref, "existing reference").asyncAndThen((r) =>
        this.#run("manageExisting", s.id, [`volume:${s.id}`, `manage:${JSON.stringify(r)}`], options, (ctx) =>
          this.driver.manageExisting(s, r, ctx).andThen((v) => this.#checkVolume("manageExisting", v, s.id)),
        ),
      ),
    );
  }

  /** Size in GiB of an existing backend object. */
  manageExistingGetSize(ref: ExistingRef, options: OperationOptions = {}): ResultAsync<number, VolkitError> {
    return validate(ExistingRefSchema, ref, "existing reference").asyncAndThen((r) => this.#run("manageExistingGetSize", undefined, [], options, (ctx) => this.driver.manageExistingGetSize(r, ctx)));
  }

  /** Stops managing a volume (data kept). */
  unmanage(volume: Volume, options: OperationOptions = {}): ResultAsync<void, VolkitError> {
    return this.#volume(volume).asyncAndThen((v) => this.#run("unmanage", v.id, [`volume:${v.id}`], options, (ctx) => this.driver.unmanage(v, ctx)));
  }

  /** Backend objects that could be managed. */
  listManageable(options: OperationOptions = {}): ResultAsync<readonly ManageableVolume[], VolkitError> {
    return this.#run("listManageable", undefined, [], options, (ctx) => this.driver.listManageable(ctx));
  }

  /** Releases the driver's resources. */
  close(): ResultAsync<void, VolkitError> {
    return this.#guard(() => (this.driver.close ? this.driver.close() : okAsync(undefined)));
  }

  #volume(volume: Volume) {
    return validate(VolumeSchema, volume, "volume");
  }

  #snapshot(snapshot: Snapshot) {
    return validate(SnapshotSchema, snapshot, "snapshot");
  }

  #connector(connector: ConnectorProperties) {
    return validate(ConnectorPropertiesSchema, connector, "connector");
  }

  #optionalConnector(connector: ConnectorProperties | undefined): Result<ConnectorProperties | undefined, VolkitError> {
    return connector === undefined ? ok(undefined) : this.#connector(connector);
  }

  /** A driver bug: the driver returned something the runtime cannot hand to callers. */
  #driverBug(operation: string, message: string, details?: Record<string, unknown>): VolkitError {
    return new VolkitError("INTERNAL", `driver ${this.driver.driverName}: ${operation} returned ${message}`, {
      source: this.name,
      ...(details === undefined ? {} : { details: { driver: this.driver.driverName, operation, ...details } }),
    });
  }

  #checkVolume(operation: string, volume: Volume, expectedId: string, expectedSizeGiB?: number): Result<Volume, VolkitError> {
    const parsed = VolumeSchema.safeParse(volume);
    if (!parsed.success) {
      return err(this.#driverBug(operation, "an invalid volume record", { issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) }));
    }
    if (parsed.data.id !== expectedId) {
      return err(this.#driverBug(operation, `volume ${parsed.data.id}, not its own volume ${expectedId}`, { expectedId, returnedId: parsed.data.id }));
    }
    if (expectedSizeGiB !== undefined && parsed.data.sizeGiB !== expectedSizeGiB) {
      return err(
        this.#driverBug(operation, `volume ${expectedId} with ${parsed.data.sizeGiB} GiB, but ${expectedSizeGiB} GiB was requested`, {
          expectedSizeGiB,
          returnedSizeGiB: parsed.data.sizeGiB,
        }),
      );
    }
    return ok(volume); // what the driver returned, unchanged
  }

  #checkSnapshot(snapshot: Snapshot, expectedId: string, expectedVolumeId: string): Result<Snapshot, VolkitError> {
    const parsed = SnapshotSchema.safeParse(snapshot);
    if (!parsed.success) {
      return err(this.#driverBug("createSnapshot", "an invalid snapshot record", { issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) }));
    }
    if (parsed.data.id !== expectedId || parsed.data.volumeId !== expectedVolumeId) {
      return err(
        this.#driverBug("createSnapshot", `snapshot ${parsed.data.id} of volume ${parsed.data.volumeId}, not its own snapshot ${expectedId} of volume ${expectedVolumeId}`, {
          expectedId,
          returnedId: parsed.data.id,
        }),
      );
    }
    return ok(snapshot);
  }

  #checkConnectionInfo(info: ConnectionInfo, volumeId: string): Result<ConnectionInfo, VolkitError> {
    // Register the secrets first, so nothing derived from a malformed info can show them.
    const raw = info as { authPassword?: unknown; discoveryAuthPassword?: unknown } | null | undefined;
    if (typeof raw?.authPassword === "string") registerSecret(raw.authPassword);
    if (typeof raw?.discoveryAuthPassword === "string") registerSecret(raw.discoveryAuthPassword);
    const parsed = ConnectionInfoSchema.safeParse(info);
    if (!parsed.success) {
      return err(
        this.#driverBug("initializeConnection", `connection info for volume ${volumeId} that is not a valid ConnectionInfo`, {
          issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
        }),
      );
    }
    if (parsed.data.volumeId !== volumeId) {
      return err(
        this.#driverBug("initializeConnection", `connection info of volume ${parsed.data.volumeId}, not of volume ${volumeId}`, { expectedId: volumeId, returnedId: parsed.data.volumeId }),
      );
    }
    return ok(parsed.data);
  }

  /**
   * Calls driver (or lock backend) code so that nothing it throws escapes: a synchronous throw, a
   * rejected promise or a value that is not a Result all become an `INTERNAL` error.
   */
  #guard<T>(call: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
    let pending: PromiseLike<Result<T, VolkitError>>;
    try {
      pending = call();
    } catch (e) {
      return errAsync(toVolkitError(e, "INTERNAL", this.name));
    }
    return new ResultAsync(
      Promise.resolve(pending).then(
        (result): Result<T, VolkitError> =>
          result !== null && typeof result === "object" && typeof (result as Partial<Result<T, VolkitError>>).isOk === "function"
            ? result
            : err(new VolkitError("INTERNAL", `driver ${this.driver.driverName} returned a value that is not a Result`, { source: this.name })),
        (e: unknown) => err(toVolkitError(e, "INTERNAL", this.name)),
      ),
    );
  }

  /**
   * Runs the driver's setup once for everyone. The setup runs on a context of its own (its own
   * deadline, no caller's signal), so one caller giving up never fails it for the others; each
   * caller waits with its own signal. A failed setup (Err, throw or rejection) is forgotten, so
   * the next operation tries again.
   */
  #ensureSetup(ctx: OperationContext): ResultAsync<void, VolkitError> {
    let shared = this.#setup;
    if (!shared) {
      const setupCtx = createOperationContext({
        operation: "setup",
        source: this.name,
        logger: this.#logger,
        events: this.events,
        deadline: Date.now() + SETUP_TIMEOUT_MS,
      });
      const attempt: Promise<Result<void, VolkitError>> = Promise.resolve(this.#guard(() => this.driver.setup(setupCtx))).then((result) => {
        if (result.isErr() && this.#setup === attempt) this.#setup = undefined; // let the next call try again
        return result;
      });
      this.#setup = attempt;
      shared = attempt;
    }
    return new ResultAsync(awaitWithSignal(shared, ctx.signal, this.name));
  }

  #run<T>(
    operation: string,
    volumeId: string | undefined,
    lockKeys: readonly string[],
    options: OperationOptions,
    fn: (ctx: OperationContext) => ResultAsync<T, VolkitError>,
    needsSetup = true,
  ): ResultAsync<T, VolkitError> {
    const ctx = createOperationContext({ operation, source: this.name, volumeId, logger: this.#logger, events: this.events, ...options });
    const started = performance.now();
    const at = Date.now();
    this.events.emit({ type: "operation:start", operation, source: this.name, ...(volumeId === undefined ? {} : { volumeId }), at });
    this.#logger.debug({ operation, volumeId, backend: this.name }, "operation start");
    const body = (): ResultAsync<T, VolkitError> =>
      (needsSetup ? ctx.phase("setup", () => this.#ensureSetup(ctx)) : okAsync(undefined)).andThen(() => this.#guard(() => fn(ctx)));
    return this.#guard(() => withLocks(this.#locks, lockKeys, ctx.signal, body))
      .mapErr((e) => (e instanceof VolkitError ? e : new VolkitError("INTERNAL", String(e), { source: this.name, cause: e })))
      .map((value) => {
        this.#end(operation, volumeId, started, ctx, undefined);
        return value;
      })
      .mapErr((error) => {
        this.#end(operation, volumeId, started, ctx, error);
        return error;
      });
  }

  #end(operation: string, volumeId: string | undefined, started: number, ctx: OperationContext, error: VolkitError | undefined): void {
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    this.events.emit({
      type: "operation:end",
      operation,
      source: this.name,
      ...(volumeId === undefined ? {} : { volumeId }),
      durationMs,
      phases: [...ctx.phases],
      ok: error === undefined,
      ...(error === undefined ? {} : { errorCode: error.code, errorMessage: error.message }),
    });
    if (error) this.#logger.warn({ operation, volumeId, backend: this.name, durationMs, code: error.code, err: error.toJSON() }, "operation failed");
    else this.#logger.info({ operation, volumeId, backend: this.name, durationMs }, "operation done");
  }
}

/** Wraps any {@link VolumeDriver} (yours or a built-in) in the volkit runtime. */
export function wrapDriver(driver: VolumeDriver, options: BackendOptions = {}): VolumeBackend {
  return new VolumeBackend(driver, options);
}

