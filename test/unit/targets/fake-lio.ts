/**
 * A small simulation of `targetcli` in batch mode (commands on stdin) and of the saveconfig JSON
 * file, for the LIO helper's unit tests. It interprets exactly the command lines the helper emits
 * and, like targetcli 2.1.53 reading stdin, reports a failing line on stderr and carries on with
 * the next one (exit code 0).
 */
import { FakeRunner, type FakeReply } from "../../../src/testing/fake-runner.js";

interface Acl {
  node_wwn: string;
  chap_userid?: string;
  chap_password?: string;
  mapped_luns: { index: number; tpg_lun: number; write_protect: boolean }[];
}
interface Tpg {
  tag: number;
  enable: boolean;
  attributes: Record<string, number>;
  portals: { ip_address: string; port: number; iser: boolean; offload: boolean }[];
  luns: { index: number; storage_object: string; alias: string }[];
  node_acls: Acl[];
}
interface State {
  storage_objects: { name: string; plugin: string; dev: string; wwn: string }[];
  targets: { fabric: string; wwn: string; tpgs: Tpg[] }[];
}

export class FakeLio {
  readonly runner = new FakeRunner();
  state: State = { storage_objects: [], targets: [] };
  readonly files = new Map<string, string>();
  /** Lines matching this fail (stderr message) instead of being applied. */
  failLines: RegExp | undefined;
  /** Every batch received on stdin. */
  readonly batches: string[] = [];

  constructor() {
    this.runner.on(["cat"], (spec) => {
      const f = this.files.get(spec.argv.at(-1) ?? "");
      return f === undefined ? { exitCode: 1, stderr: `cat: ${spec.argv.at(-1)}: No such file or directory\n` } : { stdout: f };
    });
    this.runner.on(["test"], {});
    this.runner.on(["targetcli"], (spec) => this.#batch(String(spec.stdin ?? "")));
  }

  /** Loads a saveconfig document as both the live state and the saved file. */
  load(json: string, file = "/etc/rtslib-fb-target/saveconfig.json"): void {
    this.state = JSON.parse(json) as State;
    this.files.set(file, json);
  }

  #batch(script: string): FakeReply {
    this.batches.push(script);
    const errors: string[] = [];
    for (const line of script.split("\n").map((l) => l.trim()).filter(Boolean)) {
      if (line === "exit") break;
      if (this.failLines?.test(line)) {
        errors.push("Could not open /dev/sdz: Device or resource busy");
        continue;
      }
      const e = this.#apply(line);
      if (e) errors.push(e);
    }
    return { stdout: "targetcli shell version 2.1.53\n", stderr: errors.map((e) => `${e}\n`).join("") };
  }

  #tpg(iqn: string): Tpg | undefined {
    return this.state.targets.find((t) => t.wwn === iqn)?.tpgs.find((t) => t.tag === 1);
  }

  #apply(line: string): string | undefined {
    const kv: Record<string, string | undefined> = Object.fromEntries([...line.matchAll(/(\w+)=(\S*)/g)].map((m): [string, string] => [m[1] ?? "", m[2] ?? ""]));
    let m: RegExpExecArray | null;
    if ((m = /^\/ saveconfig savefile=(\S+)$/.exec(line))) {
      this.files.set(m[1] ?? "", JSON.stringify(this.state, null, 2));
      return undefined;
    }
    if (/^\/backstores\/block create /.test(line)) {
      if (this.state.storage_objects.some((s) => s.name === kv.name)) return `Storage object block/${kv.name} exists`;
      this.state.storage_objects.push({ name: kv.name ?? "", plugin: "block", dev: kv.dev ?? "", wwn: "0000" });
      return undefined;
    }
    if ((m = /^\/backstores\/block delete name=(\S+)$/.exec(line))) {
      const before = this.state.storage_objects.length;
      this.state.storage_objects = this.state.storage_objects.filter((s) => s.name !== m?.[1]);
      return before === this.state.storage_objects.length ? `No storage object named ${m[1]}.` : undefined;
    }
    if ((m = /^\/iscsi create (\S+)$/.exec(line))) {
      if (this.state.targets.some((t) => t.wwn === m?.[1])) return `This Target already exists in configFS`;
      this.state.targets.push({
        fabric: "iscsi",
        wwn: m[1] ?? "",
        tpgs: [{ tag: 1, enable: true, attributes: { authentication: 0, generate_node_acls: 0 }, portals: [{ ip_address: "0.0.0.0", port: 3260, iser: false, offload: false }], luns: [], node_acls: [] }],
      });
      return undefined;
    }
    if ((m = /^\/iscsi delete wwn=(\S+)$/.exec(line))) {
      const before = this.state.targets.length;
      this.state.targets = this.state.targets.filter((t) => t.wwn !== m?.[1]);
      return before === this.state.targets.length ? `No such Target in configfs` : undefined;
    }
    if ((m = /^\/iscsi\/([^/\s]+)\/tpg1 (\S+)/.exec(line))) {
      const tpg = this.#tpg(m[1] ?? "");
      if (!tpg) return "No such path";
      if (m[2] === "enable") tpg.enable = true;
      else if (m[2] === "set") for (const [k, v] of Object.entries(kv)) tpg.attributes[k] = Number(v);
      return undefined;
    }
    if ((m = /^\/iscsi\/([^/\s]+)\/tpg1\/portals (create|delete) /.exec(line))) {
      const tpg = this.#tpg(m[1] ?? "");
      if (!tpg) return "No such path";
      const i = tpg.portals.findIndex((p) => p.ip_address === kv.ip_address && String(p.port) === kv.ip_port);
      if (m[2] === "delete") {
        if (i < 0) return "No such NetworkPortal in configfs";
        tpg.portals.splice(i, 1);
      } else {
        if (i >= 0) return "This NetworkPortal already exists in configFS";
        tpg.portals.push({ ip_address: kv.ip_address ?? "", port: Number(kv.ip_port), iser: false, offload: false });
      }
      return undefined;
    }
    if ((m = /^\/iscsi\/([^/\s]+)\/tpg1\/luns create /.exec(line))) {
      const tpg = this.#tpg(m[1] ?? "");
      if (!tpg) return "No such path";
      const so = (kv.storage_object ?? "").split("/").at(-1);
      if (!this.state.storage_objects.some((s) => s.name === so)) return "storage object or path not valid";
      tpg.luns.push({ index: Number(kv.lun), storage_object: kv.storage_object ?? "", alias: "x" });
      return undefined;
    }
    if ((m = /^\/iscsi\/([^/\s]+)\/tpg1\/acls (create|delete) wwn=(\S+)/.exec(line))) {
      const tpg = this.#tpg(m[1] ?? "");
      if (!tpg) return "No such path";
      const i = tpg.node_acls.findIndex((a) => a.node_wwn === m?.[3]);
      if (m[2] === "delete") {
        if (i < 0) return "No such NodeACL in configfs";
        tpg.node_acls.splice(i, 1);
      } else {
        if (i >= 0) return "This NodeACL already exists in configFS";
        tpg.node_acls.push({ node_wwn: m[3] ?? "", mapped_luns: [] });
      }
      return undefined;
    }
    if ((m = /^\/iscsi\/([^/\s]+)\/tpg1\/acls\/(\S+) (create|delete|set) /.exec(line))) {
      const acl = this.#tpg(m[1] ?? "")?.node_acls.find((a) => a.node_wwn === m?.[2]);
      if (!acl) return "No such path";
      if (m[3] === "create") acl.mapped_luns.push({ index: Number(kv.mapped_lun), tpg_lun: Number(kv.tpg_lun_or_backstore), write_protect: false });
      else if (m[3] === "delete") acl.mapped_luns = acl.mapped_luns.filter((x) => x.index !== Number(kv.mapped_lun));
      else {
        acl.chap_userid = kv.userid ?? "";
        acl.chap_password = kv.password ?? "";
      }
      return undefined;
    }
    return `Unknown command line: ${line.split(" ")[0]}`;
  }
}
