import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import { copyDevice, discardDevice, zeroDevice, type CopyEngineOptions, type CopyReport } from "../../data/copy.js";
import { copyRanges } from "../../data/range-copy.js";
import type { ByteRange } from "../../data/thin-map.js";
import type { CommandRunner } from "../../exec/runner.js";
import { GiB, type LvmClient } from "./lvm-client.js";
import type { ParsedLvmConfig } from "./lvm-config.js";
import { isThinVolume, type LvInfo } from "./lvm-parsers.js";
import type { ThinMapReader } from "./lvm-thin-map.js";

/**
 * The LVM driver's data movements: wiping deleted volumes (zeroing thick LVs, discarding thin
 * ones), and making a new volume with another LV's data (a thin snapshot for thin sources, an
 * allocated LV filled by the copy engine for thick ones). A failed copy removes what it made.
 */
export class LvmData {
  constructor(
    private readonly lvm: LvmClient,
    private readonly runner: CommandRunner,
    private readonly config: ParsedLvmConfig,
    private readonly thinMap: ThinMapReader,
  ) {}

  /** Block size, bandwidth cap, direct I/O and ionice for copies and wipes. */
  copyOptions(): CopyEngineOptions {
    const ionice = this.config.volumeClearIonice;
    return {
      blockBytes: this.config.copyBlockBytes,
      bandwidthLimitBps: this.config.copyBandwidthLimitBps,
      ...(this.config.copyChunkBytes === undefined ? {} : { chunkBytes: this.config.copyChunkBytes }),
      direct: true,
      ...(ionice ? { ionice: ["ionice", ...ionice.split(" ")] } : {}),
    };
  }

  /** Bytes to wipe of an LV: `volumeClearSizeMiB` from the start, or all of it. */
  clearBytes(lv: LvInfo): number {
    const limit = this.config.volumeClearSizeMiB * 1024 * 1024;
    return limit > 0 ? Math.min(limit, lv.sizeBytes) : lv.sizeBytes;
  }

  /**
   * Thick: zero (unless `volumeClear` is `none`). Thin: nothing (removing the LV returns its blocks
   * to the pool), or a discard passed down to the PV with `thinDiscardOnDelete`.
   */
  wipe(lv: LvInfo, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const device = this.lvm.devicePath(lv.name);
    if (isThinVolume(lv)) {
      if (!this.config.thinDiscardOnDelete) return okAsync(undefined);
      return discardDevice(this.runner, device, ctx).orElse((e) => {
        // Discard is an optimisation for thin LVs: the pool zeroes newly provisioned blocks anyway.
        ctx.logger.warn({ volume: lv.name, code: e.code }, "discard failed; removing without it");
        return okAsync(undefined);
      });
    }
    if (this.config.volumeClear === "none") return okAsync(undefined);
    return zeroDevice(this.runner, { target: device, bytes: this.clearBytes(lv), ...this.copyOptions() }, ctx).map(() => undefined);
  }

  /**
   * Zeroes a thick snapshot's exception store (the `-cow` layer, lv_size bytes) itself: writing zeros
   * *through* the snapshot would need more COW space than it has and invalidate it half way (EIO),
   * leaking the rest.
   */
  wipeSnapshot(lv: LvInfo, ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (this.config.volumeClear !== "zero") return okAsync(undefined);
    return zeroDevice(this.runner, { target: this.lvm.mapperPath(lv.name, "cow"), bytes: this.clearBytes(lv), ...this.copyOptions() }, ctx).map(() => undefined);
  }

  /**
   * Thin copy: a thin snapshot of `source` named `name` (`--setactivationskip n`, so lvcreate
   * activates it), grown to `sizeGiB` when larger; removed on failure.
   */
  thinCopy(source: LvInfo, name: string, sizeGiB: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return ctx.phase("thin-snapshot", () => this.lvm.createSnapshot(name, source.name, ctx, { activate: true })).andThen(() =>
      source.sizeBytes >= sizeGiB * GiB
        ? okAsync(undefined)
        : ctx.phase("lvextend", () => this.lvm.extend(name, sizeGiB, ctx)).orElse((e) => this.lvm.remove(name, rollbackContext(ctx)).andThen(() => errAsync(e))),
    );
  }

  /**
   * Copies the data of `source` into `target`, a block device that reads as zeros (a new thin LV,
   * possibly in another VG). A thin source is read from the pool's mapping: only its mapped blocks
   * are copied, with one dd (see `copyRanges`), so the target stays as allocated as the source.
   * When the mapping cannot be read (a metadata snapshot held by someone else, no thin_dump, an
   * unreadable dump) or the source is thick, the whole device is copied with zero blocks skipped
   * (`conv=sparse`, Cinder's way).
   */
  copyData(source: LvInfo, target: string, ctx: OperationContext): ResultAsync<CopyReport, VolkitError> {
    const device = this.lvm.devicePath(source.name);
    const whole = (): ResultAsync<CopyReport, VolkitError> =>
      ctx.phase("copy", () => copyDevice(this.runner, { source: device, target, bytes: source.sizeBytes, ...this.copyOptions(), sparse: true }, ctx));
    if (!isThinVolume(source) || source.thinId === undefined || source.pool === "") return whole();
    return ctx
      .phase("thin-map", () => this.thinMap.rangesOf(source, ctx))
      .map((ranges): ByteRange[] | undefined => ranges)
      .orElse((e) => {
        if (e.code === "ABORTED" || e.code === "TIMEOUT") return errAsync(e);
        ctx.logger.warn({ volume: source.name, code: e.code, error: e.message }, "thin pool mapping unreadable; copying the whole device, skipping zero blocks");
        return okAsync(undefined);
      })
      .andThen((ranges) => (ranges ? ctx.phase("copy", () => copyRanges(this.runner, { source: device, target, ranges, ...this.copyOptions(), sparse: true }, ctx)) : whole()));
  }

  /** Thick copy: allocates `name` and copies `bytes` of `sourceDevice` into it; the new LV is removed on failure. */
  thickCopy(sourceDevice: string, bytes: number, name: string, sizeGiB: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return ctx
      .phase("lvcreate", () => this.lvm.createThick(name, sizeGiB, ctx))
      .andThen(() =>
        ctx
          .phase("copy", () => copyDevice(this.runner, { source: sourceDevice, target: this.lvm.devicePath(name), bytes, ...this.copyOptions(), sparse: false }, ctx))
          .map(() => undefined)
          .orElse((e) => this.lvm.remove(name, rollbackContext(ctx)).andThen(() => errAsync(e))),
      );
  }

  /**
   * Thick clone of a volume in use: a temporary snapshot gives a consistent point-in-time source,
   * copied into the new LV, then dropped (whatever the copy did).
   */
  thickCloneViaSnapshot(source: LvInfo, tempName: string, leftover: boolean, name: string, sizeGiB: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    // `leftover`: the report showed a temporary snapshot of an interrupted earlier attempt.
    return (leftover ? this.lvm.remove(tempName, ctx) : okAsync(undefined))
      .andThen(() => ctx.phase("temp-snapshot", () => this.lvm.createSnapshot(tempName, source.name, ctx, { cowBytes: source.sizeBytes })))
      .andThen(
        () =>
          new ResultAsync(
            (async () => {
              const copied = await this.thickCopy(this.lvm.devicePath(tempName), source.sizeBytes, name, sizeGiB, ctx);
              const dropped = await this.lvm.remove(tempName, rollbackContext(ctx));
              return copied.andThen(() => dropped);
            })(),
          ),
      );
  }
}
