import { open, truncate, unlink, type FileHandle } from "node:fs/promises";
import { ResultAsync, err, errAsync, ok, okAsync, safeTry, type Result } from "neverthrow";
import type { z } from "zod";
import type { OperationContext } from "../core/context.js";
import { VolkitError, toVolkitError } from "../core/errors.js";
import type { CommandRunner } from "../exec/runner.js";
import type { HostFs } from "../host/host-fs.js";
import { inspectPath, type BlockTargetSchema, type HoleMode, type PathInfo } from "./block-source.js";
import { loadChain, loadManifest } from "./catalog.js";
import { ChunkResolver } from "./chunk-resolver.js";
import { isAllZero } from "./codec.js";
import { checkKeyFits, type DerivedKeys } from "./encryption.js";
import { chunkCount, type BackupManifest } from "./manifest.js";
import { checkObjectsPresent } from "./object-presence.js";
import type { BackupRepository } from "./repository.js";
import type { RestoreOptionsSchema, RestoreReport } from "./restore-engine.js";
import { ioError } from "./source-reader.js";
import { defaultThreads, startJobRunner } from "./worker-pool.js";

/** Granularity of sparse writes: all-zero pages of a chunk are not written on a zeroed target. */
const PAGE = 4096;

/**
 * The restore's two halves, shared by `restoreToTarget` (a path) and `restoreBackup` (a volume):
 * {@link loadForRestore} checks everything the repository side can before a target exists, and
 * {@link restoreLoaded} writes the chunks into the target.
 */

/** A backup loaded and checked for a restore. */
export interface LoadedBackup {
  /** Its manifest. */
  readonly manifest: BackupManifest;
  /** It and its ancestors, by id. */
  readonly chain: ReadonlyMap<string, BackupManifest>;
}

/**
 * Loads the manifest and its chain (each link checked), checks the key fits, and checks that
 * every object the restore needs is there with its size: all before anything is created or
 * touched.
 */
export function loadForRestore(repo: BackupRepository, backupId: string, keys: DerivedKeys | undefined, ctx: OperationContext): ResultAsync<LoadedBackup, VolkitError> {
  return safeTry(async function* () {
    const loaded = yield* loadManifest(repo, backupId, ctx);
    const chain = yield* loadChain(repo, loaded, ctx);
    yield* checkKeyFits(backupId, loaded.manifest.encryption, keys);
    yield* ctx.phase("check-objects", () => checkObjectsPresent(repo, loaded.manifest, chain, ctx));
    return ok({ manifest: loaded.manifest, chain });
  });
}

/** Restores a loaded backup into a path (see `restoreToTarget`); a file it created is deleted when it fails. */
export function restoreLoaded(
  repo: BackupRepository,
  backup: LoadedBackup,
  target: z.output<typeof BlockTargetSchema>,
  keys: DerivedKeys | undefined,
  o: z.output<typeof RestoreOptionsSchema>,
  io: { readonly runner: CommandRunner; readonly sysfs: HostFs },
  ctx: OperationContext,
  started = Date.now(),
): ResultAsync<RestoreReport, VolkitError> {
  const { manifest, chain } = backup;
  return prepareTarget(target.path, target.holes, manifest.sizeBytes, io, ctx).andThen(
    (prepared) =>
      new ResultAsync(
        (async (): Promise<Result<RestoreReport, VolkitError>> => {
          const written = await writeChunks(repo, manifest, chain, prepared, keys, o, io.runner, ctx).catch((e: unknown) => err(toVolkitError(e, "INTERNAL", "backup")));
          if (written.isErr()) {
            if (prepared.created) await unlink(target.path).catch(() => undefined);
            return err(written.error);
          }
          return ok({ backupId: manifest.backupId, path: target.path, sizeBytes: manifest.sizeBytes, created: prepared.created, holes: prepared.holes, ...written.value, durationMs: Date.now() - started });
        })(),
      ),
  );
}

interface PreparedTarget {
  readonly path: string;
  readonly created: boolean;
  readonly holes: HoleMode;
  /** The command making the target read as zeros, run just before the first write (see `writeInOrder`). */
  readonly zeroing: [string, ...string[]] | undefined;
}

/** Creates (a missing file) or checks the target, and works out how its holes are made. Changes nothing in an existing target. */
function prepareTarget(path: string, asked: HoleMode | undefined, sizeBytes: number, io: { runner: CommandRunner; sysfs: HostFs }, ctx: OperationContext): ResultAsync<PreparedTarget, VolkitError> {
  return inspectPath(path, io.sysfs, ctx)
    .map((info): PathInfo | undefined => info)
    .orElse((e) => (e.code === "VOLUME_NOT_FOUND" ? okAsync(undefined) : errAsync(e)))
    .andThen((info) => {
      if (info === undefined) {
        if (asked !== undefined && asked !== "assume-zero") return errAsync(invalid(`${path} does not exist: a new file reads as zeros, holes "${asked}" does not apply`));
        return ResultAsync.fromPromise(createSparse(path, sizeBytes), (e) => ioError(e, `create ${path}`, path)).map(() => ({ path, created: true, holes: "assume-zero" as const, zeroing: undefined }));
      }
      if (info.sizeBytes < sizeBytes) return errAsync(invalid(`${path} has ${info.sizeBytes} bytes, the backup needs ${sizeBytes}`, { targetBytes: info.sizeBytes, backupBytes: sizeBytes }));
      const holes = asked ?? (info.kind === "file" ? "punch" : "write-zeros");
      const argv = zeroingArgv(holes, info, path, sizeBytes);
      if (argv instanceof VolkitError) return errAsync(argv);
      return okAsync({ path, created: false, holes, zeroing: argv });
    });
}

/** The one command that makes `[0, size)` read as zeros for a hole mode, if it needs one. */
function zeroingArgv(holes: HoleMode, info: PathInfo, path: string, sizeBytes: number): [string, ...string[]] | undefined | VolkitError {
  const range = ["--offset", "0", "--length", String(sizeBytes)];
  switch (holes) {
    case "assume-zero":
    case "write-zeros":
      return undefined;
    case "punch":
      return info.kind === "file" ? ["fallocate", "--punch-hole", "--keep-size", ...range, path] : invalid(`holes "punch" needs a regular file; ${path} is a block device`);
    case "discard":
    case "zeroout":
      if (info.kind !== "block") return invalid(`holes "${holes}" needs a block device; ${path} is a file (use "punch")`);
      if (sizeBytes % 512 !== 0) return invalid(`holes "${holes}" needs a size that is a multiple of 512 bytes`);
      // zeroout is fallocate's FALLOC_FL_ZERO_RANGE (the same blkdev_issue_zeroout as BLKZEROOUT), not
      // `blkdiscard --zeroout`: blkdiscard opens the device O_EXCL and fails with EBUSY while anything
      // holds it (a dm-multipath map multipathd built over a single-path attach), fallocate does not.
      return holes === "discard" ? ["blkdiscard", ...range, path] : ["fallocate", "--zero-range", "--keep-size", ...range, path];
  }
}

async function createSparse(path: string, sizeBytes: number): Promise<void> {
  const handle = await open(path, "wx", 0o600);
  await handle.close();
  await truncate(path, sizeBytes);
}

async function writeChunks(
  repo: BackupRepository,
  manifest: BackupManifest,
  chain: ReadonlyMap<string, BackupManifest>,
  target: PreparedTarget,
  keys: DerivedKeys | undefined,
  o: z.output<typeof RestoreOptionsSchema>,
  runner: CommandRunner,
  ctx: OperationContext,
): Promise<Result<{ chunksWritten: number; chunksHoles: number; bytesWritten: number }, VolkitError>> {
  const threads = o.threads ?? defaultThreads();
  const jobs = startJobRunner({ chunkSize: manifest.chunkSize, blockSize: manifest.blockSize, compression: { algorithm: "none", level: 1 }, deltaMaxFraction: 0, ...(keys ? { cipherKey: keys.cipherKey, digestKey: keys.digestKey } : {}) }, threads);
  if (jobs.isErr()) return err(jobs.error);
  let handle: FileHandle | undefined;
  try {
    handle = await open(target.path, "r+");
    const argv = target.zeroing;
    const zero = (): ResultAsync<void, VolkitError> => (argv === undefined ? okAsync(undefined) : ctx.phase("zero-target", () => runner.run({ argv, signal: ctx.signal })).map(() => undefined));
    return await writeInOrder(handle, new ChunkResolver(repo, chain, jobs.value, ctx), manifest, target.holes, o.inFlight ?? Math.max(2, threads * 2 + 2), zero, ctx);
  } catch (e) {
    return err(ctx.abortError() ?? ioError(e, `restore to ${target.path}`, target.path));
  } finally {
    await handle?.close().catch(() => undefined);
    await jobs.value.close();
  }
}

/**
 * Writes the chunks in order as they are resolved (fetched, checked, decoded ahead, `inFlight` at
 * a time). The target's hole regions are made to read as zeros (`zero`: punch, discard) only just
 * before the first data is written — after the first stored chunk was fetched and checked — or at
 * the end when the backup is all holes: a restore that fails on its first chunk leaves an existing
 * target as it was.
 */
async function writeInOrder(
  handle: FileHandle,
  resolver: ChunkResolver,
  manifest: BackupManifest,
  holes: HoleMode,
  inFlight: number,
  zero: () => ResultAsync<void, VolkitError>,
  ctx: OperationContext,
): Promise<Result<{ chunksWritten: number; chunksHoles: number; bytesWritten: number }, VolkitError>> {
  const count = chunkCount(manifest.sizeBytes, manifest.chunkSize);
  const ahead = new Map<number, Promise<Result<Uint8Array | undefined, VolkitError>>>();
  let issued = 0;
  const totals = { chunksWritten: 0, chunksHoles: 0, bytesWritten: 0 };
  let failure: VolkitError | undefined;
  let zeroed = false;
  const zeroOnce = async (): Promise<VolkitError | undefined> => {
    if (zeroed) return undefined;
    zeroed = true;
    const r = await zero();
    return r.isErr() ? r.error : undefined;
  };
  for (let index = 0; index < count; index++) {
    while (issued < count && ahead.size < inFlight) {
      ahead.set(issued, resolver.resolve(manifest.backupId, issued));
      issued++;
    }
    const result = (await ahead.get(index)) as Result<Uint8Array | undefined, VolkitError>;
    ahead.delete(index);
    failure = result.isErr() ? result.error : ctx.abortError();
    if (failure !== undefined || result.isErr()) break;
    const entry = manifest.chunks[index];
    if (entry === undefined) break;
    const data = result.value;
    if (data === undefined) totals.chunksHoles++;
    else totals.chunksWritten++;
    if (data !== undefined || holes === "write-zeros") failure = await zeroOnce();
    if (failure !== undefined) break;
    totals.bytesWritten += await writeChunk(handle, entry.offset, entry.length, data, holes);
    ctx.progress("restore", entry.offset + entry.length, manifest.sizeBytes);
  }
  // Let the chunks decoded ahead settle (nothing more is written) before the workers stop.
  await Promise.allSettled(ahead.values());
  failure ??= await zeroOnce();
  if (failure !== undefined) return err(failure);
  await handle.datasync();
  return ok(totals);
}

/** Writes one chunk; on a zeroed target only its non-zero pages. Returns the bytes written. */
async function writeChunk(handle: FileHandle, offset: number, length: number, data: Uint8Array | undefined, holes: HoleMode): Promise<number> {
  if (holes === "write-zeros") {
    const bytes = data ?? new Uint8Array(length);
    await writeFully(handle, bytes, 0, length, offset);
    return length;
  }
  if (data === undefined) return 0;
  let written = 0;
  for (const [start, end] of nonZeroRuns(data)) {
    await writeFully(handle, data, start, end - start, offset + start);
    written += end - start;
  }
  return written;
}

/** `[start, end)` runs of the buffer that are not all-zero pages. */
export function nonZeroRuns(data: Uint8Array): [number, number][] {
  const runs: [number, number][] = [];
  for (let at = 0; at < data.length; at += PAGE) {
    const end = Math.min(data.length, at + PAGE);
    if (isAllZero(data.subarray(at, end))) continue;
    const last = runs[runs.length - 1];
    if (last !== undefined && last[1] === at) last[1] = end;
    else runs.push([at, end]);
  }
  return runs;
}

async function writeFully(handle: FileHandle, data: Uint8Array, from: number, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesWritten } = await handle.write(data, from + done, length - done, position + done);
    done += bytesWritten;
  }
}

function invalid(message: string, details: Record<string, unknown> = {}): VolkitError {
  return new VolkitError("INVALID_ARGUMENT", message, { source: "backup", details });
}

