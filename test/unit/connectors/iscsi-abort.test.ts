/**
 * Aborting an attach (issue 14, item 10): a started iscsiadm is never killed (a kill while it holds
 * the node database lock leaves `/run/lock/iscsi/lock.write`, or a record cut short, and breaks
 * every later attach); the rollback then deletes the node records the attach created, and says so
 * (kind `node`). A stale lock or a corrupt record met anyway is reported with the fix, and a dead
 * iscsid is a transient BACKEND_UNAVAILABLE.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { DisconnectReport } from "../../../src/core/records.js";
import { FakeIscsiHost, NODE_DB_LOCK, capturedStderr } from "./fake-iscsi-host.js";
import { IQN, MemoryLogger, MiB, P1, P2, WWID, iscsiInfo, multipathInfo } from "./helpers.js";

let host: FakeIscsiHost;
afterEach(() => host.cleanup());

function lioHost(): FakeIscsiHost {
  host = new FakeIscsiHost();
  host.addTarget(IQN, [P1, P2], { 0: { wwid: WWID, sizeBytes: 64 * MiB } });
  return host;
}

const isUpdate = (name: string) => (a: readonly string[]): boolean => a[0] === "iscsiadm" && a.includes("update") && a.includes(name);

/** Nothing of the attach is left, and the node database is not locked. */
function expectNothingLeft(h: FakeIscsiHost): void {
  expect(h.tree.lexists(NODE_DB_LOCK), "node database lock").toBe(false);
  expect(h.nodes.size, "node records").toBe(0);
  expect(h.sessions.size, "sessions").toBe(0);
  expect(h.disks(), "disks").toEqual([]);
}

describe("aborting an attach", () => {
  it("lets a started node update finish, then deletes the node record it created and reports it", async () => {
    lioHost();
    host.fake.once(isUpdate("node.session.scan"), { delayMs: 80 });
    const ac = new AbortController();
    const pending = host.connector().connectVolume(iscsiInfo(), { signal: ac.signal });
    // Abort while the update runs.
    while (!host.timeline.some((e) => e.phase === "start" && isUpdate("node.session.scan")(e.argv))) await new Promise((r) => setTimeout(r, 1));
    ac.abort();
    const e = (await pending)._unsafeUnwrapErr();
    expect(e.code).toBe("ABORTED");
    // The update ran to its end: no iscsiadm was killed, none started after the abort but the rollback's.
    expect(host.killedIscsiadm).toBe(0);
    expect(host.fake.commands().filter((a) => a[0] === "iscsiadm").map((a) => a.slice(7).join(" "))).toEqual([
      "",
      "--interface default --op new",
      "--op update -n node.session.scan -v manual -n node.startup -v automatic",
      "--op delete",
    ]);
    expect(e.details.rollback).toEqual({ removed: [`node ${P1},${IQN}`], leftBehind: [] });
    expectNothingLeft(host);
  });

  it("waits for a login in flight, then logs out and deletes the records (multipath, both portals)", async () => {
    lioHost();
    host.loginDelayMs = 60;
    const ac = new AbortController();
    const pending = host.connector({ multipath: true }).connectVolume(multipathInfo(), { signal: ac.signal });
    // Abort once both logins are running.
    while (host.timeline.filter((e) => e.phase === "start" && e.argv.includes("--login")).length < 2) await new Promise((r) => setTimeout(r, 1));
    ac.abort();
    const e = (await pending)._unsafeUnwrapErr();
    expect(e.code).toBe("ABORTED");
    expect(host.killedIscsiadm).toBe(0);
    const rollback = e.details.rollback as DisconnectReport;
    expect([...rollback.removed].sort()).toEqual([`node ${P1},${IQN}`, `node ${P2},${IQN}`, `session ${P1},${IQN}`, `session ${P2},${IQN}`]);
    expect(rollback.leftBehind).toEqual([]);
    expectNothingLeft(host);
  });

  it("aborts in a loop at every point of the login never leave the database locked, and the next attach works", async () => {
    lioHost();
    host.loginDelayMs = 30;
    const c = host.connector({ multipath: true });
    for (let i = 0; i < 12; i++) {
      const ac = new AbortController();
      const pending = c.connectVolume(multipathInfo(), { signal: ac.signal });
      setTimeout(() => ac.abort(), i * 4);
      const r = await pending;
      expect(r.isErr() ? r.error.code : "attached", `cycle ${i}`).toMatch(/^(ABORTED|attached)$/);
      if (r.isOk()) (await c.disconnectVolume(multipathInfo(), r.value))._unsafeUnwrap();
      expectNothingLeft(host);
    }
    expect(host.killedIscsiadm).toBe(0);
    host.loginDelayMs = 0;
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    expect(dev.paths).toHaveLength(2);
  });

  it("an abort right after the scan removes the disk that scan made, though the wait never saw it", async () => {
    lioHost();
    const ac = new AbortController();
    // The kernel makes the disk during the scan write; the abort lands before any round reads it.
    host.tree.onWrite(/^\/sys\/class\/scsi_host\/host\d+\/scan$/, () => ac.abort());
    const e = (await host.connector().connectVolume(iscsiInfo(), { signal: ac.signal }))._unsafeUnwrapErr();
    expect(e.code).toBe("ABORTED");
    const rollback = e.details.rollback as DisconnectReport;
    expect(rollback.leftBehind).toEqual([]);
    expect([...rollback.removed].sort()).toEqual(["device /dev/sda", `node ${P1},${IQN}`, `session ${P1},${IQN}`]);
    expectNothingLeft(host);
  });

  it("rollback deletes a node record it created even when the session stays (someone else's login won the race)", async () => {
    lioHost();
    // Our login answers "session exists" (exit 15): another process logged in meanwhile, so the
    // session is not ours; then the LUN never shows.
    host.fake.once((a) => a.includes("--login"), () => {
      host.preLogin(IQN, P1);
      return { exitCode: 15, stderr: capturedStderr("raw/login-again.txt", 15) };
    });
    const e = (await host.connector({ timeouts: { deviceMs: 50 } }).connectVolume(iscsiInfo({ targetLun: 7 })))._unsafeUnwrapErr();
    expect(e.code).toBe("DEVICE_NOT_FOUND");
    const rollback = e.details.rollback as DisconnectReport;
    expect(rollback).toEqual({ removed: [`node ${P1},${IQN}`], leftBehind: [] });
    expect(host.nodes.size).toBe(0);
    expect(host.sessions.size).toBe(1); // not ours: left logged in
  });
});

describe("node database faults", () => {
  it("a stale lock costs one failed call (iscsiadm removes it after its wait); the attach goes on and says why", async () => {
    lioHost();
    host.tree.file(NODE_DB_LOCK);
    const logger = new MemoryLogger();
    const dev = (await host.connector({}, { logger }).connectVolume(iscsiInfo()))._unsafeUnwrap();
    expect(dev.path).toBe("/dev/sda");
    expect(host.tree.lexists(NODE_DB_LOCK)).toBe(false);
    expect(logger.text()).toContain("stale");
  });

  it("a stale lock that stays is INVALID_STATE with the fix, not retried", async () => {
    lioHost();
    host.tree.file(NODE_DB_LOCK);
    host.lockStaysStale = true;
    const e = (await host.connector().connectVolume(iscsiInfo()))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_STATE");
    expect(e.transient).toBe(false);
    expect(e.message).toContain(`rm ${NODE_DB_LOCK}`);
    expect(e.details).toMatchObject({ fix: `rm ${NODE_DB_LOCK}` });
    expect(host.fake.commands().filter((a) => a[0] === "iscsiadm")).toHaveLength(1);
  });

  it("a corrupt node record (a write cut short) is INVALID_STATE naming the file and the fix; after the fix the attach works", async () => {
    lioHost();
    const file = host.corruptRecord(IQN, P1);
    const e = (await host.connector().connectVolume(iscsiInfo()))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_STATE");
    expect(e.transient).toBe(false);
    expect(e.details).toMatchObject({ records: [file], fix: `rm -r ${file}` });
    expect(e.message).toContain("4294967295");
    expect(host.fake.commands().filter((a) => a.includes("new"))).toHaveLength(1); // not retried
    host.tree.remove(file);
    expect((await host.connector().connectVolume(iscsiInfo()))._unsafeUnwrap().path).toBe("/dev/sda");
  });

  it("a dead iscsid is BACKEND_UNAVAILABLE and transient, and the node record made for the login is removed", async () => {
    lioHost();
    host.loginReplies.set(P1, { exitCode: 20, stderr: capturedStderr("faults/iscsid-dead.txt", 20) });
    const e = (await host.connector().connectVolume(iscsiInfo()))._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(e.transient).toBe(true);
    expect(e.message).toContain("iscsid");
    expect(host.nodes.size).toBe(0);
  });
});
