import { dirname } from "node:path";
import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { withRetry } from "../../core/retry.js";
import { exitCodeOf, type CommandOutput, type CommandRunner } from "../../exec/runner.js";
import type { ParsedLvmConfig } from "./lvm-config.js";
import { LVS_FIELDS, VGS_FIELDS, VG_LV_FIELDS, classifyLvmError, parseLvs, parseVgs, parseVgsWithLvs, type LvInfo, type VgInfo } from "./lvm-parsers.js";

/** lvm2 exits 139 when it segfaults (seen under load); Cinder retries those, and so do we. */
const LVM_SEGFAULT = 139;

/** Bytes in a GiB. */
const GiB = 1024 ** 3;

/**
 * Typed access to lvm2's commands for one volume group. Every command runs with `LC_ALL=C`
 * (stable messages to classify), the configured LVM_SYSTEM_DIR and fd-warning suppression, and
 * is retried on exit code 139. Queries use JSON reports in bytes.
 */
export class LvmClient {
  readonly #env: Record<string, string>;

  /** @param runner - where lvm2 runs; @param config - parsed driver config. */
  constructor(
    private readonly runner: CommandRunner,
    private readonly config: ParsedLvmConfig,
  ) {
    this.#env = {
      LC_ALL: "C",
      ...(config.suppressFdWarnings ? { LVM_SUPPRESS_FD_WARNINGS: "1" } : {}),
      ...(config.lvmConfFile ? { LVM_SYSTEM_DIR: dirname(config.lvmConfFile) } : {}),
    };
  }

  /** The volume group name. */
  get vg(): string {
    return this.config.volumeGroup;
  }

  /** `/dev/<vg>/<lv>`. */
  devicePath(lv: string): string {
    return `/dev/${this.vg}/${lv}`;
  }

  /**
   * `/dev/mapper/<vg>-<lv>[-<layer>]`: device-mapper doubles every `-` inside VG and LV names.
   * The `cow` layer of a thick snapshot is its exception store.
   */
  mapperPath(lv: string, layer?: string): string {
    return `/dev/mapper/${this.mapperName(lv, layer)}`;
  }

  /** The device-mapper name of an LV (or of one of its layers, e.g. a thin pool's `tpool`). */
  mapperName(lv: string, layer?: string): string {
    const esc = (n: string): string => n.replaceAll("-", "--");
    return `${esc(this.vg)}-${esc(lv)}${layer ? `-${layer}` : ""}`;
  }

  /** Runs one lvm2 command with the driver's environment and the 139 retry. */
  run(argv: readonly [string, ...string[]], ctx: OperationContext, okExitCodes?: readonly number[]): ResultAsync<CommandOutput, VolkitError> {
    return withRetry(
      () => this.runner.run({ argv, env: this.#env, signal: ctx.signal, ...(okExitCodes ? { okExitCodes } : {}) }),
      { retries: 3, minTimeoutMs: 100, signal: ctx.signal, isTransient: (e) => exitCodeOf(e) === LVM_SEGFAULT },
    ).mapErr((e) => classify(e));
  }

  /** The volume group, or `BACKEND_UNAVAILABLE` when it does not exist. */
  vgInfo(ctx: OperationContext): ResultAsync<VgInfo, VolkitError> {
    return this.run(["vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", VGS_FIELDS, this.vg], ctx)
      .andThen((out) => parseVgs(out.stdout))
      .andThen((vgs) => {
        const vg = vgs.find((v) => v.name === this.vg);
        return vg ? okAsync(vg) : errAsync(new VolkitError("BACKEND_UNAVAILABLE", `volume group ${this.vg} not found`, { source: "lvm" }));
      });
  }

  /**
   * The VG and every LV in one command (`vgs` with LV fields); a VG without LVs prints no row, so
   * only then a second, plain `vgs` reads the VG. `BACKEND_UNAVAILABLE` when the VG does not exist.
   */
  report(ctx: OperationContext): ResultAsync<{ vg: VgInfo; lvs: LvInfo[] }, VolkitError> {
    return this.run(["vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", VG_LV_FIELDS, this.vg], ctx)
      .andThen((out) => parseVgsWithLvs(out.stdout))
      .andThen(({ vg, lvs }) => (vg ? okAsync({ vg, lvs }) : this.vgInfo(ctx).map((only) => ({ vg: only, lvs: [] as LvInfo[] }))));
  }

  /** Every LV of the volume group. */
  listLvs(ctx: OperationContext): ResultAsync<LvInfo[], VolkitError> {
    return this.run(["lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", LVS_FIELDS, this.vg], ctx).andThen((out) => parseLvs(out.stdout));
  }

  /** One LV, or undefined when it does not exist. */
  findLv(name: string, ctx: OperationContext): ResultAsync<LvInfo | undefined, VolkitError> {
    return this.listLvs(ctx).map((lvs) => lvs.find((lv) => lv.name === name));
  }

  /** Creates a thick LV of `sizeGiB`, mirrored when configured. */
  createThick(name: string, sizeGiB: number, ctx: OperationContext, tags: readonly string[] = []): ResultAsync<void, VolkitError> {
    const mirror = this.config.mirrors > 0 ? ["--type", "raid1", "-m", String(this.config.mirrors), "--nosync"] : [];
    return this.run(["lvcreate", "--yes", "--wipesignatures", "y", "-n", name, "-L", `${sizeGiB}g`, ...mirror, ...tagArgs(tags), this.vg], ctx).map(() => undefined);
  }

  /** Creates a thin LV of `sizeGiB` in `pool`. */
  createThin(name: string, sizeGiB: number, pool: string, ctx: OperationContext, tags: readonly string[] = []): ResultAsync<void, VolkitError> {
    return this.run(["lvcreate", "--yes", "--wipesignatures", "y", "-T", "-V", `${sizeGiB}g`, "-n", name, ...tagArgs(tags), `${this.vg}/${pool}`], ctx).map(() => undefined);
  }

  /** Creates a thin pool taking `percentOfFree` of the VG's free space. */
  createThinPool(pool: string, percentOfFree: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.run(["lvcreate", "--yes", "--type", "thin-pool", "-l", `${percentOfFree}%FREE`, "-n", pool, this.vg], ctx).map(() => undefined);
  }

  /**
   * Snapshots `origin` as `name`. Thick origins need a COW size (the origin's size, so the
   * snapshot can never overflow); thin origins make a thin snapshot. `activate` clears the
   * activation-skip flag thin snapshots get by default, so the new LV is usable at once.
   */
  createSnapshot(name: string, origin: string, ctx: OperationContext, options: { readonly cowBytes?: number; readonly activate?: boolean; readonly tags?: readonly string[] } = {}): ResultAsync<void, VolkitError> {
    const size = options.cowBytes === undefined ? [] : ["-L", `${options.cowBytes}b`];
    const skip = options.activate ? ["--setactivationskip", "n"] : [];
    return this.run(["lvcreate", "--yes", "-s", "-n", name, ...size, ...skip, ...tagArgs(options.tags ?? []), `${this.vg}/${origin}`], ctx).map(() => undefined);
  }

  /** Activates an LV (ignoring its activation-skip flag). */
  activate(name: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.run(["lvchange", "-a", "y", "--yes", "-K", `${this.vg}/${name}`], ctx).map(() => undefined);
  }

  /** Deactivates an LV. */
  deactivate(name: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.run(["lvchange", "-a", "n", `${this.vg}/${name}`], ctx).map(() => undefined);
  }

  /** Grows an LV to `sizeGiB`. */
  extend(name: string, sizeGiB: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.run(["lvextend", "--yes", "-L", `${sizeGiB}g`, `${this.vg}/${name}`], ctx).map(() => undefined);
  }

  /** Grows an LV to exactly `bytes` (rounded up to extents by lvm). */
  extendBytes(name: string, bytes: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.run(["lvextend", "--yes", "-L", `${bytes}b`, `${this.vg}/${name}`], ctx).map(() => undefined);
  }

  /** Renames an LV. */
  rename(from: string, to: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.run(["lvrename", this.vg, from, to], ctx).map(() => undefined);
  }

  /** Starts merging a thick snapshot into its origin (completes on the origin's next activation). */
  merge(snapshot: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.run(["lvconvert", "--merge", `${this.vg}/${snapshot}`], ctx).map(() => undefined);
  }

  /** Adds tags to an LV. */
  addTags(name: string, tags: readonly string[], ctx: OperationContext): ResultAsync<void, VolkitError> {
    return tags.length === 0 ? okAsync(undefined) : this.run(["lvchange", ...tagArgs(tags), `${this.vg}/${name}`], ctx).map(() => undefined);
  }

  /**
   * Removes an LV; ok when it is already gone. A first failure with a busy device is retried
   * once after `udevadm settle` (udev may still hold the node), like Cinder.
   */
  remove(name: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const attempt = (): ResultAsync<void, VolkitError> =>
      this.run(["lvremove", "--yes", "--config", "activation { retry_deactivation = 1 }", "-f", `${this.vg}/${name}`], ctx).map(() => undefined);
    return attempt()
      .orElse((e) => (e.code === "VOLUME_NOT_FOUND" ? okAsync(undefined) : errAsync(e)))
      .orElse((e) =>
        e.code === "VOLUME_BUSY"
          ? this.runner.run({ argv: ["udevadm", "settle", "--timeout=30"], signal: ctx.signal, okExitCodes: [0, 1] }).orElse(() => okAsync(undefined)).andThen(attempt)
          : errAsync(e),
      );
  }
}

function tagArgs(tags: readonly string[]): string[] {
  return tags.flatMap((t) => ["--addtag", t]);
}

function classify(error: VolkitError): VolkitError {
  if (error.code !== "COMMAND_FAILED") return error;
  const stderr = typeof error.details.stderr === "string" ? error.details.stderr : "";
  const code = classifyLvmError(stderr);
  return code ? new VolkitError(code, error.message, { source: "lvm", cause: error, details: error.details }) : new VolkitError("COMMAND_FAILED", error.message, { source: "lvm", cause: error, details: error.details });
}

/** Whole GiB needed to hold `bytes`. */
export function gibCeil(bytes: number): number {
  return Math.ceil(bytes / GiB);
}

export { GiB };
