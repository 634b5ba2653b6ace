import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { backgroundContext } from "../../../src/core/context.js";
import { EventBus } from "../../../src/core/events.js";
import { backupFromSource, restoreToTarget, verifyBackup, type ChunkEntry } from "../../../src/backup/index.js";
import { KiB, MiB, allKeys, makeFile, must, mustFail, random, tempDir, tempRepo } from "./helpers.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";

const ctx = backgroundContext("test", "test");
const chunkSize = 128 * KiB;

async function fullBackup(size = MiB) {
  const dir = tempDir();
  const { repo, dir: repoDir } = tempRepo();
  const file = makeFile(join(dir, "vol"), size, [{ offset: 0, data: random(size) }]);
  const m = await must(backupFromSource(repo, { path: file, allocation: "none" }, { threads: 0, chunkSize, backupId: "b1" }));
  return { dir, repo, repoDir, file, m };
}

function flipByte(path: string, at: number): void {
  const bytes = readFileSync(path);
  bytes[at] = (bytes[at] as number) ^ 0x01;
  writeFileSync(path, bytes);
}

describe("restore checks every chunk before writing it", () => {
  it("refuses a corrupted chunk with BACKUP_CORRUPT naming it, and writes nothing from it on", async () => {
    const { dir, repo, repoDir, file, m } = await fullBackup();
    const bad = m.chunks[5] as Extract<ChunkEntry, { kind: "full" }>;
    flipByte(join(repoDir, bad.object.key), 100);
    // An existing target with a known pattern; write-zeros leaves it untouched where nothing is written.
    const target = makeFile(join(dir, "target"), MiB, [{ offset: 0, data: Buffer.alloc(MiB, 0xaa) }]);
    const e = await mustFail(restoreToTarget(repo, "b1", { path: target, holes: "write-zeros" }, { threads: 2 }));
    expect(e.code).toBe("BACKUP_CORRUPT");
    expect(e.details).toMatchObject({ backupId: "b1", chunk: 5, object: bad.object.key, reason: "stored-digest" });
    expect(e.message).toContain("chunk 5 of backup b1");
    const written = readFileSync(target);
    const original = readFileSync(file);
    expect(written.subarray(0, 5 * chunkSize).equals(original.subarray(0, 5 * chunkSize))).toBe(true);
    expect(written.subarray(5 * chunkSize).equals(Buffer.alloc(MiB - 5 * chunkSize, 0xaa))).toBe(true);
  });

  it("refuses a chunk whose object was replaced together with its recorded sha256 (content digest)", async () => {
    const { dir, repo, m } = await fullBackup();
    // Rewrite the manifest so the stored sha256 matches a swapped object: the content digest still catches it.
    const a = m.chunks[1] as Extract<ChunkEntry, { kind: "full" }>;
    const b = m.chunks[2] as Extract<ChunkEntry, { kind: "full" }>;
    const manifest = JSON.parse(Buffer.from(await must(repo.get("backups/b1/manifest.json", ctx))).toString()) as { chunks: ChunkEntry[] };
    const swapped = { ...a, object: b.object };
    manifest.chunks[1] = swapped;
    await must(repo.put("backups/b1/manifest.json", Buffer.from(JSON.stringify(manifest)), ctx));
    const e = await mustFail(restoreToTarget(repo, "b1", { path: join(dir, "out") }, { threads: 0 }));
    expect(e.code).toBe("BACKUP_CORRUPT");
    expect(e.details).toMatchObject({ chunk: 1, reason: "content-digest" });
  });

  it("refuses a missing chunk object, and deletes the file it created", async () => {
    const { dir, repo, m } = await fullBackup();
    await must(repo.delete([(m.chunks[7] as Extract<ChunkEntry, { kind: "full" }>).object.key], ctx));
    const out = join(dir, "new-file");
    const e = await mustFail(restoreToTarget(repo, "b1", { path: out }, { threads: 0 }));
    expect(e.code).toBe("BACKUP_CORRUPT");
    expect(e.details).toMatchObject({ chunk: 7, reason: "missing" });
    expect(() => readFileSync(out)).toThrow();
  });

  it("touches no existing target when an object is missing or truncated: checked before the punch", async () => {
    const { dir, repo, repoDir, m } = await fullBackup();
    const target = makeFile(join(dir, "existing"), MiB, [{ offset: 0, data: Buffer.alloc(MiB, 0x3c) }]);
    const runner = new FakeRunner().on(["fallocate"], {});
    await must(repo.delete([(m.chunks[6] as Extract<ChunkEntry, { kind: "full" }>).object.key], ctx));
    const missing = await mustFail(restoreToTarget(repo, "b1", { path: target }, { threads: 0, runner }));
    expect([missing.code, missing.details.chunk, missing.details.reason]).toEqual(["BACKUP_CORRUPT", 6, "missing"]);
    const cut = (m.chunks[3] as Extract<ChunkEntry, { kind: "full" }>).object.key;
    writeFileSync(join(repoDir, cut), readFileSync(join(repoDir, cut)).subarray(0, 100));
    const truncated = await mustFail(restoreToTarget(repo, "b1", { path: target }, { threads: 0, runner }));
    expect([truncated.code, truncated.details.chunk, truncated.details.reason]).toEqual(["BACKUP_CORRUPT", 3, "size"]);
    expect(runner.commands()).toEqual([]);
    expect(readFileSync(target).equals(Buffer.alloc(MiB, 0x3c))).toBe(true);
  });

  it("touches no existing target when its first stored chunk is corrupt: the punch waits for it", async () => {
    const { dir, repo, repoDir, m } = await fullBackup();
    flipByte(join(repoDir, (m.chunks[0] as Extract<ChunkEntry, { kind: "full" }>).object.key), 10);
    const target = makeFile(join(dir, "existing"), MiB, [{ offset: 0, data: Buffer.alloc(MiB, 0x3c) }]);
    const runner = new FakeRunner().on(["fallocate"], {});
    const e = await mustFail(restoreToTarget(repo, "b1", { path: target }, { threads: 2, runner }));
    expect([e.code, e.details.chunk]).toEqual(["BACKUP_CORRUPT", 0]);
    expect(runner.commands()).toEqual([]);
    expect(readFileSync(target).equals(Buffer.alloc(MiB, 0x3c))).toBe(true);
  });

  it("refuses a target smaller than the backup before writing", async () => {
    const { dir, repo } = await fullBackup();
    const small = makeFile(join(dir, "small"), MiB - 512, [{ offset: 0, data: Buffer.alloc(10, 7) }]);
    const e = await mustFail(restoreToTarget(repo, "b1", { path: small }, { threads: 0 }));
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.details).toMatchObject({ targetBytes: MiB - 512, backupBytes: MiB });
    expect(readFileSync(small).subarray(0, 10).equals(Buffer.alloc(10, 7))).toBe(true);
  });

  it("restores into a bigger existing file, leaving its tail alone", async () => {
    const { dir, repo, file } = await fullBackup();
    const big = makeFile(join(dir, "big"), 2 * MiB, [{ offset: 0, data: Buffer.alloc(2 * MiB, 0x11) }]);
    const runner = new FakeRunner().on(["fallocate"], {});
    const report = await must(restoreToTarget(repo, "b1", { path: big }, { threads: 0, runner }));
    expect(report.holes).toBe("punch");
    expect(runner.commands()).toEqual([["fallocate", "--punch-hole", "--keep-size", "--offset", "0", "--length", String(MiB), big]]);
    const bytes = readFileSync(big);
    expect(bytes.subarray(0, MiB).equals(readFileSync(file))).toBe(true);
    expect(bytes.subarray(MiB).equals(Buffer.alloc(MiB, 0x11))).toBe(true);
  });
});

describe("verifyBackup", () => {
  it("checks a sound backup without writing anything", async () => {
    const { repo, m } = await fullBackup();
    const report = await must(verifyBackup(repo, "b1", { threads: 2 }));
    expect(report).toMatchObject({ backupId: "b1", level: "content", chunksChecked: 8, objectsChecked: 8 + m.hashSegments.length });
  });

  it("lists every corrupt or missing object", async () => {
    const { repo, repoDir, m } = await fullBackup();
    const c2 = m.chunks[2] as Extract<ChunkEntry, { kind: "full" }>;
    const c6 = m.chunks[6] as Extract<ChunkEntry, { kind: "full" }>;
    flipByte(join(repoDir, c2.object.key), 0);
    await must(repo.delete([c6.object.key], ctx));
    const e = await mustFail(verifyBackup(repo, "b1", { threads: 0 }));
    expect(e.code).toBe("BACKUP_CORRUPT");
    const problems = e.details.problems as { chunk?: number; reason: string }[];
    expect(problems.map((p) => [p.chunk, p.reason]).sort()).toEqual([
      [2, "stored-digest"],
      [6, "missing"],
    ]);
  });

  it("reports a manifest that is not valid as BACKUP_CORRUPT", async () => {
    const { repo } = await fullBackup(256 * KiB);
    await must(repo.put("backups/b1/manifest.json", Buffer.from('{"format":"volkit-backup","version":1,"secret":"do not echo"'), ctx));
    const e = await mustFail(verifyBackup(repo, "b1", { threads: 0 }));
    expect(e.code).toBe("BACKUP_CORRUPT");
    expect(e.message).not.toContain("do not echo");
  });
});

describe("abort and deadline", () => {
  it("leaves no manifest and no objects when aborted mid-backup", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const file = makeFile(join(dir, "vol"), 8 * MiB, [{ offset: 0, data: random(8 * MiB) }]);
    const ac = new AbortController();
    const events = new EventBus();
    let progressed = 0;
    events.on((e) => {
      if (e.type === "progress" && ++progressed === 3) ac.abort();
    });
    const e = await mustFail(backupFromSource(repo, { path: file, allocation: "none" }, { threads: 2, chunkSize: 256 * KiB, backupId: "aborted", signal: ac.signal, events }));
    expect(e.code).toBe("ABORTED");
    expect(progressed).toBeGreaterThanOrEqual(3);
    expect(progressed).toBeLessThan(32);
    expect(await allKeys(repo)).toEqual([]);
  });

  it("leaves the parent without a marker when an incremental is aborted", async () => {
    const { repo, file } = await fullBackup();
    const ac = new AbortController();
    const events = new EventBus();
    events.on((e) => void (e.type === "progress" && ac.abort()));
    const before = await allKeys(repo);
    const e = await mustFail(backupFromSource(repo, { path: file, allocation: "none" }, { threads: 0, backupId: "b2", parent: "b1", signal: ac.signal, events }));
    expect(e.code).toBe("ABORTED");
    expect(await allKeys(repo)).toEqual(before);
  });

  it("a retry with the same id replaces what a crashed attempt left", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const file = makeFile(join(dir, "vol"), 256 * KiB, [{ offset: 0, data: random(100) }]);
    await must(repo.put("backups/again/chunks/00000001.delta", Buffer.from("stale"), ctx));
    const m = await must(backupFromSource(repo, { path: file, allocation: "none" }, { threads: 0, chunkSize, backupId: "again" }));
    expect((await allKeys(repo)).sort()).toEqual(["backups/again/chunks/00000000.full", "backups/again/hashes/000000.bin", "backups/again/manifest.json"]);
    expect(m.chunks.map((c) => c.kind)).toEqual(["full", "hole"]);
  });

  it("fails with TIMEOUT past its deadline and cleans up", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const file = makeFile(join(dir, "vol"), 16 * MiB, [{ offset: 0, data: random(16 * MiB) }]);
    const e = await mustFail(backupFromSource(repo, { path: file, allocation: "none" }, { threads: 0, chunkSize: 64 * KiB, compression: "gzip", compressionLevel: 9, deadline: Date.now() + 30 }));
    expect(e.code).toBe("TIMEOUT");
    expect(await allKeys(repo)).toEqual([]);
  });

  it("restores nothing when aborted before starting", async () => {
    const { dir, repo } = await fullBackup();
    const ac = new AbortController();
    ac.abort();
    const out = join(dir, "never");
    expect((await mustFail(restoreToTarget(repo, "b1", { path: out }, { signal: ac.signal }))).code).toBe("ABORTED");
    expect(() => readFileSync(out)).toThrow();
  });
});
