import { ResultAsync, err, type Result } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { CommandRunner } from "../../exec/runner.js";
import type { LvmClient } from "./lvm-client.js";
import { THIN_LV_FIELDS, parseThinDump, parseThinLv, type MappedRange } from "./lvm-parsers.js";

/** A release must not hang a backup that already has its map (or its error). */
const RELEASE_TIMEOUT_MS = 30_000;

/**
 * Which bytes of a thin LV (a volume or a thin snapshot) the thin pool has mapped: the rest reads
 * as zeros and need not be read at all (a backup's holes).
 *
 * The pool's metadata is live and changing, so it is read from a metadata snapshot, the kernel's
 * own consistent copy: `dmsetup message <pool>-tpool 0 reserve_metadata_snap` (commits first),
 * `thin_dump --metadata-snap --dev-id <thin_id> <pool>_tmeta`, then `release_metadata_snap`, which
 * runs on every path (also after an abort, without the caller's signal). A pool holds one metadata
 * snapshot at a time: reads are serialised within this driver; one held by another process makes
 * the reserve fail, and the caller reads every byte instead.
 */
export class ThinMapReader {
  #tail: Promise<unknown> = Promise.resolve();

  /** @param lvm - the VG's lvm2 access; @param runner - runs dmsetup and thin_dump; @param pool - the thin pool's LV name. */
  constructor(
    private readonly lvm: LvmClient,
    private readonly runner: CommandRunner,
    private readonly pool: string,
  ) {}

  /** The mapped byte ranges of thin LV `lv` (sorted, merged, within its size); `NOT_SUPPORTED` for an LV that is not thin. */
  read(lv: string, ctx: OperationContext): ResultAsync<MappedRange[], VolkitError> {
    const run = this.#tail.then(() => this.#readOnce(lv, ctx));
    this.#tail = run;
    return new ResultAsync(run);
  }

  async #readOnce(lv: string, ctx: OperationContext): Promise<Result<MappedRange[], VolkitError>> {
    const info = await this.lvm.run(["lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", THIN_LV_FIELDS, `${this.lvm.vg}/${lv}`], ctx).andThen((o) => parseThinLv(o.stdout));
    if (info.isErr()) return err(info.error);
    const { thinId, sizeBytes, pool } = info.value;
    if (thinId === undefined || pool !== this.pool) {
      return err(new VolkitError("NOT_SUPPORTED", `${this.lvm.vg}/${lv} is not a thin LV of pool ${this.pool}`, { source: "lvm", details: { operation: "allocationMap", lv } }));
    }
    const reserved = await this.#message("reserve_metadata_snap", ctx.signal);
    if (reserved.isErr()) return err(reserved.error);
    const dumped = await this.runner.run({ argv: ["thin_dump", "--metadata-snap", "--dev-id", String(thinId), this.lvm.mapperPath(`${this.pool}_tmeta`)], signal: ctx.signal });
    const released = await this.#message("release_metadata_snap", undefined);
    if (dumped.isErr()) return err(dumped.error);
    if (released.isErr()) return err(released.error);
    return parseThinDump(dumped.value.stdout, thinId).map((ranges) => clip(ranges, sizeBytes));
  }

  #message(message: "reserve_metadata_snap" | "release_metadata_snap", signal: AbortSignal | undefined): ResultAsync<void, VolkitError> {
    const tpool = this.lvm.mapperPath(this.pool, "tpool").slice("/dev/mapper/".length);
    return this.runner
      .run({ argv: ["dmsetup", "message", tpool, "0", message], ...(signal === undefined ? { timeoutMs: RELEASE_TIMEOUT_MS } : { signal }) })
      .map(() => undefined)
      .mapErr((e) => new VolkitError(e.code, `${message} on thin pool ${this.lvm.vg}/${this.pool} failed: ${e.message}`, { source: "lvm", cause: e, details: e.details, transient: e.transient }));
  }
}

/** Ranges cut to the LV's size (a pool block may reach past the end of an LV whose size is not a multiple of it). */
function clip(ranges: readonly MappedRange[], sizeBytes: number): MappedRange[] {
  return ranges.filter((r) => r.offset < sizeBytes).map((r) => ({ offset: r.offset, length: Math.min(r.length, sizeBytes - r.offset) }));
}

