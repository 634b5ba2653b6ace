import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { okAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { backgroundContext } from "../../../src/core/context.js";
import { EventBus } from "../../../src/core/events.js";
import { backupFromSource, readBackupManifest, restoreToTarget, type BackupManifest, type ChunkEntry } from "../../../src/backup/index.js";
import { KiB, MiB, allKeys, makeFile, must, mustFail, patchFile, random, sha256File, tempDir, tempRepo, text } from "./helpers.js";

const ctx = backgroundContext("test", "test");
/** Most tests run jobs on the test's thread (fast); the worker path has tests of its own. */
const inline = { threads: 0, allocation: "none" } as const;

function kinds(m: BackupManifest): string {
  return m.chunks.map((c) => (c.kind === "hole" ? "h" : c.kind === "full" ? "F" : "d")).join("");
}

describe("backupFromSource: chunking", () => {
  it("cuts a size that is not a multiple of the chunk size, and restores it exactly", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const size = 3 * 64 * KiB + 12345;
    const src = makeFile(join(dir, "src"), size, [
      { offset: 0, data: random(1000) },
      { offset: 3 * 64 * KiB + 100, data: text(12245) },
    ]);
    const m = await must(backupFromSource(repo, { path: src, allocation: "none" }, { chunkSize: 64 * KiB, threads: 0 }));
    expect(m.sizeBytes).toBe(size);
    expect(m.chunks.map((c) => [c.offset, c.length])).toEqual([
      [0, 65536],
      [65536, 65536],
      [131072, 65536],
      [196608, 12345],
    ]);
    expect(kinds(m)).toBe("FhhF");
    const last = m.chunks[3] as Extract<ChunkEntry, { kind: "full" }>;
    expect(last.object.rawSize).toBe(12345);
    expect(last.object.compression).toBe("zstd");
    const out = join(dir, "out");
    await must(restoreToTarget(repo, m.backupId, { path: out }, { threads: 0 }));
    expect(statSync(out).size).toBe(size);
    expect(sha256File(out)).toBe(sha256File(src));
  });

  it("records an all-zero volume as holes only: no chunk object, and restores it sparse", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const src = makeFile(join(dir, "zero"), 4 * MiB);
    // Written zeros (allocated on disk) must become holes too, not only unallocated ranges.
    patchFile(src, MiB, Buffer.alloc(MiB));
    const m = await must(backupFromSource(repo, { path: src, allocation: "none" }, { chunkSize: 1 * MiB, threads: 0 }));
    expect(kinds(m)).toBe("hhhh");
    expect(m.stats).toMatchObject({ chunksStored: 0, chunksHoles: 4, dataBytes: 0 });
    const keys = await allKeys(repo);
    expect(keys.filter((k) => k.includes("/chunks/"))).toEqual([]);
    const out = join(dir, "out");
    const report = await must(restoreToTarget(repo, m.backupId, { path: out }, { threads: 0 }));
    expect(report).toMatchObject({ chunksWritten: 0, chunksHoles: 4, bytesWritten: 0, created: true });
    expect(statSync(out).size).toBe(4 * MiB);
    expect(statSync(out).blocks).toBe(0);
    expect(readFileSync(out).equals(Buffer.alloc(4 * MiB))).toBe(true);
  });

  it("stores incompressible chunks as they are and compressible ones compressed", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const src = makeFile(join(dir, "src"), 2 * 256 * KiB, [
      { offset: 0, data: random(256 * KiB) },
      { offset: 256 * KiB, data: text(256 * KiB) },
    ]);
    const m = await must(backupFromSource(repo, { path: src }, { ...inline, chunkSize: 256 * KiB }));
    const [a, b] = m.chunks as [Extract<ChunkEntry, { kind: "full" }>, Extract<ChunkEntry, { kind: "full" }>];
    expect(a.object.compression).toBe("none");
    expect(a.object.size).toBe(256 * KiB);
    expect(b.object.compression).toBe("zstd");
    expect(b.object.size).toBeLessThan(4 * KiB);
  });

  it("uses gzip when asked and records it per chunk", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const src = makeFile(join(dir, "src"), 256 * KiB, [{ offset: 5, data: text(100 * KiB) }]);
    const m = await must(backupFromSource(repo, { path: src }, { ...inline, chunkSize: 128 * KiB, compression: "gzip" }));
    expect(m.chunks.map((c) => (c.kind === "hole" ? "hole" : c.object.compression))).toEqual(["gzip", "hole"]);
    const out = join(dir, "out");
    await must(restoreToTarget(repo, m.backupId, { path: out }, { threads: 0 }));
    expect(sha256File(out)).toBe(sha256File(src));
  });

  it("hashes every 32 KiB block into digest segments, and each chunk as the sha256 of its block digests", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const data = random(128 * KiB);
    const src = makeFile(join(dir, "src"), 128 * KiB, [{ offset: 0, data }]);
    const m = await must(backupFromSource(repo, { path: src }, { ...inline, chunkSize: 128 * KiB, compression: "none" }));
    const chunk = m.chunks[0] as Extract<ChunkEntry, { kind: "full" }>;
    expect(m.hashSegments).toHaveLength(1);
    const segment = Buffer.from(await must(repo.get((m.hashSegments[0] as { object: { key: string } }).object.key, ctx)));
    expect(segment.length).toBe(4 * 32);
    const blocks = [0, 1, 2, 3].map((b) => createHash("sha256").update(data.subarray(b * 32 * KiB, (b + 1) * 32 * KiB)).digest());
    for (let b = 0; b < 4; b++) expect(segment.subarray(b * 32, b * 32 + 32).equals(blocks[b] as Buffer)).toBe(true);
    expect(chunk.digest).toBe(createHash("sha256").update(Buffer.concat(blocks)).digest("hex"));
  });

  it("reads only what an allocation map marks as allocated", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const src = makeFile(join(dir, "src"), 1 * MiB, [
      { offset: 0, data: text(64 * KiB) },
      { offset: 512 * KiB, data: random(64 * KiB) },
    ]);
    let asked = 0;
    const m = await must(
      backupFromSource(repo, { path: src, allocation: () => ((asked++), okAsync([{ offset: 0, length: 64 * KiB }])) }, { threads: 0, chunkSize: 128 * KiB }),
    );
    expect(asked).toBe(1);
    // The map is trusted: the data at 512 KiB was not read (a thin pool would return zeros there).
    expect(kinds(m)).toBe("Fhhhhhhh");
    expect(m.stats.bytesRead).toBe(64 * KiB);
  });

  it("runs hashing and compression on worker threads with the same result as inline", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const src = makeFile(join(dir, "src"), 2 * MiB, [
      { offset: 10, data: random(300 * KiB) },
      { offset: MiB, data: text(500 * KiB) },
    ]);
    const viaWorkers = await must(backupFromSource(repo, { path: src, allocation: "none" }, { chunkSize: 256 * KiB, threads: 2 }));
    const viaInline = await must(backupFromSource(repo, { path: src, allocation: "none" }, { chunkSize: 256 * KiB, threads: 0 }));
    expect(viaWorkers.chunks.map((c) => (c.kind === "hole" ? "hole" : c.digest))).toEqual(viaInline.chunks.map((c) => (c.kind === "hole" ? "hole" : c.digest)));
    const out = join(dir, "out");
    await must(restoreToTarget(repo, viaWorkers.backupId, { path: out }, { threads: 2 }));
    expect(sha256File(out)).toBe(sha256File(src));
  });

  it("reports progress up to the volume size", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const src = makeFile(join(dir, "src"), 1 * MiB, [{ offset: 0, data: random(100) }]);
    const events = new EventBus();
    const seen: number[] = [];
    events.on((e) => {
      if (e.type === "progress" && e.phase === "backup") seen.push(e.bytesDone);
    });
    await must(backupFromSource(repo, { path: src }, { ...inline, chunkSize: 256 * KiB, events }));
    expect(seen).toHaveLength(4);
    expect(seen[seen.length - 1]).toBe(MiB);
  });
});

describe("backupFromSource: validation and ids", () => {
  it("refuses bad options before reading or writing anything", async () => {
    const { repo } = tempRepo();
    const dir = tempDir();
    const src = makeFile(join(dir, "src"), MiB);
    for (const bad of [{ chunkSize: 100_000 }, { chunkSize: 1024 }, { backupId: "-rf" }, { parent: "../x" }, { threads: -1 }]) {
      expect((await mustFail(backupFromSource(repo, { path: src }, bad))).code).toBe("INVALID_ARGUMENT");
    }
    expect((await mustFail(backupFromSource(repo, { path: "relative" }))).code).toBe("INVALID_ARGUMENT");
    expect((await mustFail(backupFromSource(repo, { path: src, sizeBytes: 2 * MiB }, inline))).code).toBe("INVALID_ARGUMENT");
    expect((await mustFail(backupFromSource(repo, { path: join(dir, "missing") }, inline))).code).toBe("VOLUME_NOT_FOUND");
    expect(await allKeys(repo)).toEqual([]);
  });

  it("refuses an id that exists, and a parent that does not", async () => {
    const { repo } = tempRepo();
    const src = makeFile(join(tempDir(), "src"), MiB, [{ offset: 0, data: random(10) }]);
    await must(backupFromSource(repo, { path: src }, { ...inline, backupId: "b1" }));
    expect((await mustFail(backupFromSource(repo, { path: src }, { ...inline, backupId: "b1" }))).code).toBe("BACKUP_EXISTS");
    expect((await mustFail(backupFromSource(repo, { path: src }, { ...inline, parent: "nope" }))).code).toBe("BACKUP_NOT_FOUND");
    expect((await mustFail(backupFromSource(repo, { path: src }, { ...inline, backupId: "b2", parent: "b1", chunkSize: 128 * KiB }))).code).toBe("INVALID_ARGUMENT");
  });

  it("backs up the first sizeBytes only", async () => {
    const { repo } = tempRepo();
    const src = makeFile(join(tempDir(), "src"), MiB, [{ offset: 0, data: random(MiB) }]);
    const m = await must(backupFromSource(repo, { path: src, sizeBytes: 100 * KiB }, inline));
    expect(m.sizeBytes).toBe(100 * KiB);
    expect(await must(readBackupManifest(repo, m.backupId))).toEqual(m);
  });
});
