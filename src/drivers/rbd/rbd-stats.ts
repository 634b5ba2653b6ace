import type { PoolStatsInput } from "../../core/records.js";
import type { ParsedRbdConfig } from "./rbd-config.js";
import { poolSpec, volumeIdOf } from "./rbd-names.js";
import type { CephDf, RbdDiskUsage } from "./rbd-parsers.js";
import { GiB } from "./rbd-pool.js";

/** GiB with two decimals, as Cinder reports them. */
function gib(bytes: number): number {
  return Math.round((bytes / GiB) * 100) / 100;
}

/**
 * The pool's stats the way Cinder's RBD driver computes them:
 *
 * - capacity from `ceph df detail` of the pool holding the data (`dataPool`, else `pool`):
 *   with a byte quota, total = the quota and free = what is left of it (never more than
 *   `max_avail`); without, total = used + `max_avail` and free = `max_avail` (which accounts for
 *   replication and the full ratio). `unknown` when `ceph df` does not list the pool yet (the
 *   manager has not reported since it started);
 * - provisioned = the sum of the images' sizes from `rbd du` (snapshots not counted), allocated =
 *   the bytes `rbd du` counts as used (images and snapshots);
 * - thin only, with the configured over-subscription ratio and reserve; back-end QoS supported.
 */
export function poolStatsOf(config: ParsedRbdConfig, df: CephDf, du: RbdDiskUsage): PoolStatsInput {
  const dataPool = df.pools.find((p) => p.name === (config.dataPool ?? config.pool));
  const heads = du.images.filter((i) => i.snapshot === undefined);
  const provisionedBytes = heads.reduce((sum, i) => sum + i.provisionedBytes, 0);
  const usedBytes = du.totalUsedBytes ?? du.images.reduce((sum, i) => sum + i.usedBytes, 0);
  let total: number | "unknown" = "unknown";
  let free: number | "unknown" = "unknown";
  if (dataPool !== undefined) {
    const quota = dataPool.quotaBytes ?? 0;
    if (quota > 0) {
      total = gib(quota);
      free = gib(Math.max(0, Math.min(quota - dataPool.storedBytes, dataPool.maxAvailBytes)));
    } else {
      total = gib(dataPool.usedBytes + dataPool.maxAvailBytes);
      free = gib(dataPool.maxAvailBytes);
    }
  }
  const name = poolSpec(config.pool, config.namespace);
  return {
    poolName: name,
    totalCapacityGiB: total,
    freeCapacityGiB: free,
    reservedPercentage: config.reservedPercentage,
    provisionedCapacityGiB: gib(provisionedBytes),
    allocatedCapacityGiB: gib(usedBytes),
    maxOverSubscriptionRatio: config.maxOverSubscriptionRatio,
    thinProvisioningSupport: true,
    thickProvisioningSupport: false,
    totalVolumes: heads.filter((i) => volumeIdOf(i.name) !== undefined).length,
    multiattach: false,
    qosSupport: true,
    backendState: "up",
    capabilities: config.dataPool === undefined ? {} : { dataPool: config.dataPool },
  };
}
