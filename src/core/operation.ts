import { ResultAsync, err, errAsync, ok, type Result } from "neverthrow";
import { raceAbort } from "./abort.js";
import { abortReasonToError, createOperationContext, type ContextInit, type OperationContext, type OperationOptions } from "./context.js";
import { VolkitError, toVolkitError } from "./errors.js";
import type { EventBus, Logger } from "./events.js";

/**
 * The plumbing every public operation shares, written once: a guard that turns anything thrown
 * into a typed error, the abort race, and the start/end events with per-phase timings. The volume
 * runtime and every connector run their operations through {@link runOperation}.
 */

/** Who runs an operation: the name in events and logs, the logger and the event bus. */
export interface OperationScope {
  /** Component name in events and logs (`lvm-vg0`, `iscsi`, `attach`). */
  readonly source: string;
  /** Logger. */
  readonly logger: Logger;
  /** Bus receiving `operation:start`/`operation:end` (with per-phase timings). */
  readonly events: EventBus;
}

function isResult(value: unknown): value is Result<unknown, unknown> {
  return value !== null && typeof value === "object" && typeof (value as { isOk?: unknown }).isOk === "function";
}

/**
 * Calls code that should return a `ResultAsync` so that nothing it does escapes as a throw: a
 * synchronous throw, a rejected promise or a value that is not a Result all become an `INTERNAL`
 * error naming `source`. Used around every call into a driver, a connector or a lock backend.
 */
export function guardResult<T>(call: () => PromiseLike<Result<T, VolkitError>>, source: string): ResultAsync<T, VolkitError> {
  let pending: PromiseLike<Result<T, VolkitError>>;
  try {
    pending = call();
  } catch (e) {
    return errAsync(toVolkitError(e, "INTERNAL", source));
  }
  return new ResultAsync(
    Promise.resolve(pending).then(
      (result): Result<T, VolkitError> =>
        isResult(result) ? result : err(new VolkitError("INTERNAL", `${source} returned a value that is not a Result`, { source })),
      (e: unknown) => err(toVolkitError(e, "INTERNAL", source)),
    ),
  );
}

/**
 * Waits for `shared` (a promise of a Result that never rejects) but gives up when `signal` fires:
 * the caller gets `ABORTED` or `TIMEOUT` while the shared work goes on for whoever else waits on it.
 */
export function awaitShared<T>(shared: PromiseLike<Result<T, VolkitError>>, signal: AbortSignal | undefined, source?: string): ResultAsync<T, VolkitError> {
  return new ResultAsync(raceAbort(shared, signal).then((raced) => (raced.aborted ? err(abortReasonToError(raced.reason, source)) : raced.value)));
}

/**
 * `INVALID_ARGUMENT` unless `options` can bound an operation: `signal` an `AbortSignal`, `deadline`
 * epoch ms (a number, not NaN; `Infinity` = none) or a valid `Date`. A NaN deadline would
 * otherwise time the operation out at once, and a signal that is not one would throw.
 */
export function checkOperationOptions(options: OperationOptions, source = "volkit"): Result<void, VolkitError> {
  const bad = (why: string): Result<never, VolkitError> => err(new VolkitError("INVALID_ARGUMENT", `invalid operation options: ${why}`, { source }));
  if (options === null || typeof options !== "object") return bad("must be an object");
  const { signal, deadline } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) return bad("signal must be an AbortSignal");
  if (deadline === undefined) return ok(undefined);
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  if (typeof ms !== "number" || Number.isNaN(ms)) return bad("deadline must be epoch milliseconds or a valid Date");
  return ok(undefined);
}

/**
 * Runs one public operation: builds its {@link OperationContext} from the caller's signal and
 * deadline, emits `operation:start` and `operation:end` (with the phases it timed), logs the
 * outcome without secrets, and guards `fn` so that nothing it throws crosses the public API.
 */
export function runOperation<T>(
  scope: OperationScope,
  operation: string,
  volumeId: string | undefined,
  options: OperationOptions & Pick<ContextInit, "io">,
  fn: (ctx: OperationContext) => ResultAsync<T, VolkitError>,
): ResultAsync<T, VolkitError> {
  const usable = checkOperationOptions(options, scope.source);
  if (usable.isErr()) return errAsync(usable.error);
  const ctx = createOperationContext({ operation, source: scope.source, volumeId, logger: scope.logger, events: scope.events, ...options });
  const started = performance.now();
  const vid = volumeId === undefined ? {} : { volumeId };
  scope.events.emit({ type: "operation:start", operation, source: scope.source, ...vid, at: Date.now() });
  const end = (error: VolkitError | undefined): void => {
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    scope.events.emit({
      type: "operation:end",
      operation,
      source: scope.source,
      ...vid,
      durationMs,
      phases: [...ctx.phases],
      ok: error === undefined,
      ...(error === undefined ? {} : { errorCode: error.code, errorMessage: error.message }),
    });
    if (error) ctx.logger.warn({ operation, volumeId, source: scope.source, durationMs, code: error.code, err: error.toJSON() }, `${scope.source} ${operation} failed`);
    else ctx.logger.info({ operation, volumeId, source: scope.source, durationMs }, `${scope.source} ${operation} done`);
  };
  return guardResult(() => fn(ctx), scope.source)
    .map((value) => {
      end(undefined);
      return value;
    })
    .mapErr((error) => {
      end(error);
      return error;
    });
}
