import { randomBytes } from "node:crypto";
import { ResultAsync, err, errAsync, ok, okAsync, type Result } from "neverthrow";
import { rollbackContext, type OperationContext } from "../core/context.js";
import type { VolkitError } from "../core/errors.js";
import type { CommandRunner } from "../exec/runner.js";
import { checkDirectLength, checkOptions, copyPlan, invalid, type CopyEngineOptions, type CopyReport } from "./copy.js";
import { runDd } from "./dd.js";
import { mergeRanges, type ByteRange } from "./thin-map.js";

/**
 * Copies only some byte ranges of a block device (the allocated ranges of a thin volume) to the
 * same offsets of another, with one `dd` however many ranges there are: device-mapper concatenates
 * the source's ranges into one temporary read-only device and the target's into another (`linear`
 * targets, `dmsetup create --concise` from stdin), `dd` copies the first into the second, and both
 * are removed. One dd per range would pay a process and a device close per range; the packed pair
 * costs two `dmsetup` calls per copy.
 *
 * The target must already read as zeros outside the ranges (a new thin LV): what is not copied is
 * not written.
 */

/** A range copy between two block devices. */
export interface RangeCopyRequest extends CopyEngineOptions {
  /** Source block device. */
  readonly source: string;
  /** Target block device, reading as zeros outside `ranges`. */
  readonly target: string;
  /** Byte ranges to copy, 512-byte aligned; sorted and merged by the engine. */
  readonly ranges: readonly ByteRange[];
}

const SECTOR = 512;
/** Ranges per packed device: bounds the table handed to the kernel (a fragmented volume takes several rounds). */
export const RANGES_PER_TABLE = 8192;
/** What dm tables and the concise syntax cannot hold in a path. */
const UNSAFE_PATH = /[\s,;\\]/;

/**
 * Copies `ranges` of `source` to `target` (see module doc). Progress counts copied bytes out of
 * the ranges' total.
 *
 * @example
 * ```ts
 * await copyRanges(runner, { source: "/dev/vg/thin-a", target: "/dev/vg2/thin-b", ranges: map.ranges, sparse: true }, ctx);
 * ```
 */
export function copyRanges(runner: CommandRunner, request: RangeCopyRequest, ctx: OperationContext): ResultAsync<CopyReport, VolkitError> {
  const problem = checkRanges(request);
  if (problem !== undefined) return invalid(problem);
  const ranges = mergeRanges(request.ranges);
  const total = ranges.reduce((sum, r) => sum + r.length, 0);
  const checked = checkOptions({ ...request, bytes: total }) ?? checkDirectLength(request, total);
  if (checked !== undefined) return invalid(checked);
  const started = performance.now();
  const finish = (runs: number): CopyReport => ({ bytes: total, chunks: runs, durationMs: performance.now() - started });
  const only = ranges.length === 1 ? ranges[0] : undefined;
  if (ranges.length === 0) return okAsync(finish(0));
  if (only) return runDd(runner, copyPlan(request, only.offset, only.length), ctx).map((o) => finish(o.runs));
  const batches: ByteRange[][] = [];
  for (let i = 0; i < ranges.length; i += RANGES_PER_TABLE) batches.push(ranges.slice(i, i + RANGES_PER_TABLE));
  return new ResultAsync(
    (async (): Promise<Result<CopyReport, VolkitError>> => {
      let done = 0;
      let runs = 0;
      for (const batch of batches) {
        const copied = await copyBatch(runner, request, batch, done, total, ctx);
        if (copied.isErr()) return err(copied.error);
        done += copied.value.bytes;
        runs += copied.value.runs;
      }
      return ok(finish(runs));
    })(),
  );
}

function checkRanges(request: RangeCopyRequest): string | undefined {
  for (const path of [request.source, request.target]) {
    if (!path.startsWith("/") || UNSAFE_PATH.test(path)) return `range copy needs absolute device paths without spaces, commas, semicolons or backslashes, got '${path}'`;
  }
  for (const r of request.ranges) {
    if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.offset < 0 || r.length < 0 || r.offset % SECTOR !== 0 || r.length % SECTOR !== 0) {
      return `ranges must be non-negative multiples of ${SECTOR} bytes, got offset ${r.offset} length ${r.length}`;
    }
  }
  return undefined;
}

/** `start length linear device offset` lines (sectors) concatenating `ranges` of `device`. */
export function packedTable(device: string, ranges: readonly ByteRange[]): string[] {
  let at = 0;
  return ranges.map((r) => {
    const line = `${at} ${r.length / SECTOR} linear ${device} ${r.offset / SECTOR}`;
    at += r.length / SECTOR;
    return line;
  });
}

/** Packs one batch, copies it with one dd, and removes the packed devices whatever happened. */
function copyBatch(
  runner: CommandRunner,
  request: RangeCopyRequest,
  batch: readonly ByteRange[],
  base: number,
  total: number,
  ctx: OperationContext,
): ResultAsync<{ bytes: number; runs: number }, VolkitError> {
  const id = `volkit-copy-${randomBytes(6).toString("hex")}`;
  const [src, dst] = [`${id}-src`, `${id}-dst`];
  const bytes = batch.reduce((sum, r) => sum + r.length, 0);
  // Concise syntax: devices separated by ';', fields by ',', table lines by ','.
  const spec = `${src},,,ro,${packedTable(request.source, batch).join(",")};${dst},,,rw,${packedTable(request.target, batch).join(",")}`;
  const create = runner.run({ argv: ["dmsetup", "create", "--concise"], stdin: spec, signal: ctx.signal });
  const remove = (): ResultAsync<void, VolkitError> =>
    runner.run({ argv: ["dmsetup", "remove", "--retry", src, dst], signal: rollbackContext(ctx, 60_000).signal }).map(() => undefined);
  return create
    .orElse((e) => remove().orElse(() => okAsync(undefined)).andThen(() => errAsync(e)))
    .andThen(
      () =>
        new ResultAsync(
          (async () => {
            const plan = { ...copyPlan({ ...request, source: `/dev/mapper/${src}`, target: `/dev/mapper/${dst}` }, 0, bytes), progressBase: base, progressTotal: total };
            const copied = await runDd(runner, plan, ctx);
            const removed = await remove();
            return copied.andThen((o) => removed.map(() => ({ bytes, runs: o.runs })));
          })(),
        ),
    );
}
