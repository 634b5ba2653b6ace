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
  /** Called before each retry. */
  readonly onRetry?: (error: VolkitError, attempt: number) => void;
}

/**
 * Runs `attempt` and retries it with exponential back-off while it fails with a transient error.
 * Permanent errors return at once. Abort stops waiting immediately.
 */
export function withRetry<T>(attempt: () => ResultAsync<T, VolkitError>, options: RetryOptions = {}): ResultAsync<T, VolkitError> {
  if (options.signal?.aborted) return errAsync(abortReasonToError(options.signal.reason));
  const isTransient = options.isTransient ?? ((e: VolkitError) => e.transient);
  let attemptNo = 0;
  const run = async (): Promise<T> => {
    attemptNo++;
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
      shouldRetry: ({ error }) => error instanceof VolkitError && isTransient(error),
      onFailedAttempt: ({ error }) => {
        if (error instanceof VolkitError && isTransient(error)) options.onRetry?.(error, attemptNo);
      },
    }),
    (e) => {
      if (e instanceof VolkitError) return e;
      if (options.signal?.aborted) return abortReasonToError(options.signal.reason);
      return new VolkitError("INTERNAL", String(e), { cause: e });
    },
  );
}
