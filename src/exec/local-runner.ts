import { execa } from "execa";
import { ResultAsync, errAsync, ok } from "neverthrow";
import { abortReasonToError } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { MAX_TIMER_MS, isDelay } from "../core/timers.js";
import { createCommandStop } from "./cancellation.js";
import { commandOutcome, type CommandEnd } from "./command-outcome.js";
import { parseRootHelper, withRootHelper, type RootHelper } from "./root-helper.js";
import { checkCommandSpec, redactArgv, type CommandOutput, type CommandRunner, type CommandSpec } from "./runner.js";

/** Options for {@link createLocalRunner}. */
export interface LocalRunnerOptions {
  /**
   * Argv prepended to every command to gain privileges, e.g. `["sudo", "-n"]`: one of the helpers
   * {@link RootHelperSchema} allows (bare `sudo`/`doas` resolve to `/usr/bin/`). The prefix is
   * passed as separate arguments; nothing is ever joined into a shell string. With a helper, the
   * command's environment is set after it (`sudo -n env VAR=value cmd`), since sudo and doas reset
   * the environment they are given; the values are then visible in the process list, so pass
   * secrets on stdin.
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
 * A `rootHelper` that {@link RootHelperSchema} refuses (`["sh", "-c"]`, `["env", "LD_PRELOAD=…"]`,
 * `["sudo", "-s"]`…), or a `defaultTimeoutMs`/`killGraceMs` that is not a finite number of ms,
 * makes every `run` fail with `INVALID_CONFIG` without starting anything; use
 * {@link parseRootHelper} to learn it up front. A spec no process can receive (a NUL byte, a bad
 * environment name, a NaN time limit: see {@link checkCommandSpec}) fails with `INVALID_ARGUMENT`.
 *
 * @example
 * ```ts
 * const runner = createLocalRunner({ rootHelper: ["sudo", "-n"] });
 * const out = await runner.run({ argv: ["lvs", "--reportformat", "json"] });
 * ```
 */
export function createLocalRunner(options: LocalRunnerOptions = {}): CommandRunner {
  const helper = parseRootHelper(options.rootHelper === undefined ? [] : [...options.rootHelper]);
  if (helper.isErr()) {
    const refused = helper.error;
    return { description: "local (refused root helper)", run: () => errAsync(refused) };
  }
  const badTime = (["defaultTimeoutMs", "killGraceMs"] as const).find((k) => options[k] !== undefined && !(isDelay(options[k]) && options[k] <= (k === "killGraceMs" ? MAX_TIMER_MS : Number.MAX_SAFE_INTEGER)));
  if (badTime !== undefined) {
    const refused = new VolkitError("INVALID_CONFIG", `invalid local runner options: ${badTime} must be a number of milliseconds from 0 to ${badTime === "killGraceMs" ? MAX_TIMER_MS : Number.MAX_SAFE_INTEGER}`, { source: "exec" });
    return { description: "local (refused options)", run: () => errAsync(refused) };
  }
  const prefix = helper.value;
  const description = prefix.length ? `local via ${prefix.join(" ")}` : "local";
  return {
    description,
    run: (spec) => runLocal(spec, prefix, options),
  };
}

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

function runLocal(spec: CommandSpec, helper: RootHelper, options: LocalRunnerOptions): ResultAsync<CommandOutput, VolkitError> {
  const env = { ...options.env, ...spec.env };
  // Nothing starts for a spec no process can receive (Node would throw on a NUL byte).
  const checked = checkCommandSpec({ ...spec, env });
  if (checked.isErr()) return errAsync(checked.error);
  // Without a helper the environment goes to the child directly; with one, after it as well.
  const argv = helper.length ? withRootHelper(helper, env, spec.argv) : ok(spec.argv);
  if (argv.isErr()) return errAsync(argv.error);
  const [file, ...args] = argv.value;
  if (spec.signal?.aborted) {
    return errAsync(abortReasonToError(spec.signal.reason, "exec"));
  }
  const started = performance.now();
  const killGraceMs = options.killGraceMs ?? 2000;
  const child = execa(file, args, {
    reject: false,
    shell: false,
    stripFinalNewline: false,
    env,
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

  const stop = createCommandStop({ signal: spec.signal, timeoutMs: spec.timeoutMs ?? options.defaultTimeoutMs });
  const stopped = new Promise<void>((resolve) => {
    stop.signal.addEventListener(
      "abort",
      () => {
        killGroup(child.pid, "SIGTERM");
        const force = setTimeout(() => {
          killGroup(child.pid, "SIGKILL");
          if (child.pid !== undefined) liveGroups.delete(child.pid);
        }, killGraceMs);
        force.unref();
        resolve();
      },
      { once: true },
    );
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  // A command that ends by itself leaves the tracked set with its direct child; one we stopped
  // stays until its SIGKILL went out.
  void exited.then(() => {
    if (!stop.signal.aborted && child.pid !== undefined) liveGroups.delete(child.pid);
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
  const finished = Promise.race([Promise.resolve(child), stoppedThenExited]).finally(() => stop.dispose());

  return ResultAsync.fromPromise(finished, (e) => new VolkitError("INTERNAL", String(e), { source: "exec", cause: e })).andThen((res) => {
    const streams = { stdout: String(res?.stdout ?? ""), stderr: String(res?.stderr ?? ""), durationMs: performance.now() - started };
    const end = stop.cause === undefined ? (res === undefined ? undefined : endOf(res)) : ({ kind: "stopped", cause: stop.cause } as const);
    if (end === undefined) {
      const shown = redactArgv(spec.argv, spec.secrets);
      return errAsync(new VolkitError("INTERNAL", `${shown[0]} ended without a result`, { source: "exec", details: { command: shown } }));
    }
    return commandOutcome(spec, end, streams);
  });
}

/** The fields of execa's result that say how the child ended. */
interface ExecaEnd {
  readonly exitCode?: number | undefined;
  readonly signal?: string | undefined;
  readonly message?: string | undefined;
}

/** Reads how execa's result ended: an exit code, a signal, or a spawn error such as `ENOENT`. */
function endOf(res: ExecaEnd): CommandEnd {
  if (res.exitCode !== undefined) return { kind: "exited", exitCode: res.exitCode };
  if (res.signal !== undefined) return { kind: "signalled", signal: res.signal };
  const code = (res as { code?: unknown }).code;
  if (typeof code === "string") return { kind: "not-started", errno: code };
  return { kind: "not-started", errno: /\bENOENT\b/.test(String(res.message)) ? "ENOENT" : "unknown" };
}
