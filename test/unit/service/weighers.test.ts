import { describe, expect, it } from "vitest";
import { normalize, weighPools } from "../../../src/service/index.js";
import { pool } from "./pools.js";

describe("weighers", () => {
  it("normalizes min-max to 0..1, all-equal to 0", () => {
    expect(normalize([10, 20, 30])).toEqual([0, 0.5, 1]);
    expect(normalize([5, 5])).toEqual([0, 0]);
    expect(normalize([])).toEqual([]);
  });

  // Thick pools: weight = free - reserved = 10, 40, 70.
  const pools = [pool({ poolName: "thick", freeCapacityGiB: 40 }, "b"), pool({ poolName: "thick", freeCapacityGiB: 10 }, "a"), pool({ poolName: "thick", freeCapacityGiB: 70 }, "c")];

  it("spreads to the most free capacity with a positive multiplier (Cinder's default 1.0)", () => {
    const w = weighPools(pools, { sizeGiB: 1 });
    expect(w.map((x) => x.pool.ref)).toEqual(["c#thick", "b#thick", "a#thick"]);
    expect(w.map((x) => x.weight)).toEqual([1, 0.5, 0]);
    expect(w[0]?.parts.CapacityWeigher).toEqual({ raw: 70, normalized: 1, multiplier: 1 });
  });

  it("stacks onto the least free capacity with a negative multiplier, scaled by it", () => {
    const w = weighPools(pools, { sizeGiB: 1 }, [{ weigher: "CapacityWeigher", multiplier: -2 }]);
    expect(w.map((x) => x.pool.ref)).toEqual(["a#thick", "b#thick", "c#thick"]);
    expect(w.map((x) => x.weight + 0)).toEqual([0, -1, -2]);
  });

  it("weighs allocated capacity with -1.0 by default (least allocated wins) and sums weighers", () => {
    // Provisioned not reported: it defaults to allocated, as in Cinder.
    const a = [pool({ allocatedCapacityGiB: 50, provisionedCapacityGiB: undefined }, "x"), pool({ allocatedCapacityGiB: 10, provisionedCapacityGiB: undefined }, "y")];
    expect(weighPools(a, { sizeGiB: 1 }, [{ weigher: "AllocatedCapacityWeigher" }])[0]?.pool.ref).toBe("y#thin");
    expect(weighPools(a, { sizeGiB: 1 }, [{ weigher: "AllocatedCapacityWeigher", multiplier: 1 }])[0]?.pool.ref).toBe("x#thin");
    // Thin capacity weights: x = 200 - 50 = 150, y = 200 - 10 = 190; both weighers agree on y.
    const both = weighPools(a, { sizeGiB: 1 }, [{ weigher: "CapacityWeigher" }, { weigher: "AllocatedCapacityWeigher" }]);
    expect(both.map((x) => [x.pool.ref, x.weight + 0])).toEqual([["y#thin", 1], ["x#thin", -1]]);
  });

  it("weighs infinite/unknown pools last whether spreading or stacking (Cinder discourages reporting them)", () => {
    const mixed = [pool({ poolName: "thick", freeCapacityGiB: 40 }, "a"), pool({ freeCapacityGiB: "infinite" }, "inf"), pool({ poolName: "thick", freeCapacityGiB: 20 }, "b")];
    expect(weighPools(mixed, { sizeGiB: 1 }).map((x) => x.pool.ref)).toEqual(["a#thick", "b#thick", "inf#thin"]);
    const stacked = weighPools(mixed, { sizeGiB: 1 }, [{ weigher: "CapacityWeigher", multiplier: -1 }]);
    expect(stacked.map((x) => x.pool.ref)).toEqual(["b#thick", "a#thick", "inf#thin"]);
    // Stacking: the infinite pool's raw value is placed above the finite ones (max + 100 x range).
    expect(stacked[2]?.parts.CapacityWeigher?.raw).toBe(40 + 100 * (40 - 20));
    expect(weighPools([pool({ freeCapacityGiB: "unknown" }, "u"), pool({ freeCapacityGiB: "infinite" }, "i")], { sizeGiB: 1 }).map((x) => x.weight)).toEqual([0, 0]);
  });

  it("breaks ties by pool name so placement is deterministic", () => {
    const same = [pool({}, "zeta"), pool({}, "alpha")];
    expect(weighPools(same, { sizeGiB: 1 }).map((x) => x.pool.ref)).toEqual(["alpha#thin", "zeta#thin"]);
  });
});
