import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { VolkitError } from "../../core/errors.js";
import type { LeftBehind } from "../../core/records.js";
import type { AttachmentRecord } from "../records/attachment-record.js";
import type { VolumeRecord } from "../records/volume-record.js";
import { traced } from "../service-events.js";
import { backendOf, coreSnapshot, coreVolume, driverVolumeId, failureReason, holding, mustWin, newTask, type ServiceContext } from "../service-context.js";
import { AttachStatusSchema, LIVE_ATTACH_STATUSES, VolumeStatusSchema, type AttachStatus, type VolumeStatus } from "../state-machine.js";
import { serviceContext } from "../ops/host-attach.js";
import { dropTarget } from "../ops/migrate-volume.js";
import { undoAttachment, type AdminReport } from "./recovery-report.js";

/**
 * The admin's tools for a volume stuck or beyond repair, each cleaning the storage and this host
 * rather than only the database (Cinder's `reset-state`, `force-delete` and `force-detach`, which
 * leave LVs, targets and sessions behind), and reporting what they removed.
 */

interface Collected {
  removed: string[];
  leftBehind: LeftBehind[];
  records: string[];
}

/** Undoes and removes attachment records, collecting what went. */
function undoAll(sc: ServiceContext, volume: VolumeRecord, atts: readonly AttachmentRecord[], removeRecords: boolean): ResultAsync<Collected, VolkitError> {
  const ctx = serviceContext(sc, "admin", volume.id, {});
  return atts.reduce<ResultAsync<Collected, VolkitError>>(
    (chain, att) =>
      chain.andThen((acc) =>
        undoAttachment(sc, att, volume, ctx).andThen((u) =>
          (removeRecords ? sc.store.attachments.remove(att.id).map(() => [`attachment ${att.id}`]) : okAsync<string[], VolkitError>([])).map((records) => ({
            removed: [...acc.removed, ...u.removed],
            leftBehind: [...acc.leftBehind, ...u.leftBehind],
            records: [...acc.records, ...records],
          })),
        ),
      ),
    okAsync({ removed: [], leftBehind: [], records: [] }),
  );
}

/** Options of `resetStatus`. */
export interface ResetStatusOptions {
  /** The attach status to set (default: `attached` when an attachment is still attached, else `detached`). */
  readonly attachStatus?: AttachStatus;
}

/**
 * Sets a volume's status whatever it is (Cinder's `reset-state`), after undoing its attachments that
 * never completed or were being detached (on this host: device, map, session; on the storage: the
 * host's access and an unused export) and removing their records. Completed attachments are kept.
 */
export function resetStatusOp(sc: ServiceContext, volumeId: string, status: VolumeStatus, options: ResetStatusOptions = {}): ResultAsync<AdminReport, VolkitError> {
  const parsed = VolumeStatusSchema.safeParse(status);
  if (!parsed.success) return errAsync(new VolkitError("INVALID_ARGUMENT", `not a volume status: ${String(status)}`, { source: "service" }));
  if (options.attachStatus !== undefined && !AttachStatusSchema.safeParse(options.attachStatus).success) {
    return errAsync(new VolkitError("INVALID_ARGUMENT", `not an attach status: ${String(options.attachStatus)}`, { source: "service" }));
  }
  return traced(
    sc.events,
    "volume",
    "reset_status",
    { volumeId },
    () =>
      sc.store.volumes.get(volumeId).andThen((volume) =>
        holding(sc, [`volume:${volumeId}`], () =>
          sc.store.attachments.list({ volumeId }).andThen((atts) => {
            const unfinished = atts.filter((a) => a.attachStatus !== "attached");
            return undoAll(sc, volume, unfinished, true).andThen((c) => {
              const attached = atts.some((a) => a.attachStatus === "attached" && a.purpose === "instance");
              return sc.store.volumes
                .resetStatus(volumeId, status, { attachStatus: options.attachStatus ?? (attached ? "attached" : "detached"), statusReason: `reset to ${status} by an admin` })
                .andThen((t) => mustWin(t, `reset volume ${volumeId}`))
                .map((r): AdminReport => ({ volumeId, status: r.status, ...c }));
            });
          }),
        ),
      ),
    (r) => (r.status === "removed" ? undefined : (r.status as VolumeStatus)),
  );
}

/**
 * Deletes a volume whatever its status (Cinder's `force-delete`), leaving nothing: every attachment
 * undone (devices on this host, every host's access on the storage), the export removed, a
 * migration's temporary copy dropped, every snapshot and the volume deleted on the backend, every
 * record removed. A failure leaves the volume `error_deleting` with the reason; running it again
 * continues.
 */
export function forceDeleteOp(sc: ServiceContext, volumeId: string): ResultAsync<AdminReport, VolkitError> {
  return traced(sc.events, "volume", "force_delete", { volumeId }, () =>
    sc.store.volumes
      .begin(volumeId, "forceDelete", { patch: { task: newTask(sc, "forceDelete") } })
      .andThen((t) => mustWin(t, `force-delete volume ${volumeId}`))
      .andThen((volume) =>
        holding(sc, [`volume:${volumeId}`], () =>
          sc.store.attachments
            .list({ volumeId })
            .andThen((atts) => undoAll(sc, volume, atts, false).map((c) => ({ ...c, records: atts.map((a) => `attachment ${a.id}`) })))
            .andThen((c) =>
              volume.backend === undefined
                ? okAsync(c)
                : backendOf(sc, volume).asyncAndThen((backend) => {
                    const v = coreVolume(volume);
                    // Every host's access and the export, even those no record knew of.
                    return backend
                      .terminateConnection(v)
                      .andThen(() => backend.removeExport(v))
                      .andThen(() => sc.store.snapshots.list({ volumeId }))
                      .andThen((snapshots) =>
                        snapshots.reduce<ResultAsync<Collected, VolkitError>>(
                          (chain, s) =>
                            chain.andThen((acc) =>
                              backend
                                .deleteSnapshot(coreSnapshot(s, volume))
                                .andThen(() => sc.store.snapshots.remove(s.id))
                                .map(() => ({ ...acc, removed: [...acc.removed, `snapshot ${s.id} on ${backend.name}`], records: [...acc.records, `snapshot ${s.id}`] })),
                            ),
                          okAsync(c),
                        ),
                      )
                      .andThen((acc) => backend.deleteVolume(v).map(() => ({ ...acc, removed: [...acc.removed, `volume ${driverVolumeId(volume)} on ${backend.name}`] })));
                  }),
            )
            .andThen((c) =>
              sc.store.volumes.list({ migrationStatus: `target:${volumeId}` }).andThen((targets) =>
                targets.reduce<ResultAsync<Collected, VolkitError>>(
                  (chain, t) => chain.andThen((acc) => dropTarget(sc, t, {}).map(() => ({ ...acc, removed: [...acc.removed, `migration copy on ${t.backend ?? "?"}`], records: [...acc.records, `volume ${t.id}`] }))),
                  okAsync(c),
                ),
              ),
            )
            .orElse((e) =>
              sc.store.volumes
                .finish(volumeId, "forceDelete", "failure", { statusReason: failureReason("force-delete", e) })
                .orElse(() => okAsync(undefined))
                .andThen(() => errAsync(e)),
            )
            .andThen((c) => sc.store.volumes.finish(volumeId, "forceDelete", "success").map((): AdminReport => ({ volumeId, status: "removed", ...c, records: [...c.records, `volume ${volumeId}`] }))),
        ),
      ),
  );
}

/**
 * Detaches by force (Cinder's `force-detach`): the attachment (or every live one) is undone on
 * this host when it is this host's, and on the storage in any case (the host's access revoked, the
 * export removed when unused), its record removed, and the volume's status set from the
 * attachments left (`in-use` or `available`) when it was an attach status.
 */
export function forceDetachOp(sc: ServiceContext, volumeId: string, attachmentId?: string): ResultAsync<AdminReport, VolkitError> {
  return traced(sc.events, "volume", "force_detach", { volumeId, attachmentId }, () =>
    sc.store.volumes.get(volumeId).andThen((volume) =>
      holding(sc, [`volume:${volumeId}`], () =>
        sc.store.attachments.list({ volumeId }).andThen((atts) => {
          const targets = attachmentId === undefined ? atts.filter((a) => (LIVE_ATTACH_STATUSES as readonly string[]).includes(a.attachStatus) || a.attachStatus === "error_attaching") : atts.filter((a) => a.id === attachmentId);
          if (attachmentId !== undefined && targets.length === 0) return errAsync(new VolkitError("NOT_FOUND", `volume ${volumeId} has no attachment ${attachmentId}`, { source: "service" }));
          return undoAll(sc, volume, targets, true).andThen((c) => {
            const left = atts.filter((a) => !targets.includes(a) && a.attachStatus === "attached" && a.purpose === "instance");
            const settle: readonly VolumeStatus[] = ["in-use", "attaching", "detaching", "reserved", "available", "error"];
            if (!settle.includes(volume.status)) return okAsync<AdminReport, VolkitError>({ volumeId, status: volume.status, ...c });
            const status: VolumeStatus = left.length > 0 ? "in-use" : "available";
            return sc.store.volumes
              .resetStatus(volumeId, status, { attachStatus: left.length > 0 ? "attached" : "detached" })
              .andThen((t) => mustWin(t, `settle volume ${volumeId}`))
              .map((r): AdminReport => ({ volumeId, status: r.status, ...c }));
          });
        }),
      ),
    ),
  );
}
