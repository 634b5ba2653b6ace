import { ResultAsync, err, errAsync, ok, okAsync, safeTry } from "neverthrow";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { AttachedDevice } from "../../core/records.js";
import { keepsSession, logIn, logOut, newLoginState, releaseHolds, type LoginState } from "./iscsi-login.js";
import { assembleMap, commonWwid, removeMapsOnlyOver } from "./iscsi-map.js";
import type { FindMultipaths } from "./iscsi-parsers.js";
import type { PlannedPath } from "./iscsi-plan.js";
import { RemovalReport } from "./iscsi-report.js";
import { diskDevice, mapDevice } from "./iscsi-result.js";
import { newScanState, removeDisk, scanLun, scannedDisk, type ScanState } from "./iscsi-scan.js";
import type { SessionLun } from "./iscsi-sysfs.js";
import type { IscsiTools } from "./iscsi-tools.js";
import type { ChapSettings } from "./iscsiadm.js";

/**
 * The connect flow: the stages in the order the data flows — planned paths (iscsi-plan) → log in
 * (iscsi-login) → scan (iscsi-scan) → assemble the map (iscsi-map) → the device (iscsi-result) —
 * and, when a step fails, {@link rollback}: the same stages' undo steps in reverse.
 */

/** What one path's connect did, kept so that a failure can undo exactly that. */
export interface PathState {
  /** Stage 2: the login (and the path it logged in to). */
  readonly login: LoginState;
  /** Stage 3: the scan. */
  readonly scan: ScanState;
  /** Why the path failed. */
  error: VolkitError | undefined;
}

function newPathState(path: PlannedPath): PathState {
  return { login: newLoginState(path), scan: newScanState(), error: undefined };
}

/** Prefers the most telling failure: CHAP rejection, then login, then anything else. */
function worstError(states: readonly PathState[]): VolkitError {
  const errors = states.map((s) => s.error).filter((e): e is VolkitError => e !== undefined);
  const rank = (e: VolkitError): number => (e.code === "AUTH_FAILED" ? 0 : e.code === "TIMEOUT" || e.code === "ABORTED" ? 1 : e.code === "LOGIN_FAILED" ? 2 : 3);
  const first = [...errors].sort((a, b) => rank(a) - rank(b))[0] ?? new VolkitError("LOGIN_FAILED", "no path could be connected", { source: "iscsi" });
  if (errors.length <= 1) return first;
  const paths = states.map((s) => ({ portal: s.login.path.portal, target: s.login.path.iqn, ...(s.error ? { code: s.error.code, error: s.error.message } : { ok: true }) }));
  return new VolkitError(first.code, first.message, { source: "iscsi", cause: first, details: { ...first.details, paths }, transient: first.transient });
}

/** Stages 2 and 3 for one path: log in (or reuse the session), then its LUN's disk. Errors are kept in `s.error` too. */
function connectPath(tools: IscsiTools, s: PathState, chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<SessionLun, VolkitError> {
  const portal = s.login.path.portal;
  return ctx
    .phase(`login ${portal}`, () => logIn(tools, s.login, chap, ctx))
    .andThen((session) => ctx.phase(`device ${portal}`, () => scanLun(tools, s.login.path, session, s.scan, ctx)))
    .mapErr((e) => {
      s.error = e;
      return e;
    });
}

/**
 * Single path: tries the portals in turn; the first one whose LUN appears is returned as
 * `/dev/sdX`. A portal that fails is undone before the next is tried.
 */
export function connectSinglePath(tools: IscsiTools, paths: readonly PlannedPath[], chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<AttachedDevice, VolkitError> {
  const tried: PathState[] = [];
  const attempt = (i: number): ResultAsync<AttachedDevice, VolkitError> => {
    const path = paths[i];
    if (path === undefined) return errAsync(worstError(tried));
    const s = newPathState(path);
    tried.push(s);
    return connectPath(tools, s, chap, ctx)
      .andThen((lun) => commonWwid(tools, [lun.disk as string]).andThen((wwid) => diskDevice(tools, lun.disk as string, wwid)))
      .map((device) => {
        releaseHolds(tools, [s.login]);
        return device;
      })
      .orElse((e) => {
        // The rolled-back error carries details.rollback (what this path's undo removed/left).
        const undo = rollback(tools, [s], s.error ?? e, ctx, false).orElse((rolled) => {
          s.error = rolled;
          return okAsync(undefined);
        });
        if (e.code === "ABORTED" || e.code === "TIMEOUT") return undo.andThen(() => errAsync(worstError(tried)));
        ctx.logger.warn({ portal: path.portal, target: path.iqn, code: e.code, message: e.message }, "path failed; trying the next portal");
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
export function connectMultipath(tools: IscsiTools, paths: readonly PlannedPath[], chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<AttachedDevice, VolkitError> {
  const enforce = tools.config.enforceMultipath;
  const states = paths.map(newPathState);
  const fail = (e: VolkitError): ResultAsync<never, VolkitError> => rollback(tools, states, e, ctx, true);
  return tools.multipath.available(ctx).andThen((available) => {
    if (!available) {
      if (enforce) return errAsync(new VolkitError("BACKEND_UNAVAILABLE", "multipath is enforced but multipathd does not answer", { source: "iscsi" }));
      ctx.logger.warn({}, "multipathd does not answer: attaching a single path");
      return connectSinglePath(tools, paths, chap, ctx);
    }
    // multipathd's policy is needed once the disks are there: asked while logging in (a fresh
    // process asks multipathd once, then it is cached).
    const policy = tools.multipath.policy(ctx);
    // When every path fails, nobody awaits the policy: observe it now so a runner whose promise
    // rejects (a bug outside us) is not also an unhandled rejection; assemble() still sees it.
    policy.then(undefined, () => undefined);
    // Every path in parallel; a failing path does not stop the others.
    const all = ResultAsync.combine(states.map((s) => connectPath(tools, s, chap, ctx).map((l) => l.disk).orElse(() => okAsync(undefined))));
    return all.andThen(() => {
      const good = states.filter((s) => s.scan.lun?.disk !== undefined);
      const bad = states.filter((s) => s.error !== undefined);
      const aborted = ctx.abortError(); // cancelled or past the deadline: never degrade, undo
      if (aborted) return fail(aborted);
      if (good.length === 0) return fail(worstError(states));
      if (bad.length > 0) {
        if (enforce) {
          const e = worstError(bad);
          return fail(new VolkitError(e.code, `multipath is enforced and ${bad.length} of ${states.length} path(s) failed: ${e.message}`, { source: "iscsi", cause: e, details: e.details, transient: e.transient }));
        }
        for (const s of bad) ctx.logger.warn({ portal: s.login.path.portal, target: s.login.path.iqn, code: s.error?.code, message: s.error?.message }, "path failed; continuing with the other paths (degraded multipath)");
      }
      // Undo what the failed paths created (node records, a session without our LUN) right away.
      const cleaned = bad.length === 0 ? okAsync(undefined) : rollback(tools, bad, worstError(bad), ctx, true).orElse(() => okAsync(undefined));
      return cleaned.andThen(() => assemble(good, policy));
    });
  });

  function assemble(good: readonly PathState[], policy: ResultAsync<FindMultipaths, VolkitError>): ResultAsync<AttachedDevice, VolkitError> {
    const disks = good.map((s) => s.scan.lun?.disk as string);
    return commonWwid(tools, disks)
      .andThen((wwid) =>
        ctx
          .phase("multipath", () => assembleMap(tools, wwid, disks, ctx, policy))
          .andThen((map) => mapDevice(tools, map, disks))
          .orElse((e) => {
            if (enforce || e.code !== "DEVICE_NOT_FOUND") return errAsync(e);
            ctx.logger.warn({ err: e.toJSON() }, "no multipath map formed: handing out a single path (multipath not enforced)");
            const first = disks[0] as string;
            return diskDevice(tools, first, wwid);
          }),
      )
      .map((device) => {
        releaseHolds(tools, states.map((s) => s.login));
        return device;
      })
      .orElse(fail);
  }
}

/**
 * Undoes a failed connect, stage by stage in reverse: removes a map only when every path under it
 * is a disk this connect created (map), deletes the disks it created (scan), logs out the sessions
 * it created when no other LUN uses them and deletes the node records it created (login).
 * Pre-existing objects are never touched. The original error comes back with `details.rollback` =
 * what was removed and left.
 */
export function rollback(tools: IscsiTools, states: readonly PathState[], cause: VolkitError, ctx: OperationContext, usedMultipath: boolean): ResultAsync<never, VolkitError> {
  const rb = rollbackContext(ctx, 5 * 60_000);
  const report = new RemovalReport();
  const steps = safeTry(async function* () {
    // A disk our scan made counts even when it appeared after the wait ended (an abort mid-scan).
    const found = yield* ResultAsync.combine(states.map((s) => scannedDisk(tools, s.login.path, s.scan, rb, tools.config.timeouts.deviceMs)));
    const created = found.filter((d): d is string => d !== undefined);
    yield* removeMapsOnlyOver(tools, created, rb, report);
    yield* ResultAsync.combine(created.map((disk) => removeDisk(tools, disk, rb, report, usedMultipath)));
    yield* ResultAsync.combine(
      states.map((s) => {
        const l = s.login;
        return logOut(tools, l.path, rb, report, { deleteNode: l.createdNode, dropPending: l.holdsSession, keepSession: keepsSession(l), ourDisks: new Set(created) }).map(() => {
          l.holdsSession = false;
        });
      }),
    );
    return ok(undefined);
  });
  return steps
    .orElse((e) => {
      report.fail("device", "(rollback)", e.message, e);
      return okAsync(undefined);
    })
    .andThen(() => {
      const summary = report.toReport();
      if (report.failed) ctx.logger.error({ rollback: summary }, "connect rollback left objects behind");
      return err(new VolkitError(cause.code, cause.message, { source: cause.source ?? "iscsi", cause: cause.cause ?? cause, details: { ...cause.details, rollback: summary }, transient: cause.transient }));
    });
}
