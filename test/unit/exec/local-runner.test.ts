import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { registerSecret } from "../../../src/core/secrets.js";
import { createLocalRunner } from "../../../src/exec/local-runner.js";
import { pgrepExact, uniqueSeconds, waitFor } from "../../process-probes.js";

const scratch = mkdtempSync(join(tmpdir(), "volkit-local-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("local runner", () => {
  const runner = createLocalRunner();

  it("passes argv without a shell: metacharacters arrive unchanged and run nothing", async () => {
    const flag = join(scratch, "injected");
    const args = ["two words", "", "-n", "it's", `$(touch ${flag})`, `; touch ${flag}`, "line\nbreak", "*", "héllo ✓"];
    const out = (await runner.run({ argv: ["printf", "%s\\0", ...args] }))._unsafeUnwrap();
    expect(out.stdout.split("\0").slice(0, -1)).toEqual(args);
    expect(existsSync(flag)).toBe(false);
  });

  it("keeps the final newline of stdout and reports exit code and argv", async () => {
    const out = (await runner.run({ argv: ["echo", "x"] }))._unsafeUnwrap();
    expect(out).toMatchObject({ argv: ["echo", "x"], exitCode: 0, stdout: "x\n", stderr: "" });
    expect(out.durationMs).toBeGreaterThan(0);
  });

  it("maps a non-zero exit to COMMAND_FAILED with exit code, stdout and the last stderr line", async () => {
    const e = (await runner.run({ argv: ["sh", "-c", "echo x; echo first >&2; echo 'no space left' >&2; exit 3"] }))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    expect(e.source).toBe("exec");
    expect(e.details).toMatchObject({ exitCode: 3, stdout: "x", stderr: "first\nno space left" });
    expect(e.details.command).toEqual(["sh", "-c", "echo x; echo first >&2; echo 'no space left' >&2; exit 3"]);
    expect(e.message).toBe("sh exited with code 3: no space left");
    expect(e.transient).toBe(false);
  });

  it("accepts exit codes listed in okExitCodes", async () => {
    const out = (await runner.run({ argv: ["sh", "-c", "echo ok; exit 3"], okExitCodes: [0, 3] }))._unsafeUnwrap();
    expect(out.exitCode).toBe(3);
    expect(out.stdout).toBe("ok\n");
  });

  it("reports a missing program as COMMAND_NOT_FOUND", async () => {
    const e = (await runner.run({ argv: ["volkit-no-such-program-91c2", "--flag"] }))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_NOT_FOUND");
    expect(e.details.command).toEqual(["volkit-no-such-program-91c2", "--flag"]);
  });

  it("maps exit 127 to COMMAND_NOT_FOUND, as the SSH runner does (a wrapper's 'not found')", async () => {
    const e = (await runner.run({ argv: ["env", "volkit-no-such-program-5b7e"] }))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_NOT_FOUND");
    expect(e.details).toMatchObject({ command: ["env", "volkit-no-such-program-5b7e"], exitCode: 127 });
    expect(e.details.stderr).toMatch(/No such file or directory/);
  });

  it("reports a program that cannot be started (not executable) as COMMAND_FAILED with its errno", async () => {
    const file = join(scratch, "not-executable");
    writeFileSync(file, "#!/bin/sh\necho ran\n", { mode: 0o644 });
    const e = (await runner.run({ argv: [file] }))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    expect(e.details).toMatchObject({ command: [file], errno: "EACCES" });
    expect(e.message).toBe(`${file} could not be started (EACCES)`);
  });

  it("reports death by signal with the signal name", async () => {
    const e = (await runner.run({ argv: ["sh", "-c", "kill -TERM $$"] }))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    expect(e.details.signal).toBe("SIGTERM");
    expect(e.details.exitCode).toBeUndefined();
    expect(e.message).toBe("sh was killed by SIGTERM");
  });

  it("feeds stdin as text or bytes", async () => {
    expect((await runner.run({ argv: ["cat"], stdin: "a\nb 'c'\n" }))._unsafeUnwrap().stdout).toBe("a\nb 'c'\n");
    const data = randomBytes(1024 * 1024);
    const sum = (await runner.run({ argv: ["sha256sum"], stdin: new Uint8Array(data) }))._unsafeUnwrap().stdout.split(" ")[0];
    expect(sum).toBe(createHash("sha256").update(data).digest("hex"));
  });

  it("gives the child an empty stdin when none is given (cat ends at once)", async () => {
    const out = (await runner.run({ argv: ["cat"], timeoutMs: 5000 }))._unsafeUnwrap();
    expect(out.stdout).toBe("");
  });

  it("merges runner env, command env (which wins) and the inherited environment", async () => {
    const r = createLocalRunner({ env: { VOLKIT_A: "runner", VOLKIT_B: "runner-b" } });
    const out = (
      await r.run({ argv: ["sh", "-c", 'printf "%s|%s|%s|%s" "$VOLKIT_A" "$VOLKIT_B" "$VOLKIT_C" "${PATH:+has-path}"'], env: { VOLKIT_A: "cmd", VOLKIT_C: "c v" } })
    )._unsafeUnwrap();
    expect(out.stdout).toBe("cmd|runner-b|c v|has-path");
  });

  it("runs in cwd", async () => {
    expect((await runner.run({ argv: ["pwd"], cwd: scratch }))._unsafeUnwrap().stdout).toBe(`${realpathSync(scratch)}\n`);
  });

  it("streams stderr and stdout chunks as they arrive", async () => {
    const seen: Array<{ at: number; chunk: string }> = [];
    const outChunks: string[] = [];
    const t0 = performance.now();
    const out = (
      await runner.run({
        argv: ["sh", "-c", 'for i in 1 2 3; do echo "p$i" >&2; echo "o$i"; sleep 0.1; done'],
        onStderr: (chunk) => seen.push({ at: performance.now() - t0, chunk }),
        onStdout: (chunk) => outChunks.push(chunk),
      })
    )._unsafeUnwrap();
    expect(seen.map((s) => s.chunk).join("")).toBe("p1\np2\np3\n");
    expect(out.stderr).toBe("p1\np2\np3\n");
    expect(outChunks.join("")).toBe("o1\no2\no3\n");
    // Streaming, not delivered at exit: the first chunk came well before the last.
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect((seen.at(-1)?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThan(100);
  });

  it("runs through the root helper (sudo -n) with the environment set after it, so sudo's reset keeps it", async () => {
    if (!existsSync("/usr/bin/sudo")) throw new Error("/usr/bin/sudo is missing: apt-get install -y sudo");
    const r = createLocalRunner({ rootHelper: ["sudo", "-n"], env: { VOLKIT_A: "runner" } });
    expect(r.description).toBe("local via /usr/bin/sudo -n");
    const out = (
      await r.run({ argv: ["sh", "-c", 'printf "%s|%s|%s|%s" "$VOLKIT_A" "$VOLKIT_B" "$SUDO_COMMAND" "${VOLKIT_UNSET:-unset}"'], env: { VOLKIT_B: "it's $(b)" } })
    )._unsafeUnwrap();
    // SUDO_COMMAND proves sudo ran it, and shows the variables travelled as `env NAME=value` after sudo.
    expect(out.stdout).toBe(`runner|it's $(b)|/usr/bin/env VOLKIT_A=runner VOLKIT_B=it's $(b) sh -c printf "%s|%s|%s|%s" "$VOLKIT_A" "$VOLKIT_B" "$SUDO_COMMAND" "\${VOLKIT_UNSET:-unset}"|unset`);
    expect(out.argv).toEqual(["sh", "-c", 'printf "%s|%s|%s|%s" "$VOLKIT_A" "$VOLKIT_B" "$SUDO_COMMAND" "${VOLKIT_UNSET:-unset}"']);
    expect(createLocalRunner().description).toBe("local");
  });

  it("kills a command run through sudo on timeout", async () => {
    const seconds = uniqueSeconds(5);
    const r = createLocalRunner({ rootHelper: ["sudo", "-n"] });
    const pending = r.run({ argv: ["sh", "-c", `sleep ${seconds}; echo done`], timeoutMs: 1500 });
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 1, 1400)).toBe(true);
    expect((await pending)._unsafeUnwrapErr().code).toBe("TIMEOUT");
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 0, 3000)).toBe(true);
  });

  it("timeoutMs → TIMEOUT (transient) and the child is killed", async () => {
    const seconds = uniqueSeconds(5);
    const t0 = performance.now();
    const pending = runner.run({ argv: ["sleep", seconds], timeoutMs: 400 });
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 1, 350)).toBe(true);
    const e = (await pending)._unsafeUnwrapErr();
    expect(e.code).toBe("TIMEOUT");
    expect(e.transient).toBe(true);
    expect(e.details).toMatchObject({ command: ["sleep", seconds], timeoutMs: 400 });
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(pgrepExact(`sleep ${seconds}`)).toEqual([]);
  });

  it("SIGKILLs a child that ignores SIGTERM after killGraceMs", async () => {
    const r = createLocalRunner({ killGraceMs: 200 });
    const t0 = performance.now();
    const e = (await r.run({ argv: ["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"], timeoutMs: 300 }))._unsafeUnwrapErr();
    expect(e.code).toBe("TIMEOUT");
    expect(performance.now() - t0).toBeLessThan(2500);
  });

  it("applies defaultTimeoutMs when the command sets none", async () => {
    const r = createLocalRunner({ defaultTimeoutMs: 200 });
    const e = (await r.run({ argv: ["sleep", "5"] }))._unsafeUnwrapErr();
    expect(e.code).toBe("TIMEOUT");
    expect(e.details.timeoutMs).toBe(200);
  });

  it("abort → ABORTED and the child is killed", async () => {
    const seconds = uniqueSeconds(5);
    const ac = new AbortController();
    const pending = runner.run({ argv: ["sleep", seconds], signal: ac.signal });
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 1, 2000)).toBe(true);
    const t0 = performance.now();
    ac.abort();
    const e = (await pending)._unsafeUnwrapErr();
    expect(e.code).toBe("ABORTED");
    expect(e.message).toBe("operation aborted by caller while running sleep");
    expect(performance.now() - t0).toBeLessThan(2500);
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 0, 1000)).toBe(true);
  });

  it("an abort whose reason is a timeout maps to TIMEOUT", async () => {
    const e = (await runner.run({ argv: ["sleep", "5"], signal: AbortSignal.timeout(150) }))._unsafeUnwrapErr();
    expect(e.code).toBe("TIMEOUT");
  });

  it("an already-aborted signal → ABORTED and nothing runs", async () => {
    const flag = join(scratch, `never-${randomUUID()}`);
    const e = (await runner.run({ argv: ["touch", flag], signal: AbortSignal.abort() }))._unsafeUnwrapErr();
    expect(e.code).toBe("ABORTED");
    await sleep(100);
    expect(existsSync(flag)).toBe(false);
  });

  it("redacts per-command secrets from COMMAND_FAILED message, argv, stderr and stdout", async () => {
    const secret = `chap-${randomUUID()}`;
    const e = (
      await runner.run({
        argv: ["sh", "-c", 'echo "out $1"; echo "rejected $1" >&2; exit 1', "sh", secret],
        secrets: [secret],
      })
    )._unsafeUnwrapErr();
    expect(e.message).toBe("sh exited with code 1: rejected ***");
    expect(e.details.command).toEqual(["sh", "-c", 'echo "out $1"; echo "rejected $1" >&2; exit 1', "sh", "***"]);
    expect(e.details.stderr).toBe("rejected ***");
    expect(e.details.stdout).toBe("out ***");
    expect(JSON.stringify(e.toJSON()) + String(e.stack)).not.toContain(secret);
  });

  it("redacts globally registered secrets even when the command does not list them", async () => {
    const secret = `registered-${randomUUID()}`;
    registerSecret(secret);
    const e = (await runner.run({ argv: ["sh", "-c", 'echo "$1" >&2; exit 2', "sh", secret] }))._unsafeUnwrapErr();
    expect(JSON.stringify(e.toJSON())).not.toContain(secret);
    expect(e.details.stderr).toBe("***");
  });

  it("returns the unredacted output on success (callers need the data)", async () => {
    const secret = `s-${randomUUID()}`;
    const out = (await runner.run({ argv: ["echo", secret], secrets: [secret] }))._unsafeUnwrap();
    expect(out.stdout).toBe(`${secret}\n`);
  });
});
