import type { CommandRunner } from "../../exec/runner.js";
import { portTargetIqn } from "./sim-render.js";
import { membersOfHost, type SimEthPort, type SimStateData } from "./sim-state.js";
import { SimTgtd } from "./sim-tgtd.js";

/**
 * The iSCSI side of the simulated array. Each front-end port is one tgtd target named like the
 * array's port target (`…::<n>:<ip>`, what `/iscsi_tgt_port` lists); every LUN (or snapshot) a
 * mapping view exposes through that port is a logical unit of it under its host LUN id, with the
 * LUN's WWN as SCSI id (identical on every port, so multipath sees one device). Initiators of the
 * mapped hosts are bound by name, and their CHAP accounts to the target.
 *
 * Where tgtd differs from an array: LUN masking is per target, not per initiator, so host LUN
 * ids are unique array-wide (see `refreshHostLunIds`) and an initiator logged in sees every LUN
 * mapped through that port; when any mapped initiator uses CHAP, tgtd asks it of every initiator.
 *
 * tgtd starts lazily with the first mapping; {@link sync} serializes and coalesces reconciles.
 */

interface WantedLun {
  readonly file: string;
  readonly wwn: string;
  readonly readonly: boolean;
}

interface TargetState {
  luns: Map<number, WantedLun>;
  users: Set<string>;
  initiators: Set<string>;
}

/** Options of {@link SimExports}. */
export interface SimExportsOptions {
  /** Runs tgtd, tgtadm. */
  readonly runner: CommandRunner;
  /** The iSCSI TCP port of every portal. */
  readonly iscsiPort: number;
  /** Array WWN (16 hex digits) for target names. */
  readonly systemWwn: string;
}

/** Reconciles tgtd with the mapping state. */
export class SimExports {
  readonly #opts: SimExportsOptions;
  #tgtd: SimTgtd | undefined;
  #starting: Promise<SimTgtd> | undefined;
  /** What tgtd holds now, per tid. */
  readonly #applied = new Map<number, TargetState>();
  readonly #accounts = new Map<string, string>();
  /** Ports whose portal is down (by eth port id). */
  readonly #downPorts = new Set<string>();
  #queue: Promise<void> = Promise.resolve();
  #pending: Promise<void> | undefined;
  /** The wanted exports of the latest scheduled reconcile, and that reconcile. */
  #scheduledKey: string | undefined;
  #scheduled: Promise<void> | undefined;

  constructor(opts: SimExportsOptions) {
    this.#opts = opts;
  }

  /** The running tgtd, if started. */
  get tgtd(): SimTgtd | undefined {
    return this.#tgtd;
  }

  /**
   * Brings tgtd in line with `state` (starting it when something is mapped). A change that leaves
   * the wanted exports as they are (a new host, an empty group) resolves at once, or with the
   * reconcile already scheduled for the same exports; bursts share one reconcile.
   */
  sync(state: SimStateData): Promise<void> {
    const key = JSON.stringify(this.#desired(state), (_k, v: unknown) => (v instanceof Map ? [...v.entries()] : v instanceof Set ? [...v].sort() : v));
    if (key === this.#scheduledKey) return this.#scheduled ?? Promise.resolve();
    this.#scheduledKey = key;
    if (this.#pending) return this.#pending;
    const run = this.#queue.then(() => {
      this.#pending = undefined;
      return this.#reconcile(state);
    });
    this.#pending = run;
    this.#scheduled = run;
    this.#queue = run.catch(() => {
      // A failed reconcile is retried by the next change.
      this.#scheduledKey = undefined;
    });
    return run;
  }

  /** Starts tgtd now with one target per port (otherwise the first mapping does). */
  async ensureStarted(ports: readonly SimEthPort[]): Promise<SimTgtd> {
    if (this.#tgtd) return this.#tgtd;
    this.#starting ??= (async () => {
      const portals = ports.filter((p) => !this.#downPorts.has(p.id)).map((p) => `${p.ip}:${this.#opts.iscsiPort}`);
      const tgtd = await SimTgtd.start(this.#opts.runner, portals);
      for (const [i, port] of ports.entries()) {
        const tid = i + 1;
        await tgtd.tgtadm(["--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", String(tid), "-T", portTargetIqn(this.#opts.systemWwn, port)]);
        this.#applied.set(tid, { luns: new Map(), users: new Set(), initiators: new Set() });
      }
      this.#tgtd = tgtd;
      return tgtd;
    })();
    try {
      return await this.#starting;
    } finally {
      this.#starting = undefined;
    }
  }

  /** Re-opens the logical units backed by `file` (its content was replaced by rename). */
  refreshFile(file: string): Promise<void> {
    const run = this.#queue.then(async () => {
      const tgtd = this.#tgtd;
      if (!tgtd) return;
      for (const [tid, target] of this.#applied) {
        for (const [lun, wanted] of target.luns) {
          if (wanted.file !== file) continue;
          await this.#deleteLun(tgtd, tid, lun);
          await this.#addLun(tgtd, tid, lun, wanted);
        }
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Takes a port's portal down: tgtd stops listening on it and drops the connections of that
   * port's target, so initiators see the path fail. Up again restores the listener.
   */
  async setPortal(ports: readonly SimEthPort[], index: number, up: boolean): Promise<void> {
    const port = ports[index];
    if (!port) throw new RangeError(`no port ${index}`);
    if (up) this.#downPorts.delete(port.id);
    else this.#downPorts.add(port.id);
    const tgtd = this.#tgtd;
    if (!tgtd) return;
    const portal = `portal=${port.ip}:${this.#opts.iscsiPort}`;
    if (up) {
      await tgtd.tgtadm(["--lld", "iscsi", "--op", "new", "--mode", "portal", "--param", portal]);
      return;
    }
    await tgtd.tgtadm(["--lld", "iscsi", "--op", "delete", "--mode", "portal", "--param", portal]);
    const tid = index + 1;
    for (const target of await tgtd.targets()) {
      if (target.tid !== tid) continue;
      for (const session of target.sessions) {
        for (const conn of session.connections) {
          await tgtd.tgtadm(["--lld", "iscsi", "--op", "delete", "--mode", "conn", "--tid", String(tid), "--sid", String(session.nexus), "--cid", String(conn.cid)]);
        }
      }
    }
  }

  /** Stops tgtd (waits for a reconcile in progress first). */
  async stop(): Promise<void> {
    await this.#queue;
    const tgtd = this.#tgtd ?? (this.#starting ? await this.#starting.catch(() => undefined) : undefined);
    this.#tgtd = undefined;
    if (tgtd) await tgtd.stop();
  }

  async #reconcile(state: SimStateData): Promise<void> {
    const { wanted, accounts } = this.#desired(state);
    const anything = [...wanted.values()].some((t) => t.luns.size > 0);
    if (!this.#tgtd && !anything) return;
    const tgtd = await this.ensureStarted(state.ethPorts);
    // Accounts: (re)create changed ones; deleting an account unbinds it everywhere.
    for (const [user, password] of this.#accounts) {
      if (accounts.get(user) === password) continue;
      await tgtd.tgtadm(["--lld", "iscsi", "--op", "delete", "--mode", "account", "--user", user]);
      this.#accounts.delete(user);
      for (const t of this.#applied.values()) t.users.delete(user);
    }
    for (const [user, password] of accounts) {
      if (this.#accounts.has(user)) continue;
      await tgtd.tgtadm(["--lld", "iscsi", "--op", "new", "--mode", "account", "--user", user, "--password", password], [password]);
      this.#accounts.set(user, password);
    }
    for (const [tid, want] of wanted) {
      const have = this.#applied.get(tid);
      if (!have) continue;
      for (const [lun, current] of [...have.luns]) {
        const next = want.luns.get(lun);
        if (next && next.file === current.file && next.wwn === current.wwn && next.readonly === current.readonly) continue;
        await this.#deleteLun(tgtd, tid, lun);
        have.luns.delete(lun);
      }
      for (const [lun, next] of want.luns) {
        if (have.luns.has(lun)) continue;
        await this.#addLun(tgtd, tid, lun, next);
        have.luns.set(lun, next);
      }
      for (const user of [...have.users]) {
        if (want.users.has(user)) continue;
        await tgtd.tgtadm(["--lld", "iscsi", "--op", "unbind", "--mode", "account", "--tid", String(tid), "--user", user]);
        have.users.delete(user);
      }
      for (const user of want.users) {
        if (have.users.has(user)) continue;
        await tgtd.tgtadm(["--lld", "iscsi", "--op", "bind", "--mode", "account", "--tid", String(tid), "--user", user]);
        have.users.add(user);
      }
      for (const iqn of [...have.initiators]) {
        if (want.initiators.has(iqn)) continue;
        await tgtd.tgtadm(["--lld", "iscsi", "--op", "unbind", "--mode", "target", "--tid", String(tid), "--initiator-name", iqn]);
        have.initiators.delete(iqn);
      }
      for (const iqn of want.initiators) {
        if (have.initiators.has(iqn)) continue;
        await tgtd.tgtadm(["--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", String(tid), "--initiator-name", iqn]);
        have.initiators.add(iqn);
      }
    }
  }

  /** What every port target should hold, and the CHAP accounts. */
  #desired(state: SimStateData): { wanted: Map<number, TargetState>; accounts: Map<string, string> } {
    const wanted = new Map<number, TargetState>();
    state.ethPorts.forEach((_p, i) => wanted.set(i + 1, { luns: new Map(), users: new Set(), initiators: new Set() }));
    const accounts = new Map<string, string>();
    for (const host of state.hosts) {
      const members = membersOfHost(state, host.id);
      if (members.length === 0) continue;
      const initiators = state.initiators.filter((i) => i.hostId === host.id);
      // The ports this host's views go through: a view's port group, or every port.
      const portIds = new Set<string>();
      for (const view of state.views) {
        if (view.hostGroupId === "" || view.lunGroupId === "" || !(state.hostGroupHosts[view.hostGroupId] ?? []).includes(host.id)) continue;
        const ids = view.portGroupId === "" ? state.ethPorts.map((p) => p.id) : (state.portGroupPorts[view.portGroupId] ?? []);
        for (const id of ids) portIds.add(id);
      }
      state.ethPorts.forEach((port, i) => {
        if (!portIds.has(port.id)) return;
        const target = wanted.get(i + 1);
        if (!target) return;
        for (const m of members) {
          const n = state.hostLunIds[`${host.id}:${m.type}:${m.id}`];
          const obj = m.type === 11 ? state.luns.find((l) => l.id === m.id) : state.snapshots.find((s) => s.id === m.id);
          if (n === undefined || !obj) continue;
          target.luns.set(n, { file: obj.file, wwn: obj.wwn, readonly: m.type === 27 });
        }
        for (const ini of initiators) {
          target.initiators.add(ini.iqn);
          if (ini.useChap) {
            target.users.add(ini.chapName);
            accounts.set(ini.chapName, ini.chapPassword);
          }
        }
      });
    }
    return { wanted, accounts };
  }

  async #addLun(tgtd: SimTgtd, tid: number, lun: number, wanted: WantedLun): Promise<void> {
    await tgtd.tgtadm(["--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", String(tid), "--lun", String(lun), "-b", wanted.file]);
    const params = [`vendor_id=HUAWEI`, `product_id=XSG1`, `scsi_id=${wanted.wwn}`, `scsi_sn=${wanted.wwn.slice(-16)}`, ...(wanted.readonly ? ["readonly=1"] : [])];
    await tgtd.tgtadm(["--lld", "iscsi", "--op", "update", "--mode", "logicalunit", "--tid", String(tid), "--lun", String(lun), "--params", params.join(",")]);
  }

  async #deleteLun(tgtd: SimTgtd, tid: number, lun: number): Promise<void> {
    await tgtd.tgtadm(["--lld", "iscsi", "--op", "delete", "--mode", "logicalunit", "--tid", String(tid), "--lun", String(lun)]);
  }
}
