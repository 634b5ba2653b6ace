import { setMaxListeners } from "node:events";
import { errAsync, type ResultAsync } from "neverthrow";
import { VolkitError } from "../core/errors.js";
import type { SignalSource } from "./cli-env.js";
import { EXIT_CODES } from "./exit-codes.js";

/**
 * Ctrl-C for long commands. The first SIGINT (or SIGTERM) aborts the command's `AbortSignal`: the
 * library kills the running child process (every command runs in a process group of its own, so
 * the terminal's Ctrl-C reaches only volkit, which then decides) and the command rolls back what it
 * made. A second one quits at once with the `ABORTED` exit code, leaving the rollback unfinished,
 * and says so.
 */

/** The abort reason of a Ctrl-C: maps to `ABORTED` (not `TIMEOUT`) in `abortReasonToError`. */
export class InterruptedByUser extends Error {
  override readonly name = "AbortError";
  constructor(signal: string) {
    super(`cancelled by ${signal === "SIGINT" ? "Ctrl-C" : signal}`);
  }
}

/** The cancellation of one command. */
export interface Cancellation {
  /** Aborted on the first Ctrl-C. */
  readonly signal: AbortSignal;
  /** Stops listening for signals (the command ended). */
  dispose(): void;
}

/** Options of {@link listenForCancel}. */
export interface CancelOptions {
  /** Where SIGINT/SIGTERM come from. */
  readonly signals: SignalSource;
  /** Tells the person what is happening (written to stderr). */
  readonly notify: (message: string) => void;
  /** Ends the process at once (second Ctrl-C). */
  readonly forceExit: (code: number) => void;
}

/** Starts listening for Ctrl-C; call `dispose` when the command ends. */
export function listenForCancel(options: CancelOptions): Cancellation {
  const controller = new AbortController();
  // One signal serves every command a CLI command runs (doctor probes a dozen tools at once).
  setMaxListeners(1000, controller.signal);
  const onSignal = (name: "SIGINT" | "SIGTERM") => (): void => {
    if (!controller.signal.aborted) {
      options.notify(`${name === "SIGINT" ? "Ctrl-C" : name}: cancelling and rolling back (press Ctrl-C again to quit without rolling back)`);
      controller.abort(new InterruptedByUser(name));
      return;
    }
    options.notify("quitting without finishing the rollback");
    options.forceExit(EXIT_CODES.ABORTED);
  };
  const onInt = onSignal("SIGINT");
  const onTerm = onSignal("SIGTERM");
  options.signals.on("SIGINT", onInt);
  options.signals.on("SIGTERM", onTerm);
  return {
    signal: controller.signal,
    dispose: () => {
      options.signals.off("SIGINT", onInt);
      options.signals.off("SIGTERM", onTerm);
    },
  };
}

/**
 * Runs `work`; when it fails (cancelled, timed out or any error), runs `undo`, which removes what
 * the command made and lists it. The error is returned with `details.rolledBack` naming what was
 * removed, or `details.rollbackError` when the undo failed too. `undo` must not use the cancelled
 * signal: a cancelled command still cleans up.
 *
 * @example
 * ```ts
 * runWithRollback(() => copy(target, signal), () => removeFile(target).map(() => [target]));
 * ```
 */
export function runWithRollback<T>(work: () => ResultAsync<T, VolkitError>, undo: (error: VolkitError) => ResultAsync<readonly string[], VolkitError>): ResultAsync<T, VolkitError> {
  return work().orElse((error) =>
    undo(error)
      .orElse((undoError) => errAsync(withDetails(error, { rollbackError: `${undoError.code}: ${undoError.message}` })))
      .andThen((removed) => errAsync(withDetails(error, { rolledBack: [...removed] }))),
  );
}

/** The same error with more details. */
function withDetails(error: VolkitError, extra: Record<string, unknown>): VolkitError {
  const suffix = Array.isArray(extra.rolledBack)
    ? extra.rolledBack.length > 0
      ? `; rolled back: removed ${extra.rolledBack.join(", ")}`
      : "; rolled back: nothing to remove"
    : typeof extra.rollbackError === "string"
      ? `; ROLLBACK FAILED: ${extra.rollbackError}`
      : "";
  return new VolkitError(error.code, `${error.message}${suffix}`, {
    cause: error,
    transient: error.transient,
    details: { ...error.details, ...extra },
    ...(error.source === undefined ? {} : { source: error.source }),
  });
}
