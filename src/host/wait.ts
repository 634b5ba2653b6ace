import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { abortReasonToError } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { withRetry } from "../core/retry.js";

/** The transient "not there yet" outcome of a probe (internal to {@link waitFor}). */
const NOT_YET = new VolkitError("DEVICE_NOT_FOUND", "not there yet", { source: "wait", transient: true });

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this many milliseconds (the caller's signal may end the wait sooner). */
  readonly timeoutMs: number;
  /** The operation's signal (caller cancel or deadline): ends the wait with `ABORTED`/`TIMEOUT`. */
  readonly signal: AbortSignal;
  /** First delay between probes (default 50 ms); grows by `factor` up to `maxDelayMs`. */
  readonly minDelayMs?: number;
  /** Largest delay between probes (default 1000 ms). */
  readonly maxDelayMs?: number;
  /** Growth of the delay (default 1.6). */
  readonly factor?: number;
  /** The error returned when `timeoutMs` passes (e.g. `DEVICE_NOT_FOUND` naming the LUN). */
  readonly onTimeout: () => VolkitError;
}

/**
 * Polls `probe` with exponential back-off until it yields a value (not `undefined`), within
 * `timeoutMs`. A probe error ends the wait at once unless it is transient. No fixed sleeps: the
 * delays grow from `minDelayMs`, and the wait stops the moment the signal fires.
 *
 * @example
 * ```ts
 * const dev = await waitFor(() => findLunDevice(fs, session, 1), {
 *   timeoutMs: 30_000, signal: ctx.signal,
 *   onTimeout: () => volkitError("DEVICE_NOT_FOUND", "LUN 1 did not appear"),
 * });
 * ```
 */
export function waitFor<T>(probe: (attempt: number) => ResultAsync<T | undefined, VolkitError>, options: WaitOptions): ResultAsync<T, VolkitError> {
  const limit = AbortSignal.timeout(Math.max(1, options.timeoutMs));
  const signal = AbortSignal.any([options.signal, limit]);
  let attempt = 0;
  // p-retry drops a successful attempt when the signal fired meanwhile; a value found wins anyway.
  let found: { value: T } | undefined;
  return withRetry(
    () => {
      attempt++;
      return probe(attempt).andThen((value) => {
        if (value === undefined) return errAsync(NOT_YET);
        found = { value };
        return okAsync(value);
      });
    },
    {
      retries: Number.POSITIVE_INFINITY,
      minTimeoutMs: options.minDelayMs ?? 50,
      maxTimeoutMs: options.maxDelayMs ?? 1000,
      factor: options.factor ?? 1.6,
      signal,
    },
  ).orElse((e) => {
    if (found) return okAsync(found.value);
    if (options.signal.aborted) return errAsync(abortReasonToError(options.signal.reason));
    if (e === NOT_YET || limit.aborted) return errAsync(options.onTimeout());
    return errAsync(e);
  });
}
