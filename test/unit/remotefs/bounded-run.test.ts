import { ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { createOperationContext } from "../../../src/core/context.js";
import type { VolkitError } from "../../../src/core/errors.js";
import type { CommandOutput, CommandRunner } from "../../../src/exec/runner.js";
import { runBounded } from "../../../src/remotefs/bounded-run.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";

const ctx = (options: { deadlineMs?: number; signal?: AbortSignal } = {}) =>
  createOperationContext({
    operation: "test",
    source: "test",
    ...(options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });

describe("runBounded", () => {
  it("passes the output through and gives the runner the bound as timeout and signal", async () => {
    const runner = new FakeRunner().on(["stat"], { stdout: "4096 1 1\n" });
    const out = (await runBounded(runner, { argv: ["stat", "-f", "/x"] }, ctx(), 5000))._unsafeUnwrap();
    expect(out.stdout).toBe("4096 1 1\n");
    expect(runner.calls[0]?.timeoutMs).toBe(5000);
    expect(runner.calls[0]?.signal?.aborted).toBe(false);
  });

  it("kills a hanging command at the bound with a transient TIMEOUT", async () => {
    const runner = new FakeRunner().on(["stat"], { delayMs: 60_000 });
    const started = performance.now();
    const e = (await runBounded(runner, { argv: ["stat", "-f", "/x"] }, ctx(), 100))._unsafeUnwrapErr();
    expect(e.code).toBe("TIMEOUT");
    expect(e.transient).toBe(true);
    expect(e.details.timeoutMs).toBe(100);
    expect(e.message).toContain("was killed");
    expect(performance.now() - started).toBeLessThan(1000);
    expect(runner.calls[0]?.signal?.aborted).toBe(true);
  });

  it("caps the bound by the operation's deadline and then reports the operation's TIMEOUT", async () => {
    const runner = new FakeRunner().on(["stat"], { delayMs: 60_000 });
    const e = (await runBounded(runner, { argv: ["stat", "-f", "/x"] }, ctx({ deadlineMs: 100 }), 60_000))._unsafeUnwrapErr();
    expect(e.code).toBe("TIMEOUT");
    expect(runner.calls[0]?.timeoutMs).toBeLessThanOrEqual(100);
  });

  it("reports ABORTED when the caller cancels", async () => {
    const runner = new FakeRunner().on(["stat"], { delayMs: 60_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const e = (await runBounded(runner, { argv: ["stat", "-f", "/x"] }, ctx({ signal: ac.signal }), 60_000))._unsafeUnwrapErr();
    expect(e.code).toBe("ABORTED");
  });

  it("answers even when the runner never returns (a child stuck in uninterruptible sleep)", async () => {
    const stuck: CommandRunner = {
      description: "stuck",
      run: () => new ResultAsync<CommandOutput, VolkitError>(new Promise(() => undefined)),
    };
    const started = performance.now();
    const e = (await runBounded(stuck, { argv: ["stat", "-f", "/x"] }, ctx(), 50, 50))._unsafeUnwrapErr();
    expect(e.code).toBe("TIMEOUT");
    expect(e.details.stuck).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  // Found by the planted-secret suite: a rejected promise was never observed, so the caller waited
  // for the watchdog (bound + grace, 20 s by default) and was told the child "could not be killed".
  it.each([
    ["whose promise rejects", () => new ResultAsync<CommandOutput, VolkitError>(Promise.reject(new TypeError("runner bug")))],
    [
      "that throws",
      () => {
        throw new TypeError("runner bug");
      },
    ],
  ] as const)("answers INTERNAL at once for a runner %s", async (_label, run) => {
    const broken: CommandRunner = { description: "broken", run };
    const started = performance.now();
    const e = (await runBounded(broken, { argv: ["test", "-d", "/x"] }, ctx(), 5_000, 5_000))._unsafeUnwrapErr();
    expect(e.code).toBe("INTERNAL");
    expect(e.message).toMatch(/runner bug/);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
