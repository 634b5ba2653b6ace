import { execa } from "execa";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { abortReasonToError } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { commandFailed, redactArgv, type Argv, type CommandOutput, type CommandRunner, type CommandSpec } from "./runner.js";

/** Options for {@link createLocalRunner}. */
export interface LocalRunnerOptions {
  /**
   * Argv prepended to every command to gain privileges, e.g. `["sudo", "-n"]`. The prefix is
   * passed as separate arguments; nothing is ever joined into a shell string.
   */
  readonly rootHelper?: readonly string[];
  /** Environment applied to every command (before the per-command `env`). */
  readonly env?: Readonly<Record<string, string>>;
  /** Default timeout for commands that set none (ms). */
  readonly defaultTimeoutMs?: number;
  /** Grace period between SIGTERM and SIGKILL when a command is cancelled (ms, default 2000). */
  readonly killGraceMs?: number;
}

/**
 * Runs commands on this host with execa: no shell, the child killed (TERM, then KILL) on timeout
 * or abort.
 *
 * @example
 * ```ts
 * const runner = createLocalRunner({ rootHelper: ["sudo", "-n"] });
 * const out = await runner.run({ argv: ["lvs", "--reportformat", "json"] });
 * ```
 */
export function createLocalRunner(options: LocalRunnerOptions = {}): CommandRunner {
  const prefix = options.rootHelper ?? [];
  const description = prefix.length ? `local via ${prefix.join(" ")}` : "local";
  return {
    description,
    run: (spec) => runLocal(spec, prefix, options),
  };
}

function runLocal(spec: CommandSpec, prefix: readonly string[], options: LocalRunnerOptions): ResultAsync<CommandOutput, VolkitError> {
  const argv = [...prefix, ...spec.argv] as unknown as Argv;
  const [file, ...args] = argv;
  if (spec.signal?.aborted) {
    return errAsync(abortReasonToError(spec.signal.reason, "exec"));
  }
  const started = performance.now();
  const timeoutMs = spec.timeoutMs ?? options.defaultTimeoutMs;
  const child = execa(file, args, {
    reject: false,
    shell: false,
    stripFinalNewline: false,
    env: { ...options.env, ...spec.env },
    extendEnv: true,
    ...(spec.stdin === undefined ? { stdin: "ignore" as const } : { input: spec.stdin }),
    ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
    ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
    ...(spec.signal === undefined ? {} : { cancelSignal: spec.signal }),
    forceKillAfterDelay: options.killGraceMs ?? 2000,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (spec.onStderr) child.stderr?.on("data", (b: Buffer) => spec.onStderr?.(b.toString("utf8")));
  if (spec.onStdout) child.stdout?.on("data", (b: Buffer) => spec.onStdout?.(b.toString("utf8")));
  return ResultAsync.fromPromise(child, (e) => new VolkitError("INTERNAL", String(e), { source: "exec", cause: e })).andThen((res) => {
    const durationMs = performance.now() - started;
    const stdout = String(res.stdout ?? "");
    const stderr = String(res.stderr ?? "");
    const shown = redactArgv(spec.argv, spec.secrets);
    if (res.isCanceled) {
      const e = abortReasonToError(spec.signal?.reason, "exec");
      return errAsync(new VolkitError(e.code, `${e.message} while running ${shown[0]}`, { source: "exec", cause: e.cause, details: { command: shown } }));
    }
    if (res.timedOut) {
      return errAsync(new VolkitError("TIMEOUT", `${shown[0]} timed out after ${timeoutMs} ms and was killed`, {
        source: "exec",
        details: { command: shown, timeoutMs },
        transient: true,
      }));
    }
    const code = (res as { code?: string }).code;
    if (code === "ENOENT" || (res.failed && res.exitCode === undefined && /ENOENT/.test(String(res.message)))) {
      return errAsync(new VolkitError("COMMAND_NOT_FOUND", `command not found: ${shown[0]}`, { source: "exec", details: { command: shown } }));
    }
    const ok = spec.okExitCodes ?? [0];
    if (res.exitCode !== undefined && ok.includes(res.exitCode)) {
      return okAsync({ argv: spec.argv, exitCode: res.exitCode, stdout, stderr, durationMs });
    }
    return errAsync(commandFailed(spec, res.exitCode, stderr, stdout, res.signal));
  });
}
