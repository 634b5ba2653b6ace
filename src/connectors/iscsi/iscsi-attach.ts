import { ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { IscsiConnectionInfo } from "../../core/records.js";
import type { AttachedDevice } from "../../core/records.js";
import { assembleMap, commonWwid, connectPath, diskDevice, mapDevice, newPathState, releaseHolds, rollback, type PathState } from "./iscsi-connect.js";
import type { IscsiDeps } from "./iscsi-deps.js";
import { discoveredTarget, type IscsiPathTarget } from "./iscsi-targets.js";
import type { ChapSettings } from "./iscsiadm.js";

/** Prefers the most telling failure: CHAP rejection, then login, then anything else. */
function worstError(states: readonly PathState[]): VolkitError {
  const errors = states.map((s) => s.error).filter((e): e is VolkitError => e !== undefined);
  const rank = (e: VolkitError): number => (e.code === "AUTH_FAILED" ? 0 : e.code === "TIMEOUT" || e.code === "ABORTED" ? 1 : e.code === "LOGIN_FAILED" ? 2 : 3);
  const first = [...errors].sort((a, b) => rank(a) - rank(b))[0] ?? new VolkitError("LOGIN_FAILED", "no path could be connected", { source: "iscsi" });
  if (errors.length <= 1) return first;
  const paths = states.map((s) => ({ portal: s.target.portal, target: s.target.iqn, ...(s.error ? { code: s.error.code, error: s.error.message } : { ok: true }) }));
  return new VolkitError(first.code, first.message, { source: "iscsi", cause: first, details: { ...first.details, paths }, transient: first.transient });
}

/**
 * Single path: tries the portals in turn; the first one whose LUN appears is returned as
 * `/dev/sdX`. A portal that fails is undone before the next is tried.
 */
export function connectSinglePath(deps: IscsiDeps, targets: readonly IscsiPathTarget[], addresses: ReadonlyMap<string, readonly string[]>, chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<AttachedDevice, VolkitError> {
  const tried: PathState[] = [];
  const attempt = (i: number): ResultAsync<AttachedDevice, VolkitError> => {
    const t = targets[i];
    if (t === undefined) return errAsync(worstError(tried));
    const s = newPathState(t, addresses.get(t.host) ?? [t.host]);
    tried.push(s);
    return connectPath(deps, s, chap, ctx)
      .andThen((lun) => commonWwid(deps, [lun.disk as string]).andThen((wwid) => diskDevice(deps, lun.disk as string, wwid)))
      .map((device) => {
        releaseHolds(deps, [s]);
        return device;
      })
      .orElse((e) => {
        // The rolled-back error carries details.rollback (what this path's undo removed/left).
        const undo = rollback(deps, [s], s.error ?? e, ctx, false).orElse((rolled) => {
          s.error = rolled;
          return okAsync(undefined);
        });
        if (e.code === "ABORTED" || e.code === "TIMEOUT") return undo.andThen(() => errAsync(worstError(tried)));
        ctx.logger.warn({ portal: t.portal, target: t.iqn, code: e.code, message: e.message }, "path failed; trying the next portal");
        return undo.andThen(() => attempt(i + 1));
      });
  };
  return attempt(0);
}

/**
 * Multipath: logs in to every portal at the same time, waits for each path's disk, then builds
 * and verifies the map. Degrades (warning) to the paths that worked unless `enforceMultipath`;
 * never returns a single path when enforced. Any failure undoes what this call created.
 */
export function connectMultipath(deps: IscsiDeps, targets: readonly IscsiPathTarget[], addresses: ReadonlyMap<string, readonly string[]>, chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<AttachedDevice, VolkitError> {
  const enforce = deps.config.enforceMultipath;
  const states = targets.map((t) => newPathState(t, addresses.get(t.host) ?? [t.host]));
  const fail = (e: VolkitError): ResultAsync<never, VolkitError> => rollback(deps, states, e, ctx, true);
  return deps.multipath.available(ctx).andThen((available) => {
    if (!available) {
      if (enforce) return errAsync(new VolkitError("BACKEND_UNAVAILABLE", "multipath is enforced but multipathd does not answer", { source: "iscsi" }));
      ctx.logger.warn({}, "multipathd does not answer: attaching a single path");
      return connectSinglePath(deps, targets, addresses, chap, ctx);
    }
    // Every path in parallel; a failing path does not stop the others.
    const all = ResultAsync.combine(states.map((s) => connectPath(deps, s, chap, ctx).map((l) => l.disk).orElse(() => okAsync(undefined))));
    return all.andThen(() => {
      const good = states.filter((s) => s.lun?.disk !== undefined);
      const bad = states.filter((s) => s.error !== undefined);
      const aborted = ctx.abortError(); // cancelled or past the deadline: never degrade, undo
      if (aborted) return fail(aborted);
      if (good.length === 0) return fail(worstError(states));
      if (bad.length > 0) {
        if (enforce) {
          const e = worstError(bad);
          return fail(new VolkitError(e.code, `multipath is enforced and ${bad.length} of ${states.length} path(s) failed: ${e.message}`, { source: "iscsi", cause: e, details: e.details, transient: e.transient }));
        }
        for (const s of bad) ctx.logger.warn({ portal: s.target.portal, target: s.target.iqn, code: s.error?.code, message: s.error?.message }, "path failed; continuing with the other paths (degraded multipath)");
      }
      // Undo what the failed paths created (node records, a session without our LUN) right away.
      const cleaned = bad.length === 0 ? okAsync(undefined) : rollback(deps, bad, worstError(bad), ctx, true).orElse(() => okAsync(undefined));
      return cleaned.andThen(() => assemble(good));
    });
  });

  function assemble(good: readonly PathState[]): ResultAsync<AttachedDevice, VolkitError> {
    const disks = good.map((s) => s.lun?.disk as string);
    return commonWwid(deps, disks)
      .andThen((wwid) =>
        ctx
          .phase("multipath", () => assembleMap(deps, wwid, disks, ctx))
          .andThen((map) => mapDevice(deps, map, disks))
          .orElse((e) => {
            if (enforce || e.code !== "DEVICE_NOT_FOUND") return errAsync(e);
            ctx.logger.warn({ err: e.toJSON() }, "no multipath map formed: handing out a single path (multipath not enforced)");
            const first = disks[0] as string;
            return diskDevice(deps, first, wwid);
          }),
      )
      .map((device) => {
        releaseHolds(deps, states);
        return device;
      })
      .orElse(fail);
  }
}

/**
 * SendTargets discovery through the connection's first portal, keeping the portals that announce
 * the connection's target IQN (same LUN on each).
 */
export function discoverTargets(deps: IscsiDeps, info: IscsiConnectionInfo, chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<IscsiPathTarget[], VolkitError> {
  return ctx.phase("discovery", () =>
    deps.iscsiadm.discover(info.targetPortal, chap, ctx).map((found) =>
      found
        .filter((f) => f.iqn === info.targetIqn)
        .map((f) => discoveredTarget(f.portal, f.iqn, info.targetLun))
        .filter((t): t is IscsiPathTarget => t !== undefined),
    ),
  );
}
