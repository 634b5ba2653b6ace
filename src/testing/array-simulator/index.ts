import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalRunner } from "../../exec/local-runner.js";
import type { CommandRunner } from "../../exec/runner.js";
import { ARRAY_ERRORS } from "../../drivers/ipsan/ipsan-errors.js";
import { SimApi, REST_BASE, type SimRequestRecord } from "./sim-api.js";
import { registerCopyRoutes } from "./sim-copy-routes.js";
import { SimExports } from "./sim-exports.js";
import { SimFaults, type CutRule, type DelayRule, type FailRule } from "./sim-faults.js";
import { SimFileStore } from "./sim-files.js";
import { registerHostRoutes } from "./sim-host-routes.js";
import { registerLunRoutes } from "./sim-lun-routes.js";
import { registerMappingRoutes } from "./sim-mapping-routes.js";
import { registerQosRoutes } from "./sim-qos-routes.js";
import { portTargetIqn } from "./sim-render.js";
import { freeLoopbackPort } from "../loopback-port.js";
import { SimRouter } from "./sim-router.js";
import { RestListener, type ListenerMode } from "./sim-server.js";
import { emptyState, refreshHostLunIds, type SimStateData } from "./sim-state.js";
import { registerSnapshotRoutes } from "./sim-snapshot-routes.js";
import { makeSelfSignedCert } from "./sim-tls.js";
import type { SimBehaviour, SimWorld } from "./sim-world.js";

export type { SimRequestRecord } from "./sim-api.js";
export type { CutRule, DelayRule, FailRule, RequestMatch } from "./sim-faults.js";
export type { SimClonePair, SimEthPort, SimGroup, SimHost, SimInitiator, SimLun, SimLunCopy, SimMember, SimPool, SimQos, SimSnapshot, SimStateData, SimView } from "./sim-state.js";

/** Options of {@link startArraySimulator}. */
export interface ArraySimulatorOptions {
  /** `https` (default; a self-signed certificate is made at start) or `http`. */
  readonly protocol?: "https" | "http";
  /** Loopback addresses of the REST endpoints, one per controller (default 127.0.0.1 and 127.0.0.2). */
  readonly controllers?: readonly string[];
  /** Loopback addresses of the iSCSI portals, one per front-end port (default 127.0.0.1 and 127.0.0.2). */
  readonly portals?: readonly string[];
  /** Array user (default `admin`). */
  readonly user?: string;
  /** Array password (default: random). */
  readonly password?: string;
  /** Storage pools (default one pool `StoragePool001` of 1024 GiB). */
  readonly pools?: readonly { readonly name: string; readonly capacityGiB: number }[];
  /**
   * Serve mapped LUNs over iSCSI with a private tgtd (default true; tgtd starts with the first
   * mapping, needs root and the `tgt` package). False keeps the REST side only.
   */
  readonly iscsi?: boolean;
  /** Directory for LUN files and the certificate (default: a new temporary one, removed on stop; a given one is kept). */
  readonly dir?: string;
  /** JSON file persisting the REST state across runs (loaded at start when it exists). */
  readonly stateFile?: string;
  /** A session unused this long expires (default 20 minutes). */
  readonly sessionIdleTimeoutMs?: number;
  /** Deepest chain of unsplit clone LUNs (default 3). */
  readonly maxCloneDepth?: number;
  /** Shortest LUN copy / clone / rollback time, with progress meanwhile (default 200 ms). */
  readonly copyDurationMs?: number;
  /** Time a new LUN reports "initializing" (default 0). */
  readonly lunInitMs?: number;
  /** `PRODUCTVERSION` (default `V500R007C60`; clone pairs are a V600R003C00+ feature). */
  readonly productVersion?: string;
  /** Serial number / `deviceid` (default `2102351CNS10K9000042`). */
  readonly deviceId?: string;
  /** Runs openssl, cp, tgtd and tgtadm (default: the local runner). */
  readonly runner?: CommandRunner;
}

/** Fault injection of a running simulator. */
export interface ArraySimulatorFaults {
  /** Ends every REST session; the next call with an old token answers `code` (default -401). */
  expireSessions(code?: number): void;
  /** Answers `rule.code` for the next matching request(s) instead of running them. */
  failNext(rule: FailRule): void;
  /** Delays matching requests. */
  delay(rule: DelayRule): void;
  /**
   * Answers the next `rule.after` requests normally, then fails every request (an error code, by
   * default 1, not transient) until {@link clear}: what a client crashing at that step leaves,
   * since its own clean-up calls fail too. For retry tests: cut, run, clear, run again.
   */
  cutAfter(rule: CutRule): void;
  /** The next LUN copy or clone pair sync breaks (health fault, no data copied). */
  breakNextCopy(): void;
  /** The login answer's `accountstate` (3 expired, 4 reset, 1 normal). */
  setAccountState(state: number): void;
  /** Takes iSCSI port `index` down: tgtd drops its portal and connections; REST shows the port link down. */
  portalDown(index: number): Promise<void>;
  /** Brings iSCSI port `index` back. */
  portalUp(index: number): Promise<void>;
  /**
   * Makes REST controllers unreachable: `refuse` closes their listeners (connection refused),
   * `hang` accepts and never answers. All controllers when `controller` is omitted.
   */
  unreachable(mode: "refuse" | "hang", controller?: number): Promise<void>;
  /** Makes controllers answer again. */
  reachable(controller?: number): Promise<void>;
  /** Drops the REST rules (failures, delays, copy faults) and restores normal answers. */
  clear(): Promise<void>;
}

/** A running simulated IP-SAN array. */
export interface ArraySimulator {
  /** REST base URLs, one per controller (`https://127.0.0.1:<port>/deviceManager/rest/`). */
  readonly urls: readonly string[];
  /** Array user. */
  readonly user: string;
  /** Array password. */
  readonly password: string;
  /** The serial number (`deviceid`). */
  readonly deviceId: string;
  /** PEM certificate of the HTTPS listeners (trust it as the CA), undefined over http. */
  readonly caPem: string | undefined;
  /** The same certificate as a file. */
  readonly caFile: string | undefined;
  /** Where LUN and snapshot files live. */
  readonly dir: string;
  /** The iSCSI side: portals (`ip:port`), the port targets, and the tgtd control port once started. */
  readonly iscsi: { readonly port: number; readonly portals: readonly string[]; readonly targets: readonly { readonly portal: string; readonly iqn: string }[]; controlPort(): number | undefined };
  /** Every REST request handled so far (no bodies). */
  readonly requests: readonly SimRequestRecord[];
  /** Fault injection. */
  readonly faults: ArraySimulatorFaults;
  /** A deep copy of the array's objects, for assertions. */
  snapshot(): SimStateData;
  /** Connection settings for volkit's IP-SAN client (`restUrls`, `user`, `password`, `tls`). */
  connection(): { restUrls: string[]; user: string; password: string; tls: { verify: boolean; caFile?: string } };
  /** Starts tgtd now instead of at the first mapping. */
  startIscsi(): Promise<void>;
  /** Stops listeners and tgtd, waits for running copies, removes the files (a given `dir` is kept). */
  stop(): Promise<void>;
}


/**
 * Starts a simulated OceanStor-style IP-SAN array: the REST dialect over HTTP(S) on one listener
 * per controller, state in memory (optionally persisted), LUNs as sparse files, mapped LUNs served
 * by a private tgtd on the portals. A test tool: promise-based, throws on setup failure.
 *
 * @example
 * ```ts
 * const sim = await startArraySimulator({ protocol: "http", iscsi: false });
 * const client = (await createIpsanClient(sim.connection()))._unsafeUnwrap();
 * // …
 * await sim.stop();
 * ```
 */
export async function startArraySimulator(options: ArraySimulatorOptions = {}): Promise<ArraySimulator> {
  const runner = options.runner ?? createLocalRunner();
  const controllers = options.controllers ?? ["127.0.0.1", "127.0.0.2"];
  const portalHosts = options.portals ?? ["127.0.0.1", "127.0.0.2"];
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "volkit-array-sim-")));
  await mkdir(dir, { recursive: true });
  const behaviour: SimBehaviour = {
    deviceId: options.deviceId ?? "2102351CNS10K9000042",
    systemWwn: "21004846fb8ca15f",
    productVersion: options.productVersion ?? "V500R007C60",
    maxCloneDepth: options.maxCloneDepth ?? 3,
    copyDurationMs: options.copyDurationMs ?? 200,
    lunInitMs: options.lunInitMs ?? 0,
  };
  const user = options.user ?? "admin";
  const password = options.password ?? `Sim-${randomBytes(9).toString("base64url")}`;

  let state = emptyState();
  if (options.stateFile && existsSync(options.stateFile)) state = JSON.parse(await readFile(options.stateFile, "utf8")) as SimStateData;
  else {
    for (const [i, pool] of (options.pools ?? [{ name: "StoragePool001", capacityGiB: 1024 }]).entries()) {
      state.pools.push({ id: String(i), name: pool.name, totalSectors: pool.capacityGiB * 2 * 1024 * 1024 });
    }
    portalHosts.forEach((ip, i) => state.ethPorts.push({ id: String(4096 + i), name: `P${i}`, location: `CTE0.A.IOM0.P${i}`, ip, healthStatus: "1", runningStatus: "10" }));
  }

  const iscsiPort = await freeLoopbackPort(portalHosts);
  const files = new SimFileStore(dir, runner);
  await files.init();
  const exports = new SimExports({ runner, iscsiPort, systemWwn: behaviour.systemWwn });
  const iscsiEnabled = options.iscsi ?? true;
  const faults = new SimFaults();
  const tasks = new Set<Promise<void>>();
  let persisting: Promise<void> = Promise.resolve();

  const persist = async (): Promise<void> => {
    const file = options.stateFile;
    if (!file) return;
    const text = JSON.stringify(state, null, 2);
    persisting = persisting.then(async () => {
      await writeFile(`${file}.tmp`, text, { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    });
    await persisting;
  };

  const world: SimWorld = {
    state,
    behaviour,
    files,
    iscsiPort,
    takeCopyFault: () => faults.takeCopyFault(),
    now: () => Date.now(),
    commit: async () => {
      refreshHostLunIds(state);
      await persist();
      if (iscsiEnabled) await exports.sync(state);
    },
    refreshExport: async (lunId) => {
      const lun = state.luns.find((l) => l.id === lunId);
      if (lun && iscsiEnabled) await exports.refreshFile(lun.file);
    },
    background: (task) => {
      const run = task().catch(() => undefined);
      tasks.add(run);
      void run.finally(() => tasks.delete(run));
    },
  };

  const router = new SimRouter();
  registerLunRoutes(router, world);
  registerSnapshotRoutes(router, world);
  registerCopyRoutes(router, world);
  registerHostRoutes(router, world);
  registerMappingRoutes(router, world);
  registerQosRoutes(router, world);
  const api = new SimApi(router, faults, { user, password, deviceId: behaviour.deviceId, idleTimeoutMs: options.sessionIdleTimeoutMs ?? 20 * 60_000 });

  const protocol = options.protocol ?? "https";
  const tls = protocol === "https" ? await makeSelfSignedCert(runner, dir, controllers) : undefined;
  const listeners = controllers.map((host) => new RestListener(host, api.handle, tls));
  try {
    for (const l of listeners) await l.listen();
  } catch (e) {
    for (const l of listeners) await l.close();
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const urls = listeners.map((l) => `${protocol}://${l.host}:${l.port}${REST_BASE}`);
  const pick = (controller: number | undefined): RestListener[] => (controller === undefined ? listeners : listeners.filter((_l, i) => i === controller));
  const setModes = async (mode: ListenerMode, controller: number | undefined): Promise<void> => {
    for (const l of pick(controller)) await l.setMode(mode);
  };
  const setPortal = async (index: number, up: boolean): Promise<void> => {
    const port = state.ethPorts[index];
    if (!port) throw new RangeError(`no iSCSI port ${index}`);
    port.runningStatus = up ? "10" : "11";
    if (iscsiEnabled) await exports.setPortal(state.ethPorts, index, up);
  };

  return {
    urls,
    user,
    password,
    deviceId: behaviour.deviceId,
    caPem: tls?.cert,
    caFile: tls?.certFile,
    dir,
    iscsi: {
      port: iscsiPort,
      portals: state.ethPorts.map((p) => `${p.ip}:${iscsiPort}`),
      targets: state.ethPorts.map((p) => ({ portal: `${p.ip}:${iscsiPort}`, iqn: portTargetIqn(behaviour.systemWwn, p) })),
      controlPort: () => exports.tgtd?.controlPort,
    },
    get requests() {
      return api.log;
    },
    faults: {
      expireSessions: (code = ARRAY_ERRORS.UNAUTHORIZED.code) => api.expireSessions(code),
      failNext: (rule) => faults.addFailure(rule),
      delay: (rule) => faults.addDelay(rule),
      cutAfter: (rule) => faults.cutAfter(rule),
      breakNextCopy: () => faults.breakCopies(1),
      setAccountState: (s) => (api.accountState = s),
      portalDown: (index) => setPortal(index, false),
      portalUp: (index) => setPortal(index, true),
      unreachable: (mode, controller) => setModes(mode, controller),
      reachable: (controller) => setModes("up", controller),
      clear: async () => {
        faults.clear();
        api.accountState = 1;
        await setModes("up", undefined);
      },
    },
    snapshot: () => structuredClone(state),
    connection: () => ({ restUrls: [...urls], user, password, tls: tls ? { verify: true, caFile: tls.certFile } : { verify: true } }),
    startIscsi: async () => {
      if (!iscsiEnabled) throw new Error("the simulator was started with iscsi: false");
      await exports.ensureStarted(state.ethPorts);
      await exports.sync(state);
    },
    stop: async () => {
      for (const l of listeners) await l.close();
      await Promise.all([...tasks]);
      await exports.stop();
      await persisting;
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
