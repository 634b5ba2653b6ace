import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { withLock } from "../../core/locks.js";
import { blockDeviceExists, deleteScsiDisk, dmDevice, type DmDevice } from "../../host/block-sysfs.js";
import { isNotFound } from "../../host/host-fs.js";
import type { DisconnectReport, LeftBehind } from "../../core/records.js";
import { findSession, holdPending, poll, type IscsiDeps } from "./iscsi-deps.js";
import { sessionLuns } from "./iscsi-sysfs.js";
import { sessionLockKey, sessionName, type IscsiPathTarget } from "./iscsi-targets.js";

/**
 * Removal steps shared by disconnect and by the rollback of a failed connect. Each step records
 * what it removed or left (never throws, never stops the others); the caller decides whether what
 * was left is an error.
 */

/** A left-behind entry plus whether it is a failure (a shared session kept on purpose is not). */
interface LeftEntry extends Omit<LeftBehind, "expected"> {
  readonly failed: boolean;
}

/** Collects the outcome of a teardown. */
export class TeardownReport {
  /** Objects removed, in order. */
  readonly removed: string[] = [];
  /** Objects left, with whether that is a failure. */
  readonly left: LeftEntry[] = [];
  /** Errors met (for logs and the error cause). */
  readonly errors: VolkitError[] = [];

  /** Records a removal. */
  remove(what: string): void {
    this.removed.push(what);
  }

  /** Records an object left behind. */
  leave(kind: LeftBehind["kind"], name: string, reason: string, failed: boolean, error?: VolkitError): void {
    this.left.push({ kind, name, reason, failed });
    if (error) this.errors.push(error);
  }

  /** True when something was left because of an error. */
  get failed(): boolean {
    return this.left.some((l) => l.failed);
  }

  /** The public report. */
  toReport(): DisconnectReport {
    return { removed: [...this.removed], leftBehind: this.left.map(({ kind, name, reason, failed }) => ({ kind, name, reason, expected: !failed })) };
  }
}

/** Flushes a multipath map (`multipath -f`, retried while busy) and waits until it left sysfs. */
export function removeMap(deps: IscsiDeps, map: DmDevice, ctx: OperationContext, report: TeardownReport): ResultAsync<boolean, never> {
  return deps.multipath
    .flushMap(map.name, ctx)
    .andThen(() =>
      poll(deps, ctx, deps.config.timeouts.removeMs, () => dmDevice(deps.fs, map.dm).map((d) => (d?.uuid === map.uuid ? undefined : true)), () =>
        new VolkitError("DETACH_INCOMPLETE", `multipath map ${map.name} (${map.dm}) is still present after multipath -f`, { source: "iscsi", details: { map: map.name } }),
      ),
    )
    .map(() => {
      report.remove(`map ${map.name}`);
      return true;
    })
    .orElse((e) => {
      report.leave("map", map.name, `could not remove the map: ${e.message}`, true, e);
      return okAsync(false);
    });
}

/**
 * Deletes a SCSI disk: `multipathd del path` (when multipath is in play, errors ignored), then
 * `echo 1 > /sys/block/<name>/device/delete`, then waits until the disk left sysfs.
 */
export function removeDisk(deps: IscsiDeps, name: string, ctx: OperationContext, report: TeardownReport, viaMultipathd: boolean): ResultAsync<boolean, never> {
  const forget = viaMultipathd ? deps.multipath.delPath(`/dev/${name}`, ctx).orElse(() => okAsync(undefined)) : okAsync(undefined);
  return forget
    .andThen(() => deleteScsiDisk(deps.fs, name).orElse((e) => (isNotFound(e) ? okAsync(undefined) : errAsync(e))))
    .andThen(() =>
      poll(deps, ctx, deps.config.timeouts.removeMs, () => blockDeviceExists(deps.fs, name).map((present) => (present ? undefined : true)), () =>
        new VolkitError("DETACH_INCOMPLETE", `/dev/${name} is still present after its SCSI delete`, { source: "iscsi", details: { device: `/dev/${name}` } }),
      ),
    )
    .map(() => {
      report.remove(`device /dev/${name}`);
      return true;
    })
    .orElse((e) => {
      report.leave("device", `/dev/${name}`, `could not delete the device: ${e.message}`, true, e);
      return okAsync(false);
    });
}

/** Options of {@link releaseSession}. */
export interface ReleaseOptions {
  /** Delete the node record after logout (disconnect: yes; rollback: only a record it created). */
  readonly deleteNode: boolean;
  /** Release this operation's in-flight hold on the session inside the lock, before checking. */
  readonly dropPending: boolean;
  /** Skip the logout (rollback of a session that existed before): only drop the hold. */
  readonly keepSession: boolean;
  /** Disks this operation meant to remove: one still present under the session is a failure. */
  readonly ourDisks: ReadonlySet<string>;
}

/**
 * Logs a session out and deletes its node record — only when no LUN of the target remains
 * under it and no connect of this process is using it, decided under the session's lock.
 * A session kept for other LUNs is reported (not as a failure).
 */
export function releaseSession(deps: IscsiDeps, t: IscsiPathTarget, addresses: readonly string[], ctx: OperationContext, report: TeardownReport, options: ReleaseOptions): ResultAsync<void, never> {
  const key = sessionLockKey(t);
  const name = sessionName(t);
  let dropped = false;
  const drop = (): void => {
    if (options.dropPending && !dropped) holdPending(deps, key, -1);
    dropped = true;
  };
  const body = (): ResultAsync<void, VolkitError> => {
    drop();
    if (options.keepSession) return okAsync(undefined);
    return findSession(deps, t, addresses).andThen((session) => {
      if (!session) return options.deleteNode ? deps.iscsiadm.deleteNode(t.iqn, t.portal, ctx) : okAsync(undefined);
      return sessionLuns(deps.fs, session).andThen((luns) => {
        const inFlight = deps.pending.get(key) ?? 0;
        if (luns.length > 0 || inFlight > 0) {
          // Our LUN still there: its disk failed to go (or never bound). A disk at our LUN number
          // that we did not mean to remove holds another volume (its WWID differed).
          const stuck = luns.some((l) => l.lun === t.lun && (l.disk === undefined || options.ourDisks.has(l.disk)));
          const others = luns.filter((l) => !(l.lun === t.lun && (l.disk === undefined || options.ourDisks.has(l.disk))));
          const reason = stuck
            ? `LUN ${t.lun} of this volume is still present on it`
            : others.length > 0
              ? `kept: in use by LUN ${others.map((l) => (l.lun === t.lun ? `${l.lun} (another volume: WWID differs)` : String(l.lun))).join(", ")} of this target (not an error)`
              : "kept: another attach on this host is using it (not an error)";
          report.leave("session", name, reason, stuck);
          return okAsync(undefined);
        }
        return deps.iscsiadm
          .updateNode(t.iqn, t.portal, "node.startup", "manual", ctx)
          .orElse(() => okAsync(undefined))
          .andThen(() => deps.iscsiadm.logout(t.iqn, t.portal, ctx))
          .andThen(() => (options.deleteNode ? deps.iscsiadm.deleteNode(t.iqn, t.portal, ctx) : okAsync(undefined)))
          .andThen(() =>
            poll(deps, ctx, deps.config.timeouts.removeMs, () => findSession(deps, t, addresses).map((s) => (s?.id === session.id ? undefined : true)), () =>
              new VolkitError("DETACH_INCOMPLETE", `session ${name} is still present after logout`, { source: "iscsi" }),
            ),
          )
          .map(() => report.remove(`session ${name}`));
      });
    });
  };
  return withLock(deps.locks, key, ctx.signal, body).orElse((e) => {
    drop(); // the lock was never obtained: the hold must not outlive this operation
    report.leave("session", name, `could not log out: ${e.message}`, true, e);
    return okAsync(undefined);
  });
}
