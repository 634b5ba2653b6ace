import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { errAsync, okAsync, ResultAsync } from "neverthrow";
import { afterAll, describe, expect, it } from "vitest";
import { VolkitError } from "../../../src/core/errors.js";
import { FileLocks, InProcessLocks, withLock, withLocks, type LockBackend, type Release } from "../../../src/core/locks.js";

const scratch = mkdtempSync(join(tmpdir(), "volkit-locks-reg-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync("true");
  if (r.pid === undefined) throw new Error("cannot spawn `true`");
  return r.pid;
}

describe("withLock when the protected work throws or rejects", () => {
  const throwing = (): ResultAsync<number, VolkitError> => {
    throw new Error("driver exploded");
  };
  const rejecting = (): ResultAsync<number, VolkitError> => new ResultAsync(Promise.reject(new Error("promise rejected")));

  it.each([
    ["a synchronous throw", throwing, "driver exploded"],
    ["a rejected ResultAsync", rejecting, "promise rejected"],
  ])("%s → Err(INTERNAL), and the lock is free for the next holder", async (_what, fn, message) => {
    const locks = new InProcessLocks();
    const r = await withLock(locks, "volume:v1", undefined, fn);
    expect(r._unsafeUnwrapErr()).toMatchObject({ code: "INTERNAL", message, source: "locks" });
    const next = await withLock(locks, "volume:v1", AbortSignal.timeout(2000), () => okAsync("next"));
    expect(next._unsafeUnwrap()).toBe("next");
  });

  it("withLocks releases every key after a throw", async () => {
    const locks = new InProcessLocks();
    const r = await withLocks(locks, ["volume:a", "volume:b"], undefined, throwing);
    expect(r._unsafeUnwrapErr().code).toBe("INTERNAL");
    const again = await withLocks(locks, ["volume:b", "volume:a"], AbortSignal.timeout(2000), () => okAsync(1));
    expect(again._unsafeUnwrap()).toBe(1);
  });

  it("a failing release turns success into LOCK_FAILED but does not hide the work's own error", async () => {
    const badRelease: LockBackend = { acquire: () => okAsync((() => Promise.reject(new Error("rm failed"))) as Release) };
    expect((await withLock(badRelease, "k", undefined, () => okAsync(1)))._unsafeUnwrapErr()).toMatchObject({ code: "LOCK_FAILED", message: "rm failed" });
    const failed = await withLock(badRelease, "k", undefined, () => errAsync(new VolkitError("VOLUME_BUSY", "has snapshots")));
    expect(failed._unsafeUnwrapErr()).toMatchObject({ code: "VOLUME_BUSY", message: "has snapshots" });
  });
});

describe("FileLocks: a live holder's lock does not go stale", () => {
  it("the holder refreshes its lock file, so staleMs does not break it during a long operation", { timeout: 15_000 }, async () => {
    const dir = join(scratch, "heartbeat");
    const staleMs = 900;
    const holder = new FileLocks({ directory: dir, staleMs, pollMs: 5 });
    const contender = new FileLocks({ directory: dir, staleMs, pollMs: 5 }); // same pid, separate queue: contends through the file only
    const release = (await holder.acquire("volume:long"))._unsafeUnwrap();
    const file = join(dir, `${encodeURIComponent("volume:long")}.lock`);
    const held = statSync(file);

    // Held for more than twice staleMs: without a heartbeat the contender breaks it after staleMs.
    const r = await contender.acquire("volume:long", AbortSignal.timeout(2 * staleMs + 300));
    expect(r.isErr() && r.error.code).toBe("TIMEOUT");
    const now = statSync(file);
    expect(now.ino).toBe(held.ino); // still the holder's file
    expect(now.mtimeMs).toBeGreaterThan(held.mtimeMs); // refreshed while held
    expect(readFileSync(file, "utf8")).toBe(`${process.pid}\n`);

    await release();
    expect(readdirSync(dir)).toEqual([]);
    const next = (await contender.acquire("volume:long", AbortSignal.timeout(2000)))._unsafeUnwrap();
    await next();
  });

  it("release never deletes a successor's lock file after its own lock was taken over", async () => {
    const dir = join(scratch, "successor");
    const locks = new FileLocks({ directory: dir, pollMs: 5 });
    const release = (await locks.acquire("k"))._unsafeUnwrap();
    const file = join(dir, "k.lock");
    // Another process broke our lock (we were suspended) and now holds it.
    rmSync(file);
    writeFileSync(file, `${process.ppid}\n`);
    await release();
    expect(readFileSync(file, "utf8")).toBe(`${process.ppid}\n`);
  });
});

describe("FileLocks: taking over a stale lock is race-free", () => {
  interface Span {
    readonly who: number;
    readonly start: number;
    readonly end: number;
  }

  it("contenders that all judge the same dead holder's lock stale never hold it together", { timeout: 30_000 }, async () => {
    const pid = deadPid();
    for (let round = 0; round < 8; round++) {
      const dir = join(scratch, `race-${round}`);
      // One FileLocks per contender: each queues only through the file, as separate processes do.
      const contenders = Array.from({ length: 6 }, () => new FileLocks({ directory: dir, pollMs: 2 }));
      (await contenders[0]!.acquire("warmup"))._unsafeUnwrap(); // creates the directory
      writeFileSync(join(dir, "k.lock"), `${pid}\n`); // left behind by a dead process
      const spans: Span[] = [];
      const results = await Promise.all(
        contenders.map((locks, who) =>
          withLock(locks, "k", AbortSignal.timeout(20_000), () =>
            ResultAsync.fromSafePromise(
              (async () => {
                const start = performance.now();
                await sleep(15);
                spans.push({ who, start, end: performance.now() });
              })(),
            ),
          ),
        ),
      );
      expect(results.map((r) => r.isOk())).toEqual(Array(6).fill(true));
      spans.sort((a, b) => a.start - b.start);
      for (let i = 1; i < spans.length; i++) {
        expect(spans[i]!.start, `round ${round}: contender ${spans[i]!.who} entered while ${spans[i - 1]!.who} held the lock`).toBeGreaterThanOrEqual(spans[i - 1]!.end);
      }
      expect(readdirSync(dir).filter((f) => f !== "warmup.lock")).toEqual([]);
    }
  });
});
