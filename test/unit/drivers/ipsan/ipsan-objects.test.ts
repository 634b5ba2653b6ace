import { createHash, randomBytes } from "node:crypto";
import { openSync, closeSync, readFileSync, statSync, writeSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IpsanClient } from "../../../../src/drivers/ipsan/ipsan-client.js";
import { gibToSectors } from "../../../../src/drivers/ipsan/ipsan-lun-api.js";
import type { ArraySimulator } from "../../../../src/testing/array-simulator/index.js";
import { clientOf, opCtx, unitSimulator } from "./helpers.js";

const MiB = 1024 * 1024;
const sha = (buf: Buffer): string => createHash("sha256").update(buf).digest("hex");

describe("IP-SAN client objects against the simulator", () => {
  let sim: ArraySimulator;
  let client: IpsanClient;
  beforeAll(async () => {
    sim = await unitSimulator({ copyDurationMs: 120 });
    client = await clientOf(sim);
  });
  afterAll(async () => {
    await sim.stop();
  });

  /** The file behind a LUN or snapshot in the simulator. */
  const fileOf = (id: string): string => {
    const s = sim.snapshot();
    const f = s.luns.find((l) => l.id === id)?.file ?? s.snapshots.find((x) => x.id === id)?.file;
    if (!f) throw new Error(`no file for ${id}`);
    return f;
  };
  /** Writes `data` at `offset` of an object's file, as a host would through iSCSI. */
  const writeAt = (id: string, data: Buffer, offset = 0): void => {
    const fd = openSync(fileOf(id), "r+");
    try {
      writeSync(fd, data, 0, data.length, offset);
    } finally {
      closeSync(fd);
    }
  };
  const head = (id: string, bytes: number): Buffer => readFileSync(fileOf(id)).subarray(0, bytes);

  it("creates thick and thin LUNs as sparse files of the right size, and finds them by id and name", async () => {
    const ctx = opCtx();
    const thin = (await client.luns.create({ name: "obj-thin", poolId: "0", capacitySectors: gibToSectors(2), allocType: "thin", description: "volume-1" }, ctx))._unsafeUnwrap().value;
    expect(thin).toMatchObject({ name: "obj-thin", allocType: "thin", capacityBytes: 2 * 1024 ** 3, description: "volume-1", poolName: "StoragePool001", healthStatus: "1", runningStatus: "27" });
    expect(thin.wwn).toMatch(/^6[0-9a-f]{31}$/);
    expect(statSync(fileOf(thin.id)).size).toBe(2 * 1024 ** 3);
    expect(statSync(fileOf(thin.id)).blocks).toBe(0);
    expect((await client.luns.findByName("obj-thin", ctx))._unsafeUnwrap()?.id).toBe(thin.id);
    expect((await client.luns.findByName("obj-missing", ctx))._unsafeUnwrap()).toBeUndefined();
    const thick = (await client.luns.create({ name: "obj-thick", poolId: "0", capacitySectors: gibToSectors(1), allocType: "thick" }, ctx))._unsafeUnwrap().value;
    const pool = (await client.pools.findByName("StoragePool001", ctx))._unsafeUnwrap();
    expect(pool?.usedSectors).toBe(gibToSectors(1));
    expect(pool?.freeSectors).toBe(pool!.totalSectors - gibToSectors(1));
    (await client.luns.delete(thick.id, ctx))._unsafeUnwrap();
  });

  it("lists every LUN across pages of 100 (range=[a-b])", async () => {
    const ctx = opCtx();
    const before = (await client.luns.list(ctx))._unsafeUnwrap().length;
    for (let i = 0; i < 120; i++) (await client.luns.create({ name: `page-${i}`, poolId: "0", capacitySectors: 2048, allocType: "thin" }, ctx))._unsafeUnwrap();
    const all = (await client.luns.list(ctx))._unsafeUnwrap();
    expect(all).toHaveLength(before + 120);
    expect(new Set(all.map((l) => l.id)).size).toBe(all.length);
    expect(sim.requests.some((r) => r.path.includes("range=[100-200]"))).toBe(true);
    for (const l of all.filter((x) => x.name.startsWith("page-"))) (await client.luns.delete(l.id, ctx))._unsafeUnwrap();
  });

  it("expands a LUN (the file grows, data stays) and renames it for manage", async () => {
    const ctx = opCtx();
    const lun = (await client.luns.create({ name: "obj-grow", poolId: "0", capacitySectors: 2 * 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const data = randomBytes(MiB);
    writeAt(lun.id, data);
    (await client.luns.expand(lun.id, 8 * 2048, ctx))._unsafeUnwrap();
    expect(statSync(fileOf(lun.id)).size).toBe(8 * MiB);
    expect(sha(head(lun.id, MiB))).toBe(sha(data));
    (await client.luns.update(lun.id, { name: "obj-managed", description: "volume-2 was obj-grow" }, ctx))._unsafeUnwrap();
    expect((await client.luns.get(lun.id, ctx))._unsafeUnwrap()).toMatchObject({ name: "obj-managed", description: "volume-2 was obj-grow", capacitySectors: 8 * 2048 });
  });

  it("waits for a new LUN to leave 'initializing' (53) before using it", async () => {
    const slow = await unitSimulator({ lunInitMs: 400 });
    try {
      const c = await clientOf(slow);
      const ctx = opCtx();
      const lun = (await c.luns.create({ name: "slow-1", poolId: "0", capacitySectors: 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
      expect(lun.runningStatus).toBe("53");
      const started = Date.now();
      const ready = (await c.luns.waitReady(lun.id, 5_000, ctx))._unsafeUnwrap();
      expect(ready.runningStatus).toBe("27");
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    } finally {
      await slow.stop();
    }
  });

  it("a snapshot keeps the LUN's bytes at activation; rollback writes them back", async () => {
    const ctx = opCtx();
    const lun = (await client.luns.create({ name: "obj-snapsrc", poolId: "0", capacitySectors: 4 * 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const before = randomBytes(2 * MiB);
    writeAt(lun.id, before);
    const snap = (await client.snapshots.create({ name: "obj-snap", lunId: lun.id, description: "snap-1" }, ctx))._unsafeUnwrap().value;
    expect(snap.runningStatus).toBe("45");
    (await client.snapshots.activate([snap.id], ctx))._unsafeUnwrap();
    writeAt(lun.id, randomBytes(2 * MiB));
    expect(sha(head(snap.id, 2 * MiB))).toBe(sha(before));
    expect(sha(head(lun.id, 2 * MiB))).not.toBe(sha(before));
    expect((await client.snapshots.list(ctx, { lunId: lun.id }))._unsafeUnwrap().map((s) => s.id)).toEqual([snap.id]);
    (await client.snapshots.rollback(snap.id, "high", ctx))._unsafeUnwrap();
    const seen: number[] = [];
    const done = (await client.snapshots.waitRollback(snap.id, 10_000, ctx, (p) => seen.push(p)))._unsafeUnwrap();
    expect(done).toMatchObject({ runningStatus: "43", rollbackRate: "100" });
    expect(sha(head(lun.id, 2 * MiB))).toBe(sha(before));
    (await client.snapshots.stop(snap.id, ctx))._unsafeUnwrap();
    (await client.snapshots.stop(snap.id, ctx))._unsafeUnwrap();
    (await client.snapshots.delete(snap.id, ctx))._unsafeUnwrap();
  });

  it("LUN copy from a snapshot into a bigger LUN copies the bytes, reports progress and keeps the size", async () => {
    const ctx = opCtx();
    const src = (await client.luns.create({ name: "obj-copysrc", poolId: "0", capacitySectors: 4 * 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const data = randomBytes(4 * MiB);
    writeAt(src.id, data);
    const snap = (await client.snapshots.create({ name: "obj-copysnap", lunId: src.id }, ctx))._unsafeUnwrap().value;
    (await client.snapshots.activate([snap.id], ctx))._unsafeUnwrap();
    const dst = (await client.luns.create({ name: "obj-copydst", poolId: "0", capacitySectors: 8 * 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    (await client.luns.waitReady(dst.id, 5_000, ctx))._unsafeUnwrap();
    const copyId = (await client.lunCopies.create({ name: "obj-copy", sourceId: snap.id, targetId: dst.id, speed: "highest" }, ctx))._unsafeUnwrap();
    expect((await client.lunCopies.get(copyId, ctx))._unsafeUnwrap()).toMatchObject({ runningStatus: "36", sourceLun: `INVALID;${snap.id};INVALID;INVALID;INVALID` });
    expect((await client.luns.get(dst.id, ctx))._unsafeUnwrap().lunCopyIds).toEqual([copyId]);
    (await client.lunCopies.start(copyId, ctx))._unsafeUnwrap();
    const progress: number[] = [];
    const done = (await client.lunCopies.waitComplete(copyId, 10_000, ctx, (p) => progress.push(p)))._unsafeUnwrap();
    expect(done).toMatchObject({ runningStatus: "40", progress: 100, healthStatus: "1" });
    expect(progress.some((p) => p < 100)).toBe(true);
    expect(sha(head(dst.id, 4 * MiB))).toBe(sha(data));
    expect(statSync(fileOf(dst.id)).size).toBe(8 * MiB);
    expect((await client.lunCopies.delete(copyId, ctx))._unsafeUnwrap()).toBe(true);
    expect((await client.lunCopies.delete(copyId, ctx))._unsafeUnwrap()).toBe(false);
  });

  it("a LUN copy that breaks on the array ends the wait with COMMAND_FAILED", async () => {
    const ctx = opCtx();
    const src = (await client.luns.create({ name: "obj-brksrc", poolId: "0", capacitySectors: 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const dst = (await client.luns.create({ name: "obj-brkdst", poolId: "0", capacitySectors: 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const copyId = (await client.lunCopies.create({ name: "obj-brk", sourceId: src.id, targetId: dst.id, speed: "medium" }, ctx))._unsafeUnwrap();
    sim.faults.breakNextCopy();
    (await client.lunCopies.start(copyId, ctx))._unsafeUnwrap();
    const error = (await client.lunCopies.waitComplete(copyId, 10_000, ctx))._unsafeUnwrapErr();
    expect(error).toMatchObject({ code: "COMMAND_FAILED", details: { lunCopyId: copyId, healthStatus: "2" } });
    (await client.lunCopies.delete(copyId, ctx))._unsafeUnwrap();
  });

  it("clone pair: sync copies the source into the target", async () => {
    const ctx = opCtx();
    const src = (await client.luns.create({ name: "obj-cpsrc", poolId: "0", capacitySectors: 2 * 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const data = randomBytes(2 * MiB);
    writeAt(src.id, data);
    const dst = (await client.luns.create({ name: "obj-cpdst", poolId: "0", capacitySectors: 2 * 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const pairId = (await client.clonePairs.create({ sourceId: src.id, targetId: dst.id, speed: "high" }, ctx))._unsafeUnwrap();
    (await client.clonePairs.sync(pairId, ctx))._unsafeUnwrap();
    expect((await client.clonePairs.waitSynced(pairId, 10_000, ctx))._unsafeUnwrap()).toMatchObject({ syncStatus: "2", copyStatus: "0" });
    expect(sha(head(dst.id, 2 * MiB))).toBe(sha(data));
    expect((await client.clonePairs.delete(pairId, ctx))._unsafeUnwrap()).toBe(true);
    expect((await client.clonePairs.delete(pairId, ctx))._unsafeUnwrap()).toBe(false);
  });

  it("maps a LUN to a host the Cinder way and reads back its host LUN id; the teardown leaves nothing", async () => {
    const ctx = opCtx();
    const lun = (await client.luns.create({ name: "obj-map", poolId: "0", capacitySectors: 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const host = (await client.hosts.create({ name: "obj-host", description: "compute-1" }, ctx))._unsafeUnwrap().value;
    const iqn = "iqn.2024-01.org.volkit:obj-host";
    (await client.initiators.add(iqn, ctx))._unsafeUnwrap();
    (await client.initiators.addToHost(iqn, host.id, ctx, { chap: { name: "obj-user", password: "Obj-Secret-123" } }))._unsafeUnwrap();
    const ini = (await client.initiators.find(iqn, ctx))._unsafeUnwrap();
    expect(ini).toMatchObject({ iqn, hostId: host.id, free: false, useChap: true, chapName: "obj-user" });
    expect(JSON.stringify(ini)).not.toContain("Obj-Secret-123");
    const hg = (await client.hostGroups.create(`OpenStack_HostGroup_${host.id}`, ctx))._unsafeUnwrap().value;
    (await client.hostGroups.addHost(hg.id, host.id, ctx))._unsafeUnwrap();
    const lg = (await client.lunGroups.create(`OpenStack_LunGroup_${host.id}`, ctx))._unsafeUnwrap().value;
    (await client.lunGroups.add(lg.id, lun.id, "lun", ctx))._unsafeUnwrap();
    (await client.lunGroups.add(lg.id, lun.id, "lun", ctx))._unsafeUnwrap();
    const pg = (await client.portGroups.create("obj-pg", ctx))._unsafeUnwrap().value;
    const ports = (await client.ports.ethPorts(ctx))._unsafeUnwrap();
    (await client.portGroups.addEthPort(pg.id, ports[1]!.id, ctx))._unsafeUnwrap();
    const view = (await client.mappingViews.create(`OpenStack_Mapping_View_${host.id}`, ctx))._unsafeUnwrap().value;
    for (const m of [{ hostGroupId: hg.id }, { lunGroupId: lg.id }, { portGroupId: pg.id }]) {
      (await client.mappingViews.associate(view.id, m, ctx))._unsafeUnwrap();
      (await client.mappingViews.associate(view.id, m, ctx))._unsafeUnwrap();
    }
    const hostLunId = (await client.mappingViews.hostLunId(host.id, lun.id, ctx))._unsafeUnwrap();
    expect(hostLunId).toBeGreaterThanOrEqual(1);
    expect((await client.luns.get(lun.id, ctx))._unsafeUnwrap().inLunGroup).toBe(true);
    expect((await client.lunGroups.ofMappingView(view.id, ctx))._unsafeUnwrap()?.id).toBe(lg.id);
    expect((await client.portGroups.ofMappingView(view.id, ctx))._unsafeUnwrap()?.id).toBe(pg.id);
    expect((await client.hostGroups.ofMappingView(view.id, ctx))._unsafeUnwrap().map((g) => g.id)).toEqual([hg.id]);
    expect((await client.mappingViews.ofGroup({ lunGroupId: lg.id }, ctx))._unsafeUnwrap().map((v) => v.id)).toEqual([view.id]);
    expect((await client.lunGroups.ofObject(lun.id, "lun", ctx))._unsafeUnwrap().map((g) => g.id)).toEqual([lg.id]);
    // Portals of the port group only, and only healthy ones.
    const portals = (await client.ports.portals(ctx, { portGroupId: pg.id }))._unsafeUnwrap();
    expect(portals.map((p) => p.portal)).toEqual([sim.iscsi.portals[1]]);
    expect(portals[0]?.iqn).toBe(sim.iscsi.targets[1]?.iqn);
    await sim.faults.portalDown(1);
    expect((await client.ports.portals(ctx, { portGroupId: pg.id }))._unsafeUnwrap()).toEqual([]);
    expect((await client.ports.portals(ctx, { healthyOnly: false }))._unsafeUnwrap().map((p) => p.healthy)).toEqual([true, false]);
    await sim.faults.portalUp(1);
    // Teardown in Cinder's order (terminate_connection).
    (await client.lunGroups.remove(lg.id, lun.id, "lun", ctx))._unsafeUnwrap();
    (await client.lunGroups.remove(lg.id, lun.id, "lun", ctx))._unsafeUnwrap();
    expect((await client.lunGroups.countMembers(lg.id, ctx))._unsafeUnwrap()).toBe(0);
    expect((await client.mappingViews.hostLunId(host.id, lun.id, ctx))._unsafeUnwrap()).toBeUndefined();
    (await client.mappingViews.dissociate(view.id, { portGroupId: pg.id }, ctx))._unsafeUnwrap();
    (await client.initiators.setChap(iqn, undefined, ctx))._unsafeUnwrap();
    (await client.mappingViews.dissociate(view.id, { lunGroupId: lg.id }, ctx))._unsafeUnwrap();
    (await client.mappingViews.dissociate(view.id, { lunGroupId: lg.id }, ctx))._unsafeUnwrap();
    (await client.lunGroups.delete(lg.id, ctx))._unsafeUnwrap();
    (await client.initiators.removeFromHost(iqn, ctx))._unsafeUnwrap();
    (await client.mappingViews.dissociate(view.id, { hostGroupId: hg.id }, ctx))._unsafeUnwrap();
    (await client.hostGroups.removeHost(hg.id, host.id, ctx))._unsafeUnwrap();
    (await client.hostGroups.delete(hg.id, ctx))._unsafeUnwrap();
    (await client.hosts.delete(host.id, ctx))._unsafeUnwrap();
    (await client.mappingViews.delete(view.id, ctx))._unsafeUnwrap();
    (await client.portGroups.delete(pg.id, ctx))._unsafeUnwrap();
    const left = sim.snapshot();
    expect([left.hosts, left.hostGroups, left.lunGroups, left.views, left.portGroups, Object.keys(left.hostLunIds)]).toEqual([[], [], [], [], [], []]);
    expect(left.initiators.find((i) => i.iqn === iqn)).toMatchObject({ hostId: "", useChap: false });
  });

  it("QoS: a policy limits a LUN; the last LUN out deactivates and deletes it; limits are checked first", async () => {
    const ctx = opCtx();
    const lun = (await client.luns.create({ name: "obj-qos", poolId: "0", capacitySectors: 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const id = (await client.qos.create({ name: `OpenStack_${lun.id}_q`, lunIds: [lun.id], limits: { maxIops: 500, maxBandwidthMBps: 100 } }, ctx))._unsafeUnwrap();
    (await client.qos.activate(id, true, ctx))._unsafeUnwrap();
    expect((await client.qos.find(id, ctx))._unsafeUnwrap()).toMatchObject({ lunIds: [lun.id], runningStatus: "2", maxIops: "500", maxBandwidth: "100", ioType: "2" });
    expect((await client.luns.get(lun.id, ctx))._unsafeUnwrap().qosId).toBe(id);
    const second = (await client.luns.create({ name: "obj-qos-2", poolId: "0", capacitySectors: 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    (await client.qos.addLun(id, second.id, ctx))._unsafeUnwrap();
    (await client.qos.addLun(id, second.id, ctx))._unsafeUnwrap();
    expect((await client.qos.find(id, ctx))._unsafeUnwrap()?.lunIds).toEqual([lun.id, second.id]);
    (await client.qos.removeLun(id, second.id, ctx))._unsafeUnwrap();
    expect((await client.qos.find(id, ctx))._unsafeUnwrap()?.lunIds).toEqual([lun.id]);
    (await client.luns.delete(second.id, ctx))._unsafeUnwrap();
    expect((await client.luns.delete(lun.id, ctx))._unsafeUnwrapErr().details.arrayError).toBe("OBJECT_IN_USE");
    (await client.qos.removeLun(id, lun.id, ctx))._unsafeUnwrap();
    expect((await client.qos.find(id, ctx))._unsafeUnwrap()).toBeUndefined();
    (await client.qos.removeLun(id, lun.id, ctx))._unsafeUnwrap();
    expect((await client.luns.delete(lun.id, ctx))._unsafeUnwrap()).toBe(true);
    const before = sim.requests.length;
    const mixed = (await client.qos.create({ name: "obj-mixed", lunIds: [], limits: { maxIops: 10, minIops: 5 } }, ctx))._unsafeUnwrapErr();
    expect(mixed.code).toBe("INVALID_ARGUMENT");
    expect(mixed.message).toMatch(/cannot be mixed/);
    expect(sim.requests.length).toBe(before);
  });

  it("reads the array's identity and iSCSI names", async () => {
    const ctx = opCtx();
    expect((await client.system.get(ctx))._unsafeUnwrap()).toMatchObject({ id: sim.deviceId, productVersion: "V500R007C60" });
    expect((await client.ports.iscsiDeviceName(ctx))._unsafeUnwrap()).toMatch(/^iqn\.2006-08\.com\.huawei:oceanstor:/);
    const targets = (await client.ports.iscsiTargets(ctx))._unsafeUnwrap();
    expect(targets.map((t) => [t.ip, t.iqn])).toEqual(sim.iscsi.targets.map((t) => [t.portal.split(":")[0], t.iqn]));
  });
});
