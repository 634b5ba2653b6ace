import { ResultAsync, err } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { guardResult } from "../core/operation.js";
import { createCommandStop } from "../exec/cancellation.js";
import { redactArgv, type CommandOutput, type CommandRunner, type CommandSpec } from "../exec/runner.js";

/** Extra time granted after a timeout for the runner to kill the child and report. */
const DEFAULT_GRACE_MS = 5000;

/**
 * Runs a command that may touch an NFS mount with a hard upper bound on how long the caller waits.
 *
 * The child gets `timeoutMs` (capped by the operation's deadline) through both the runner's
 * timeout and an abort signal, so it is killed (TERM, then KILL) when it hangs on a dead server.
 * Should the runner itself not return — a child stuck in uninterruptible sleep never exits — a
 * watchdog answers `TIMEOUT` after a further `graceMs` (`details.stuck = true`) and the caller
 * moves on. A command ended by this bound fails with `TIMEOUT` (`transient`, `details.timeoutMs`);
 * one ended by the operation's own signal fails with the operation's `TIMEOUT`/`ABORTED`.
 *
 * @example
 * ```ts
 * const out = await runBounded(runner, { argv: ["stat", "-f", "-c", "%S %b %a", mountPoint] }, ctx, 10_000);
 * ```
 */
export function runBounded(
  runner: CommandRunner,
  spec: Omit<CommandSpec, "signal" | "timeoutMs">,
  ctx: OperationContext,
  timeoutMs: number,
  graceMs = DEFAULT_GRACE_MS,
): ResultAsync<CommandOutput, VolkitError> {
  const remaining = ctx.remainingMs();
  const limit = Math.max(1, remaining === undefined ? timeoutMs : Math.min(timeoutMs, remaining));
  // One stop for this command: the operation's signal or the bound, whichever comes first; undone
  // when the command ends (no listener left on a long-lived signal).
  const stop = createCommandStop({ signal: ctx.signal, timeoutMs: limit });
  const shown = redactArgv(spec.argv, spec.secrets);
  const boundError = (stuck: boolean): VolkitError =>
    new VolkitError("TIMEOUT", `${shown.join(" ")} did not finish within ${limit} ms${stuck ? " and could not be killed" : " and was killed"}`, {
      source: "exec",
      transient: true,
      details: { command: shown, timeoutMs: limit, ...(stuck ? { stuck: true } : {}) },
    });
  // guardResult: a runner that throws or whose promise rejects (a bug) answers INTERNAL at once
  // instead of leaving the caller to the watchdog's misleading "could not be killed".
  const mapped = guardResult(() => runner.run({ ...spec, signal: stop.signal, timeoutMs: limit }), "exec").mapErr((e) => {
    if (ctx.signal.aborted) return ctx.abortError() ?? e;
    if (stop.cause?.kind === "timeout" && (e.code === "TIMEOUT" || e.code === "ABORTED")) return boundError(false);
    return e;
  });
  return new ResultAsync(
    new Promise((resolve) => {
      let settled = false;
      const finish = (value: Awaited<typeof mapped>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        stop.dispose();
        resolve(value);
      };
      // A child in uninterruptible sleep never exits: answer anyway after the grace time.
      const watchdog = setTimeout(() => finish(err(ctx.abortError() ?? boundError(true))), limit + graceMs);
      watchdog.unref();
      void mapped.then(finish);
    }),
  );
}
