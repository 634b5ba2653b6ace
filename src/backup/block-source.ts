import { stat } from "node:fs/promises";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { AbsolutePathSchema } from "../core/validation.js";
import type { HostFs } from "../host/host-fs.js";

/**
 * The volume side of a backup, without any driver: a block device or a raw file of this host,
 * read and written with node:fs. The driver layer (temporary snapshot, attach for I/O) hands the
 * engines a path; everything else — sizes, holes, allocation — is worked out here.
 */

/** A byte range of a volume. */
export interface ByteExtent {
  /** First byte. */
  readonly offset: number;
  /** Length in bytes. */
  readonly length: number;
}

/**
 * Supplies the ranges of a volume that may hold data; everything outside them is read as zeros
 * without being read (for a thin LV: the thin pool's mapping from `thin_dump`; for a file: its
 * SEEK_DATA extents). Extents may be unsorted and overlap; they are normalised.
 */
export type AllocationMapProvider = (ctx: OperationContext) => ResultAsync<readonly ByteExtent[], VolkitError>;

/** How a backup learns which regions hold data. */
export type AllocationSetting = "seek-data" | "none" | AllocationMapProvider;

/** A volume to back up. */
export const BlockSourceSchema = z.object({
  /** Block device or raw image file, readable by this process. Must not change during the backup (a snapshot). */
  path: AbsolutePathSchema,
  /** Bytes to back up from the start; default the whole device or file. Must not exceed it. */
  sizeBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  /**
   * Allocation map: `"seek-data"` (default for files: `xfs_io`'s SEEK_DATA/SEEK_HOLE walk through
   * the runner), `"none"` (default for block devices: read everything, zero chunks still become
   * holes), or a provider.
   */
  allocation: z.union([z.enum(["seek-data", "none"]), z.custom<AllocationMapProvider>((v) => typeof v === "function", "must be a function")]).optional(),
});
/** A volume to back up. */
export type BlockSource = z.input<typeof BlockSourceSchema>;

/**
 * What to do with the target's regions that the backup records as holes (and all-zero blocks of
 * stored chunks):
 * - `assume-zero`: the target already reads as zeros (created by the restore as a sparse file, a
 *   freshly created thin LV): nothing is written there, so a sparse target stays sparse.
 * - `punch` (regular files): one `fallocate --punch-hole --keep-size` over the restored range
 *   first, then as `assume-zero`; the file ends as sparse as the original.
 * - `discard` (thin LVs and other devices that read zeros after a discard): one `blkdiscard`
 *   over the range first, then as `assume-zero`. Only for devices known to return zeros for
 *   discarded blocks (dm-thin with whole-pool-block discards does); ordinary disks may not.
 * - `zeroout` (block devices): one `fallocate --zero-range --keep-size` (the kernel offloads zeroing
 *   or writes zeros, as BLKZEROOUT; no exclusive open, so a device a dm map holds works) first, then
 *   as `assume-zero`.
 * - `write-zeros`: zeros are written through node:fs wherever the backup has zeros (works
 *   everywhere, allocates everything).
 */
export const HoleModeSchema = z.enum(["assume-zero", "punch", "discard", "zeroout", "write-zeros"]);
/** See {@link HoleModeSchema}. */
export type HoleMode = z.output<typeof HoleModeSchema>;

/** Where to restore. */
export const BlockTargetSchema = z.object({
  /** Block device or file. A missing file is created sparse at the backup's size. */
  path: AbsolutePathSchema,
  /** Hole handling; default `assume-zero` for a file the restore creates, `punch` for an existing file, `write-zeros` for a block device. */
  holes: HoleModeSchema.optional(),
});
/** Where to restore. */
export type BlockTarget = z.input<typeof BlockTargetSchema>;

/** What a path is, and how big. */
export interface PathInfo {
  /** Regular file or block device. */
  readonly kind: "file" | "block";
  /** Size in bytes. */
  readonly sizeBytes: number;
}

const SECTOR = 512;

/**
 * Kind and size of a block device or regular file: a file's size from `stat`, a device's from
 * sysfs (`/sys/dev/block/<major>:<minor>/size`; node:fs reports 0 for devices).
 * `VOLUME_NOT_FOUND` when missing, `INVALID_ARGUMENT` for anything else (directory, socket…).
 */
export function inspectPath(path: string, sysfs: HostFs, ctx: OperationContext): ResultAsync<PathInfo, VolkitError> {
  const aborted = ctx.abortError();
  if (aborted) return errAsync(aborted);
  return ResultAsync.fromPromise(stat(path, { bigint: true }), (e) => {
    const code = (e as { code?: unknown }).code;
    return code === "ENOENT"
      ? new VolkitError("VOLUME_NOT_FOUND", `${path} does not exist`, { source: "backup", details: { path } })
      : new VolkitError("INVALID_ARGUMENT", `cannot stat ${path}: ${e instanceof Error ? e.message : String(e)}`, { source: "backup", cause: e, details: { path } });
  }).andThen((s) => {
    if (s.isFile()) return okAsync<PathInfo, VolkitError>({ kind: "file", sizeBytes: Number(s.size) });
    if (!s.isBlockDevice()) return errAsync(new VolkitError("INVALID_ARGUMENT", `${path} is neither a block device nor a regular file`, { source: "backup", details: { path } }));
    const { major, minor } = splitDev(s.rdev);
    return sysfs.readFile(`/sys/dev/block/${major}:${minor}/size`).andThen((text) => {
      const sectors = Number(text.trim());
      return Number.isSafeInteger(sectors) && sectors >= 0
        ? okAsync<PathInfo, VolkitError>({ kind: "block", sizeBytes: sectors * SECTOR })
        : errAsync(new VolkitError("PARSE_ERROR", `unexpected sysfs size of ${path}`, { source: "backup", details: { path } }));
    });
  });
}

/** glibc's `major()`/`minor()` of a dev_t. */
export function splitDev(dev: bigint): { major: number; minor: number } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/** Sorts extents, clips them to `[0, size)`, and merges overlapping or touching ones. */
export function normalizeExtents(extents: readonly ByteExtent[], size: number): ByteExtent[] {
  const sorted = extents
    .map((e) => ({ offset: Math.max(0, e.offset), end: Math.min(size, e.offset + e.length) }))
    .filter((e) => e.end > e.offset)
    .sort((a, b) => a.offset - b.offset);
  const out: { offset: number; end: number }[] = [];
  for (const e of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && e.offset <= last.end) last.end = Math.max(last.end, e.end);
    else out.push({ ...e });
  }
  return out.map((e) => ({ offset: e.offset, length: e.end - e.offset }));
}

/**
 * Walks sorted, merged extents chunk after chunk (chunks are asked for in increasing order), so a
 * map of millions of extents is scanned once.
 */
export class ExtentCursor {
  readonly #extents: readonly ByteExtent[];
  #next = 0;

  /** @param extents - normalised extents (see {@link normalizeExtents}). */
  constructor(extents: readonly ByteExtent[]) {
    this.#extents = extents;
  }

  /** The parts of `[start, end)` covered by extents, relative to `start`. */
  within(start: number, end: number): ByteExtent[] {
    while (this.#next < this.#extents.length) {
      const e = this.#extents[this.#next] as ByteExtent;
      if (e.offset + e.length > start) break;
      this.#next++;
    }
    const out: ByteExtent[] = [];
    for (let i = this.#next; i < this.#extents.length; i++) {
      const e = this.#extents[i] as ByteExtent;
      if (e.offset >= end) break;
      const from = Math.max(start, e.offset);
      const to = Math.min(end, e.offset + e.length);
      if (to > from) out.push({ offset: from - start, length: to - from });
    }
    return out;
  }
}
