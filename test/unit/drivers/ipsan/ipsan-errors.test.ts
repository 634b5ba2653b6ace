import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARRAY_ERRORS, arrayError, arrayErrorSpec, toVolkitCode, type ArrayErrorName } from "../../../../src/drivers/ipsan/ipsan-errors.js";
import type { IpsanClient } from "../../../../src/drivers/ipsan/ipsan-client.js";
import { gibToSectors } from "../../../../src/drivers/ipsan/ipsan-lun-api.js";
import type { ArraySimulator } from "../../../../src/testing/array-simulator/index.js";
import { clientOf, opCtx, unitSimulator } from "./helpers.js";

describe("array error table", () => {
  it("has one entry per code", () => {
    const codes = Object.values(ARRAY_ERRORS).map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it("keeps the named codes of Cinder's constants.py", () => {
    expect(ARRAY_ERRORS.OBJECT_NAME_ALREADY_EXIST.code).toBe(1077948993);
    expect(ARRAY_ERRORS.VOLUME_NOT_EXIST.code).toBe(1077939726);
    expect(ARRAY_ERRORS.UNAUTHORIZED.code).toBe(-401);
    expect(ARRAY_ERRORS.CONNECT_TO_SERVER.code).toBe(-403);
  });

  it("refines generic codes by object kind", () => {
    expect(toVolkitCode(1077948993, "lun")).toBe("VOLUME_EXISTS");
    expect(toVolkitCode(1077948993, "snapshot")).toBe("SNAPSHOT_EXISTS");
    expect(toVolkitCode(1077948996, "lun")).toBe("VOLUME_NOT_FOUND");
    expect(toVolkitCode(1077948996, "snapshot")).toBe("SNAPSHOT_NOT_FOUND");
    expect(toVolkitCode(1077948996, "hostGroup")).toBe("INVALID_STATE");
    expect(toVolkitCode(123, "lun")).toBe("COMMAND_FAILED");
  });

  it("keeps the array's code and description in details", () => {
    const e = arrayError(1077939726, "The LUN does not exist.", { method: "GET", path: "/lun/7", kind: "lun" });
    expect(e.code).toBe("VOLUME_NOT_FOUND");
    expect(e.details).toMatchObject({ arrayCode: 1077939726, arrayDescription: "The LUN does not exist.", arrayError: "VOLUME_NOT_EXIST", method: "GET", path: "/lun/7" });
  });
});

describe("IP-SAN client maps every array error it can get", () => {
  let sim: ArraySimulator;
  let client: IpsanClient;
  beforeAll(async () => {
    sim = await unitSimulator({ pools: [{ name: "small", capacityGiB: 4 }], maxCloneDepth: 2 });
    client = await clientOf(sim, { retries: 0 });
    (await client.login(opCtx()))._unsafeUnwrap();
  });
  afterAll(async () => {
    await sim.stop();
  });

  // Every code of the table answered by the array for a LUN read arrives mapped, with the code and
  // the description kept (session codes excluded: they make the client log in again).
  const names = (Object.keys(ARRAY_ERRORS) as ArrayErrorName[]).filter((n) => arrayErrorSpec(ARRAY_ERRORS[n].code)?.spec.relogin !== true);
  it.each(names)("%s", async (name) => {
    const { code } = ARRAY_ERRORS[name];
    sim.faults.failNext({ method: "GET", path: "/lun/1", code, description: `simulated ${name}` });
    const error = (await client.luns.get("1", opCtx()))._unsafeUnwrapErr();
    expect(error.code).toBe(toVolkitCode(code, "lun"));
    expect(error.details.arrayCode).toBe(code);
    expect(error.details.arrayDescription).toBe(`simulated ${name}`);
    expect(error.details.arrayError).toBe(name);
    expect(arrayErrorSpec(code)?.name).toBe(name);
  });

  it("an unknown code is COMMAND_FAILED with the code kept", async () => {
    sim.faults.failNext({ method: "GET", path: "/lun/1", code: 31755596, description: "something else" });
    const error = (await client.luns.get("1", opCtx()))._unsafeUnwrapErr();
    expect(error.code).toBe("COMMAND_FAILED");
    expect(error.details).toMatchObject({ arrayCode: 31755596, arrayDescription: "something else" });
  });

  it("the array's own validation: a name over 31 characters is PARAMETER_ERROR → INVALID_ARGUMENT", async () => {
    const error = (await client.call({ method: "POST", path: "/lun", body: { NAME: "x".repeat(32), PARENTID: "0", CAPACITY: 2048, ALLOCTYPE: 1 }, kind: "lun" }, opCtx()))._unsafeUnwrapErr();
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.details.arrayCode).toBe(ARRAY_ERRORS.PARAMETER_ERROR.code);
  });

  it("the client refuses the same name before sending anything", async () => {
    const before = sim.requests.length;
    const error = (await client.luns.create({ name: "x".repeat(32), poolId: "0", capacitySectors: 2048, allocType: "thin" }, opCtx()))._unsafeUnwrapErr();
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(sim.requests.length).toBe(before);
  });

  it("LUN not found, snapshot not found", async () => {
    expect((await client.luns.get("999", opCtx()))._unsafeUnwrapErr()).toMatchObject({ code: "VOLUME_NOT_FOUND", details: { arrayCode: ARRAY_ERRORS.LUN_NOT_EXIST.code } });
    expect((await client.snapshots.get("999", opCtx()))._unsafeUnwrapErr()).toMatchObject({ code: "SNAPSHOT_NOT_FOUND", details: { arrayCode: ARRAY_ERRORS.SNAPSHOT_NOT_EXIST.code } });
    expect((await client.luns.find("999", opCtx()))._unsafeUnwrap()).toBeUndefined();
  });

  it("a pool that is full: INSUFFICIENT_CAPACITY for a thick create and a thick expand", async () => {
    const big = (await client.luns.create({ name: "thick-5g", poolId: "0", capacitySectors: gibToSectors(5), allocType: "thick" }, opCtx()))._unsafeUnwrapErr();
    expect(big).toMatchObject({ code: "INSUFFICIENT_CAPACITY", details: { arrayError: "POOL_INSUFFICIENT_CAPACITY" } });
    const lun = (await client.luns.create({ name: "thick-3g", poolId: "0", capacitySectors: gibToSectors(3), allocType: "thick" }, opCtx()))._unsafeUnwrap().value;
    expect((await client.luns.expand(lun.id, gibToSectors(5), opCtx()))._unsafeUnwrapErr().code).toBe("INSUFFICIENT_CAPACITY");
    expect((await client.luns.expand(lun.id, gibToSectors(2), opCtx()))._unsafeUnwrapErr()).toMatchObject({ code: "INVALID_ARGUMENT", details: { arrayError: "CAPACITY_NOT_LARGER" } });
    (await client.luns.delete(lun.id, opCtx()))._unsafeUnwrap();
  });

  it("deleting a mapped LUN or one with snapshots is VOLUME_BUSY; deleting a missing one succeeds", async () => {
    const ctx = opCtx();
    const lun = (await client.luns.create({ name: "busy-lun", poolId: "0", capacitySectors: 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const group = (await client.lunGroups.create("busy-group", ctx))._unsafeUnwrap().value;
    (await client.lunGroups.add(group.id, lun.id, "lun", ctx))._unsafeUnwrap();
    expect((await client.luns.delete(lun.id, ctx))._unsafeUnwrapErr()).toMatchObject({ code: "VOLUME_BUSY", details: { arrayError: "LUN_IN_LUNGROUP" } });
    (await client.lunGroups.remove(group.id, lun.id, "lun", ctx))._unsafeUnwrap();
    const snap = (await client.snapshots.create({ name: "busy-snap", lunId: lun.id }, ctx))._unsafeUnwrap().value;
    expect((await client.luns.delete(lun.id, ctx))._unsafeUnwrapErr()).toMatchObject({ code: "VOLUME_BUSY", details: { arrayError: "LUN_HAS_SNAPSHOTS" } });
    expect((await client.snapshots.delete(snap.id, ctx))._unsafeUnwrap()).toBe(true);
    expect((await client.luns.delete(lun.id, ctx))._unsafeUnwrap()).toBe(true);
    expect((await client.luns.delete(lun.id, ctx))._unsafeUnwrap()).toBe(false);
    expect((await client.snapshots.delete(snap.id, ctx))._unsafeUnwrap()).toBe(false);
    (await client.lunGroups.delete(group.id, ctx))._unsafeUnwrap();
  });

  it("a snapshot name taken on another LUN is SNAPSHOT_EXISTS; on the same LUN the create is idempotent", async () => {
    const ctx = opCtx();
    const a = (await client.luns.create({ name: "snap-a", poolId: "0", capacitySectors: 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const b = (await client.luns.create({ name: "snap-b", poolId: "0", capacitySectors: 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const first = (await client.snapshots.create({ name: "snap-x", lunId: a.id }, ctx))._unsafeUnwrap();
    const again = (await client.snapshots.create({ name: "snap-x", lunId: a.id }, ctx))._unsafeUnwrap();
    expect(again).toEqual({ value: first.value, created: false });
    expect((await client.snapshots.create({ name: "snap-x", lunId: b.id }, ctx))._unsafeUnwrapErr()).toMatchObject({ code: "SNAPSHOT_EXISTS", details: { arrayCode: 1077948993, snapshotId: first.value.id } });
    (await client.snapshots.delete(first.value.id, ctx))._unsafeUnwrap();
    (await client.luns.delete(a.id, ctx))._unsafeUnwrap();
    (await client.luns.delete(b.id, ctx))._unsafeUnwrap();
  });

  it("a clone deeper than the array's limit is refused (CLONE_DEPTH_EXCEEDED)", async () => {
    const ctx = opCtx();
    const base = (await client.luns.create({ name: "depth-0", poolId: "0", capacitySectors: 2048, allocType: "thin" }, ctx))._unsafeUnwrap().value;
    const c1 = (await client.luns.createClone({ name: "depth-1", sourceId: base.id }, ctx))._unsafeUnwrap();
    const c2 = (await client.luns.createClone({ name: "depth-2", sourceId: c1.id }, ctx))._unsafeUnwrap();
    expect(c2).toMatchObject({ isClone: true, cloneSourceId: c1.id });
    const error = (await client.luns.createClone({ name: "depth-3", sourceId: c2.id }, ctx))._unsafeUnwrapErr();
    expect(error).toMatchObject({ code: "INVALID_STATE", details: { arrayError: "CLONE_DEPTH_EXCEEDED" } });
    // A split clone is independent again: its clones start from depth 0.
    (await client.luns.splitClone(c2.id, "high", ctx))._unsafeUnwrap();
    const c3 = (await client.luns.createClone({ name: "depth-3", sourceId: c2.id }, ctx))._unsafeUnwrap();
    expect(c3.cloneSourceId).toBe(c2.id);
    // The source of an unsplit clone is busy.
    expect((await client.luns.delete(base.id, ctx))._unsafeUnwrapErr()).toMatchObject({ code: "VOLUME_BUSY", details: { arrayError: "OBJECT_IN_COPY_TASK" } });
  });

  it("host-side objects: in use, in another host, not in a group", async () => {
    const ctx = opCtx();
    const h1 = (await client.hosts.create({ name: "err-host-1" }, ctx))._unsafeUnwrap().value;
    const h2 = (await client.hosts.create({ name: "err-host-2" }, ctx))._unsafeUnwrap().value;
    const iqn = "iqn.2024-01.org.volkit:err";
    (await client.initiators.add(iqn, ctx))._unsafeUnwrap();
    (await client.initiators.add(iqn, ctx))._unsafeUnwrap();
    (await client.initiators.addToHost(iqn, h1.id, ctx))._unsafeUnwrap();
    expect((await client.initiators.addToHost(iqn, h2.id, ctx))._unsafeUnwrapErr()).toMatchObject({ code: "INVALID_STATE", details: { arrayError: "INITIATOR_IN_OTHER_HOST" } });
    expect((await client.hosts.delete(h1.id, ctx))._unsafeUnwrapErr()).toMatchObject({ code: "INVALID_STATE", details: { arrayError: "OBJECT_IN_USE" } });
    const hg = (await client.hostGroups.create("err-hg", ctx))._unsafeUnwrap().value;
    (await client.hostGroups.addHost(hg.id, h2.id, ctx))._unsafeUnwrap();
    (await client.hostGroups.addHost(hg.id, h2.id, ctx))._unsafeUnwrap();
    expect((await client.hostGroups.delete(hg.id, ctx))._unsafeUnwrapErr().code).toBe("INVALID_STATE");
    (await client.hostGroups.removeHost(hg.id, h2.id, ctx))._unsafeUnwrap();
    (await client.hostGroups.removeHost(hg.id, h2.id, ctx))._unsafeUnwrap();
    (await client.initiators.removeFromHost(iqn, ctx))._unsafeUnwrap();
    (await client.initiators.removeFromHost(iqn, ctx))._unsafeUnwrap();
    for (const r of [await client.hostGroups.delete(hg.id, ctx), await client.hosts.delete(h1.id, ctx), await client.hosts.delete(h2.id, ctx)]) expect(r._unsafeUnwrap()).toBe(true);
    expect((await client.hosts.delete(h1.id, ctx))._unsafeUnwrap()).toBe(false);
    expect((await client.hostGroups.delete(hg.id, ctx))._unsafeUnwrap()).toBe(false);
  });

  it("a CHAP secret outside the array's 12-16 characters is refused before any request", async () => {
    const before = sim.requests.length;
    const error = (await client.initiators.setChap("iqn.2024-01.org.volkit:err", { name: "u1", password: "short" }, opCtx()))._unsafeUnwrapErr();
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(sim.requests.length).toBe(before);
  });

  it("an unknown REST path is NOT_SUPPORTED (HTTP 404, how arrays report missing features)", async () => {
    const error = (await client.call({ method: "GET", path: "/HyperMetroPair", kind: "system" }, opCtx()))._unsafeUnwrapErr();
    expect(error).toMatchObject({ code: "NOT_SUPPORTED", details: { httpStatus: 404 } });
  });
});
