/**
 * Many LUNs of one target attached at once (issue 15): the connects needing one session join one
 * login instead of queueing on the session lock one after the other, and the LUN scans of a
 * session go through one queue — one writer per SCSI host, each LUN written once — instead of
 * sixteen concurrent writes to the host's `scan` file.
 */
import { realpathSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { okAsync } from "neverthrow";
import { createIscsiConnector } from "../../../src/connectors/iscsi/iscsi-connector.js";
import { InProcessLocks, type LockBackend } from "../../../src/core/locks.js";
import type { HostFs } from "../../../src/host/host-fs.js";
import type { CommandRunner } from "../../../src/exec/runner.js";
import { FakeIscsiHost } from "./fake-iscsi-host.js";
import { MiB, P1, P2, iscsiInfo } from "./helpers.js";

let host: FakeIscsiHost;
afterEach(() => host.cleanup());

const MANY = "iqn.2010-10.org.openstack:many";
const wwid = (n: number): string => `naa.6001405000000000000000000000${String(n).padStart(4, "0")}`;

function manyHost(luns: number): FakeIscsiHost {
  host = new FakeIscsiHost();
  const map: Record<number, { wwid: string; sizeBytes: number }> = {};
  for (let l = 0; l < luns; l++) map[l] = { wwid: wwid(l), sizeBytes: (l + 1) * MiB };
  host.addTarget(MANY, [P1, P2], map);
  host.findMultipaths = "off";
  return host;
}

const lunInfo = (lun: number) => iscsiInfo({ volumeId: `lun${lun}`, targetIqn: MANY, targetLun: lun, targetPortals: [P1, P2], targetIqns: [MANY, MANY], targetLuns: [lun, lun] });

/** Scan writes as the kernel sees them: each held a few ms (the kernel probing the LUN), with the most at once per host. */
interface ScanWatch {
  readonly lines: { host: string; line: string }[];
  readonly mostAtOnce: Map<string, number>;
}

/** The host's files with every write to a `scan` file (or a disk's `delete`) recorded and held for `holdMs`. */
function watchScans(fs: HostFs, holdMs: number, what: "scan" | "delete" = "scan"): { fs: HostFs; watch: ScanWatch } {
  const watch: ScanWatch = { lines: [], mostAtOnce: new Map() };
  const now = new Map<string, number>();
  const hostOf = (path: string): string | undefined => {
    if (what === "scan") return /^\/sys\/class\/scsi_host\/(host\d+)\/scan$/.exec(path)?.[1];
    const disk = /^\/sys\/block\/(sd[a-z]+)\/device\/delete$/.exec(path)?.[1];
    if (disk === undefined) return undefined;
    const hctl = realpathSync(`${host.tree.root}/sys/block/${disk}/device`);
    return `host${/\/(\d+):\d+:\d+:\d+$/.exec(hctl)?.[1] ?? "?"}`;
  };
  const writeFile: HostFs["writeFile"] = (path, data) => {
    const scsiHost = hostOf(path);
    if (scsiHost === undefined) return fs.writeFile(path, data);
    watch.lines.push({ host: scsiHost, line: what === "scan" ? data : path });
    now.set(scsiHost, (now.get(scsiHost) ?? 0) + 1);
    watch.mostAtOnce.set(scsiHost, Math.max(watch.mostAtOnce.get(scsiHost) ?? 0, now.get(scsiHost) ?? 0));
    return okAsync(undefined)
      .andThen(() => okAsync(new Promise((r) => setTimeout(r, holdMs))))
      .andThen(() => fs.writeFile(path, data))
      .map(() => {
        now.set(scsiHost, (now.get(scsiHost) ?? 1) - 1);
      });
  };
  return { fs: { ...fs, writeFile }, watch };
}

/** Session-lock acquisitions, by key. */
function countingLocks(): { locks: LockBackend; sessionAcquires: string[] } {
  const inner = new InProcessLocks();
  const sessionAcquires: string[] = [];
  return {
    sessionAcquires,
    locks: {
      acquire: (key, signal) => {
        if (key.startsWith("iscsi-session:")) sessionAcquires.push(key);
        return inner.acquire(key, signal);
      },
    },
  };
}

function connectorOf(h: FakeIscsiHost, fs: HostFs, locks: LockBackend, runner: CommandRunner = h.runner) {
  return createIscsiConnector(
    { multipath: true, enforceMultipath: true, poll: { intervalMs: 2, minMs: 1, maxMs: 800 }, timeouts: { deviceMs: 4000, mapMs: 4000, removeMs: 4000, mapFallbackMs: 50 } },
    { runner, hostFs: fs, resolveHost: (x) => Promise.resolve([x]), locks },
  )._unsafeUnwrap();
}

describe("16 LUNs of one target attached at once", () => {
  it("join one login per portal and write each LUN's scan once per session, one write at a time per SCSI host", async () => {
    manyHost(16);
    host.loginDelayMs = 20;
    const { fs, watch } = watchScans(host.fs, 3);
    const { locks, sessionAcquires } = countingLocks();
    const c = connectorOf(host, fs, locks);
    const luns = Array.from({ length: 16 }, (_, i) => i);

    const devs = await Promise.all(luns.map(async (l) => (await c.connectVolume(lunInfo(l)))._unsafeUnwrap()));

    expect(devs.map((d) => d.sizeBytes)).toEqual(luns.map((l) => (l + 1) * MiB));
    expect(new Set(devs.map((d) => d.path)).size).toBe(16);
    for (const d of devs) expect(d.paths).toHaveLength(2);
    // One login per portal, and the session lock taken once per portal — not once per LUN and portal.
    expect(host.fake.commands().filter((a) => a.includes("--login"))).toHaveLength(2);
    expect(sessionAcquires.sort()).toEqual([`iscsi-session:${MANY}@${P1}`, `iscsi-session:${MANY}@${P2}`]);
    // Each LUN scanned once on each of the two sessions (SCSI hosts), and never two writes at once on one host.
    expect(watch.lines).toHaveLength(32);
    const hosts = [...new Set(watch.lines.map((w) => w.host))];
    expect(hosts).toHaveLength(2);
    for (const h of hosts) {
      const scanned = watch.lines.filter((w) => w.host === h).map((w) => Number(w.line.trim().split(/\s+/)[2]));
      expect(scanned.sort((a, b) => a - b)).toEqual(luns);
      expect(watch.mostAtOnce.get(h)).toBe(1);
    }

    // Nothing of ours is written after a connect returned: a detach of everything leaves nothing.
    const reports = await Promise.all(devs.map(async (d, l) => (await c.disconnectVolume(lunInfo(l), d))._unsafeUnwrap()));
    expect(reports.flatMap((r) => r.leftBehind).filter((x) => !x.expected)).toEqual([]);
    expect(host.disks()).toEqual([]);
    expect(host.sessions.size).toBe(0);
    expect(host.nodes.size).toBe(0);
  }, 30_000);

  it("detached at once: each disk deleted once, one delete at a time per SCSI host, nothing left", async () => {
    manyHost(16);
    const { fs, watch } = watchScans(host.fs, 3, "delete");
    const { locks, sessionAcquires } = countingLocks();
    const c = connectorOf(host, fs, locks);
    const luns = Array.from({ length: 16 }, (_, i) => i);
    const devs = await Promise.all(luns.map(async (l) => (await c.connectVolume(lunInfo(l)))._unsafeUnwrap()));
    const disks = devs.flatMap((d) => d.paths.map((p) => p.replace("/dev/", "")));
    sessionAcquires.length = 0;

    const reports = await Promise.all(devs.map(async (d, l) => (await c.disconnectVolume(lunInfo(l), d))._unsafeUnwrap()));

    expect(reports.flatMap((r) => r.leftBehind).filter((x) => !x.expected)).toEqual([]);
    expect(watch.lines.map((w) => w.line).sort()).toEqual(disks.map((d) => `/sys/block/${d}/device/delete`).sort());
    const hosts = [...new Set(watch.lines.map((w) => w.host))];
    expect(hosts).toHaveLength(2);
    for (const h of hosts) expect(watch.mostAtOnce.get(h)).toBe(1);
    // A detach whose session still serves another LUN's disk keeps it without queueing on the
    // session lock: fewer lock rounds than one per LUN and portal.
    expect(sessionAcquires.length).toBeGreaterThanOrEqual(2);
    expect(sessionAcquires.length).toBeLessThan(32);
    // No `multipathd del path` (the maps went first), one logout and one record delete per portal.
    expect(host.fake.commands().filter((a) => a[0] === "multipathd" && a[1] === "del")).toEqual([]);
    expect(host.fake.commands().filter((a) => a.includes("--logout"))).toHaveLength(2);
    expect(host.fake.commands().filter((a) => a.includes("delete") && a[0] === "iscsiadm")).toHaveLength(2);
    expect(host.disks()).toEqual([]);
    expect(host.dms()).toEqual([]);
    expect(host.sessions.size + host.nodes.size).toBe(0);
  }, 30_000);

  it("a connect that joined a login whose own operation was cancelled logs in itself", async () => {
    manyHost(2);
    host.loginDelayMs = 30;
    const leader = new AbortController();
    // Cancel the first connect once its login runs (the second has joined it by then).
    const runner: CommandRunner = {
      description: "aborts the first login",
      run: (spec) => {
        const out = host.runner.run(spec);
        if (spec.argv.includes("--login") && !leader.signal.aborted) queueMicrotask(() => leader.abort());
        return out;
      },
    };
    const { locks } = countingLocks();
    const c = connectorOf(host, host.fs, locks, runner);
    const first = c.connectVolume(lunInfo(0), { signal: leader.signal });
    const second = c.connectVolume(lunInfo(1));
    expect((await first)._unsafeUnwrapErr().code).toBe("ABORTED");
    const dev = (await second)._unsafeUnwrap();
    expect(dev.sizeBytes).toBe(2 * MiB);
    expect(dev.paths).toHaveLength(2);
    // Only LUN 1 is attached; the cancelled connect left nothing of its own.
    expect(host.disks()).toHaveLength(2);
    (await c.disconnectVolume(lunInfo(1), dev))._unsafeUnwrap();
    expect(host.disks()).toEqual([]);
    expect(host.sessions.size).toBe(0);
    expect(host.nodes.size).toBe(0);
  });
});
