import { type Result, err, ok } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import type { VolkitError } from "../core/errors.js";
import { jobError, missingAsCorrupt } from "./backup-errors.js";
import { chunkKey, hashSegmentKey } from "./backup-keys.js";
import type { ParentChunk } from "./chunk-jobs.js";
import type { CompressionSetting } from "./codec.js";
import { ParentDigests, SegmentWriter } from "./hash-segments.js";
import { chunkLength, type BackupStats, type ChunkEntry, type HashSegment, type LoadedManifest } from "./manifest.js";
import type { BackupRepository } from "./repository.js";
import type { SourceReader } from "./source-reader.js";
import type { JobRunner } from "./worker-pool.js";

/** What the engine decided before the first chunk. */
export interface BackupPlan {
  /** The new backup. */
  readonly backupId: string;
  /** Bytes backed up. */
  readonly sizeBytes: number;
  /** Chunk size. */
  readonly chunkSize: number;
  /** Block digest size. */
  readonly blockSize: number;
  /** Number of chunks. */
  readonly count: number;
  /** Parent of an incremental. */
  readonly parent: LoadedManifest | undefined;
  /** Compression of new objects. */
  readonly compression: CompressionSetting;
  /** Worker threads. */
  readonly threads: number;
  /** Chunks in flight at most. */
  readonly inFlight: number;
  /** Deltas stacked on one chunk at most. */
  readonly maxDeltaDepth: number;
}

/** The chunk map, digest segments and figures of a finished run. */
export interface ChunksOutcome {
  /** One entry per chunk. */
  readonly chunks: ChunkEntry[];
  /** Block digest segments. */
  readonly hashSegments: HashSegment[];
  /** Figures (without `bytesRead` and `durationMs`, added by the engine). */
  readonly stats: Omit<BackupStats, "bytesRead" | "durationMs">;
}

/**
 * Runs every chunk through read → encode (worker) → store, at most `plan.inFlight` at a time.
 * The first failure (or the abort of `ctx`) stops new chunks; the call returns only once every
 * chunk in flight has settled, so no object is written after it returns.
 */
export async function runBackupChunks(repo: BackupRepository, ctx: OperationContext, plan: BackupPlan, jobs: JobRunner, reader: SourceReader): Promise<Result<ChunksOutcome, VolkitError>> {
  const run = new ChunkRun(repo, ctx, plan, jobs, reader);
  let failure: VolkitError | undefined;
  const running = new Set<Promise<void>>();
  for (let index = 0; index < plan.count; index++) {
    while (running.size >= plan.inFlight) await Promise.race(running);
    failure ??= ctx.abortError();
    if (failure !== undefined) break;
    // Chunks are read in order (the allocation cursor moves forward); encoding and storing overlap.
    const read = await reader.read(index * plan.chunkSize, chunkLength(plan.sizeBytes, plan.chunkSize, index), ctx);
    if (read.isErr()) {
      failure = read.error;
      break;
    }
    const task: Promise<void> = run.chunk(index, read.value).then((r) => {
      if (r.isErr()) failure ??= r.error;
      running.delete(task);
    });
    running.add(task);
  }
  await Promise.all(running);
  failure ??= ctx.abortError();
  if (failure !== undefined) return err(failure);
  return ok(run.outcome());
}

class ChunkRun {
  readonly #entries: ChunkEntry[] = [];
  readonly #segments: SegmentWriter;
  readonly #parentDigests: ParentDigests | undefined;
  readonly #stats = { chunksStored: 0, chunksReused: 0, chunksHoles: 0, storedBytes: 0, dataBytes: 0 };
  #done = 0;

  constructor(
    readonly repo: BackupRepository,
    readonly ctx: OperationContext,
    readonly plan: BackupPlan,
    readonly jobs: JobRunner,
    readonly reader: SourceReader,
  ) {
    this.#segments = new SegmentWriter(plan.count, plan.chunkSize, plan.blockSize, (segment, firstChunk, chunkCount, digests) => this.#storeSegment(segment, firstChunk, chunkCount, digests));
    const parent = plan.parent?.manifest;
    this.#parentDigests = parent === undefined ? undefined : new ParentDigests(parent, (s) => this.#loadParentSegment(parent.backupId, s));
  }

  outcome(): ChunksOutcome {
    return { chunks: this.#entries, hashSegments: this.#segments.segments(), stats: { ...this.#stats } };
  }

  async chunk(index: number, data: Uint8Array | undefined): Promise<Result<void, VolkitError>> {
    const { plan, ctx } = this;
    const offset = index * plan.chunkSize;
    const length = chunkLength(plan.sizeBytes, plan.chunkSize, index);
    const parentEntry = plan.parent?.manifest.chunks[index];
    const stored = parentEntry !== undefined && parentEntry.kind !== "hole" && parentEntry.length === length ? parentEntry : undefined;
    let parent: ParentChunk | undefined;
    if (stored !== undefined && data !== undefined && this.#parentDigests !== undefined) {
      const digests = await this.#parentDigests.forChunk(index);
      if (digests.isErr()) return err(digests.error);
      parent = { digest: stored.digest, blockDigests: digests.value, deltaAllowed: (stored.kind === "delta" ? stored.depth : 0) < plan.maxDeltaDepth };
    }
    const fullKey = chunkKey(plan.backupId, index, "full");
    const result = await this.jobs.run({ type: "encode", index, data, length, fullKey, deltaKey: chunkKey(plan.backupId, index, "delta"), ...(parent ? { parent } : {}) });
    if (!result.ok) return err(jobError(result, { backupId: plan.backupId, chunk: index, key: fullKey }));
    const out = result.value;
    const base = { index, offset, length };
    let entry: ChunkEntry;
    if (out.kind === "hole") {
      entry = { ...base, kind: "hole" };
      this.#stats.chunksHoles++;
    } else if (out.kind === "same" && stored !== undefined) {
      entry = { ...stored, ...base };
      this.#stats.chunksReused++;
      this.#stats.dataBytes += length;
    } else if (out.kind === "full" || out.kind === "delta") {
      const key = out.kind === "full" ? fullKey : chunkKey(plan.backupId, index, "delta");
      const put = await this.repo.put(key, out.stored, ctx);
      if (put.isErr()) return err(put.error);
      const object = { key, size: out.stored.length, sha256: out.storedSha256, compression: out.compression, rawSize: out.rawSize };
      if (out.kind === "delta" && stored !== undefined && out.blocks !== undefined) {
        entry = { ...base, kind: "delta", digest: out.digest, base: plan.parent?.manifest.backupId ?? "", blocks: out.blocks.map(([f, c]) => [f, c] as [number, number]), depth: (stored.kind === "delta" ? stored.depth : 0) + 1, object };
      } else {
        entry = { ...base, kind: "full", digest: out.digest, object };
      }
      this.#stats.chunksStored++;
      this.#stats.storedBytes += out.stored.length;
      this.#stats.dataBytes += length;
    } else {
      return err(jobError({ ok: false, reason: "internal", message: `unexpected encode outcome ${out.kind}` }, { backupId: plan.backupId, chunk: index, key: fullKey }));
    }
    this.#entries[index] = entry;
    const added = await this.#segments.add(index, out.blockDigests);
    if (added.isErr()) return err(added.error);
    this.#done += length;
    ctx.progress("backup", this.#done, plan.sizeBytes);
    return ok(undefined);
  }

  async #storeSegment(segment: number, firstChunk: number, chunkCount: number, digests: Uint8Array): Promise<Result<HashSegment, VolkitError>> {
    const key = hashSegmentKey(this.plan.backupId, segment);
    const rawSize = digests.length;
    const packed = await this.jobs.run({ type: "pack", data: digests, key });
    if (!packed.ok) return err(jobError(packed, { backupId: this.plan.backupId, key }));
    const put = await this.repo.put(key, packed.value.stored, this.ctx);
    if (put.isErr()) return err(put.error);
    this.#stats.storedBytes += packed.value.stored.length;
    return ok({ firstChunk, chunkCount, object: { key, size: packed.value.stored.length, sha256: packed.value.storedSha256, compression: packed.value.compression, rawSize } });
  }

  async #loadParentSegment(parentId: string, segment: HashSegment): Promise<Result<Uint8Array, VolkitError>> {
    const place = { backupId: parentId, key: segment.object.key };
    const bytes = await this.repo.get(segment.object.key, this.ctx);
    if (bytes.isErr()) return err(missingAsCorrupt(bytes.error, place));
    const { key, sha256, compression, rawSize } = segment.object;
    const decoded = await this.jobs.run({ type: "decode", key, stored: bytes.value, sha256, compression, rawSize });
    return decoded.ok ? ok(decoded.value) : err(jobError(decoded, place));
  }
}
