/**
 * A real single-node Ceph cluster for tests (1 mon, 1 mgr, 1 bluestore OSD on a sparse file, and
 * optionally radosgw), started as root from Debian's packages without systemd or containers.
 * Everything lives under one temporary directory: config, keyrings, data, run dir (pid files, admin
 * sockets), logs. Daemons bind to 127.0.0.1 only; the monitor's ports are picked free at run time
 * and the other daemons pick free ports from Ceph's own range, so several clusters (other test
 * runs) can coexist on one machine. cephx is on.
 *
 * The cluster is described by serializable {@link CephClusterFacts}: a vitest globalSetup starts one
 * cluster and `provide`s its facts; test files `inject` them and {@link attachCephCluster}. Every
 * handle works from the directory alone (daemons are found through their pid files), so any
 * process holding the facts can create pools or users, stop the monitor for a fault test, or stop
 * the whole cluster.
 *
 * Testing code: promise-based, throws on failure. Not part of the public `volkit/testing` entry.
 */
import { randomUUID } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalRunner } from "../exec/local-runner.js";
import { freeLoopbackPort } from "./loopback-port.js";
import type { Argv, CommandRunner } from "../exec/runner.js";
import type { CephCaps, CephClient, CephCluster, CephClusterFacts, CephClusterOptions, CephStopReport, S3User } from "./ceph-cluster-types.js";
import { CLI_MOUNT_TIMEOUT_S, CLI_TIMEOUT_MS, DAEMONS, MGR_ID, MON_ID, OSD_ID, RGW_NAME, conf, type ClusterState } from "./ceph-conf.js";
import { daemonPid, killAll, ms, signal, until, waitGone } from "./ceph-processes.js";

export * from "./ceph-cluster-types.js";
export { freeLoopbackPort } from "./loopback-port.js";

class Cluster implements CephCluster {
  readonly #runner: CommandRunner = createLocalRunner();
  #state: ClusterState;
  readonly #log: (line: string) => void;

  constructor(state: ClusterState, log: (line: string) => void) {
    this.#state = state;
    this.#log = log;
  }

  get facts(): CephClusterFacts {
    const { dir, confPath, adminKeyring, fsid, monV2, monV1, monHost, startMs } = this.#state;
    return { dir, confPath, adminKeyring, fsid, monV2, monV1, monHost, startMs };
  }
  get dir(): string { return this.#state.dir; }
  get confPath(): string { return this.#state.confPath; }
  get adminKeyring(): string { return this.#state.adminKeyring; }
  get fsid(): string { return this.#state.fsid; }
  get monV2(): string { return this.#state.monV2; }
  get monV1(): string { return this.#state.monV1; }
  get monHost(): string { return this.#state.monHost; }
  get startMs(): number { return this.#state.startMs; }

  /** Runs a command; throws an Error with its (redacted) message on failure. */
  async exec(argv: Argv, options: { readonly stdin?: string; readonly timeoutMs?: number; readonly secrets?: readonly string[] } = {}): Promise<string> {
    const r = await this.#runner.run({
      argv,
      timeoutMs: options.timeoutMs ?? CLI_TIMEOUT_MS,
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
      ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
    });
    if (r.isErr()) throw new Error(`ceph fixture: ${r.error.message}`, { cause: r.error });
    return r.value.stdout;
  }

  ceph(args: readonly string[]): Promise<string> {
    return this.exec(["ceph", "--conf", this.confPath, "--client-mount-timeout", String(CLI_MOUNT_TIMEOUT_S), ...args]);
  }

  rbd(args: readonly string[]): Promise<string> {
    return this.exec(["rbd", "--conf", this.confPath, "--client-mount-timeout", String(CLI_MOUNT_TIMEOUT_S), ...args]);
  }

  async createPool(name: string): Promise<void> {
    await this.ceph(["osd", "pool", "create", name, "8", "8"]);
    await this.rbd(["pool", "init", name]);
  }

  async waitForStats(timeoutMs = 60_000): Promise<void> {
    const started = performance.now();
    await until("ceph df to report every pool", timeoutMs, async () => {
      const pools = JSON.parse(await this.ceph(["osd", "pool", "ls", "--format", "json"])) as string[];
      const df = JSON.parse(await this.ceph(["df", "--format", "json"])) as { stats?: { total_bytes?: number }; pools?: { name?: string }[] };
      const reported = new Set((df.pools ?? []).map((p) => p.name));
      return (df.stats?.total_bytes ?? 0) > 0 && pools.every((p) => reported.has(p));
    });
    this.#log(`ceph df fresh after ${ms(started)} ms`);
  }

  async createClient(id: string, caps: CephCaps): Promise<CephClient> {
    const capArgs = ["mon", caps.mon, "osd", caps.osd, ...(caps.mgr === undefined ? [] : ["mgr", caps.mgr])];
    const key = (await this.ceph(["auth", "get-or-create-key", `client.${id}`, ...capArgs])).trim();
    const keyringPath = join(this.dir, `client-${id}.keyring`);
    writeFileSync(keyringPath, `[client.${id}]\n\tkey = ${key}\n`, { mode: 0o600 });
    return { id, key, keyringPath };
  }

  async startRadosgw(): Promise<string> {
    if (this.#state.rgwPort !== undefined && this.#alive(RGW_NAME)) return this.#s3Endpoint(this.#state.rgwPort);
    const started = performance.now();
    const rgwPort = await freeLoopbackPort();
    this.#state = { ...this.#state, rgwPort };
    mkdirSync(join(this.dir, "rgw"), { recursive: true });
    this.#writeState();
    const keyring = join(this.dir, `ceph.${RGW_NAME}.keyring`);
    await this.ceph(["auth", "get-or-create", RGW_NAME, "mon", "allow rw", "osd", "allow rwx", "-o", keyring]);
    chmodSync(keyring, 0o600);
    await this.exec(["radosgw", "--conf", this.confPath, "-n", RGW_NAME]); // forks
    const endpoint = this.#s3Endpoint(rgwPort);
    await until(`radosgw to answer on ${endpoint}`, 60_000, async () => {
      try {
        return (await fetch(endpoint, { signal: AbortSignal.timeout(2000) })).status < 500;
      } catch {
        return false;
      }
    });
    this.#log(`radosgw answers on ${endpoint} after ${ms(started)} ms`);
    return endpoint;
  }

  async createS3User(uid: string): Promise<S3User> {
    const admin = ["radosgw-admin", "--conf", this.confPath, "user"] as const;
    // An existing user keeps its keys: `user info` prints them (create would fail).
    const out = await this.exec([...admin, "info", `--uid=${uid}`]).catch(() => this.exec([...admin, "create", `--uid=${uid}`, `--display-name=${uid}`]));
    const user = JSON.parse(out) as { keys?: { access_key?: string; secret_key?: string }[] };
    const k = user.keys?.[0];
    if (!k?.access_key || !k.secret_key) throw new Error(`ceph fixture: radosgw-admin user create printed no keys for ${uid}`);
    return { uid, accessKeyId: k.access_key, secretAccessKey: k.secret_key };
  }

  async stopMonitor(): Promise<void> {
    await this.#stopDaemon(`mon.${MON_ID}`, 30_000);
  }

  async startMonitor(): Promise<void> {
    await this.exec(["ceph-mon", "--conf", this.confPath, "-i", MON_ID]);
    await this.ceph(["mon", "stat"]);
  }

  async stop(): Promise<CephStopReport> {
    const started = performance.now();
    const killed: string[] = [];
    // radosgw before the OSD (the other order leaves it alive > 30 s); the OSD before the monitor
    // (else it waits 5 s for a monitor to report its shutdown to).
    for (const name of DAEMONS) if (await this.#stopDaemon(name, 30_000)) killed.push(name);
    rmSync(this.dir, { recursive: true, force: true });
    const stopMs = ms(started);
    this.#log(`stopped in ${stopMs} ms${killed.length ? ` (killed ${killed.join(", ")})` : ""}`);
    return { stopMs, killed };
  }

  /** Pid of a daemon of THIS cluster (its pid file names a live process started with our config). */
  pidOf(name: string): number | undefined {
    return daemonPid(this.dir, this.confPath, name);
  }

  #alive(name: string): boolean {
    return this.pidOf(name) !== undefined;
  }

  #s3Endpoint(port: number): string {
    return `http://127.0.0.1:${port}`;
  }

  /** SIGTERM, wait up to `graceMs`, then SIGKILL. True when SIGKILL was needed. */
  async #stopDaemon(name: string, graceMs: number): Promise<boolean> {
    const pid = this.pidOf(name);
    if (pid === undefined) return false;
    signal(pid, "SIGTERM");
    const gone = await waitGone(pid, graceMs);
    if (!gone) {
      signal(pid, "SIGKILL");
      await waitGone(pid, 5000);
    }
    rmSync(join(this.dir, "run", `${name}.pid`), { force: true });
    return !gone;
  }

  #writeState(): void {
    const s = this.#state;
    writeFileSync(s.confPath, conf(s.dir, s.fsid, s.monHost, s.osdBytes, s.rgwPort));
    writeFileSync(join(s.dir, "state.json"), JSON.stringify(s, null, 2));
  }

  /** Bootstraps the cluster in `this.dir` (called once by {@link startCephCluster}). */
  async bootstrap(pools: readonly string[]): Promise<void> {
    const { dir } = this;
    for (const sub of ["run", "log", "crash", "block", `mon/ceph-${MON_ID}`, `mgr/ceph-${MGR_ID}`, `osd/ceph-${OSD_ID}`]) mkdirSync(join(dir, sub), { recursive: true });
    this.#writeState();
    const monKeyring = join(dir, "mon.keyring");
    const t0 = performance.now();
    await this.exec(["ceph-authtool", "--create-keyring", monKeyring, "--gen-key", "-n", "mon.", "--cap", "mon", "allow *"]);
    await this.exec(["ceph-authtool", "--create-keyring", this.adminKeyring, "--gen-key", "-n", "client.admin", "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *", "--cap", "mds", "allow *"]);
    await this.exec(["ceph-authtool", "--create-keyring", join(dir, `ceph.mgr.${MGR_ID}.keyring`), "--gen-key", "-n", `mgr.${MGR_ID}`, "--cap", "mon", "allow profile mgr", "--cap", "osd", "allow *", "--cap", "mds", "allow *"]);
    for (const k of [this.adminKeyring, join(dir, `ceph.mgr.${MGR_ID}.keyring`)]) await this.exec(["ceph-authtool", monKeyring, "--import-keyring", k]);
    const monmap = join(dir, "monmap");
    await this.exec(["monmaptool", "--create", "--fsid", this.fsid, "--addv", MON_ID, this.monHost, monmap]);
    await this.exec(["ceph-mon", "--conf", this.confPath, "--mkfs", "-i", MON_ID, "--monmap", monmap, "--keyring", monKeyring]);
    await this.exec(["ceph-mon", "--conf", this.confPath, "-i", MON_ID]); // forks once it is up
    this.#log(`monitor up on ${this.monHost} after ${ms(t0)} ms`);

    // `osd new` first: without it, mkfs fails fetching the mon config (handle_auth_bad_method).
    const osdUuid = randomUUID();
    const osdKey = (await this.exec(["ceph-authtool", "--gen-print-key"])).trim();
    writeFileSync(join(dir, `ceph.osd.${OSD_ID}.keyring`), `[osd.${OSD_ID}]\n\tkey = ${osdKey}\n`, { mode: 0o600 });
    const secretJson = join(dir, "osd-secret.json");
    writeFileSync(secretJson, JSON.stringify({ cephx_secret: osdKey }), { mode: 0o600 });
    await this.ceph(["osd", "new", osdUuid, String(OSD_ID), "-i", secretJson]);
    rmSync(secretJson);
    await this.exec(["ceph-osd", "--conf", this.confPath, "-i", String(OSD_ID), "--mkfs", "--osd-uuid", osdUuid, "--no-mon-config"], { timeoutMs: 120_000 });
    await this.exec(["ceph-osd", "--conf", this.confPath, "-i", String(OSD_ID)]);
    await this.exec(["ceph-mgr", "--conf", this.confPath, "-i", MGR_ID]);
    await until("the OSD to be up", 60_000, async () => {
      const stat = JSON.parse(await this.ceph(["osd", "stat", "--format", "json"])) as { num_up_osds?: number };
      return stat.num_up_osds === 1;
    });
    this.#log(`OSD up after ${ms(t0)} ms`);
    for (const pool of pools) await this.createPool(pool);
    this.#log(`pools ${pools.join(", ")} ready after ${ms(t0)} ms`);
  }

  setStartMs(startMs: number): void {
    this.#state = { ...this.#state, startMs };
    this.#writeState();
  }
}

/**
 * Starts a cluster in a fresh temporary directory and returns once its pools are usable. Needs
 * root and the Debian packages ceph-mon, ceph-mgr, ceph-osd, ceph-common (radosgw for S3).
 * On failure everything started is stopped and the directory removed.
 *
 * @example
 * ```ts
 * const cluster = await startCephCluster({ pools: ["volumes"] });
 * const client = await cluster.createClient("cinder", rbdProfileCaps("volumes"));
 * // … rbd --conf cluster.confPath --id cinder --keyring client.keyringPath ls volumes …
 * await cluster.stop();
 * ```
 */
export async function startCephCluster(options: CephClusterOptions = {}): Promise<CephCluster> {
  const started = performance.now();
  const log = options.log ?? ((): void => {});
  const dir = mkdtempSync(join(options.parentDir ?? tmpdir(), "volkit-ceph-"));
  const [v2, v1] = [await freeLoopbackPort(), await freeLoopbackPort()];
  const monV2 = `127.0.0.1:${v2}`;
  const monV1 = `127.0.0.1:${v1}`;
  const cluster = new Cluster(
    {
      dir,
      confPath: join(dir, "ceph.conf"),
      adminKeyring: join(dir, "ceph.client.admin.keyring"),
      fsid: randomUUID(),
      monV2,
      monV1,
      monHost: `[v2:${monV2},v1:${monV1}]`,
      startMs: 0,
      osdBytes: (options.osdSizeGiB ?? 10) * 1024 ** 3,
    },
    log,
  );
  const cleanup = (): void => killAll(dir, cluster.confPath);
  process.once("exit", cleanup);
  try {
    await cluster.bootstrap(options.pools ?? ["volumes"]);
    if (options.radosgw) await cluster.startRadosgw();
  } catch (e) {
    await cluster.stop().catch(() => undefined);
    process.removeListener("exit", cleanup);
    throw e;
  }
  cluster.setStartMs(ms(started));
  log(`cluster ready in ${cluster.startMs} ms (${dir})`);
  return cluster;
}

/**
 * A handle on a cluster another process started (facts from vitest `inject`). Stopping it through
 * this handle works too, but is the starter's job.
 */
export function attachCephCluster(facts: CephClusterFacts, log: (line: string) => void = () => {}): CephCluster {
  const state = JSON.parse(readFileSync(join(facts.dir, "state.json"), "utf8")) as ClusterState;
  return new Cluster(state, log);
}
