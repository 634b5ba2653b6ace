import { CodecError, DIGEST_BYTES, compress, createDigester, decompress, decrypt, encrypt, isAllZero, sha256Hex, type CompressionSetting, type Digester } from "./codec.js";
import type { Compression } from "./manifest.js";

/**
 * The two jobs the worker threads run — encode a chunk read from the volume, decode an object read
 * from the repository — as plain functions of plain data (everything crosses `postMessage`).
 */

/** Settings fixed for one backup or restore, handed to every worker once. */
export interface JobConfig {
  /** Chunk size in bytes. */
  readonly chunkSize: number;
  /** Block size of the block digests. */
  readonly blockSize: number;
  /** Compression of new objects. */
  readonly compression: CompressionSetting;
  /** AES-256-GCM key (a derived sub-key), when encrypting. */
  readonly cipherKey?: Uint8Array;
  /** HMAC key of the digests (a derived sub-key), when encrypting; sha256 otherwise. */
  readonly digestKey?: Uint8Array;
  /** Store a changed chunk as a delta when at most this fraction of its blocks changed. */
  readonly deltaMaxFraction: number;
}

/** What is known of the same chunk in the parent backup (same length, has content). */
export interface ParentChunk {
  /** Digest of the parent's chunk (hex). */
  readonly digest: string;
  /** The parent's block digests of this chunk. */
  readonly blockDigests: Uint8Array;
  /** False when the parent's delta chain is at its depth limit: store whole. */
  readonly deltaAllowed: boolean;
}

/** Encode a chunk. */
export interface EncodeJob {
  /** Discriminator. */
  readonly type: "encode";
  /** Chunk number. */
  readonly index: number;
  /** Chunk bytes; `undefined` when the allocation map says the range is unallocated. */
  readonly data: Uint8Array | undefined;
  /** Chunk length. */
  readonly length: number;
  /** Key the whole chunk would be stored at (the AAD when encrypting). */
  readonly fullKey: string;
  /** Key a delta would be stored at. */
  readonly deltaKey: string;
  /** The parent's chunk, for incrementals. */
  readonly parent?: ParentChunk;
}

/** The encoded chunk. */
export type EncodeOutcome =
  | { readonly kind: "hole"; readonly index: number; readonly blockDigests: Uint8Array }
  | { readonly kind: "same"; readonly index: number; readonly blockDigests: Uint8Array; readonly digest: string }
  | {
      readonly kind: "full" | "delta";
      readonly index: number;
      readonly blockDigests: Uint8Array;
      readonly digest: string;
      /** Bytes to store. */
      readonly stored: Uint8Array;
      /** sha256 of `stored`. */
      readonly storedSha256: string;
      /** Compression of the payload. */
      readonly compression: Compression;
      /** Payload size before compression. */
      readonly rawSize: number;
      /** For deltas: the changed blocks as `[first, count]` runs. */
      readonly blocks?: readonly (readonly [number, number])[];
    };

/** Encode an arbitrary payload (a block digest segment). */
export interface PackJob {
  /** Discriminator. */
  readonly type: "pack";
  /** The payload. */
  readonly data: Uint8Array;
  /** Key it will be stored at (AAD). */
  readonly key: string;
}

/** A packed payload. */
export interface PackOutcome {
  /** Bytes to store. */
  readonly stored: Uint8Array;
  /** sha256 of `stored`. */
  readonly storedSha256: string;
  /** Compression used. */
  readonly compression: Compression;
}

/** Check and decode one stored object; optionally rebuild and check a chunk from it. */
export interface DecodeJob {
  /** Discriminator. */
  readonly type: "decode";
  /** The object's key (AAD when encrypted). */
  readonly key: string;
  /** The stored bytes. */
  readonly stored: Uint8Array;
  /** Expected sha256 of the stored bytes. */
  readonly sha256: string;
  /** Compression recorded for it. */
  readonly compression: Compression;
  /** Payload size recorded for it. */
  readonly rawSize: number;
  /** When the payload is (part of) a chunk: how to rebuild the chunk and the digest it must have. */
  readonly chunk?: {
    /** Chunk length. */
    readonly length: number;
    /** Expected digest (hex). */
    readonly digest: string;
    /** For a delta: the rebuilt base chunk and the changed block runs. */
    readonly delta?: { readonly base: Uint8Array; readonly blocks: readonly (readonly [number, number])[] };
  };
}

/** Any job. */
export type Job = EncodeJob | PackJob | DecodeJob;

/** What a job returns: its outcome, or a codec failure (never an exception across threads). */
export type JobResult<J extends Job> =
  | { readonly ok: true; readonly value: J extends EncodeJob ? EncodeOutcome : J extends PackJob ? PackOutcome : Uint8Array }
  | { readonly ok: false; readonly reason: CodecError["reason"] | "internal"; readonly message: string };

/** Per-thread state derived from a {@link JobConfig}. */
export interface JobEnv {
  /** The config. */
  readonly config: JobConfig;
  /** The digest function. */
  readonly digest: Digester;
  /** Digest of an all-zero block of each length seen (the last block of a volume may be short). */
  readonly zeroDigests: Map<number, Buffer>;
}

/** Builds the per-thread state. */
export function createJobEnv(config: JobConfig): JobEnv {
  return { config, digest: createDigester(config.digestKey), zeroDigests: new Map() };
}

/** Runs one job; codec failures come back as values. */
export async function runJob<J extends Job>(env: JobEnv, job: J): Promise<JobResult<J>> {
  try {
    const value = job.type === "encode" ? await encodeChunk(env, job) : job.type === "pack" ? await pack(env, job) : await decodeObject(env, job);
    return { ok: true, value } as JobResult<J>;
  } catch (e) {
    if (e instanceof CodecError) return { ok: false, reason: e.reason, message: e.message };
    return { ok: false, reason: "internal", message: e instanceof Error ? e.message : String(e) };
  }
}

/** Digest of `length` zero bytes (cached). */
export function zeroDigest(env: JobEnv, length: number): Buffer {
  let d = env.zeroDigests.get(length);
  if (d === undefined) {
    d = env.digest(Buffer.alloc(length));
    env.zeroDigests.set(length, d);
  }
  return d;
}

/** Block digests of a chunk of zeros, laid out like {@link blockDigestsOf}. */
export function zeroBlockDigests(env: JobEnv, length: number): Uint8Array {
  const { blockSize, chunkSize } = env.config;
  const out = new Uint8Array((chunkSize / blockSize) * DIGEST_BYTES);
  for (let b = 0, off = 0; off < length; b++, off += blockSize) out.set(zeroDigest(env, Math.min(blockSize, length - off)), b * DIGEST_BYTES);
  return out;
}

/**
 * The digest of a chunk: the digest of its block digests in order (a two-level hash tree). Each
 * byte is hashed once — for the block digests incrementals need — and all-zero blocks not at all
 * (their digest is cached), instead of a second full pass over every chunk.
 */
export function chunkDigest(env: JobEnv, blockDigests: Uint8Array, length: number): string {
  return env.digest(blockDigests.subarray(0, Math.ceil(length / env.config.blockSize) * DIGEST_BYTES)).toString("hex");
}

/** Digest of every block of a chunk (zero blocks from the cache), padded to a full chunk's slots. */
function blockDigestsOf(env: JobEnv, data: Uint8Array): Uint8Array {
  const { blockSize, chunkSize } = env.config;
  const out = new Uint8Array((chunkSize / blockSize) * DIGEST_BYTES);
  for (let b = 0, off = 0; off < data.length; b++, off += blockSize) {
    const block = data.subarray(off, Math.min(data.length, off + blockSize));
    out.set(isAllZero(block) ? zeroDigest(env, block.length) : env.digest(block), b * DIGEST_BYTES);
  }
  return out;
}

async function encodeChunk(env: JobEnv, job: EncodeJob): Promise<EncodeOutcome> {
  const { index, data, length } = job;
  if (data === undefined || isAllZero(data)) return { kind: "hole", index, blockDigests: zeroBlockDigests(env, length) };
  if (data.length !== length) throw new CodecError("size", `chunk ${index} has ${data.length} bytes, expected ${length}`);
  const blockDigests = blockDigestsOf(env, data);
  const digest = chunkDigest(env, blockDigests, length);
  const parent = job.parent;
  if (parent !== undefined && parent.digest === digest) return { kind: "same", index, blockDigests, digest };
  const changed = parent === undefined ? undefined : changedRuns(blockDigests, parent.blockDigests, Math.ceil(length / env.config.blockSize));
  const changedBlocks = changed?.reduce((n, [, c]) => n + c, 0) ?? 0;
  const blocksInChunk = Math.ceil(length / env.config.blockSize);
  const asDelta = changed !== undefined && parent?.deltaAllowed === true && changedBlocks > 0 && changedBlocks <= blocksInChunk * env.config.deltaMaxFraction;
  const payload = asDelta ? gatherBlocks(data, changed, env.config.blockSize) : data;
  const key = asDelta ? job.deltaKey : job.fullKey;
  const packed = await packPayload(env, payload, key);
  return {
    kind: asDelta ? "delta" : "full",
    index,
    blockDigests,
    digest,
    ...packed,
    rawSize: payload.length,
    ...(asDelta ? { blocks: changed } : {}),
  };
}

async function pack(env: JobEnv, job: PackJob): Promise<PackOutcome> {
  return packPayload(env, job.data, job.key);
}

async function packPayload(env: JobEnv, payload: Uint8Array, key: string): Promise<PackOutcome> {
  const { bytes, compression } = await compress(payload, env.config.compression);
  const stored = env.config.cipherKey === undefined ? bytes : encrypt(bytes, env.config.cipherKey, key);
  return { stored, storedSha256: sha256Hex(stored), compression };
}

/** Runs of blocks whose digests differ, as `[first, count]`. */
function changedRuns(current: Uint8Array, parent: Uint8Array, blocks: number): [number, number][] {
  const runs: [number, number][] = [];
  for (let b = 0; b < blocks; b++) {
    const at = b * DIGEST_BYTES;
    if (Buffer.compare(current.subarray(at, at + DIGEST_BYTES), parent.subarray(at, at + DIGEST_BYTES)) === 0) continue;
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] + last[1] === b) last[1]++;
    else runs.push([b, 1]);
  }
  return runs;
}

function gatherBlocks(data: Uint8Array, runs: readonly (readonly [number, number])[], blockSize: number): Buffer {
  return Buffer.concat(runs.map(([first, count]) => data.subarray(first * blockSize, Math.min(data.length, (first + count) * blockSize))));
}

async function decodeObject(env: JobEnv, job: DecodeJob): Promise<Uint8Array> {
  if (job.stored.length === 0 && job.rawSize === 0) return new Uint8Array(0);
  const actual = sha256Hex(job.stored);
  if (actual !== job.sha256) throw new CodecError("stored-digest", `stored bytes have sha256 ${actual}, the manifest records ${job.sha256}`);
  const plain = env.config.cipherKey === undefined ? job.stored : decrypt(job.stored, env.config.cipherKey, job.key);
  const payload = await decompress(plain, job.compression, job.rawSize);
  if (job.chunk === undefined) return payload;
  const { length, digest, delta } = job.chunk;
  let chunk: Uint8Array = payload;
  if (delta !== undefined) {
    if (delta.base.length !== length) throw new CodecError("size", `delta base has ${delta.base.length} bytes, expected ${length}`);
    const rebuilt = Buffer.from(delta.base.buffer, delta.base.byteOffset, delta.base.byteLength);
    let from = 0;
    for (const [first, count] of delta.blocks) {
      const start = first * env.config.blockSize;
      const end = Math.min(length, (first + count) * env.config.blockSize);
      if (from + end - start > payload.length) throw new CodecError("size", "delta payload is shorter than its block runs");
      payload.copy(rebuilt, start, from, from + end - start);
      from += end - start;
    }
    if (from !== payload.length) throw new CodecError("size", "delta payload is longer than its block runs");
    chunk = rebuilt;
  }
  if (chunk.length !== length) throw new CodecError("size", `chunk has ${chunk.length} bytes, expected ${length}`);
  const actualDigest = chunkDigest(env, blockDigestsOf(env, chunk), length);
  if (actualDigest !== digest) throw new CodecError("content-digest", `rebuilt chunk has digest ${actualDigest}, the manifest records ${digest}`);
  return chunk;
}
