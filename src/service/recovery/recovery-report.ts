import { okAsync, type ResultAsync } from "neverthrow";
import type { DetachReport } from "../../attach/attach-flow.js";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import type { LeftBehind } from "../../core/records.js";
import type { AttachmentRecord } from "../records/attachment-record.js";
import type { VolumeRecord } from "../records/volume-record.js";
import { backendOf, type ServiceContext } from "../service-context.js";
import { LIVE_ATTACH_STATUSES } from "../state-machine.js";
import { detachFromHost } from "../ops/host-attach.js";

/** What recovering one record did. */
export interface RecoveryAction {
  /** The kind of record. */
  readonly kind: "volume" | "snapshot" | "attachment" | "backup";
  /** Its id. */
  readonly id: string;
  /** The volume concerned. */
  readonly volumeId: string;
  /** Its status when found. */
  readonly from: string;
  /** Completed (finished forward), rolled back, skipped (still running elsewhere), or failed. */
  readonly outcome: "completed" | "rolled-back" | "skipped" | "failed";
  /** Its status afterwards, or `removed`. */
  readonly to?: string;
  /** Objects removed on the storage and on this host (`device /dev/sdb`, `export of volume …`, `volume … on lvm-a`). */
  readonly removed: readonly string[];
  /** Objects still present afterwards, and why (`expected: false` needs attention). */
  readonly leftBehind: readonly LeftBehind[];
  /** Why it was skipped or failed, or what it did. */
  readonly reason?: string;
  /** The error, when it failed. */
  readonly error?: { readonly code: string; readonly message: string };
}

/** What a `reconcile()` did, record by record. */
export interface ReconcileReport {
  /** One entry per record found in a transient status (or an orphan attachment). */
  readonly actions: readonly RecoveryAction[];
  /** How long it took, ms. */
  readonly durationMs: number;
}

/** What an admin operation (`resetStatus`, `forceDelete`, `forceDetach`) removed and left. */
export interface AdminReport {
  /** The volume. */
  readonly volumeId: string;
  /** Its status afterwards, or `removed`. */
  readonly status: string;
  /** Objects removed on the storage and on this host. */
  readonly removed: readonly string[];
  /** Objects still present, and why. */
  readonly leftBehind: readonly LeftBehind[];
  /** Records removed or changed (`attachment a1`, `snapshot s1`). */
  readonly records: readonly string[];
}

/** What undoing an attachment removed and left. */
export interface Undone {
  /** Removed objects. */
  readonly removed: string[];
  /** Objects left. */
  readonly leftBehind: LeftBehind[];
}

/** The removed objects of a detach report, in words. */
export function removedBy(report: DetachReport, att: AttachmentRecord, volume: VolumeRecord): string[] {
  return [
    ...report.disconnect.removed,
    ...(report.connectionTerminated && att.connectionInfo !== undefined ? [`connection of ${att.host} to volume ${volume.id}`] : []),
    ...(report.exportRemoved ? [`export of volume ${volume.id}`] : []),
  ];
}

/**
 * Undoes whatever an attachment record says exists, whatever step it reached: on this host the
 * device, map and session (from the stored device, or found from the connection), on the storage
 * the host's access and the export when nobody uses it. An attachment of another host gets only
 * the storage side (its devices are that host's to remove). When another live attachment of the
 * volume on the same host still uses the device, nothing is touched.
 */
export function undoAttachment(sc: ServiceContext, att: AttachmentRecord, volume: VolumeRecord, ctx: OperationContext): ResultAsync<Undone, VolkitError> {
  return sc.store.attachments.list({ volumeId: volume.id, host: att.host, attachStatus: [...LIVE_ATTACH_STATUSES] }).andThen((live) => {
    const others = live.filter((a) => a.id !== att.id && a.attachStatus === "attached");
    if (others.length > 0) {
      return okAsync<Undone, VolkitError>({ removed: [], leftBehind: [{ kind: "device", name: att.device?.path ?? volume.id, reason: `kept: attachment ${others.map((o) => o.id).join(", ")} on ${att.host} still uses it`, expected: true }] });
    }
    const local = att.host === sc.hostName;
    return backendOf(sc, { id: volume.id, backend: att.backend ?? volume.backend }).asyncAndThen((backend) =>
      detachFromHost(sc, att, volume, backend, { force: true, storageOnly: !local }, ctx).map((report): Undone => ({
        removed: removedBy(report, att, volume),
        leftBehind: [
          ...report.disconnect.leftBehind,
          ...(!local && att.connectionInfo !== undefined ? [{ kind: "device" as const, name: `${att.host}: volume ${volume.id}`, reason: `attached on host ${att.host}: its device is removed by a reconcile on that host`, expected: false }] : []),
        ],
      })),
    );
  });
}
