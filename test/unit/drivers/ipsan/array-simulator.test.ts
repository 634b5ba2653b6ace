import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ArraySimulator } from "../../../../src/testing/array-simulator/index.js";
import { clientOf, opCtx, unitSimulator } from "./helpers.js";

let sim: ArraySimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

/** One raw call with a token, as Cinder's requests session sends it. */
async function raw(s: ArraySimulator, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const base = s.urls[0] ?? "";
  const login = await fetch(`${base}xx/sessions`, { method: "POST", body: JSON.stringify({ username: s.user, password: s.password, scope: "0" }) });
  const { data } = (await login.json()) as { data: { deviceid: string; iBaseToken: string } };
  const res = await fetch(`${base}${data.deviceid}${path}`, { method, headers: { iBaseToken: data.iBaseToken }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, json: res.headers.get("content-type")?.includes("json") ? (JSON.parse(text) as unknown) : text };
}

describe("array simulator (REST side)", () => {
  it("answers like the array: envelope with HTTP 200, string numbers, numeric TYPE", async () => {
    sim = await unitSimulator();
    const r = await raw(sim, "POST", "/lun", { TYPE: "11", NAME: "raw-1", PARENTTYPE: "216", PARENTID: "0", ALLOCTYPE: 1, CAPACITY: 4096 });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ error: { code: 0 }, data: { TYPE: 11, ID: "1", NAME: "raw-1", CAPACITY: "4096", ALLOCTYPE: "1", PARENTNAME: "StoragePool001", ISADD2LUNGROUP: "false" } });
  });

  it("paths are case-insensitive (Cinder sends /LUNGroup/<id>, /LUNCOPY/start, /MAPPINGVIEW/CREATE_ASSOCIATE)", async () => {
    sim = await unitSimulator();
    const created = await raw(sim, "POST", "/lungroup", { NAME: "case-group", APPTYPE: "0", GROUPTYPE: "0" });
    const id = (created.json as { data: { ID: string } }).data.ID;
    expect((await raw(sim, "DELETE", `/LUNGroup/${id}`)).json).toMatchObject({ error: { code: 0 } });
    expect(sim.snapshot().lunGroups).toEqual([]);
  });

  it("unknown paths are HTTP 404; a missing or stale token is -401", async () => {
    sim = await unitSimulator();
    expect((await raw(sim, "GET", "/no_such_object")).status).toBe(404);
    const res = await fetch(`${sim.urls[0] ?? ""}${sim.deviceId}/lun`);
    expect(await res.json()).toMatchObject({ error: { code: -401 } });
  });

  it("filter=NAME::x is exact, NAME:x contains, range=[a-b] pages", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    for (const name of ["alpha", "alphabet", "beta"]) (await client.hosts.create({ name }, opCtx()))._unsafeUnwrap();
    const names = async (q: string): Promise<string[]> => ((await raw(sim!, "GET", `/host?${q}`)).json as { data: { NAME: string }[] }).data.map((h) => h.NAME);
    expect(await names("filter=NAME::alpha")).toEqual(["alpha"]);
    expect(await names("filter=NAME:alpha")).toEqual(["alpha", "alphabet"]);
    expect(await names("range=[1-3]")).toEqual(["alphabet", "beta"]);
  });

  it("the login never logs a body, and the CHAP password is never returned", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    (await client.hosts.create({ name: "h" }, opCtx()))._unsafeUnwrap();
    (await client.initiators.add("iqn.2024-01.org.volkit:sim", opCtx()))._unsafeUnwrap();
    (await client.initiators.addToHost("iqn.2024-01.org.volkit:sim", "1", opCtx(), { chap: { name: "u", password: "Sim-Chap-12345" } }))._unsafeUnwrap();
    const listed = await raw(sim, "GET", "/iscsi_initiator");
    expect(JSON.stringify(listed.json)).not.toContain("Sim-Chap-12345");
    expect(JSON.stringify(sim.requests)).not.toContain(sim.password);
  });

  it("persists its state to a file and loads it at the next start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "volkit-sim-state-"));
    try {
      const stateFile = join(dir, "state.json");
      sim = await unitSimulator({ dir, stateFile });
      const client = await clientOf(sim);
      const lun = (await client.luns.create({ name: "kept", poolId: "0", capacitySectors: 2048, allocType: "thin" }, opCtx()))._unsafeUnwrap().value;
      await sim.stop();
      sim = undefined;
      expect(JSON.parse(readFileSync(stateFile, "utf8"))).toMatchObject({ luns: [{ name: "kept" }] });
      expect(existsSync(join(dir, "luns", `lun-${lun.id}.img`))).toBe(true);
      sim = await unitSimulator({ dir, stateFile });
      const again = await clientOf(sim);
      expect((await again.luns.findByName("kept", opCtx()))._unsafeUnwrap()?.id).toBe(lun.id);
      // New objects do not reuse ids.
      const next = (await again.luns.create({ name: "new", poolId: "0", capacitySectors: 2048, allocType: "thin" }, opCtx()))._unsafeUnwrap().value;
      expect(Number(next.id)).toBeGreaterThan(Number(lun.id));
    } finally {
      await sim?.stop();
      sim = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("cutAfter serves the next N requests, then fails every one (login too) until clear()", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim, { retries: 0 });
    (await client.login(opCtx()))._unsafeUnwrap();
    sim.faults.cutAfter({ after: 2 });
    expect((await client.pools.list(opCtx())).isOk()).toBe(true);
    expect((await client.hosts.list(opCtx())).isOk()).toBe(true);
    const cut = (await client.luns.list(opCtx()))._unsafeUnwrapErr();
    expect(cut.details.arrayCode).toBe(1);
    expect((await client.pools.list(opCtx())).isErr()).toBe(true);
    await sim.faults.clear();
    expect((await client.pools.list(opCtx())).isOk()).toBe(true);
  });

  it("failNext with skip answers the matching requests before it normally and fails the next one only", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim, { retries: 0 });
    (await client.login(opCtx()))._unsafeUnwrap();
    sim.faults.failNext({ skip: 2, code: 50331651, description: "the third request" });
    expect((await client.pools.list(opCtx())).isOk()).toBe(true);
    expect((await client.hosts.list(opCtx())).isOk()).toBe(true);
    const third = (await client.luns.list(opCtx()))._unsafeUnwrapErr();
    expect(third.details.arrayCode).toBe(50331651);
    expect((await client.luns.list(opCtx())).isOk()).toBe(true);
    expect(sim.requests.slice(-4).map((r) => r.code)).toEqual([0, 0, 50331651, 0]);
  });

  it("lists clone pairs (GET /clonepair, as Huawei's CSI queries them)", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    const c = opCtx();
    const src = (await client.luns.create({ name: "cp-src", poolId: "0", capacitySectors: 2048, allocType: "thin" }, c))._unsafeUnwrap().value;
    const dst = (await client.luns.create({ name: "cp-dst", poolId: "0", capacitySectors: 2048, allocType: "thin" }, c))._unsafeUnwrap().value;
    const pair = (await client.clonePairs.create({ sourceId: src.id, targetId: dst.id, speed: "high" }, c))._unsafeUnwrap();
    expect((await client.clonePairs.list(c))._unsafeUnwrap().map((p) => [p.id, p.sourceId, p.targetId])).toEqual([[pair, src.id, dst.id]]);
    (await client.clonePairs.stop(pair, c))._unsafeUnwrap();
    (await client.clonePairs.delete(pair, c))._unsafeUnwrap();
    expect((await client.clonePairs.list(c))._unsafeUnwrap()).toEqual([]);
  });

  it("stop removes its own directory", async () => {
    sim = await unitSimulator();
    const dir = sim.dir;
    expect(existsSync(dir)).toBe(true);
    await sim.stop();
    sim = undefined;
    expect(existsSync(dir)).toBe(false);
  });
});
