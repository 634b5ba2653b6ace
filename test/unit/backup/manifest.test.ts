import { describe, expect, it } from "vitest";
import { BackupManifestSchema, MANIFEST_VERSION, manifestBytes, parseManifest, type BackupManifest } from "../../../src/backup/index.js";

const h = (c: string): string => c.repeat(64);
const obj = (key: string, rawSize = 65536) => ({ key, size: 100, sha256: h("a"), compression: "zstd" as const, rawSize });
const KiB = 1024;

/** A small valid incremental manifest: 3 chunks of 64 KiB (last one short), parent "p". */
function sample(): BackupManifest {
  return {
    format: "volkit-backup",
    version: MANIFEST_VERSION,
    backupId: "child",
    volumeId: "vol-1",
    createdAt: "2026-01-02T03:04:05.000Z",
    completedAt: "2026-01-02T03:04:06.000Z",
    sizeBytes: 2 * 64 * KiB + 100,
    chunkSize: 64 * KiB,
    blockSize: 32 * KiB,
    digest: "sha256",
    parent: { backupId: "p", manifestSha256: h("b") },
    chain: ["p"],
    chunks: [
      { index: 0, offset: 0, length: 64 * KiB, kind: "full", digest: h("c"), object: obj("backups/p/chunks/00000000.full") },
      { index: 1, offset: 64 * KiB, length: 64 * KiB, kind: "delta", digest: h("d"), base: "p", blocks: [[1, 1]], depth: 1, object: obj("backups/child/chunks/00000001.delta", 32 * KiB) },
      { index: 2, offset: 128 * KiB, length: 100, kind: "hole" },
    ],
    hashSegments: [{ firstChunk: 0, chunkCount: 3, object: obj("backups/child/hashes/000000.bin", 3 * 2 * 32) }],
    stats: { chunksStored: 1, chunksReused: 1, chunksHoles: 1, storedBytes: 200, bytesRead: 131072, dataBytes: 131072, durationMs: 5 },
  };
}

function problems(m: unknown): string {
  const r = BackupManifestSchema.safeParse(m);
  return r.success ? "" : r.error.issues.map((i) => i.message).join("; ");
}

describe("backup manifest", () => {
  it("accepts a consistent manifest and round-trips through its serialized bytes", () => {
    const m = sample();
    expect(problems(m)).toBe("");
    const bytes = manifestBytes(m);
    const loaded = parseManifest(bytes, "child")._unsafeUnwrap();
    expect(loaded.manifest).toEqual(m);
    expect(loaded.sha256).toMatch(/^[0-9a-f]{64}$/);
    // One line per chunk: a large manifest streams in small pieces.
    expect(bytes.toString().split("\n").filter((l) => l.startsWith('{"index"'))).toHaveLength(3);
  });

  it("requires the chunk map to tile the volume", () => {
    const m = sample();
    expect(problems({ ...m, chunks: m.chunks.slice(0, 2) })).toContain("expected 3 chunks");
    const shifted = structuredClone(m);
    (shifted.chunks[1] as { offset: number }).offset = 1;
    expect(problems(shifted)).toContain("chunk 1 has index/offset/length");
    const short = structuredClone(m);
    (short.chunks[2] as { length: number }).length = 99;
    expect(problems(short)).toContain("chunk 2");
  });

  it("requires deltas to point into the chain with ordered, in-range block runs", () => {
    const m = structuredClone(sample());
    (m.chunks[1] as { base: string }).base = "stranger";
    expect(problems(m)).toContain("not in the chain");
    const runs = structuredClone(sample());
    (runs.chunks[1] as { blocks: [number, number][] }).blocks = [[1, 1], [0, 1]];
    expect(problems(runs)).toContain("out of order or range");
    const past = structuredClone(sample());
    (past.chunks[1] as { blocks: [number, number][] }).blocks = [[1, 2]];
    expect(problems(past)).toContain("out of order or range");
  });

  it("requires digest segments to cover every chunk with the right number of digests", () => {
    const m = sample();
    expect(problems({ ...m, hashSegments: [] })).toContain("cover 0 chunks of 3");
    expect(problems({ ...m, hashSegments: [{ ...m.hashSegments[0], object: obj("backups/child/hashes/000000.bin", 10) }] })).toContain("digests");
  });

  it("requires parent and chain to agree", () => {
    const m = sample();
    expect(problems({ ...m, chain: [] })).toContain("parent and chain disagree");
    expect(problems({ ...m, chain: ["x", "y"], chunks: m.chunks.map((c) => (c.kind === "delta" ? { ...c, base: "x" } : c)) })).toContain("must end with the parent");
    expect(problems({ ...m, chain: ["child", "p"] })).toContain("repeats");
  });

  it("rejects unknown fields, versions and formats, and chunk sizes that are not whole blocks", () => {
    expect(problems({ ...sample(), extra: 1 })).not.toBe("");
    expect(problems({ ...sample(), version: 2 })).not.toBe("");
    expect(problems({ ...sample(), format: "other" })).not.toBe("");
    expect(problems({ ...sample(), chunkSize: 64 * KiB + 4096 })).toContain("not a multiple of blockSize");
    expect(problems({ ...sample(), encryption: { algorithm: "aes-256-gcm", kdf: "hkdf-sha256", keyCheck: h("e"), key: "x" } })).not.toBe("");
  });

  it("turns unreadable bytes into BACKUP_CORRUPT without quoting them", () => {
    const e = parseManifest(Buffer.from('{"secret": "hunter2-hunter2'), "b1")._unsafeUnwrapErr();
    expect(e.code).toBe("BACKUP_CORRUPT");
    expect(e.message).not.toContain("hunter2");
    expect(parseManifest(manifestBytes(sample()), "someone-else")._unsafeUnwrapErr().message).toContain("names backup child");
  });
});
