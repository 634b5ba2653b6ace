import { describe, expect, it } from "vitest";
import { Scheduler, evaluatePools, schedule, type BackendStatsInput, type Placement } from "../../../src/service/index.js";
import { THICK, THIN, pool } from "./pools.js";

const lvmA: BackendStatsInput = {
  backendName: "lvm-a",
  availabilityZone: "az1",
  storageProtocol: "iscsi",
  pools: [
    { ...THIN, poolName: "thin", freeCapacityGiB: 21, provisionedCapacityGiB: 0, capabilities: { disk_type: "ssd", iops: 50000, compression: true } },
    { ...THICK, poolName: "thick", freeCapacityGiB: 80, capabilities: { disk_type: "hdd", iops: 500 } },
  ],
};
const nfsB: BackendStatsInput = {
  backendName: "nfs-b",
  storageProtocol: "nfs",
  pools: [{ ...THIN, poolName: "share1", totalCapacityGiB: 1000, freeCapacityGiB: 900, maxOverSubscriptionRatio: 1, multiattach: true, capabilities: { disk_type: "hdd" } }],
};

function scheduler(...backends: BackendStatsInput[]): Scheduler {
  const s = new Scheduler();
  for (const b of backends) s.updateBackend(b)._unsafeUnwrap();
  return s;
}

describe("scheduler filters", () => {
  const s = scheduler(lvmA, nfsB);
  const refs = (request: Parameters<Scheduler["evaluate"]>[0]) => s.evaluate(request).candidates.map((c) => c.pool.ref);

  it("pins a backend with volume_backend_name and matches capabilities with or without the capabilities: scope", () => {
    expect(refs({ sizeGiB: 1, extraSpecs: { volume_backend_name: "nfs-b" } })).toEqual(["nfs-b#share1"]);
    expect(refs({ sizeGiB: 1, extraSpecs: { disk_type: "ssd" } })).toEqual(["lvm-a#thin"]);
    expect(refs({ sizeGiB: 1, extraSpecs: { "capabilities:disk_type": "<or> ssd <or> nvme" } })).toEqual(["lvm-a#thin"]);
    expect(refs({ sizeGiB: 1, extraSpecs: { "capabilities:iops": "= 1000" } })).toEqual(["lvm-a#thin"]);
    expect(refs({ sizeGiB: 1, extraSpecs: { compression: "<is> True" } })).toEqual(["lvm-a#thin"]);
    expect(refs({ sizeGiB: 1, extraSpecs: { storage_protocol: "iscsi" } }).sort()).toEqual(["lvm-a#thick", "lvm-a#thin"]);
    // Vendor-scoped keys belong to drivers and are ignored by the scheduler.
    expect(refs({ sizeGiB: 1, extraSpecs: { "acme:mirror": "yes" } })).toHaveLength(3);
  });

  it("routes provisioning:type and multiattach", () => {
    expect(refs({ sizeGiB: 1, extraSpecs: { "provisioning:type": "thick" } })).toEqual(["lvm-a#thick"]);
    expect(refs({ sizeGiB: 1, extraSpecs: { "provisioning:type": "thin" } }).sort()).toEqual(["lvm-a#thin", "nfs-b#share1"]);
    expect(refs({ sizeGiB: 1, extraSpecs: { multiattach: "<is> True" } })).toEqual(["nfs-b#share1"]);
    expect(refs({ sizeGiB: 1, multiattach: true })).toEqual(["nfs-b#share1"]);
  });

  it("filters availability zones from the request and from RESKEY:availability_zones; backends without one are in nova", () => {
    expect(refs({ sizeGiB: 1, availabilityZone: "nova" })).toEqual(["nfs-b#share1"]);
    expect(refs({ sizeGiB: 1, extraSpecs: { "RESKEY:availability_zones": "az1, az2" } }).sort()).toEqual(["lvm-a#thick", "lvm-a#thin"]);
  });

  it("keeps a create from a snapshot or volume on the source's backend, and honours excluded pools", () => {
    expect(refs({ sizeGiB: 1, sourceBackend: "lvm-a" }).sort()).toEqual(["lvm-a#thick", "lvm-a#thin"]);
    expect(refs({ sizeGiB: 1, excludePools: ["nfs-b#share1", "lvm-a#thick"] })).toEqual(["lvm-a#thin"]);
  });

  it("runs driver filter functions only for the backends that have one", () => {
    const ev = evaluatePools(s.pools(), { sizeGiB: 30 }, { driverFilters: { "lvm-a": (p, r) => (r.sizeGiB <= 20 ? true : `${p.ref} takes volumes up to 20 GiB`) } });
    expect(ev.candidates.map((c) => c.pool.ref)).toEqual(["nfs-b#share1"]);
    expect(ev.rejections.find((r) => r.pool === "lvm-a#thick")).toMatchObject({ filter: "DriverFilter", reason: "DriverFilter: lvm-a#thick takes volumes up to 20 GiB" });
  });

  it("skips pools of a down backend", () => {
    const down = scheduler({ ...nfsB, pools: [{ ...nfsB.pools[0]!, backendState: "down" }] }, lvmA);
    expect(down.evaluate({ sizeGiB: 1, extraSpecs: { volume_backend_name: "nfs-b" } }).rejections).toEqual([
      expect.objectContaining({ pool: "nfs-b#share1", filter: "BackendStateFilter" }),
      expect.objectContaining({ pool: "lvm-a#thin", filter: "CapabilitiesFilter" }),
      expect.objectContaining({ pool: "lvm-a#thick", filter: "CapabilitiesFilter" }),
    ]);
  });
});

describe("when nothing fits", () => {
  it("names every backend#pool and the filter that rejected it, with the numbers", async () => {
    const s = scheduler(lvmA, nfsB);
    const r = await s.place({ volumeId: "vol-9", sizeGiB: 100, extraSpecs: { "provisioning:type": "thin", disk_type: "<or> ssd <or> hdd" }, availabilityZone: "az1" });
    const e = r._unsafeUnwrapErr();
    expect(e.code).toBe("NO_VALID_BACKEND");
    expect(e.message).toBe(
      "no valid backend for volume vol-9 (100 GiB): " +
        "lvm-a#thin: CapacityFilter needs 100 GiB virtual, has 42 ((free 21 - reserved 0) x ratio 2); " +
        "lvm-a#thick: CapacityFilter needs 100 GiB, has 80 (free 80 - reserved 0); " +
        "nfs-b#share1: AvailabilityZoneFilter: zone nova, requested az1",
    );
    expect(e.details.rejections).toEqual([
      { pool: "lvm-a#thin", filter: "CapacityFilter", reason: expect.any(String) as string, requested: 100, virtualFree: 42, free: 21, reserved: 0, ratio: 2 },
      expect.objectContaining({ pool: "lvm-a#thick", filter: "CapacityFilter", usable: 80 }),
      expect.objectContaining({ pool: "nfs-b#share1", filter: "AvailabilityZoneFilter", zone: "nova", requested: "az1" }),
    ]);
  });

  it("says so when no backend reported stats", () => {
    expect(schedule([], { sizeGiB: 1 })._unsafeUnwrapErr().message).toBe("no valid backend for (1 GiB): no backend has reported pool stats");
  });

  it("refuses a bad size before filtering", async () => {
    expect((await new Scheduler().place({ sizeGiB: -1 }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(new Scheduler().updateBackend({ backendName: "x", pools: [] })._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
  });
});

describe("placement consumes the scheduler's copy", () => {
  it("50 concurrent placements never overbook: thick pools hold exactly what fits", async () => {
    // Two thick pools of 100 GiB (5% reserved = 95 usable each): 50 requests of 7 GiB; 13 fit in each.
    const s = scheduler(
      { backendName: "a", pools: [{ ...THICK, poolName: "p", totalCapacityGiB: 100, freeCapacityGiB: 100, reservedPercentage: 5 }] },
      { backendName: "b", pools: [{ ...THICK, poolName: "p", totalCapacityGiB: 100, freeCapacityGiB: 100, reservedPercentage: 5 }] },
    );
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => s.place({ volumeId: `v${i}`, sizeGiB: 7 })));
    const placed = results.filter((r) => r.isOk()).map((r) => r._unsafeUnwrap());
    const perPool = new Map<string, number>();
    for (const p of placed) perPool.set(p.ref, (perPool.get(p.ref) ?? 0) + p.sizeGiB);
    expect(Object.fromEntries(perPool)).toEqual({ "a#p": 91, "b#p": 91 });
    expect(placed).toHaveLength(26);
    for (const r of results.filter((x) => x.isErr())) expect(r._unsafeUnwrapErr().code).toBe("NO_VALID_BACKEND");
    // Spreading alternates between the two pools.
    expect(placed.slice(0, 4).map((p) => p.ref)).toEqual(["a#p", "b#p", "a#p", "b#p"]);
    expect(s.pools().map((p) => p.stats.freeCapacityGiB)).toEqual([9, 9]);
  });

  it("50 concurrent placements never overbook a thin pool's virtual capacity", async () => {
    // total 100, ratio 1.5, 100 GiB already provisioned: (100 + placed) / 100 may not exceed 1.5.
    const s = scheduler({ backendName: "t", pools: [{ ...THIN, poolName: "p", totalCapacityGiB: 100, freeCapacityGiB: 100, provisionedCapacityGiB: 100, maxOverSubscriptionRatio: 1.5 }] });
    const results = await Promise.all(Array.from({ length: 50 }, () => s.place({ sizeGiB: 4 })));
    const total = results.filter((r) => r.isOk()).reduce((n, r) => n + r._unsafeUnwrap().sizeGiB, 0);
    expect(total).toBe(48);
    expect(s.pools()[0]?.stats.provisionedCapacityGiB).toBe(148);
    // A new thin volume holds no blocks: thin placements leave the physical free space alone (Cinder
    // takes their full size off it, refusing thin creates past the pool's size until the next
    // refresh) and stop at the over-subscription ratio on what is provisioned.
    const fresh = scheduler({ backendName: "t", pools: [{ ...THIN, poolName: "p", totalCapacityGiB: 100, freeCapacityGiB: 100, maxOverSubscriptionRatio: 1.5 }] });
    const all = await Promise.all(Array.from({ length: 50 }, () => fresh.place({ sizeGiB: 4 })));
    expect(all.filter((r) => r.isOk()).length * 4).toBe(148);
    expect(fresh.pools()[0]?.stats).toMatchObject({ freeCapacityGiB: 100, provisionedCapacityGiB: 148 });
    // A type asking for thick on the same pool takes its size off the free space.
    const thick = scheduler({ backendName: "t", pools: [{ ...THIN, poolName: "p", thickProvisioningSupport: true, totalCapacityGiB: 100, freeCapacityGiB: 100, maxOverSubscriptionRatio: 1.5 }] });
    const thicks = await Promise.all(Array.from({ length: 50 }, () => thick.place({ sizeGiB: 4, extraSpecs: { "provisioning:type": "thick" } })));
    expect(thicks.filter((r) => r.isOk()).length * 4).toBe(100);
  });

  it("gives capacity back on release, keeps committed placements until fresher stats arrive", async () => {
    const stats = { backendName: "a", pools: [{ ...THICK, poolName: "p", freeCapacityGiB: 60 }] };
    const s = new Scheduler();
    s.updateBackend(stats, 1000)._unsafeUnwrap();
    const first: Placement = (await s.place({ sizeGiB: 50 }))._unsafeUnwrap();
    expect((await s.place({ sizeGiB: 50 })).isErr()).toBe(true);
    s.release(first);
    const second = (await s.place({ sizeGiB: 50 }))._unsafeUnwrap();
    s.commit(second);
    // Stats taken before the commit do not know the volume yet: it still counts.
    s.updateBackend(stats, 1000)._unsafeUnwrap();
    expect(s.pools()[0]?.stats.freeCapacityGiB).toBe(10);
    // Stats taken after it include it: the placement stops counting on top.
    s.updateBackend({ ...stats, pools: [{ ...THICK, poolName: "p", freeCapacityGiB: 10 }] }, Date.now() + 1)._unsafeUnwrap();
    expect(s.pools()[0]?.stats.freeCapacityGiB).toBe(10);
    // In-flight placements always count on top of fresh stats.
    const third = (await s.place({ sizeGiB: 5 }))._unsafeUnwrap();
    s.updateBackend({ ...stats, pools: [{ ...THICK, poolName: "p", freeCapacityGiB: 10 }] }, Date.now() + 2)._unsafeUnwrap();
    expect(s.pools()[0]?.stats.freeCapacityGiB).toBe(5);
    s.release(third);
    expect(s.pools()[0]?.stats.freeCapacityGiB).toBe(10);
    s.removeBackend("a");
    expect(s.pools()).toEqual([]);
  });

  it("stacks onto one pool with a negative capacity multiplier", async () => {
    const s = new Scheduler({ weighers: [{ weigher: "CapacityWeigher", multiplier: -1 }] });
    s.updateBackend({ backendName: "a", pools: [{ ...THICK, poolName: "big", freeCapacityGiB: 90 }, { ...THICK, poolName: "small", freeCapacityGiB: 30 }] })._unsafeUnwrap();
    const refs = [];
    for (let i = 0; i < 4; i++) refs.push((await s.place({ sizeGiB: 10 }))._unsafeUnwrap().ref);
    expect(refs).toEqual(["a#small", "a#small", "a#small", "a#big"]);
  });

  it("uses the pure schedule() on the same pools", () => {
    const chosen = schedule([pool({ poolName: "thick", freeCapacityGiB: 10 }, "x"), pool({ poolName: "thick", freeCapacityGiB: 50 }, "y")], { sizeGiB: 20 })._unsafeUnwrap();
    expect(chosen.pool.ref).toBe("y#thick");
  });
});
