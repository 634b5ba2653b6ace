/**
 * What the iSCSI lab tests read of the guest's initiator state (sysfs, iscsiadm, multipathd) and
 * the faults they inject (portal cuts with iptables). Tests only: child_process and sync fs.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, realpathSync } from "node:fs";
import { expect } from "vitest";
import type { AttachedDevice } from "../../src/core/records.js";
import { parseMultipathdMaps } from "../../src/connectors/iscsi/iscsi-parsers.js";
import { sysfsWwidToUdev } from "../../src/host/block-sysfs.js";
import { sh } from "./helpers.js";

/** open-iscsi's node database write lock. */
export const NODE_DB_LOCK = "/run/lock/iscsi/lock.write";

/** Sessions (`sessionN`) to `iqn`. */
export function sessionsOf(iqn: string): string[] {
  return readdirSync("/sys/class/iscsi_session").filter((s) => readFileSync(`/sys/class/iscsi_session/${s}/targetname`, "utf8").trim() === iqn);
}

/** SCSI disks whose WWID (udev form) is `wwid`. */
export function disksWithWwid(wwid: string): string[] {
  return readdirSync("/sys/block").filter((d) => {
    if (!d.startsWith("sd")) return false;
    try {
      return sysfsWwidToUdev(readFileSync(`/sys/block/${d}/device/wwid`, "utf8")) === wwid;
    } catch {
      return false;
    }
  });
}

/** dm devices of the multipath map of `wwid`. */
export function mapsWithWwid(wwid: string): string[] {
  return readdirSync("/sys/block").filter((d) => {
    try {
      return d.startsWith("dm-") && readFileSync(`/sys/block/${d}/dm/uuid`, "utf8").trim() === `mpath-${wwid}`;
    } catch {
      return false;
    }
  });
}

/** Multipath maps without any path left (what a detach must never leave). */
export function pathlessMaps(): string[] {
  return readdirSync("/sys/block").filter((d) => {
    try {
      return d.startsWith("dm-") && readFileSync(`/sys/block/${d}/dm/uuid`, "utf8").startsWith("mpath-") && readdirSync(`/sys/block/${d}/slaves`).length === 0;
    } catch {
      return false;
    }
  });
}

/** Node records of `iqn` (0 when iscsiadm finds none). */
export function nodeRecords(iqn: string): number {
  const r = spawnSync("iscsiadm", ["-m", "node", "-T", iqn], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.split("\n").filter((l) => l.startsWith("node.name")).length || 1 : 0;
}

/** Records `iscsiadm -m node` lists without an address (`[]:3260,4294967295`): corrupt ones. */
export function corruptRecords(): string[] {
  const r = spawnSync("iscsiadm", ["-m", "node"], { encoding: "utf8" });
  return r.stdout.split("\n").filter((l) => l.startsWith("[]:"));
}

/** After a disconnect: no session, sd device, dm map or node record of this volume remains, and the node database is usable. */
export function expectClean(iqn: string, wwid: string | undefined): void {
  expect(sessionsOf(iqn), `sessions of ${iqn}`).toEqual([]);
  if (wwid) {
    expect(disksWithWwid(wwid), `disks of ${wwid}`).toEqual([]);
    expect(mapsWithWwid(wwid), `maps of ${wwid}`).toEqual([]);
  }
  expect(nodeRecords(iqn), `node records of ${iqn}`).toBe(0);
  expect(existsSync(NODE_DB_LOCK), NODE_DB_LOCK).toBe(false);
  expect(corruptRecords(), "corrupt node records").toEqual([]);
}

/** Paths of a map as multipathd reports them. */
export function mapPaths(dm: string): { dev: string; dmState: string }[] {
  const maps = parseMultipathdMaps(sh(["multipathd", "show", "maps", "json"]))._unsafeUnwrap();
  return maps.find((m) => m.dm === dm)?.paths.map((p) => ({ dev: p.dev, dmState: p.dmState })) ?? [];
}

/** Polls `check` with back-off until it holds; returns the time it took. */
export async function until(what: string, timeoutMs: number, check: () => boolean): Promise<number> {
  const t0 = Date.now();
  let delay = 100;
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 1.5, 2000);
  }
  return Date.now() - t0;
}

/** The disk of the session to `address` among a device's paths. */
export function pathVia(dev: AttachedDevice, address: string): string {
  for (const p of dev.paths) {
    const name = p.replace("/dev/", "");
    const sid = /session(\d+)/.exec(realpathSync(`/sys/block/${name}/device`))?.[1];
    const conn = readdirSync("/sys/class/iscsi_connection").find((c) => c.startsWith(`connection${sid}:`));
    if (conn && readFileSync(`/sys/class/iscsi_connection/${conn}/persistent_address`, "utf8").trim() === address) return name;
  }
  throw new Error(`no path of ${dev.path} goes through ${address}`);
}

/** Drops all traffic to and from `address:port` (a dead portal); returns the undo. */
export function cutPortal(address: string, port: number): () => void {
  const rules = [
    ["INPUT", "-p", "tcp", "-d", address, "--dport", String(port), "-j", "DROP"],
    ["INPUT", "-p", "tcp", "-s", address, "--sport", String(port), "-j", "DROP"],
  ];
  for (const r of rules) sh(["iptables", "-A", ...r]);
  return () => {
    for (const r of rules) spawnSync("iptables", ["-D", ...r]);
  };
}
