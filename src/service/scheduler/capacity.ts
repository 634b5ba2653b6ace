import type { PoolState } from "./pool-stats.js";

/**
 * Cinder's capacity arithmetic (the classic `CapacityFilter` and `CapacityWeigher` formulas of
 * `cinder/scheduler`), pure. GiB throughout.
 *
 * - reserved = ⌊total × reserved%⌋
 * - thin (pool supports thin and the type does not ask for thick), ratio ≥ 1: fails when
 *   (provisioned + requested) / total > ratio, else passes when (free − reserved) × ratio ≥ requested
 * - thin with a ratio below 1: fails (an invalid ratio)
 * - thick: passes when free − reserved ≥ requested
 * - free `infinite`/`unknown` passes; total `infinite`/`unknown` passes only with 0% reserved
 *   (reserved cannot be computed); total 0 fails; a request of 0 GiB (manage) passes.
 */

/** Whether a placement uses thin arithmetic: the pool supports thin and the type does not ask for thick. */
export function isThin(pool: PoolState, provisioningType: string | undefined): boolean {
  return pool.stats.thinProvisioningSupport && provisioningType !== "thick";
}

/** A filter's verdict: pass, or the reason with the numbers. */
export type Verdict = { readonly pass: true } | { readonly pass: false; readonly reason: string; readonly details: Readonly<Record<string, number | string>> };

const PASS: Verdict = { pass: true };

/** A GiB figure for messages: whole numbers plain, others to two decimals. */
export function gib(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/\.?0+$/, "");
}

/** ⌊total × reserved%⌋, or undefined when total is not a number. */
export function reservedGiB(pool: PoolState): number | undefined {
  const total = pool.stats.totalCapacityGiB;
  return typeof total === "number" ? Math.floor((total * pool.stats.reservedPercentage) / 100) : undefined;
}

/** Cinder's CapacityFilter for a request of `requestedGiB` (the size, or the growth of an extend). */
export function capacityVerdict(pool: PoolState, requestedGiB: number, provisioningType: string | undefined): Verdict {
  if (requestedGiB === 0) return PASS;
  const { freeCapacityGiB: free, totalCapacityGiB: total, reservedPercentage, maxOverSubscriptionRatio: ratio, provisionedCapacityGiB: provisioned } = pool.stats;
  if (free === "infinite" || free === "unknown") return PASS;
  if (total === "infinite" || total === "unknown") {
    if (reservedPercentage === 0) return PASS;
    return {
      pass: false,
      reason: `CapacityFilter cannot reserve ${reservedPercentage}% of a total reported as ${total}`,
      details: { total, reservedPercentage },
    };
  }
  if (total <= 0) return { pass: false, reason: "CapacityFilter: total capacity is 0", details: { total } };
  const reserved = Math.floor((total * reservedPercentage) / 100);
  const usable = free - reserved;
  if (isThin(pool, provisioningType)) {
    if (ratio < 1) {
      return { pass: false, reason: `CapacityFilter: max_over_subscription_ratio ${ratio} is below 1 (invalid for thin provisioning)`, details: { ratio } };
    }
    const provisionedRatio = (provisioned + requestedGiB) / total;
    if (provisionedRatio > ratio) {
      return {
        pass: false,
        reason: `CapacityFilter: (provisioned ${gib(provisioned)} + ${gib(requestedGiB)} GiB) / total ${gib(total)} = ${gib(provisionedRatio)} exceeds max_over_subscription_ratio ${gib(ratio)}`,
        details: { provisioned, requested: requestedGiB, total, provisionedRatio, ratio },
      };
    }
    const virtualFree = usable * ratio;
    if (virtualFree >= requestedGiB) return PASS;
    return {
      pass: false,
      reason: `CapacityFilter needs ${gib(requestedGiB)} GiB virtual, has ${gib(virtualFree)} ((free ${gib(free)} - reserved ${gib(reserved)}) x ratio ${gib(ratio)})`,
      details: { requested: requestedGiB, virtualFree, free, reserved, ratio },
    };
  }
  if (usable >= requestedGiB) return PASS;
  return {
    pass: false,
    reason: `CapacityFilter needs ${gib(requestedGiB)} GiB, has ${gib(usable)} (free ${gib(free)} - reserved ${gib(reserved)})`,
    details: { requested: requestedGiB, usable, free, reserved },
  };
}

/**
 * What the CapacityWeigher weighs: thin → total × ratio − provisioned − reserved (virtual free);
 * thick → free − reserved. `undefined` for `infinite`/`unknown` (the weigher gives those the lowest
 * weight when spreading, the highest when stacking, as Cinder does).
 */
export function weighableFreeGiB(pool: PoolState, provisioningType: string | undefined): number | undefined {
  const { freeCapacityGiB: free, totalCapacityGiB: total, maxOverSubscriptionRatio: ratio, provisionedCapacityGiB: provisioned } = pool.stats;
  if (typeof free !== "number" || typeof total !== "number") return undefined;
  const reserved = Math.floor((total * pool.stats.reservedPercentage) / 100);
  return isThin(pool, provisioningType) ? total * ratio - provisioned - reserved : free - reserved;
}

/**
 * The scheduler copy of a pool after a volume of `sizeGiB` is placed on it (Cinder's
 * `consume_from_volume`): allocated and provisioned grow; free shrinks unless `infinite`/`unknown`
 * or the volume is `thin`. Better than Cinder, whose consume takes a thin volume's full size off
 * the physical free space too: a 10 GiB thin volume on a 7 GiB pool then drives `free` below zero
 * and refuses every create on that pool until the next stats refresh, although a new thin volume
 * holds no blocks. Thin placements stay bounded by the over-subscription ratio on `provisioned`.
 * A negative size gives the capacity back (a placement that was not used).
 */
export function consumed(pool: PoolState, sizeGiB: number, thin = false): PoolState {
  const s = pool.stats;
  return {
    ...pool,
    stats: {
      ...s,
      allocatedCapacityGiB: Math.max(0, s.allocatedCapacityGiB + sizeGiB),
      provisionedCapacityGiB: Math.max(0, s.provisionedCapacityGiB + sizeGiB),
      freeCapacityGiB: typeof s.freeCapacityGiB === "number" && !thin ? s.freeCapacityGiB - sizeGiB : s.freeCapacityGiB,
      ...(s.totalVolumes === undefined ? {} : { totalVolumes: Math.max(0, s.totalVolumes + Math.sign(sizeGiB)) }),
    },
  };
}
