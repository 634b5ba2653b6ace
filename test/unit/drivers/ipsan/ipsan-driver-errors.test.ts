/**
 * REST failures as the IP-SAN driver's callers see them: array codes mapped to volkit codes with the
 * array's code kept, transient ones retried, sessions that expire mid-flow, deadlines, cancels.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ARRAY_ERRORS } from "../../../../src/drivers/ipsan/ipsan-errors.js";
import { snapshotNameOf } from "../../../../src/drivers/ipsan/ipsan-names.js";
import type { ArraySimulator } from "../../../../src/testing/array-simulator/index.js";
import { opCtx, unitSimulator } from "./helpers.js";
import { ipsanOn, objectCounts, orphans } from "./ipsan-driver-helpers.js";

let sim: ArraySimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

/** Waits until the simulator has handled a request matching `re`. */
async function requestSeen(s: ArraySimulator, re: RegExp, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!s.requests.some((r) => re.test(`${r.method} ${r.path}`))) {
    if (Date.now() > until) throw new Error(`no request matching ${String(re)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("IP-SAN driver: REST failures", () => {
  it("maps the array's codes on each kind of call, keeping arrayCode and the description in details", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim, { retries: 0 });
    const cases: { what: string; method: string; path: string; code: number; run: () => Promise<{ code: string; details: Record<string, unknown> }> }[] = [
      { what: "pool full", method: "POST", path: "/lun", code: ARRAY_ERRORS.POOL_INSUFFICIENT_CAPACITY.code, run: async () => (await backend.createVolume({ id: "e-1", sizeGiB: 1 }))._unsafeUnwrapErr() },
      { what: "an unknown array code", method: "POST", path: "/lun", code: 123456, run: async () => (await backend.createVolume({ id: "e-2", sizeGiB: 1 }))._unsafeUnwrapErr() },
      { what: "a bad parameter", method: "GET", path: "/storagepool", code: ARRAY_ERRORS.PARAMETER_ERROR.code, run: async () => (await backend.getVolumeStats())._unsafeUnwrapErr() },
    ];
    const expected: Record<string, string> = { "pool full": "INSUFFICIENT_CAPACITY", "an unknown array code": "COMMAND_FAILED", "a bad parameter": "INVALID_ARGUMENT" };
    for (const c of cases) {
      sim.faults.failNext({ method: c.method, path: c.path, code: c.code, description: `injected ${c.what}` });
      const e = await c.run();
      expect(e.code, c.what).toBe(expected[c.what]);
      expect(e.details, c.what).toMatchObject({ arrayCode: c.code, arrayDescription: `injected ${c.what}` });
    }
    expect(objectCounts(sim).luns).toBe(0);
  });

  it("a transient 'system busy' or HTTP 503 on a create is retried and makes exactly one LUN", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim, { retries: 2 });
    sim.faults.failNext({ method: "POST", path: "/lun", code: ARRAY_ERRORS.SYSTEM_BUSY.code });
    (await backend.createVolume({ id: "busy-1", sizeGiB: 1 }))._unsafeUnwrap();
    sim.faults.failNext({ method: "POST", path: "/lun", httpStatus: 503 });
    (await backend.createVolume({ id: "busy-2", sizeGiB: 1 }))._unsafeUnwrap();
    expect(sim.snapshot().luns).toHaveLength(2);
  });

  it("a snapshot name held by another LUN is SNAPSHOT_EXISTS; a volume mapped by someone else cannot be deleted (VOLUME_BUSY)", async () => {
    sim = await unitSimulator();
    const { backend, driver } = await ipsanOn(sim);
    const a = (await backend.createVolume({ id: "a", sizeGiB: 1 }))._unsafeUnwrap();
    const b = (await backend.createVolume({ id: "b", sizeGiB: 1 }))._unsafeUnwrap();
    const ctx = opCtx();
    (await driver.client.snapshots.create({ name: snapshotNameOf("taken"), lunId: b.providerId ?? "" }, ctx))._unsafeUnwrap();
    expect((await backend.createSnapshot({ id: "taken", volumeId: a.id, volumeSizeGiB: 1 }, a))._unsafeUnwrapErr().code).toBe("SNAPSHOT_EXISTS");
    const group = (await driver.client.lunGroups.create("admin-lungroup", ctx))._unsafeUnwrap().value;
    (await driver.client.lunGroups.add(group.id, a.providerId ?? "", "lun", ctx))._unsafeUnwrap();
    const busy = (await backend.deleteVolume(a))._unsafeUnwrapErr();
    expect(busy.code).toBe("VOLUME_BUSY");
    expect(busy.details.arrayError).toBe("LUN_IN_LUNGROUP");
    expect(sim.snapshot().luns.some((l) => l.id === a.providerId)).toBe(true);
  });

  it("wrong credentials are AUTH_FAILED, tried on one URL only; an expired array password is AUTH_FAILED", async () => {
    sim = await unitSimulator();
    const wrong = await ipsanOn(sim, { password: "Not-The-Password" });
    const e = (await wrong.backend.getVolumeStats())._unsafeUnwrapErr();
    expect(e.code).toBe("AUTH_FAILED");
    expect(sim.requests.filter((r) => r.path === "xx/sessions")).toHaveLength(1);
    expect(JSON.stringify(e.toJSON())).not.toContain("Not-The-Password");
    sim.faults.setAccountState(3);
    const expired = await ipsanOn(sim);
    expect((await expired.backend.getVolumeStats())._unsafeUnwrapErr().message).toMatch(/expired or was reset/);
  });

  it("a session that expires in the middle of a copy: one re-login, the flow completes, nothing is made twice", async () => {
    sim = await unitSimulator({ copyDurationMs: 400 });
    const { backend } = await ipsanOn(sim);
    const v = (await backend.createVolume({ id: "x", sizeGiB: 1 }))._unsafeUnwrap();
    const snap = (await backend.createSnapshot({ id: "x-snap", volumeId: v.id, volumeSizeGiB: 1 }, v))._unsafeUnwrap();
    const mark = sim.requests.length;
    const pending = backend.createVolumeFromSnapshot({ id: "x-copy", sizeGiB: 1 }, snap);
    await requestSeen(sim, /^PUT \/LUNCOPY\/start/i);
    sim.faults.expireSessions();
    (await pending)._unsafeUnwrap();
    const log = sim.requests.slice(mark).map((r) => `${r.method} ${r.path.split("?")[0] ?? ""} ${r.code}`);
    expect(log.filter((l) => l.endsWith(" -401"))).toHaveLength(1);
    expect(log.filter((l) => l.startsWith("POST xx/sessions"))).toEqual(["POST xx/sessions 0"]);
    expect(log.filter((l) => l.startsWith("POST /lun ") || l.startsWith("POST /luncopy "))).toEqual(["POST /lun 0", "POST /luncopy 0"]);
    expect(orphans(sim)).toEqual([]);
  });

  it("an unreachable array is BACKEND_UNAVAILABLE before the operation's deadline (refused and hanging controllers)", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim, { retries: 3 });
    (await backend.getVolumeStats())._unsafeUnwrap();
    for (const mode of ["refuse", "hang"] as const) {
      await sim.faults.unreachable(mode);
      const started = Date.now();
      const e = (await backend.createVolume({ id: `u-${mode}`, sizeGiB: 1 }, { deadline: Date.now() + 2_500 }))._unsafeUnwrapErr();
      expect(e.code, mode).toBe("BACKEND_UNAVAILABLE");
      expect(Date.now() - started, mode).toBeLessThan(2_500);
      await sim.faults.reachable();
    }
    expect(sim.snapshot().luns).toEqual([]);
  });

  it("a copy cancelled by the caller ends ABORTED and its half-made LUN is removed", async () => {
    sim = await unitSimulator({ copyDurationMs: 2_000 });
    const { backend } = await ipsanOn(sim);
    const v = (await backend.createVolume({ id: "c", sizeGiB: 1 }))._unsafeUnwrap();
    const snap = (await backend.createSnapshot({ id: "c-snap", volumeId: v.id, volumeSizeGiB: 1 }, v))._unsafeUnwrap();
    const before = objectCounts(sim);
    const ac = new AbortController();
    const pending = backend.createVolumeFromSnapshot({ id: "c-copy", sizeGiB: 1 }, snap, { signal: ac.signal });
    await requestSeen(sim, /^PUT \/LUNCOPY\/start/i);
    ac.abort();
    expect((await pending)._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(objectCounts(sim)).toEqual(before);
  });
});
