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
 */

/** Tuning shared by copies and wipes. */
export interface CopyEngineOptions {
  /** Target already reads as zeros (new thin LV/sparse file): skip writing zero blocks. */
  readonly sparse?: boolean;
  /** Use O_DIRECT (default true; turn off for tmpfs or files that refuse it). */
  readonly direct?: boolean;
  /** Bytes per second cap (0 or absent = unlimited). */
  readonly bandwidthLimitBps?: number;
  /** Bytes per dd invocation (default 64 MiB). Progress and pacing happen per chunk. */
  readonly chunkBytes?: number;
  /** dd block size in bytes (default 1 MiB). */
  readonly blockBytes?: number;
  /** Prefix for I/O priority, e.g. `["ionice", "-c3"]`. */
  readonly ionice?: readonly string[];
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

/** Copies `bytes` from `source` to `target` in chunks (see module doc). */
export function copyDevice(runner: CommandRunner, request: CopyRequest, ctx: OperationContext): ResultAsync<CopyReport, VolkitError> {
  return runChunks(runner, request, ctx, "copy", (offset, length) => {
    const direct = request.direct ?? true;
    const conv = request.sparse ? "notrunc,sparse" : "notrunc";
    return [
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
    ];
  });
}

/** A wipe request: overwrite the first `bytes` of `target` with zeros. */
export interface WipeRequest extends CopyEngineOptions {
  /** Device or file to zero. */
  readonly target: string;
  /** Bytes to zero from the start. */
  readonly bytes: number;
}

/** Zero-fills the first `bytes` of `target` (used when deleting thick volumes). */
export function zeroDevice(runner: CommandRunner, request: WipeRequest, ctx: OperationContext): ResultAsync<CopyReport, VolkitError> {
  return runChunks(runner, request, ctx, "wipe", (offset, length) => [
    "dd",
    "if=/dev/zero",
    `of=${request.target}`,
    `bs=${request.blockBytes ?? MiB}`,
    `seek=${offset}`,
    `count=${length}`,
    "iflag=count_bytes",
    `oflag=seek_bytes${(request.direct ?? true) ? ",direct" : ""}`,
    "conv=notrunc",
    "status=none",
  ]);
}

/** Discards (unmaps) a whole device with `blkdiscard`; thin LVs return the blocks to the pool. */
export function discardDevice(runner: CommandRunner, target: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
  return runner.run({ argv: ["blkdiscard", target], signal: ctx.signal }).map(() => undefined);
}

function runChunks(
  runner: CommandRunner,
  request: CopyEngineOptions & { readonly bytes: number },
  ctx: OperationContext,
  phase: string,
  argvFor: (offset: number, length: number) => string[],
): ResultAsync<CopyReport, VolkitError> {
  if (!Number.isSafeInteger(request.bytes) || request.bytes < 0) {
    return errAsync(new VolkitError("INVALID_ARGUMENT", `byte count must be a non-negative integer, got ${request.bytes}`, { source: "copy" }));
  }
  const chunk = request.chunkBytes ?? 64 * MiB;
  const limit = request.bandwidthLimitBps ?? 0;
  const started = performance.now();
  const prefix = request.ionice ?? [];
  let chunks = 0;
  const step = (offset: number): ResultAsync<CopyReport, VolkitError> => {
    if (offset >= request.bytes) return okAsync({ bytes: request.bytes, chunks, durationMs: performance.now() - started });
    const aborted = ctx.abortError();
    if (aborted) return errAsync(aborted);
    const length = Math.min(chunk, request.bytes - offset);
    const argv = [...prefix, ...argvFor(offset, length)] as [string, ...string[]];
    return runner
      .run({ argv, signal: ctx.signal })
      .andThen(() => {
        chunks++;
        const done = offset + length;
        ctx.progress(phase, done, request.bytes);
        return pace(limit, done, started, ctx).map(() => done);
      })
      .andThen(step);
  };
  return step(0);
}

/** Sleeps just long enough that `done` bytes took at least `done / limit` seconds. */
function pace(limit: number, done: number, started: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
  if (limit <= 0) return okAsync(undefined);
  const ahead = (done / limit) * 1000 - (performance.now() - started);
  if (ahead <= 0) return okAsync(undefined);
  return ResultAsync.fromPromise(sleep(ahead, undefined, { signal: ctx.signal }), () => ctx.abortError() ?? new VolkitError("ABORTED", "aborted", { source: "copy" }));
}
