import { describe, expect, it } from "vitest";
import { capacityVerdict, consumed, reservedGiB, weighableFreeGiB } from "../../../src/service/index.js";
import { pool } from "./pools.js";

const verdict = (p: Parameters<typeof pool>[0], size: number, type?: string) => capacityVerdict(pool(p), size, type);

describe("CapacityFilter (Cinder's formulas)", () => {
  it("thin: passes while (free - reserved) x ratio covers the request and the provisioned ratio holds", () => {
    // (60 - 0) x 2 = 120 virtual; provisioned ratio (0 + 120) / 100 = 1.2 <= 2
    expect(verdict({}, 120).pass).toBe(true);
    const v = verdict({}, 121);
    expect(v).toMatchObject({ pass: false, details: { virtualFree: 120, requested: 121 } });
    expect(v.pass ? "" : v.reason).toBe("CapacityFilter needs 121 GiB virtual, has 120 ((free 60 - reserved 0) x ratio 2)");
  });

  it("thin: fails when (provisioned + requested) / total exceeds the over-subscription ratio", () => {
    const v = verdict({ provisionedCapacityGiB: 150, freeCapacityGiB: 90 }, 51);
    expect(v.pass).toBe(false);
    expect(v.pass ? "" : v.reason).toMatch(/\(provisioned 150 \+ 51 GiB\) \/ total 100 = 2.01 exceeds max_over_subscription_ratio 2/);
    expect(verdict({ provisionedCapacityGiB: 150, freeCapacityGiB: 90 }, 50).pass).toBe(true);
  });

  it("reserves floor(total x reserved%) before multiplying", () => {
    // total 101, 10% -> floor(10.1) = 10 reserved; (60 - 10) x 2 = 100
    expect(reservedGiB(pool({ totalCapacityGiB: 101, reservedPercentage: 10 }))).toBe(10);
    expect(verdict({ totalCapacityGiB: 101, reservedPercentage: 10 }, 100).pass).toBe(true);
    expect(verdict({ totalCapacityGiB: 101, reservedPercentage: 10 }, 101).pass).toBe(false);
  });

  it("thick: free - reserved must cover the request", () => {
    expect(verdict({ poolName: "thick" }, 60).pass).toBe(true);
    const v = verdict({ poolName: "thick", reservedPercentage: 5 }, 60);
    expect(v.pass ? "" : v.reason).toBe("CapacityFilter needs 60 GiB, has 55 (free 60 - reserved 5)");
  });

  it("a type asking for thick uses thick arithmetic on a thin pool", () => {
    expect(verdict({}, 100).pass).toBe(true);
    expect(verdict({}, 100, "thick").pass).toBe(false);
    expect(verdict({}, 60, "thick").pass).toBe(true);
  });

  it("infinite or unknown free space passes; total unknown passes only without reserve; total 0 fails; 0 GiB passes", () => {
    expect(verdict({ freeCapacityGiB: "infinite" }, 10 ** 6).pass).toBe(true);
    expect(verdict({ freeCapacityGiB: "unknown" }, 10 ** 6).pass).toBe(true);
    expect(verdict({ totalCapacityGiB: "unknown" }, 10).pass).toBe(true);
    expect(verdict({ totalCapacityGiB: "infinite", reservedPercentage: 5 }, 10).pass).toBe(false);
    expect(verdict({ totalCapacityGiB: 0, freeCapacityGiB: 0 }, 1)).toMatchObject({ pass: false, reason: "CapacityFilter: total capacity is 0" });
    expect(verdict({ totalCapacityGiB: 0, freeCapacityGiB: 0 }, 0).pass).toBe(true);
  });

  it("rejects thin pools with an over-subscription ratio below 1 (stats refuse it; the filter too)", () => {
    expect(() => pool({ maxOverSubscriptionRatio: 0.5 })).toThrow(/maxOverSubscriptionRatio/);
    const p = pool({});
    const v = capacityVerdict({ ...p, stats: { ...p.stats, maxOverSubscriptionRatio: 0.5 } }, 1, undefined);
    expect(v.pass ? "" : v.reason).toMatch(/below 1/);
  });
});

describe("capacity weights and consumption", () => {
  it("weighs thin by total x ratio - provisioned - reserved and thick by free - reserved", () => {
    expect(weighableFreeGiB(pool({ provisionedCapacityGiB: 30, reservedPercentage: 10 }), undefined)).toBe(100 * 2 - 30 - 10);
    expect(weighableFreeGiB(pool({ poolName: "thick", reservedPercentage: 10 }), undefined)).toBe(60 - 10);
    expect(weighableFreeGiB(pool({ provisionedCapacityGiB: 30 }), "thick")).toBe(60);
    expect(weighableFreeGiB(pool({ freeCapacityGiB: "infinite" }), undefined)).toBeUndefined();
  });

  it("consumes like Cinder: allocated and provisioned up, free down unless infinite/unknown", () => {
    const after = consumed(pool({ totalVolumes: 3 }), 10);
    expect(after.stats).toMatchObject({ allocatedCapacityGiB: 10, provisionedCapacityGiB: 10, freeCapacityGiB: 50, totalVolumes: 4 });
    expect(consumed(pool({ freeCapacityGiB: "unknown" }), 10).stats.freeCapacityGiB).toBe("unknown");
    expect(consumed(after, -10).stats).toMatchObject({ allocatedCapacityGiB: 0, freeCapacityGiB: 60, totalVolumes: 3 });
  });

  it("defaults provisioned to allocated when the driver does not report it", () => {
    expect(pool({ provisionedCapacityGiB: undefined, allocatedCapacityGiB: 40 }).stats.provisionedCapacityGiB).toBe(40);
  });
});
