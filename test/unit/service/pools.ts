import type { PoolStatsInput } from "../../../src/core/records.js";
import { BackendStatsSchema, poolStates, type BackendStatsInput, type PoolState } from "../../../src/service/index.js";

/** A thin pool: 100 GiB total, 60 free, ratio 2, nothing provisioned. */
export const THIN: PoolStatsInput = {
  poolName: "thin",
  totalCapacityGiB: 100,
  freeCapacityGiB: 60,
  provisionedCapacityGiB: 0,
  allocatedCapacityGiB: 0,
  reservedPercentage: 0,
  maxOverSubscriptionRatio: 2,
  thinProvisioningSupport: true,
  thickProvisioningSupport: false,
};

/** A thick pool: 100 GiB total, 60 free. */
export const THICK: PoolStatsInput = {
  poolName: "thick",
  totalCapacityGiB: 100,
  freeCapacityGiB: 60,
  reservedPercentage: 0,
  thinProvisioningSupport: false,
  thickProvisioningSupport: true,
};

/** The scheduler's view of one pool of `backend`. */
export function pool(stats: Partial<PoolStatsInput> & { poolName?: string }, backend = "lvm-a", header: Partial<BackendStatsInput> = {}): PoolState {
  const base = stats.thinProvisioningSupport === false || stats.poolName === "thick" ? THICK : THIN;
  const parsed = BackendStatsSchema.parse({ backendName: backend, ...header, pools: [{ ...base, ...stats }] });
  const [state] = poolStates(parsed);
  if (state === undefined) throw new Error("no pool");
  return state;
}
