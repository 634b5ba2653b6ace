import { okAsync, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import type { LeftBehind } from "../../core/records.js";
import { PURPOSE_KEY } from "../image/image-cache.js";
import type { AttachmentRecord } from "../records/attachment-record.js";
import type { VolumeRecord } from "../records/volume-record.js";
import { backendOf, coreSnapshot, coreVolume, driverVolumeId, mustWin, type ServiceContext } from "../service-context.js";
import type { VolumeOperation } from "../state-machine.js";
import { deleteOnBackend } from "../ops/delete-volume.js";
import { providerPatch } from "../ops/host-attach.js";
import { dropTarget, finishMigration } from "../ops/migrate-volume.js";
import { recoverBackupVolume } from "./recover-backup.js";
import { undoAttachment, type RecoveryAction } from "./recovery-report.js";

/**
 * How `reconcile()` settles one volume found in a transient status whose operation was abandoned
 * (its process died). The rule per status: an operation whose effect cannot be checked or is not
 * wanted any more is rolled back (creating, attaching, managing, a migration before its swap);
 * one whose every step is idempotent and whose intent is recorded is completed (deleting,
 * detaching, extending to the size in its task, reverting to the snapshot in its task, retyping,
 * unmanaging, a migration after its swap).
 */

const INTERRUPTED = "interrupted (its process ended); recovered by reconcile";

/** An action's fields. */
type Action = Omit<RecoveryAction, "kind" | "id" | "volumeId" | "from">;

function done(outcome: "completed" | "rolled-back", to: string, removed: string[] = [], leftBehind: LeftBehind[] = [], reason?: string): Action {
  return { outcome, to, removed, leftBehind, ...(reason === undefined ? {} : { reason }) };
}

/** Ends the record's operation; the final status, or `removed`. */
function finish(sc: ServiceContext, v: VolumeRecord, op: VolumeOperation, outcome: "success" | "failure", extra: Parameters<ServiceContext["store"]["volumes"]["finish"]>[3] = {}): ResultAsync<string, VolkitError> {
  return sc.store.volumes
    .finish(v.id, op, outcome, { ...(outcome === "failure" ? { statusReason: `${op} ${INTERRUPTED}` } : {}), ...extra })
    .andThen((t) => mustWin(t, `end the interrupted ${op} of volume ${v.id}`))
    // Delete-like operations remove the record (`finish` returns the removed row).
    .map((r) => (REMOVING.has(op) && outcome === "success" ? "removed" : r.status));
}

const REMOVING: ReadonlySet<VolumeOperation> = new Set(["delete", "unmanage", "forceDelete"]);

/** Removes attachment records. */
function removeAll(sc: ServiceContext, atts: readonly AttachmentRecord[]): ResultAsync<void, VolkitError> {
  return atts.reduce<ResultAsync<void, VolkitError>>((chain, a) => chain.andThen(() => sc.store.attachments.remove(a.id).map(() => undefined)), okAsync(undefined));
}

/** Undoes every attachment of `v` in `statuses` (or of `purpose`), removing their records; what they removed. */
function undoAttachments(sc: ServiceContext, v: VolumeRecord, pick: (a: AttachmentRecord) => boolean, ctx: OperationContext, keepRecords = false): ResultAsync<{ removed: string[]; leftBehind: LeftBehind[] }, VolkitError> {
  return sc.store.attachments.list({ volumeId: v.id }).andThen((all) =>
    all.filter(pick).reduce<ResultAsync<{ removed: string[]; leftBehind: LeftBehind[] }, VolkitError>>(
      (chain, att) =>
        chain.andThen((acc) =>
          undoAttachment(sc, att, v, ctx).andThen((u) =>
            (keepRecords ? okAsync(undefined) : sc.store.attachments.remove(att.id).map(() => undefined)).map(() => ({ removed: [...acc.removed, ...u.removed], leftBehind: [...acc.leftBehind, ...u.leftBehind] })),
          ),
        ),
      okAsync({ removed: [], leftBehind: [] }),
    ),
  );
}

const isCopy = (a: AttachmentRecord): boolean => a.purpose === "copy";

/** Recovers an abandoned `creating`: roll back (the object, if any, is deleted; internal volumes go entirely). */
function recoverCreating(sc: ServiceContext, v: VolumeRecord, ctx: OperationContext): ResultAsync<Action, VolkitError> {
  return undoAttachments(sc, v, isCopy, ctx).andThen((copies) => {
    const onBackend = v.backend === undefined ? okAsync<string[], VolkitError>([]) : backendOf(sc, v).asyncAndThen((b) => b.deleteVolume(coreVolume(v)).map(() => [`volume ${driverVolumeId(v)} on ${b.name}`]));
    return onBackend.andThen((removed) => {
      const all = [...copies.removed, ...removed];
      if (v.metadata[PURPOSE_KEY] !== undefined) return sc.store.volumes.remove(v.id).map(() => done("rolled-back", "removed", all, copies.leftBehind));
      return finish(sc, v, "create", "failure").map((to) => done("rolled-back", to, all, copies.leftBehind));
    });
  });
}

/** Recovers an abandoned migration: roll back before the swap, complete after it. */
function recoverMigration(sc: ServiceContext, v: VolumeRecord, ctx: OperationContext): ResultAsync<Action, VolkitError> {
  const targetId = v.task?.targetVolumeId;
  const target = targetId === undefined ? okAsync(undefined) : sc.store.volumes.find(targetId);
  return target.andThen((t) =>
    undoAttachments(sc, v, isCopy, ctx).andThen((a) =>
      (t === undefined ? okAsync({ removed: [], leftBehind: [] }) : undoAttachments(sc, t, isCopy, ctx)).andThen((b) => {
        const removed = [...a.removed, ...b.removed];
        const leftBehind = [...a.leftBehind, ...b.leftBehind];
        if (v.task?.phase === "swapped") {
          const old = t === undefined ? [] : [`old copy of volume ${v.id} on ${t.backend ?? "?"}`];
          const finishIt = t === undefined ? sc.store.volumes.finish(v.id, "migrate", "success", { patch: { migrationStatus: "success" } }).andThen((x) => mustWin(x, `finish migrating ${v.id}`)) : finishMigration(sc, v.id, t);
          return finishIt.map((r) => done("completed", r.status, [...removed, ...old], leftBehind));
        }
        const drop = t === undefined ? okAsync<string[], VolkitError>([]) : dropTarget(sc, t, {}).map(() => [`migration target of volume ${v.id} on ${t.backend ?? "?"}`]);
        return drop.andThen((dropped) =>
          finish(sc, v, "migrate", "failure", { patch: { migrationStatus: "error" } }).map((to) => done("rolled-back", to, [...removed, ...dropped], leftBehind)),
        );
      }),
    ),
  );
}

/** Grows the volume to the task's size again (idempotent), then this host's attached devices. */
function recoverExtending(sc: ServiceContext, v: VolumeRecord): ResultAsync<Action, VolkitError> {
  const size = v.task?.newSizeGiB;
  if (size === undefined) return finish(sc, v, "extend", "failure").map((to) => done("rolled-back", to, [], [], "no target size recorded"));
  return backendOf(sc, v).asyncAndThen((backend) =>
    backend.extendVolume(coreVolume(v), size).andThen((grown) =>
      sc.store.attachments.list({ volumeId: v.id, host: sc.hostName, attachStatus: "attached" }).andThen((local) =>
        local
          .reduce<ResultAsync<void, VolkitError>>((chain, a) => {
            if (a.connectionInfo === undefined || a.device === undefined) return chain;
            const connection = a.connectionInfo;
            const device = a.device;
            return chain.andThen(() =>
              sc.host
                .connector(connection.type)
                .andThen((c) => c.extendVolume(connection, device))
                .andThen((bytes) => sc.store.attachments.update(a.id, { device: { ...device, sizeBytes: bytes } }))
                .map(() => undefined),
            );
          }, okAsync(undefined))
          .andThen(() => finish(sc, v, "extend", "success", { patch: { ...providerPatch(grown), sizeGiB: size } }))
          .map((to) => done("completed", to, [], [], `extended to ${size} GiB`)),
      ),
    ),
  );
}

/** Reverts to the task's snapshot again (idempotent), or fails the revert. */
function recoverReverting(sc: ServiceContext, v: VolumeRecord): ResultAsync<Action, VolkitError> {
  const snapshotId = v.task?.snapshotId;
  const snapshot = snapshotId === undefined ? okAsync(undefined) : sc.store.snapshots.find(snapshotId);
  return snapshot.andThen((s) => {
    const endSnapshot = (outcome: "success" | "failure"): ResultAsync<void, never> =>
      s === undefined || s.status !== "restoring"
        ? okAsync(undefined)
        : sc.store.snapshots
            .finish(s.id, "restore", outcome)
            .map(() => undefined)
            .orElse(() => okAsync(undefined));
    if (s === undefined) return finish(sc, v, "revert", "failure").map((to) => done("rolled-back", to, [], [], "its snapshot is gone"));
    return backendOf(sc, v).asyncAndThen((b) =>
      b
        .revertToSnapshot(coreVolume(v), coreSnapshot(s, v))
        .andThen(() => finish(sc, v, "revert", "success"))
        .andThen((to) => endSnapshot("success").map(() => done("completed", to, [], [], `reverted to snapshot ${s.id}`))),
    );
  });
}

/** The attachment an attach or detach worked on. */
function taskAttachments(sc: ServiceContext, v: VolumeRecord, status: "attaching" | "detaching"): ResultAsync<AttachmentRecord[], VolkitError> {
  return sc.store.attachments.list({ volumeId: v.id }).map((all) => all.filter((a) => a.id === v.task?.attachmentId || (a.attachStatus === status && a.purpose === "instance")));
}

/** Settles one abandoned volume by its status; `undefined` when the status is not one this service sets. */
export function recoverVolume(sc: ServiceContext, v: VolumeRecord, ctx: OperationContext): ResultAsync<Action, VolkitError> | undefined {
  switch (v.status) {
    case "creating":
    case "downloading":
      return recoverCreating(sc, v, ctx);
    case "deleting":
      return undoAttachments(sc, v, isCopy, ctx).andThen((copies) =>
        deleteOnBackend(sc, v, {}).andThen(() => finish(sc, v, "delete", "success").map((to) => done("completed", to, [...copies.removed, ...(v.backend === undefined ? [] : [`volume ${driverVolumeId(v)} on ${v.backend}`])], copies.leftBehind))),
      );
    case "extending":
      return recoverExtending(sc, v);
    case "attaching":
    case "detaching": {
      // An attach is rolled back, a detach completed: either way the host and storage sides go.
      const attach = v.status === "attaching";
      return taskAttachments(sc, v, v.status).andThen((atts) => {
        const ids = new Set(atts.map((a) => a.id));
        const first = atts[0];
        return undoAttachments(sc, v, (a) => ids.has(a.id), ctx, true).andThen((u) =>
          removeAll(sc, atts.slice(1))
            .andThen(() => finish(sc, v, attach ? "attach" : "detach", attach ? "failure" : "success", first === undefined ? {} : { attachment: { remove: first.id } }))
            .map((to) => done(attach ? "rolled-back" : "completed", to, u.removed, u.leftBehind)),
        );
      });
    }
    case "maintenance":
      return recoverMigration(sc, v, ctx);
    case "reverting":
      return recoverReverting(sc, v);
    case "retyping": {
      const typeId = v.task?.volumeTypeId;
      return typeId === undefined ? finish(sc, v, "retype", "failure").map((to) => done("rolled-back", to)) : finish(sc, v, "retype", "success", { patch: { volumeTypeId: typeId } }).map((to) => done("completed", to));
    }
    case "managing":
      return finish(sc, v, "manage", "failure").map((to) => done("rolled-back", to, [], [], "check the backend object before managing it again"));
    case "backing-up":
    case "restoring-backup":
      return recoverBackupVolume(sc, v);
    case "unmanaging":
      return backendOf(sc, v).asyncAndThen((b) => b.unmanage(coreVolume(v)).andThen(() => finish(sc, v, "unmanage", "success")).map((to) => done("completed", to)));
    default:
      return undefined;
  }
}

/**
 * What {@link recoverVolume} would do to `v`, without doing it (a dry run): the same rule per
 * status, read from the record alone. `undefined` when the status is not one this service sets.
 */
export function planRecovery(v: VolumeRecord): { readonly outcome: "completed" | "rolled-back"; readonly reason: string } | undefined {
  const roll = (what: string) => ({ outcome: "rolled-back" as const, reason: `dry run: would roll back ${what}` });
  const complete = (what: string) => ({ outcome: "completed" as const, reason: `dry run: would complete ${what}` });
  switch (v.status) {
    case "creating":
    case "downloading":
      return roll(`the create (delete the backend object if any; record ${v.metadata[PURPOSE_KEY] === undefined ? "error" : "removed"})`);
    case "deleting":
      return complete("the delete (snapshots and volume on the backend, record removed)");
    case "extending":
      return v.task?.newSizeGiB === undefined ? roll("the extend (no target size recorded)") : complete(`the extend to ${v.task.newSizeGiB} GiB`);
    case "attaching":
      return roll("the attach (device on this host, the host's access, an unused export)");
    case "detaching":
      return complete("the detach (device on this host, the host's access, an unused export)");
    case "maintenance":
      return v.task?.phase === "swapped" ? complete("the migration (it had swapped: the old copy is deleted)") : roll("the migration (before its swap: the target is dropped)");
    case "reverting":
      return v.task?.snapshotId === undefined ? roll("the revert (no snapshot recorded)") : complete(`the revert to snapshot ${v.task.snapshotId}`);
    case "retyping":
      return v.task?.volumeTypeId === undefined ? roll("the retype") : complete("the retype");
    case "managing":
      return roll("the manage (error_managing)");
    case "unmanaging":
      return complete("the unmanage");
    case "backing-up":
      return roll(`the backup ${v.task?.backupId ?? ""} (volume back to in-use or available as its attachments say; the backup settled from the repository)`);
    case "restoring-backup":
      return roll(`the restore of backup ${v.task?.backupId ?? ""} (error_restoring: its data is partly written)`);
    default:
      return undefined;
  }
}
