/**
 * Host mappings of the IP-SAN driver on the array simulator (REST side): host, initiator with CHAP,
 * host/LUN/port groups, mapping view, portals, teardown, per-host locks.
 */
import { afterEach, describe, expect, it } from "vitest";
import { InProcessLocks, type LockBackend } from "../../../../src/core/locks.js";
import type { ConnectionInfo, HostPropertiesInput, Volume } from "../../../../src/core/records.js";
import type { ArraySimulator } from "../../../../src/testing/array-simulator/index.js";
import { opCtx, unitSimulator } from "./helpers.js";
import { ipsanOn, objectCounts, orphans } from "./ipsan-driver-helpers.js";

let sim: ArraySimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

const hostNamed = (name: string): HostPropertiesInput => ({ host: name, initiator: `iqn.2024-01.org.volkit:${name}`, multipath: true });
const CHAP = { user: "node-a-chap", password: "Chap-Secret-01" };
const iscsi = (info: ConnectionInfo): Extract<ConnectionInfo, { type: "iscsi" }> => {
  if (info.type !== "iscsi") throw new Error(`expected iSCSI info, got ${info.type}`);
  return info;
};

describe("IP-SAN driver: host mappings", () => {
  it("maps with every healthy portal (plural keys), the host LUN id and the initiator's CHAP; a repeat returns the same", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim, { iscsi: { initiators: [{ iqn: "iqn.2024-01.org.volkit:node-a", chap: CHAP }] } });
    const v = (await backend.createVolume({ id: "m-1", sizeGiB: 1 }))._unsafeUnwrap();
    const info = iscsi((await backend.initializeConnection(v, hostNamed("node-a")))._unsafeUnwrap());
    const hostLun = Object.values(sim.snapshot().hostLunIds)[0];
    expect(info).toMatchObject({
      volumeId: "m-1",
      targetPortals: sim.iscsi.portals,
      targetIqns: sim.iscsi.targets.map((t) => t.iqn),
      targetLuns: [hostLun, hostLun],
      targetPortal: sim.iscsi.portals[0],
      targetLun: hostLun,
      authMethod: "CHAP",
      authUsername: CHAP.user,
      authPassword: CHAP.password,
    });
    const s = sim.snapshot();
    const host = s.hosts[0];
    expect(s.hosts.map((h) => [h.name, h.description])).toEqual([["node-a", "node-a"]]);
    expect(s.initiators).toEqual([expect.objectContaining({ iqn: "iqn.2024-01.org.volkit:node-a", hostId: host?.id, useChap: true, chapName: CHAP.user, chapPassword: CHAP.password })]);
    expect(s.hostGroups.map((g) => g.name)).toEqual([`OpenStack_HostGroup_${host?.id}`]);
    expect(s.lunGroups.map((g) => g.name)).toEqual([`OpenStack_LunGroup_${host?.id}`]);
    expect(s.views.map((x) => x.name)).toEqual([`OpenStack_Mapping_View_${host?.id}`]);
    expect(s.portGroups).toEqual([]);
    const again = iscsi((await backend.initializeConnection(v, hostNamed("node-a")))._unsafeUnwrap());
    expect(again).toEqual(info);
    expect(objectCounts(sim)).toMatchObject({ hosts: 1, hostGroups: 1, lunGroups: 1, views: 1, initiators: 1 });
    expect((await backend.describeExport(v))._unsafeUnwrap()).toEqual({ exported: true, hosts: ["node-a"] });
  });

  it("several volumes of one host share its groups; the last terminate tears the host down; terminate again succeeds", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim);
    const vols: Volume[] = [];
    for (const id of ["t-1", "t-2", "t-3"]) vols.push((await backend.createVolume({ id, sizeGiB: 1 }))._unsafeUnwrap());
    const luns = new Set<number>();
    for (const v of vols) luns.add(iscsi((await backend.initializeConnection(v, hostNamed("node-b")))._unsafeUnwrap()).targetLun);
    expect(luns.size).toBe(3);
    expect(objectCounts(sim)).toMatchObject({ hosts: 1, lunGroups: 1, views: 1 });
    const [first, second, third] = vols;
    if (!first || !second || !third) throw new Error("three volumes expected");
    (await backend.terminateConnection(first, hostNamed("node-b")))._unsafeUnwrap();
    (await backend.terminateConnection(second, hostNamed("node-b")))._unsafeUnwrap();
    expect(objectCounts(sim)).toMatchObject({ hosts: 1, lunGroups: 1, views: 1, initiators: 1 });
    expect((await backend.describeExport(first))._unsafeUnwrap()).toEqual({ exported: false, hosts: [] });
    (await backend.terminateConnection(third, hostNamed("node-b")))._unsafeUnwrap();
    expect(objectCounts(sim)).toMatchObject({ hosts: 0, hostGroups: 0, lunGroups: 0, views: 0, initiators: 0 });
    (await backend.terminateConnection(third, hostNamed("node-b")))._unsafeUnwrap();
    (await backend.terminateConnection({ id: "ghost", sizeGiB: 1 }, hostNamed("node-b")))._unsafeUnwrap();
  });

  it("terminate without a host revokes every host's access (force detach)", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim);
    const v = (await backend.createVolume({ id: "f-1", sizeGiB: 1 }))._unsafeUnwrap();
    for (const h of ["h1", "h2", "h3"]) (await backend.initializeConnection(v, hostNamed(h)))._unsafeUnwrap();
    expect((await backend.describeExport(v))._unsafeUnwrap()).toEqual({ exported: true, hosts: ["h1", "h2", "h3"] });
    (await backend.terminateConnection(v))._unsafeUnwrap();
    expect(objectCounts(sim)).toMatchObject({ hosts: 0, lunGroups: 0, views: 0, hostGroups: 0, initiators: 0 });
  });

  it("targetPortals: only those ports, through a port group of the host's own that goes with the host", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim, { iscsi: { targetPortals: ["127.0.0.2"] } });
    const v = (await backend.createVolume({ id: "tp-1", sizeGiB: 1 }))._unsafeUnwrap();
    const info = iscsi((await backend.initializeConnection(v, hostNamed("node-c")))._unsafeUnwrap());
    expect(info.targetPortals).toEqual([sim.iscsi.portals[1]]);
    const s = sim.snapshot();
    const group = s.portGroups[0];
    expect(group?.name).toBe(`OpenStack_PortGroup_${s.hosts[0]?.id}`);
    expect(s.portGroupPorts[group?.id ?? ""]).toEqual([s.ethPorts[1]?.id]);
    expect(s.views[0]?.portGroupId).toBe(group?.id);
    (await backend.terminateConnection(v, hostNamed("node-c")))._unsafeUnwrap();
    expect(objectCounts(sim)).toMatchObject({ portGroups: 0, hosts: 0 });
  });

  it("portGroup: an existing group's healthy ports, associated with the view and never deleted; a missing group is INVALID_CONFIG", async () => {
    sim = await unitSimulator();
    const { backend, driver } = await ipsanOn(sim, { iscsi: { portGroup: "admin-ports" } });
    const v = (await backend.createVolume({ id: "pg-1", sizeGiB: 1 }))._unsafeUnwrap();
    expect((await backend.initializeConnection(v, hostNamed("node-d")))._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(objectCounts(sim)).toMatchObject({ hosts: 0, views: 0 });
    const ctx = opCtx();
    const group = (await driver.client.portGroups.create("admin-ports", ctx))._unsafeUnwrap().value;
    for (const p of sim.snapshot().ethPorts) (await driver.client.portGroups.addEthPort(group.id, p.id, ctx))._unsafeUnwrap();
    await sim.faults.portalDown(0);
    const info = iscsi((await backend.initializeConnection(v, hostNamed("node-d")))._unsafeUnwrap());
    expect(info.targetPortals).toEqual([sim.iscsi.portals[1]]);
    expect(sim.snapshot().views[0]?.portGroupId).toBe(group.id);
    (await backend.terminateConnection(v, hostNamed("node-d")))._unsafeUnwrap();
    expect(sim.snapshot().portGroups.map((g) => g.name)).toEqual(["admin-ports"]);
  });

  it("a port that is down is left out; no healthy port is BACKEND_UNAVAILABLE and nothing is mapped; an unknown target IP is INVALID_CONFIG", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim);
    const v = (await backend.createVolume({ id: "pd-1", sizeGiB: 1 }))._unsafeUnwrap();
    await sim.faults.portalDown(1);
    expect(iscsi((await backend.initializeConnection(v, hostNamed("node-e")))._unsafeUnwrap()).targetPortals).toEqual([sim.iscsi.portals[0]]);
    await sim.faults.portalDown(0);
    expect((await backend.initializeConnection(v, hostNamed("node-f")))._unsafeUnwrapErr().code).toBe("BACKEND_UNAVAILABLE");
    expect(sim.snapshot().hosts.map((h) => h.name)).toEqual(["node-e"]);
    const other = await ipsanOn(sim, { iscsi: { targetPortals: ["127.0.0.9"] } });
    const e = (await other.backend.initializeConnection(v, hostNamed("node-g")))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_CONFIG");
    expect(e.message).toContain("127.0.0.9");
  });

  it("an initiator that belongs to another host on the array is INVALID_STATE and nothing of the new host stays", async () => {
    sim = await unitSimulator();
    const { backend, driver } = await ipsanOn(sim);
    const ctx = opCtx();
    const admin = (await driver.client.hosts.create({ name: "admin-host" }, ctx))._unsafeUnwrap().value;
    (await driver.client.initiators.add("iqn.2024-01.org.volkit:shared", ctx))._unsafeUnwrap();
    (await driver.client.initiators.addToHost("iqn.2024-01.org.volkit:shared", admin.id, ctx))._unsafeUnwrap();
    const v = (await backend.createVolume({ id: "is-1", sizeGiB: 1 }))._unsafeUnwrap();
    const e = (await backend.initializeConnection(v, { host: "node-h", initiator: "iqn.2024-01.org.volkit:shared" }))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_STATE");
    expect(sim.snapshot().hosts.map((h) => h.name)).toEqual(["admin-host"]);
    expect(sim.snapshot().initiators.map((i) => i.hostId)).toEqual([admin.id]);
  });

  it("a mapping that fails part-way is undone; one that fails on a volume already mapped keeps the earlier mapping", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim);
    const v = (await backend.createVolume({ id: "u-1", sizeGiB: 1 }))._unsafeUnwrap();
    sim.faults.failNext({ method: "PUT", path: "/mappingview/create_associate", code: 50331651 });
    expect((await backend.initializeConnection(v, hostNamed("node-i")))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(objectCounts(sim)).toMatchObject({ hosts: 0, hostGroups: 0, lunGroups: 0, views: 0, initiators: 0 });
    const info = iscsi((await backend.initializeConnection(v, hostNamed("node-i")))._unsafeUnwrap());
    sim.faults.failNext({ method: "GET", path: "/lun/associate", code: 50331651 });
    expect((await backend.initializeConnection(v, hostNamed("node-i")))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(Object.values(sim.snapshot().hostLunIds)).toEqual([info.targetLun]);
    expect(orphans(sim)).toEqual([]);
  });

  it("a host without an initiator name is INVALID_ARGUMENT; CHAP turned on later is set on the initiator", async () => {
    sim = await unitSimulator();
    const plain = await ipsanOn(sim);
    const v = (await plain.backend.createVolume({ id: "c-1", sizeGiB: 1 }))._unsafeUnwrap();
    expect((await plain.backend.initializeConnection(v, { host: "no-iqn" }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    const first = iscsi((await plain.backend.initializeConnection(v, hostNamed("node-a")))._unsafeUnwrap());
    expect(first.authMethod).toBeUndefined();
    const withChap = await ipsanOn(sim, { iscsi: { initiators: [{ iqn: "iqn.2024-01.org.volkit:node-a", chap: CHAP }] } });
    expect(iscsi((await withChap.backend.initializeConnection(v, hostNamed("node-a")))._unsafeUnwrap()).authUsername).toBe(CHAP.user);
    expect(sim.snapshot().initiators[0]).toMatchObject({ useChap: true, chapName: CHAP.user });
  });

  it("32 hosts map at once: per-host locks held in parallel, every host gets its own objects and a distinct LUN id, nothing lost or duplicated", async () => {
    sim = await unitSimulator();
    const inner = new InProcessLocks();
    const keys = new Set<string>();
    let held = 0;
    let maxHeld = 0;
    const locks: LockBackend = {
      acquire: (key, signal) =>
        inner.acquire(key, signal).map((release) => {
          keys.add(key);
          maxHeld = Math.max(maxHeld, ++held);
          return async () => {
            held--;
            await release();
          };
        }),
    };
    const { backend } = await ipsanOn(sim, { maxConcurrentRequests: 64 }, { locks });
    const vols = await Promise.all(Array.from({ length: 32 }, async (_v, i) => (await backend.createVolume({ id: `many-${i}`, sizeGiB: 1 }))._unsafeUnwrap()));
    const infos = await Promise.all(vols.map(async (v, i) => iscsi((await backend.initializeConnection(v, hostNamed(`many-host-${i}`)))._unsafeUnwrap())));
    expect(keys.size).toBe(32);
    expect(maxHeld).toBeGreaterThan(1);
    expect(new Set(infos.map((i) => i.targetLun)).size).toBe(32);
    const s = sim.snapshot();
    expect(objectCounts(sim)).toMatchObject({ hosts: 32, hostGroups: 32, lunGroups: 32, views: 32, initiators: 32 });
    for (const [i, v] of vols.entries()) {
      const host = s.hosts.find((h) => h.name === `many-host-${i}`);
      const group = s.lunGroups.find((g) => g.name === `OpenStack_LunGroup_${host?.id}`);
      expect(s.lunGroupMembers[group?.id ?? ""]).toEqual([{ type: 11, id: v.providerId }]);
    }
    expect(orphans(sim)).toEqual([]);
    await Promise.all(vols.map(async (v, i) => (await backend.terminateConnection(v, hostNamed(`many-host-${i}`)))._unsafeUnwrap()));
    expect(objectCounts(sim)).toMatchObject({ hosts: 0, hostGroups: 0, lunGroups: 0, views: 0, initiators: 0 });
  });
});
