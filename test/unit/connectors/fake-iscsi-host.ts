/**
 * A simulated iSCSI initiator host for the connector's unit tests: a FakeRunner that answers
 * iscsiadm / multipath / multipathd / blockdev like the real tools (texts and exit codes from
 * test/fixtures/iscsi, captured in the storage lab), and a FakeHostTree whose sysfs reacts to the
 * connector's writes the way Linux 6.1 does (a targeted scan adds the LUN's disk, `delete` removes
 * it, logout removes the session and its disks, `rescan` updates the size).
 */
import { readFileSync } from "node:fs";
import { type ResultAsync } from "neverthrow";
import type { VolkitError } from "../../../src/core/errors.js";
import type { CommandOutput, CommandRunner, CommandSpec } from "../../../src/exec/runner.js";
import { FakeHostTree } from "../../../src/testing/fake-tree.js";
import { addDmDevice, addDmSlave, addIscsiSession, addScsiDisk, removeDmDevice, removeIscsiSession, removeScsiDisk, setDiskSize } from "../../../src/testing/fake-sysfs.js";
import type { HostFs } from "../../../src/host/host-fs.js";
import { FakeRunner, type FakeReply } from "../../../src/testing/fake-runner.js";
import { createIscsiConnector, type IscsiConnector } from "../../../src/connectors/iscsi/iscsi-connector.js";
import type { IscsiConnectorConfig } from "../../../src/connectors/iscsi/iscsi-config.js";
import type { EventBus, Logger } from "../../../src/core/events.js";
import type { LockBackend } from "../../../src/core/locks.js";

/** Reads a captured fixture. */
export const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/iscsi/${name}`, import.meta.url), "utf8");

export const INITIATOR = "iqn.2026-11.io.volkit:lab-initiator";

/** The stdout of the first command in a captured fixture file that exited with `exit`. */
export function capturedStdout(file: string, exit: number): string {
  const m = new RegExp(`# exit ${exit}, [\\d.]+ s\\n# stdout:\\n([\\s\\S]*?)# stderr:\\n`).exec(fixture(file));
  if (m?.[1] === undefined) throw new Error(`no command with exit ${exit} in fixture ${file}`);
  return m[1];
}

/** The stderr of the first command in a captured fixture file that exited with `exit`. */
export function capturedStderr(file: string, exit: number): string {
  const m = new RegExp(`# exit ${exit}, [\\d.]+ s\\n# stdout:\\n[\\s\\S]*?# stderr:\\n([\\s\\S]*?)\\n\\n`).exec(fixture(file));
  if (!m?.[1]) throw new Error(`no command with exit ${exit} in fixture ${file}`);
  return m[1];
}

export interface SimLun {
  wwid: string; // sysfs form, naa.…
  sizeBytes: number;
}

export interface SimTarget {
  iqn: string;
  portals: string[];
  luns: Map<number, SimLun>;
  chap?: { username: string; password: string };
}

interface SimSession {
  id: number;
  host: number;
  iqn: string;
  portal: string;
}

interface SimMap {
  dm: string;
  wwid: string; // udev form
  slaves: string[];
}

/** One start or end of a command, in order (for parallelism proofs without wall-clock asserts). */
export interface TimelineEntry {
  readonly seq: number;
  readonly phase: "start" | "end";
  readonly argv: readonly string[];
}

const udev = (w: string): string => `3${w.slice(4)}`;
/** The kernel's disk suffix of the n-th disk: a…z, aa…az, ba… */
const diskLetters = (n: number): string => (n < 26 ? "" : diskLetters(Math.floor(n / 26) - 1)) + String.fromCharCode(97 + (n % 26));
/** open-iscsi's node database write lock. */
export const NODE_DB_LOCK = "/run/lock/iscsi/lock.write";
const key = (iqn: string, portal: string): string => `${iqn}|${portal}`;

/** The simulated host. */
export class FakeIscsiHost {
  readonly tree = FakeHostTree.create("volkit-iscsi-");
  readonly fs: HostFs = this.tree.hostFs();
  readonly fake = new FakeRunner();
  readonly timeline: TimelineEntry[] = [];
  readonly targets = new Map<string, SimTarget>();
  readonly nodes = new Map<string, Map<string, string>>();
  readonly sessions = new Map<string, SimSession>();
  readonly maps = new Map<string, SimMap>();
  /** Scans of one LUN needed before its disk appears (key `iqn|portal|lun`, default 1). */
  readonly scansNeeded = new Map<string, number>();
  readonly scansSeen = new Map<string, number>();
  /** Per portal: a scripted login reply (exit code and delay). */
  readonly loginReplies = new Map<string, FakeReply>();
  /** Login delay for every portal (ms). */
  loginDelayMs = 0;
  /** multipathd answers. */
  multipathd = true;
  /**
   * multipathd's find_multipaths (`show config` answers the lab's capture for it): `off` builds a
   * map on its own when a disk appears (the lab's `no`), `strict` only on `multipath -a` + `add path`.
   */
  findMultipaths: "off" | "strict" = "strict";
  /** multipathd builds a map this many ms after `add path` (0: during the call, like multipathd). */
  mapDelayMs = 0;
  /** With `findMultipaths` off: multipathd builds a map this many ms after the disk's uevent (Infinity: never). */
  ueventMapDelayMs = 0;
  /** New disks start in this SCSI state and turn `running` after `healAfterMs` (a transport still in recovery). */
  newDiskState: { state: string; healAfterMs: number } | undefined;
  /** `multipathd del path` takes this long (ms). */
  delPathDelayMs = 0;
  /** `--op delete` takes this long (ms). */
  deleteDelayMs = 0;
  /** The second path joins a map this many ms after the map appeared with the first (0: at once). */
  joinDelayMs = 0;
  /** `--logout` takes this long (ms). */
  logoutDelayMs = 0;
  /** multipathd never builds a map (a broken multipath.conf blacklist, say). */
  mapNever = false;
  /** `multipath -f` answers "in use" this many times first (Infinity: always). */
  flushBusy = 0;
  /** A udev probe holds every map open until `udevadm settle` has run (the event processed). */
  holdMapUntilSettle = false;
  /** Something stuck on the map's paths holds it open until it has no paths left. */
  holdMapWhilePaths = false;
  /** `udevadm settle` calls so far. */
  settles = 0;
  /** A stale node database lock survives the iscsiadm that times out on it (not what 2.1.8 does). */
  lockStaysStale = false;
  /** `blockdev --flushbufs` fails (dead target). */
  flushFails = false;
  /** Disks the kernel refuses to delete (`echo 1 > delete` has no effect). */
  readonly stuckDisks = new Set<string>();
  #nextSession = 1;
  #nextHost = 0;
  #nextDisk = 0;
  #nextDm = 3;

  /**
   * Records starts/ends of every command around the FakeRunner, and models open-iscsi's node
   * database lock: an iscsiadm killed while it runs (its signal fired) dies holding the lock and
   * leaves `/run/lock/iscsi/lock.write` behind, as SIGTERM does to the real one.
   */
  readonly runner: CommandRunner = {
    description: "fake iscsi host",
    run: (spec: CommandSpec): ResultAsync<CommandOutput, VolkitError> => {
      this.timeline.push({ seq: this.timeline.length, phase: "start", argv: spec.argv });
      const end = (): void => {
        this.timeline.push({ seq: this.timeline.length, phase: "end", argv: spec.argv });
      };
      return this.fake.run(spec).map((o) => {
        end();
        return o;
      }).mapErr((e) => {
        end();
        const killed = (e.code === "ABORTED" || e.code === "TIMEOUT") && spec.signal?.aborted === true;
        if (killed && spec.argv[0] === "iscsiadm") this.killedIscsiadm++;
        if (killed && spec.argv[0] === "iscsiadm" && !this.tree.lexists(NODE_DB_LOCK)) this.tree.file(NODE_DB_LOCK);
        return e;
      });
    },
  };
  /** iscsiadm processes killed while they ran. */
  killedIscsiadm = 0;

  constructor() {
    this.tree.file("/etc/iscsi/initiatorname.iscsi", fixture("initiatorname.iscsi"));
    this.tree.dir("/sys/class/iscsi_session").dir("/sys/class/iscsi_connection").dir("/sys/block").dir("/sys/class/block");
    this.#rules();
    this.#hooks();
  }

  addTarget(iqn: string, portals: string[], luns: Record<number, SimLun>, chap?: { username: string; password: string }): SimTarget {
    const t: SimTarget = { iqn, portals, luns: new Map(Object.entries(luns).map(([k, v]) => [Number(k), v])), ...(chap ? { chap } : {}) };
    this.targets.set(iqn, t);
    return t;
  }

  connector(config: IscsiConnectorConfig = {}, extra: { locks?: LockBackend; logger?: Logger; events?: EventBus } = {}): IscsiConnector {
    return createIscsiConnector(
      { poll: { intervalMs: 2, minMs: 1, maxMs: 4 }, timeouts: { deviceMs: 2000, mapMs: 2000, removeMs: 2000, mapFallbackMs: 50 }, ...config },
      { runner: this.runner, hostFs: this.fs, resolveHost: (h) => Promise.resolve([h]), ...extra },
    )._unsafeUnwrap();
  }

  /** Disks currently present (`sda`…). */
  disks(): string[] {
    return this.tree.list("/sys/block").filter((n) => n.startsWith("sd"));
  }

  /** dm devices currently present. */
  dms(): string[] {
    return this.tree.list("/sys/block").filter((n) => n.startsWith("dm-"));
  }

  /** Multipath maps present without any path (what a detach must never leave). */
  pathlessMaps(): string[] {
    return [...this.maps.values()].filter((m) => m.slaves.length === 0).map((m) => m.dm);
  }

  /** Logs in outside the connector (a pre-existing session) and scans `luns`. */
  preLogin(iqn: string, portal: string, luns: number[] = []): SimSession {
    this.nodes.set(key(iqn, portal), new Map([["node.startup", "automatic"]]));
    const s = this.#login(iqn, portal);
    for (const l of luns) this.#scanLun(s, l, true);
    return s;
  }

  /** Scans one LUN of a session as the kernel would (used by preLogin and scan writes). */
  #scanLun(s: SimSession, lun: number, force = false): void {
    const t = this.targets.get(s.iqn);
    const l = t?.luns.get(lun);
    const k = `${s.iqn}|${s.portal}|${lun}`;
    const seen = (this.scansSeen.get(k) ?? 0) + 1;
    this.scansSeen.set(k, seen);
    if (!l || (!force && seen < (this.scansNeeded.get(k) ?? 1))) return;
    if (this.#diskOf(s, lun) !== undefined) return;
    const name = `sd${diskLetters(this.#nextDisk++)}`;
    addScsiDisk(this.tree, { host: s.host, session: s.id, lun, name, wwid: l.wwid, sizeBytes: l.sizeBytes });
    const st = this.newDiskState;
    if (st) {
      this.setDiskState(name, st.state);
      setTimeout(() => this.tree.lexists(`/sys/block/${name}`) && this.setDiskState(name, "running"), st.healAfterMs);
    }
    if (this.findMultipaths === "off" && this.multipathd && !this.mapNever) this.#buildLater(name, "uevent");
  }

  /** Adds a disk to its map (making the map) as multipathd does on its uevent, after the configured delays. */
  #buildLater(disk: string, why: "uevent" | "add"): void {
    const build = (): void => {
      if (this.tree.lexists(`/sys/block/${disk}`)) this.#addToMap(disk, this.tree.read(`/sys/block/${disk}/device/wwid`).trim());
    };
    const joins = [...this.maps.values()].some((m) => m.wwid === udev(this.tree.read(`/sys/block/${disk}/device/wwid`).trim()));
    const delay = joins && this.joinDelayMs > 0 ? this.joinDelayMs : why === "uevent" ? this.ueventMapDelayMs : this.mapDelayMs;
    if (delay === Number.POSITIVE_INFINITY) return;
    if (delay > 0) setTimeout(build, delay);
    else build();
  }

  /** Node records (`iqn|portal`) cut short by a killed write. */
  readonly corruptNodes = new Set<string>();

  /** Leaves a node record cut short, as an iscsiadm killed while writing it does: the record file, empty. */
  corruptRecord(iqn: string, portal: string): string {
    const file = this.#recordFile(iqn, portal);
    this.tree.file(file, "");
    this.corruptNodes.add(key(iqn, portal));
    this.nodes.delete(key(iqn, portal));
    return file;
  }

  #recordFile(iqn: string, portal: string): string {
    return `/etc/iscsi/nodes/${iqn}/${portal.replace(":", ",")}`;
  }

  /** Sets a disk's SCSI state (`running`, `blocked`…), as the transport does during recovery. */
  setDiskState(disk: string, state: string): void {
    this.tree.file(`/sys/block/${disk}/device/state`, `${state}\n`);
  }

  #diskOf(s: SimSession, lun: number): string | undefined {
    const dir = `/sys/devices/platform/host${s.host}/session${s.id}/target${s.host}:0:0/${s.host}:0:0:${lun}/block`;
    return this.tree.list(dir)[0];
  }

  #login(iqn: string, portal: string): SimSession {
    const s: SimSession = { id: this.#nextSession++, host: this.#nextHost++, iqn, portal };
    const [address, port] = portal.split(":");
    addIscsiSession(this.tree, { id: s.id, host: s.host, targetIqn: iqn, address: address ?? "", port: Number(port) });
    this.sessions.set(key(iqn, portal), s);
    return s;
  }

  #logout(s: SimSession): void {
    for (const l of this.tree.list(`/sys/devices/platform/host${s.host}/session${s.id}`).filter((e) => e.startsWith("target"))) {
      for (const hctl of this.tree.list(`/sys/devices/platform/host${s.host}/session${s.id}/${l}`).filter((e) => e.includes(":"))) {
        for (const disk of this.tree.list(`/sys/devices/platform/host${s.host}/session${s.id}/${l}/${hctl}/block`)) {
          this.#dropFromMaps(disk);
          removeScsiDisk(this.tree, disk);
        }
      }
    }
    removeIscsiSession(this.tree, s.host, s.id);
    this.sessions.delete(key(s.iqn, s.portal));
  }

  #addToMap(disk: string, sysfsWwid: string): void {
    const wwid = udev(sysfsWwid);
    const m = this.maps.get(wwid);
    if (m) {
      if (!m.slaves.includes(disk)) {
        m.slaves.push(disk);
        addDmSlave(this.tree, m.dm, disk);
      }
      return;
    }
    const dm = `dm-${this.#nextDm++}`;
    const size = Number(this.tree.read(`/sys/block/${disk}/size`).trim()) * 512;
    this.maps.set(wwid, { dm, wwid, slaves: [disk] });
    addDmDevice(this.tree, { dm, name: wwid, uuid: `mpath-${wwid}`, slaves: [disk], sizeBytes: size });
  }

  #dropFromMaps(disk: string): void {
    for (const m of this.maps.values()) {
      const i = m.slaves.indexOf(disk);
      if (i >= 0) {
        m.slaves.splice(i, 1);
        this.tree.remove(`/sys/devices/virtual/block/${m.dm}/slaves/${disk}`);
      }
    }
  }

  #hooks(): void {
    this.tree.onWrite(/^\/sys\/class\/scsi_host\/host(\d+)\/scan$/, (_p, data, m) => {
      const host = Number(m[1]);
      const s = [...this.sessions.values()].find((x) => x.host === host);
      const lun = Number(data.trim().split(/\s+/)[2]);
      if (s) this.#scanLun(s, lun);
    });
    this.tree.onWrite(/^\/sys\/block\/(sd[a-z]+)\/device\/delete$/, (_p, _d, m) => {
      const disk = m[1] as string;
      if (this.stuckDisks.has(disk)) return;
      this.#dropFromMaps(disk);
      removeScsiDisk(this.tree, disk);
    });
    this.tree.onWrite(/^\/sys\/bus\/scsi\/drivers\/sd\/(\d+):(\d+):(\d+):(\d+)\/rescan$/, (_p, _d, m) => {
      const host = Number(m[1]);
      const lun = Number(m[4]);
      const s = [...this.sessions.values()].find((x) => x.host === host);
      const l = s ? this.targets.get(s.iqn)?.luns.get(lun) : undefined;
      const disk = s ? this.#diskOf(s, lun) : undefined;
      if (l && disk) setDiskSize(this.tree, disk, l.sizeBytes);
    });
  }

  #rules(): void {
    const f = this.fake;
    const node = (a: readonly string[]): { iqn: string; portal: string; rest: string[] } | undefined =>
      a[0] === "iscsiadm" && a[1] === "-m" && a[2] === "node" && a[3] === "-T" && a[5] === "-p" ? { iqn: a[4] ?? "", portal: a[6] ?? "", rest: a.slice(7) } : undefined;
    const fixtureStderr = (file: string, exit: number): string => capturedStderr(`raw/${file}`, exit);
    const faultStderr = (file: string, exit: number): string => capturedStderr(`faults/${file}`, exit);
    f.on((a) => node(a) !== undefined, (spec): FakeReply => {
      const n = node(spec.argv);
      if (!n) return { exitCode: 1 };
      const k = key(n.iqn, n.portal);
      const rec = this.nodes.get(k);
      const [op, ...args] = n.rest;
      // A record cut short (0 bytes): what iscsiadm 2.1.8 answers (faults/corrupt-record.txt).
      if (this.corruptNodes.has(k) && this.tree.lexists(this.#recordFile(n.iqn, n.portal))) {
        if (op === "--interface") return { exitCode: 6, stderr: faultStderr("corrupt-record.txt", 6) };
        return { exitCode: 21, stderr: "iscsiadm: No records found\n" };
      }
      // A stale lock: this call waits out iscsiadm's 30 s, fails, and its exit removes the lock.
      if (this.tree.lexists(NODE_DB_LOCK)) {
        if (!this.lockStaysStale) this.tree.remove(NODE_DB_LOCK);
        return { exitCode: 6, stderr: faultStderr("db-locked.txt", 6), delayMs: 5 };
      }
      if (op === undefined) return rec ? { stdout: `# BEGIN RECORD 2.1.8\nnode.name = ${n.iqn}\n# END RECORD\n` } : { exitCode: 21, stderr: "iscsiadm: No records found\n" };
      if (op === "--interface" && args.join(" ") === "default --op new") {
        this.nodes.set(k, new Map());
        return { stdout: `New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] ${n.portal.replace(":", ",")},-1 ${n.iqn}] added\n` };
      }
      if (op === "--op" && args[0] === "update") {
        if (!rec) return { exitCode: 21, stderr: "iscsiadm: No records found\n" };
        for (let i = 1; i + 3 < args.length; i += 4) if (args[i] === "-n" && args[i + 2] === "-v") rec.set(args[i + 1] ?? "", args[i + 3] ?? "");
        return {};
      }
      if (op === "--op" && args[0] === "delete") {
        if (!rec) return { exitCode: 21, stderr: "iscsiadm: No records found\n", delayMs: this.deleteDelayMs };
        this.nodes.delete(k);
        return { delayMs: this.deleteDelayMs };
      }
      if (op === "--login") {
        const scripted = this.loginReplies.get(n.portal);
        const delayMs = scripted?.delayMs ?? this.loginDelayMs;
        if (scripted?.exitCode !== undefined && scripted.exitCode !== 0) return { ...scripted, delayMs };
        if (!rec) return { exitCode: 21, stderr: "iscsiadm: No records found\n", delayMs };
        if (this.sessions.has(k)) return { exitCode: 15, stderr: fixtureStderr("login-again.txt", 15), delayMs };
        const t = this.targets.get(n.iqn);
        if (!t || !t.portals.includes(n.portal)) return { exitCode: 8, stderr: fixtureStderr("login-unknown-target.txt", 8), delayMs };
        if (t.chap && (rec.get("node.session.auth.username") !== t.chap.username || rec.get("node.session.auth.password") !== t.chap.password)) {
          return { exitCode: 24, stdout: `Logging in to [iface: default, target: ${n.iqn}, portal: ${n.portal.replace(":", ",")}]\n`, stderr: fixtureStderr("login-auth-failed.txt", 24), delayMs };
        }
        this.#login(n.iqn, n.portal);
        return { stdout: `Logging in to [iface: default, target: ${n.iqn}, portal: ${n.portal.replace(":", ",")}]\nLogin to [iface: default, target: ${n.iqn}, portal: ${n.portal.replace(":", ",")}] successful.\n`, delayMs };
      }
      if (op === "--logout") {
        const s = this.sessions.get(k);
        if (!s) return { exitCode: 21, stderr: "iscsiadm: No matching sessions found\n" };
        this.#logout(s);
        return { delayMs: this.logoutDelayMs, stdout: `Logging out of session [sid: ${s.id}, target: ${n.iqn}, portal: ${n.portal.replace(":", ",")}]\nLogout of [sid: ${s.id}, target: ${n.iqn}, portal: ${n.portal.replace(":", ",")}] successful.\n` };
      }
      return { exitCode: 7, stderr: `unsupported by the simulator: ${spec.argv.join(" ")}` };
    });
    // `iscsiadm -m node`: every record, as iscsiadm 2.1.8 lists records made without discovery
    // (iscsiadm-node.txt: tpgt -1 printed as 4294967295); 21 when there is none.
    f.on(
      (a) => a.length === 3 && a[0] === "iscsiadm" && a[1] === "-m" && a[2] === "node",
      (): FakeReply => {
        const lines = [...this.nodes.keys()].map((k) => {
          const [iqn, portal] = k.split("|") as [string, string];
          return `${portal},4294967295 ${iqn}\n`;
        });
        return lines.length === 0 ? { exitCode: 21, stderr: "iscsiadm: No records found\n" } : { stdout: lines.join("") };
      },
    );
    f.on(["iscsiadm", "-m", "discoverydb"], (spec): FakeReply => {
      const portal = spec.argv[6] ?? "";
      if (!spec.argv.includes("--discover")) return {};
      const lines = [...this.targets.values()].filter((t) => t.portals.includes(portal)).flatMap((t) => t.portals.map((p) => `${p},1 ${t.iqn}`));
      return { stdout: lines.map((l) => `${l}\n`).join("") };
    });
    f.on(["multipathd", "show", "status"], () => (this.multipathd ? { stdout: fixture("multipathd-show-status.txt") } : { exitCode: 1, stderr: "ux_socket_connect: No such file or directory\n" }));
    f.on(["multipathd", "show", "config"], () =>
      this.multipathd ? { stdout: capturedStdout(this.findMultipaths === "strict" ? "batch/multipathd-config-strict.txt" : "batch/multipathd-config.txt", 0) } : { exitCode: 1, stderr: "ux_socket_connect: No such file or directory\n" },
    );
    f.on(["multipath", "-a"], (spec) => ({ stdout: `wwid '${spec.argv[2] ?? ""}' added\n` }));
    f.on(["multipathd", "add", "path"], (spec): FakeReply => {
      const disk = (spec.argv[3] ?? "").replace("/dev/", "");
      if (!this.multipathd || !this.tree.lexists(`/sys/block/${disk}`)) return { exitCode: 1, stdout: "fail\n" };
      const already = [...this.maps.values()].some((m) => m.slaves.includes(disk));
      if (!already && !this.mapNever) this.#buildLater(disk, "add");
      return { stdout: "ok\n" };
    });
    f.on(["multipathd", "del", "path"], (spec): FakeReply => {
      const disk = (spec.argv[3] ?? "").replace("/dev/", "");
      this.#dropFromMaps(disk);
      return { stdout: "ok\n", delayMs: this.delPathDelayMs };
    });
    f.on(["multipathd", "disablequeueing", "map"], () => ({ stdout: "ok\n" }));
    f.on(["multipathd", "resize", "map"], (spec): FakeReply => {
      const m = this.maps.get(spec.argv[3] ?? "");
      const slave = m?.slaves[0];
      if (!m || !slave) return { exitCode: 1, stdout: "fail\n" };
      this.tree.file(`/sys/devices/virtual/block/${m.dm}/size`, this.tree.read(`/sys/block/${slave}/size`));
      return { stdout: "ok\n" };
    });
    f.on(["udevadm", "settle"], (): FakeReply => {
      this.settles++;
      this.holdMapUntilSettle = false;
      return {};
    });
    f.on(["multipath", "-f"], (spec): FakeReply => {
      const m = this.maps.get(spec.argv[2] ?? "");
      const busy = { exitCode: 1, stderr: fixtureStderr("multipath-f-busy.txt", 1) };
      if (m && (this.holdMapUntilSettle || (this.holdMapWhilePaths && m.slaves.length > 0))) return busy;
      if (this.flushBusy > 0) {
        this.flushBusy--;
        return busy;
      }
      if (m) {
        removeDmDevice(this.tree, m.dm);
        this.maps.delete(m.wwid);
      }
      return {};
    });
    f.on(["blockdev", "--flushbufs"], () => (this.flushFails ? { exitCode: 1, stderr: "blockdev: ioctl error on BLKFLSBUF: Input/output error\n" } : {}));
  }

  cleanup(): void {
    this.tree.cleanup();
  }
}
