/**
 * Every way a command can end badly, injected at one command of an operation (the "chaos runner"):
 * the secret-leak tests run an operation once cleanly to count its commands, then once per command
 * and failure mode, and look for the planted secret everywhere the failure is reported.
 */
import { ResultAsync, errAsync, type Result } from "neverthrow";
import { VolkitError } from "../../../src/core/errors.js";
import { commandOutcome, stoppedError } from "../../../src/exec/command-outcome.js";
import type { CommandOutput, CommandRunner, CommandSpec } from "../../../src/exec/runner.js";

/** Where the secret may show up in a failing command's output. */
export type Echo = "both" | "stdout" | "none";

/** One way a command ends badly. */
export interface FailureMode {
  readonly label: string;
  /** The command's outcome, echoing `secret` in its output as `echo` says; may abort `caller`. */
  readonly run: (spec: CommandSpec, secret: string, echo: Echo, caller: AbortController) => ResultAsync<CommandOutput, VolkitError>;
}

function streams(secret: string, echo: Echo, stdout = ""): { stdout: string; stderr: string; durationMs: number } {
  return {
    stdout: echo === "none" ? stdout : `${stdout}partial output ${secret}\n`,
    stderr: echo === "both" ? `error: refused near '${secret}'\n` : "",
    durationMs: 1,
  };
}

const outcome = (r: Result<CommandOutput, VolkitError>): ResultAsync<CommandOutput, VolkitError> => (r.isOk() ? new ResultAsync(Promise.resolve(r)) : errAsync(r.error));

/** The failure modes of the FakeRunner world, as real runners report them (`commandOutcome`). */
export const FAILURE_MODES: readonly FailureMode[] = [
  { label: "exit 1 echoing the secret", run: (spec, s, e) => outcome(commandOutcome(spec, { kind: "exited", exitCode: 1 }, streams(s, e))) },
  { label: "exit 5 echoing the secret", run: (spec, s, e) => outcome(commandOutcome(spec, { kind: "exited", exitCode: 5 }, streams(s, e))) },
  {
    label: "exit 0 with garbage quoting the secret",
    run: (spec, s, e) => outcome(commandOutcome(spec, { kind: "exited", exitCode: 0 }, { ...streams(s, e), stdout: e === "none" ? "garbage" : `{"chap_password": "${s}", "targets": [ x` })),
  },
  { label: "killed by a signal", run: (spec, s, e) => outcome(commandOutcome(spec, { kind: "signalled", signal: "SIGKILL" }, streams(s, e))) },
  { label: "command not found (127)", run: (spec, s, e) => outcome(commandOutcome(spec, { kind: "exited", exitCode: 127 }, streams(s, e))) },
  { label: "spawn failure ENOENT", run: (spec, s, e) => outcome(commandOutcome(spec, { kind: "not-started", errno: "ENOENT" }, streams(s, e))) },
  { label: "spawn failure EACCES", run: (spec, s, e) => outcome(commandOutcome(spec, { kind: "not-started", errno: "EACCES" }, streams(s, e))) },
  { label: "its time limit", run: (spec) => errAsync(stoppedError(spec, { kind: "timeout", timeoutMs: 1000 })) },
  {
    label: "the caller aborts",
    run: (spec, _s, _e, caller) => {
      caller.abort(new Error("caller gave up"));
      return errAsync(stoppedError(spec, { kind: "abort", reason: caller.signal.reason }));
    },
  },
  {
    label: "the deadline passes",
    run: (spec, _s, _e, caller) => {
      caller.abort(new DOMException("deadline", "TimeoutError"));
      return errAsync(stoppedError(spec, { kind: "abort", reason: caller.signal.reason }));
    },
  },
  {
    label: "a runner that throws quoting the secret",
    run: (_spec, s, e) => {
      throw new Error(`runner bug near ${e === "both" ? s : "x"}`);
    },
  },
  {
    label: "a runner whose promise rejects quoting the secret",
    run: (_spec, s, e) => new ResultAsync(Promise.reject(new TypeError(`runner bug near ${e === "both" ? s : "x"}`))),
  },
];

/** Wraps a world's runner: command number `failAt` ends as `mode` says; the others run normally. */
export class ChaosRunner implements CommandRunner {
  readonly description = "chaos";
  /** Commands seen so far. */
  count = 0;

  constructor(
    private readonly inner: CommandRunner,
    private readonly failAt: number | undefined,
    private readonly mode: FailureMode | undefined,
    private readonly secret: string,
    private readonly caller: AbortController,
    private readonly echoAt: (index: number, spec: CommandSpec) => Echo = () => "both",
  ) {}

  run(spec: CommandSpec): ResultAsync<CommandOutput, VolkitError> {
    const index = this.count++;
    if (this.mode === undefined || index !== this.failAt) return this.inner.run(spec);
    return this.mode.run(spec, this.secret, this.echoAt(index, spec), this.caller);
  }
}

/** A random secret no call registered yet (for secrets that only a file the library reads holds). */
export function freshSecret(prefix: string): string {
  return `${prefix}${Math.random().toString(36).slice(2, 10)}${Math.random().toString(36).slice(2, 10)}`.replace(/[^A-Za-z0-9]/g, "x");
}

/** A volkit error for connectors and flows to fail with (its message quoting a registered secret). */
export function failureQuoting(secret: string): VolkitError {
  return new VolkitError("COMMAND_FAILED", `iscsiadm said ${secret}`, { source: "test", details: { stderr: `near ${secret}` } });
}
