import { createHash } from "node:crypto";
import { type Result, err, ok } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../core/errors.js";
import { BackupIdSchema, ObjectKeySchema } from "./backup-keys.js";

/**
 * The backup manifest: one JSON document that describes a backup completely — volume size, chunk
 * and block sizes, every chunk (hole, whole object or delta against an ancestor) with its digest,
 * where each object is and how it is encoded, the block-digest objects, the parent chain and the
 * encryption parameters (never the key). With the repository alone (no database) a fresh host can
 * list, verify and restore a backup.
 */

/** The `format` field of every manifest. */
export const MANIFEST_FORMAT = "volkit-backup";
/** Version of the manifest layout this code writes (and the highest it reads). */
export const MANIFEST_VERSION = 1;

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits");
const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Compression of one stored object. */
export const CompressionSchema = z.enum(["zstd", "gzip", "none"]);
/** Compression of one stored object (`none` when compressing did not make it smaller). */
export type Compression = z.output<typeof CompressionSchema>;

/** A stored object as a chunk or a digest segment refers to it. */
export const ObjectRefSchema = z.strictObject({
  /** Repository key (it may belong to an ancestor backup: unchanged chunks are reused). */
  key: ObjectKeySchema,
  /** Stored bytes (after compression and encryption). */
  size: Count,
  /** sha256 of the stored bytes: checked before anything is decoded. */
  sha256: Hex64,
  /** How the payload was compressed. */
  compression: CompressionSchema,
  /** Payload size before compression. */
  rawSize: Count,
});
/** A stored object as a chunk or a digest segment refers to it. */
export type ObjectRef = z.output<typeof ObjectRefSchema>;

const ChunkBase = {
  /** Chunk number, from 0. */
  index: Count,
  /** Byte offset in the volume (`index * chunkSize`). */
  offset: Count,
  /** Bytes covered (`chunkSize`, less for the last chunk). */
  length: Count.min(1),
};

/** A chunk that reads as zeros (all-zero data or an unallocated region): nothing is stored. */
export const HoleChunkSchema = z.strictObject({ ...ChunkBase, kind: z.literal("hole") });
/** A chunk stored whole. */
export const FullChunkSchema = z.strictObject({
  ...ChunkBase,
  kind: z.literal("full"),
  /**
   * Digest of the chunk: the digest (see {@link BackupManifest.digest}) of its 32 KiB block
   * digests concatenated in order — a two-level hash tree, so every byte is hashed once.
   */
  digest: Hex64,
  /** The object holding it. */
  object: ObjectRefSchema,
});
/**
 * A chunk stored as the blocks that differ from the same chunk of backup `base` (an ancestor):
 * restore rebuilds `base`'s chunk, overlays the blocks, and checks `digest`.
 */
export const DeltaChunkSchema = z.strictObject({
  ...ChunkBase,
  kind: z.literal("delta"),
  /** Digest of the rebuilt chunk. */
  digest: Hex64,
  /** Ancestor backup whose chunk `index` is the base. */
  base: BackupIdSchema,
  /** Changed blocks as `[firstBlock, count]` runs, block numbers within the chunk. */
  blocks: z.array(z.tuple([Count, Count.min(1)])).min(1),
  /** Deltas stacked under this one (1 = its base is a full chunk); bounded so restores stay fast. */
  depth: z.number().int().min(1).max(64),
  /** The object holding the changed blocks, concatenated. */
  object: ObjectRefSchema,
});
/** One entry of the chunk map. */
export const ChunkEntrySchema = z.discriminatedUnion("kind", [HoleChunkSchema, FullChunkSchema, DeltaChunkSchema]);
/** One entry of the chunk map. */
export type ChunkEntry = z.output<typeof ChunkEntrySchema>;
/** A stored (non-hole) chunk entry. */
export type StoredChunkEntry = Exclude<ChunkEntry, { kind: "hole" }>;

/** A run of chunks whose 32 KiB block digests are in one object. */
export const HashSegmentSchema = z.strictObject({
  /** First chunk covered. */
  firstChunk: Count,
  /** Chunks covered. */
  chunkCount: Count.min(1),
  /** The object: `chunkCount * blocksPerChunk` digests of 32 bytes, chunk after chunk (a short last chunk padded with zero bytes). */
  object: ObjectRefSchema,
});
/** A run of chunks whose block digests are in one object. */
export type HashSegment = z.output<typeof HashSegmentSchema>;

/** Encryption parameters (the key itself is never stored). */
export const EncryptionParamsSchema = z.strictObject({
  /** Cipher of every object: AES-256-GCM, a random 96-bit IV per object, the object key as AAD. */
  algorithm: z.literal("aes-256-gcm"),
  /** Sub-keys for the cipher, the digests and the key check are derived with HKDF-SHA256. */
  kdf: z.literal("hkdf-sha256"),
  /** HMAC of a fixed label under a derived key: tells a wrong key apart before any data is read. */
  keyCheck: Hex64,
});
/** Encryption parameters of a backup. */
export type EncryptionParams = z.output<typeof EncryptionParamsSchema>;

/** The parent of an incremental backup. */
export const ParentRefSchema = z.strictObject({
  /** Parent backup id. */
  backupId: BackupIdSchema,
  /** sha256 of the parent's manifest bytes: a replaced parent is detected. */
  manifestSha256: Hex64,
});

/** Figures recorded when the backup completed. */
export const BackupStatsSchema = z.strictObject({
  /** Chunks stored in this backup (whole or delta). */
  chunksStored: Count,
  /** Chunks unchanged since the parent (objects reused). */
  chunksReused: Count,
  /** Chunks recorded as holes. */
  chunksHoles: Count,
  /** Bytes written to the repository for this backup (chunks and digest segments). */
  storedBytes: Count,
  /** Volume bytes read from the source (unallocated regions are not read). */
  bytesRead: Count,
  /** Volume bytes that are data (not holes). */
  dataBytes: Count,
  /** Wall-clock duration of the backup. */
  durationMs: Count,
});
/** Figures recorded when the backup completed. */
export type BackupStats = z.output<typeof BackupStatsSchema>;

/** The manifest (version 1). */
export const BackupManifestSchema = z
  .strictObject({
    /** Always {@link MANIFEST_FORMAT}. */
    format: z.literal(MANIFEST_FORMAT),
    /** Layout version, {@link MANIFEST_VERSION}. */
    version: z.literal(MANIFEST_VERSION),
    /** This backup's id. */
    backupId: BackupIdSchema,
    /** Id of the volume backed up, when the caller gave one. */
    volumeId: BackupIdSchema.optional(),
    /** Free-form description (never reaches a command). */
    description: z.string().max(1024).optional(),
    /** When the backup started (ISO 8601). */
    createdAt: z.iso.datetime(),
    /** When it was published (ISO 8601). */
    completedAt: z.iso.datetime(),
    /** Volume size in bytes. */
    sizeBytes: Count.min(1),
    /** Chunk size in bytes. */
    chunkSize: z.number().int().min(64 * 1024).max(256 * 1024 * 1024),
    /** Block size of the block digests (32 KiB, as Cinder's sha256file). */
    blockSize: z.number().int().min(4096).max(1024 * 1024),
    /** `sha256`, or `hmac-sha256` (keyed by a sub-key of the encryption key) for encrypted backups. */
    digest: z.enum(["sha256", "hmac-sha256"]),
    /** Encryption parameters; absent when not encrypted. */
    encryption: EncryptionParamsSchema.optional(),
    /** The parent of an incremental; absent for a full backup. */
    parent: ParentRefSchema.optional(),
    /** Ancestors, oldest first (the full backup first); empty for a full backup. */
    chain: z.array(BackupIdSchema),
    /** One entry per chunk, in order. */
    chunks: z.array(ChunkEntrySchema),
    /** The block digest segments, in order, covering every chunk. */
    hashSegments: z.array(HashSegmentSchema),
    /** Figures of the run. */
    stats: BackupStatsSchema,
  })
  .superRefine((m, ctx) => {
    const problem = consistencyProblem(m);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  });
/** A parsed manifest. */
export type BackupManifest = z.output<typeof BackupManifestSchema>;

/** Number of chunks of a volume of `sizeBytes` cut in `chunkSize` chunks. */
export function chunkCount(sizeBytes: number, chunkSize: number): number {
  return Math.ceil(sizeBytes / chunkSize);
}

/** Length of chunk `index`. */
export function chunkLength(sizeBytes: number, chunkSize: number, index: number): number {
  return Math.min(chunkSize, sizeBytes - index * chunkSize);
}

/** What the schema cannot say field by field: the chunk map tiles the volume, segments tile the chunks, the chain fits. */
function consistencyProblem(m: Omit<BackupManifest, never>): string | undefined {
  if (m.chunkSize % m.blockSize !== 0) return `chunkSize ${m.chunkSize} is not a multiple of blockSize ${m.blockSize}`;
  const count = chunkCount(m.sizeBytes, m.chunkSize);
  if (m.chunks.length !== count) return `expected ${count} chunks for ${m.sizeBytes} bytes, found ${m.chunks.length}`;
  const blocksPerChunk = m.chunkSize / m.blockSize;
  const ancestors = new Set(m.chain);
  if ((m.parent === undefined) !== (m.chain.length === 0)) return "parent and chain disagree";
  if (m.parent !== undefined && m.chain[m.chain.length - 1] !== m.parent.backupId) return "the chain must end with the parent";
  if (ancestors.has(m.backupId) || ancestors.size !== m.chain.length) return "the chain repeats a backup";
  for (const [i, c] of m.chunks.entries()) {
    if (c.index !== i || c.offset !== i * m.chunkSize || c.length !== chunkLength(m.sizeBytes, m.chunkSize, i)) return `chunk ${i} has index/offset/length ${c.index}/${c.offset}/${c.length}`;
    if (c.kind === "delta") {
      if (!ancestors.has(c.base)) return `chunk ${i} is a delta against ${c.base}, which is not in the chain`;
      const blocksInChunk = Math.ceil(c.length / m.blockSize);
      let next = 0;
      for (const [first, n] of c.blocks) {
        if (first < next || first + n > Math.min(blocksInChunk, blocksPerChunk)) return `chunk ${i} has block run [${first}, ${n}] out of order or range`;
        next = first + n;
      }
    }
  }
  let expected = 0;
  for (const s of m.hashSegments) {
    if (s.firstChunk !== expected) return `hash segment starting at chunk ${s.firstChunk}, expected ${expected}`;
    if (s.object.rawSize !== s.chunkCount * blocksPerChunk * 32) return `hash segment at chunk ${s.firstChunk} has ${s.object.rawSize} bytes of digests, expected ${s.chunkCount * blocksPerChunk * 32}`;
    expected += s.chunkCount;
  }
  if (expected !== count) return `hash segments cover ${expected} chunks of ${count}`;
  return undefined;
}

/** A parsed manifest and the sha256 of the bytes it was read from. */
export interface LoadedManifest {
  /** The manifest. */
  readonly manifest: BackupManifest;
  /** sha256 of its bytes (children record it). */
  readonly sha256: string;
}

/**
 * Parses and validates manifest bytes. Anything wrong is `BACKUP_CORRUPT` naming the backup and
 * the first problems (never the JSON parser's message, which quotes input).
 */
export function parseManifest(bytes: Uint8Array, backupId: string): Result<LoadedManifest, VolkitError> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return err(corruptManifest(backupId, "is not valid JSON"));
  }
  const parsed = BackupManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "manifest"}: ${i.message}`);
    return err(corruptManifest(backupId, `does not match the manifest schema (${issues.join("; ")})`));
  }
  if (parsed.data.backupId !== backupId) return err(corruptManifest(backupId, `names backup ${parsed.data.backupId}`));
  return ok({ manifest: parsed.data, sha256: sha256Hex(bytes) });
}

/**
 * Serializes a manifest: a header, then one line per chunk, so even a manifest of a large
 * volume is written as a stream of small pieces.
 */
export function* serializeManifest(manifest: BackupManifest): Generator<Uint8Array> {
  const { chunks, hashSegments, ...header } = manifest;
  const head = JSON.stringify(header);
  yield Buffer.from(`${head.slice(0, -1)},\n"hashSegments":${JSON.stringify(hashSegments)},\n"chunks":[\n`);
  for (const [i, c] of chunks.entries()) yield Buffer.from(`${JSON.stringify(c)}${i + 1 < chunks.length ? "," : ""}\n`);
  yield Buffer.from("]}\n");
}

/** The manifest as one buffer (records, tests). */
export function manifestBytes(manifest: BackupManifest): Buffer {
  return Buffer.concat([...serializeManifest(manifest)]);
}

/** sha256 of bytes, lower-case hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function corruptManifest(backupId: string, what: string): VolkitError {
  return new VolkitError("BACKUP_CORRUPT", `manifest of backup ${backupId} ${what}`, { source: "backup", details: { backupId, object: `backups/${backupId}/manifest.json` } });
}
