import { expect } from "vitest";
import { VolumeStatsSchema, type Capacity, type VolumeStats } from "../core/records.js";

/** The conformance suite's checks of stats: Cinder's keys, valid capacities, provisioning growth. */

function isCapacity(value: unknown): value is Capacity {
  return value === "unknown" || value === "infinite" || (typeof value === "number" && Number.isFinite(value) && value >= 0);
}

/** Fails unless the stats have Cinder's keys with valid values (header from the runtime, pools from the driver). */
export function checkStatsShape(stats: VolumeStats, backendName: string): void {
  const parsed = VolumeStatsSchema.safeParse(stats);
  expect(parsed.success, `stats are valid VolumeStats${parsed.success ? "" : `: ${parsed.error.message}`}`).toBe(true);
  expect(stats.volumeBackendName, "volumeBackendName is the backend's name").toBe(backendName);
  for (const key of ["vendorName", "driverVersion"] as const) {
    expect(stats[key].length > 0, `${key} is a non-empty string`).toBe(true);
  }
  expect(isCapacity(stats.totalCapacityGiB), `totalCapacityGiB is a number ≥ 0, 'unknown' or 'infinite' (got ${String(stats.totalCapacityGiB)})`).toBe(true);
  expect(isCapacity(stats.freeCapacityGiB), `freeCapacityGiB is a number ≥ 0, 'unknown' or 'infinite' (got ${String(stats.freeCapacityGiB)})`).toBe(true);
  if (typeof stats.totalCapacityGiB === "number" && typeof stats.freeCapacityGiB === "number") {
    expect(stats.freeCapacityGiB, "free ≤ total").toBeLessThanOrEqual(stats.totalCapacityGiB);
  }
  expect(stats.pools.length > 0, "pools is a non-empty array").toBe(true);
  const names = new Set<string>();
  for (const pool of stats.pools) {
    names.add(pool.poolName);
    if (typeof pool.totalCapacityGiB === "number" && typeof pool.freeCapacityGiB === "number") {
      expect(pool.freeCapacityGiB, `pool ${pool.poolName}: free ≤ total`).toBeLessThanOrEqual(pool.totalCapacityGiB);
    }
    expect(pool.thinProvisioningSupport || pool.thickProvisioningSupport, `pool ${pool.poolName} supports thin or thick volumes`).toBe(true);
  }
  expect(names.size, "pool names are unique").toBe(stats.pools.length);
}

/** Sum of the pools' provisioned capacity, when every pool reports it. */
export function provisioned(stats: VolumeStats): number | undefined {
  let sum = 0;
  for (const pool of stats.pools) {
    if (pool.provisionedCapacityGiB === undefined) return undefined;
    sum += pool.provisionedCapacityGiB;
  }
  return sum;
}

/** Sum of the pools' volume counts, when every pool reports one. */
export function totalVolumes(stats: VolumeStats): number | undefined {
  let sum = 0;
  for (const pool of stats.pools) {
    if (pool.totalVolumes === undefined) return undefined;
    sum += pool.totalVolumes;
  }
  return sum;
}

/** Fails unless provisioned capacity grew by at least `sizeGiB` (when the driver reports it). */
export function checkProvisionedGrowth(before: VolumeStats, after: VolumeStats, sizeGiB: number): void {
  const p0 = provisioned(before);
  const p1 = provisioned(after);
  if (p0 !== undefined && p1 !== undefined) {
    expect(p1 - p0, `provisioned capacity grows by at least ${sizeGiB} GiB after creating a ${sizeGiB} GiB volume`).toBeGreaterThanOrEqual(sizeGiB);
  }
}

/** The capacity-related part of the stats, compared before/after operations that must change nothing. */
export function capacitySummary(stats: VolumeStats): unknown {
  return {
    free: stats.freeCapacityGiB,
    pools: stats.pools.map((p) => ({ pool: p.poolName, free: p.freeCapacityGiB, provisioned: p.provisionedCapacityGiB, volumes: p.totalVolumes })),
  };
}
