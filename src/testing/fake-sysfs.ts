import type { FakeHostTree } from "./fake-tree.js";

/**
 * Kernel sysfs layouts for a {@link FakeHostTree}, as Linux 6.1 lays them out for open-iscsi
 * (iscsi_tcp: one SCSI host per session), SCSI disks and dm-multipath maps. The shapes follow
 * the listings captured in the storage lab (test/fixtures/iscsi/sysfs-*.txt): class entries are
 * relative links into `/sys/devices`, like the kernel's.
 */

/** An iSCSI session to add with {@link addIscsiSession}. */
export interface FakeIscsiSession {
  /** Session id (`session<N>`). */
  readonly id: number;
  /** SCSI host number (`host<H>`). */
  readonly host: number;
  /** Target IQN. */
  readonly targetIqn: string;
  /** Portal address. */
  readonly address: string;
  /** Portal port. */
  readonly port: number;
  /** Session state (default `LOGGED_IN`). */
  readonly state?: string;
}

/** A SCSI disk to add with {@link addScsiDisk}. */
export interface FakeScsiDisk {
  /** SCSI host. */
  readonly host: number;
  /** Channel (0 for iSCSI). */
  readonly channel?: number;
  /** Target id (0 for iSCSI). */
  readonly target?: number;
  /** LUN. */
  readonly lun: number;
  /** Session the disk hangs under (iSCSI); omit for a plain host. */
  readonly session?: number;
  /** Disk name, `sdb`. */
  readonly name: string;
  /** sysfs `device/wwid` content, e.g. `naa.6001405…`. */
  readonly wwid?: string;
  /** Size in bytes. */
  readonly sizeBytes: number;
  /** `running`, `offline`… (default `running`). */
  readonly state?: string;
}

/** A device-mapper device to add with {@link addDmDevice}. */
export interface FakeDmDevice {
  /** Kernel name, `dm-3`. */
  readonly dm: string;
  /** Map name. */
  readonly name: string;
  /** DM uuid (`mpath-<wwid>` for multipath). */
  readonly uuid: string;
  /** Disks under it (`sdb`). */
  readonly slaves: readonly string[];
  /** Size in bytes. */
  readonly sizeBytes: number;
}

const hostDir = (h: number): string => `/sys/devices/platform/host${h}`;

/** The device directory of a session (`/sys/devices/platform/host<H>/session<N>`). */
export function sessionDevicePath(host: number, id: number): string {
  return `${hostDir(host)}/session${id}`;
}

/** Adds the SCSI host of a session (if missing) and the session with its connection. */
export function addIscsiSession(tree: FakeHostTree, s: FakeIscsiSession): void {
  const h = hostDir(s.host);
  if (!tree.exists(h)) {
    tree
      .file(`${h}/scsi_host/host${s.host}/scan`)
      .symlink(`${h}/scsi_host/host${s.host}/device`, h)
      .symlink(`/sys/class/scsi_host/host${s.host}`, `${h}/scsi_host/host${s.host}`)
      .file(`${h}/iscsi_host/host${s.host}/ipaddress`, `${s.address}\n`)
      .symlink(`${h}/iscsi_host/host${s.host}/device`, h)
      .symlink(`/sys/class/iscsi_host/host${s.host}`, `${h}/iscsi_host/host${s.host}`);
  }
  const dev = sessionDevicePath(s.host, s.id);
  const sess = `${dev}/iscsi_session/session${s.id}`;
  const conn = `${dev}/connection${s.id}:0/iscsi_connection/connection${s.id}:0`;
  tree
    .file(`${sess}/targetname`, `${s.targetIqn}\n`)
    .file(`${sess}/state`, `${s.state ?? "LOGGED_IN"}\n`)
    .file(`${sess}/tpgt`, "1\n")
    .symlink(`${sess}/device`, dev)
    .symlink(`/sys/class/iscsi_session/session${s.id}`, sess)
    .file(`${conn}/persistent_address`, `${s.address}\n`)
    .file(`${conn}/persistent_port`, `${s.port}\n`)
    .file(`${conn}/address`, `${s.address}\n`)
    .file(`${conn}/port`, `${s.port}\n`)
    .symlink(`${conn}/device`, `${dev}/connection${s.id}:0`)
    .symlink(`/sys/class/iscsi_connection/connection${s.id}:0`, conn);
}

/** Removes a session, its connection and everything under it (its disks must be removed first to keep /sys/block consistent). */
export function removeIscsiSession(tree: FakeHostTree, host: number, id: number): void {
  tree.remove(`/sys/class/iscsi_session/session${id}`).remove(`/sys/class/iscsi_connection/connection${id}:0`).remove(sessionDevicePath(host, id));
  if (tree.list(hostDir(host)).every((e) => !e.startsWith("session"))) {
    tree.remove(hostDir(host)).remove(`/sys/class/scsi_host/host${host}`).remove(`/sys/class/iscsi_host/host${host}`);
  }
}

/** The `H:C:T:L` directory of a disk. */
export function scsiDeviceDir(d: Pick<FakeScsiDisk, "host" | "channel" | "target" | "lun" | "session">): string {
  const c = d.channel ?? 0;
  const t = d.target ?? 0;
  const parent = d.session === undefined ? hostDir(d.host) : sessionDevicePath(d.host, d.session);
  return `${parent}/target${d.host}:${c}:${t}/${d.host}:${c}:${t}:${d.lun}`;
}

/** Adds a SCSI device with its disk: `/sys/block/<name>`, `/sys/class/block`, the sd driver link and `/dev/<name>`. */
export function addScsiDisk(tree: FakeHostTree, d: FakeScsiDisk): void {
  const dir = scsiDeviceDir(d);
  const hctl = dir.split("/").pop() as string;
  const block = `${dir}/block/${d.name}`;
  tree
    .file(`${dir}/state`, `${d.state ?? "running"}\n`)
    .file(`${dir}/delete`)
    .file(`${dir}/rescan`)
    .file(`${dir}/vendor`, "LIO-ORG \n")
    .file(`${block}/size`, `${d.sizeBytes / 512}\n`)
    .dir(`${block}/holders`)
    .symlink(`${block}/device`, dir)
    .symlink(`/sys/block/${d.name}`, block)
    .symlink(`/sys/class/block/${d.name}`, block)
    .symlink(`/sys/bus/scsi/drivers/sd/${hctl}`, dir)
    .file(`/dev/${d.name}`);
  if (d.wwid !== undefined) tree.file(`${dir}/wwid`, `${d.wwid}\n`);
}

/** Adds a SCSI device WITHOUT its disk (scanned, sd driver not bound yet). */
export function addScsiDeviceOnly(tree: FakeHostTree, d: Omit<FakeScsiDisk, "name" | "sizeBytes">): void {
  const dir = scsiDeviceDir(d);
  tree.file(`${dir}/state`, `${d.state ?? "running"}\n`).file(`${dir}/delete`).file(`${dir}/rescan`);
  if (d.wwid !== undefined) tree.file(`${dir}/wwid`, `${d.wwid}\n`);
}

/** Removes a disk and its SCSI device (what `echo 1 > …/device/delete` does). */
export function removeScsiDisk(tree: FakeHostTree, name: string): void {
  const link = `/sys/block/${name}`;
  if (!tree.lexists(link)) return;
  const hctl = readHctl(tree, name);
  const dir = hctl === undefined ? undefined : findScsiDir(tree, hctl);
  tree.remove(link).remove(`/sys/class/block/${name}`).remove(`/dev/${name}`);
  if (hctl !== undefined) tree.remove(`/sys/bus/scsi/drivers/sd/${hctl}`);
  if (dir !== undefined) {
    tree.remove(dir);
    // The kernel reaps a target with no LUN left.
    const targetDir = dir.slice(0, dir.lastIndexOf("/"));
    if (!tree.list(targetDir).some((e) => /^\d+:\d+:\d+:\d+$/.test(e))) tree.remove(targetDir);
  }
}

/** Sets a disk's size (a grown LUN after rescan). */
export function setDiskSize(tree: FakeHostTree, name: string, sizeBytes: number): void {
  tree.file(`/sys/block/${name}/size`, `${sizeBytes / 512}\n`);
}

/** Adds a dm device over `slaves`, with holder links on each slave and `/dev/mapper/<name>`. */
export function addDmDevice(tree: FakeHostTree, m: FakeDmDevice): void {
  const dir = `/sys/devices/virtual/block/${m.dm}`;
  tree
    .file(`${dir}/size`, `${m.sizeBytes / 512}\n`)
    .file(`${dir}/dm/name`, `${m.name}\n`)
    .file(`${dir}/dm/uuid`, `${m.uuid}\n`)
    .dir(`${dir}/holders`)
    .symlink(`/sys/block/${m.dm}`, dir)
    .symlink(`/sys/class/block/${m.dm}`, dir)
    .file(`/dev/${m.dm}`)
    .symlink(`/dev/mapper/${m.name}`, `/dev/${m.dm}`);
  for (const s of m.slaves) addDmSlave(tree, m.dm, s);
}

/** Adds one more path under a dm device. */
export function addDmSlave(tree: FakeHostTree, dm: string, slave: string): void {
  const dir = `/sys/devices/virtual/block/${dm}`;
  const slaveDir = realBlockDir(tree, slave);
  if (slaveDir === undefined) return;
  tree.symlink(`${dir}/slaves/${slave}`, slaveDir).symlink(`${slaveDir}/holders/${dm}`, dir);
}

/** Removes a dm device and the holder links pointing to it. */
export function removeDmDevice(tree: FakeHostTree, dm: string): void {
  const dir = `/sys/devices/virtual/block/${dm}`;
  for (const s of tree.list(`${dir}/slaves`)) {
    const slaveDir = realBlockDir(tree, s);
    if (slaveDir !== undefined) tree.remove(`${slaveDir}/holders/${dm}`);
  }
  const name = tree.exists(`${dir}/dm/name`) ? tree.read(`${dir}/dm/name`).trim() : undefined;
  tree.remove(dir).remove(`/sys/block/${dm}`).remove(`/sys/class/block/${dm}`).remove(`/dev/${dm}`);
  if (name !== undefined) tree.remove(`/dev/mapper/${name}`);
}

function readHctl(tree: FakeHostTree, name: string): string | undefined {
  const hctls = findAllScsiDirs(tree).filter((d) => tree.list(`${d}/block`).includes(name));
  return hctls[0]?.split("/").pop();
}

function findScsiDir(tree: FakeHostTree, hctl: string): string | undefined {
  return findAllScsiDirs(tree).find((d) => d.endsWith(`/${hctl}`));
}

function findAllScsiDirs(tree: FakeHostTree): string[] {
  const out: string[] = [];
  for (const host of tree.list("/sys/devices/platform").filter((h) => h.startsWith("host"))) {
    const hd = `/sys/devices/platform/${host}`;
    const parents = [hd, ...tree.list(hd).filter((e) => e.startsWith("session")).map((s) => `${hd}/${s}`)];
    for (const p of parents) {
      for (const t of tree.list(p).filter((e) => e.startsWith("target"))) {
        for (const l of tree.list(`${p}/${t}`).filter((e) => /^\d+:\d+:\d+:\d+$/.test(e))) out.push(`${p}/${t}/${l}`);
      }
    }
  }
  return out;
}

function realBlockDir(tree: FakeHostTree, name: string): string | undefined {
  if (name.startsWith("dm-")) return `/sys/devices/virtual/block/${name}`;
  const dir = findAllScsiDirs(tree).find((d) => tree.list(`${d}/block`).includes(name));
  return dir === undefined ? undefined : `${dir}/block/${name}`;
}
