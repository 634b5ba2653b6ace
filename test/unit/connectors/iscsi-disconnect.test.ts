import { afterEach, describe, expect, it } from "vitest";
import type { AttachedDevice, DisconnectReport } from "../../../src/core/records.js";
import { EventBus, type OperationEndEvent } from "../../../src/core/events.js";
import { FakeIscsiHost } from "./fake-iscsi-host.js";
import { IQN, MiB, P1, P2, UDEV_WWID, WWID, iscsiInfo, multipathInfo } from "./helpers.js";

let host: FakeIscsiHost;
afterEach(() => host.cleanup());

function lioHost(): FakeIscsiHost {
  host = new FakeIscsiHost();
  host.addTarget(IQN, [P1, P2], { 0: { wwid: WWID, sizeBytes: 64 * MiB } });
  return host;
}

const node = (portal: string, ...rest: string[]): string[] => ["iscsiadm", "-m", "node", "-T", IQN, "-p", portal, ...rest];

describe("IscsiConnector.disconnectVolume", () => {
  it("flushes the map, removes map, paths and sessions in order and leaves the host clean", async () => {
    lioHost();
    const events = new EventBus();
    const ends: OperationEndEvent[] = [];
    events.on((e) => e.type === "operation:end" && ends.push(e));
    const c = host.connector({ multipath: true }, { events });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    host.fake.clearCalls();
    host.tree.writes.length = 0;
    const report = (await c.disconnectVolume(multipathInfo(), dev))._unsafeUnwrap();
    const [d1 = "", d2 = ""] = dev.paths; // in portal order
    expect(report.leftBehind).toEqual([]);
    expect(report.removed[0]).toBe(`map ${UDEV_WWID}`);
    expect([...report.removed].sort()).toEqual([`device ${d1}`, `device ${d2}`, `map ${UDEV_WWID}`, `node ${P1},${IQN}`, `node ${P2},${IQN}`, `session ${P1},${IQN}`, `session ${P2},${IQN}`].sort());
    const cmds = host.fake.commands();
    expect(cmds.slice(0, 2)).toEqual([
      ["blockdev", "--flushbufs", "/dev/dm-3"],
      ["multipath", "-f", UDEV_WWID],
    ]);
    // Then both paths (no `multipathd del path`: the map is gone, multipathd drops them on their
    // remove uevents), then both sessions, each logged out and its record deleted — no update first.
    for (const p of [P1, P2]) {
      expect(cmds.filter((a) => a[0] === "iscsiadm" && a[6] === p)).toEqual([node(p, "--logout"), node(p, "--op", "delete")]);
    }
    expect(cmds).toHaveLength(6);
    expect(host.tree.writes.map((w) => w.path).sort()).toEqual([`/sys/block${d1.slice(4)}/device/delete`, `/sys/block${d2.slice(4)}/device/delete`].sort());
    expect(host.disks()).toEqual([]);
    expect(host.dms()).toEqual([]);
    expect(host.sessions.size + host.nodes.size).toBe(0);
    // Per-phase timings are published with the end event.
    const end = ends.find((e) => e.operation === "disconnectVolume");
    expect(end?.phases.map((p) => p.name).sort()).toEqual(["flush", "logout", "logout", "remove-device", "remove-device", "remove-map"]);
  });

  it("flushes only the single path that was handed out", async () => {
    lioHost();
    const c = host.connector();
    const dev = (await c.connectVolume(iscsiInfo()))._unsafeUnwrap();
    host.fake.clearCalls();
    (await c.disconnectVolume(iscsiInfo(), dev))._unsafeUnwrap();
    expect(host.fake.commandsOf("blockdev")).toEqual([["blockdev", "--flushbufs", "/dev/sda"]]);
    expect(host.fake.commandsOf("multipathd")).toEqual([]);
  });

  it("removes a map multipathd built on its own (find_multipaths no) under a single-path attach", async () => {
    lioHost();
    host.findMultipaths = "off";
    const c = host.connector();
    const dev = (await c.connectVolume(iscsiInfo()))._unsafeUnwrap();
    expect(dev.path).toBe("/dev/sda");
    expect(host.dms()).toEqual(["dm-3"]);
    const report = (await c.disconnectVolume(iscsiInfo(), dev))._unsafeUnwrap();
    expect(report.removed).toEqual([`map ${UDEV_WWID}`, "device /dev/sda", `session ${P1},${IQN}`, `node ${P1},${IQN}`]);
    expect(host.dms()).toEqual([]);
  });

  it("retries multipath -f while the map is busy", async () => {
    lioHost();
    const c = host.connector({ multipath: true });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    host.flushBusy = 2;
    (await c.disconnectVolume(multipathInfo(), dev))._unsafeUnwrap();
    expect(host.fake.commandsOf("multipath").filter((a) => a[1] === "-f")).toHaveLength(3);
  });

  it("keeps a session other LUNs of the target still use and says so (not an error)", async () => {
    lioHost();
    host.targets.get(IQN)?.luns.set(2, { wwid: "naa.60000000000000000e000000005a0002", sizeBytes: 48 * MiB });
    host.preLogin(IQN, P1, [2]); // someone else's LUN 2 on the shared session
    const c = host.connector();
    const dev = (await c.connectVolume(iscsiInfo()))._unsafeUnwrap();
    expect(host.fake.commands().some((a) => a.includes("--login"))).toBe(false);
    const report = (await c.disconnectVolume(iscsiInfo(), dev))._unsafeUnwrap();
    expect(report.removed).toEqual([`device ${dev.path}`]);
    expect(report.leftBehind).toEqual([{ kind: "session", name: `${P1},${IQN}`, reason: "kept: in use by LUN 2 of this target (not an error)", expected: true }]);
    expect(host.fake.commands().some((a) => a.includes("--logout"))).toBe(false);
    expect(host.disks()).toEqual(["sda"]); // LUN 2's disk is untouched
  });

  it("refuses to go on after a failed flush: DETACH_INCOMPLETE with the report, nothing removed", async () => {
    lioHost();
    const c = host.connector({ multipath: true });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    host.flushFails = true;
    const e = (await c.disconnectVolume(multipathInfo(), dev))._unsafeUnwrapErr();
    expect(e.code).toBe("DETACH_INCOMPLETE");
    const report = e.details.report as DisconnectReport;
    expect(report.removed).toEqual([]);
    expect(report.leftBehind.map((l) => l.kind)).toEqual(["map", "device", "device", "session", "node", "session", "node"]);
    expect(report.leftBehind.every((l) => !l.expected && !l.reason.startsWith("kept:"))).toBe(true);
    expect(host.disks().sort()).toEqual(["sda", "sdb"]);
    // ignoreErrors: same report, as a value
    const r = (await c.disconnectVolume(multipathInfo(), dev, { ignoreErrors: true }))._unsafeUnwrap();
    expect(r.leftBehind.length).toBe(7);
  });

  it("tears down a dead target with force: queueing disabled, flush failure tolerated, everything removed", async () => {
    lioHost();
    const c = host.connector({ multipath: true });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    host.flushFails = true;
    const report = (await c.disconnectVolume(multipathInfo(), dev, { force: true }))._unsafeUnwrap();
    expect(host.fake.commands()).toContainEqual(["multipathd", "disablequeueing", "map", UDEV_WWID]);
    expect(report.leftBehind).toEqual([]);
    expect(host.disks()).toEqual([]);
    expect(host.sessions.size).toBe(0);
  });

  it("reports a device that will not go away as DETACH_INCOMPLETE and keeps its session", async () => {
    lioHost();
    const c = host.connector({ timeouts: { removeMs: 40 } });
    const dev = (await c.connectVolume(iscsiInfo()))._unsafeUnwrap();
    host.stuckDisks.add("sda");
    const e = (await c.disconnectVolume(iscsiInfo(), dev))._unsafeUnwrapErr();
    expect(e.code).toBe("DETACH_INCOMPLETE");
    expect(e.details.report).toEqual({
      removed: [],
      leftBehind: [
        { kind: "device", name: "/dev/sda", reason: expect.stringContaining("still present after its SCSI delete") as string, expected: false },
        { kind: "session", name: `${P1},${IQN}`, reason: "LUN 0 of this volume is still present on it", expected: false },
        { kind: "node", name: `${P1},${IQN}`, reason: "not removed: its session is still logged in", expected: false },
      ],
    });
    expect(host.sessions.size).toBe(1);
    host.stuckDisks.clear();
  });

  it("skips a disk whose WWID is another volume's (a reused LUN id) and never deletes it", async () => {
    lioHost();
    const c = host.connector();
    const dev = (await c.connectVolume(iscsiInfo()))._unsafeUnwrap();
    const stale: AttachedDevice = { ...dev, scsiWwn: "36001405000000000000000000000beef" };
    const report = (await c.disconnectVolume(iscsiInfo(), stale))._unsafeUnwrap();
    expect(host.disks()).toEqual(["sda"]);
    expect(report.removed).toEqual([]);
    expect(report.leftBehind).toEqual([{ kind: "session", name: `${P1},${IQN}`, reason: "kept: in use by LUN 0 (another volume: WWID differs) of this target (not an error)", expected: true }]);
  });

  it("is idempotent: disconnecting again finds nothing and runs nothing", async () => {
    lioHost();
    const c = host.connector({ multipath: true });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    (await c.disconnectVolume(multipathInfo(), dev))._unsafeUnwrap();
    host.fake.clearCalls();
    const again = (await c.disconnectVolume(multipathInfo(), dev))._unsafeUnwrap();
    expect(again).toEqual({ removed: [], leftBehind: [] });
    expect(host.fake.commands()).toEqual([]);
  });

  it("a node record left without a session by another process is still deleted", async () => {
    lioHost();
    const c = host.connector({ multipath: true });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    (await c.disconnectVolume(multipathInfo(), dev))._unsafeUnwrap();
    // A process that crashed left its records (no session); a fresh connector cleans them.
    for (const p of [P1, P2]) host.nodes.set(`${IQN}|${p}`, new Map());
    host.fake.clearCalls();
    const report = (await host.connector({ multipath: true }).disconnectVolume(multipathInfo(), dev))._unsafeUnwrap();
    expect(host.fake.commands().map((a) => a.join(" ")).sort()).toEqual([node(P1, "--op", "delete").join(" "), node(P2, "--op", "delete").join(" ")]);
    expect([...report.removed].sort()).toEqual([`node ${P1},${IQN}`, `node ${P2},${IQN}`]);
    expect(report.leftBehind).toEqual([]);
  });
});

describe("IscsiConnector.extendVolume", () => {
  it("rescans every path, resizes the map and returns the new size", async () => {
    lioHost();
    const c = host.connector({ multipath: true });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    const lun = host.targets.get(IQN)?.luns.get(0);
    if (lun) lun.sizeBytes = 96 * MiB;
    host.tree.writes.length = 0;
    host.fake.clearCalls();
    expect((await c.extendVolume(multipathInfo(), dev))._unsafeUnwrap()).toBe(96 * MiB);
    expect(host.tree.writes.map((w) => w.path).sort()).toEqual(["/sys/bus/scsi/drivers/sd/0:0:0:0/rescan", "/sys/bus/scsi/drivers/sd/1:0:0:0/rescan"]);
    expect(host.fake.commands()).toEqual([["multipathd", "resize", "map", UDEV_WWID]]);
  });

  it("returns the path's size for a single path, and DEVICE_NOT_FOUND when nothing is attached", async () => {
    lioHost();
    const c = host.connector();
    const dev = (await c.connectVolume(iscsiInfo()))._unsafeUnwrap();
    expect((await c.extendVolume(iscsiInfo(), dev))._unsafeUnwrap()).toBe(64 * MiB);
    (await c.disconnectVolume(iscsiInfo(), dev))._unsafeUnwrap();
    expect((await c.extendVolume(iscsiInfo(), dev))._unsafeUnwrapErr().code).toBe("DEVICE_NOT_FOUND");
  });
});
