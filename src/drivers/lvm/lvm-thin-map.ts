import { ResultAsync, err, type Result } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { readThinMapping, type ByteRange } from "../../data/thin-map.js";
import type { CommandRunner } from "../../exec/runner.js";
import type { LvmClient } from "./lvm-client.js";
import { THIN_LV_FIELDS, parseThinLv } from "./lvm-parsers.js";

/** What the map needs to know of a thin LV. */
export interface ThinLvRef {
  /** LV name. */
  readonly name: string;
  /** Size in bytes. */
  readonly sizeBytes: number;
  /** Its device id in the pool (`thin_id`); `undefined` when it is not thin. */
  readonly thinId: number | undefined;
  /** Its thin pool ("" when not thin). */
  readonly pool: string;
}

/**
 * Which bytes of a thin LV (a volume or a thin snapshot) the thin pool has mapped: the rest reads
 * as zeros and need not be read at all (a backup's holes, a copy's skipped ranges). The mapping is
 * read with `readThinMapping` (src/data/thin-map.ts: a metadata snapshot reserved, dumped and
 * always released). A pool holds one metadata snapshot at a time, so this driver's reads run one
 * after another; one held by another process fails with `CONFLICT` and the caller reads every byte.
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
  read(lv: string, ctx: OperationContext): ResultAsync<ByteRange[], VolkitError> {
    return this.lvm
      .run(["lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", THIN_LV_FIELDS, `${this.lvm.vg}/${lv}`], ctx)
      .andThen((o) => parseThinLv(o.stdout))
      .andThen((info) => this.rangesOf(info, ctx));
  }

  /** The mapped byte ranges of an LV already looked up (see {@link ThinMapReader.read}). */
  rangesOf(lv: ThinLvRef, ctx: OperationContext): ResultAsync<ByteRange[], VolkitError> {
    const run = this.#tail.then(() => this.#readOnce(lv, ctx));
    this.#tail = run;
    return new ResultAsync(run);
  }

  async #readOnce(lv: ThinLvRef, ctx: OperationContext): Promise<Result<ByteRange[], VolkitError>> {
    if (lv.thinId === undefined || lv.pool !== this.pool) {
      return err(new VolkitError("NOT_SUPPORTED", `${this.lvm.vg}/${lv.name} is not a thin LV of pool ${this.pool}`, { source: "lvm", details: { operation: "allocationMap", lv: lv.name } }));
    }
    const ref = { poolDmName: this.lvm.mapperName(this.pool, "tpool"), metadataDevice: this.lvm.mapperPath(`${this.pool}_tmeta`), deviceId: lv.thinId };
    return readThinMapping(this.runner, ref, ctx).map((map) => clip(map.ranges, lv.sizeBytes));
  }
}

/** Ranges cut to the LV's size (a pool block may reach past the end of an LV whose size is not a multiple of it). */
function clip(ranges: readonly ByteRange[], sizeBytes: number): ByteRange[] {
  return ranges.filter((r) => r.offset < sizeBytes).map((r) => ({ offset: r.offset, length: Math.min(r.length, sizeBytes - r.offset) }));
}
