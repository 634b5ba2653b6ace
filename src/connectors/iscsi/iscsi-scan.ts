import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { blockDeviceExists, deleteScsiDisk } from "../../host/block-sysfs.js";
import { isNotFound } from "../../host/host-fs.js";
import type { PlannedPath } from "./iscsi-plan.js";
import type { RemovalReport } from "./iscsi-report.js";
import { findSessionLun, scanSessionLun, type IscsiSession, type SessionLun } from "./iscsi-sysfs.js";
import { poll, type IscsiTools } from "./iscsi-tools.js";

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
}

/** Fresh scan state of a path. */
export function newScanState(): ScanState {
  return { createdDisk: false, lun: undefined };
}

/**
 * Finds the path's LUN under `session`, scanning it when the kernel has no device for it, and
 * waits for its disk, re-scanning only that LUN while it has no device (a device without its disk
 * is still binding: wait).
 */
export function scanLun(tools: IscsiTools, path: PlannedPath, session: IscsiSession, s: ScanState, ctx: OperationContext): ResultAsync<SessionLun, VolkitError> {
  const first = findSessionLun(tools.fs, session, path.lun).andThen((lun) => {
    if (lun !== undefined) return okAsync(undefined);
    s.createdDisk = true;
    return scanSessionLun(tools.fs, session, path.lun).map(() => undefined);
  });
  return first
    .andThen(() =>
      poll(
        tools,
        ctx,
        tools.config.timeouts.deviceMs,
        (attempt) =>
          findSessionLun(tools.fs, session, path.lun).andThen((lun) => {
            if (lun?.disk !== undefined) return okAsync(lun);
            if (lun === undefined && attempt > 1) return scanSessionLun(tools.fs, session, path.lun).map(() => undefined);
            return okAsync(undefined);
          }),
        () =>
          new VolkitError("DEVICE_NOT_FOUND", `LUN ${path.lun} of ${path.iqn} at ${path.portal} did not appear within ${tools.config.timeouts.deviceMs} ms (session ${session.id})`, {
            source: "iscsi",
            details: { target: path.iqn, portal: path.portal, lun: path.lun, session: session.id },
          }),
      ),
    )
    .map((lun) => {
      s.lun = lun;
      return lun;
    });
}

/**
 * Undo of {@link scanLun}: deletes a SCSI disk — `multipathd del path` first when multipath is in
 * play (errors ignored), then `echo 1 > /sys/block/<name>/device/delete` — and waits until the
 * disk left sysfs.
 */
export function removeDisk(tools: IscsiTools, name: string, ctx: OperationContext, report: RemovalReport, viaMultipathd: boolean): ResultAsync<boolean, never> {
  const forget = viaMultipathd ? tools.multipath.delPath(`/dev/${name}`, ctx).orElse(() => okAsync(undefined)) : okAsync(undefined);
  return forget
    .andThen(() => deleteScsiDisk(tools.fs, name).orElse((e) => (isNotFound(e) ? okAsync(undefined) : errAsync(e))))
    .andThen(() =>
      poll(tools, ctx, tools.config.timeouts.removeMs, () => blockDeviceExists(tools.fs, name).map((present) => (present ? undefined : true)), () =>
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
