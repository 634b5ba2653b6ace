import { setTimeout as sleep } from "node:timers/promises";
import { errAsync, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type { CommandRunner } from "../exec/runner.js";
import { runDd, type DdPlan } from "./dd.js";

/**
 * The copy engine behind clone, wipe and image transfer. It drives `dd` through the injected
 * runner, which buys, with one mechanism that works locally, through a root helper or over SSH:
 * - one long-lived `dd` per copy when there is no bandwidth limit: each device is opened and closed
 *   once (closing a device opened for writing fires a udev "change" event and a blkid probe, so a
 *   chunked copy paid one per chunk), progress is read from dd's `status=progress` about once a
 *   second, and cancelling kills the process;
 * - a bandwidth limit by pacing: one `dd` per chunk of about one second of data, with a pause after
 *   each (Cinder needs cgroups for this); progress after every chunk;
 * - sparse targets kept sparse (`conv=sparse` skips all-zero blocks; only safe when the target
 *   already reads as zeros, e.g. a new thin LV or a new sparse file);
 * - O_DIRECT on both sides where the devices allow it.
 *
 * O_DIRECT is never dropped silently. When a path refuses it (`dd: failed to open …: Invalid
 * argument`: ramfs, FUSE, character devices, tmpfs before Linux 6.6) the copy fails with
 * `NOT_SUPPORTED` and `details.directIo = "refused"`; when an offset or length is not aligned to
 * the device's logical block size it fails with `INVALID_ARGUMENT` and `details.directIo =
 * "misaligned"`. The caller decides whether to retry with `direct: false`: a buffered copy leaves
 * dirty data in the page cache after `dd` exits and evicts the host's cache (the reasons O_DIRECT
 * was asked for), so the engine does not make that trade on its own.
 */

/**
 * Time source and sleeper used for bandwidth pacing. The default uses `performance.now()` and
 * `timers/promises`; tests inject a fake so pacing is checked without waiting.
 *
 * @example
 * ```ts
 * let t = 0;
 * const clock: CopyClock = { now: () => t, sleep: async (ms) => { t += ms; } };
 * ```
 */
export interface CopyClock {
  /** Monotonic time in milliseconds. */
  now(): number;
  /** Resolves after `ms` milliseconds; rejects when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** The real clock: `performance.now()` and an abortable timer. */
export const systemCopyClock: CopyClock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

/** Tuning shared by copies and wipes. */
export interface CopyEngineOptions {
  /** Target already reads as zeros (new thin LV/sparse file): skip writing zero blocks. */
  readonly sparse?: boolean;
  /**
   * Use O_DIRECT (default true). A path that refuses it fails the copy with `NOT_SUPPORTED`
   * (never a silent buffered fallback); pass `false` for ramfs, FUSE or old tmpfs. With direct
   * I/O, `chunkBytes` and `blockBytes` must be multiples of 4096 and a copy's `bytes` a multiple
   * of 512.
   */
  readonly direct?: boolean;
  /** Bytes per second cap (0 or absent = unlimited). */
  readonly bandwidthLimitBps?: number;
  /**
   * Bytes per dd run. Unset without a bandwidth limit: one dd for the whole copy (the fast path).
   * Unset with a limit: about one second of data (the limit rounded down to whole MiB, 1 to 64 MiB)
   * so the device sees short bursts rather than everything at full speed. Set: one dd per chunk of
   * this size, with progress (and pacing) after each.
   */
  readonly chunkBytes?: number;
  /** dd block size in bytes (default 1 MiB); also the granularity of `sparse`. */
  readonly blockBytes?: number;
  /** Prefix for I/O priority, e.g. `["ionice", "-c3"]`. */
  readonly ionice?: readonly string[];
  /** Clock used for pacing and the reported duration (default {@link systemCopyClock}). */
  readonly clock?: CopyClock;
}

/** A copy request. */
export interface CopyRequest extends CopyEngineOptions {
  /** Source path (device or file). */
  readonly source: string;
  /** Target path (device or file, must exist and be at least `bytes` long). */
  readonly target: string;
  /** How many bytes to copy from the start. */
  readonly bytes: number;
}

/** Outcome of a copy or wipe. */
export interface CopyReport {
  /** Bytes processed. */
  readonly bytes: number;
  /** Number of dd runs (1 for an unpaced copy). */
  readonly chunks: number;
  /** Wall-clock duration. */
  readonly durationMs: number;
}

const MiB = 1024 * 1024;
const MAX_PACED_CHUNK = 64 * MiB;
/** Alignment demanded of chunk and block sizes under O_DIRECT (covers 4Kn devices). */
const DIRECT_ALIGN = 4096;
/** Smallest logical block size of any device: a direct copy's length must be a multiple of it. */
const SECTOR = 512;

/**
 * Copies `bytes` from `source` to `target` (see module doc): one dd, or paced chunks under a
 * bandwidth limit.
 *
 * @example
 * ```ts
 * const report = await copyDevice(runner, { source: "/dev/vg/src", target: "/dev/vg/dst", bytes: 10 * 2 ** 30, sparse: true }, ctx);
 * ```
 */
export function copyDevice(runner: CommandRunner, request: CopyRequest, ctx: OperationContext): ResultAsync<CopyReport, VolkitError> {
  const problem = checkOptions(request) ?? checkDirectLength(request, request.bytes);
  if (problem !== undefined) return invalid(problem);
  return runPlan(runner, copyPlan(request, 0, request.bytes), request, ctx);
}

/**
 * The dd plan copying `length` bytes from byte `offset` of `request.source` to the same offset of
 * `request.target` (used by {@link copyDevice} and the range copy). Options must be checked first.
 *
 * @internal shared with the range copy, not part of the public API.
 */
export function copyPlan(request: CopyEngineOptions & { readonly source: string; readonly target: string }, offset: number, length: number): DdPlan {
  const direct = request.direct ?? true;
  const conv = request.sparse ? "notrunc,sparse" : "notrunc";
  return {
    ...planBase(request, length, "copy"),
    argvFor: (from, count) => [
      "dd",
      `if=${request.source}`,
      `of=${request.target}`,
      `bs=${request.blockBytes ?? MiB}`,
      `skip=${offset + from}`,
      `seek=${offset + from}`,
      `count=${count}`,
      `iflag=count_bytes,skip_bytes${direct ? ",direct" : ""}`,
      `oflag=seek_bytes${direct ? ",direct" : ""}`,
      `conv=${conv}`,
    ],
  };
}

/** A wipe request: overwrite the first `bytes` of `target` with zeros. */
export interface WipeRequest extends CopyEngineOptions {
  /** Device or file to zero. */
  readonly target: string;
  /** Bytes to zero from the start. */
  readonly bytes: number;
}

/**
 * Zero-fills the first `bytes` of `target` (used when deleting thick volumes). `sparse` is
 * ignored: a wipe always writes.
 *
 * @example
 * ```ts
 * await zeroDevice(runner, { target: "/dev/vg/old", bytes: 10 * 2 ** 30, ionice: ["ionice", "-c3"] }, ctx);
 * ```
 */
export function zeroDevice(runner: CommandRunner, request: WipeRequest, ctx: OperationContext): ResultAsync<CopyReport, VolkitError> {
  const direct = request.direct ?? true;
  const problem = checkOptions(request);
  if (problem !== undefined) return invalid(problem);
  const plan: DdPlan = {
    ...planBase(request, request.bytes, "wipe"),
    argvFor: (offset, length) => [
      "dd",
      "if=/dev/zero",
      `of=${request.target}`,
      `bs=${request.blockBytes ?? MiB}`,
      `seek=${offset}`,
      `count=${length}`,
      "iflag=count_bytes",
      `oflag=seek_bytes${direct ? ",direct" : ""}`,
      "conv=notrunc",
    ],
  };
  return runPlan(runner, plan, request, ctx);
}

/**
 * Discards (unmaps) a whole device with `blkdiscard`; thin LVs return the blocks to the pool.
 *
 * @example
 * ```ts
 * await discardDevice(runner, "/dev/vg/thin-old", ctx);
 * ```
 */
export function discardDevice(runner: CommandRunner, target: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
  return runner.run({ argv: ["blkdiscard", target], signal: ctx.signal }).map(() => undefined);
}

/** An `INVALID_ARGUMENT` failure of the copy engine, before any command runs. @internal */
export function invalid(message: string): ResultAsync<never, VolkitError> {
  return errAsync(new VolkitError("INVALID_ARGUMENT", message, { source: "copy" }));
}

function isPositiveInteger(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0;
}

/** Chunk size: as given; else about one second of data under a limit (whole MiB, 1 to 64 MiB); else none (one dd). */
function chunkOf(request: CopyEngineOptions): number | undefined {
  if (request.chunkBytes !== undefined) return request.chunkBytes;
  const limit = request.bandwidthLimitBps ?? 0;
  if (limit <= 0) return undefined;
  return Math.min(MAX_PACED_CHUNK, Math.max(MiB, Math.floor(limit / MiB) * MiB));
}

function planBase(request: CopyEngineOptions, bytes: number, phase: string): Omit<DdPlan, "argvFor"> {
  return {
    bytes,
    phase,
    direct: request.direct ?? true,
    limit: request.bandwidthLimitBps ?? 0,
    chunk: chunkOf(request),
    clock: request.clock ?? systemCopyClock,
    prefix: request.ionice ?? [],
  };
}

/** Runs one plan and reports it. */
function runPlan(runner: CommandRunner, plan: DdPlan, request: CopyEngineOptions, ctx: OperationContext): ResultAsync<CopyReport, VolkitError> {
  const clock = request.clock ?? systemCopyClock;
  const started = clock.now();
  return runDd(runner, plan, ctx).map((outcome) => ({ bytes: plan.bytes, chunks: outcome.runs, durationMs: clock.now() - started }));
}

/** Why a direct copy of `bytes` cannot run, if it cannot. @internal */
export function checkDirectLength(request: CopyEngineOptions, bytes: number): string | undefined {
  if (!(request.direct ?? true) || bytes % SECTOR === 0) return undefined;
  return `a direct I/O copy needs a byte count that is a multiple of ${SECTOR}, got ${bytes}; pass direct: false`;
}

/** Why these options (and byte count) are unusable, if they are. @internal */
export function checkOptions(request: CopyEngineOptions & { readonly bytes: number }): string | undefined {
  if (!Number.isSafeInteger(request.bytes) || request.bytes < 0) return `byte count must be a non-negative integer, got ${request.bytes}`;
  const { chunkBytes, blockBytes, bandwidthLimitBps } = request;
  if (chunkBytes !== undefined && !isPositiveInteger(chunkBytes)) return `chunkBytes must be a positive integer, got ${chunkBytes}`;
  if (blockBytes !== undefined && !isPositiveInteger(blockBytes)) return `blockBytes must be a positive integer, got ${blockBytes}`;
  if (bandwidthLimitBps !== undefined && !(Number.isFinite(bandwidthLimitBps) && bandwidthLimitBps >= 0)) {
    return `bandwidthLimitBps must be a non-negative number, got ${bandwidthLimitBps}`;
  }
  if (request.direct ?? true) {
    for (const [name, value] of [["chunkBytes", chunkBytes], ["blockBytes", blockBytes]] as const) {
      if (value !== undefined && value % DIRECT_ALIGN !== 0) return `with direct I/O ${name} must be a multiple of ${DIRECT_ALIGN}, got ${value}; pass direct: false`;
    }
  }
  return undefined;
}
