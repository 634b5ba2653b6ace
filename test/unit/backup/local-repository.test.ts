import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { open } from "node:fs/promises";
import { describe, expect, it, vi } from "vitest";
import { backgroundContext, createOperationContext } from "../../../src/core/context.js";
import { createLocalDirectoryRepository, forEachPage } from "../../../src/backup/index.js";
import { allKeys, must, mustFail, tempDir, tempRepo } from "./helpers.js";

const ctx = backgroundContext("test", "test");

describe("local directory repository", () => {
  it("stores, reads, heads and lists objects by key", async () => {
    const { repo, dir } = tempRepo();
    const info = await must(repo.put("backups/b1/chunks/00000000.full", Buffer.from("chunk zero"), ctx));
    expect(info).toMatchObject({ key: "backups/b1/chunks/00000000.full", size: 10 });
    expect(Buffer.from(await must(repo.get("backups/b1/chunks/00000000.full", ctx))).toString()).toBe("chunk zero");
    expect(await must(repo.head("backups/b1/chunks/00000000.full", ctx))).toMatchObject({ size: 10 });
    expect(await must(repo.head("backups/b1/nothing", ctx))).toBeUndefined();
    expect(statSync(join(dir, "backups/b1/chunks/00000000.full")).size).toBe(10);
  });

  it("replaces an object whole and leaves no temporary file behind", async () => {
    const { repo, dir } = tempRepo();
    await must(repo.put("a/x", Buffer.alloc(1000, 1), ctx));
    await must(repo.put("a/x", Buffer.alloc(10, 2), ctx));
    expect(Buffer.from(await must(repo.get("a/x", ctx)))).toEqual(Buffer.alloc(10, 2));
    expect(readdirSync(join(dir, "a"))).toEqual(["x"]);
  });

  it("writes a streamed body", async () => {
    const { repo } = tempRepo();
    async function* pieces(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 5; i++) yield await Promise.resolve(Buffer.from(`piece-${i};`));
    }
    await must(repo.put("s/streamed", pieces(), ctx));
    expect(Buffer.from(await must(repo.get("s/streamed", ctx))).toString()).toBe("piece-0;piece-1;piece-2;piece-3;piece-4;");
    const seen: string[] = [];
    const info = await must(repo.read("s/streamed", (p) => void seen.push(Buffer.from(p).toString()), ctx));
    expect(seen.join("")).toBe("piece-0;piece-1;piece-2;piece-3;piece-4;");
    expect(info.size).toBe(40);
  });

  it("removes the temporary file when a streamed body fails", async () => {
    const { repo, dir } = tempRepo();
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(Buffer.from("partial"));
      throw new Error("source broke");
    }
    const e = await mustFail(repo.put("f/obj", failing(), ctx));
    expect(e.code).toBe("INTERNAL");
    expect(readdirSync(join(dir, "f"))).toEqual([]);
    expect(await must(repo.head("f/obj", ctx))).toBeUndefined();
  });

  it("reads a missing object as BACKUP_NOT_FOUND naming the key", async () => {
    const { repo } = tempRepo();
    const e = await mustFail(repo.get("backups/none/manifest.json", ctx));
    expect(e.code).toBe("BACKUP_NOT_FOUND");
    expect(e.details.key).toBe("backups/none/manifest.json");
  });

  it("refuses keys that could escape the directory, before touching anything", async () => {
    const { repo, dir } = tempRepo();
    for (const key of ["../escape", "/abs", "a/../b", "a//b", ".hidden", "a/.tmp", "", "a b"]) {
      const e = await mustFail(repo.put(key, Buffer.from("x"), ctx));
      expect(e.code).toBe("INVALID_ARGUMENT");
    }
    expect(existsSync(dir)).toBe(false);
  });

  it("lists in S3 key order, with pages and a delimiter", async () => {
    const { repo } = tempRepo();
    // "a.x" < "a/..." < "a0" in byte order ('.' 0x2e < '/' 0x2f < '0' 0x30).
    for (const key of ["a0", "a/2", "a.x", "a/1", "b/c/d", "a/10"]) await must(repo.put(key, Buffer.from(key), ctx));
    expect(await allKeys(repo)).toEqual(["a.x", "a/1", "a/10", "a/2", "a0", "b/c/d"]);
    const first = await must(repo.list("", { limit: 2 }, ctx));
    expect(first.objects.map((o) => o.key)).toEqual(["a.x", "a/1"]);
    expect(first.next).toBe("a/1");
    const second = await must(repo.list("", { limit: 3, cursor: first.next as string }, ctx));
    expect(second.objects.map((o) => o.key)).toEqual(["a/10", "a/2", "a0"]);
    const top = await must(repo.list("", { delimiter: "/" }, ctx));
    expect(top.objects.map((o) => o.key)).toEqual(["a.x", "a0"]);
    expect(top.prefixes).toEqual(["a/", "b/"]);
    expect((await must(repo.list("a/", {}, ctx))).objects.map((o) => o.key)).toEqual(["a/1", "a/10", "a/2"]);
    expect(await must(repo.list("missing/", {}, ctx))).toEqual({ objects: [], prefixes: [] });
  });

  it("visits every page with forEachPage", async () => {
    const { repo } = tempRepo();
    for (let i = 0; i < 25; i++) await must(repo.put(`p/${String(i).padStart(3, "0")}`, Buffer.from("x"), ctx));
    const pages: number[] = [];
    await must(forEachPage(repo, "p/", { limit: 10 }, ctx, (page) => void pages.push(page.objects.length)));
    expect(pages).toEqual([10, 10, 5]);
  });

  it("deletes objects (missing ones too) and prunes emptied directories, never the root", async () => {
    const { repo, dir } = tempRepo();
    await must(repo.put("backups/b1/chunks/1", Buffer.from("1"), ctx));
    await must(repo.put("backups/b2/manifest.json", Buffer.from("{}"), ctx));
    await must(repo.delete(["backups/b1/chunks/1", "backups/b1/chunks/never-existed"], ctx));
    expect(existsSync(join(dir, "backups/b1"))).toBe(false);
    expect(existsSync(join(dir, "backups/b2/manifest.json"))).toBe(true);
    await must(repo.delete(["backups/b2/manifest.json"], ctx));
    expect(existsSync(dir)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("stops at once when the operation is aborted", async () => {
    const { repo } = tempRepo();
    const ac = new AbortController();
    ac.abort();
    const e = await mustFail(repo.put("a/b", Buffer.from("x"), createOperationContext({ operation: "t", source: "t", signal: ac.signal })));
    expect(e.code).toBe("ABORTED");
    expect(await must(repo.head("a/b", ctx))).toBeUndefined();
  });

  it("fsyncs batched puts in the background and on flush, each put at once in mode each, never in mode off", async () => {
    const probe = await open(tempDir(), "r");
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const syncs = vi.spyOn(proto, "sync");
    try {
      const counts: Record<string, [number, number]> = {};
      for (const fsync of ["batched", "each", "off", true] as const) {
        const repo = createLocalDirectoryRepository({ directory: join(tempDir(), "repo"), fsync })._unsafeUnwrap();
        syncs.mockClear();
        for (let i = 0; i < 40; i++) await must(repo.put(`backups/b1/chunks/${String(i).padStart(8, "0")}.full`, Buffer.from([i]), ctx));
        await must(repo.delete(["backups/b1/chunks/00000039.full"], ctx));
        const afterPuts = syncs.mock.calls.length;
        await must(repo.flush(ctx));
        counts[String(fsync)] = [afterPuts, syncs.mock.calls.length];
      }
      // each: 40 files + their directory each time (+ the parents of the 4 directories the first put created).
      expect(counts.each).toEqual([84, 84]);
      expect(counts.off).toEqual([0, 0]);
      // batched: one background batch of 32 during the puts, the rest on flush: each file once
      // (the deleted one skipped), the 5 directories once per batch (the chunk directory twice).
      for (const mode of ["batched", "true"]) {
        const [during, total] = counts[mode] as [number, number];
        expect(during).toBeLessThanOrEqual(32 + 5);
        expect(total).toBe(39 + 5 + 1);
      }
    } finally {
      syncs.mockRestore();
    }
  });

  it("validates its options", () => {
    expect(createLocalDirectoryRepository({ directory: "relative/dir" })._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(createLocalDirectoryRepository({ directory: join(tempDir(), "r") }).isOk()).toBe(true);
  });
});
