/**
 * Attach and detach at the raw-tool floor (issue 15): no command multipathd does not need, waits
 * served from sysfs, one setup update per node, the two paths of a detach at once, no redundant
 * deletes — and still complete maps only, multipath enforced, nothing left behind.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FakeIscsiHost, type TimelineEntry } from "./fake-iscsi-host.js";
import { CHAP, IQN, MiB, P1, P2, SECRET, UDEV_WWID, WWID, chapInfo, iscsiInfo, multipathInfo } from "./helpers.js";

let host: FakeIscsiHost;
afterEach(() => host.cleanup());

function lioHost(chap?: typeof CHAP): FakeIscsiHost {
  host = new FakeIscsiHost();
  host.addTarget(IQN, [P1, P2], { 0: { wwid: WWID, sizeBytes: 64 * MiB } }, chap);
  return host;
}

const multipathCalls = (h: FakeIscsiHost): string[][] => h.fake.commands().filter((a) => a[0] === "multipath" || a[0] === "multipathd");
const startOf = (tl: readonly TimelineEntry[], pred: (a: readonly string[]) => boolean): number[] => tl.filter((e) => e.phase === "start" && pred(e.argv)).map((e) => e.seq);
const endOf = (tl: readonly TimelineEntry[], pred: (a: readonly string[]) => boolean): number[] => tl.filter((e) => e.phase === "end" && pred(e.argv)).map((e) => e.seq);

describe("attach: multipathd builds the map", () => {
  it("find_multipaths off: waits for multipathd's own map; no multipath -a, no add path, no show maps json", async () => {
    lioHost();
    host.findMultipaths = "off";
    const dev = (await host.connector({ multipath: true, enforceMultipath: true }).connectVolume(multipathInfo()))._unsafeUnwrap();
    expect(dev.path).toBe("/dev/dm-3");
    expect([...dev.paths].sort()).toEqual(["/dev/sda", "/dev/sdb"]);
    expect(multipathCalls(host)).toEqual([
      ["multipathd", "show", "status"],
      ["multipathd", "show", "config"],
    ]);
  });

  it("asks multipathd's policy while logging in, not after the disks are there", async () => {
    lioHost();
    host.findMultipaths = "off";
    host.loginDelayMs = 20;
    (await host.connector({ multipath: true, enforceMultipath: true }).connectVolume(multipathInfo()))._unsafeUnwrap();
    const isConfig = (a: readonly string[]): boolean => a.join(" ") === "multipathd show config";
    const isLogin = (a: readonly string[]): boolean => a.includes("--login");
    expect(startOf(host.timeline, isConfig)).toHaveLength(1);
    expect(Math.max(...startOf(host.timeline, isConfig))).toBeLessThan(Math.min(...endOf(host.timeline, isLogin)));
  });

  it("find_multipaths strict: whitelists the WWID and hands each path over at once", async () => {
    lioHost();
    host.findMultipaths = "strict";
    const dev = (await host.connector({ multipath: true }).connectVolume(multipathInfo()))._unsafeUnwrap();
    expect(dev.paths).toHaveLength(2);
    const [d1 = "", d2 = ""] = dev.paths;
    expect(multipathCalls(host)).toEqual([
      ["multipathd", "show", "status"],
      ["multipathd", "show", "config"],
      ["multipath", "-a", UDEV_WWID],
      ["multipathd", "add", "path", d1],
      ["multipathd", "add", "path", d2],
    ]);
  });

  it("falls back to handing the paths over when multipathd built nothing within mapFallbackMs", async () => {
    lioHost();
    host.findMultipaths = "off";
    host.ueventMapDelayMs = Number.POSITIVE_INFINITY; // its uevents are lost, say
    const dev = (await host.connector({ multipath: true, enforceMultipath: true }).connectVolume(multipathInfo()))._unsafeUnwrap();
    expect(dev.paths).toHaveLength(2);
    expect(multipathCalls(host).filter((a) => a[1] === "add" || a[1] === "-a")).toHaveLength(3);
  });

  it("a path that joins after the map appeared is still waited for: the map comes back complete", async () => {
    lioHost();
    host.findMultipaths = "off";
    host.joinDelayMs = 40;
    const dev = (await host.connector({ multipath: true, enforceMultipath: true }).connectVolume(multipathInfo()))._unsafeUnwrap();
    expect(dev.paths).toHaveLength(2);
    expect(host.tree.list("/sys/block/dm-3/slaves").sort()).toEqual(["sda", "sdb"]);
  });

  it("a path whose SCSI device is not running yet keeps the map incomplete until it runs", async () => {
    lioHost();
    host.findMultipaths = "off";
    host.newDiskState = { state: "blocked", healAfterMs: 40 };
    const dev = (await host.connector({ multipath: true, enforceMultipath: true }).connectVolume(multipathInfo()))._unsafeUnwrap();
    for (const p of dev.paths) expect(host.tree.read(`/sys/block/${p.slice(5)}/device/state`).trim()).toBe("running");
  });

  it("asks multipathd show status and show config once per connector", async () => {
    lioHost();
    host.findMultipaths = "off";
    const c = host.connector({ multipath: true });
    for (let i = 0; i < 3; i++) {
      const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
      (await c.disconnectVolume(multipathInfo(), dev))._unsafeUnwrap();
    }
    expect(multipathCalls(host).filter((a) => a[1] === "show")).toEqual([
      ["multipathd", "show", "status"],
      ["multipathd", "show", "config"],
    ]);
  });

  it("sets a node up with one iscsiadm update (manual scan, CHAP, automatic startup), the secret redacted", async () => {
    lioHost(CHAP);
    host.findMultipaths = "off";
    (await host.connector({ multipath: true }).connectVolume(chapInfo()))._unsafeUnwrap();
    const updates = host.fake.calls.filter((c) => c.argv.includes("update"));
    expect(updates).toHaveLength(2); // one per portal
    for (const u of updates) {
      expect(u.argv.slice(7)).toEqual([
        "--op", "update",
        "-n", "node.session.scan", "-v", "manual",
        "-n", "node.session.auth.authmethod", "-v", "CHAP",
        "-n", "node.session.auth.username", "-v", CHAP.username,
        "-n", "node.session.auth.password", "-v", SECRET,
        "-n", "node.startup", "-v", "automatic",
      ]);
      expect(u.secrets).toEqual([SECRET]);
    }
  });
});

describe("detach at the floor", () => {
  it("removes both disks and logs out both sessions at the same time", async () => {
    lioHost();
    host.findMultipaths = "off";
    const c = host.connector({ multipath: true });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    host.logoutDelayMs = 20;
    host.tree.writes.length = 0;
    const report = (await c.disconnectVolume(multipathInfo(), dev))._unsafeUnwrap();
    expect(report.leftBehind).toEqual([]);
    // Both disks deleted (no `multipathd del path` once the map is gone), then both logouts at once.
    expect(host.tree.writes.filter((w) => w.path.endsWith("/device/delete"))).toHaveLength(2);
    expect(host.fake.commands().filter((a) => a[0] === "multipathd" && a[1] === "del")).toEqual([]);
    const isLogout = (a: readonly string[]): boolean => a.includes("--logout");
    const starts = startOf(host.timeline, isLogout);
    expect(starts).toHaveLength(2);
    expect(Math.max(...starts)).toBeLessThan(Math.min(...endOf(host.timeline, isLogout)));
    expect(host.disks()).toEqual([]);
    expect(host.sessions.size + host.nodes.size).toBe(0);
  });

  it("deletes one target's node records one at a time (two deletes at once race in iscsiadm)", async () => {
    lioHost();
    host.findMultipaths = "off";
    const c = host.connector({ multipath: true });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    host.deleteDelayMs = 20;
    (await c.disconnectVolume(multipathInfo(), dev))._unsafeUnwrap();
    const isDelete = (a: readonly string[]): boolean => a.includes("delete") && a[0] === "iscsiadm";
    const [s1 = -1, s2 = -1] = startOf(host.timeline, isDelete);
    const [e1 = -1] = endOf(host.timeline, isDelete);
    expect(e1).toBeLessThan(s2);
    expect(s1).toBeLessThan(e1);
  });

  it("8 LUNs detached at once run one node delete per portal, not one per LUN", async () => {
    host = new FakeIscsiHost();
    const shared = "iqn.2010-10.org.openstack:shared";
    const luns: Record<number, { wwid: string; sizeBytes: number }> = {};
    for (let l = 1; l <= 8; l++) luns[l] = { wwid: `naa.60000000000000000e000000005a000${l}`, sizeBytes: l * MiB };
    host.addTarget(shared, [P1], luns);
    const c = host.connector();
    const info = (l: number) => iscsiInfo({ volumeId: `lun${l}`, targetIqn: shared, targetLun: l });
    const devs = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(async (l) => (await c.connectVolume(info(l)))._unsafeUnwrap()));
    host.fake.clearCalls();
    const reports = await Promise.all(devs.map(async (d, i) => (await c.disconnectVolume(info(i + 1), d))._unsafeUnwrap()));
    expect(host.fake.commands().filter((a) => a.includes("delete"))).toHaveLength(1);
    expect(reports.flatMap((r) => r.removed).filter((r) => r.startsWith("node"))).toEqual([`node ${P1},${shared}`]);
    expect(host.nodes.size + host.sessions.size).toBe(0);
  });
});
