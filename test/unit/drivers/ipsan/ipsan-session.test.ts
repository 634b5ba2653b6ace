import { afterEach, describe, expect, it } from "vitest";
import type { VolkitError } from "../../../../src/core/errors.js";
import { createIpsanClient } from "../../../../src/drivers/ipsan/ipsan-client.js";
import { ARRAY_ERRORS } from "../../../../src/drivers/ipsan/ipsan-errors.js";
import { gibToSectors } from "../../../../src/drivers/ipsan/ipsan-lun-api.js";
import type { ArraySimulator } from "../../../../src/testing/array-simulator/index.js";
import { clientOf, opCtx, recordingLogger, requestsSince, unitSimulator } from "./helpers.js";

let sim: ArraySimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

/** Everything an error shows to a caller, as text. */
const shown = (e: VolkitError): string => `${e.message} ${JSON.stringify(e.toJSON())} ${String(e)}`;

describe("IP-SAN client sessions", () => {
  it("logs in with POST <url>xx/sessions, then calls <url><deviceid>/… with the iBaseToken", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    const login = (await client.login(opCtx()))._unsafeUnwrap();
    expect(login).toEqual({ deviceId: sim.deviceId, url: sim.urls[0] });
    expect(client.deviceId).toBe(sim.deviceId);
    const pools = (await client.pools.list(opCtx()))._unsafeUnwrap();
    expect(pools.map((p) => p.name)).toEqual(["StoragePool001"]);
    expect(requestsSince(sim, 0)).toEqual(["POST xx/sessions 0", "GET /storagepool 0"]);
  });

  it("re-logs in and repeats the call exactly once when the session expired mid-flow", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    const ctx = opCtx();
    const lun = (await client.luns.create({ name: "flow-1", poolId: "0", capacitySectors: gibToSectors(1), allocType: "thin" }, ctx))._unsafeUnwrap().value;
    sim.faults.expireSessions();
    const mark = sim.requests.length;
    const snap = (await client.snapshots.create({ name: "flow-1-snap", lunId: lun.id }, ctx))._unsafeUnwrap();
    expect(snap.created).toBe(true);
    expect(requestsSince(sim, mark)).toEqual(["POST /snapshot -401", "POST xx/sessions 0", "POST /snapshot 0"]);
    // The flow goes on with the new session, and the snapshot exists once.
    (await client.snapshots.activate([snap.value.id], ctx))._unsafeUnwrap();
    expect(sim.snapshot().snapshots.map((s) => [s.name, s.runningStatus])).toEqual([["flow-1-snap", "43"]]);
  });

  it("treats 'user offline' (1077949069) like an expired session", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    (await client.login(opCtx()))._unsafeUnwrap();
    sim.faults.expireSessions(ARRAY_ERRORS.USER_OFFLINE.code);
    const mark = sim.requests.length;
    (await client.pools.list(opCtx()))._unsafeUnwrap();
    expect(requestsSince(sim, mark)).toEqual([`GET /storagepool ${ARRAY_ERRORS.USER_OFFLINE.code}`, "POST xx/sessions 0", "GET /storagepool 0"]);
  });

  it("does not repeat a second time: -401 again after the fresh login is AUTH_FAILED", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    (await client.login(opCtx()))._unsafeUnwrap();
    sim.faults.failNext({ method: "GET", path: "/storagepool", code: -401, times: 5 });
    const mark = sim.requests.length;
    const error = (await client.pools.list(opCtx()))._unsafeUnwrapErr();
    expect(error.code).toBe("AUTH_FAILED");
    expect(error.details.arrayCode).toBe(-401);
    expect(requestsSince(sim, mark)).toEqual(["GET /storagepool -401", "POST xx/sessions 0", "GET /storagepool -401"]);
  });

  it("shares one re-login among calls that find the session expired together", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    (await client.login(opCtx()))._unsafeUnwrap();
    sim.faults.expireSessions();
    const mark = sim.requests.length;
    const results = await Promise.all(Array.from({ length: 8 }, () => client.pools.list(opCtx())));
    expect(results.every((r) => r.isOk())).toBe(true);
    expect(requestsSince(sim, mark).filter((r) => r.startsWith("POST xx/sessions"))).toEqual(["POST xx/sessions 0"]);
  });

  it("tries the REST URLs in turn: a refused first controller leaves the login to the second", async () => {
    sim = await unitSimulator();
    await sim.faults.unreachable("refuse", 0);
    const client = await clientOf(sim);
    const login = (await client.login(opCtx()))._unsafeUnwrap();
    expect(login.url).toBe(sim.urls[1]);
  });

  it("fails over mid-session: the controller in use goes away, the call is repeated on the other", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    expect((await client.login(opCtx()))._unsafeUnwrap().url).toBe(sim.urls[0]);
    await sim.faults.unreachable("refuse", 0);
    const mark = sim.requests.length;
    const pools = (await client.pools.list(opCtx()))._unsafeUnwrap();
    expect(pools).toHaveLength(1);
    // The first attempt never reached the array (connection refused): one login, one GET.
    expect(requestsSince(sim, mark)).toEqual(["POST xx/sessions 0", "GET /storagepool 0"]);
  });

  it("a wrong password is AUTH_FAILED, tried on one URL only, and appears in no error or log", async () => {
    sim = await unitSimulator();
    const logger = recordingLogger();
    const password = "Wrong-Password-4711";
    const client = await clientOf(sim, { password }, logger);
    const error = (await client.pools.list(opCtx()))._unsafeUnwrapErr();
    expect(error.code).toBe("AUTH_FAILED");
    expect(error.details.arrayCode).toBe(ARRAY_ERRORS.LOGIN_FAILED.code);
    expect(requestsSince(sim, 0)).toEqual([`POST xx/sessions ${ARRAY_ERRORS.LOGIN_FAILED.code}`]);
    expect(shown(error)).not.toContain(password);
    expect(logger.lines.join("\n")).not.toContain(password);
    expect(shown(error)).not.toContain(sim.password);
  });

  it("refuses a session whose password has expired (accountstate 3) and logs it out", async () => {
    sim = await unitSimulator();
    sim.faults.setAccountState(3);
    const client = await clientOf(sim);
    const error = (await client.login(opCtx()))._unsafeUnwrapErr();
    expect(error.code).toBe("AUTH_FAILED");
    expect(error.message).toMatch(/expired or was reset/);
    expect(requestsSince(sim, 0)).toEqual(["POST xx/sessions 0", "DELETE /sessions 0"]);
  });

  it("the password never appears in errors, logs or the request log, even when every URL fails", async () => {
    sim = await unitSimulator();
    const logger = recordingLogger();
    const client = await clientOf(sim, {}, logger);
    (await client.login(opCtx()))._unsafeUnwrap();
    await sim.faults.unreachable("refuse");
    const error = (await client.pools.list(opCtx()))._unsafeUnwrapErr();
    expect(error.code).toBe("BACKEND_UNAVAILABLE");
    for (const text of [shown(error), logger.lines.join("\n"), JSON.stringify(sim.requests)]) expect(text).not.toContain(sim.password);
  });

  it("a connection setting with credentials in the URL is INVALID_CONFIG and does not echo the secret", async () => {
    sim = await unitSimulator();
    const url = sim.urls[0]?.replace("http://", "http://admin:Leaked-Secret-99@") ?? "";
    const error = (await createIpsanClient({ ...sim.connection(), restUrls: [url] }))._unsafeUnwrapErr();
    expect(error.code).toBe("INVALID_CONFIG");
    expect(shown(error)).not.toContain("Leaked-Secret-99");
    expect(sim.requests).toHaveLength(0);
  });
});

describe("IP-SAN client deadlines, cancellation and transient failures", () => {
  it("an array that stops answering is BACKEND_UNAVAILABLE before the operation's deadline", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    (await client.login(opCtx()))._unsafeUnwrap();
    await sim.faults.unreachable("hang");
    const started = Date.now();
    const error = (await client.pools.list(opCtx({ ms: 2_000 })))._unsafeUnwrapErr();
    const elapsed = Date.now() - started;
    expect(error.code).toBe("BACKEND_UNAVAILABLE");
    expect(elapsed).toBeLessThan(2_000);
    expect(elapsed).toBeGreaterThan(1_000);
  });

  it("a slow answer is cut at the deadline without retries piling up", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    (await client.login(opCtx()))._unsafeUnwrap();
    sim.faults.delay({ path: "/storagepool", ms: 4_000 });
    const started = Date.now();
    const error = (await client.pools.list(opCtx({ ms: 1_500 })))._unsafeUnwrapErr();
    expect(error.code).toBe("BACKEND_UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it("the caller's AbortSignal ends a request in flight with ABORTED", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    (await client.login(opCtx()))._unsafeUnwrap();
    sim.faults.delay({ path: "/storagepool", ms: 5_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const started = Date.now();
    const error = (await client.pools.list(opCtx({ signal: ac.signal })))._unsafeUnwrapErr();
    expect(error.code).toBe("ABORTED");
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("an already passed deadline sends nothing", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    const ctx = opCtx({ ms: 1 });
    await new Promise((r) => setTimeout(r, 10));
    const error = (await client.pools.list(ctx))._unsafeUnwrapErr();
    expect(error.code).toBe("TIMEOUT");
    expect(sim.requests).toHaveLength(0);
  });

  it("retries a write refused with HTTP 503 or 'system busy' (not applied) and creates the LUN once", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    (await client.login(opCtx()))._unsafeUnwrap();
    sim.faults.failNext({ method: "POST", path: "/lun", httpStatus: 503 });
    sim.faults.failNext({ method: "POST", path: "/lun", code: ARRAY_ERRORS.SYSTEM_BUSY.code });
    const mark = sim.requests.length;
    const lun = (await client.luns.create({ name: "busy-1", poolId: "0", capacitySectors: 2048, allocType: "thick" }, opCtx()))._unsafeUnwrap();
    expect(lun.created).toBe(true);
    expect(requestsSince(sim, mark)).toEqual(["POST /lun 503", `POST /lun ${ARRAY_ERRORS.SYSTEM_BUSY.code}`, "POST /lun 0"]);
    expect(sim.snapshot().luns).toHaveLength(1);
  });

  it("does not repeat a write after HTTP 500 (it may have been applied) but does repeat a read", async () => {
    sim = await unitSimulator();
    const client = await clientOf(sim);
    (await client.login(opCtx()))._unsafeUnwrap();
    sim.faults.failNext({ method: "POST", path: "/lun", httpStatus: 500 });
    const write = (await client.luns.create({ name: "maybe-1", poolId: "0", capacitySectors: 2048, allocType: "thin" }, opCtx()))._unsafeUnwrapErr();
    expect(write.code).toBe("BACKEND_UNAVAILABLE");
    expect(write.transient).toBe(true);
    sim.faults.failNext({ method: "GET", path: "/storagepool", httpStatus: 500 });
    const mark = sim.requests.length;
    (await client.pools.list(opCtx()))._unsafeUnwrap();
    expect(requestsSince(sim, mark)).toEqual(["GET /storagepool 500", "GET /storagepool 0"]);
  });
});

describe("IP-SAN client TLS", () => {
  it("verifies the array's certificate against the given CA", async () => {
    sim = await unitSimulator({ protocol: "https" });
    const client = await clientOf(sim);
    expect((await client.login(opCtx()))._unsafeUnwrap().deviceId).toBe(sim.deviceId);
  });

  it("without the CA the self-signed certificate is refused (AUTH_FAILED naming the TLS error)", async () => {
    sim = await unitSimulator({ protocol: "https" });
    const client = await clientOf(sim, { tls: { verify: true } });
    const error = (await client.login(opCtx()))._unsafeUnwrapErr();
    expect(error.code).toBe("AUTH_FAILED");
    expect(error.details.tlsError).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    expect(sim.requests).toHaveLength(0);
  });

  it("verification off must be explicit, works, and is logged as a warning", async () => {
    sim = await unitSimulator({ protocol: "https" });
    const logger = recordingLogger();
    const client = await clientOf(sim, { tls: { verify: false } }, logger);
    (await client.login(opCtx()))._unsafeUnwrap();
    expect(logger.lines.some((l) => l.includes('"warn"') && l.includes("verification") && l.includes("OFF"))).toBe(true);
  });
});
