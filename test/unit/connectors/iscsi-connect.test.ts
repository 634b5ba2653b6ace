import { afterEach, describe, expect, it } from "vitest";
import { FakeIscsiHost } from "./fake-iscsi-host.js";
import { CHAP, IQN, MemoryLogger, MiB, P1, P2, SECRET, UDEV_WWID, WWID, chapInfo, iscsiInfo, multipathInfo } from "./helpers.js";

let host: FakeIscsiHost;
afterEach(() => host.cleanup());

function lioHost(chap?: typeof CHAP): FakeIscsiHost {
  host = new FakeIscsiHost();
  host.addTarget(IQN, [P1, P2], { 0: { wwid: WWID, sizeBytes: 64 * MiB } }, chap);
  return host;
}

const node = (portal: string, ...rest: string[]): string[] => ["iscsiadm", "-m", "node", "-T", IQN, "-p", portal, ...rest];

describe("IscsiConnector.getHostProperties", () => {
  it("reads the initiator from /etc/iscsi/initiatorname.iscsi and reports multipath when multipathd answers", async () => {
    lioHost();
    const props = (await host.connector({ multipath: true, hostName: "compute-1" }).getHostProperties())._unsafeUnwrap();
    expect(props).toMatchObject({ host: "compute-1", initiator: "iqn.2026-11.io.volkit:lab-initiator", multipath: true, osType: "linux2" });
    expect(host.fake.commands()).toEqual([["multipathd", "show", "status"]]);
  });

  it("reports multipath false when multipathd is down, and BACKEND_UNAVAILABLE when it is enforced", async () => {
    lioHost();
    host.multipathd = false;
    const c = host.connector({ multipath: true });
    expect((await c.getHostProperties())._unsafeUnwrap().multipath).toBe(false);
    const e = (await c.getHostProperties({ enforceMultipath: true }))._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
  });

  it("does not ask multipathd when multipath is not requested", async () => {
    lioHost();
    expect((await host.connector().getHostProperties())._unsafeUnwrap().multipath).toBe(false);
    expect(host.fake.commands()).toEqual([]);
  });
});

describe("IscsiConnector.connectVolume, single path", () => {
  it("runs os-brick's node setup in one update, logs in, scans only its LUN and returns /dev/sdX by WWID", async () => {
    lioHost();
    const dev = (await host.connector().connectVolume(iscsiInfo()))._unsafeUnwrap();
    expect(dev).toEqual({ type: "block", path: "/dev/sda", scsiWwn: UDEV_WWID, paths: ["/dev/sda"], sizeBytes: 64 * MiB });
    expect(host.fake.commands()).toEqual([
      node(P1),
      node(P1, "--interface", "default", "--op", "new"),
      node(P1, "--op", "update", "-n", "node.session.scan", "-v", "manual", "-n", "node.startup", "-v", "automatic"),
      node(P1, "--login"),
    ]);
    // One targeted scan of LUN 0 on the session's host, nothing else.
    expect(host.tree.writes.map((w) => [w.path, w.data])).toEqual([["/sys/class/scsi_host/host0/scan", "- - 0"]]);
    expect(host.fake.calls.every((c) => c.signal instanceof AbortSignal)).toBe(true);
  });

  it("reuses an existing session (no login) and leaves pre-existing objects alone", async () => {
    lioHost();
    host.preLogin(IQN, P1, [0]);
    const dev = (await host.connector().connectVolume(iscsiInfo()))._unsafeUnwrap();
    expect(dev.path).toBe("/dev/sda");
    expect(host.fake.commands()).toEqual([]);
    expect(host.tree.writes).toEqual([]);
  });

  it("tries the next portal when the first cannot log in", async () => {
    lioHost();
    host.loginReplies.set(P1, { exitCode: 8, stderr: "iscsiadm: initiator reported error (8 - connection timed out)\n" });
    const logger = new MemoryLogger();
    const dev = (await host.connector({}, { logger }).connectVolume(multipathInfo()))._unsafeUnwrap();
    expect(dev.path).toBe("/dev/sda");
    expect(host.sessions.has(`${IQN}|${P2}`)).toBe(true);
    // The failed portal's node record (created by this call) is gone again.
    expect(host.nodes.has(`${IQN}|${P1}`)).toBe(false);
    expect(logger.warnings()).toContain("path failed; trying the next portal");
  });

  it("treats exit 15 (session already exists) as success and does not own that session", async () => {
    lioHost();
    host.fake.once((a) => a.includes("--login"), () => {
      host.preLogin(IQN, P1); // another process logged in meanwhile
      return { exitCode: 15, stderr: "iscsiadm: default: 1 session requested, but 1 already present.\n" };
    });
    const dev = (await host.connector().connectVolume(iscsiInfo()))._unsafeUnwrap();
    expect(dev.path).toBe("/dev/sda");
  });

  it("retries a node-database failure (exit 6) and succeeds", async () => {
    lioHost();
    host.fake.once((a) => a.includes("new"), { exitCode: 6, stderr: "iscsiadm: Could not add new record: encountered iSCSI database failure\n" });
    const dev = (await host.connector().connectVolume(iscsiInfo()))._unsafeUnwrap();
    expect(dev.path).toBe("/dev/sda");
    expect(host.fake.commands().filter((a) => a.includes("new"))).toHaveLength(2);
  });

  it("creates the node record when the look-up finds none (exit 21) and keeps an existing one", async () => {
    lioHost();
    host.nodes.set(`${IQN}|${P1}`, new Map());
    (await host.connector().connectVolume(iscsiInfo()))._unsafeUnwrap();
    expect(host.fake.commands().some((a) => a.includes("new"))).toBe(false);
  });

  it("waits for a slow device with targeted rescans of that LUN only", async () => {
    lioHost();
    host.scansNeeded.set(`${IQN}|${P1}|0`, 4);
    const dev = (await host.connector().connectVolume(iscsiInfo()))._unsafeUnwrap();
    expect(dev.path).toBe("/dev/sda");
    const scans = host.tree.writesTo(/scan$/).map((w) => w.data);
    expect(scans).toEqual(["- - 0", "- - 0", "- - 0", "- - 0"]);
  });

  it("fails with DEVICE_NOT_FOUND naming LUN, target and portal when the LUN never appears, and logs out", async () => {
    lioHost();
    const e = (await host.connector({ timeouts: { deviceMs: 200 } }).connectVolume(iscsiInfo({ targetLun: 7 })))._unsafeUnwrapErr();
    expect(e.code).toBe("DEVICE_NOT_FOUND");
    expect(e.message).toContain(`LUN 7 of ${IQN} at ${P1}`);
    expect(host.sessions.size).toBe(0);
    expect(host.nodes.size).toBe(0);
    expect(e.details.rollback).toEqual({ removed: [`session ${P1},${IQN}`, `node ${P1},${IQN}`], leftBehind: [] });
  });

  it("rejects bad connection info before running anything", async () => {
    lioHost();
    const e = (await host.connector().connectVolume(iscsiInfo({ targetIqn: "-iqn;rm -rf /" })))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
    const e2 = (await host.connector().connectVolume(iscsiInfo({ authMethod: "CHAP" })))._unsafeUnwrapErr();
    expect(e2.code).toBe("INVALID_ARGUMENT");
    expect(host.fake.calls).toHaveLength(0);
  });
});

describe("IscsiConnector CHAP", () => {
  it("passes the secret only through CommandSpec.secrets and logs in", async () => {
    lioHost(CHAP);
    const dev = (await host.connector({ multipath: true }).connectVolume(chapInfo()))._unsafeUnwrap();
    expect(dev.path).toBe("/dev/dm-3");
    const pw = host.fake.calls.filter((c) => c.argv.includes("node.session.auth.password"));
    expect(pw).toHaveLength(2);
    for (const c of pw) expect(c.secrets).toEqual([SECRET]);
    for (const c of host.fake.calls.filter((c) => !c.argv.includes("node.session.auth.password"))) expect(c.argv.join(" ")).not.toContain(SECRET);
  });

  it("maps exit 24 to AUTH_FAILED 'CHAP rejected by target <iqn> at <portal>' without the secret anywhere", async () => {
    lioHost({ username: CHAP.username, password: "TheTargetsSecret1" });
    const logger = new MemoryLogger();
    const e = (await host.connector({ multipath: true }, { logger }).connectVolume(chapInfo()))._unsafeUnwrapErr();
    expect(e.code).toBe("AUTH_FAILED");
    expect(e.message).toMatch(new RegExp(`^CHAP rejected by target ${IQN.replace(/\./g, "\\.")} at 127\\.0\\.0\\.[12]:3260`));
    expect(e.details).toMatchObject({ target: IQN, exitCode: 24 });
    const everything = JSON.stringify([e.message, e.toJSON(), e.details, logger.lines]);
    expect(everything).not.toContain(SECRET);
    // Both paths failed: nothing of this call is left (sessions, node records).
    expect(host.nodes.size).toBe(0);
    expect(host.sessions.size).toBe(0);
  });
});
