import { err, ok, type Result } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { IqnSchema } from "../../core/validation.js";

/**
 * Pure parsers of open-iscsi and multipath-tools output, tested against outputs captured in the
 * storage lab (test/fixtures/iscsi).
 */

function parseError(what: string, detail: string, text: string): VolkitError {
  return new VolkitError("PARSE_ERROR", `cannot parse ${what}: ${detail}`, { source: "iscsi", details: { output: text.slice(0, 2000) } });
}

/** The initiator IQN from `/etc/iscsi/initiatorname.iscsi` (`InitiatorName=iqn…`, `#` comments). */
export function parseInitiatorName(text: string): Result<string, VolkitError> {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const m = /^InitiatorName\s*=\s*(\S+)$/.exec(line);
    if (m?.[1]) {
      return IqnSchema.safeParse(m[1]).success ? ok(m[1]) : err(parseError("initiatorname.iscsi", `${m[1]} is not an iSCSI name`, text));
    }
  }
  return err(parseError("initiatorname.iscsi", "no InitiatorName= line", text));
}

/** One target a portal announced to `sendtargets` discovery. */
export interface DiscoveredTarget {
  /** Portal `ip:port` (IPv6 in brackets). */
  readonly portal: string;
  /** Target portal group tag. */
  readonly tpgt: number;
  /** Target IQN. */
  readonly iqn: string;
}

/** Parses `iscsiadm -m discovery -t sendtargets` / `-m discoverydb … --discover` output. */
export function parseSendTargets(stdout: string): Result<DiscoveredTarget[], VolkitError> {
  return parsePortalLines(stdout, "sendtargets output");
}

/**
 * Parses `iscsiadm -m node`: one node record per line, `127.0.0.1:3260,4294967295 iqn…` (the same
 * shape as sendtargets; a record made without discovery prints tpgt -1 as 4294967295).
 */
export function parseNodeRecords(stdout: string): Result<DiscoveredTarget[], VolkitError> {
  return parsePortalLines(stdout, "iscsiadm -m node output");
}

function parsePortalLines(stdout: string, what: string): Result<DiscoveredTarget[], VolkitError> {
  const out: DiscoveredTarget[] = [];
  for (const line of stdout.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const m = /^(\S+):(\d+),(-?\d+) (\S+)$/.exec(line);
    if (!m?.[1] || !m[4]) return err(parseError(what, `unexpected line ${JSON.stringify(line)}`, stdout));
    out.push({ portal: `${m[1]}:${m[2]}`, tpgt: Number(m[3]), iqn: m[4] });
  }
  return ok(out);
}

/** One session line of `iscsiadm -m session`. */
export interface IscsiadmSession {
  /** Transport, `tcp`. */
  readonly transport: string;
  /** Session id (the N of `/sys/class/iscsi_session/sessionN`). */
  readonly id: number;
  /** Portal `ip:port`. */
  readonly portal: string;
  /** Target portal group tag. */
  readonly tpgt: number;
  /** Target IQN. */
  readonly iqn: string;
}

/**
 * Parses `iscsiadm -m session` (`tcp: [1] 127.0.0.1:3260,1 iqn… (non-flash)`). The connector
 * reads sessions from sysfs; this parser serves diagnostics and callers of the CLI.
 */
export function parseIscsiadmSessions(stdout: string): Result<IscsiadmSession[], VolkitError> {
  const out: IscsiadmSession[] = [];
  for (const line of stdout.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const m = /^(\w+): \[(\d+)\] (\S+),(-?\d+) (\S+)(?: \(.*\))?$/.exec(line);
    if (!m?.[1] || !m[3] || !m[5]) return err(parseError("iscsiadm -m session output", `unexpected line ${JSON.stringify(line)}`, stdout));
    out.push({ transport: m[1], id: Number(m[2]), portal: m[3], tpgt: Number(m[4]), iqn: m[5] });
  }
  return ok(out);
}

const PathJson = z.looseObject({
  dev: z.string(),
  dm_st: z.string().optional(),
  dev_st: z.string().optional(),
  chk_st: z.string().optional(),
});
const MapJson = z.looseObject({
  name: z.string(),
  uuid: z.string(),
  sysfs: z.string(),
  dm_st: z.string().optional(),
  path_groups: z.array(z.looseObject({ paths: z.array(PathJson) })).default([]),
});
const MapsJson = z.looseObject({ maps: z.array(MapJson).default([]) });

/** A path of a multipath map, as multipathd reports it. */
export interface MultipathPath {
  /** Kernel name, `sdb`. */
  readonly dev: string;
  /** Device-mapper's view: `active` or `failed`. */
  readonly dmState: string;
  /** Kernel device state: `running`, `offline`… */
  readonly devState: string;
  /** Path checker: `ready`, `faulty`, `ghost`… */
  readonly checkerState: string;
}

/** A multipath map from `multipathd show maps json`. */
export interface MultipathMap {
  /** Map name (`/dev/mapper/<name>`). */
  readonly name: string;
  /** WWID. */
  readonly wwid: string;
  /** Kernel name, `dm-3`. */
  readonly dm: string;
  /** Every path of every path group. */
  readonly paths: readonly MultipathPath[];
}

/** Parses `multipathd show maps json`. */
export function parseMultipathdMaps(stdout: string): Result<MultipathMap[], VolkitError> {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch (e) {
    return err(parseError("multipathd show maps json", e instanceof Error ? e.message : String(e), stdout));
  }
  const parsed = MapsJson.safeParse(json);
  if (!parsed.success) return err(parseError("multipathd show maps json", parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), stdout));
  return ok(
    parsed.data.maps.map((m) => ({
      name: m.name,
      wwid: m.uuid,
      dm: m.sysfs,
      paths: m.path_groups.flatMap((g) => g.paths.map((p) => ({ dev: p.dev, dmState: p.dm_st ?? "", devState: p.dev_st ?? "", checkerState: p.chk_st ?? "" }))),
    })),
  );
}

/** Whether a multipathd reply means failure (it prints `fail` and may still exit 0). */
export function isMultipathdFailure(stdout: string): boolean {
  return /^fail\b/m.test(stdout.trim());
}

/** multipathd's `find_multipaths` policy: which paths it builds maps for on its own. */
export type FindMultipaths = "off" | "on" | "greedy" | "smart" | "strict";

/**
 * The `find_multipaths` value of `multipathd show config` (its `defaults` section), normalized:
 * `no` → `off`, `yes` → `on`. Only `strict` builds no map for a WWID missing from
 * `/etc/multipath/wwids`; every other value builds one for two paths of one LUN.
 */
export function parseFindMultipaths(stdout: string): Result<FindMultipaths, VolkitError> {
  const defaults = /^defaults\s*\{([\s\S]*?)^\}/m.exec(stdout)?.[1] ?? "";
  const value = /^\s*find_multipaths\s+"?([a-z]+)"?\s*$/m.exec(defaults)?.[1];
  const known: Record<string, FindMultipaths> = { no: "off", off: "off", yes: "on", on: "on", greedy: "greedy", smart: "smart", strict: "strict" };
  const policy = value === undefined ? undefined : known[value];
  return policy === undefined ? err(parseError("multipathd show config", value === undefined ? "no find_multipaths in the defaults section" : `unknown find_multipaths ${value}`, stdout)) : ok(policy);
}
