import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { ResultAsync, okAsync } from "neverthrow";
import { VolkitError } from "../../core/errors.js";
import type { IscsiConnectionInfo } from "../../core/records.js";
import { parsePortal } from "../../core/validation.js";

/** One path to a LUN: a target IQN reached through one portal. */
export interface IscsiPathTarget {
  /** Target IQN. */
  readonly iqn: string;
  /** Portal `host:port` as given (normalized by the schema). */
  readonly portal: string;
  /** LUN number. */
  readonly lun: number;
  /** Portal host (no brackets). */
  readonly host: string;
  /** Portal port. */
  readonly port: number;
}

/** Resolves a portal host name to its addresses (sysfs shows the address iscsid connected to). */
export type ResolveHost = (host: string) => Promise<string[]>;

/** Default {@link ResolveHost}: IP literals as they are, names through the system resolver. */
export const resolveWithSystem: ResolveHost = async (host) =>
  isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);

/**
 * The paths of a connection: the plural keys (`targetPortals`/`targetIqns`/`targetLuns`, one entry
 * per path) when present, else the singular ones. Duplicates are dropped.
 */
export function pathTargets(info: IscsiConnectionInfo): IscsiPathTarget[] {
  const raw = info.targetPortals
    ? info.targetPortals.map((portal, i) => ({ portal, iqn: info.targetIqns?.[i] ?? info.targetIqn, lun: info.targetLuns?.[i] ?? info.targetLun }))
    : [{ portal: info.targetPortal, iqn: info.targetIqn, lun: info.targetLun }];
  const seen = new Set<string>();
  const out: IscsiPathTarget[] = [];
  for (const t of raw) {
    const key = `${t.iqn}|${t.portal}|${t.lun}`;
    const hp = parsePortal(t.portal);
    if (seen.has(key) || !hp) continue;
    seen.add(key);
    out.push({ ...t, host: hp.host, port: hp.port });
  }
  return out;
}

/** Builds a path target from discovery output. */
export function discoveredTarget(portal: string, iqn: string, lun: number): IscsiPathTarget | undefined {
  const hp = parsePortal(portal);
  return hp ? { iqn, portal, lun, host: hp.host, port: hp.port } : undefined;
}

/** The session a path uses, as a display name (`127.0.0.1:3260,iqn…`). */
export function sessionName(t: IscsiPathTarget): string {
  return `${t.portal},${t.iqn}`;
}

/**
 * Lock key of one session (target IQN + portal). The lock covers the decisions that must not
 * interleave for a session: login, the first scan of a LUN, and the "does anyone else still use
 * it?" check before logout. Different targets — and the two portals of one multipath target —
 * never wait for each other.
 */
export function sessionLockKey(t: IscsiPathTarget): string {
  return `iscsi-session:${t.iqn}@${t.portal}`;
}

/** Lock key of one LUN (connect and disconnect of the same volume never interleave). */
export function lunLockKey(info: IscsiConnectionInfo): string {
  return `iscsi-lun:${info.targetIqn}/${info.targetLun}`;
}

/** Resolves every path's portal host once. */
export function resolveAddresses(targets: readonly IscsiPathTarget[], resolve: ResolveHost): ResultAsync<Map<string, string[]>, VolkitError> {
  const hosts = [...new Set(targets.map((t) => t.host))];
  if (hosts.every((h) => isIP(h))) return okAsync(new Map(hosts.map((h) => [h, [h]])));
  return ResultAsync.fromPromise(
    Promise.all(hosts.map(async (h) => [h, await resolve(h)] as const)).then((pairs) => new Map(pairs)),
    (e) => new VolkitError("INVALID_ARGUMENT", `cannot resolve a portal host: ${e instanceof Error ? e.message : String(e)}`, { source: "iscsi", cause: e }),
  );
}
