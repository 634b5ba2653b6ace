import type { ResultAsync } from "neverthrow";
import { err, ok, type Result } from "neverthrow";
import { VolkitError } from "../core/errors.js";
import { redactText } from "../core/secrets.js";
import { isDelay } from "../core/timers.js";

/** A non-empty argv: the program followed by its arguments. Never a shell string. */
export type Argv = readonly [string, ...string[]];

/** One command to run. */
export interface CommandSpec {
  /** Program and arguments. Each element reaches the program as one argument, unmodified. */
  readonly argv: Argv;
  /** Extra environment variables (merged over the runner's environment). */
  readonly env?: Readonly<Record<string, string>>;
  /** Data written to the child's standard input. */
  readonly stdin?: string | Uint8Array;
  /** Kill the child after this many milliseconds (`TIMEOUT`). */
  readonly timeoutMs?: number;
  /** Kill the child when aborted (`ABORTED`, or `TIMEOUT` for deadline reasons). */
  readonly signal?: AbortSignal;
  /** Exit codes that count as success (default `[0]`). */
  readonly okExitCodes?: readonly number[];
  /** Values to redact from argv, stdout and stderr in errors and logs (e.g. a CHAP secret in argv). */
  readonly secrets?: readonly string[];
  /**
   * Standard output holds secrets not known yet (a file of passwords being read): a failed
   * command's error then never includes it, not even redacted.
   */
  readonly secretOutput?: boolean;
  /** Working directory. */
  readonly cwd?: string;
  /** Called with each chunk of stderr as it arrives (progress parsing). */
  readonly onStderr?: (chunk: string) => void;
  /** Called with each chunk of stdout as it arrives. */
  readonly onStdout?: (chunk: string) => void;
}

/** What a finished command produced. */
export interface CommandOutput {
  /** The argv that ran (not redacted: callers must not log it without {@link redactArgv}). */
  readonly argv: Argv;
  /** Exit code (one of the accepted codes). */
  readonly exitCode: number;
  /** Standard output. */
  readonly stdout: string;
  /** Standard error. */
  readonly stderr: string;
  /** Wall-clock duration. */
  readonly durationMs: number;
}

/**
 * Runs commands. Every process volkit starts goes through one of these, so a caller can run
 * everything locally, through a root helper (`sudo -n`), over SSH, or against a scripted fake.
 *
 * Failures: `COMMAND_FAILED` (exit code not accepted), `COMMAND_NOT_FOUND` (the program does not
 * exist, or exit code 127), `TIMEOUT`, `ABORTED`. The built-in runners map how a command ended to
 * these with one function (src/exec/command-outcome.ts), so they report the same error for the
 * same end.
 */
export interface CommandRunner {
  /** Human-readable description (`local`, `ssh root@host`), used in logs. */
  readonly description: string;
  /** Runs one command. */
  run(spec: CommandSpec): ResultAsync<CommandOutput, VolkitError>;
}

/** Redacts secrets from an argv for logs and errors. */
export function redactArgv(argv: readonly string[], secrets: readonly string[] = []): string[] {
  return argv.map((a) => redactText(a, secrets));
}

/** A valid environment variable name (what `env NAME=value` and POSIX shells accept). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * What every runner checks before it starts anything (`INVALID_ARGUMENT` naming the field, never
 * the value, which may be a secret): a program name; argv elements, environment values and the
 * working directory without NUL bytes (no process can receive one: Node throws, or the spawn
 * fails); environment names a shell accepts (`A=B` would set `A`); an absolute working directory;
 * a time limit that is a number of ms ≥ 0 (NaN or a negative limit would kill the command at once).
 *
 * @example
 * ```ts
 * checkCommandSpec({ argv: ["echo", "a\0b"] }); // err(INVALID_ARGUMENT "argv[1] contains a NUL byte…")
 * ```
 */
export function checkCommandSpec(spec: CommandSpec): Result<void, VolkitError> {
  const bad = (what: string): Result<never, VolkitError> => err(new VolkitError("INVALID_ARGUMENT", `invalid command: ${what}`, { source: "exec" }));
  const argv: readonly unknown[] = Array.isArray(spec.argv) ? spec.argv : [];
  if (argv.length === 0 || typeof argv[0] !== "string" || argv[0] === "") return bad("argv[0] must name a program");
  for (const [i, a] of argv.entries()) {
    if (typeof a !== "string") return bad(`argv[${i}] is not a string`);
    if (a.includes("\0")) return bad(`argv[${i}] contains a NUL byte, which no command can receive`);
  }
  for (const [i, [name, value]] of Object.entries(spec.env ?? {}).entries()) {
    // Neither a bad name nor a value is echoed: `PASSWORD=…` typed as a name would be a secret.
    if (!ENV_NAME.test(name)) return bad(`environment variable #${i + 1} has a name that is not [A-Za-z_][A-Za-z0-9_]*`);
    if (typeof value !== "string" || value.includes("\0")) return bad(`environment variable ${name} is not a string without NUL bytes`);
  }
  if (spec.cwd !== undefined && (typeof spec.cwd !== "string" || !spec.cwd.startsWith("/") || spec.cwd.includes("\0"))) return bad("cwd must be an absolute path without NUL bytes");
  if (spec.timeoutMs !== undefined && !isDelay(spec.timeoutMs)) return bad("timeoutMs must be a number of milliseconds, 0 or more");
  return ok(undefined);
}

const STDERR_LIMIT = 2000;

/** Builds the `COMMAND_FAILED` error for a command that exited with an unaccepted code. */
export function commandFailed(
  spec: CommandSpec,
  exitCode: number | undefined,
  stderr: string,
  stdout = "",
  signal?: string,
): VolkitError {
  const secrets = spec.secrets ?? [];
  const argv = redactArgv(spec.argv, secrets);
  const cleanErr = redactText(stderr.trim(), secrets).slice(-STDERR_LIMIT);
  // The last non-empty line is the useful one: lvm and iscsiadm print warnings first, the error last.
  const lastLine = cleanErr.split("\n").filter((line) => line.trim() !== "").pop() ?? "";
  const how = exitCode === undefined ? `was killed by ${signal ?? "a signal"}` : `exited with code ${exitCode}`;
  return new VolkitError("COMMAND_FAILED", `${argv[0]} ${how}${lastLine ? `: ${lastLine.trim()}` : ""}`, {
    source: "exec",
    details: {
      command: argv,
      ...(exitCode === undefined ? {} : { exitCode }),
      ...(signal === undefined ? {} : { signal }),
      stderr: cleanErr,
      ...(stdout && spec.secretOutput !== true ? { stdout: redactText(stdout.trim(), secrets).slice(-STDERR_LIMIT) } : {}),
    },
  });
}

/** The exit code of a `COMMAND_FAILED` error, if it has one. */
export function exitCodeOf(error: VolkitError): number | undefined {
  return typeof error.details.exitCode === "number" ? error.details.exitCode : undefined;
}
