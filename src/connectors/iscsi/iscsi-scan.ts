import { ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { blockDeviceExists } from "../../host/block-sysfs.js";
import type { PlannedPath } from "./iscsi-plan.js";
import type { RemovalReport } from "./iscsi-report.js";
import { findSessionLun, type IscsiSession, type SessionLun } from "./iscsi-sysfs.js";
import { waitSysfs, type IscsiTools } from "./iscsi-tools.js";

/**
 * Stage 3, scan: the LUN's SCSI disk under a path's session, found by a scan of that LUN only
 * (never the whole target), and its undo, delete the disk.
 */

/** What the scan of one path did. */
export interface ScanState {
  /** The LUN's SCSI device did not exist before our scan. */
  createdDisk: boolean;
  /** The LUN with its disk, once found. */
  lun: SessionLun | undefined;
  /** The session our scan went through (to find a disk that appeared after the wait ended). */
  session: IscsiSession | undefined;
  /** Our last scan write, queued or running (an undo waits for it before it looks for the disk). */
  scanning: Promise<unknown> | undefined;
}

/** Fresh scan state of a path. */
export function newScanState(): ScanState {
  return { createdDisk: false, lun: undefined, session: undefined, scanning: undefined };
}

/**
 * Finds the path's LUN under `session`, scanning it when the kernel has no device for it, and
 * waits for its disk in the connector's sysfs rounds (shared with every other wait). The scan goes
 * through the session's {@link ScanQueue} (joined with every other LUN waiting on the session) and
 * the wait does not stop for it: the round's reads go on while the kernel probes. While the kernel
 * has no device for the LUN, only that LUN is scanned again, at growing intervals (a device without
 * its disk is still binding: wait).
 */
export function scanLun(tools: IscsiTools, path: PlannedPath, session: IscsiSession, s: ScanState, ctx: OperationContext): ResultAsync<SessionLun, VolkitError> {
  let lastScan = Date.now();
  let rescanAfter = Math.max(1, Math.floor(tools.config.poll.maxMs / 4));
  let failed: VolkitError | undefined;
  let writing = false;
  const requestScan = (): void => {
    lastScan = Date.now();
    writing = true;
    // The next rescan is timed from when the kernel took this one (it may wait in the queue).
    s.scanning = tools.scans.scan(tools.fs, session, path.lun).match(
      () => {
        writing = false;
        lastScan = Date.now();
      },
      (e) => {
        writing = false;
        failed = e;
      },
    );
  };
  let first = true;
  return waitSysfs(
    tools,
    ctx,
    tools.config.timeouts.deviceMs,
    (fs) => {
      if (failed !== undefined) return errAsync(failed);
      return findSessionLun(fs, session, path.lun).map((lun) => {
        const wasFirst = first;
        first = false;
        if (lun?.disk !== undefined) return lun;
        if (wasFirst) {
          if (lun !== undefined) return undefined; // the kernel has the LUN already: not ours, no scan
          s.createdDisk = true;
          s.session = session;
          requestScan();
          return undefined;
        }
        if (lun !== undefined || writing || Date.now() - lastScan < rescanAfter) return undefined;
        rescanAfter = Math.min(rescanAfter * 2, tools.config.poll.maxMs);
        requestScan();
        return undefined;
      });
    },
    () =>
      new VolkitError("DEVICE_NOT_FOUND", `LUN ${path.lun} of ${path.iqn} at ${path.portal} did not appear within ${tools.config.timeouts.deviceMs} ms (session ${session.id})`, {
        source: "iscsi",
        details: { target: path.iqn, portal: path.portal, lun: path.lun, session: session.id },
      }),
  )
    .andThen((lun) => ResultAsync.fromSafePromise(Promise.resolve(s.scanning)).map(() => lun)) // never leave a write of ours behind
    .map((lun) => {
      s.lun = lun;
      return lun;
    });
}

/**
 * The disk a scan of ours made, for its undo: the one found, or — when the wait ended first (an
 * abort, a timeout) — the LUN's disk under the session now, waiting a bounded `settleMs` while the
 * kernel has the LUN's device but the sd driver has not bound its disk yet.
 */
export function scannedDisk(tools: IscsiTools, path: PlannedPath, s: ScanState, ctx: OperationContext, settleMs: number): ResultAsync<string | undefined, never> {
  const session = s.session;
  if (!s.createdDisk) return okAsync(undefined);
  if (s.lun?.disk !== undefined) return okAsync(s.lun.disk);
  if (session === undefined) return okAsync(undefined);
  // A scan still queued or running makes the disk after we looked: wait for the write first.
  const written = ResultAsync.fromSafePromise(Promise.resolve(s.scanning));
  return written
    .andThen(() => findSessionLun(tools.fs, session, path.lun))
    .andThen((lun) => {
      if (lun === undefined || lun.disk !== undefined) return okAsync(lun?.disk);
      return waitSysfs(tools, ctx, settleMs, (fs) => findSessionLun(fs, session, path.lun).map((l) => (l === undefined ? null : l.disk)), () =>
        new VolkitError("DEVICE_NOT_FOUND", `LUN ${path.lun} has a SCSI device but no disk`, { source: "iscsi" }),
      ).map((d) => d ?? undefined);
    })
    .orElse((e) => {
      ctx.logger.warn({ err: e.toJSON(), lun: path.lun, portal: path.portal }, "could not find the disk of a LUN this connect scanned");
      return okAsync(undefined);
    });
}

/**
 * Undo of {@link scanLun}: deletes a SCSI disk — `multipathd del path` first when asked (errors
 * ignored), then `echo 1 > /sys/block/<name>/device/delete` through its SCSI host's queue — and
 * waits until the disk left sysfs.
 */
export function removeDisk(tools: IscsiTools, name: string, ctx: OperationContext, report: RemovalReport, viaMultipathd: boolean): ResultAsync<boolean, never> {
  const forget = viaMultipathd ? tools.multipath.delPath(`/dev/${name}`, ctx).orElse(() => okAsync(undefined)) : okAsync(undefined);
  return forget
    .andThen(() => tools.scans.deleteDisk(tools.fs, name))
    .andThen(() =>
      waitSysfs(tools, ctx, tools.config.timeouts.removeMs, (fs) => blockDeviceExists(fs, name).map((present) => (present ? undefined : true)), () =>
        new VolkitError("DETACH_INCOMPLETE", `/dev/${name} is still present after its SCSI delete`, { source: "iscsi", details: { device: `/dev/${name}` } }),
      ),
    )
    .map(() => {
      report.remove(`device /dev/${name}`);
      return true;
    })
    .orElse((e) => {
      report.fail("device", `/dev/${name}`, `could not delete the device: ${e.message}`, e);
      return okAsync(false);
    });
}
