import { type ResultAsync, errAsync } from "neverthrow";
import { VolkitError } from "./errors.js";
import { type EventBus, safeLogger, silentLogger, type Logger, type PhaseTiming } from "./events.js";
import type { AttachedDevice, Volume } from "./records.js";
import { setLongTimeout, type LongTimer } from "./timers.js";

/**
 * Options every long public operation accepts.
 *
 * @example
 * ```ts
 * await backend.createVolume(spec, { signal: ac.signal, deadline: Date.now() + 60_000 });
 * ```
 */
export interface OperationOptions {
  /** Cancels the operation; the running command's child process is killed. */
  readonly signal?: AbortSignal;
  /** Absolute deadline (epoch ms or Date). Past it the operation fails with `TIMEOUT`. */
  readonly deadline?: number | Date;
}

/**
 * Reaches a volume's bytes on this host for a driver's own I/O (image copies, generic clones,
 * backups): the runtime attaches the volume through this host's connector, runs `use` with the
 * device, and always detaches, undoing the export and connection it made. Drivers never import
 * connectors; they get this port on their {@link OperationContext}.
 */
export interface VolumeIo {
  /** Attaches `volume`, runs `use` with its device, then detaches (also when `use` fails). */
  withDevice<T>(volume: Volume, use: (device: AttachedDevice) => ResultAsync<T, VolkitError>, options?: { readonly readOnly?: boolean }): ResultAsync<T, VolkitError>;
}

/**
 * What a driver or connector receives for one operation: a single signal combining the caller's
 * signal and deadline, helpers to time phases and report progress, and the logger.
 */
export interface OperationContext {
  /** Operation name, e.g. `createVolume`. */
  readonly operation: string;
  /** Component running it. */
  readonly source: string;
  /** Volume concerned, if any. */
  readonly volumeId: string | undefined;
  /** Aborts on caller cancel or deadline; pass it to every command. */
  readonly signal: AbortSignal;
  /** Absolute deadline in epoch ms, if any. */
  readonly deadline: number | undefined;
  /** Logger for this operation. */
  readonly logger: Logger;
  /** Milliseconds left before the deadline (undefined when there is none). */
  remainingMs(): number | undefined;
  /**
   * Runs `fn` as a named phase and records its duration. Once the context is aborted the phase does
   * not start and fails with the abort error (`ABORTED`/`TIMEOUT`), hence the `E | VolkitError`.
   */
  phase<T, E>(name: string, fn: () => ResultAsync<T, E>): ResultAsync<T, E | VolkitError>;
  /** Reports bytes processed by a long copy. */
  progress(phase: string, bytesDone: number, bytesTotal?: number): void;
  /** Timings recorded so far. */
  readonly phases: readonly PhaseTiming[];
  /** The abort reason as a typed error (`ABORTED` or `TIMEOUT`), or undefined if not aborted. */
  abortError(): VolkitError | undefined;
  /**
   * Attaches volumes on this host for the driver's own I/O; undefined when the backend was built
   * without a host (see `BackendOptions.host`).
   */
  readonly io: VolumeIo | undefined;
}

/** Inputs for {@link createOperationContext}. */
export interface ContextInit extends OperationOptions {
  /** Operation name. */
  readonly operation: string;
  /** Component name. */
  readonly source: string;
  /** Volume concerned. */
  readonly volumeId?: string | undefined;
  /** Logger (defaults to silent). */
  readonly logger?: Logger;
  /** Event bus receiving progress events. */
  readonly events?: EventBus;
  /** Builds the context's {@link OperationContext.io} port (it needs the context's own signal). */
  readonly io?: (ctx: OperationContext) => VolumeIo;
}

class DeadlineExceeded extends Error {
  override readonly name = "DeadlineExceeded";
}

/**
 * Controllers that follow a caller's signal, keyed by that signal. Each caller signal gets one
 * "abort" listener however many operations share it, and holds its followers only weakly, so a
 * finished operation's context is garbage once nothing else references it.
 *
 * Why not a listener per operation on the caller's signal: it is never removed (a context has no
 * end), so a long-lived shared signal collects one per operation and warns
 * (MaxListenersExceededWarning) after ten. Why not `AbortSignal.any([callerSignal, own])`: on
 * Node 20 (measured on 20.20) a composite that ever carried an abort listener stays reachable from
 * a long-lived source and is never collected, about 1 KB per operation.
 */
const followers = new WeakMap<AbortSignal, Set<WeakRef<AbortController>>>();
const forgetFollower = new FinalizationRegistry<{ readonly set: Set<WeakRef<AbortController>>; readonly ref: WeakRef<AbortController> }>(
  ({ set, ref }) => void set.delete(ref),
);

/**
 * Keeps each context's controller alive as long as its signal is: an operation may hold only
 * `ctx.signal` (a running child, a sleep), and the signal itself does not reference its controller.
 * Without this, the weak references below could drop a controller whose signal is still in use, and
 * neither the caller's abort nor the deadline would reach it.
 */
const controllerOf = new WeakMap<AbortSignal, AbortController>();

/** Clears a context's deadline timer once its controller is garbage. */
const clearOnCollect = new FinalizationRegistry<LongTimer>((timer) => timer.clear());

/** Aborts `controller` (with the same reason) when `source` aborts, without retaining `controller`. */
function follow(source: AbortSignal, controller: AbortController): void {
  let set = followers.get(source);
  if (!set) {
    const created = new Set<WeakRef<AbortController>>();
    followers.set(source, created);
    source.addEventListener(
      "abort",
      () => {
        for (const ref of created) ref.deref()?.abort(source.reason);
        created.clear();
      },
      { once: true },
    );
    set = created;
  }
  const ref = new WeakRef(controller);
  set.add(ref);
  forgetFollower.register(controller, { set, ref });
}

/**
 * Aborts `controller` with a deadline reason after `ms`. The timer holds the controller weakly, so a
 * finished operation's context is collectable before its deadline (collecting it clears the timer),
 * and it is unref'd, so it never keeps the process alive. A function of its own on purpose: a
 * closure created inside createOperationContext would share its scope and keep the context alive.
 */
function armDeadline(controller: AbortController, ms: number): void {
  const weak = new WeakRef(controller);
  // Any length: a deadline weeks away must not fire after 1 ms (setTimeout's 2^31-1 ms limit).
  const timer = setLongTimeout(() => weak.deref()?.abort(new DeadlineExceeded("deadline exceeded")), ms);
  clearOnCollect.register(controller, timer);
  controller.signal.addEventListener("abort", () => timer.clear(), { once: true });
}

/** Builds an {@link OperationContext}; drivers and tests use it to call driver methods directly. */
export function createOperationContext(init: ContextInit): OperationContext {
  const deadline = init.deadline instanceof Date ? init.deadline.getTime() : init.deadline;
  const controller = new AbortController();
  controllerOf.set(controller.signal, controller);
  const phases: PhaseTiming[] = [];
  if (init.signal) {
    if (init.signal.aborted) controller.abort(init.signal.reason);
    else follow(init.signal, controller);
  }
  if (deadline !== undefined && !controller.signal.aborted) {
    const ms = deadline - Date.now();
    if (ms <= 0) controller.abort(new DeadlineExceeded("deadline exceeded"));
    else armDeadline(controller, ms);
  }
  const signal = controller.signal;
  const logger = safeLogger(init.logger ?? silentLogger);
  const events = init.events;
  let io: VolumeIo | undefined;
  const ctx: OperationContext = {
    operation: init.operation,
    source: init.source,
    volumeId: init.volumeId,
    signal,
    deadline,
    logger,
    phases,
    remainingMs: () => (deadline === undefined ? undefined : Math.max(0, deadline - Date.now())),
    phase: <T, E>(name: string, fn: () => ResultAsync<T, E>): ResultAsync<T, E | VolkitError> => {
      const aborted = ctx.abortError();
      if (aborted) return errAsync(aborted);
      const started = performance.now();
      const record = (): void => {
        phases.push({ name, durationMs: Math.round((performance.now() - started) * 10) / 10 });
      };
      return fn().map(
        (v) => (record(), v),
      ).mapErr((e) => (record(), e));
    },
    progress: (phase, bytesDone, bytesTotal) => {
      events?.emit({
        type: "progress",
        operation: init.operation,
        source: init.source,
        ...(init.volumeId === undefined ? {} : { volumeId: init.volumeId }),
        phase,
        bytesDone,
        ...(bytesTotal === undefined ? {} : { bytesTotal }),
      });
    },
    abortError: () => (signal.aborted ? abortReasonToError(signal.reason, init.source) : undefined),
    get io() {
      return io;
    },
  };
  if (init.io) io = init.io(ctx);
  return ctx;
}

/** Maps an AbortSignal reason to `TIMEOUT` (deadline or AbortSignal.timeout) or `ABORTED`. */
export function abortReasonToError(reason: unknown, source?: string): VolkitError {
  const isTimeout =
    reason instanceof DeadlineExceeded ||
    (reason instanceof Error && (reason.name === "TimeoutError" || reason.name === "DeadlineExceeded"));
  const opts = { cause: reason, ...(source === undefined ? {} : { source }) };
  return isTimeout
    ? new VolkitError("TIMEOUT", "operation deadline exceeded", opts)
    : new VolkitError("ABORTED", "operation aborted by caller", opts);
}

/** A context with no deadline and no events, handy for tests and internal sub-operations. */
export function backgroundContext(operation = "internal", source = "volkit"): OperationContext {
  return createOperationContext({ operation, source });
}

/**
 * A context for undoing a failed operation: it keeps the logger and names but not the caller's
 * signal (a cancelled create must still clean up), bounded by its own deadline.
 */
export function rollbackContext(ctx: OperationContext, timeoutMs = 10 * 60_000): OperationContext {
  return createOperationContext({
    operation: `${ctx.operation}:rollback`,
    source: ctx.source,
    volumeId: ctx.volumeId,
    logger: ctx.logger,
    deadline: Date.now() + timeoutMs,
  });
}
