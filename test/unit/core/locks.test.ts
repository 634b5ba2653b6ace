import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { errAsync, okAsync, ResultAsync } from "neverthrow";
import { afterAll, describe, expect, it } from "vitest";
import { VolkitError } from "../../../src/core/errors.js";
import { FileLocks, InProcessLocks, noLocks, withLock, withLocks, type LockBackend } from "../../../src/core/locks.js";

const scratch = mkdtempSync(join(tmpdir(), "volkit-locks-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(scratch, { recursive: true, force: true });
});

interface Span {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** Holds `key` for `holdMs`, recording when the critical section really ran. */
function section(locks: LockBackend, key: string, name: string, holdMs: number, spans: Span[], signal?: AbortSignal): ResultAsync<void, VolkitError> {
  return withLock(locks, key, signal, () =>
    ResultAsync.fromSafePromise(
      (async () => {
        const start = performance.now();
        await sleep(holdMs);
        spans.push({ name, start, end: performance.now() });
      })(),
    ),
  );
}

const overlaps = (a: Span, b: Span): boolean => a.start < b.end && b.start < a.end;
const byName = (spans: Span[], name: string): Span => {
  const s = spans.find((x) => x.name === name);
  if (!s) throw new Error(`no span ${name}`);
  return s;
};

describe("InProcessLocks", () => {
  it("serializes holders of the same key, first come first served", async () => {
    const locks = new InProcessLocks();
    const spans: Span[] = [];
    const results = await Promise.all([
      section(locks, "volume:a", "one", 40, spans),
      section(locks, "volume:a", "two", 40, spans),
      section(locks, "volume:a", "three", 40, spans),
    ]);
    expect(results.every((r) => r.isOk())).toBe(true);
    expect(spans.map((s) => s.name)).toEqual(["one", "two", "three"]);
    expect(overlaps(byName(spans, "one"), byName(spans, "two"))).toBe(false);
    expect(overlaps(byName(spans, "two"), byName(spans, "three"))).toBe(false);
  });

  it("runs holders of different keys concurrently", async () => {
    const locks = new InProcessLocks();
    const spans: Span[] = [];
    await Promise.all([section(locks, "volume:a", "a", 80, spans), section(locks, "volume:b", "b", 80, spans)]);
    expect(overlaps(byName(spans, "a"), byName(spans, "b"))).toBe(true);
  });

  it("releases the lock when the protected work fails", async () => {
    const locks = new InProcessLocks();
    const failed = await withLock(locks, "k", undefined, () => errAsync(new VolkitError("INTERNAL", "x")));
    expect(failed._unsafeUnwrapErr().code).toBe("INTERNAL");
    const next = await withLock(locks, "k", AbortSignal.timeout(500), () => okAsync("got it"));
    expect(next._unsafeUnwrap()).toBe("got it");
  });

  it("release is idempotent: a second call does not free the next holder's lock", async () => {
    const locks = new InProcessLocks();
    const first = (await locks.acquire("k"))._unsafeUnwrap();
    const order: string[] = [];
    const second = locks.acquire("k").map((release) => (order.push("second"), release));
    const third = locks.acquire("k").map((release) => (order.push("third"), release));
    await first();
    await first();
    const releaseSecond = (await second)._unsafeUnwrap();
    await sleep(30);
    expect(order).toEqual(["second"]); // the double release did not let `third` in
    await releaseSecond();
    await (await third)._unsafeUnwrap()();
    expect(order).toEqual(["second", "third"]);
  });

  it("abort while waiting → ABORTED; the waiter never gets the lock and the queue moves on", async () => {
    const locks = new InProcessLocks();
    const holder = (await locks.acquire("k"))._unsafeUnwrap();
    const ac = new AbortController();
    const t0 = performance.now();
    const waiting = locks.acquire("k", ac.signal);
    const behind = locks.acquire("k");
    setTimeout(() => ac.abort(), 30);
    const r = await waiting;
    expect(r._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(performance.now() - t0).toBeLessThan(500);
    await holder();
    const releaseBehind = (await behind)._unsafeUnwrap(); // would hang if the aborted waiter kept its place
    await releaseBehind();
  });

  it("an already-aborted signal fails at once", async () => {
    const r = await new InProcessLocks().acquire("k", AbortSignal.abort());
    expect(r._unsafeUnwrapErr().code).toBe("ABORTED");
  });

  it("a timeout signal while waiting → TIMEOUT", async () => {
    const locks = new InProcessLocks();
    const holder = (await locks.acquire("k"))._unsafeUnwrap();
    const r = await locks.acquire("k", AbortSignal.timeout(40));
    expect(r._unsafeUnwrapErr().code).toBe("TIMEOUT");
    await holder();
  });
});

describe("withLocks", () => {
  it("takes keys in sorted order, so opposite orders cannot deadlock", async () => {
    const locks = new InProcessLocks();
    const spans: Span[] = [];
    const hold = (name: string, keys: string[]): ResultAsync<void, VolkitError> =>
      withLocks(locks, keys, AbortSignal.timeout(2000), () =>
        ResultAsync.fromSafePromise(
          (async () => {
            const start = performance.now();
            await sleep(30);
            spans.push({ name, start, end: performance.now() });
          })(),
        ),
      );
    const results = await Promise.all([hold("ab", ["volume:a", "volume:b"]), hold("ba", ["volume:b", "volume:a"]), hold("a", ["volume:a"])]);
    expect(results.map((r) => r.isOk())).toEqual([true, true, true]);
    expect(overlaps(byName(spans, "ab"), byName(spans, "ba"))).toBe(false);
  });

  it("tolerates duplicate keys and no keys", async () => {
    const locks = new InProcessLocks();
    expect((await withLocks(locks, ["k", "k"], AbortSignal.timeout(500), () => okAsync(1)))._unsafeUnwrap()).toBe(1);
    expect((await withLocks(locks, [], undefined, () => okAsync(2)))._unsafeUnwrap()).toBe(2);
  });
});

describe("noLocks", () => {
  it("never blocks", async () => {
    const spans: Span[] = [];
    await Promise.all([section(noLocks, "k", "a", 50, spans), section(noLocks, "k", "b", 50, spans)]);
    expect(overlaps(byName(spans, "a"), byName(spans, "b"))).toBe(true);
  });
});

describe("FileLocks in one process", () => {
  it("creates a lock file holding our pid inside the directory and removes it on release", async () => {
    const dir = join(scratch, "one");
    const locks = new FileLocks({ directory: dir });
    const release = (await locks.acquire("volume:../../etc/x"))._unsafeUnwrap();
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).not.toContain("/");
    expect(readFileSync(join(dir, files[0] ?? ""), "utf8")).toBe(`${process.pid}\n`);
    await release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("serializes same-key holders and runs different keys concurrently", async () => {
    const locks = new FileLocks({ directory: join(scratch, "two"), pollMs: 5 });
    const spans: Span[] = [];
    await Promise.all([section(locks, "k1", "a", 40, spans), section(locks, "k1", "b", 40, spans), section(locks, "k2", "c", 40, spans)]);
    expect(overlaps(byName(spans, "a"), byName(spans, "b"))).toBe(false);
    expect(overlaps(byName(spans, "a"), byName(spans, "c"))).toBe(true);
  });

  it("takes over a lock file older than staleMs even if its pid is alive", async () => {
    const dir = join(scratch, "aged");
    const locks = new FileLocks({ directory: dir, staleMs: 1000, pollMs: 5 });
    (await locks.acquire("warmup"))._unsafeUnwrap(); // creates the directory
    const file = join(dir, `${encodeURIComponent("k")}.lock`);
    writeFileSync(file, `${process.ppid}\n`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(file, old, old);
    const release = (await locks.acquire("k", AbortSignal.timeout(2000)))._unsafeUnwrap();
    expect(readFileSync(file, "utf8")).toBe(`${process.pid}\n`);
    await release();
  });

  it("waits for a fresh lock file of a live process, and abort ends the wait", async () => {
    const dir = join(scratch, "live");
    const locks = new FileLocks({ directory: dir, pollMs: 5 });
    (await locks.acquire("warmup"))._unsafeUnwrap();
    const file = join(dir, "k.lock");
    writeFileSync(file, `${process.ppid}\n`); // our parent is alive
    const r = await locks.acquire("k", AbortSignal.timeout(150));
    expect(r._unsafeUnwrapErr().code).toBe("TIMEOUT");
    expect(readFileSync(file, "utf8")).toBe(`${process.ppid}\n`);
    rmSync(file);
    // The aborted waiter released its in-process place: a new acquire succeeds at once.
    const release = (await locks.acquire("k", AbortSignal.timeout(500)))._unsafeUnwrap();
    await release();
  });
});

describe("FileLocks across real processes", () => {
  const repoRoot = resolve(import.meta.dirname, "../../..");
  const locksModule = pathToFileURL(join(repoRoot, "src/core/locks.ts")).href;

  function writeScript(name: string, body: string): string {
    const file = join(scratch, name);
    writeFileSync(file, `import { FileLocks } from ${JSON.stringify(locksModule)};\n${body}`);
    return file;
  }

  function start(script: string, args: string[]): { child: ChildProcess; lines: string[]; waitLine: (line: string, ms: number) => Promise<void> } {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] });
    children.push(child);
    const lines: string[] = [];
    let stderr = "";
    child.stdout?.on("data", (b: Buffer) => lines.push(...b.toString("utf8").split("\n").filter(Boolean)));
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    const waitLine = async (line: string, ms: number): Promise<void> => {
      const deadline = Date.now() + ms;
      while (!lines.includes(line)) {
        if (child.exitCode !== null) throw new Error(`child exited ${child.exitCode}: ${stderr}`);
        if (Date.now() > deadline) throw new Error(`no "${line}" from child within ${ms} ms: ${stderr}`);
        await sleep(10);
      }
    };
    return { child, lines, waitLine };
  }

  const exited = (child: ChildProcess): Promise<void> =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()));

  it("two processes contending for one key never overlap", { timeout: 30_000 }, async () => {
    const dir = join(scratch, "multi");
    const log = join(scratch, "multi.log");
    const worker = writeScript(
      "worker.mts",
      `import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
const [dir, log, id] = process.argv.slice(2);
const locks = new FileLocks({ directory: dir, pollMs: 2 });
process.stdout.write("ready\\n");
await new Promise((r) => process.stdin.once("data", r));
for (let i = 0; i < 6; i++) {
  const release = (await locks.acquire("volume:shared"))._unsafeUnwrap();
  appendFileSync(log, \`begin \${id} \${Date.now()}\\n\`);
  await sleep(25);
  appendFileSync(log, \`end \${id} \${Date.now()}\\n\`);
  await release();
  await sleep(150); // outside the lock: FileLocks has no cross-process fairness, give the other a turn
}
process.stdout.write("done\\n");
process.exit(0);
`,
    );
    const a = start(worker, [dir, log, "A"]);
    const b = start(worker, [dir, log, "B"]);
    await Promise.all([a.waitLine("ready", 15_000), b.waitLine("ready", 15_000)]);
    a.child.stdin?.write("go\n");
    b.child.stdin?.write("go\n");
    await Promise.all([a.waitLine("done", 15_000), b.waitLine("done", 15_000)]);
    const entries = readFileSync(log, "utf8").trim().split("\n").map((l) => l.split(" ")) as Array<[string, string, string]>;
    expect(entries).toHaveLength(24);
    // Strict alternation: every begin is immediately followed by the same process's end.
    for (let i = 0; i < entries.length; i += 2) {
      expect(entries[i]?.[0]).toBe("begin");
      expect(entries[i + 1]?.[0]).toBe("end");
      expect(entries[i + 1]?.[1]).toBe(entries[i]?.[1]);
    }
    // And they really contended: each process's activity spans the other's.
    const span = (id: string): [number, number] => {
      const times = entries.filter((e) => e[1] === id).map((e) => Number(e[2]));
      return [Math.min(...times), Math.max(...times)];
    };
    const [a0, a1] = span("A");
    const [b0, b1] = span("B");
    expect(a0 < b1 && b0 < a1).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("takes over the lock of a holder process killed with SIGKILL", { timeout: 30_000 }, async () => {
    const dir = join(scratch, "stale");
    const holderScript = writeScript(
      "holder.mts",
      `const [dir] = process.argv.slice(2);
const locks = new FileLocks({ directory: dir });
(await locks.acquire("volume:stale"))._unsafeUnwrap();
process.stdout.write("locked\\n");
setInterval(() => undefined, 1000);
`,
    );
    const holder = start(holderScript, [dir]);
    await holder.waitLine("locked", 15_000);
    const file = join(dir, `${encodeURIComponent("volume:stale")}.lock`);
    expect(readFileSync(file, "utf8")).toBe(`${holder.child.pid}\n`);

    const locks = new FileLocks({ directory: dir, pollMs: 5 });
    const whileAlive = await locks.acquire("volume:stale", AbortSignal.timeout(300));
    expect(whileAlive._unsafeUnwrapErr().code).toBe("TIMEOUT"); // really held

    holder.child.kill("SIGKILL");
    await exited(holder.child);
    const t0 = performance.now();
    const release = (await locks.acquire("volume:stale", AbortSignal.timeout(5000)))._unsafeUnwrap();
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(readFileSync(file, "utf8")).toBe(`${process.pid}\n`);
    await release();
    expect(existsSync(file)).toBe(false);
  });
});
