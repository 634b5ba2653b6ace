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
 * Runs commands on this host with execa: no shell. Each command runs in a process group of its
 * own, and on timeout or abort the whole group is killed (TERM, then KILL after `killGraceMs`), so
 * a grandchild (`sh -c 'sleep 60; echo done'`) neither outlives the command nor keeps the result
 * waiting on the output pipes it holds.
 *
 * A command in its own group does not receive the terminal's Ctrl-C; cancel it through the
 * operation's signal (which kills the group) instead.
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

/** Why the runner stopped a command itself. */
type Stop = { readonly kind: "timeout" } | { readonly kind: "abort"; readonly reason: unknown };

/** Signals every process of the group led by `pid`; a group already gone is fine. */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the whole group has exited.
  }
}

/**
 * Groups of commands still running. execa's own `cleanup` (kill the child when this process
 * exits) does not apply to detached children, so the runner does it: on exit every group still
 * running gets SIGTERM, as execa's cleanup would have sent to the child.
 */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function trackGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  liveGroups.add(pid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const group of liveGroups) killGroup(group, "SIGTERM");
    });
  }
}

function runLocal(spec: CommandSpec, prefix: readonly string[], options: LocalRunnerOptions): ResultAsync<CommandOutput, VolkitError> {
  const argv = [...prefix, ...spec.argv] as unknown as Argv;
  const [file, ...args] = argv;
  if (spec.signal?.aborted) {
    return errAsync(abortReasonToError(spec.signal.reason, "exec"));
  }
  const started = performance.now();
  const timeoutMs = spec.timeoutMs ?? options.defaultTimeoutMs;
  const killGraceMs = options.killGraceMs ?? 2000;
  const child = execa(file, args, {
    reject: false,
    shell: false,
    stripFinalNewline: false,
    env: { ...options.env, ...spec.env },
    extendEnv: true,
    // Own process group (setsid), so timeout and abort can kill grandchildren too; the timeout and
    // the abort are handled below rather than by execa, which would only kill the direct child.
    detached: true,
    ...(spec.stdin === undefined ? { stdin: "ignore" as const } : { input: spec.stdin }),
    ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  trackGroup(child.pid);
  if (spec.onStderr) child.stderr?.on("data", (b: Buffer) => spec.onStderr?.(b.toString("utf8")));
  if (spec.onStdout) child.stdout?.on("data", (b: Buffer) => spec.onStdout?.(b.toString("utf8")));

  let stop: Stop | undefined;
  let markStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (markStopped = resolve));
  const halt = (why: Stop): void => {
    if (stop) return;
    stop = why;
    killGroup(child.pid, "SIGTERM");
    const force = setTimeout(() => {
      killGroup(child.pid, "SIGKILL");
      if (child.pid !== undefined) liveGroups.delete(child.pid);
    }, killGraceMs);
    force.unref();
    markStopped();
  };
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => halt({ kind: "timeout" }), timeoutMs);
  timer?.unref(); // the child itself keeps the process alive while it runs
  const onAbort = (): void => halt({ kind: "abort", reason: spec.signal?.reason });
  spec.signal?.addEventListener("abort", onAbort, { once: true });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  // A command that ends by itself leaves the tracked set with its direct child; one we stopped
  // stays until its SIGKILL went out.
  void exited.then(() => {
    if (!stop && child.pid !== undefined) liveGroups.delete(child.pid);
  });
  // Once we stopped the command, its direct child's exit ends the wait: a process that escaped the
  // group may still hold the pipes, and must not delay the TIMEOUT/ABORTED result.
  const stoppedThenExited = stopped
    .then(() => exited)
    .then(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      return undefined;
    });
  const finished = Promise.race([Promise.resolve(child), stoppedThenExited]).finally(() => {
    if (timer) clearTimeout(timer);
    spec.signal?.removeEventListener("abort", onAbort);
  });

  return ResultAsync.fromPromise(finished, (e) => new VolkitError("INTERNAL", String(e), { source: "exec", cause: e })).andThen((res) => {
    const durationMs = performance.now() - started;
    const shown = redactArgv(spec.argv, spec.secrets);
    if (stop?.kind === "abort") {
      const e = abortReasonToError(stop.reason, "exec");
      return errAsync(new VolkitError(e.code, `${e.message} while running ${shown[0]}`, { source: "exec", cause: e.cause, details: { command: shown } }));
    }
    if (stop?.kind === "timeout") {
      return errAsync(new VolkitError("TIMEOUT", `${shown[0]} timed out after ${timeoutMs} ms and was killed`, {
        source: "exec",
        details: { command: shown, timeoutMs },
        transient: true,
      }));
    }
    if (res === undefined) return errAsync(new VolkitError("INTERNAL", `${shown[0]} ended without a result`, { source: "exec", details: { command: shown } }));
    const stdout = String(res.stdout ?? "");
    const stderr = String(res.stderr ?? "");
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
