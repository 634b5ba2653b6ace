import { ResultAsync, err, errAsync, ok, okAsync, safeTry } from "neverthrow";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { withLock } from "../../core/locks.js";
import { blockDeviceSize, dmSlaves, multipathHolder, scsiWwid, type DmDevice } from "../../host/block-sysfs.js";
import type { AttachedDevice } from "../../core/records.js";
import { findSession, holdPending, poll, sameWwid, type IscsiDeps } from "./iscsi-deps.js";
import { findSessionLun, scanSessionLun, type IscsiSession, type SessionLun } from "./iscsi-sysfs.js";
import { TeardownReport, releaseSession, removeDisk, removeMap } from "./iscsi-teardown.js";
import { sessionLockKey, type IscsiPathTarget } from "./iscsi-targets.js";
import type { ChapSettings } from "./iscsiadm.js";

/** What one path's connect did, kept so that a failure can undo exactly that. */
export interface PathState {
  /** The path. */
  readonly target: IscsiPathTarget;
  /** Addresses its portal host resolves to. */
  readonly addresses: readonly string[];
  /** Its session once logged in (or found). */
  session: IscsiSession | undefined;
  /** The node record did not exist before. */
  createdNode: boolean;
  /** `--login` was run. */
  attemptedLogin: boolean;
  /** The session did not exist before (our login made it). */
  createdSession: boolean;
  /** This operation counts as a user of the session (see IscsiDeps.pending). */
  holdsSession: boolean;
  /** The LUN's SCSI device did not exist before our scan. */
  createdDisk: boolean;
  /** The LUN with its disk, once found. */
  lun: SessionLun | undefined;
  /** Why the path failed. */
  error: VolkitError | undefined;
}

/** Fresh state of a path. */
export function newPathState(target: IscsiPathTarget, addresses: readonly string[]): PathState {
  return { target, addresses, session: undefined, createdNode: false, attemptedLogin: false, createdSession: false, holdsSession: false, createdDisk: false, lun: undefined, error: undefined };
}

/**
 * Logs one path in (unless its session exists) and starts the scan of its LUN, under the
 * session's lock. The node gets `node.session.scan=manual` (no whole-target scans), CHAP when
 * the connection has it, and `node.startup=automatic` (os-brick's settings).
 */
function loginPath(deps: IscsiDeps, s: PathState, chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<IscsiSession, VolkitError> {
  const t = s.target;
  const adm = deps.iscsiadm;
  return withLock(deps.locks, sessionLockKey(t), ctx.signal, () =>
    safeTry(async function* () {
      let session = yield* findSession(deps, t, s.addresses);
      if (!session) {
        if (!(yield* adm.nodeExists(t.iqn, t.portal, ctx))) {
          yield* adm.createNode(t.iqn, t.portal, ctx);
          s.createdNode = true;
        }
        yield* adm.updateNode(t.iqn, t.portal, "node.session.scan", "manual", ctx);
        if (chap) yield* adm.setNodeChap(t.iqn, t.portal, chap, ctx);
        yield* adm.updateNode(t.iqn, t.portal, "node.startup", "automatic", ctx);
        s.attemptedLogin = true;
        const made = yield* adm.login(t.iqn, t.portal, ctx);
        session = yield* poll(deps, ctx, deps.config.timeouts.deviceMs, () => findSession(deps, t, s.addresses), () =>
          new VolkitError("LOGIN_FAILED", `iscsiadm logged in to ${t.iqn} at ${t.portal} but no session appeared in sysfs`, { source: "iscsi", details: { target: t.iqn, portal: t.portal } }),
        );
        s.createdSession = made;
      }
      s.session = session;
      holdPending(deps, sessionLockKey(t), 1);
      s.holdsSession = true;
      const lun = yield* findSessionLun(deps.fs, session, t.lun);
      if (lun === undefined) {
        s.createdDisk = true;
        yield* scanSessionLun(deps.fs, session, t.lun);
      }
      return ok(session);
    }),
  );
}

/** Waits for the LUN's disk, re-scanning only that LUN while the kernel has no device for it. */
function waitForDisk(deps: IscsiDeps, s: PathState, session: IscsiSession, ctx: OperationContext): ResultAsync<SessionLun, VolkitError> {
  const t = s.target;
  return poll(
    deps,
    ctx,
    deps.config.timeouts.deviceMs,
    (attempt) =>
      findSessionLun(deps.fs, session, t.lun).andThen((lun) => {
        if (lun?.disk !== undefined) return okAsync(lun);
        // No SCSI device yet: scan our LUN again. A device without its disk is still binding: wait.
        if (lun === undefined && attempt > 1) return scanSessionLun(deps.fs, session, t.lun).map(() => undefined);
        return okAsync(undefined);
      }),
    () =>
      new VolkitError("DEVICE_NOT_FOUND", `LUN ${t.lun} of ${t.iqn} at ${t.portal} did not appear within ${deps.config.timeouts.deviceMs} ms (session ${session.id})`, {
        source: "iscsi",
        details: { target: t.iqn, portal: t.portal, lun: t.lun, session: session.id },
      }),
  );
}

/** Connects one path: login (or reuse) and its LUN's disk. Fills `s`; errors are kept in `s.error` too. */
export function connectPath(deps: IscsiDeps, s: PathState, chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<SessionLun, VolkitError> {
  return ctx
    .phase(`login ${s.target.portal}`, () => loginPath(deps, s, chap, ctx))
    .andThen((session) => ctx.phase(`device ${s.target.portal}`, () => waitForDisk(deps, s, session, ctx)))
    .map((lun) => {
      s.lun = lun;
      return lun;
    })
    .mapErr((e) => {
      s.error = e;
      return e;
    });
}

/** The WWID shared by every connected path; paths that disagree mean two different LUNs. */
export function commonWwid(deps: IscsiDeps, disks: readonly string[]): ResultAsync<string | undefined, VolkitError> {
  return ResultAsync.combine(disks.map((d) => scsiWwid(deps.fs, d))).andThen((wwids) => {
    const known = wwids.filter((w): w is string => w !== undefined);
    const first = known[0];
    if (first !== undefined && known.some((w) => !sameWwid(w, first))) {
      return errAsync(new VolkitError("INVALID_STATE", `the paths show different LUNs (WWIDs ${[...new Set(known)].join(", ")}): check the connection info`, { source: "iscsi", details: { disks: [...disks], wwids: known } }));
    }
    return okAsync(first);
  });
}

/**
 * Builds the multipath map over `disks` and waits until it holds every one of them active:
 * `multipath -a <wwid>` (so find_multipaths policies accept it), `multipathd add path` per disk,
 * then polls the disks' holders (a dm with uuid `mpath-…`) and `multipathd show maps json`.
 */
export function assembleMap(deps: IscsiDeps, wwid: string | undefined, disks: readonly string[], ctx: OperationContext): ResultAsync<DmDevice, VolkitError> {
  const warn = (what: string) => (e: VolkitError) => {
    ctx.logger.warn({ err: e.toJSON() }, what);
    return okAsync(undefined);
  };
  const whitelist = wwid === undefined ? okAsync(undefined) : deps.multipath.addWwid(wwid, ctx).orElse(warn(`multipath -a ${wwid} failed`));
  const add = whitelist.andThen(() => ResultAsync.combine(disks.map((d) => deps.multipath.addPath(`/dev/${d}`, ctx).orElse(warn(`multipathd add path /dev/${d} failed`)))));
  const ready = (): ResultAsync<DmDevice | undefined, VolkitError> =>
    ResultAsync.combine(disks.map((d) => multipathHolder(deps.fs, d))).andThen((holders) => {
      const map = holders[0];
      if (!map || holders.some((h) => h?.dm !== map.dm)) return okAsync(undefined);
      return deps.multipath.maps(ctx).map((maps) => {
        const m = maps.find((x) => x.dm === map.dm);
        const active = disks.every((d) => m?.paths.some((p) => p.dev === d && p.dmState === "active"));
        return active ? map : undefined;
      });
    });
  return add.andThen(() =>
    poll(deps, ctx, deps.config.timeouts.mapMs, ready, () =>
      new VolkitError("DEVICE_NOT_FOUND", `no multipath map with all ${disks.length} path(s) (${disks.join(", ")}) active within ${deps.config.timeouts.mapMs} ms${wwid ? ` for ${wwid}` : ""}`, {
        source: "iscsi",
        details: { disks: [...disks], ...(wwid ? { wwid } : {}) },
      }),
    ),
  );
}

/** The device handed out for a map. */
export function mapDevice(deps: IscsiDeps, map: DmDevice, disks: readonly string[]): ResultAsync<AttachedDevice, VolkitError> {
  return blockDeviceSize(deps.fs, map.dm).map((sizeBytes) => ({
    type: "block",
    path: `/dev/${map.dm}`,
    scsiWwn: map.uuid.replace(/^mpath-/, ""),
    multipathId: map.name,
    paths: disks.map((d) => `/dev/${d}`),
    sizeBytes,
  }));
}

/** The device handed out for a single path. */
export function diskDevice(deps: IscsiDeps, disk: string, wwid: string | undefined): ResultAsync<AttachedDevice, VolkitError> {
  return blockDeviceSize(deps.fs, disk).map((sizeBytes) => ({ type: "block", path: `/dev/${disk}`, ...(wwid ? { scsiWwn: wwid } : {}), paths: [`/dev/${disk}`], sizeBytes }));
}

/** Drops the in-flight holds of paths that succeeded (their LUN is now visible in sysfs). */
export function releaseHolds(deps: IscsiDeps, states: readonly PathState[]): void {
  for (const s of states) {
    if (s.holdsSession) holdPending(deps, sessionLockKey(s.target), -1);
    s.holdsSession = false;
  }
}

/**
 * Undoes a failed connect: removes a map only when every path under it is a disk this connect
 * created, deletes the disks it created, logs out the sessions it created (when no other LUN
 * uses them) and deletes the node records it created. Pre-existing objects are never touched.
 * The original error comes back with `details.rollback` = what was removed and left.
 */
export function rollback(deps: IscsiDeps, states: readonly PathState[], cause: VolkitError, ctx: OperationContext, usedMultipath: boolean): ResultAsync<never, VolkitError> {
  const rb = rollbackContext(ctx, 5 * 60_000);
  const report = new TeardownReport();
  const created = states.filter((s) => s.createdDisk && s.lun?.disk !== undefined).map((s) => s.lun?.disk as string);
  const steps = safeTry(async function* () {
    const holders = yield* ResultAsync.combine(created.map((d) => multipathHolder(deps.fs, d)));
    const maps = [...new Map(holders.filter((h): h is DmDevice => h !== undefined).map((h) => [h.dm, h])).values()];
    for (const map of maps) {
      const slaves = yield* dmSlaves(deps.fs, map.dm);
      if (slaves.every((d) => created.includes(d))) yield* removeMap(deps, map, rb, report);
    }
    for (const disk of created) yield* removeDisk(deps, disk, rb, report, usedMultipath);
    for (const s of states) {
      yield* releaseSession(deps, s.target, s.addresses, rb, report, {
        deleteNode: s.createdNode,
        dropPending: s.holdsSession,
        keepSession: !(s.createdSession || (s.attemptedLogin && s.session === undefined)),
        ourDisks: new Set(created),
      });
      s.holdsSession = false;
    }
    return ok(undefined);
  });
  return steps
    .orElse((e) => {
      report.leave("device", "(rollback)", e.message, true, e);
      return okAsync(undefined);
    })
    .andThen(() => {
      const summary = report.toReport();
      if (report.failed) ctx.logger.error({ rollback: summary }, "connect rollback left objects behind");
      return err(new VolkitError(cause.code, cause.message, { source: cause.source ?? "iscsi", cause: cause.cause ?? cause, details: { ...cause.details, rollback: summary }, transient: cause.transient }));
    });
}
