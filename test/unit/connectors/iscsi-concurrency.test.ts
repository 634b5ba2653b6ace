import { afterEach, describe, expect, it } from "vitest";
import { FakeIscsiHost, type TimelineEntry } from "./fake-iscsi-host.js";
import { IQN, MiB, P1, iscsiInfo } from "./helpers.js";

let host: FakeIscsiHost;
afterEach(() => host.cleanup());

const SHARED = "iqn.2010-10.org.openstack:shared";
const OTHER = "iqn.2010-10.org.openstack:volume-bbbb";
const PB = "127.0.0.9:3260";
const wwid = (n: number): string => `naa.60000000000000000e000000005a000${n}`;

function sharedHost(luns = 8): FakeIscsiHost {
  host = new FakeIscsiHost();
  const map: Record<number, { wwid: string; sizeBytes: number }> = {};
  for (let l = 1; l <= luns; l++) map[l] = { wwid: wwid(l), sizeBytes: l * MiB };
  host.addTarget(SHARED, [P1], map);
  return host;
}

const lunInfo = (lun: number) => iscsiInfo({ volumeId: `lun${lun}`, targetIqn: SHARED, targetLun: lun });
const logins = (h: FakeIscsiHost): string[][] => h.fake.commands().filter((a) => a.includes("--login"));
const endOf = (tl: readonly TimelineEntry[], pred: (a: readonly string[]) => boolean): number => tl.filter((e) => e.phase === "end" && pred(e.argv)).map((e) => e.seq).pop() ?? -1;

describe("IscsiConnector concurrency (keyed locks, never one global lock)", () => {
  it("attaches 8 LUNs of one target concurrently with one login, and detaches them concurrently with one logout", async () => {
    sharedHost();
    host.loginDelayMs = 20;
    const c = host.connector();
    const devs = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(async (l) => (await c.connectVolume(lunInfo(l)))._unsafeUnwrap()));
    expect(new Set(devs.map((d) => d.path)).size).toBe(8);
    expect(devs.map((d) => d.sizeBytes)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => n * MiB));
    expect(logins(host)).toHaveLength(1);
    const reports = await Promise.all(devs.map(async (d, i) => (await c.disconnectVolume(lunInfo(i + 1), d))._unsafeUnwrap()));
    expect(host.disks()).toEqual([]);
    expect(host.sessions.size).toBe(0);
    expect(host.fake.commands().filter((a) => a.includes("--logout"))).toHaveLength(1);
    // Exactly one report removed the session; the others kept it for the LUNs still attached.
    expect(reports.filter((r) => r.removed.some((x) => x.startsWith("session")))).toHaveLength(1);
    for (const r of reports) expect(r.leftBehind.every((l) => l.reason.startsWith("kept:"))).toBe(true);
  });

  it("never logs out a session a concurrent connect of another LUN is about to use", async () => {
    sharedHost(2);
    const c = host.connector();
    const first = (await c.connectVolume(lunInfo(1)))._unsafeUnwrap();
    // LUN 2's disk shows only after a few scans, so it is not yet visible in sysfs while LUN 1 detaches.
    host.scansNeeded.set(`${SHARED}|${P1}|2`, 6);
    const [second, report] = await Promise.all([c.connectVolume(lunInfo(2)), c.disconnectVolume(lunInfo(1), first)]);
    expect(second._unsafeUnwrap().sizeBytes).toBe(2 * MiB);
    // Kept because of the in-flight connect (its LUN was not in sysfs yet), and no second login.
    expect(report._unsafeUnwrap().leftBehind).toEqual([{ kind: "session", name: `${P1},${SHARED}`, reason: "kept: another attach on this host is using it (not an error)", expected: true }]);
    expect(logins(host)).toHaveLength(1);
    expect(host.sessions.size).toBe(1);
    expect(host.disks()).toHaveLength(1);
  });

  it("does not make a connect to one target wait for a slow login to another", async () => {
    sharedHost(1);
    host.addTarget(OTHER, [PB], { 0: { wwid: wwid(9), sizeBytes: 9 * MiB } });
    host.loginReplies.set(P1, { delayMs: 150 });
    const c = host.connector();
    const slow = c.connectVolume(lunInfo(1));
    const fast = (await c.connectVolume(iscsiInfo({ volumeId: "bbbb", targetIqn: OTHER, targetPortal: PB, targetLun: 0 })))._unsafeUnwrap();
    expect(fast.sizeBytes).toBe(9 * MiB);
    (await slow)._unsafeUnwrap();
    // The other target's whole connect (its login) ended before the slow login did.
    const tl = host.timeline;
    expect(endOf(tl, (a) => a.includes("--login") && a.includes(PB))).toBeLessThan(endOf(tl, (a) => a.includes("--login") && a.includes(P1)));
  });

  it("serializes connect and disconnect of the same LUN", async () => {
    sharedHost(1);
    const c = host.connector();
    const dev = (await c.connectVolume(lunInfo(1)))._unsafeUnwrap();
    const [report, again] = await Promise.all([c.disconnectVolume(lunInfo(1), dev), c.connectVolume(lunInfo(1))]);
    expect(report._unsafeUnwrap().removed).toContain(`session ${P1},${SHARED}`);
    // The reconnect ran after the disconnect finished: it logged in again and found its disk.
    expect(again._unsafeUnwrap().sizeBytes).toBe(MiB);
    expect(logins(host)).toHaveLength(2);
    expect(host.sessions.size).toBe(1);
  });

  it("keeps a session of an unrelated volume on another target untouched", async () => {
    sharedHost(1);
    host.addTarget(IQN, [P1], { 0: { wwid: wwid(7), sizeBytes: 7 * MiB } });
    const c = host.connector();
    const a = (await c.connectVolume(lunInfo(1)))._unsafeUnwrap();
    const b = (await c.connectVolume(iscsiInfo()))._unsafeUnwrap();
    (await c.disconnectVolume(lunInfo(1), a))._unsafeUnwrap();
    expect(host.sessions.has(`${IQN}|${P1}`)).toBe(true);
    expect(host.disks()).toEqual([b.path.replace("/dev/", "")]);
  });
});
