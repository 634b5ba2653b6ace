import type { CephClusterFacts } from "./ceph-cluster-types.js";

/**
 * The Ceph test cluster's layout (daemon ids, stop order) and its `ceph.conf`: everything under one
 * directory, bound to 127.0.0.1, sized for one OSD.
 */

/** Id of the one monitor (`mon.a`). */
export const MON_ID = "a";
/** Id of the one manager (`mgr.x`). */
export const MGR_ID = "x";
/** Id of the one OSD (`osd.0`). */
export const OSD_ID = 0;
/** Name of the radosgw daemon. */
export const RGW_NAME = "client.rgw.x";
/** Bound for the fixture's own CLI calls (never the 300 s default of client_mount_timeout). */
export const CLI_MOUNT_TIMEOUT_S = 15;
/** Timeout of the fixture's own commands. */
export const CLI_TIMEOUT_MS = 60_000;
/** Daemons in stop order. */
export const DAEMONS = [RGW_NAME, `osd.${OSD_ID}`, `mgr.${MGR_ID}`, `mon.${MON_ID}`] as const;

/** The persisted state beside the facts (what a handle needs to rewrite the config). */
export interface ClusterState extends CephClusterFacts {
  /** Apparent size of the OSD's block file in bytes. */
  readonly osdBytes: number;
  /** radosgw's port, once started. */
  readonly rgwPort?: number;
}

/** The cluster's `ceph.conf` (a `[client.rgw.x]` section when `rgwPort` is given). */
export function conf(dir: string, fsid: string, monHost: string, osdBytes: number, rgwPort?: number): string {
  const daemon = (section: string): string[] => [`[${section}]`, `log file = ${dir}/log/$name.log`, `pid file = ${dir}/run/$name.pid`];
  const lines = [
    "[global]",
    `fsid = ${fsid}`,
    `mon host = ${monHost}`,
    "public addr = 127.0.0.1",
    // Without it the OSD binds its cluster (replication, heartbeat) messengers to 0.0.0.0.
    "cluster addr = 127.0.0.1",
    "ms bind ipv6 = false",
    "auth cluster required = cephx",
    "auth service required = cephx",
    "auth client required = cephx",
    "auth allow insecure global id reclaim = false",
    `keyring = ${dir}/$cluster.$name.keyring`,
    `run dir = ${dir}/run`,
    `crash dir = ${dir}/crash`,
    "osd pool default size = 1",
    "osd pool default min size = 1",
    // radosgw creates 7 pools: at the default 32 PGs each, one OSD passes the 250-PG limit.
    "osd pool default pg num = 8",
    "osd pool default pgp num = 8",
    "osd pool default pg autoscale mode = off",
    "osd crush chooseleaf type = 0",
    "mon allow pool size one = true",
    "mon allow pool delete = true",
    "mon warn on pool no redundancy = false",
    // These machines have little free disk in percent terms; do not warn about it.
    "mon data avail warn = 1",
    "",
    ...daemon("mon"),
    `mon data = ${dir}/mon/$cluster-$id`,
    // With the 1 s default every pool or snapshot create/remove waits ~1 s for paxos.
    "paxos propose interval = 0.1",
    `mon cluster log file = ${dir}/log/cluster.log`,
    "mon mgr digest period = 1",
    "",
    ...daemon("mgr"),
    `mgr data = ${dir}/mgr/$cluster-$id`,
    // Keeps `ceph df` fresh (driver capacity).
    "mgr stats period = 1",
    "",
    ...daemon("osd"),
    `osd data = ${dir}/osd/$cluster-$id`,
    "osd objectstore = bluestore",
    "osd crush initial weight = 1",
    // Outside the OSD data dir: inside it, mkfs fails with "Too many levels of symbolic links".
    `bluestore block path = ${dir}/block/$cluster-$id.img`,
    "bluestore block create = true",
    `bluestore block size = ${osdBytes}`,
    "",
  ];
  if (rgwPort !== undefined) {
    lines.push(
      ...daemon(RGW_NAME),
      `rgw frontends = beast endpoint=127.0.0.1:${rgwPort}`,
      `rgw data = ${dir}/rgw`,
      `admin socket = ${dir}/run/$name.asok`,
      // 512 by default: ~600 threads for a test gateway.
      "rgw thread pool size = 64",
      "",
    );
  }
  return lines.join("\n");
}
