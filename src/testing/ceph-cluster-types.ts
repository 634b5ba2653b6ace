/**
 * The shapes of the Ceph test cluster (see `ceph-cluster.ts`): its options, its serializable facts,
 * its clients and caps, and the handle's interface. Re-exported by `ceph-cluster.ts`.
 */

/** Options of {@link startCephCluster}. */
export interface CephClusterOptions {
  /** Parent of the cluster's temporary directory (default: the OS temp dir). */
  readonly parentDir?: string;
  /** Apparent size of the OSD's sparse block file in GiB (default 10). */
  readonly osdSizeGiB?: number;
  /** Pools created (and `rbd pool init`ed) at start (default `["volumes"]`). */
  readonly pools?: readonly string[];
  /** Start radosgw with the cluster (default false; {@link CephCluster.startRadosgw} later works too). */
  readonly radosgw?: boolean;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** Where a running cluster is and how to reach it; JSON-serializable (vitest `provide`). */
export interface CephClusterFacts {
  /** The cluster's directory (config, keyrings, data, run dir, logs). */
  readonly dir: string;
  /** `ceph.conf` of the cluster (usable by every client: `--conf`, `rbd:…:conf=`). */
  readonly confPath: string;
  /** Keyring of `client.admin`. */
  readonly adminKeyring: string;
  /** Cluster fsid. */
  readonly fsid: string;
  /** The monitor's msgr2 address (`127.0.0.1:<port>`). */
  readonly monV2: string;
  /** The monitor's legacy msgr1 address (`127.0.0.1:<port>`). */
  readonly monV1: string;
  /** `mon host` as written in the config: `[v2:127.0.0.1:P2,v1:127.0.0.1:P1]`. */
  readonly monHost: string;
  /** Milliseconds from an empty directory to usable pools. */
  readonly startMs: number;
}

/** A cephx client created by {@link CephCluster.createClient}. */
export interface CephClient {
  /** Client id (`volkit` for `client.volkit`). */
  readonly id: string;
  /** The secret key (base64). */
  readonly key: string;
  /** A 0600 keyring file holding the key. */
  readonly keyringPath: string;
}

/** Capabilities of a cephx client (`mon`, `osd`, `mgr` cap strings). */
export interface CephCaps {
  /** Monitor caps, e.g. `profile rbd`. */
  readonly mon: string;
  /** OSD caps, e.g. `profile rbd pool=volumes`. */
  readonly osd: string;
  /** Manager caps, e.g. `profile rbd pool=volumes`. */
  readonly mgr?: string;
}

/** The caps of a restricted RBD client confined to `pool` (what Cinder's and nova's users get). */
export function rbdProfileCaps(pool: string): CephCaps {
  return { mon: "profile rbd", osd: `profile rbd pool=${pool}`, mgr: `profile rbd pool=${pool}` };
}

/** An S3 user of radosgw. */
export interface S3User {
  /** User id. */
  readonly uid: string;
  /** S3 access key id. */
  readonly accessKeyId: string;
  /** S3 secret access key. */
  readonly secretAccessKey: string;
}

/** What {@link CephCluster.stop} measured. */
export interface CephStopReport {
  /** Milliseconds from the first SIGTERM to the directory removed. */
  readonly stopMs: number;
  /** Daemons that needed SIGKILL. */
  readonly killed: readonly string[];
}

/** A running single-node cluster. */
export interface CephCluster extends CephClusterFacts {
  /** The facts, for vitest `provide`. */
  readonly facts: CephClusterFacts;
  /** Runs the `ceph` CLI as client.admin and returns its stdout (e.g. `["df", "--format", "json"]`). */
  ceph(args: readonly string[]): Promise<string>;
  /** Runs the `rbd` CLI as client.admin and returns its stdout. */
  rbd(args: readonly string[]): Promise<string>;
  /** Creates a replicated pool of 8 PGs and initializes it for RBD (idempotent). */
  createPool(name: string): Promise<void>;
  /**
   * Waits until `ceph df` reports capacity and every pool: the manager becomes active and sends its
   * first statistics some 5-8 s after the pools are usable; until then `ceph df` shows zeros.
   */
  waitForStats(timeoutMs?: number): Promise<void>;
  /** Creates (or fetches) a cephx client with `caps`; its key is also written to a 0600 keyring. */
  createClient(id: string, caps: CephCaps): Promise<CephClient>;
  /** Starts radosgw on a free loopback port (idempotent) and returns its S3 endpoint URL. */
  startRadosgw(): Promise<string>;
  /** Creates an S3 user, or returns the keys of an existing one (radosgw must be running). */
  createS3User(uid: string): Promise<S3User>;
  /** Stops the monitor (SIGTERM, waits for its exit); clients then find no monitor. */
  stopMonitor(): Promise<void>;
  /** Starts the monitor again and waits until it answers. */
  startMonitor(): Promise<void>;
  /** Stops radosgw, the OSD, the manager and the monitor (in that order), kills stragglers, removes the directory. */
  stop(): Promise<CephStopReport>;
}
