import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { ResultAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { IscsiConnectionInfo } from "../../core/records.js";
import { parsePortal } from "../../core/validation.js";
import type { IscsiTools } from "./iscsi-tools.js";
import type { ChapSettings } from "./iscsiadm.js";

/**
 * Stage 1, plan the targets: the paths of a connection (target IQN × portal × LUN), from the
 * connection info or by SendTargets discovery, with each portal host resolved to the addresses
 * sysfs will show. Nothing on the host changes here, so this stage has no undo.
 */

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

/** A planned path: the target plus the addresses its portal host resolves to. */
export interface PlannedPath extends IscsiPathTarget {
  /** Addresses of the portal host (a session to any of them is this path's session). */
  readonly addresses: readonly string[];
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
 * interleave for a session: login, the in-flight hold, and the "does anyone else still use it?"
 * check before logout. Different targets — and the two portals of one multipath target — never
 * wait for each other.
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

/**
 * SendTargets discovery through the connection's first portal, keeping the portals that announce
 * the connection's target IQN (same LUN on each).
 */
export function discoverTargets(tools: IscsiTools, info: IscsiConnectionInfo, chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<IscsiPathTarget[], VolkitError> {
  return ctx.phase("discovery", () =>
    tools.iscsiadm.discover(info.targetPortal, chap, ctx).map((found) =>
      found
        .filter((f) => f.iqn === info.targetIqn)
        .map((f) => discoveredTarget(f.portal, f.iqn, info.targetLun))
        .filter((t): t is IscsiPathTarget => t !== undefined),
    ),
  );
}

/**
 * Plans the paths of a connection: the listed ones, or — with multipath, `discoverPortals` and
 * info naming one portal — those SendTargets discovery announces (the listed ones when it finds
 * none); every portal host resolved.
 */
export function planPaths(tools: IscsiTools, info: IscsiConnectionInfo, discoveryChap: ChapSettings | undefined, ctx: OperationContext, discover: boolean): ResultAsync<PlannedPath[], VolkitError> {
  const given = pathTargets(info);
  const wantDiscovery = discover && tools.config.multipath && tools.config.discoverPortals && info.targetPortals === undefined;
  const targets = wantDiscovery ? discoverTargets(tools, info, discoveryChap, ctx).map((found) => (found.length > 0 ? found : given)) : okAsync(given);
  return targets.andThen((ts) => resolveAddresses(ts, tools.resolve).map((addresses) => ts.map((t) => ({ ...t, addresses: addresses.get(t.host) ?? [t.host] }))));
}
