/**
 * The two abort races every command runner (and anything else that waits) needs, written once:
 * {@link createCommandStop} (one command's stop signal: the caller's signal or a timeout, whichever
 * comes first) and {@link raceAbort} (wait for a promise, but give up when a signal fires).
 */

import { setLongTimeout, type LongTimer } from "../core/timers.js";

/** Why a {@link CommandStop} fired. */
export type StopCause =
  /** The command's own time limit passed. */
  | { readonly kind: "timeout"; readonly timeoutMs: number }
  /** The caller's signal aborted, with this reason (a deadline reason still maps to `TIMEOUT`). */
  | { readonly kind: "abort"; readonly reason: unknown };

/** One command's cancellation: see {@link createCommandStop}. */
export interface CommandStop {
  /** Aborts when the caller's signal aborts or the time limit passes, whichever comes first. */
  readonly signal: AbortSignal;
  /** Why {@link CommandStop.signal} fired; `undefined` while it has not. */
  readonly cause: StopCause | undefined;
  /**
   * Unlinks from the caller's signal and clears the timer. Call it when the command has ended, so
   * a long-lived caller signal does not collect one listener per command. Idempotent.
   */
  dispose(): void;
}

/** Inputs of {@link createCommandStop}. */
export interface CommandStopOptions {
  /** The caller's signal (an operation's `ctx.signal`); followed, never aborted by the stop. */
  readonly signal?: AbortSignal | undefined;
  /** Time limit in ms; none when undefined. */
  readonly timeoutMs?: number | undefined;
}

/**
 * A signal for one command that fires on the caller's abort or after `timeoutMs`, and remembers
 * which came first. A caller signal that is already aborted stops it at once.
 *
 * The abort reason of a timeout is a `TimeoutError` `DOMException`, so code that maps reasons with
 * `abortReasonToError` reports `TIMEOUT` for it too. The timer is unref'd: the command (a child
 * process, a socket) is what keeps the process alive, not its time limit.
 *
 * @example
 * ```ts
 * const stop = createCommandStop({ signal: spec.signal, timeoutMs: 30_000 });
 * stop.signal.addEventListener("abort", () => child.kill(), { once: true });
 * try { await exited; } finally { stop.dispose(); }
 * if (stop.cause?.kind === "timeout") ...
 * ```
 */
export function createCommandStop(options: CommandStopOptions): CommandStop {
  const controller = new AbortController();
  let cause: StopCause | undefined;
  const fire = (why: StopCause, reason: unknown): void => {
    if (cause !== undefined) return;
    cause = why;
    controller.abort(reason);
  };
  const caller = options.signal;
  const onCallerAbort = (): void => fire({ kind: "abort", reason: caller?.reason }, caller?.reason);
  let timer: LongTimer | undefined;
  if (caller?.aborted) onCallerAbort();
  else {
    caller?.addEventListener("abort", onCallerAbort, { once: true });
    const ms = options.timeoutMs;
    if (ms !== undefined) {
      // Any length (a copy bounded by a deadline weeks away); runners refuse NaN and negative limits first.
      timer = setLongTimeout(() => fire({ kind: "timeout", timeoutMs: ms }, new DOMException(`command time limit of ${ms} ms reached`, "TimeoutError")), ms);
    }
  }
  return {
    signal: controller.signal,
    get cause() {
      return cause;
    },
    dispose: () => {
      timer?.clear();
      caller?.removeEventListener("abort", onCallerAbort);
    },
  };
}

export { raceAbort, type Raced } from "../core/abort.js";
