import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../../../src/core/errors.js";
import { commandOutcome, stoppedError, type CommandEnd } from "../../../src/exec/command-outcome.js";
import type { CommandSpec } from "../../../src/exec/runner.js";

const SECRET = "s3cret-chap-value-7d1e";
const spec: CommandSpec = { argv: ["iscsiadm", "-m", "node", "--value", SECRET], secrets: [SECRET] };
const streams = { stdout: `out ${SECRET}\n`, stderr: `warning\nbad password ${SECRET}\n`, durationMs: 12.5 };
const shown = ["iscsiadm", "-m", "node", "--value", "***"];

describe("commandOutcome: one mapping for every runner", () => {
  it("an accepted exit code is ok with the output unredacted (callers need the data)", () => {
    const out = commandOutcome(spec, { kind: "exited", exitCode: 0 }, streams)._unsafeUnwrap();
    expect(out).toEqual({ argv: spec.argv, exitCode: 0, stdout: streams.stdout, stderr: streams.stderr, durationMs: 12.5 });
    const listed = commandOutcome({ ...spec, okExitCodes: [0, 21] }, { kind: "exited", exitCode: 21 }, streams)._unsafeUnwrap();
    expect(listed.exitCode).toBe(21);
  });

  const failures: ReadonlyArray<[string, CommandEnd, ErrorCode, string, Record<string, unknown>, boolean]> = [
    ["exit 3", { kind: "exited", exitCode: 3 }, "COMMAND_FAILED", "iscsiadm exited with code 3: bad password ***", { command: shown, exitCode: 3, stderr: "warning\nbad password ***", stdout: "out ***" }, false],
    ["exit 127", { kind: "exited", exitCode: 127 }, "COMMAND_NOT_FOUND", "command not found: iscsiadm", { command: shown, exitCode: 127, stderr: "warning\nbad password ***" }, false],
    ["exit 126", { kind: "exited", exitCode: 126 }, "COMMAND_FAILED", "iscsiadm exited with code 126: bad password ***", { exitCode: 126 }, false],
    ["a signal", { kind: "signalled", signal: "SIGSEGV" }, "COMMAND_FAILED", "iscsiadm was killed by SIGSEGV: bad password ***", { command: shown, signal: "SIGSEGV" }, false],
    ["ENOENT", { kind: "not-started", errno: "ENOENT" }, "COMMAND_NOT_FOUND", "command not found: iscsiadm", { command: shown }, false],
    ["EACCES", { kind: "not-started", errno: "EACCES" }, "COMMAND_FAILED", "iscsiadm could not be started (EACCES)", { command: shown, errno: "EACCES" }, false],
    ["its time limit", { kind: "stopped", cause: { kind: "timeout", timeoutMs: 400 } }, "TIMEOUT", "iscsiadm timed out after 400 ms and was killed", { command: shown, timeoutMs: 400 }, true],
    ["a caller abort", { kind: "stopped", cause: { kind: "abort", reason: new Error("stop") } }, "ABORTED", "operation aborted by caller while running iscsiadm", { command: shown }, false],
    [
      "a caller deadline",
      { kind: "stopped", cause: { kind: "abort", reason: new DOMException("late", "TimeoutError") } },
      "TIMEOUT",
      "operation deadline exceeded while running iscsiadm",
      { command: shown },
      false,
    ],
  ];

  it.each(failures)("%s → %s", (_what, end, code, message, details, transient) => {
    const e = commandOutcome(spec, end, streams)._unsafeUnwrapErr();
    expect(e.code).toBe(code);
    expect(e.source).toBe("exec");
    expect(e.message).toBe(message);
    expect(e.details).toMatchObject(details);
    expect(e.transient).toBe(transient);
    expect(JSON.stringify(e.toJSON()) + e.message + String(e.stack)).not.toContain(SECRET);
  });

  it("exit 127 listed in okExitCodes is ok", () => {
    expect(commandOutcome({ ...spec, okExitCodes: [127] }, { kind: "exited", exitCode: 127 }, streams)._unsafeUnwrap().exitCode).toBe(127);
  });

  it("a stop maps the same with or without output (it may come before the command started)", () => {
    const cause = { kind: "timeout", timeoutMs: 50 } as const;
    const direct = stoppedError(spec, cause);
    const mapped = commandOutcome(spec, { kind: "stopped", cause }, { stdout: "", stderr: "", durationMs: 0 })._unsafeUnwrapErr();
    expect(mapped.toJSON()).toEqual(direct.toJSON());
  });
});
