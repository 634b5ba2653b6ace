/**
 * The iSCSI and local connectors against a REAL kernel initiator (open-iscsi 2.1.8), dm-multipath
 * (multipath-tools 0.9.4, find_multipaths no), LIO and tgt targets, exported by the real LVM driver.
 * Runs INSIDE the storage lab guest:
 *
 *   VOLKIT_LAB_DISK_GIB=10 npx tsx lab/run.ts -- npx vitest run --project lab test/lab/iscsi-connector.lab.test.ts
 *
 * Prints a timing summary (connect/disconnect per phase, path failure stall) at the end.
 */
import { wrapDriver } from "../../src/drivers/backend.js";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIscsiConnector, type IscsiConnector } from "../../src/connectors/iscsi/index.js";
import { createLocalConnector } from "../../src/connectors/local/index.js";
import type { ConnectionInfo, DisconnectReport, HostPropertiesInput, Volume } from "../../src/core/records.js";
import { EventBus, type OperationEndEvent } from "../../src/core/events.js";
import type { VolumeBackend } from "../../src/drivers/backend.js";
import { createLvmDriver } from "../../src/drivers/lvm/index.js";
import { deviceSize, lab, must, pattern, readAt, sh, sha256, uid, writeAt } from "./helpers.js";
import { NODE_DB_LOCK, corruptRecords, cutPortal, expectClean, mapPaths, pathVia, pathlessMaps, sessionsOf, until } from "./iscsi-host-state.js";
import { MemoryLogger } from "../unit/connectors/helpers.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const LIO_PORTALS = lab.portals.map((p) => `${p}:${lab.lioPort}`);
const TGT_PORTALS = lab.portals.map((p) => `${p}:${lab.tgtPort}`);
const WAIT = { deviceMs: 90_000, mapMs: 90_000, removeMs: 90_000 };
const deadline = (s = 240): { deadline: number } => ({ deadline: Date.now() + s * 1000 });

// ------------------------------------------------------------------ timings
const events = new EventBus();
const timings: { label: string; op: string; ms: number; phases: string }[] = [];
let label = "";
events.on((e) => {
  if (e.type !== "operation:end" || !["connectVolume", "disconnectVolume", "extendVolume"].includes(e.operation)) return;
  const end: OperationEndEvent = e;
  timings.push({ label, op: end.operation, ms: Math.round(end.durationMs), phases: end.phases.map((p) => `${p.name}=${Math.round(p.durationMs)}`).join(" ") });
});
const notes: string[] = [];

// ------------------------------------------------------------------ fixtures
let lio: VolumeBackend;
let tgt: VolumeBackend;
let props: HostPropertiesInput;
const cleanup: (() => PromiseLike<unknown>)[] = [];

function connector(multipath: boolean, enforce = multipath): IscsiConnector {
  return createIscsiConnector({ multipath, enforceMultipath: enforce, timeouts: WAIT }, { events })._unsafeUnwrap();
}

async function exported(backend: VolumeBackend, sizeGiB = 1): Promise<{ volume: Volume; info: ConnectionInfo }> {
  const v = await must(backend.createVolume({ id: uid("c"), sizeGiB }));
  cleanup.push(async () => {
    await must(backend.removeExport(v));
    await must(backend.deleteVolume(v));
  });
  const update = await must(backend.createExport(v, props));
  const volume: Volume = { ...v, ...update };
  const info = await must(backend.initializeConnection(volume, props));
  return { volume, info };
}

beforeAll(async () => {
  lio = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: lab.vgThick, lvmType: "default", volumeClear: "none", target: { helper: "lio", portals: LIO_PORTALS, chap: true } })._unsafeUnwrap());
  tgt = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: lab.vgThick, lvmType: "default", volumeClear: "none", target: { helper: "tgt", portals: TGT_PORTALS, chap: true, volumesDir: lab.tgtVolumesDir } })._unsafeUnwrap());
  await must(lio.setup());
  await must(tgt.setup());
  props = await must(connector(true).getHostProperties());
});

afterAll(async () => {
  label = "cleanup";
  for (const fn of cleanup.reverse()) {
    try {
      await fn();
    } catch (e) {
      console.error("cleanup:", e);
    }
  }
  console.log(`\n==== iSCSI connector lab timings (ms) ====\n${timings.filter((t) => t.label !== "cleanup").map((t) => `${t.label.padEnd(28)} ${t.op.padEnd(17)} ${String(t.ms).padStart(6)}  ${t.phases}`).join("\n")}\n${notes.join("\n")}\n`);
});

describe("iSCSI connector on a real initiator", () => {
  it("reports the lab initiator and multipath from multipathd", () => {
    expect(props.initiator).toBe(lab.initiator);
    expect(props.multipath).toBe(true);
  });

  it("LIO + CHAP: single path attach and clean detach; wrong CHAP is AUTH_FAILED and leaves nothing", async () => {
    const { info } = await exported(lio);
    if (info.type !== "iscsi") throw new Error("expected iSCSI info");
    const single = connector(false);
    label = "lio single path";
    const dev = await must(single.connectVolume(info, deadline()));
    cleanup.push(async () => (await single.disconnectVolume(info, dev, { force: true, ignoreErrors: true })).isOk());
    expect(dev.path).toMatch(/^\/dev\/sd[a-z]+$/);
    expect(dev.sizeBytes).toBe(GiB);
    const report = await must(single.disconnectVolume(info, dev, deadline()));
    expect(report.leftBehind).toEqual([]);
    expectClean(info.targetIqn, dev.scsiWwn);

    const wrong = { ...info, authPassword: "WrongSecret-000001" } as ConnectionInfo;
    label = "lio wrong chap";
    const r = await connector(true).connectVolume(wrong, deadline());
    const e = r._unsafeUnwrapErr();
    expect(e.code).toBe("AUTH_FAILED");
    expect(e.message).toMatch(new RegExp(`^CHAP rejected by target ${info.targetIqn.replace(/\./g, "\\.")} at 127\\.0\\.0\\.[12]:3260`));
    expect(JSON.stringify(e.toJSON())).not.toContain("WrongSecret-000001");
    expect(JSON.stringify(e.toJSON())).not.toContain(info.authPassword ?? "never");
    expectClean(info.targetIqn, undefined);
    notes.push(`wrong CHAP: ${e.message}`);
  }, 900_000);

  it("LIO + CHAP multipath: one dm over two paths, data reaches the LV, survives a path cut, extends online, detaches clean", async () => {
    const { volume, info } = await exported(lio);
    if (info.type !== "iscsi") throw new Error("expected iSCSI info");
    const mp = connector(true);
    label = "lio multipath";
    const dev = await must(mp.connectVolume(info, deadline()));
    cleanup.push(async () => (await mp.disconnectVolume(info, dev, { force: true, ignoreErrors: true })).isOk());
    expect(dev.path).toMatch(/^\/dev\/dm-\d+$/);
    expect(dev.paths).toHaveLength(2);
    expect(dev.multipathId).toBe(dev.scsiWwn);
    const dm = dev.path.replace("/dev/", "");
    expect(mapPaths(dm).map((p) => p.dmState)).toEqual(["active", "active"]);
    expect(sessionsOf(info.targetIqn)).toHaveLength(2);

    // Data written through the map is on the LV.
    const lv = `/dev/${lab.vgThick}/volume-${volume.id}`;
    const p1 = pattern(4 * MiB);
    writeAt(dev.path, 8 * MiB, p1.data);
    expect(sha256(readAt(lv, 8 * MiB, 4 * MiB))).toBe(p1.sha);

    // Cut the 127.0.0.2 path while a direct, synced write runs through the map.
    const victim = pathVia(dev, "127.0.0.2");
    const big = pattern(48 * MiB);
    const dir = mkdtempSync(join(tmpdir(), "volkit-cut-"));
    const file = join(dir, "data");
    writeFileSync(file, big.data);
    const tb = Date.now();
    sh(["dd", `if=${file}`, `of=${dev.path}`, "bs=256K", "seek=256", "oflag=direct,sync", "conv=notrunc", "status=none"]);
    const baselineMs = Date.now() - tb;
    const t0 = Date.now();
    const dd = spawn("dd", [`if=${file}`, `of=${dev.path}`, "bs=256K", "seek=64", "oflag=direct,sync", "conv=notrunc", "status=none"], { stdio: ["ignore", "ignore", "pipe"] });
    let ddErr = "";
    dd.stderr.on("data", (d: Buffer) => (ddErr += d.toString()));
    const ddDone = new Promise<number>((res) => dd.on("exit", (code) => res(code ?? -1)));
    await new Promise((r) => setTimeout(r, 500));
    const rules = [
      ["INPUT", "-p", "tcp", "-d", "127.0.0.2", "--dport", String(lab.lioPort), "-j", "DROP"],
      ["INPUT", "-p", "tcp", "-s", "127.0.0.2", "--sport", String(lab.lioPort), "-j", "DROP"],
    ];
    let method = "iptables";
    if (spawnSync("iptables", ["-A", ...(rules[0] ?? [])]).status === 0) spawnSync("iptables", ["-A", ...(rules[1] ?? [])]);
    else {
      method = "sysfs offline";
      writeFileSync(`/sys/block/${victim}/device/state`, "offline");
    }
    const cutAt = Date.now() - t0;
    let failedSeen = false;
    try {
      const code = await ddDone;
      expect(code, `dd failed: ${ddErr}`).toBe(0);
      await until(`path ${victim} failed in the map`, 120_000, () => mapPaths(dm).some((p) => p.dev === victim && p.dmState === "failed"));
      failedSeen = true;
    } finally {
      if (method === "iptables") for (const r of rules) spawnSync("iptables", ["-D", ...r]);
      else writeFileSync(`/sys/block/${victim}/device/state`, "running");
    }
    const ioMs = Date.now() - t0;
    rmSync(dir, { recursive: true, force: true });
    expect(failedSeen).toBe(true);
    expect(sha256(readAt(lv, 64 * 256 * 1024, 48 * MiB))).toBe(big.sha);
    expect(sha256(readAt(dev.path, 64 * 256 * 1024, 48 * MiB))).toBe(big.sha);
    const healMs = await until("both paths active again", 180_000, () => mapPaths(dm).every((p) => p.dmState === "active") && mapPaths(dm).length === 2);
    notes.push(`path cut (${method}) of ${victim} at +${cutAt} ms into a 48 MiB O_DIRECT|O_SYNC write: dd exit 0, write took ${ioMs} ms (same write without a cut: ${baselineMs} ms), data sha256 identical on the LV and through the map; both paths active again ${healMs} ms after restore`);

    // Extend online: the LV grows, the connector rescans both paths and resizes the map.
    await must(lio.extendVolume(volume, 2));
    label = "lio multipath";
    const size = await must(mp.extendVolume(info, dev, deadline()));
    expect(size).toBe(2 * GiB);
    expect(deviceSize(dev.path)).toBe(2 * GiB);
    for (const p of dev.paths) expect(deviceSize(p)).toBe(2 * GiB);
    expect(sha256(readAt(dev.path, 8 * MiB, 4 * MiB))).toBe(p1.sha);

    const report = await must(mp.disconnectVolume(info, dev, deadline()));
    expect(report.leftBehind).toEqual([]);
    expect(report.removed).toEqual(expect.arrayContaining([`map ${dev.multipathId ?? "?"}`, ...dev.paths.map((p) => `device ${p}`)]));
    expect(report.removed.filter((r) => r.startsWith("session"))).toHaveLength(2);
    expectClean(info.targetIqn, dev.scsiWwn);
  }, 900_000);

  it("tgt + CHAP (helper tgt): multipath attach, data through the map; a dead target is detached with force", async () => {
    const { volume, info } = await exported(tgt);
    if (info.type !== "iscsi") throw new Error("expected iSCSI info");
    const mp = connector(true);
    label = "tgt multipath";
    const dev = await must(mp.connectVolume(info, deadline()));
    cleanup.push(async () => (await mp.disconnectVolume(info, dev, { force: true, ignoreErrors: true })).isOk());
    expect(dev.paths).toHaveLength(2);
    const p = pattern(2 * MiB);
    writeAt(dev.path, 0, p.data);
    expect(sha256(readAt(`/dev/${lab.vgThick}/volume-${volume.id}`, 0, 2 * MiB))).toBe(p.sha);
    // The target dies (both portals cut): a forced disconnect still removes everything.
    const rules = lab.portals.flatMap((ip) => [
      ["INPUT", "-p", "tcp", "-d", ip, "--dport", String(lab.tgtPort), "-j", "DROP"],
      ["INPUT", "-p", "tcp", "-s", ip, "--sport", String(lab.tgtPort), "-j", "DROP"],
    ]);
    for (const r of rules) sh(["iptables", "-A", ...r]);
    try {
      const dm = dev.path.replace("/dev/", "");
      const downMs = await until("both paths failed", 180_000, () => mapPaths(dm).every((x) => x.dmState === "failed"));
      label = "tgt dead target (force)";
      const report = await must(mp.disconnectVolume(info, dev, { force: true, ...deadline(400) }));
      expect(report.leftBehind).toEqual([]);
      expect(report.removed.filter((r) => r.startsWith("session"))).toHaveLength(2);
      expectClean(info.targetIqn, dev.scsiWwn);
      notes.push(`dead tgt target (both portals dropped, paths failed after ${downMs} ms): force disconnect removed ${report.removed.join(", ")}`);
    } finally {
      for (const r of rules) spawnSync("iptables", ["-D", ...r]);
    }
  }, 900_000);

  it("8 LUNs of one shared tgt target: attached and detached concurrently, sessions shared and logged out once", async () => {
    const iqn = `iqn.2010-10.org.openstack:shared-${uid("s")}`;
    const tid = 900;
    const lvs = Array.from({ length: 8 }, (_, i) => `shared-${uid("l")}-${i + 1}`);
    for (const lvName of lvs) sh(["lvcreate", "-qq", "-y", "-L", "16M", "-n", lvName, lab.vgThick]);
    sh(["tgtadm", "--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", String(tid), "-T", iqn]);
    cleanup.push(async () => {
      await Promise.resolve();
      spawnSync("tgtadm", ["--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", String(tid), "--force"]);
      for (const lvName of lvs) spawnSync("lvremove", ["-qq", "-f", `${lab.vgThick}/${lvName}`]);
    });
    lvs.forEach((lvName, i) => sh(["tgtadm", "--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", String(tid), "--lun", String(i + 1), "-b", `/dev/${lab.vgThick}/${lvName}`]));
    sh(["tgtadm", "--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", String(tid), "-I", "ALL"]);

    const infos = lvs.map((_, i): ConnectionInfo => ({
      type: "iscsi",
      volumeId: `shared-${i + 1}`,
      accessMode: "rw",
      encrypted: false,
      targetDiscovered: false,
      targetIqn: iqn,
      targetPortal: TGT_PORTALS[0] ?? "",
      targetLun: i + 1,
      targetPortals: TGT_PORTALS,
      targetIqns: TGT_PORTALS.map(() => iqn),
      targetLuns: TGT_PORTALS.map(() => i + 1),
    }));
    const mp = connector(true);
    // Only the requested LUN is scanned (node.session.scan=manual + targeted scan): 1 disk per path.
    label = "shared target, LUN 5 alone";
    const one = await must(mp.connectVolume(infos[4] as ConnectionInfo, deadline()));
    for (const s of sessionsOf(iqn)) {
      const dev = realpathSync(`/sys/class/iscsi_session/${s}/device`);
      const luns = readdirSync(dev).filter((e) => e.startsWith("target")).flatMap((t) => readdirSync(`${dev}/${t}`).filter((e) => /^\d+:\d+:\d+:\d+$/.test(e)));
      expect(luns.map((h) => h.split(":")[3])).toEqual(["5"]);
    }
    await must(mp.disconnectVolume(infos[4] as ConnectionInfo, one, deadline()));
    expectClean(iqn, one.scsiWwn);
    label = "shared target, 8 LUNs";
    const t0 = Date.now();
    const devs = await Promise.all(infos.map((info) => must(mp.connectVolume(info, deadline(400)))));
    const attachMs = Date.now() - t0;
    cleanup.push(() => Promise.all(devs.map(async (d, i) => (await mp.disconnectVolume(infos[i] as ConnectionInfo, d, { force: true, ignoreErrors: true })).isOk())));
    expect(new Set(devs.map((d) => d.path)).size).toBe(8);
    expect(devs.every((d) => d.paths.length === 2 && d.sizeBytes === 16 * MiB)).toBe(true);
    expect(sessionsOf(iqn)).toHaveLength(2); // one session per portal, shared by the 8 LUNs
    const written = devs.map((d, i) => {
      const p = pattern(MiB);
      writeAt(d.path, 0, p.data);
      expect(sha256(readAt(`/dev/${lab.vgThick}/${lvs[i] ?? ""}`, 0, MiB))).toBe(p.sha);
      return p;
    });
    expect(written).toHaveLength(8);

    const t1 = Date.now();
    const reports = await Promise.all(devs.map((d, i) => must(mp.disconnectVolume(infos[i] as ConnectionInfo, d, deadline(400)))));
    const detachMs = Date.now() - t1;
    // Each portal's session was logged out exactly once; the other reports say it was kept for other LUNs.
    for (const portal of TGT_PORTALS) expect(reports.filter((r) => r.removed.includes(`session ${portal},${iqn}`))).toHaveLength(1);
    for (const r of reports) expect(r.leftBehind.every((l) => l.kind === "session" && l.expected && l.reason.startsWith("kept:"))).toBe(true);
    for (const d of devs) expectClean(iqn, d.scsiWwn);
    notes.push(`8 LUNs x 2 paths of one tgt target: concurrent attach ${attachMs} ms, concurrent detach ${detachMs} ms`);
  }, 900_000);
});

// ------------------------------------------------------------------ faults (issue 14, items 9 and 10)
// Repetitions of each fault (default 4 in CI; raise it with VOLKIT_LAB_FAULT_CYCLES when hunting a race).
const CYCLES = Number(process.env.VOLKIT_LAB_FAULT_CYCLES ?? "4");

// The fault tests share one exported volume (each leaves the host clean): the lab's 8 GiB VG holds
// no more than seven 1 GiB volumes next to the other tests'.
let faultTarget: Promise<{ volume: Volume; info: ConnectionInfo }> | undefined;
const faultExport = (): Promise<{ volume: Volume; info: ConnectionInfo }> => (faultTarget ??= exported(lio));

describe("iSCSI connector under faults", () => {
  it(`one portal cut just before each of ${CYCLES} detaches (udev's probe holds the map): every detach clean`, async () => {
    const { info } = await faultExport();
    if (info.type !== "iscsi") throw new Error("expected iSCSI info");
    const mp = connector(true);
    label = "lio detach, portal cut";
    const failures: string[] = [];
    for (let i = 0; i < CYCLES; i++) {
      const dev = await must(mp.connectVolume(info, deadline()));
      // The last writer's close makes udev probe the map (blkid), on both paths.
      writeAt(dev.path, 0, pattern(4 * MiB).data);
      const restore = cutPortal(lab.portals[1] ?? "127.0.0.2", lab.lioPort);
      try {
        const r = await mp.disconnectVolume(info, dev, deadline(400));
        if (r.isErr()) failures.push(`cycle ${i}: ${r.error.code}: ${r.error.message}`);
        else if (r.value.leftBehind.length > 0) failures.push(`cycle ${i}: left ${JSON.stringify(r.value.leftBehind)}`);
      } finally {
        restore();
      }
      expectClean(info.targetIqn, dev.scsiWwn);
    }
    notes.push(`portal cut before detach: ${CYCLES - failures.length} of ${CYCLES} detaches clean`);
    expect(failures).toEqual([]);
  }, 3_600_000);

  it(`force detach with both portals down, ${Math.max(2, CYCLES / 2)} times: never a map without paths, nothing left`, async () => {
    const { info } = await faultExport();
    if (info.type !== "iscsi") throw new Error("expected iSCSI info");
    const mp = connector(true);
    label = "lio force detach, dead";
    const failures: string[] = [];
    for (let i = 0; i < Math.max(2, CYCLES / 2); i++) {
      const dev = await must(mp.connectVolume(info, deadline()));
      writeAt(dev.path, 0, pattern(4 * MiB).data);
      const restores = lab.portals.map((ip) => cutPortal(ip, lab.lioPort));
      try {
        const dm = dev.path.replace("/dev/", "");
        await until("both paths failed", 180_000, () => mapPaths(dm).every((x) => x.dmState === "failed"));
        const r = await mp.disconnectVolume(info, dev, { force: true, ...deadline(400) });
        if (r.isErr()) failures.push(`cycle ${i}: ${r.error.code}: ${r.error.message}`);
        else if (r.value.leftBehind.length > 0) failures.push(`cycle ${i}: left ${JSON.stringify(r.value.leftBehind)}`);
        expect(pathlessMaps(), `cycle ${i}: maps without paths`).toEqual([]);
      } finally {
        for (const restore of restores) restore();
      }
      expectClean(info.targetIqn, dev.scsiWwn);
    }
    expect(failures).toEqual([]);
  }, 3_600_000);

  it(`an abort at ${CYCLES + 4} points of an attach never leaves the node database locked, a record or a session behind`, async () => {
    const { info } = await faultExport();
    if (info.type !== "iscsi") throw new Error("expected iSCSI info");
    const mp = connector(true);
    label = "lio abort during attach";
    // How long an attach takes here, to spread the aborts over it (node setup, login, scan, map).
    const t0 = Date.now();
    const first = await must(mp.connectVolume(info, deadline()));
    const attachMs = Date.now() - t0;
    await must(mp.disconnectVolume(info, first, deadline()));
    const outcomes: string[] = [];
    for (let i = 0; i < CYCLES + 4; i++) {
      const at = Math.round((attachMs * i) / (CYCLES + 4));
      const ac = new AbortController();
      const pending = mp.connectVolume(info, { signal: ac.signal, ...deadline() });
      const timer = setTimeout(() => ac.abort(), at);
      const r = await pending;
      clearTimeout(timer);
      if (r.isOk()) await must(mp.disconnectVolume(info, r.value, deadline()));
      else {
        expect(r.error.code, r.error.message).toBe("ABORTED");
        const rollback = r.error.details.rollback as DisconnectReport | undefined;
        expect(rollback?.leftBehind ?? [], `cycle ${i}: rollback left`).toEqual([]);
      }
      outcomes.push(`${at} ms: ${r.isOk() ? "attached" : "aborted"}`);
      expectClean(info.targetIqn, undefined);
    }
    notes.push(`aborts during attach (${attachMs} ms): ${outcomes.join(", ")}`);
    // The host still attaches.
    const dev = await must(mp.connectVolume(info, deadline()));
    await must(mp.disconnectVolume(info, dev, deadline()));
    expectClean(info.targetIqn, dev.scsiWwn);
  }, 3_600_000);

  it("a stale node database lock (left by a killed iscsiadm) delays an attach by iscsiadm's 30 s wait, is named in the log, and the attach succeeds", async () => {
    const { info } = await faultExport();
    if (info.type !== "iscsi") throw new Error("expected iSCSI info");
    const logger = new MemoryLogger();
    const mp = createIscsiConnector({ multipath: true, enforceMultipath: true, timeouts: WAIT }, { events, logger })._unsafeUnwrap();
    mkdirSync(dirname(NODE_DB_LOCK), { recursive: true });
    if (!existsSync(`${dirname(NODE_DB_LOCK)}/lock`)) writeFileSync(`${dirname(NODE_DB_LOCK)}/lock`, "");
    linkSync(`${dirname(NODE_DB_LOCK)}/lock`, NODE_DB_LOCK);
    label = "lio attach, stale lock";
    const dev = await must(mp.connectVolume(info, deadline()));
    expect(logger.lines.some((l) => l.level === "warn" && (l.msg ?? "").includes("stale node database lock"))).toBe(true);
    await must(mp.disconnectVolume(info, dev, deadline()));
    expectClean(info.targetIqn, dev.scsiWwn);
  }, 900_000);

  it("a corrupt node record (a write cut short) is INVALID_STATE naming the fix; after the fix the attach works", async () => {
    const { info } = await faultExport();
    if (info.type !== "iscsi") throw new Error("expected iSCSI info");
    const mp = connector(true);
    // What an iscsiadm killed while writing the record leaves: the record file, empty.
    sh(["iscsiadm", "-m", "node", "-T", info.targetIqn, "-p", LIO_PORTALS[0] ?? "", "--interface", "default", "--op", "new"]);
    const record = sh(["find", `/etc/iscsi/nodes/${info.targetIqn}`, "-type", "f"]).trim().split("\n")[0] ?? "";
    writeFileSync(record, "");
    expect(corruptRecords()).toHaveLength(1);
    label = "lio attach, corrupt record";
    const e = (await mp.connectVolume(info, deadline()))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_STATE");
    const fix = String(e.details.fix);
    expect(fix).toMatch(/^rm -r \/etc\/iscsi\/nodes\//);
    notes.push(`corrupt record: ${e.message}`);
    sh(["bash", "-c", fix]);
    const dev = await must(mp.connectVolume(info, deadline()));
    await must(mp.disconnectVolume(info, dev, deadline()));
    expectClean(info.targetIqn, dev.scsiWwn);
  }, 900_000);

  it("a dead iscsid is BACKEND_UNAVAILABLE and transient; once it is back the attach works", async () => {
    const { info } = await faultExport();
    if (info.type !== "iscsi") throw new Error("expected iSCSI info");
    const mp = connector(true);
    sh(["pkill", "-x", "iscsid"]);
    try {
      await until("iscsid gone", 30_000, () => spawnSync("pgrep", ["-x", "iscsid"]).status !== 0);
      label = "lio attach, iscsid dead";
      const e = (await mp.connectVolume(info, deadline()))._unsafeUnwrapErr();
      expect(e.code).toBe("BACKEND_UNAVAILABLE");
      expect(e.transient).toBe(true);
      expect(e.message).toContain("iscsid");
    } finally {
      sh(["iscsid"]);
    }
    const backMs = await until("iscsid answers", 60_000, () => [0, 21].includes(spawnSync("iscsiadm", ["-m", "session"]).status ?? -1));
    expectClean(info.targetIqn, undefined);
    const dev = await must(mp.connectVolume(info, deadline()));
    await must(mp.disconnectVolume(info, dev, deadline()));
    expectClean(info.targetIqn, dev.scsiWwn);
    notes.push(`dead iscsid: BACKEND_UNAVAILABLE (transient); answering again ${backMs} ms after restart`);
  }, 900_000);
});

describe("local connector on a real LV", () => {
  it("returns the LV with its size, flushes on disconnect, reports the grown size", async () => {
    const lvName = `local-${uid("v")}`;
    sh(["lvcreate", "-qq", "-y", "-L", "64M", "-n", lvName, lab.vgThick]);
    cleanup.push(() => Promise.resolve(spawnSync("lvremove", ["-qq", "-f", `${lab.vgThick}/${lvName}`])));
    const path = `/dev/${lab.vgThick}/${lvName}`;
    const info: ConnectionInfo = { type: "local", volumeId: "localv", accessMode: "rw", encrypted: false, devicePath: path };
    const local = createLocalConnector({}, { events })._unsafeUnwrap();
    label = "local LV";
    const dev = await must(local.connectVolume(info));
    expect(dev).toEqual({ type: "block", path, paths: [], sizeBytes: 64 * MiB });
    const p = pattern(MiB);
    writeAt(path, 0, p.data);
    expect(await must(local.disconnectVolume(info, dev))).toEqual({ removed: [], leftBehind: [] });
    sh(["lvextend", "-qq", "-L", "128M", `${lab.vgThick}/${lvName}`]);
    expect(await must(local.extendVolume(info, dev))).toBe(128 * MiB);
    expect((await local.connectVolume({ ...info, devicePath: `/dev/${lab.vgThick}/missing` }))._unsafeUnwrapErr().code).toBe("DEVICE_NOT_FOUND");
  });
});
