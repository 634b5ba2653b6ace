/**
 * Detach of a map held open for a moment (issue 14, item 9): udev's probe (blkid, kpartx) of a
 * device whose last writer just closed it, stuck on a cut path until the path fails, makes
 * `multipath -f` answer "map in use". The detach must wait for it (settle udev, try again within
 * `timeouts.removeMs`), report `kept:` only for what is kept on purpose, and never leave a map
 * without paths behind.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { DisconnectReport } from "../../../src/core/records.js";
import { FakeIscsiHost } from "./fake-iscsi-host.js";
import { IQN, MiB, P1, P2, UDEV_WWID, WWID, multipathInfo } from "./helpers.js";

let host: FakeIscsiHost;
afterEach(() => host.cleanup());

function lioHost(): FakeIscsiHost {
  host = new FakeIscsiHost();
  host.addTarget(IQN, [P1, P2], { 0: { wwid: WWID, sizeBytes: 64 * MiB } });
  return host;
}

const flushes = (h: FakeIscsiHost): number => h.fake.commandsOf("multipath").filter((a) => a[1] === "-f").length;

/** Nothing of the volume is left on the host. */
function expectClean(h: FakeIscsiHost): void {
  expect(h.dms()).toEqual([]);
  expect(h.disks()).toEqual([]);
  expect(h.sessions.size).toBe(0);
  expect(h.nodes.size).toBe(0);
}

/** `kept:` and `expected: true` go together, both ways. */
function expectHonest(report: DisconnectReport): void {
  for (const l of report.leftBehind) expect({ ...l, kept: l.reason.startsWith("kept:") }).toMatchObject({ kept: l.expected });
}

describe("detach of a map held for a moment", () => {
  it("settles udev and tries again while udev's probe holds the map, then removes everything", async () => {
    lioHost();
    const c = host.connector({ multipath: true });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    host.fake.clearCalls();
    host.holdMapUntilSettle = true;
    const report = (await c.disconnectVolume(multipathInfo(), dev))._unsafeUnwrap();
    expect(report.leftBehind).toEqual([]);
    expect(report.removed[0]).toBe(`map ${UDEV_WWID}`);
    expect(host.settles).toBeGreaterThan(0);
    // The first try is not preceded by a settle (the fast path runs no extra command).
    const cmds = host.fake.commands();
    expect(cmds.findIndex((a) => a[0] === "multipath" && a[1] === "-f")).toBeLessThan(cmds.findIndex((a) => a[0] === "udevadm"));
    expectClean(host);
  });

  it("keeps trying for as long as timeouts.removeMs allows, not a fixed number of times", async () => {
    lioHost();
    const c = host.connector({ multipath: true, timeouts: { removeMs: 5000 } });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    host.flushBusy = 12; // more than the old 5 attempts
    const report = (await c.disconnectVolume(multipathInfo(), dev))._unsafeUnwrap();
    expect(report.leftBehind).toEqual([]);
    expect(flushes(host)).toBe(13);
    expectClean(host);
  });

  it("a map that stays in use: DETACH_INCOMPLETE, its disks are not reported as kept, and nothing reads `kept:` but what is expected", async () => {
    lioHost();
    const c = host.connector({ multipath: true, timeouts: { removeMs: 60 } });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    host.flushBusy = Number.POSITIVE_INFINITY;
    const e = (await c.disconnectVolume(multipathInfo(), dev))._unsafeUnwrapErr();
    expect(e.code).toBe("DETACH_INCOMPLETE");
    const report = e.details.report as DisconnectReport;
    expect(report.removed).toEqual([]);
    expect(report.leftBehind.map((l) => [l.kind, l.expected])).toEqual([
      ["map", false],
      ["device", false],
      ["device", false],
      ["session", false],
      ["node", false],
      ["session", false],
      ["node", false],
    ]);
    expect(report.leftBehind[0]?.reason).toContain("map in use");
    expect(report.leftBehind[1]?.reason).toBe(`not removed: its multipath map ${UDEV_WWID} could not be removed`);
    expectHonest(report);
    // Nothing was torn out from under the map.
    expect(host.disks().sort()).toEqual(["sda", "sdb"]);
    expect(host.pathlessMaps()).toEqual([]);
  });

  it("force with both portals down waits for the map instead of leaving it without paths", async () => {
    lioHost();
    const c = host.connector({ multipath: true, timeouts: { removeMs: 5000 } });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    host.flushFails = true;
    host.flushBusy = 8; // the probe is stuck on the dead paths for a while
    const report = (await c.disconnectVolume(multipathInfo(), dev, { force: true }))._unsafeUnwrap();
    expect(report.leftBehind).toEqual([]);
    // The map went first, while it still had its paths.
    expect(report.removed[0]).toBe(`map ${UDEV_WWID}`);
    expect(host.pathlessMaps()).toEqual([]);
    expectClean(host);
  });

  it("force: a map held until its paths are gone is removed after its disks, never left pathless", async () => {
    lioHost();
    const c = host.connector({ multipath: true, timeouts: { removeMs: 60 } });
    const dev = (await c.connectVolume(multipathInfo()))._unsafeUnwrap();
    host.flushFails = true;
    host.holdMapWhilePaths = true;
    const report = (await c.disconnectVolume(multipathInfo(), dev, { force: true }))._unsafeUnwrap();
    expect(report.leftBehind).toEqual([]);
    expect(report.removed).toContain(`map ${UDEV_WWID}`);
    expect(report.removed.indexOf(`map ${UDEV_WWID}`)).toBeGreaterThan(report.removed.indexOf("device /dev/sdb"));
    expect(host.pathlessMaps()).toEqual([]);
    expectClean(host);
  });
});
