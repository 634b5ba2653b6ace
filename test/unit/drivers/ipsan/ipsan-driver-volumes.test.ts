/**
 * The IP-SAN driver against the array simulator in-process (REST only, no tgtd): volumes, QoS,
 * snapshots, revert, stats, manage. Data checks read and write the simulator's LUN files, which is
 * what its tgtd serves (the host tests go through the target).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { VolkitEvent } from "../../../../src/core/events.js";
import { createBackend } from "../../../../src/drivers/registry.js";
import type { ArraySimulator } from "../../../../src/testing/array-simulator/index.js";
import { opCtx, unitSimulator } from "./helpers.js";
import { ipsanOn, noise, objectCounts, orphans, readVolume, sha, writeVolume } from "./ipsan-driver-helpers.js";

const MiB = 1024 * 1024;
const SECTORS_PER_GIB = 2 * 1024 * 1024;

let sim: ArraySimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

describe("IP-SAN driver: volumes", () => {
  it("is a built-in driver: createBackend builds it from a config, named after the first pool", async () => {
    sim = await unitSimulator();
    const backend = (await createBackend({ driver: "ipsan", ...sim.connection(), storagePools: ["StoragePool001"] }))._unsafeUnwrap();
    expect(backend.name).toBe("ipsan-StoragePool001");
    expect(backend.capabilities).toMatchObject({ protocol: "iscsi", snapshots: true, nativeClone: true, qos: true, sharedTargets: true, multiattach: true });
    const v = (await backend.createVolume({ id: "reg-1", sizeGiB: 1 }))._unsafeUnwrap();
    expect(sim.snapshot().luns.map((l) => [l.name.length <= 31, l.capacitySectors, l.allocType])).toEqual([[true, SECTORS_PER_GIB, 1]]);
    (await backend.deleteVolume(v))._unsafeUnwrap();
    (await backend.close())._unsafeUnwrap();
  });

  it("creates thin or thick LUNs with a deterministic name; a retried create returns the same LUN, another size is VOLUME_EXISTS", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim, { lunType: "thick" });
    const id = "3f1c2b4a-8d9e-4f00-9a1b-2c3d4e5f6a7b";
    const a = (await backend.createVolume({ id, sizeGiB: 2 }))._unsafeUnwrap();
    const lun = sim.snapshot().luns[0];
    // What python3-cinder's huawei_utils.encode_name returns for this id (same LUN names as Cinder).
    expect(lun?.name).toBe("3f1c2b4a-f4287c13ac2195998ef4d7");
    expect(lun?.name).toHaveLength(31);
    expect(lun).toMatchObject({ allocType: 0, capacitySectors: 2 * SECTORS_PER_GIB, description: `volkit:${id}` });
    expect(JSON.parse(a.providerLocation ?? "")).toEqual({ huawei_lun_id: lun?.id, huawei_lun_wwn: lun?.wwn });
    const again = (await backend.createVolume({ id, sizeGiB: 2 }))._unsafeUnwrap();
    expect(again).toEqual(a);
    expect((await backend.createVolume({ id, sizeGiB: 3 }))._unsafeUnwrapErr().code).toBe("VOLUME_EXISTS");
    expect(sim.snapshot().luns).toHaveLength(1);
  });

  it("places a volume in the pool its metadata names, else the one with most free space; a thick LUN that fits nowhere is INSUFFICIENT_CAPACITY", async () => {
    sim = await unitSimulator({ pools: [{ name: "small", capacityGiB: 4 }, { name: "big", capacityGiB: 16 }] });
    const { backend } = await ipsanOn(sim, { storagePools: ["small", "big"], lunType: "thick" });
    const inBig = (await backend.createVolume({ id: "p-1", sizeGiB: 1 }))._unsafeUnwrap();
    const inSmall = (await backend.createVolume({ id: "p-2", sizeGiB: 1, metadata: { pool: "small" } }))._unsafeUnwrap();
    const poolOf = (id: string | undefined): string | undefined => sim?.snapshot().pools.find((p) => p.id === sim?.snapshot().luns.find((l) => l.id === id)?.poolId)?.name;
    expect([poolOf(inBig.providerId), poolOf(inSmall.providerId)]).toEqual(["big", "small"]);
    expect((await backend.createVolume({ id: "p-3", sizeGiB: 1, metadata: { pool: "other" } }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    const before = objectCounts(sim);
    expect((await backend.createVolume({ id: "p-4", sizeGiB: 17 }))._unsafeUnwrapErr().code).toBe("INSUFFICIENT_CAPACITY");
    expect(objectCounts(sim)).toEqual(before);
    const stats = (await backend.getVolumeStats())._unsafeUnwrap();
    expect(stats.pools.map((p) => [p.poolName, p.totalCapacityGiB, p.provisionedCapacityGiB, p.totalVolumes])).toEqual([
      ["small", 4, 1, 1],
      ["big", 16, 1, 1],
    ]);
    expect(stats.pools.map((p) => p.freeCapacityGiB)).toEqual([3, 15]);
    expect(stats).toMatchObject({ storageProtocol: "iscsi", qosSupport: true, thinProvisioningSupport: true, thickProvisioningSupport: true });
  });

  it("a configured pool the array lacks is INVALID_CONFIG naming it", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim, { storagePools: ["StoragePool001", "Nope"] });
    const e = (await backend.getVolumeStats())._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_CONFIG");
    expect(e.message).toContain("Nope");
  });

  it("back-end QoS on the spec (typed, from the volume service) wins over the config: one policy per volume, its I/O type from the limits given", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim, { qosSpecs: { gold: { maxIops: 5000 } } });
    const total = (await backend.createVolume({ id: "bq-1", sizeGiB: 1, volumeType: "gold", qos: { totalIopsSec: 3000, totalBytesSec: 100 * MiB } }))._unsafeUnwrap();
    const write = (await backend.createVolume({ id: "bq-2", sizeGiB: 1, qos: { writeIopsSec: 700, writeBytesSec: 512 * 1024 } }))._unsafeUnwrap();
    expect(sim.snapshot().qos.map((q) => [q.name, q.enabled, q.ioType, q.limits, q.lunIds])).toEqual([
      [`OpenStack_${total.providerId}_volkit`, true, "2", { MAXIOPS: "3000", MAXBANDWIDTH: "100" }, [total.providerId]],
      [`OpenStack_${write.providerId}_volkit`, true, "1", { MAXIOPS: "700", MAXBANDWIDTH: "1" }, [write.providerId]],
    ]);
    // Read and write limits at once do not fit one policy: refused before the LUN exists.
    const mixed = (await backend.createVolume({ id: "bq-3", sizeGiB: 1, qos: { readIopsSec: 100, writeIopsSec: 200 } }))._unsafeUnwrapErr();
    expect(mixed).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/one I\/O type.*read and write/) as string });
    expect(sim.snapshot().luns.map((l) => l.id).sort()).toEqual([total.providerId, write.providerId].sort());
  });

  it("QoS from the volume type's specs: an active policy with those limits; deleting the volume deletes the policy, a foreign policy only loses the LUN", async () => {
    sim = await unitSimulator();
    const { backend, driver } = await ipsanOn(sim, { qosSpecs: { gold: { maxIops: 5000, maxBandwidthMBps: 200 }, latency: { ioType: "read", latencyMs: 5 } } });
    const gold = (await backend.createVolume({ id: "q-1", sizeGiB: 1, volumeType: "gold" }))._unsafeUnwrap();
    const plain = (await backend.createVolume({ id: "q-2", sizeGiB: 1, volumeType: "silver" }))._unsafeUnwrap();
    const fast = (await backend.createVolume({ id: "q-3", sizeGiB: 1, volumeType: "latency" }))._unsafeUnwrap();
    const s = sim.snapshot();
    expect(s.qos.map((q) => [q.name, q.enabled, q.ioType, q.limits, q.lunIds])).toEqual([
      [`OpenStack_${gold.providerId}_volkit`, true, "2", { MAXIOPS: "5000", MAXBANDWIDTH: "200" }, [gold.providerId]],
      [`OpenStack_${fast.providerId}_volkit`, true, "0", { LATENCY: "5" }, [fast.providerId]],
    ]);
    expect(s.luns.find((l) => l.id === plain.providerId)?.qosId).toBe("");
    // A retried create keeps the one policy.
    (await backend.createVolume({ id: "q-1", sizeGiB: 1, volumeType: "gold" }))._unsafeUnwrap();
    expect(sim.snapshot().qos).toHaveLength(2);
    (await backend.deleteVolume(gold))._unsafeUnwrap();
    expect(sim.snapshot().qos.map((q) => q.name)).toEqual([`OpenStack_${fast.providerId}_volkit`]);
    // An administrator's policy holding our LUN and another: the LUN leaves it, the policy stays.
    const ctx = opCtx();
    const other = (await driver.client.luns.create({ name: "admin-lun", poolId: "0", capacitySectors: 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const plainId = plain.providerId ?? "";
    (await driver.client.qos.create({ name: "admin-policy", lunIds: [plainId, other.id], limits: { maxIops: 100 } }, ctx))._unsafeUnwrap();
    (await backend.deleteVolume(plain))._unsafeUnwrap();
    expect(sim.snapshot().qos.find((q) => q.name === "admin-policy")?.lunIds).toEqual([other.id]);
  });

  it("delete: VOLUME_BUSY with a snapshot and nothing changes; a missing volume succeeds; twice succeeds", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim, { qosSpecs: { gold: { maxIops: 100 } } });
    const v = (await backend.createVolume({ id: "d-1", sizeGiB: 1, volumeType: "gold" }))._unsafeUnwrap();
    (await backend.initializeConnection(v, { host: "node-a", initiator: "iqn.2024-01.org.volkit:node-a" }))._unsafeUnwrap();
    const snap = (await backend.createSnapshot({ id: "d-1-s", volumeId: v.id, volumeSizeGiB: 1 }, v))._unsafeUnwrap();
    const before = objectCounts(sim);
    const busy = (await backend.deleteVolume(v))._unsafeUnwrapErr();
    expect(busy.code).toBe("VOLUME_BUSY");
    expect(objectCounts(sim)).toEqual(before);
    (await backend.deleteSnapshot(snap))._unsafeUnwrap();
    (await backend.deleteVolume(v))._unsafeUnwrap();
    // The mapping and QoS it owned went with it; the host objects were taken down.
    expect(objectCounts(sim)).toEqual({ luns: 0, snapshots: 0, lunCopies: 0, clonePairs: 0, hosts: 0, hostGroups: 0, lunGroups: 0, portGroups: 0, views: 0, initiators: 0, qos: 0 });
    (await backend.deleteVolume(v))._unsafeUnwrap();
    (await backend.deleteVolume({ id: "never-made", sizeGiB: 1 }))._unsafeUnwrap();
  });

  it("extend grows the LUN online and keeps the data; the same size is a no-op; a missing volume is VOLUME_NOT_FOUND", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim);
    const v = (await backend.createVolume({ id: "e-1", sizeGiB: 1 }))._unsafeUnwrap();
    const data = noise(MiB);
    await writeVolume(sim, v, data);
    const grown = (await backend.extendVolume(v, 3))._unsafeUnwrap();
    expect(grown.sizeGiB).toBe(3);
    expect(sim.snapshot().luns[0]?.capacitySectors).toBe(3 * SECTORS_PER_GIB);
    expect(sha(await readVolume(sim, v, MiB))).toBe(sha(data));
    (await backend.extendVolume(grown, 3))._unsafeUnwrap();
    expect((await backend.extendVolume({ id: "ghost", sizeGiB: 1 }, 2))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
  });

  it("snapshots: created and activated (the point in time), a retry returns it, revert brings the data back with progress events", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim);
    const v = (await backend.createVolume({ id: "s-1", sizeGiB: 1 }))._unsafeUnwrap();
    const original = noise(MiB);
    await writeVolume(sim, v, original);
    const spec = { id: "s-1-snap", volumeId: v.id, volumeSizeGiB: 1 };
    const snap = (await backend.createSnapshot(spec, v))._unsafeUnwrap();
    expect(sim.snapshot().snapshots.map((s) => [s.runningStatus, s.description])).toEqual([["43", "volkit:s-1-snap"]]);
    expect((await backend.createSnapshot(spec, v))._unsafeUnwrap()).toEqual(snap);
    expect(sim.snapshot().snapshots).toHaveLength(1);
    await writeVolume(sim, v, noise(MiB));
    const events: VolkitEvent[] = [];
    backend.events.on((e) => void events.push(e));
    (await backend.revertToSnapshot(v, snap))._unsafeUnwrap();
    expect(sha(await readVolume(sim, v, MiB))).toBe(sha(original));
    const progress = events.filter((e) => e.type === "progress" && e.phase === "rollback");
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ bytesTotal: 1024 ** 3 });
    (await backend.deleteSnapshot(snap))._unsafeUnwrap();
    (await backend.deleteSnapshot(snap))._unsafeUnwrap();
    expect(sim.snapshot().snapshots).toEqual([]);
    expect((await backend.createSnapshot({ id: "s-x", volumeId: "ghost", volumeSizeGiB: 1 }, { id: "ghost", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
  });

  it("a snapshot the array cannot activate is deleted again", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim);
    const v = (await backend.createVolume({ id: "sa-1", sizeGiB: 1 }))._unsafeUnwrap();
    sim.faults.failNext({ method: "POST", path: "/snapshot/activate", code: 50331651 });
    const e = (await backend.createSnapshot({ id: "sa-snap", volumeId: v.id, volumeSizeGiB: 1 }, v))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.details.arrayCode).toBe(50331651);
    expect(sim.snapshot().snapshots).toEqual([]);
  });

  it("manage: renames a LUN to the volume's name (grown to whole GiB, original name kept); unmanage gives the name back", async () => {
    sim = await unitSimulator();
    const { backend, driver } = await ipsanOn(sim);
    const ctx = opCtx();
    const legacy = (await driver.client.luns.create({ name: "legacy-db", poolId: "0", capacitySectors: SECTORS_PER_GIB + 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const list = (await backend.listManageable())._unsafeUnwrap();
    expect(list).toEqual([{ reference: { sourceName: "legacy-db" }, sizeGiB: 2, safeToManage: true }]);
    expect((await backend.manageExistingGetSize({ sourceId: legacy.id }))._unsafeUnwrap()).toBe(2);
    const v = (await backend.manageExisting({ id: "m-1", sizeGiB: 2 }, { sourceName: "legacy-db" }))._unsafeUnwrap();
    expect(v).toMatchObject({ id: "m-1", sizeGiB: 2, providerId: legacy.id });
    const managed = sim.snapshot().luns[0];
    expect(managed).toMatchObject({ capacitySectors: 2 * SECTORS_PER_GIB, description: "volkit:m-1;was=legacy-db" });
    expect((await backend.manageExisting({ id: "m-1", sizeGiB: 2 }, { sourceId: legacy.id }))._unsafeUnwrap().id).toBe("m-1");
    expect((await backend.listManageable())._unsafeUnwrap()[0]).toMatchObject({ safeToManage: false, volkitId: "m-1" });
    expect((await backend.manageExisting({ id: "m-2", sizeGiB: 2 }, { sourceName: "absent" }))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
    (await backend.unmanage(v))._unsafeUnwrap();
    expect(sim.snapshot().luns.map((l) => [l.name, l.description])).toEqual([["legacy-db", ""]]);
    (await backend.unmanage(v))._unsafeUnwrap();
  });

  it("a mapped LUN cannot be managed (VOLUME_BUSY)", async () => {
    sim = await unitSimulator();
    const { backend, driver } = await ipsanOn(sim);
    const ctx = opCtx();
    const c = driver.client;
    const lun = (await c.luns.create({ name: "mapped-one", poolId: "0", capacitySectors: SECTORS_PER_GIB, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const group = (await c.lunGroups.create("admin-group", ctx))._unsafeUnwrap().value;
    (await c.lunGroups.add(group.id, lun.id, "lun", ctx))._unsafeUnwrap();
    expect((await backend.manageExisting({ id: "m-3", sizeGiB: 1 }, { sourceName: "mapped-one" }))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
    expect(sim.snapshot().luns[0]?.name).toBe("mapped-one");
    expect(orphans(sim)).toEqual([]);
  });
});
