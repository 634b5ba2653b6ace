import { err, ok, type Result } from "neverthrow";
import { VolkitError } from "../../core/errors.js";

/**
 * Pure parsers for `tgtadm` output (tgt 1.0.85). The text is indented with four spaces per level;
 * the parsers key on the section names and indentation, not on column positions, and ignore fields
 * they do not know, so later tgt versions that add lines still parse.
 */

/** One logical unit of a tgt target. */
export interface TgtLun {
  /** LUN number (0 is the controller tgt adds to every target). */
  readonly lun: number;
  /** `controller`, `disk`, … */
  readonly type: string;
  /** Size as tgt prints it, in decimal megabytes (rounded down). */
  readonly sizeMb: number | undefined;
  /** Logical block size in bytes. */
  readonly blockSize: number | undefined;
  /** `Online: Yes`. */
  readonly online: boolean;
  /** `Readonly: Yes`. */
  readonly readonly: boolean;
  /** Backing store type (`rdwr`, `aio`, `null`, …). */
  readonly backingStoreType: string | undefined;
  /** Backing store path; undefined for `None` (the controller LUN). */
  readonly backingStorePath: string | undefined;
}

/** One iSCSI session (I_T nexus) logged in to a target. */
export interface TgtSession {
  /** I_T nexus id (tgt's session id). */
  readonly nexus: number;
  /** Initiator IQN. */
  readonly initiator: string;
  /** Connection ids with the initiator's address. */
  readonly connections: readonly { readonly cid: number; readonly address: string | undefined }[];
}

/** A CHAP account bound to a target. */
export interface TgtBoundAccount {
  /** Account (CHAP user) name. */
  readonly user: string;
  /** True for an outgoing (mutual CHAP) account. */
  readonly outgoing: boolean;
}

/** One target as `tgtadm --op show --mode target` prints it. */
export interface TgtTarget {
  /** Target id. */
  readonly tid: number;
  /** Target IQN. */
  readonly iqn: string;
  /** Low-level driver (`iscsi`). */
  readonly driver: string | undefined;
  /** `ready` or `offline`. */
  readonly state: string | undefined;
  /** Sessions currently logged in. */
  readonly sessions: readonly TgtSession[];
  /** Logical units, LUN 0 (controller) included. */
  readonly luns: readonly TgtLun[];
  /** Accounts bound to the target (incoming = CHAP the initiator must present). */
  readonly accounts: readonly TgtBoundAccount[];
  /** Initiator ACL entries (`ALL`, addresses or initiator names). */
  readonly acl: readonly string[];
}

/** `tgtadm --op show --mode sys`, the parts volkit uses. */
export interface TgtSystem {
  /** Daemon state (`ready`, `offline`). */
  readonly state: string | undefined;
  /** State of each low-level driver (`iscsi: ready`, `iser: error`). */
  readonly llds: Readonly<Record<string, string>>;
}

interface Line {
  readonly depth: number;
  readonly text: string;
  readonly no: number;
}

function lines(stdout: string): Line[] {
  const out: Line[] = [];
  stdout.split("\n").forEach((raw, i) => {
    const text = raw.replace(/\s+$/, "");
    if (!text.trim()) return;
    const indent = /^ */.exec(text)?.[0].length ?? 0;
    out.push({ depth: Math.floor(indent / 4), text: text.trim(), no: i + 1 });
  });
  return out;
}

function parseError(what: string, line: Line | undefined, stdout: string): VolkitError {
  return new VolkitError("PARSE_ERROR", `cannot parse tgtadm ${what} output${line ? ` at line ${line.no}: ${line.text}` : ""}`, {
    source: "tgt",
    details: { output: stdout.slice(0, 2000) },
  });
}

/** `Key: value` → [key, value]; undefined when the line has no colon-space. */
function field(text: string): [string, string] | undefined {
  const i = text.indexOf(":");
  if (i <= 0) return undefined;
  return [text.slice(0, i).trim(), text.slice(i + 1).trim()];
}

interface MutableLun {
  lun: number;
  type: string;
  sizeMb: number | undefined;
  blockSize: number | undefined;
  online: boolean;
  readonly: boolean;
  backingStoreType: string | undefined;
  backingStorePath: string | undefined;
}

interface MutableTarget {
  tid: number;
  iqn: string;
  driver: string | undefined;
  state: string | undefined;
  sessions: { nexus: number; initiator: string; connections: { cid: number; address: string | undefined }[] }[];
  luns: MutableLun[];
  accounts: TgtBoundAccount[];
  acl: string[];
}

type Section = "system" | "nexus" | "lun" | "account" | "acl" | "other";

const SECTIONS: Readonly<Record<string, Section>> = {
  "System information": "system",
  "I_T nexus information": "nexus",
  "LUN information": "lun",
  "Account information": "account",
  "ACL information": "acl",
};

/**
 * Parses `tgtadm --lld iscsi --op show --mode target`. Empty output (no targets) gives `[]`.
 *
 * @example
 * ```ts
 * const targets = parseTgtTargets(out.stdout)._unsafeUnwrap();
 * const lun1 = targets.find((t) => t.iqn === iqn)?.luns.find((l) => l.lun === 1);
 * ```
 */
export function parseTgtTargets(stdout: string): Result<TgtTarget[], VolkitError> {
  const targets: MutableTarget[] = [];
  let target: MutableTarget | undefined;
  let section: Section = "other";
  let lun: MutableLun | undefined;
  for (const line of lines(stdout)) {
    if (line.depth === 0) {
      const m = /^Target (\d+): (\S+)$/.exec(line.text);
      if (!m?.[1] || !m[2]) return err(parseError("target", line, stdout));
      target = { tid: Number(m[1]), iqn: m[2], driver: undefined, state: undefined, sessions: [], luns: [], accounts: [], acl: [] };
      targets.push(target);
      section = "other";
      continue;
    }
    if (!target) return err(parseError("target", line, stdout));
    if (line.depth === 1) {
      section = SECTIONS[line.text.replace(/:$/, "")] ?? "other";
      lun = undefined;
      continue;
    }
    const applied = applyLine(target, section, line, lun);
    if (applied === "error") return err(parseError("target", line, stdout));
    lun = applied;
  }
  return ok(targets);
}

/** Applies one nested line to the current section; returns the LUN being filled. */
function applyLine(target: MutableTarget, section: Section, line: Line, lun: MutableLun | undefined): MutableLun | undefined | "error" {
  switch (section) {
    case "system": {
      const f = field(line.text);
      if (f?.[0] === "Driver") target.driver = f[1];
      if (f?.[0] === "State") target.state = f[1];
      return lun;
    }
    case "nexus":
      return applyNexusLine(target, line) ? lun : "error";
    case "lun":
      return applyLunLine(target, line, lun);
    case "account": {
      const m = /^(\S+)( \(outgoing\))?$/.exec(line.text);
      if (!m?.[1]) return "error";
      target.accounts.push({ user: m[1], outgoing: m[2] !== undefined });
      return lun;
    }
    case "acl":
      target.acl.push(line.text);
      return lun;
    default:
      return lun;
  }
}

function applyNexusLine(target: MutableTarget, line: Line): boolean {
  const f = field(line.text);
  if (!f) return false;
  const [key, value] = f;
  const session = target.sessions.at(-1);
  if (key === "I_T nexus") {
    target.sessions.push({ nexus: Number(value), initiator: "", connections: [] });
  } else if (key === "Initiator" && session) {
    session.initiator = value.replace(/ alias: .*$/, "");
  } else if (key === "Connection" && session) {
    session.connections.push({ cid: Number(value), address: undefined });
  } else if (key === "IP Address" && session) {
    const conn = session.connections.at(-1);
    if (conn) conn.address = value;
  }
  return true;
}

function applyLunLine(target: MutableTarget, line: Line, lun: MutableLun | undefined): MutableLun | undefined | "error" {
  const f = field(line.text);
  if (!f) return "error";
  const [key, value] = f;
  if (key === "LUN") {
    if (!/^\d+$/.test(value)) return "error";
    const created: MutableLun = {
      lun: Number(value), type: "", sizeMb: undefined, blockSize: undefined, online: false, readonly: false,
      backingStoreType: undefined, backingStorePath: undefined,
    };
    target.luns.push(created);
    return created;
  }
  if (!lun) return "error";
  if (key === "Type") lun.type = value;
  else if (key === "Size") {
    // "67 MB, Block size: 512"
    const m = /^(\d+) MB, Block size: (\d+)$/.exec(value);
    lun.sizeMb = m ? Number(m[1]) : undefined;
    lun.blockSize = m ? Number(m[2]) : undefined;
  } else if (key === "Online") lun.online = value === "Yes";
  else if (key === "Readonly") lun.readonly = value === "Yes";
  else if (key === "Backing store type") lun.backingStoreType = value;
  else if (key === "Backing store path") lun.backingStorePath = value === "None" || value === "" ? undefined : value;
  return lun;
}

/** Parses `tgtadm --lld iscsi --op show --mode account`: the account names (outgoing ones included). */
export function parseTgtAccounts(stdout: string): Result<string[], VolkitError> {
  const users: string[] = [];
  for (const line of lines(stdout)) {
    if (line.depth === 0) {
      if (line.text !== "Account list:") return err(parseError("account", line, stdout));
      continue;
    }
    const m = /^(\S+)( \(outgoing\))?$/.exec(line.text);
    if (!m?.[1]) return err(parseError("account", line, stdout));
    users.push(m[1]);
  }
  return ok(users);
}

/** Parses `tgtadm --op show --mode sys` (daemon state and per-LLD state). */
export function parseTgtSystem(stdout: string): Result<TgtSystem, VolkitError> {
  let state: string | undefined;
  const llds: Record<string, string> = {};
  let section = "";
  for (const line of lines(stdout)) {
    if (line.depth === 0) {
      section = line.text.replace(/:$/, "");
      continue;
    }
    const f = field(line.text);
    if (section === "System" && f?.[0] === "State") state = f[1];
    if (section === "LLDs" && f) llds[f[0]] = f[1];
  }
  if (state === undefined) return err(parseError("sys", undefined, stdout));
  return ok({ state, llds });
}

/** tgtadm's messages (it exits 22 for all of them), mapped to what they mean to a caller. */
export type TgtadmFailure =
  | "no-target"
  | "no-lun"
  | "no-account"
  | "target-exists"
  | "lun-exists"
  | "account-exists"
  | "target-active"
  | "lun-active"
  | "acl-exists"
  | "no-acl"
  | "daemon-unreachable"
  | "other";

/** tgtadm's exit code when it cannot reach tgtd (ENOTCONN). */
export const TGTADM_EXIT_NO_DAEMON = 107;

/** Classifies a failed tgtadm call by its stderr (and exit code 107 = daemon unreachable). */
export function classifyTgtadmFailure(stderr: string, exitCode?: number): TgtadmFailure {
  if (exitCode === TGTADM_EXIT_NO_DAEMON || /can't connect to tgt daemon|failed to send request hdr to tgt daemon|can't get the response|Transport endpoint is not connected/.test(stderr)) {
    return "daemon-unreachable";
  }
  const table: ReadonlyArray<readonly [RegExp, TgtadmFailure]> = [
    [/can't find the target/, "no-target"],
    [/can't find the logical unit/, "no-lun"],
    [/can't find the account/, "no-account"],
    [/this target already exists/, "target-exists"],
    [/this logical unit number already exists/, "lun-exists"],
    [/this account already exists/, "account-exists"],
    [/this target is still active/, "target-active"],
    [/this logical unit is still active/, "lun-active"],
    [/this access control rule already exists/, "acl-exists"],
    [/this access control rule does not exist/, "no-acl"],
  ];
  return table.find(([re]) => re.test(stderr))?.[1] ?? "other";
}
