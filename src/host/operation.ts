import { ResultAsync, err, errAsync } from "neverthrow";
import { createOperationContext, type OperationContext, type OperationOptions } from "../core/context.js";
import { type VolkitError, toVolkitError } from "../core/errors.js";
import type { EventBus, Logger } from "../core/events.js";

/** What {@link runHostOperation} needs to know about the component running it. */
export interface HostOperationScope {
  /** Component name in events and logs (`iscsi`, `local`). */
  readonly source: string;
  /** Logger. */
  readonly logger: Logger;
  /** Bus receiving `operation:start`/`operation:end` (with per-phase timings). */
  readonly events: EventBus;
}

/**
 * Runs one public connector operation: builds its {@link OperationContext} from the caller's
 * signal and deadline, emits start/end events with the phases it timed, logs the outcome, and
 * turns anything unexpected into a `VolkitError` (never a throw).
 */
export function runHostOperation<T>(
  scope: HostOperationScope,
  operation: string,
  volumeId: string | undefined,
  options: OperationOptions,
  fn: (ctx: OperationContext) => ResultAsync<T, VolkitError>,
): ResultAsync<T, VolkitError> {
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
    if (error) scope.logger.warn({ operation, volumeId, durationMs, code: error.code, err: error.toJSON() }, `${scope.source} ${operation} failed`);
    else scope.logger.info({ operation, volumeId, durationMs }, `${scope.source} ${operation} done`);
  };
  let pending: ResultAsync<T, VolkitError>;
  try {
    pending = fn(ctx);
  } catch (e) {
    pending = errAsync(toVolkitError(e, "INTERNAL", scope.source));
  }
  // A bug that throws inside a callback rejects the promise: turn it into an Err, never a throw.
  const guarded = new ResultAsync(Promise.resolve(pending).catch((e: unknown) => err(toVolkitError(e, "INTERNAL", scope.source))));
  return guarded
    .map((v) => {
      end(undefined);
      return v;
    })
    .mapErr((e) => {
      end(e);
      return e;
    });
}
