import { err, ok, type Result } from "neverthrow";
import { VolkitError } from "../../core/errors.js";
import type { PoolStatsInput } from "../../core/records.js";
import { GiB } from "./lvm-client.js";
import type { ParsedLvmConfig } from "./lvm-config.js";
import { isThinPool, type LvInfo, type VgInfo } from "./lvm-parsers.js";

/**
 * The LVM driver's pool: which kind of volumes it makes (Cinder's `lvm_type`), its capacity per
 * Cinder's LVM rules, and whether a new volume fits. Pure functions over `vgs`/`lvs` reports.
 */

/** Thin LVs in the thin pool, or thick (plain) LVs in the VG. */
export type LvmMode = "thin" | "thick";

/** Name of the thin pool (default `<vg>-pool`). */
export function thinPoolName(config: ParsedLvmConfig): string {
  return config.thinPoolName ?? `${config.volumeGroup}-pool`;
}

/**
 * Resolves `lvmType`: `thin`/`default` as configured; `auto` = thin when the pool exists or the VG
 * has no LVs, else thick (Cinder's rule). A pool name taken by an LV that is not a thin pool is
 * `INVALID_CONFIG`. Reads only; the pool is created by setup.
 */
export function resolveMode(config: ParsedLvmConfig, vg: VgInfo, lvs: readonly LvInfo[]): Result<LvmMode, VolkitError> {
  const pool = lvs.find((lv) => lv.name === thinPoolName(config));
  if (pool && !isThinPool(pool)) {
    return err(new VolkitError("INVALID_CONFIG", `${config.volumeGroup}/${pool.name} exists but is not a thin pool`, { source: "lvm" }));
  }
  const thin = config.lvmType === "thin" || (config.lvmType === "auto" && (pool !== undefined || vg.lvCount === 0));
  return ok(thin ? "thin" : "thick");
}

/**
 * The pool as Cinder's LVM driver reports it. Thin: the thin pool's size, free = size − data%,
 * provisioned = sum of its thin LVs. A thin pool not created yet (setup has not run) is reported as
 * the pool setup would create (its share of the VG's free space, empty). Thick: the VG's size and
 * free space (divided by the mirror count), provisioned = used.
 */
export function poolStatsOf(config: ParsedLvmConfig, mode: LvmMode, vg: VgInfo, lvs: readonly LvInfo[], host: string): PoolStatsInput {
  const volumes = lvs.filter((lv) => lv.name.startsWith("volume-"));
  let total: number, free: number, provisioned: number;
  let dataPercent: number | undefined;
  if (mode === "thin") {
    const pool = lvs.find((lv) => lv.name === thinPoolName(config));
    if (pool) {
      dataPercent = pool.dataPercent ?? 0;
      total = pool.sizeBytes / GiB;
      free = total - (total * dataPercent) / 100;
      provisioned = lvs.filter((lv) => lv.pool === pool.name).reduce((sum, lv) => sum + lv.sizeBytes, 0) / GiB;
    } else {
      total = (vg.freeBytes * config.thinPoolPercentOfFree) / 100 / GiB;
      free = total;
      provisioned = 0;
      dataPercent = 0;
    }
  } else {
    total = vg.sizeBytes / GiB;
    free = vg.freeBytes / GiB / (config.mirrors + 1);
    provisioned = total - vg.freeBytes / GiB;
  }
  const ratio = mode === "thin" ? (config.maxOverSubscriptionRatio === "auto" ? autoRatio(provisioned, total) : config.maxOverSubscriptionRatio) : 1;
  return {
    poolName: config.volumeGroup,
    totalCapacityGiB: round2(total),
    // Rounded down: a free figure rounded up (7.996 → 8) lets the scheduler place a volume lvcreate refuses.
    freeCapacityGiB: floor2(Math.max(0, free)),
    reservedPercentage: config.reservedPercentage,
    provisionedCapacityGiB: round2(Math.max(0, provisioned)),
    allocatedCapacityGiB: round2(Math.max(0, total - free)),
    maxOverSubscriptionRatio: ratio,
    thinProvisioningSupport: mode === "thin",
    thickProvisioningSupport: mode === "thick",
    totalVolumes: volumes.length,
    multiattach: false,
    qosSupport: false,
    locationInfo: `LVMVolumeDriver:${host}:${config.volumeGroup}:${mode === "thin" ? "thin" : "default"}:${config.mirrors}`,
    backendState: "up",
    capabilities: { lvmType: mode, ...(dataPercent === undefined ? {} : { dataPercent }) },
  };
}

/**
 * Whether `sizeGiB` more fits: thick needs that much free beyond the reserve; thin needs the
 * provisioned total to stay within the over-subscription ratio of the usable size, and some real
 * space left. `INSUFFICIENT_CAPACITY` with the numbers otherwise.
 */
export function checkFits(config: ParsedLvmConfig, mode: LvmMode, pool: PoolStatsInput, sizeGiB: number): Result<void, VolkitError> {
  if (sizeGiB <= 0 || typeof pool.totalCapacityGiB !== "number" || typeof pool.freeCapacityGiB !== "number") return ok(undefined);
  const reserved = pool.totalCapacityGiB * ((pool.reservedPercentage ?? 0) / 100);
  const provisioned = pool.provisionedCapacityGiB ?? 0;
  const fits =
    mode === "thin"
      ? provisioned + sizeGiB <= (pool.totalCapacityGiB - reserved) * (pool.maxOverSubscriptionRatio ?? 1) && pool.freeCapacityGiB > reserved
      : pool.freeCapacityGiB - reserved >= sizeGiB;
  if (fits) return ok(undefined);
  const where = mode === "thin" ? `thin pool ${thinPoolName(config)}` : `volume group ${config.volumeGroup}`;
  return err(
    new VolkitError("INSUFFICIENT_CAPACITY", `${sizeGiB} GiB does not fit in ${where} (free ${pool.freeCapacityGiB} GiB, provisioned ${provisioned} of ${pool.totalCapacityGiB} GiB)`, {
      source: "lvm",
      details: { requestedGiB: sizeGiB, freeGiB: pool.freeCapacityGiB, provisionedGiB: provisioned, totalGiB: pool.totalCapacityGiB },
    }),
  );
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function floor2(n: number): number {
  return Math.floor(n * 100) / 100;
}

/** Cinder's `auto` ratio: grows with what is already provisioned, never below 1. */
function autoRatio(provisioned: number, total: number): number {
  return total <= 0 ? 1 : round2(Math.max(1, 1 + provisioned / total));
}
