import { ResultAsync, okAsync } from "neverthrow";
import { afterEach, describe, expect, it } from "vitest";
import { VolkitError } from "../../../src/core/errors.js";
import type { HostFs } from "../../../src/host/host-fs.js";
import { PollGroup, snapshotFs } from "../../../src/host/wait.js";
import { FakeHostTree } from "../../../src/testing/fake-tree.js";

let tree: FakeHostTree;
afterEach(() => tree.cleanup());

/** A HostFs that counts reads per path. */
function counting(fs: HostFs): { fs: HostFs; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const count = <T>(p: string, r: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> => {
    reads.set(p, (reads.get(p) ?? 0) + 1);
    return r();
  };
  return {
    reads,
    fs: {
      root: fs.root,
      readFile: (p) => count(p, () => fs.readFile(p)),
      readdir: (p) => count(p, () => fs.readdir(p)),
      readlink: (p) => count(p, () => fs.readlink(p)),
      realpath: (p) => count(p, () => fs.realpath(p)),
      exists: (p) => fs.exists(p),
      writeFile: (p, d) => fs.writeFile(p, d),
    },
  };
}

const never = (): VolkitError => new VolkitError("DEVICE_NOT_FOUND", "timed out");

describe("PollGroup", () => {
  it("serves sixteen concurrent waits with one read of each file per round", async () => {
    tree = FakeHostTree.create().dir("/sys/block");
    const { fs, reads } = counting(tree.hostFs());
    const group = new PollGroup(fs, { intervalMs: 2 });
    const signal = new AbortController().signal;
    // Sixteen waiters for sixteen disks, each listing /sys/block every round.
    const waits = Array.from({ length: 16 }, (_, i) =>
      group.wait((snap) => snap.readdir("/sys/block").map((names) => (names.includes(`sd${String.fromCharCode(97 + i)}`) ? i : undefined)), { timeoutMs: 5000, signal, onTimeout: never }),
    );
    // The disks appear one per round, as a scan of each LUN makes them.
    for (let i = 0; i < 16; i++) {
      const before = group.rounds;
      while (group.rounds === before) await new Promise((r) => setTimeout(r, 1));
      tree.file(`/sys/block/sd${String.fromCharCode(97 + i)}`);
    }
    const got = await Promise.all(waits);
    expect(got.map((r) => r._unsafeUnwrap())).toEqual(Array.from({ length: 16 }, (_, i) => i));
    // One listing per round, however many waiters were pending.
    expect(reads.get("/sys/block")).toBe(group.rounds);
  });

  it("ends a wait with onTimeout, with the caller's abort, and with a probe error, leaving the others waiting", async () => {
    tree = FakeHostTree.create().dir("/sys/block");
    const group = new PollGroup(tree.hostFs(), { intervalMs: 2 });
    const ac = new AbortController();
    const other = new AbortController();
    const pending = group.wait(() => okAsync(undefined), { timeoutMs: 60_000, signal: other.signal, onTimeout: never });
    const timedOut = group.wait(() => okAsync(undefined), { timeoutMs: 10, signal: ac.signal, onTimeout: never });
    const failed = group.wait(() => snapshotFs(tree.hostFs()).readFile("/sys/block/missing/size"), { timeoutMs: 60_000, signal: ac.signal, onTimeout: never });
    expect((await timedOut)._unsafeUnwrapErr().message).toBe("timed out");
    expect((await failed)._unsafeUnwrapErr().code).toBe("DEVICE_NOT_FOUND");
    const aborted = group.wait(() => okAsync(undefined), { timeoutMs: 60_000, signal: ac.signal, onTimeout: never });
    ac.abort();
    expect((await aborted)._unsafeUnwrapErr().code).toBe("ABORTED");
    other.abort();
    expect((await pending)._unsafeUnwrapErr().code).toBe("ABORTED");
  });

  it("never times out before its probe has looked once (a round late on a loaded host)", async () => {
    tree = FakeHostTree.create().dir("/sys/block");
    const group = new PollGroup(tree.hostFs(), { intervalMs: 2 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // The first probe stays in flight past the 5 ms limit; the disk is there when it reads.
    tree.file("/sys/block/sdz");
    const seen = group.wait((snap) => okAsync(undefined).andThen(() => ResultAsync.fromSafePromise(gate)).andThen(() => snap.readdir("/sys/block")).map((n) => (n.includes("sdz") ? "found" : undefined)), {
      timeoutMs: 5,
      signal: new AbortController().signal,
      onTimeout: never,
    });
    await new Promise((r) => setTimeout(r, 30));
    release();
    expect((await seen)._unsafeUnwrap()).toBe("found");
    // And one that has looked and found nothing does time out.
    const empty = await group.wait(() => okAsync(undefined), { timeoutMs: 5, signal: new AbortController().signal, onTimeout: never });
    expect(empty._unsafeUnwrapErr().message).toBe("timed out");
  });

  it("starts a round at once when a watched directory changes", async () => {
    tree = FakeHostTree.create().dir("/dev");
    // A long interval: only the watch can make the second round come soon.
    const group = new PollGroup(tree.hostFs(), { intervalMs: 60_000, wakeOn: ["/dev"] });
    const seen = group.wait((snap) => snap.readdir("/dev").map((n) => (n.includes("sdq") ? true : undefined)), { timeoutMs: 30_000, signal: new AbortController().signal, onTimeout: never });
    while (group.rounds === 0) await new Promise((r) => setTimeout(r, 1));
    tree.file("/dev/sdq");
    expect((await seen)._unsafeUnwrap()).toBe(true);
    expect(group.rounds).toBe(2);
  });

  it("a snapshot reads each path once and shares the result", async () => {
    tree = FakeHostTree.create().file("/sys/block/sda/size", "2048\n");
    const { fs, reads } = counting(tree.hostFs());
    const snap = snapshotFs(fs);
    const all = await Promise.all([snap.readFile("/sys/block/sda/size"), snap.readFile("/sys/block/sda/size"), snap.readFile("/sys/block/sda/size")]);
    expect(all.map((r) => r._unsafeUnwrap())).toEqual(["2048\n", "2048\n", "2048\n"]);
    expect(reads.get("/sys/block/sda/size")).toBe(1);
  });
});
