import { afterEach, describe, expect, it } from "vitest";
import { FakeIscsiHost, type TimelineEntry } from "./fake-iscsi-host.js";
import { IQN, MemoryLogger, MiB, P1, P2, UDEV_WWID, WWID, iscsiInfo, multipathInfo } from "./helpers.js";

let host: FakeIscsiHost;
afterEach(() => host.cleanup());

function lioHost(): FakeIscsiHost {
  host = new FakeIscsiHost();
  host.addTarget(IQN, [P1, P2], { 0: { wwid: WWID, sizeBytes: 64 * MiB } });
  return host;
}

const isLogin = (portal: string) => (e: TimelineEntry): boolean => e.argv.includes("--login") && e.argv.includes(portal);
const seqOf = (tl: readonly TimelineEntry[], phase: "start" | "end", pred: (e: TimelineEntry) => boolean): number => tl.find((e) => e.phase === phase && pred(e))?.seq ?? -1;

describe("IscsiConnector multipath", () => {
  it("logs in to both portals in parallel, builds the map and returns /dev/dm-N with both paths", async () => {
    lioHost();
    host.loginDelayMs = 25;
    const dev = (await host.connector({ multipath: true }).connectVolume(multipathInfo()))._unsafeUnwrap();
    // Disk names depend on which login finished first; paths are in portal order.
    expect({ ...dev, paths: [...dev.paths].sort() }).toEqual({ type: "block", path: "/dev/dm-3", scsiWwn: UDEV_WWID, multipathId: UDEV_WWID, paths: ["/dev/sda", "/dev/sdb"], sizeBytes: 64 * MiB });
    const [d1, d2] = dev.paths;
    // Both logins started before either finished (ordering of recorded events, no wall clock).
    const tl = host.timeline;
    const firstEnd = Math.min(seqOf(tl, "end", isLogin(P1)), seqOf(tl, "end", isLogin(P2)));
    expect(seqOf(tl, "start", isLogin(P1))).toBeLessThan(firstEnd);
    expect(seqOf(tl, "start", isLogin(P2))).toBeLessThan(firstEnd);
    // find_multipaths strict (the fake's default): the paths are handed to multipathd at once;
    // the map is then awaited in sysfs, never through `multipathd show maps json`.
    expect(host.fake.commands().filter((a) => a[0] !== "iscsiadm")).toEqual([
      ["multipathd", "show", "status"],
      ["multipathd", "show", "config"],
      ["multipath", "-a", UDEV_WWID],
      ["multipathd", "add", "path", d1],
      ["multipathd", "add", "path", d2],
    ]);
  });

  it("waits for a map that appears late (within mapMs)", async () => {
    lioHost();
    host.mapDelayMs = 40;
    const dev = (await host.connector({ multipath: true }).connectVolume(multipathInfo()))._unsafeUnwrap();
    expect(dev.path).toBe("/dev/dm-3");
  });

  it("waits until every path of the map is running", async () => {
    lioHost();
    host.newDiskState = { state: "blocked", healAfterMs: 30 };
    const dev = (await host.connector({ multipath: true }).connectVolume(multipathInfo()))._unsafeUnwrap();
    expect([...dev.paths].sort()).toEqual(["/dev/sda", "/dev/sdb"]);
    for (const p of dev.paths) expect(host.tree.read(`/sys/block/${p.slice(5)}/device/state`).trim()).toBe("running");
  });

  it("degrades with a warning when one portal fails (not enforced) and cleans up that portal's node", async () => {
    lioHost();
    host.loginReplies.set(P2, { exitCode: 19, stderr: "iscsiadm: initiator reported error (19 - encountered non-retryable iSCSI login failure)\n" });
    const logger = new MemoryLogger();
    const dev = (await host.connector({ multipath: true }, { logger }).connectVolume(multipathInfo()))._unsafeUnwrap();
    expect(dev.path).toBe("/dev/dm-3");
    expect(dev.paths).toEqual(["/dev/sda"]);
    expect(logger.warnings()).toContain("path failed; continuing with the other paths (degraded multipath)");
    expect(host.nodes.has(`${IQN}|${P2}`)).toBe(false);
    expect(host.nodes.has(`${IQN}|${P1}`)).toBe(true);
  });

  it("fails with LOGIN_FAILED naming target and portal when multipath is enforced and one portal fails, removing everything it created", async () => {
    lioHost();
    host.loginReplies.set(P2, { exitCode: 19, stderr: "iscsiadm: initiator reported error (19 - encountered non-retryable iSCSI login failure)\n" });
    const e = (await host.connector({ multipath: true, enforceMultipath: true }).connectVolume(multipathInfo()))._unsafeUnwrapErr();
    expect(e.code).toBe("LOGIN_FAILED");
    expect(e.message).toContain(`${IQN} at ${P2}`);
    expect(e.message).toContain("non-retryable");
    expect(host.sessions.size).toBe(0);
    expect(host.nodes.size).toBe(0);
    expect(host.disks()).toEqual([]);
    expect(host.dms()).toEqual([]);
    expect(e.details.rollback).toMatchObject({ leftBehind: [] });
  });

  it("never hands out a single path when enforced and the map does not form: DEVICE_NOT_FOUND and full rollback", async () => {
    lioHost();
    host.mapNever = true;
    const e = (await host.connector({ multipath: true, enforceMultipath: true, timeouts: { mapMs: 50 } }).connectVolume(multipathInfo()))._unsafeUnwrapErr();
    expect(e.code).toBe("DEVICE_NOT_FOUND");
    expect(e.message).toContain("no multipath map");
    expect(host.disks()).toEqual([]);
    expect(host.sessions.size).toBe(0);
    const removed = (e.details.rollback as { removed: string[] }).removed;
    expect(removed).toEqual(expect.arrayContaining(["device /dev/sda", "device /dev/sdb", `session ${P1},${IQN}`, `session ${P2},${IQN}`]));
  });

  it("falls back to the first path with a warning when the map does not form and multipath is not enforced", async () => {
    lioHost();
    host.mapNever = true;
    const logger = new MemoryLogger();
    const dev = (await host.connector({ multipath: true, timeouts: { mapMs: 50 } }, { logger }).connectVolume(multipathInfo()))._unsafeUnwrap();
    expect(dev.paths).toEqual([dev.path]);
    expect(host.disks()).toContain(dev.path.replace("/dev/", ""));
    expect(dev.multipathId).toBeUndefined();
    expect(logger.warnings()).toContain("no multipath map formed: handing out a single path (multipath not enforced)");
  });

  it("attaches a single path when multipathd does not answer (not enforced) and refuses when enforced", async () => {
    lioHost();
    host.multipathd = false;
    const dev = (await host.connector({ multipath: true }).connectVolume(multipathInfo()))._unsafeUnwrap();
    expect(dev.path).toBe("/dev/sda");
    host.cleanup();
    lioHost();
    host.multipathd = false;
    const e = (await host.connector({ multipath: true, enforceMultipath: true }).connectVolume(multipathInfo()))._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(host.fake.commands()).toEqual([["multipathd", "show", "status"]]);
  });

  it("finds the other portals by sendtargets discovery when asked and the info lists one portal", async () => {
    lioHost();
    const dev = (await host.connector({ multipath: true, discoverPortals: true }).connectVolume(iscsiInfo()))._unsafeUnwrap();
    expect(dev.paths).toHaveLength(2);
    expect(host.fake.commands()[0]).toEqual(["iscsiadm", "-m", "discoverydb", "-t", "sendtargets", "-p", P1, "--discover"]);
  });

  it("refuses paths that show different LUNs (WWIDs differ) and rolls back", async () => {
    lioHost();
    host.targets.get(IQN)?.luns.set(1, { wwid: "naa.6001405ffffffffffffffffffffffff0", sizeBytes: 64 * MiB });
    const e = (await host.connector({ multipath: true }).connectVolume(multipathInfo({ targetLuns: [0, 1] })))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_STATE");
    expect(host.disks()).toEqual([]);
    expect(host.sessions.size).toBe(0);
  });

  it("is cancellable: an abort during the logins fails with ABORTED and undoes the logins", async () => {
    lioHost();
    host.loginDelayMs = 200;
    const ac = new AbortController();
    const pending = host.connector({ multipath: true }).connectVolume(multipathInfo(), { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    const e = (await pending)._unsafeUnwrapErr();
    expect(e.code).toBe("ABORTED");
    expect(host.sessions.size).toBe(0);
    expect(host.nodes.size).toBe(0);
  });
});
