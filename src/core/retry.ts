import { ResultAsync, errAsync } from "neverthrow";
import pRetry from "p-retry";
import { abortReasonToError } from "./context.js";
import { VolkitError } from "./errors.js";

/** Retry policy for {@link withRetry}. */
export interface RetryOptions {
  /** Retries after the first attempt (default 3). */
  readonly retries?: number;
  /** First back-off delay in ms (default 200). */
  readonly minTimeoutMs?: number;
  /** Largest back-off delay in ms (default 5000). */
  readonly maxTimeoutMs?: number;
  /** Back-off growth factor (default 2). */
  readonly factor?: number;
  /** Stops retrying (and waiting) when aborted. */
  readonly signal?: AbortSignal;
  /** Decides which errors are worth another attempt; default: `error.transient`. */
  readonly isTransient?: (error: VolkitError) => boolean;
  /**
   * Called before each retry with the error of the failed attempt and that attempt's number (1 for
   * the first). Not called when no retry follows (permanent error, retries exhausted).
   */
  readonly onRetry?: (error: VolkitError, attempt: number) => void;
}

/**
 * Runs `attempt` and retries it with exponential back-off while it fails with a transient error.
 * Permanent errors return at once. Abort stops waiting immediately.
 */
export function withRetry<T>(attempt: () => ResultAsync<T, VolkitError>, options: RetryOptions = {}): ResultAsync<T, VolkitError> {
  if (options.signal?.aborted) return errAsync(abortReasonToError(options.signal.reason));
  const isTransient = options.isTransient ?? ((e: VolkitError) => e.transient);
  const run = async (): Promise<T> => {
    const result = await attempt();
    if (result.isOk()) return result.value;
    throw result.error;
  };
  return ResultAsync.fromPromise(
    pRetry(run, {
      retries: options.retries ?? 3,
      minTimeout: options.minTimeoutMs ?? 200,
      maxTimeout: options.maxTimeoutMs ?? 5000,
      factor: options.factor ?? 2,
      randomize: true,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      // p-retry asks shouldRetry only while retries are left, so this is the one place that knows
      // another attempt will really follow (onFailedAttempt also fires after the final attempt).
      shouldRetry: ({ error, attemptNumber }) => {
        const retry = error instanceof VolkitError && isTransient(error);
        if (retry) options.onRetry?.(error, attemptNumber);
        return retry;
      },
    }),
    (e) => {
      if (e instanceof VolkitError) return e;
      if (options.signal?.aborted) return abortReasonToError(options.signal.reason);
      return new VolkitError("INTERNAL", String(e), { cause: e });
    },
  );
}
