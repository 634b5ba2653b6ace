import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { backupFromSource, restoreToTarget, verifyBackup, type BackupManifest, type ChunkEntry } from "../../../src/backup/index.js";
import { KiB, MiB, makeFile, must, patchFile, random, sha256File, tempDir, tempRepo, text } from "./helpers.js";

const opts = { threads: 0, chunkSize: 256 * KiB } as const;
const src = (path: string) => ({ path, allocation: "none" as const });

function stored(m: BackupManifest): ChunkEntry[] {
  return m.chunks.filter((c) => c.kind !== "hole" && c.object.key.startsWith(`backups/${m.backupId}/`));
}

describe("incremental backups", () => {
  it("stores one changed chunk for a 1-byte change, as a delta of one 32 KiB block", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const file = makeFile(join(dir, "vol"), 4 * MiB, [{ offset: 0, data: random(4 * MiB) }]);
    const full = await must(backupFromSource(repo, src(file), { ...opts, backupId: "full" }));
    const originalSha = sha256File(file);
    patchFile(file, 1_234_567, Buffer.from([(readFileSync(file)[1_234_567] as number) ^ 0xff]));
    const incr = await must(backupFromSource(repo, src(file), { ...opts, backupId: "incr", parent: "full" }));
    const changed = stored(incr);
    expect(changed).toHaveLength(1);
    const delta = changed[0] as Extract<ChunkEntry, { kind: "delta" }>;
    expect(delta).toMatchObject({ kind: "delta", index: Math.floor(1_234_567 / (256 * KiB)), base: "full", depth: 1 });
    expect(delta.blocks).toEqual([[Math.floor((1_234_567 % (256 * KiB)) / (32 * KiB)), 1]]);
    expect(delta.object.rawSize).toBe(32 * KiB);
    expect(incr.stats).toMatchObject({ chunksStored: 1, chunksReused: 15, chunksHoles: 0 });
    expect(incr.parent?.backupId).toBe("full");
    expect(incr.chain).toEqual(["full"]);
    // Unchanged chunks point at the parent's objects.
    expect(incr.chunks.filter((c) => c.kind === "full").every((c) => c.object.key.startsWith("backups/full/"))).toBe(true);

    const outIncr = join(dir, "incr.raw");
    await must(restoreToTarget(repo, "incr", { path: outIncr }, { threads: 0 }));
    expect(sha256File(outIncr)).toBe(sha256File(file));
    const outFull = join(dir, "full.raw");
    await must(restoreToTarget(repo, "full", { path: outFull }, { threads: 0 }));
    expect(sha256File(outFull)).toBe(originalSha);
    expect(full.stats.chunksStored).toBe(16);
  });

  it("stores a chunk whole when more than half of its blocks changed, and as a hole when zeroed", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const file = makeFile(join(dir, "vol"), MiB, [{ offset: 0, data: text(MiB) }]);
    await must(backupFromSource(repo, src(file), { ...opts, backupId: "a" }));
    patchFile(file, 0, random(200 * KiB)); // 7 of 8 blocks of chunk 0
    patchFile(file, 256 * KiB, Buffer.alloc(256 * KiB)); // chunk 1 zeroed
    const b = await must(backupFromSource(repo, src(file), { ...opts, backupId: "b", parent: "a" }));
    expect(b.chunks.map((c) => c.kind)).toEqual(["full", "hole", "full", "full"]);
    expect((b.chunks[0] as { object: { key: string } }).object.key).toBe("backups/b/chunks/00000000.full");
    const out = join(dir, "out");
    await must(restoreToTarget(repo, "b", { path: out }, { threads: 0 }));
    expect(sha256File(out)).toBe(sha256File(file));
  });

  it("follows a chain of deltas, and stores whole again at the depth limit", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const file = makeFile(join(dir, "vol"), 512 * KiB, [{ offset: 0, data: random(512 * KiB) }]);
    await must(backupFromSource(repo, src(file), { ...opts, backupId: "g0" }));
    const shas: string[] = [sha256File(file)];
    for (let g = 1; g <= 4; g++) {
      patchFile(file, g * 40 * KiB, random(10));
      const m = await must(backupFromSource(repo, src(file), { ...opts, backupId: `g${g}`, parent: `g${g - 1}`, maxDeltaDepth: 3 }));
      shas.push(sha256File(file));
      const c0 = m.chunks[0] as ChunkEntry;
      expect(c0.kind).toBe(g <= 3 ? "delta" : "full");
      if (c0.kind === "delta") expect(c0.depth).toBe(g);
      expect(m.chain).toEqual(Array.from({ length: g }, (_, i) => `g${i}`));
    }
    for (let g = 0; g <= 4; g++) {
      const out = join(dir, `g${g}.raw`);
      await must(restoreToTarget(repo, `g${g}`, { path: out }, { threads: 0 }));
      expect(sha256File(out)).toBe(shas[g]);
      expect((await must(verifyBackup(repo, `g${g}`, { threads: 0 }))).level).toBe("content");
    }
  });

  it("backs up a grown volume against a smaller parent", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const file = makeFile(join(dir, "vol"), 300 * KiB, [{ offset: 0, data: random(300 * KiB) }]);
    await must(backupFromSource(repo, src(file), { ...opts, backupId: "small" }));
    makeFile(join(dir, "grown"), 700 * KiB, [{ offset: 0, data: Buffer.concat([readFileSync(file), random(400 * KiB)]) }]);
    const m = await must(backupFromSource(repo, src(join(dir, "grown")), { ...opts, backupId: "grown", parent: "small" }));
    expect(m.chunks.map((c) => c.kind)).toEqual(["full", "full", "full"]);
    expect((m.chunks[0] as { object: { key: string } }).object.key).toBe("backups/small/chunks/00000000.full");
    const out = join(dir, "out");
    await must(restoreToTarget(repo, "grown", { path: out }, { threads: 0 }));
    expect(sha256File(out)).toBe(sha256File(join(dir, "grown")));
  });
});
