import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { createLocalRunner } from "../../../src/exec/local-runner.js";
import { pgrepExact, uniqueSeconds, waitFor } from "../../process-probes.js";

/** Processes these tests started on purpose outside the command's group; killed by pid at the end. */
const escaped: number[] = [];
afterAll(() => {
  for (const pid of escaped) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

describe("local runner: timeout and abort kill the whole process group", () => {
  it("a grandchild holding the output pipes: TIMEOUT comes promptly and the grandchild is killed", { timeout: 20_000 }, async () => {
    const seconds = uniqueSeconds(6);
    const runner = createLocalRunner();
    const t0 = Date.now();
    const e = (await runner.run({ argv: ["sh", "-c", `sleep ${seconds}; echo done`], timeoutMs: 600 }))._unsafeUnwrapErr();
    const elapsed = Date.now() - t0;
    expect(e.code).toBe("TIMEOUT");
    expect(e.details).toMatchObject({ command: ["sh", "-c", `sleep ${seconds}; echo done`], timeoutMs: 600 });
    expect(elapsed).toBeGreaterThanOrEqual(590);
    expect(elapsed).toBeLessThan(Number(seconds) * 1000 - 30_000); // not when the grandchild would have finished
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 0, 3000)).toBe(true);
  });

  it("abort: ABORTED promptly and the grandchild is killed", { timeout: 20_000 }, async () => {
    const seconds = uniqueSeconds(6);
    const ac = new AbortController();
    const pending = createLocalRunner().run({ argv: ["sh", "-c", `sleep ${seconds}; echo done`], signal: ac.signal });
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 1, 5000)).toBe(true);
    const t0 = Date.now();
    ac.abort();
    const e = (await pending)._unsafeUnwrapErr();
    expect(e.code).toBe("ABORTED");
    expect(e.message).toBe("operation aborted by caller while running sh");
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 0, 3000)).toBe(true);
  });

  it("a deadline reason on the signal maps to TIMEOUT, and the group is killed", { timeout: 20_000 }, async () => {
    const seconds = uniqueSeconds(6);
    const e = (await createLocalRunner().run({ argv: ["sh", "-c", `sleep ${seconds}; echo done`], signal: AbortSignal.timeout(400) }))._unsafeUnwrapErr();
    expect(e.code).toBe("TIMEOUT");
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 0, 3000)).toBe(true);
  });

  it("members that ignore SIGTERM are SIGKILLed after killGraceMs", { timeout: 20_000 }, async () => {
    const seconds = uniqueSeconds(6);
    // `trap '' TERM` is inherited by the sleep too: only SIGKILL ends them.
    const runner = createLocalRunner({ killGraceMs: 300 });
    const t0 = Date.now();
    const e = (await runner.run({ argv: ["sh", "-c", `trap '' TERM; sleep ${seconds}; echo done`], timeoutMs: 300 }))._unsafeUnwrapErr();
    expect(e.code).toBe("TIMEOUT");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(590); // waited for the grace period
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 0, 3000)).toBe(true);
  });

  it("a process that left the group and keeps the pipes open does not delay the TIMEOUT", { timeout: 20_000 }, async () => {
    const seconds = uniqueSeconds(6);
    let stdout = "";
    const t0 = Date.now();
    const e = (
      await createLocalRunner({ killGraceMs: 200 }).run({
        argv: ["sh", "-c", `setsid sleep ${seconds} & echo "$!"; sleep ${seconds}`],
        timeoutMs: 500,
        onStdout: (chunk) => (stdout += chunk),
      })
    )._unsafeUnwrapErr();
    escaped.push(...stdout.split("\n").filter(Boolean).map(Number));
    expect(e.code).toBe("TIMEOUT");
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(escaped.length).toBe(1);
  });

  it("a command that finishes normally is unaffected: output, exit code, stdin", async () => {
    const runner = createLocalRunner();
    expect((await runner.run({ argv: ["sh", "-c", "cat; echo err >&2; exit 3"], stdin: "in\n", okExitCodes: [3], timeoutMs: 5000 }))._unsafeUnwrap()).toMatchObject({
      exitCode: 3,
      stdout: "in\n",
      stderr: "err\n",
    });
  });
});

describe("local runner: commands do not outlive the process that started them", () => {
  it("a command still running when this process exits is terminated, as execa's cleanup did before detaching", { timeout: 30_000 }, async () => {
    const seconds = uniqueSeconds(6);
    const runnerModule = new URL("../../../src/exec/local-runner.ts", import.meta.url).href;
    const script = `import { createLocalRunner } from ${JSON.stringify(runnerModule)};
void createLocalRunner().run({ argv: ["sleep", ${JSON.stringify(seconds)}] });
setTimeout(() => process.exit(0), 300);
`;
    execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: new URL("../../..", import.meta.url), stdio: "ignore", timeout: 20_000 });
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 0, 3000)).toBe(true);
  });
});
