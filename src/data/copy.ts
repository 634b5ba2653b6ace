import { setTimeout as sleep } from "node:timers/promises";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type { CommandRunner } from "../exec/runner.js";

/**
 * The copy engine behind clone, wipe and image transfer. It drives `dd` through the injected
 * runner in fixed-size chunks, which buys, with one mechanism that works locally, through a root
 * helper or over SSH:
 * - progress after every chunk, and cancellation between and within chunks (the child is killed);
 * - a bandwidth limit by pacing chunks (Cinder needs cgroups for this);
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
   * Bytes per dd invocation. Progress and pacing happen per chunk. Default 64 MiB; with a
   * bandwidth limit, about one second of data (the limit rounded down to whole MiB, 1 to 64 MiB)
   * so the device sees short bursts rather than 64 MiB at full speed.
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
  /** Number of dd invocations. */
  readonly chunks: number;
  /** Wall-clock duration. */
  readonly durationMs: number;
}

const MiB = 1024 * 1024;
const DEFAULT_CHUNK = 64 * MiB;
/** Alignment demanded of chunk and block sizes under O_DIRECT (covers 4Kn devices). */
const DIRECT_ALIGN = 4096;
/** Smallest logical block size of any device: a direct copy's length must be a multiple of it. */
const SECTOR = 512;

/**
 * Copies `bytes` from `source` to `target` in chunks (see module doc).
 *
 * @example
 * ```ts
 * const report = await copyDevice(runner, { source: "/dev/vg/src", target: "/dev/vg/dst", bytes: 10 * 2 ** 30, sparse: true }, ctx);
 * ```
 */
export function copyDevice(runner: CommandRunner, request: CopyRequest, ctx: OperationContext): ResultAsync<CopyReport, VolkitError> {
  const direct = request.direct ?? true;
  const problem =
    checkOptions(request) ??
    (direct && request.bytes % SECTOR !== 0 ? `a direct I/O copy needs a byte count that is a multiple of ${SECTOR}, got ${request.bytes}; pass direct: false` : undefined);
  if (problem !== undefined) return invalid(problem);
  const conv = request.sparse ? "notrunc,sparse" : "notrunc";
  return runChunks(runner, request, ctx, "copy", (offset, length) => [
    "dd",
    `if=${request.source}`,
    `of=${request.target}`,
    `bs=${request.blockBytes ?? MiB}`,
    `skip=${offset}`,
    `seek=${offset}`,
    `count=${length}`,
    `iflag=count_bytes,skip_bytes${direct ? ",direct" : ""}`,
    `oflag=seek_bytes${direct ? ",direct" : ""}`,
    `conv=${conv}`,
    "status=none",
  ]);
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
  return runChunks(runner, request, ctx, "wipe", (offset, length) => [
    "dd",
    "if=/dev/zero",
    `of=${request.target}`,
    `bs=${request.blockBytes ?? MiB}`,
    `seek=${offset}`,
    `count=${length}`,
    "iflag=count_bytes",
    `oflag=seek_bytes${direct ? ",direct" : ""}`,
    "conv=notrunc",
    "status=none",
  ]);
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

function invalid(message: string): ResultAsync<never, VolkitError> {
  return errAsync(new VolkitError("INVALID_ARGUMENT", message, { source: "copy" }));
}

function isPositiveInteger(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0;
}

/** Default chunk size: one second of data under a limit (whole MiB, 1 to 64 MiB), else 64 MiB. */
function defaultChunk(limit: number): number {
  if (limit <= 0) return DEFAULT_CHUNK;
  return Math.min(DEFAULT_CHUNK, Math.max(MiB, Math.floor(limit / MiB) * MiB));
}

function checkOptions(request: CopyEngineOptions & { readonly bytes: number }): string | undefined {
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

const DD_EINVAL = /dd: (failed to open|error reading|error writing) '(.*)': Invalid argument/;

/**
 * Turns dd's EINVAL under O_DIRECT into a typed, actionable error: `NOT_SUPPORTED` when the path
 * refuses O_DIRECT at open, `INVALID_ARGUMENT` when an I/O was not aligned to the logical block size.
 */
function explainDirectFailure(error: VolkitError, direct: boolean): VolkitError {
  if (!direct || error.code !== "COMMAND_FAILED") return error;
  const match = DD_EINVAL.exec(typeof error.details.stderr === "string" ? error.details.stderr : "");
  if (!match) return error;
  const [line, what, path] = match;
  if (what === "failed to open") {
    return new VolkitError("NOT_SUPPORTED", `O_DIRECT is not supported by '${path}' (${line}); retry with direct: false`, {
      source: "copy",
      cause: error,
      details: { ...error.details, directIo: "refused", path },
    });
  }
  return new VolkitError("INVALID_ARGUMENT", `direct I/O on '${path}' is not aligned to its logical block size (${line}); use aligned sizes or direct: false`, {
    source: "copy",
    cause: error,
    details: { ...error.details, directIo: "misaligned", path },
  });
}

/** Runs the chunks of a request already validated by `checkOptions`. */
function runChunks(
  runner: CommandRunner,
  request: CopyEngineOptions & { readonly bytes: number },
  ctx: OperationContext,
  phase: string,
  argvFor: (offset: number, length: number) => string[],
): ResultAsync<CopyReport, VolkitError> {
  const clock = request.clock ?? systemCopyClock;
  const direct = request.direct ?? true;
  const limit = request.bandwidthLimitBps ?? 0;
  const chunk = request.chunkBytes ?? defaultChunk(limit);
  const started = clock.now();
  const prefix = request.ionice ?? [];
  let chunks = 0;
  const step = (offset: number): ResultAsync<CopyReport, VolkitError> => {
    if (offset >= request.bytes) return okAsync({ bytes: request.bytes, chunks, durationMs: clock.now() - started });
    const aborted = ctx.abortError();
    if (aborted) return errAsync(aborted);
    const length = Math.min(chunk, request.bytes - offset);
    const argv = [...prefix, ...argvFor(offset, length)] as [string, ...string[]];
    return runner
      .run({ argv, signal: ctx.signal })
      .mapErr((e) => explainDirectFailure(e, direct))
      .andThen(() => {
        chunks++;
        const done = offset + length;
        ctx.progress(phase, done, request.bytes);
        // No pause after the last chunk: it would delay the result without throttling any I/O.
        return (done < request.bytes ? pace(clock, limit, done, started, ctx) : okAsync(undefined)).map(() => done);
      })
      .andThen(step);
  };
  return step(0);
}

/** Sleeps just long enough that `done` bytes took at least `done / limit` seconds. */
function pace(clock: CopyClock, limit: number, done: number, started: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
  if (limit <= 0) return okAsync(undefined);
  const ahead = (done / limit) * 1000 - (clock.now() - started);
  if (ahead <= 0) return okAsync(undefined);
  return ResultAsync.fromPromise(clock.sleep(ahead, ctx.signal), () => ctx.abortError() ?? new VolkitError("ABORTED", "aborted", { source: "copy" }));
}
