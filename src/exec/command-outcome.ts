import { err, ok, type Result } from "neverthrow";
import { abortReasonToError } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type { StopCause } from "./cancellation.js";
import { commandFailed, redactArgv, type CommandOutput, type CommandSpec } from "./runner.js";

/**
 * The exit code a POSIX shell returns for a program it cannot find (and `env`, `nohup`, `timeout`
 * likewise). Remote commands run through a shell, so this is how the SSH runner learns of a missing
 * program; locally the runner usually sees `ENOENT` instead, but a root helper or a wrapper script
 * turns that into 127 too.
 */
export const EXIT_COMMAND_NOT_FOUND = 127;

/** How a command ended, as the runner observed it: the input of {@link commandOutcome}. */
export type CommandEnd =
  /** The program ran and exited with this code. */
  | { readonly kind: "exited"; readonly exitCode: number }
  /** The program was ended by this signal (`SIGTERM`…) that the runner did not send. */
  | { readonly kind: "signalled"; readonly signal: string }
  /** The program could not be started; `errno` is the spawn error code (`ENOENT`, `EACCES`…). */
  | { readonly kind: "not-started"; readonly errno: string }
  /** The runner stopped it (time limit or caller abort); see {@link createCommandStop}. */
  | { readonly kind: "stopped"; readonly cause: StopCause };

/** What a command wrote, and how long it took. */
export interface CommandStreams {
  /** Standard output (unredacted). */
  readonly stdout: string;
  /** Standard error (unredacted). */
  readonly stderr: string;
  /** Wall-clock duration in ms. */
  readonly durationMs: number;
}

/**
 * Maps how a command ended to its result, the same way for every runner (local, SSH, and any a
 * caller writes):
 *
 * | end | result |
 * |---|---|
 * | exit code listed in `okExitCodes` (default `[0]`) | ok |
 * | exit 127 (not listed) | `COMMAND_NOT_FOUND` (details as `COMMAND_FAILED`'s) |
 * | other exit code | `COMMAND_FAILED` (`details.exitCode`, redacted stderr/stdout) |
 * | killed by a signal the runner did not send | `COMMAND_FAILED` (`details.signal`) |
 * | not started, `ENOENT` | `COMMAND_NOT_FOUND` |
 * | not started, other errno | `COMMAND_FAILED` (`details.errno`) |
 * | stopped: time limit | `TIMEOUT` (transient, `details.timeoutMs`) |
 * | stopped: caller abort | `ABORTED`, or `TIMEOUT` for a deadline reason |
 *
 * Argv, stdout and stderr in errors are redacted with the spec's secrets and every registered one.
 *
 * @example
 * ```ts
 * commandOutcome(spec, { kind: "exited", exitCode: 3 }, { stdout: "", stderr: "no space", durationMs: 12 });
 * // err(COMMAND_FAILED "lvcreate exited with code 3: no space")
 * ```
 */
export function commandOutcome(spec: CommandSpec, end: CommandEnd, streams: CommandStreams): Result<CommandOutput, VolkitError> {
  const { stdout, stderr } = streams;
  switch (end.kind) {
    case "stopped":
      return err(stoppedError(spec, end.cause));
    case "not-started":
      return err(notStartedError(spec, end.errno));
    case "signalled":
      return err(commandFailed(spec, undefined, stderr, stdout, end.signal));
    case "exited": {
      const { exitCode } = end;
      if ((spec.okExitCodes ?? [0]).includes(exitCode)) return ok({ argv: spec.argv, exitCode, stdout, stderr, durationMs: streams.durationMs });
      const failed = commandFailed(spec, exitCode, stderr, stdout);
      if (exitCode !== EXIT_COMMAND_NOT_FOUND) return err(failed);
      const shown = redactArgv(spec.argv, spec.secrets);
      return err(new VolkitError("COMMAND_NOT_FOUND", `command not found: ${shown[0]}`, { source: "exec", details: failed.details }));
    }
  }
}

/**
 * The error of a command the runner stopped: `TIMEOUT` (transient) for its own time limit, else the
 * caller's abort reason mapped by `abortReasonToError` (`ABORTED`, or `TIMEOUT` for a deadline).
 * Also used when the stop came before the command started (waiting for a connection or a slot).
 */
export function stoppedError(spec: CommandSpec, cause: StopCause): VolkitError {
  const shown = redactArgv(spec.argv, spec.secrets);
  if (cause.kind === "timeout") {
    return new VolkitError("TIMEOUT", `${shown[0]} timed out after ${cause.timeoutMs} ms and was killed`, {
      source: "exec",
      details: { command: shown, timeoutMs: cause.timeoutMs },
      transient: true,
    });
  }
  const e = abortReasonToError(cause.reason, "exec");
  return new VolkitError(e.code, `${e.message} while running ${shown[0]}`, { source: "exec", cause: e.cause, details: { command: shown } });
}

function notStartedError(spec: CommandSpec, errno: string): VolkitError {
  const shown = redactArgv(spec.argv, spec.secrets);
  if (errno === "ENOENT") return new VolkitError("COMMAND_NOT_FOUND", `command not found: ${shown[0]}`, { source: "exec", details: { command: shown } });
  return new VolkitError("COMMAND_FAILED", `${shown[0]} could not be started (${errno})`, { source: "exec", details: { command: shown, errno } });
}
