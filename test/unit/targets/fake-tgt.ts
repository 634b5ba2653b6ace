/**
 * A small simulation of tgtd + tgt-admin + the file commands, built on FakeRunner, for the tgt
 * helper's unit tests. It prints `tgtadm --op show` in the exact layout of the captured fixtures
 * (test/fixtures/tgt) and mimics the tgt-admin behaviours found on the real tool: an existing
 * account keeps its password, a target with sessions is skipped silently (exit 0), a missing
 * backing store is skipped silently, a target is bound to `ALL`.
 */
import type { CommandSpec } from "../../../src/exec/runner.js";
import { FakeRunner, type FakeReply } from "../../../src/testing/fake-runner.js";
import { parseTgtTargetFile } from "../../../src/targets/tgt/tgt-config-file.js";

export interface SimTarget {
  tid: number;
  iqn: string;
  lun1: string | undefined;
  accounts: string[];
  acl: string[];
  sessions: string[];
  writeCacheOff: boolean;
}

export class FakeTgt {
  readonly runner = new FakeRunner();
  readonly targets: SimTarget[] = [];
  readonly accounts = new Map<string, string>();
  readonly files = new Map<string, { content: string; mode?: string }>();
  /** Backing stores tgt-admin must skip (device in use per lsof, or missing). */
  readonly skipBackingStores = new Set<string>();
  /** Make the next tgt-admin --update fail like a failing tgtadm inside it. */
  failNextUpdate: { stdout: string; stderr: string; exitCode: number } | undefined;

  constructor() {
    const r = this.runner;
    r.on((a) => a[0] === "tgtadm" && a.includes("show") && a.includes("target"), () => ({ stdout: this.show() }));
    r.on((a) => a[0] === "tgtadm" && a.includes("show") && a.includes("account"), () => ({ stdout: `Account list:\n${[...this.accounts.keys()].map((u) => `    ${u}\n`).join("")}` }));
    r.on((a) => a[0] === "tgtadm" && a.includes("show") && a.includes("sys"), () => ({ stdout: "System:\n    State: ready\n    debug: off\nLLDs:\n    iscsi: ready\n    iser: error\n" }));
    r.on((a) => a[0] === "tgtadm", (spec) => this.tgtadm(spec.argv));
    r.on(["tgt-admin"], (spec) => this.tgtAdmin(spec.argv));
    r.on(["cat"], (spec) => {
      const f = this.files.get(spec.argv.at(-1) ?? "");
      return f ? { stdout: f.content } : { exitCode: 1, stderr: `cat: ${spec.argv.at(-1)}: No such file or directory\n` };
    });
    r.on(["install"], (spec) => {
      this.files.set(spec.argv.at(-1) ?? "", { content: "", mode: spec.argv[3] ?? "" });
      return {};
    });
    r.on(["dd"], (spec) => {
      const path = (spec.argv[1] ?? "").replace(/^of=/, "");
      const f = this.files.get(path);
      this.files.set(path, { content: String(spec.stdin ?? ""), ...(f?.mode ? { mode: f.mode } : {}) });
      return {};
    });
    r.on(["mv"], (spec) => {
      const [from, to] = spec.argv.slice(-2);
      const f = this.files.get(from ?? "");
      if (!f || !to) return { exitCode: 1, stderr: "mv: cannot stat" };
      this.files.delete(from ?? "");
      this.files.set(to, f);
      return {};
    });
    r.on(["rm"], (spec) => {
      this.files.delete(spec.argv.at(-1) ?? "");
      return {};
    });
  }

  target(iqn: string): SimTarget | undefined {
    return this.targets.find((t) => t.iqn === iqn);
  }

  show(): string {
    return this.targets
      .map((t) => {
        const out = [`Target ${t.tid}: ${t.iqn}`, "    System information:", "        Driver: iscsi", "        State: ready", "    I_T nexus information:"];
        t.sessions.forEach((ini, i) => out.push(`        I_T nexus: ${i + 1}`, `            Initiator: ${ini} alias: none`, "            Connection: 0", "                IP Address: 127.0.0.1"));
        out.push("    LUN information:", ...lunLines(0, undefined, t.tid));
        if (t.lun1) out.push(...lunLines(1, t.lun1, t.tid));
        out.push("    Account information:", ...t.accounts.map((u) => `        ${u}`), "    ACL information:", ...t.acl.map((a) => `        ${a}`));
        return `${out.join("\n")}\n`;
      })
      .join("");
  }

  #tidOf(argv: readonly string[]): number {
    return Number(argv[argv.indexOf("--tid") + 1]);
  }

  private tgtadm(argv: readonly string[]): FakeReply {
    const fail = (msg: string): FakeReply => ({ exitCode: 22, stderr: `tgtadm: ${msg}\n` });
    const op = argv[argv.indexOf("--op") + 1];
    const mode = argv[argv.indexOf("--mode") + 1];
    if (mode === "account") {
      const user = argv[argv.indexOf("--user") + 1] ?? "";
      if (op === "delete") {
        if (!this.accounts.delete(user)) return fail("can't find the account");
        for (const t of this.targets) t.accounts = t.accounts.filter((u) => u !== user);
        return {};
      }
      return fail("invalid request");
    }
    const t = this.targets.find((x) => x.tid === this.#tidOf(argv));
    if (!t) return fail("can't find the target");
    if (mode === "logicalunit") {
      if (op === "new") {
        if (t.lun1) return fail("this logical unit number already exists");
        t.lun1 = argv[argv.indexOf("-b") + 1];
        return {};
      }
      if (op === "delete") {
        if (!t.lun1) return fail("can't find the logical unit");
        t.lun1 = undefined;
        return {};
      }
      if (op === "update") {
        t.writeCacheOff = true;
        return {};
      }
    }
    if (mode === "target" && op === "unbind") {
      const addr = argv[argv.indexOf("--initiator-address") + 1] ?? "";
      if (!t.acl.includes(addr)) return fail("this access control rule does not exist");
      t.acl = t.acl.filter((a) => a !== addr);
      return {};
    }
    return fail("invalid request");
  }

  private tgtAdmin(argv: readonly string[]): FakeReply {
    if (argv.includes("--delete")) {
      const iqn = argv[argv.indexOf("--delete") + 1];
      const i = this.targets.findIndex((t) => t.iqn === iqn);
      if (i >= 0) this.targets.splice(i, 1);
      return {};
    }
    if (this.failNextUpdate) {
      const f = this.failNextUpdate;
      this.failNextUpdate = undefined;
      return f;
    }
    const conf = argv[argv.indexOf("--conf") + 1] ?? "";
    const iqn = argv[argv.indexOf("--update") + 1];
    const file = this.files.get(conf);
    if (!file) return { exitCode: 2, stdout: `Config file ${conf} not found. Exiting...\n` };
    const parsed = parseTgtTargetFile(file.content)._unsafeUnwrap();
    const existing = this.target(parsed.iqn);
    if (parsed.iqn !== iqn) return { exitCode: 1, stdout: `Target ${iqn} is currently not configured\n` };
    if (existing && existing.sessions.length > 0) return {}; // silently skipped
    const tid = existing?.tid ?? Math.max(0, ...this.targets.map((t) => t.tid)) + 1;
    if (existing) this.targets.splice(this.targets.indexOf(existing), 1);
    const t: SimTarget = { tid, iqn: parsed.iqn, lun1: undefined, accounts: [], acl: [], sessions: [], writeCacheOff: !parsed.writeCache };
    if (!this.skipBackingStores.has(parsed.backingStore)) t.lun1 = parsed.backingStore;
    if (parsed.chap) {
      if (!this.accounts.has(parsed.chap.username)) this.accounts.set(parsed.chap.username, parsed.chap.password);
      t.accounts.push(parsed.chap.username);
    }
    t.acl.push("ALL");
    this.targets.push(t);
    this.targets.sort((a, b) => a.tid - b.tid);
    return {};
  }

  /** Every argv the helper ran. */
  commands(): string[][] {
    return this.runner.commands();
  }

  /** Every spec the helper ran. */
  get calls(): readonly CommandSpec[] {
    return this.runner.calls;
  }
}

function lunLines(lun: number, path: string | undefined, tid: number): string[] {
  return [
    `        LUN: ${lun}`,
    `            Type: ${lun === 0 ? "controller" : "disk"}`,
    `            SCSI ID: IET     000${tid}000${lun}`,
    `            SCSI SN: beaf${tid}${lun}`,
    `            Size: ${lun === 0 ? "0 MB, Block size: 1" : "67 MB, Block size: 512"}`,
    "            Online: Yes",
    "            Removable media: No",
    "            Prevent removal: No",
    "            Readonly: No",
    "            SWP: No",
    "            Thin-provisioning: No",
    `            Backing store type: ${lun === 0 ? "null" : "rdwr"}`,
    `            Backing store path: ${path ?? "None"}`,
    "            Backing store flags: ",
  ];
}
