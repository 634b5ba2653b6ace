import { randomUUID } from "node:crypto";
import { ResultAsync, err, errAsync, ok, okAsync, safeTry, type Result } from "neverthrow";
import { z } from "zod";
import { rollbackContext, type OperationContext } from "../core/context.js";
import { VolkitError, toVolkitError } from "../core/errors.js";
import { IdSchema, validate } from "../core/validation.js";
import { createLocalRunner } from "../exec/local-runner.js";
import type { CommandRunner } from "../exec/runner.js";
import { createHostFs, type HostFs } from "../host/host-fs.js";
import { backupContext, type BackupRunOptions } from "./backup-options.js";
import { BackupIdSchema, backupPrefix, childMarkerKey, parseVolumeIndexKey, volumeIndexKey, volumeIndexPrefix } from "./backup-keys.js";
import { BlockSourceSchema, inspectPath, normalizeExtents, type AllocationSetting, type BlockSource, type ByteExtent, type PathInfo } from "./block-source.js";
import { loadChain, loadManifest, manifestExists, publishManifest } from "./catalog.js";
import { runBackupChunks, type BackupPlan, type ChunksOutcome } from "./backup-pipeline.js";
import { loadZstd, type CompressionSetting } from "./codec.js";
import { deriveKeys, checkKeyFits, encryptionParams, type DerivedKeys, type EncryptionKey } from "./encryption.js";
import { MANIFEST_FORMAT, MANIFEST_VERSION, chunkCount, type BackupManifest, type LoadedManifest } from "./manifest.js";
import { forEachPage, type BackupRepository } from "./repository.js";
import { seekDataExtents } from "./seek-data.js";
import { SourceReader } from "./source-reader.js";
import { defaultThreads, startJobRunner } from "./worker-pool.js";

const KiB = 1024;
const MiB = 1024 * KiB;
/** Default chunk size: 4 MiB. */
export const DEFAULT_CHUNK_SIZE = 4 * MiB;
/** Block size of the block digests (Cinder's `backup_sha_block_size_bytes`). */
export const BLOCK_SIZE = 32 * KiB;

/** The plain (validated) options of {@link backupFromSource}. */
export const BackupOptionsSchema = z.object({
  /** Id of the new backup (default a random UUID). */
  backupId: BackupIdSchema.optional(),
  /** Id of the volume, recorded in the manifest. */
  volumeId: IdSchema.optional(),
  /** Free-form description, recorded in the manifest. */
  description: z.string().max(1024).optional(),
  /** Parent backup: makes this backup incremental (only chunks and blocks that changed are stored). */
  parent: BackupIdSchema.optional(),
  /** Chunk size in bytes (default 4 MiB, an incremental inherits its parent's): 64 KiB to 256 MiB, a multiple of 32 KiB. */
  chunkSize: z.number().int().min(64 * KiB).max(256 * MiB).refine((n) => n % BLOCK_SIZE === 0, "must be a multiple of 32 KiB").optional(),
  /** `auto` (default): zstd when its package loads here, gzip otherwise. */
  compression: z.enum(["auto", "zstd", "gzip", "none"]).default("auto"),
  /** Compression level (default zstd 3, gzip 6). */
  compressionLevel: z.number().int().min(1).max(19).optional(),
  /** Worker threads for hashing, compression and encryption (default one per core, at most 8; 0 = this thread). */
  threads: z.number().int().min(0).max(64).optional(),
  /** Chunks in flight (read, encoded or being stored) at once; bounds memory (default 2 per thread + 2). */
  inFlight: z.number().int().min(1).max(256).optional(),
  /** Store a changed chunk as its changed 32 KiB blocks when at most this fraction changed (default 0.5). */
  deltaMaxFraction: z.number().min(0).max(1).default(0.5),
  /** Deltas stacked on one chunk before it is stored whole again (default 16). */
  maxDeltaDepth: z.number().int().min(1).max(64).default(16),
});

/** Options of {@link backupFromSource}. */
export interface BackupOptions extends BackupRunOptions, z.input<typeof BackupOptionsSchema> {
  /** 32-byte key: encrypts every object with AES-256-GCM. Never stored, never logged. */
  readonly encryptionKey?: EncryptionKey;
  /** Runs `xfs_io` for the SEEK_DATA walk of file sources (default: a local runner). */
  readonly runner?: CommandRunner;
  /** Where block device sizes are read (default: this host's /sys). */
  readonly sysfs?: HostFs;
}

/**
 * Backs up a block device or raw file into `repo` and returns the published manifest.
 *
 * The volume is cut in fixed-size chunks; each is read (only where the allocation map says data
 * may be), checked for zeros (zero and unallocated chunks become holes and are not stored),
 * hashed (sha256 of the chunk and of each 32 KiB block), compressed and optionally encrypted on
 * worker threads, and stored as one object. With `parent`, a chunk whose digest is unchanged
 * reuses the parent's object, and a chunk with few changed blocks stores only those blocks. A
 * bounded number of chunks is in flight. The manifest is written last: a failed, aborted or timed
 * out backup publishes nothing, and the objects it wrote are deleted.
 *
 * The source must not change while it is read (back up a snapshot).
 *
 * @example
 * ```ts
 * const repo = createLocalDirectoryRepository({ directory: "/srv/backups" })._unsafeUnwrap();
 * const full = await backupFromSource(repo, { path: "/dev/vg/snap-vol1" }, { volumeId: "vol1" });
 * const incr = await backupFromSource(repo, { path: "/dev/vg/snap2-vol1" }, { volumeId: "vol1", parent: full._unsafeUnwrap().backupId });
 * ```
 */
export function backupFromSource(repo: BackupRepository, source: BlockSource, options: BackupOptions = {}): ResultAsync<BackupManifest, VolkitError> {
  const { encryptionKey, runner, sysfs, events: _e, logger: _l, signal: _s, deadline: _d, ...plain } = options;
  const checked = validate(BackupOptionsSchema, plain, "backup options").andThen((o) =>
    validate(BlockSourceSchema, { ...source, allocation: typeof source.allocation === "function" ? "none" : source.allocation }, "block source").andThen((s) =>
      (encryptionKey === undefined ? ok(undefined) : deriveKeys(encryptionKey)).map((keys) => ({ o, s, keys })),
    ),
  );
  if (checked.isErr()) return errAsync(checked.error);
  const { o, keys } = checked.value;
  const ctx = backupContext("backup", options, o.volumeId);
  const allocation: AllocationSetting | undefined = source.allocation;
  return new ResultAsync(
    run(repo, ctx, {
      options: o,
      path: source.path,
      sizeBytes: source.sizeBytes,
      allocation,
      keys,
      runner: runner ?? createLocalRunner(),
      sysfs: sysfs ?? createHostFs(),
    }).catch((e: unknown) => err(toVolkitError(e, "INTERNAL", "backup"))),
  );
}

interface Request {
  readonly options: z.output<typeof BackupOptionsSchema>;
  readonly path: string;
  readonly sizeBytes: number | undefined;
  readonly allocation: AllocationSetting | undefined;
  readonly keys: DerivedKeys | undefined;
  readonly runner: CommandRunner;
  readonly sysfs: HostFs;
}

async function run(repo: BackupRepository, ctx: OperationContext, req: Request): Promise<Result<BackupManifest, VolkitError>> {
  const createdAt = new Date();
  const backupId = req.options.backupId ?? randomUUID();
  const volumeId = req.options.volumeId;
  const indexKey = volumeId === undefined ? undefined : volumeIndexKey(volumeId, createdAt.getTime(), backupId);
  const setup = await prepare(repo, ctx, req, backupId);
  if (setup.isErr()) return err(setup.error);
  const { plan, extents } = setup.value;
  const jobs = startJobRunner(
    { chunkSize: plan.chunkSize, blockSize: BLOCK_SIZE, compression: plan.compression, deltaMaxFraction: req.options.deltaMaxFraction, ...(req.keys ? { cipherKey: req.keys.cipherKey, digestKey: req.keys.digestKey } : {}) },
    plan.threads,
  );
  if (jobs.isErr()) return err(jobs.error);
  const reader = await SourceReader.open(req.path, extents);
  if (reader.isErr()) {
    await jobs.value.close();
    return err(reader.error);
  }
  try {
    // Objects of an earlier unpublished attempt with this id (a crash before its cleanup) go first,
    // so the new backup's prefix holds only what its manifest will name.
    const leftovers = forEachPage(repo, backupPrefix(backupId), {}, ctx, (page) => (page.objects.length === 0 ? undefined : repo.delete(page.objects.map((o) => o.key), ctx))).andThen(() =>
      volumeId === undefined
        ? okAsync(undefined)
        : forEachPage(repo, volumeIndexPrefix(volumeId), {}, ctx, (page) => {
            const stale = page.objects.filter((o) => parseVolumeIndexKey(o.key)?.backupId === backupId).map((o) => o.key);
            return stale.length === 0 ? undefined : repo.delete(stale, ctx);
          }),
    );
    const parentId = plan.parent?.manifest.backupId;
    const note = Buffer.from(JSON.stringify({ backupId, createdAt: createdAt.toISOString() }));
    const marker = parentId === undefined ? leftovers : leftovers.andThen(() => repo.put(childMarkerKey(parentId, backupId), note, ctx).map(() => undefined));
    const indexed = indexKey === undefined ? marker : marker.andThen(() => repo.put(indexKey, note, ctx).map(() => undefined));
    const outcome = await indexed.andThen(() => new ResultAsync(runBackupChunks(repo, ctx, plan, jobs.value, reader.value)));
    const published = await (outcome.isErr()
      ? errAsync<BackupManifest, VolkitError>(outcome.error)
      : okAsync<BackupManifest, VolkitError>(buildManifest(req, plan, outcome.value, createdAt, reader.value.bytesRead)).andThen((m) => publishManifest(repo, m, ctx).map(() => m)));
    if (published.isErr()) {
      await discard(repo, ctx, backupId, plan.parent?.manifest.backupId, indexKey);
      return err(published.error);
    }
    ctx.logger.info({ backupId, volumeId: req.options.volumeId, storedBytes: published.value.stats.storedBytes }, "backup published");
    return ok(published.value);
  } finally {
    void (await reader.value.close());
    await jobs.value.close();
  }
}

interface Setup {
  readonly plan: BackupPlan;
  readonly extents: readonly ByteExtent[] | undefined;
}

/** Everything checked and decided before the first object is written. */
function prepare(repo: BackupRepository, ctx: OperationContext, req: Request, backupId: string): ResultAsync<Setup, VolkitError> {
  const o = req.options;
  return safeTry(async function* () {
    if (o.parent === backupId) return err(invalid(`backup ${backupId} cannot be its own parent`));
    if (yield* manifestExists(repo, backupId, ctx)) return err(new VolkitError("BACKUP_EXISTS", `backup ${backupId} already exists in ${repo.description}`, { source: "backup", details: { backupId } }));
    const info: PathInfo = yield* inspectPath(req.path, req.sysfs, ctx);
    const sizeBytes = req.sizeBytes ?? info.sizeBytes;
    if (sizeBytes > info.sizeBytes) return err(invalid(`sizeBytes ${sizeBytes} exceeds the ${info.sizeBytes} bytes of ${req.path}`));
    if (sizeBytes === 0) return err(invalid(`${req.path} is empty`));
    const parent: LoadedManifest | undefined = o.parent === undefined ? undefined : yield* loadManifest(repo, o.parent, ctx);
    if (parent !== undefined) {
      yield* loadChain(repo, parent, ctx);
      yield* checkKeyFits(parent.manifest.backupId, parent.manifest.encryption, req.keys);
      if (o.chunkSize !== undefined && o.chunkSize !== parent.manifest.chunkSize) return err(invalid(`chunkSize ${o.chunkSize} differs from the parent's ${parent.manifest.chunkSize}`));
      if (parent.manifest.blockSize !== BLOCK_SIZE) return err(invalid(`the parent's block size ${parent.manifest.blockSize} is not ${BLOCK_SIZE}`));
    }
    const chunkSize = o.chunkSize ?? parent?.manifest.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const compression = yield* compressionSetting(o.compression, o.compressionLevel);
    const extents = yield* allocationExtents(req, info, sizeBytes, ctx);
    const threads = o.threads ?? defaultThreads();
    const plan: BackupPlan = {
      backupId,
      sizeBytes,
      chunkSize,
      blockSize: BLOCK_SIZE,
      count: chunkCount(sizeBytes, chunkSize),
      parent,
      compression,
      threads,
      inFlight: o.inFlight ?? Math.max(2, threads * 2 + 2),
      maxDeltaDepth: o.maxDeltaDepth,
    };
    return ok({ plan, extents });
  });
}

function compressionSetting(asked: "auto" | "zstd" | "gzip" | "none", level: number | undefined): Result<CompressionSetting, VolkitError> {
  const zstd = loadZstd() !== undefined;
  if (asked === "zstd" && !zstd) return err(new VolkitError("NOT_SUPPORTED", "zstd compression needs the optional package @mongodb-js/zstd, which cannot load on this host", { source: "backup" }));
  const algorithm = asked === "auto" ? (zstd ? "zstd" : "gzip") : asked;
  if (algorithm === "gzip" && level !== undefined && level > 9) return err(invalid(`gzip levels are 1-9, got ${level}`));
  return ok({ algorithm, level: level ?? (algorithm === "zstd" ? 3 : 6) });
}

function allocationExtents(req: Request, info: PathInfo, sizeBytes: number, ctx: OperationContext): ResultAsync<readonly ByteExtent[] | undefined, VolkitError> {
  const setting = req.allocation ?? (info.kind === "file" ? "seek-data" : "none");
  if (setting === "none") return okAsync(undefined);
  if (setting === "seek-data") {
    if (info.kind !== "file") return errAsync(invalid(`allocation "seek-data" needs a regular file; ${req.path} is a block device (pass an allocation map provider)`));
    return seekDataExtents(req.runner, req.path, info.sizeBytes, ctx).map((e) => normalizeExtents(e, sizeBytes));
  }
  return ResultAsync.fromSafePromise(Promise.resolve())
    .andThen(() => setting(ctx))
    .map((e) => normalizeExtents(e, sizeBytes));
}

function buildManifest(req: Request, plan: BackupPlan, outcome: ChunksOutcome, createdAt: Date, bytesRead: number): BackupManifest {
  const parent = plan.parent;
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    backupId: plan.backupId,
    ...(req.options.volumeId === undefined ? {} : { volumeId: req.options.volumeId }),
    ...(req.options.description === undefined ? {} : { description: req.options.description }),
    createdAt: createdAt.toISOString(),
    completedAt: new Date().toISOString(),
    sizeBytes: plan.sizeBytes,
    chunkSize: plan.chunkSize,
    blockSize: plan.blockSize,
    digest: req.keys === undefined ? "sha256" : "hmac-sha256",
    ...(req.keys === undefined ? {} : { encryption: encryptionParams(req.keys) }),
    ...(parent === undefined ? {} : { parent: { backupId: parent.manifest.backupId, manifestSha256: parent.sha256 } }),
    chain: parent === undefined ? [] : [...parent.manifest.chain, parent.manifest.backupId],
    chunks: outcome.chunks,
    hashSegments: outcome.hashSegments,
    stats: { ...outcome.stats, bytesRead, durationMs: Date.now() - createdAt.getTime() },
  };
}

/**
 * Deletes what an unpublished backup wrote (its whole prefix, its marker in the parent and its
 * volume index entry), with
 * a context of its own: an aborted backup still cleans up. A cleanup that fails is logged; the
 * objects are then left to {@link collectBackupGarbage}.
 */
async function discard(repo: BackupRepository, ctx: OperationContext, backupId: string, parentId: string | undefined, indexKey: string | undefined): Promise<void> {
  const rctx = rollbackContext(ctx);
  const removed = await forEachPage(repo, backupPrefix(backupId), {}, rctx, (page) => repo.delete(page.objects.map((o) => o.key), rctx)).andThen(() =>
    repo.delete([...(parentId === undefined ? [] : [childMarkerKey(parentId, backupId)]), ...(indexKey === undefined ? [] : [indexKey])], rctx),
  );
  if (removed.isErr()) ctx.logger.warn({ backupId, code: removed.error.code, error: removed.error.message }, "could not delete the objects of an unpublished backup; collectBackupGarbage will");
}

function invalid(message: string): VolkitError {
  return new VolkitError("INVALID_ARGUMENT", message, { source: "backup" });
}

