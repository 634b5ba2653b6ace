import { readFileSync } from "node:fs";
import { join } from "node:path";
import { errAsync, okAsync } from "neverthrow";
import { afterEach, describe, expect, it } from "vitest";
import type { Connector, ConnectorSource } from "../../../src/connectors/connector.js";
import { VolkitError } from "../../../src/core/errors.js";
import { EventBus, silentLogger } from "../../../src/core/events.js";
import type { ConnectionInfo } from "../../../src/core/records.js";
import { planHostCleanup, runHostCleanup, type HostCleanupDeps } from "../../../src/service/host-cleanup/host-cleanup.js";
import { AttachmentRecordSchema, type AttachmentRecord } from "../../../src/service/records/attachment-record.js";
import type { AttachStatus } from "../../../src/service/state-machine.js";
import { FakeIscsiHost } from "../connectors/fake-iscsi-host.js";
import { MiB, P1, P2 } from "../connectors/helpers.js";
import { FakeKrbdHost } from "../connectors/rbd/fake-krbd.js";
import { replay } from "../drivers/rbd/captures.js";
import { createRbdConnector } from "../../../src/connectors/rbd/index.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";

/**
 * `host cleanup` on a simulated initiator (FakeIscsiHost: the connector's fake runner and a sysfs
 * tree that reacts like Linux's): what the plan lists against the attachment records, and what the
 * cleanup removes through the iSCSI connector's own disconnect, down to the commands and sysfs writes.
 */

const ARRAY_IQN = "iqn.2026-11.io.volkit:array-1"; // a shared target (IP-SAN): volkit's because a record names it
const LIO_IQN = "iqn.2010-10.org.openstack:volume-vol-2"; // a per-volume target of an LVM backend's LIO helper
const FOREIGN_IQN = "iqn.2005-01.com.example:other-system";
const HOST = "node-1";
const findmntLab = readFileSync(join(import.meta.dirname, "../../fixtures/nfs/findmnt-lab-nfs.json"), "utf8");
const MOUNT_BASE = "/tmp/volkit-nfs-capture.pOaiS7";

let host: FakeIscsiHost;
afterEach(() => host.cleanup());

function iscsi(iqn: string, lun: number, over: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return { type: "iscsi", volumeId: "vol-1", accessMode: "rw", encrypted: false, targetDiscovered: false, targetIqn: iqn, targetPortal: P1, targetLun: lun, ...over } as ConnectionInfo;
}

function attachment(id: string, connectionInfo: ConnectionInfo, attachStatus: AttachStatus = "attached", extra: Record<string, unknown> = {}): AttachmentRecord {
  const now = new Date();
  return AttachmentRecordSchema.parse({ id, volumeId: `vol-${id}`, host: HOST, hostProperties: { host: HOST }, connectionInfo, attachStatus, createdAt: now, updatedAt: now, revision: 1, ...extra });
}

function deps(connector: Connector, records: AttachmentRecord[], over: Partial<HostCleanupDeps> = {}): HostCleanupDeps {
  const source: ConnectorSource = { connector: (p) => (p === "iscsi" ? okAsync(connector) : errAsync(new VolkitError("NOT_SUPPORTED", `no ${p} connector`))) };
  host.fake.on(["findmnt"], { exitCode: 1 }); // no NFS mount (a test that wants some adds its rule first)
  return {
    fs: host.fs,
    runner: host.runner,
    host: source,
    hostName: HOST,
    backends: [{ config: { driver: "lvm", volumeGroup: "vg", target: { helper: "lio" } } }],
    attachments: () => okAsync(records),
    mountPointBase: "/var/lib/volkit/mnt",
    logger: silentLogger,
    events: new EventBus(),
    ...over,
  };
}

describe("host cleanup: plan", () => {
  it("lists unclaimed LUNs of volkit's targets, never a claimed LUN, its session or a foreign target", async () => {
    host = new FakeIscsiHost();
    host.addTarget(ARRAY_IQN, [P1], { 1: { wwid: "naa.6001405000000000000000000000a001", sizeBytes: 64 * MiB }, 2: { wwid: "naa.6001405000000000000000000000a002", sizeBytes: 64 * MiB } });
    host.addTarget(LIO_IQN, [P1], { 0: { wwid: "naa.6001405000000000000000000000b000", sizeBytes: 64 * MiB } });
    host.addTarget(FOREIGN_IQN, [P1], { 0: { wwid: "naa.6001405000000000000000000000c000", sizeBytes: 64 * MiB } });
    host.preLogin(ARRAY_IQN, P1, [1, 2]);
    host.preLogin(LIO_IQN, P1, [0]);
    host.preLogin(FOREIGN_IQN, P1, [0]);
    const [sda, sdb, sdc] = host.disks().sort();
    const records = [attachment("a1", iscsi(ARRAY_IQN, 1)), attachment("old", iscsi(ARRAY_IQN, 2), "detached")];
    const plan = (await planHostCleanup(deps(host.connector(), records)))._unsafeUnwrap();
    expect(plan).toEqual([
      { kind: "scsi-device", name: `/dev/${sdb}`, reason: `LUN 2 of ${ARRAY_IQN} at ${P1}: no live attachment record claims it`, removal: "iscsi-disconnect", unit: `iscsi:${ARRAY_IQN}:lun2` },
      { kind: "scsi-device", name: `/dev/${sdc}`, volumeId: "vol-2", reason: `LUN 0 of ${LIO_IQN} at ${P1}: no live attachment record claims it`, removal: "iscsi-disconnect", unit: `iscsi:${LIO_IQN}:lun0` },
      { kind: "iscsi-session", name: `${P1},${LIO_IQN}`, volumeId: "vol-2", reason: "no live attachment record claims any of its 1 LUN(s)", removal: "iscsi-disconnect", unit: `iscsi:${LIO_IQN}:lun0` },
    ]);
    // The claimed LUN's disk (sda), its session and the foreign target's disk are in no item.
    expect(JSON.stringify(plan)).not.toContain(`/dev/${sda}"`);
    expect(JSON.stringify(plan)).not.toContain(FOREIGN_IQN);
    expect(plan.some((i) => i.kind === "iscsi-session" && i.name.includes(ARRAY_IQN))).toBe(false);
    // Planning runs nothing but readers: findmnt and `iscsiadm -m node`.
    expect(host.fake.commands().map((a) => a[0])).toEqual(["findmnt", "iscsiadm"]);
    expect(host.fake.commandsOf("iscsiadm")).toEqual([["iscsiadm", "-m", "node"]]);
  });

  it("a device whose WWID a live attachment holds is claimed even when the record's LUN differs", async () => {
    host = new FakeIscsiHost();
    host.addTarget(LIO_IQN, [P1], { 0: { wwid: "naa.6001405000000000000000000000b000", sizeBytes: 64 * MiB } });
    host.preLogin(LIO_IQN, P1, [0]);
    const rec = attachment("a1", iscsi(LIO_IQN, 5), "attached", { device: { type: "block", path: "/dev/sda", paths: ["/dev/sda"], scsiWwn: "36001405000000000000000000000b000" } });
    expect((await planHostCleanup(deps(host.connector(), [rec])))._unsafeUnwrap()).toEqual([]);
  });
});

describe("host cleanup: node records", () => {
  const nodeKey = (iqn: string, portal: string): string => `${iqn}|${portal}`;

  it("lists and deletes a volkit target's node record no session uses and no live record names; keeps the others", async () => {
    host = new FakeIscsiHost();
    host.addTarget(LIO_IQN, [P1, P2], { 0: { wwid: "naa.6001405000000000000000000000b000", sizeBytes: 64 * MiB } });
    host.addTarget(ARRAY_IQN, [P1], { 1: { wwid: "naa.6001405000000000000000000000a001", sizeBytes: 64 * MiB } });
    const ATTACHING_IQN = "iqn.2010-10.org.openstack:volume-vol-9";
    host.preLogin(ARRAY_IQN, P1, [1]); // record + session (claimed below)
    for (const [iqn, portal] of [[LIO_IQN, P1], [LIO_IQN, P2], [FOREIGN_IQN, P1], [ATTACHING_IQN, P1]] as const) host.nodes.set(nodeKey(iqn, portal), new Map());
    const records = [attachment("a1", iscsi(ARRAY_IQN, 1)), attachment("a9", iscsi(ATTACHING_IQN, 0), "attaching")];
    const d = deps(host.connector(), records);
    const plan = (await planHostCleanup(d))._unsafeUnwrap();
    expect(plan).toEqual([
      { kind: "iscsi-node", name: `${P1},${LIO_IQN}`, volumeId: "vol-2", reason: "node record of a volkit target with no session and no live attachment record", removal: "iscsi-node-delete", unit: `iscsi-node:${LIO_IQN}|${P1}` },
      { kind: "iscsi-node", name: `${P2},${LIO_IQN}`, volumeId: "vol-2", reason: "node record of a volkit target with no session and no live attachment record", removal: "iscsi-node-delete", unit: `iscsi-node:${LIO_IQN}|${P2}` },
    ]);
    host.fake.clearCalls();
    expect((await runHostCleanup(d, plan))._unsafeUnwrap()).toEqual({ removed: plan, failed: [], skipped: [] });
    expect(host.fake.commandsOf("iscsiadm").filter((a) => a.includes("delete"))).toEqual([
      ["iscsiadm", "-m", "node", "-T", LIO_IQN, "-p", P1, "--op", "delete"],
      ["iscsiadm", "-m", "node", "-T", LIO_IQN, "-p", P2, "--op", "delete"],
    ]);
    // The claimed target's record and session, the foreign record and the attaching one stay.
    expect([...host.nodes.keys()].sort()).toEqual([nodeKey(ARRAY_IQN, P1), nodeKey(ATTACHING_IQN, P1), nodeKey(FOREIGN_IQN, P1)].sort());
    expect(host.sessions.size).toBe(1);
    expect((await planHostCleanup(d))._unsafeUnwrap()).toEqual([]);
  });

  it("lists no node record while an attachment of this host is being set up without connection info", async () => {
    host = new FakeIscsiHost();
    host.addTarget(LIO_IQN, [P1], { 0: { wwid: "naa.6001405000000000000000000000b000", sizeBytes: 64 * MiB } });
    host.nodes.set(nodeKey(LIO_IQN, P1), new Map());
    const now = new Date();
    const pending = AttachmentRecordSchema.parse({ id: "p1", volumeId: "vol-p", host: HOST, hostProperties: { host: HOST }, attachStatus: "reserved", createdAt: now, updatedAt: now, revision: 1 });
    expect((await planHostCleanup(deps(host.connector(), [pending])))._unsafeUnwrap()).toEqual([]);
    // Once it is gone, the record is residue.
    expect((await planHostCleanup(deps(host.connector(), [])))._unsafeUnwrap().map((i) => i.kind)).toEqual(["iscsi-node"]);
  });
});

describe("host cleanup: run", () => {
  it("a claimed LUN's session is kept: only the unclaimed LUN's disk goes, no logout", async () => {
    host = new FakeIscsiHost();
    host.addTarget(ARRAY_IQN, [P1], { 1: { wwid: "naa.6001405000000000000000000000a001", sizeBytes: 64 * MiB }, 2: { wwid: "naa.6001405000000000000000000000a002", sizeBytes: 64 * MiB } });
    host.preLogin(ARRAY_IQN, P1, [1, 2]);
    const [sda, sdb] = host.disks().sort();
    const d = deps(host.connector(), [attachment("a1", iscsi(ARRAY_IQN, 1))]);
    const plan = (await planHostCleanup(d))._unsafeUnwrap();
    host.fake.clearCalls();
    const report = (await runHostCleanup(d, plan))._unsafeUnwrap();
    expect(report).toEqual({ removed: plan, failed: [], skipped: [] });
    expect(host.disks()).toEqual([sda]);
    expect(host.sessions.size).toBe(1);
    expect(host.fake.commandsOf("iscsiadm").filter((a) => a.includes("--logout") || a.includes("delete"))).toEqual([]);
    expect(host.fake.commandsOf("blockdev")).toEqual([["blockdev", "--flushbufs", `/dev/${sdb}`]]);
    expect(host.tree.writes.map((w) => w.path)).toContain(`/sys/block/${sdb}/device/delete`);
    expect(host.tree.writes.map((w) => w.path)).not.toContain(`/sys/block/${sda}/device/delete`);
  });

  it("removes an unclaimed multipath LUN: flush the map first, then the map, both disks, both sessions and node records", async () => {
    host = new FakeIscsiHost();
    host.addTarget(LIO_IQN, [P1, P2], { 0: { wwid: "naa.6001405000000000000000000000b000", sizeBytes: 64 * MiB } });
    const c = host.connector({ multipath: true });
    const dev = (await c.connectVolume(iscsi(LIO_IQN, 0, { targetPortals: [P1, P2], targetIqns: [LIO_IQN, LIO_IQN], targetLuns: [0, 0] })))._unsafeUnwrap();
    expect(host.dms()).toHaveLength(1);
    const d = deps(c, []);
    const plan = (await planHostCleanup(d))._unsafeUnwrap();
    expect(plan.map((i) => i.kind).sort()).toEqual(["iscsi-session", "iscsi-session", "multipath-map", "scsi-device", "scsi-device"]);
    expect(new Set(plan.map((i) => i.unit))).toEqual(new Set([`iscsi:${LIO_IQN}:lun0`]));
    host.fake.clearCalls();
    const report = (await runHostCleanup(d, plan))._unsafeUnwrap();
    expect(report.failed).toEqual([]);
    expect(report.removed).toHaveLength(5);
    expect(host.fake.commands()[2]).toEqual(["blockdev", "--flushbufs", dev.path]); // after the re-scan's findmnt and iscsiadm -m node
    expect(host.disks()).toEqual([]);
    expect(host.dms()).toEqual([]);
    expect(host.sessions.size + host.nodes.size).toBe(0);
    // Again: nothing left, nothing to do.
    expect((await planHostCleanup(d))._unsafeUnwrap()).toEqual([]);
    expect((await runHostCleanup(d, plan))._unsafeUnwrap()).toEqual({ removed: [], failed: [], skipped: plan });
  });

  it("a session whose LUNs are all unclaimed is logged out with its last LUN, and only then", async () => {
    host = new FakeIscsiHost();
    host.addTarget(ARRAY_IQN, [P1], { 1: { wwid: "naa.6001405000000000000000000000a001", sizeBytes: 64 * MiB }, 2: { wwid: "naa.6001405000000000000000000000a002", sizeBytes: 64 * MiB } });
    host.preLogin(ARRAY_IQN, P1, [1, 2]);
    const d = deps(host.connector(), [attachment("old", iscsi(ARRAY_IQN, 1), "detached")]);
    const plan = (await planHostCleanup(d))._unsafeUnwrap();
    expect(plan.map((i) => [i.kind, i.unit])).toEqual([
      ["scsi-device", `iscsi:${ARRAY_IQN}:lun1`],
      ["scsi-device", `iscsi:${ARRAY_IQN}:lun2`],
      ["iscsi-session", `iscsi:${ARRAY_IQN}:lun2`],
    ]);
    host.fake.clearCalls();
    const report = (await runHostCleanup(d, plan))._unsafeUnwrap();
    expect(report).toEqual({ removed: plan, failed: [], skipped: [] });
    expect(host.disks()).toEqual([]);
    expect(host.sessions.size + host.nodes.size).toBe(0);
    expect(host.fake.commandsOf("iscsiadm").filter((a) => a.includes("--logout"))).toHaveLength(1);
  });

  it("leaves an item alone when a record claims it between the plan and the run", async () => {
    host = new FakeIscsiHost();
    host.addTarget(LIO_IQN, [P1], { 0: { wwid: "naa.6001405000000000000000000000b000", sizeBytes: 64 * MiB } });
    host.preLogin(LIO_IQN, P1, [0]);
    const records: AttachmentRecord[] = [];
    const d = deps(host.connector(), records);
    const plan = (await planHostCleanup(d))._unsafeUnwrap();
    expect(plan).toHaveLength(2);
    records.push(attachment("late", iscsi(LIO_IQN, 0), "attaching"));
    host.fake.clearCalls();
    expect((await runHostCleanup(d, plan))._unsafeUnwrap()).toEqual({ removed: [], failed: [], skipped: plan });
    expect(host.fake.commands().map((a) => a[0])).toEqual(["findmnt", "iscsiadm"]);
    expect(host.disks()).toHaveLength(1);
  });

  it("reports a unit that fails with the error's code and goes on with the next", async () => {
    host = new FakeIscsiHost();
    host.addTarget(LIO_IQN, [P1], { 0: { wwid: "naa.6001405000000000000000000000b000", sizeBytes: 64 * MiB } });
    host.addTarget(`${LIO_IQN}0`, [P1], { 0: { wwid: "naa.6001405000000000000000000000b001", sizeBytes: 64 * MiB } });
    host.preLogin(LIO_IQN, P1, [0]);
    host.preLogin(`${LIO_IQN}0`, P1, [0]);
    const d = deps(host.connector(), []);
    const plan = (await planHostCleanup(d))._unsafeUnwrap();
    host.flushFails = true;
    const report = (await runHostCleanup(d, plan))._unsafeUnwrap();
    expect(report.removed).toEqual([]);
    expect(report.failed.map((f) => [f.unit, f.errorCode])).toEqual(plan.map((i) => [i.unit, "DETACH_INCOMPLETE"]));
    expect(host.sessions.size).toBe(2);
  });

  it("unmounts NFS shares under the mount point base no live attachment uses; a used one stays", async () => {
    host = new FakeIscsiHost();
    host.fake.on(["findmnt"], { stdout: findmntLab }).on(["umount"], { exitCode: 0 });
    const d = deps(host.connector(), [], { mountPointBase: MOUNT_BASE });
    const plan = (await planHostCleanup(d))._unsafeUnwrap();
    expect(plan).toEqual([
      { kind: "nfs-mount", name: `${MOUNT_BASE}/mp`, reason: `127.0.0.1:/srv/nfs/share1 is mounted under ${MOUNT_BASE} and no live attachment record uses it`, removal: "nfs-unmount", unit: `nfs:${MOUNT_BASE}/mp` },
    ]);
    expect((await runHostCleanup(d, plan))._unsafeUnwrap().removed).toEqual(plan);
    expect(host.fake.commandsOf("umount")).toEqual([["umount", `${MOUNT_BASE}/mp`]]);
    const used = attachment("n1", { type: "nfs", volumeId: "vol-n", accessMode: "rw", encrypted: false, export: "127.0.0.1:/srv/nfs/share1", name: "volume-vol-n", format: "raw" });
    expect((await planHostCleanup(deps(host.connector(), [used], { mountPointBase: MOUNT_BASE })))._unsafeUnwrap()).toEqual([]);
  });

  it("lists krbd mappings of volkit's pools; without a record giving the cluster's connection the unmap fails naming the command", async () => {
    host = new FakeIscsiHost();
    for (const [name, value] of [["pool", "volumes"], ["pool_ns", ""], ["name", "volume-vol-7"], ["current_snap", "-"]]) host.tree.file(`/sys/bus/rbd/devices/0/${name}`, `${value}\n`);
    for (const [name, value] of [["pool", "other"], ["pool_ns", ""], ["name", "disk-1"], ["current_snap", "-"]]) host.tree.file(`/sys/bus/rbd/devices/1/${name}`, `${value}\n`);
    const d = deps(host.connector(), [], { backends: [{ config: { driver: "rbd", pool: "volumes" } }] });
    const plan = (await planHostCleanup(d))._unsafeUnwrap();
    expect(plan).toEqual([{ kind: "rbd-mapping", name: "/dev/rbd0", volumeId: "vol-7", reason: "volumes/volume-vol-7 is mapped and no live attachment record claims it", removal: "rbd-unmap", unit: "rbd:0" }]);
    const report = (await runHostCleanup(d, plan))._unsafeUnwrap();
    expect(report.failed).toEqual([expect.objectContaining({ name: "/dev/rbd0", errorCode: "NOT_SUPPORTED", message: expect.stringContaining("rbd device unmap /dev/rbd0") as unknown })]);
  });

  it("unmaps a krbd mapping no record claims through the RBD connector, with the cluster's monitors from the backend's config", async () => {
    host = new FakeIscsiHost();
    const krbd = new FakeKrbdHost().map("0"); // volumes/kmap, as the lab's kernel showed it
    const runner = new FakeRunner();
    runner.on(["findmnt"], { exitCode: 1 }).on(["iscsiadm", "-m", "node"], { exitCode: 21 }).on(["blockdev", "--flushbufs", "/dev/rbd0"], {});
    runner.on(["rbd", "device", "unmap", "/dev/rbd0"], () => {
      krbd.unmap("0");
      return replay("kernel-device-unmap");
    });
    const rbd = createRbdConnector({}, { runner, hostFs: krbd.tree.hostFs() })._unsafeUnwrap();
    const source: ConnectorSource = { connector: (p) => (p === "rbd" ? okAsync(rbd) : errAsync(new VolkitError("NOT_SUPPORTED", `no ${p} connector`))) };
    try {
      const d = deps(host.connector(), [], { fs: krbd.tree.hostFs(), runner, host: source, backends: [{ config: { driver: "rbd", pool: "volumes", monitors: ["127.0.0.1:6789"], clientId: "cinder" } }] });
      const plan = (await planHostCleanup(d))._unsafeUnwrap();
      expect(plan.map((i) => [i.kind, i.name, i.unit])).toEqual([["rbd-mapping", "/dev/rbd0", "rbd:0"]]);
      const report = (await runHostCleanup(d, plan))._unsafeUnwrap();
      expect(report).toEqual({ removed: plan, failed: [], skipped: [] });
      expect(runner.commands().filter((a) => a[0] !== "findmnt" && a[0] !== "iscsiadm")).toEqual([["blockdev", "--flushbufs", "/dev/rbd0"], ["rbd", "device", "unmap", "/dev/rbd0"]]);
      expect(krbd.tree.list("/sys/bus/rbd/devices")).toEqual([]);
    } finally {
      krbd.tree.cleanup();
    }
  });
});
