import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import { PURPOSE_KEY } from "../image/image-cache.js";
import { RecordIdSchema } from "../records/record-fields.js";
import type { SnapshotRecord } from "../records/snapshot-record.js";
import type { VolumeRecord } from "../records/volume-record.js";
import { traced } from "../service-events.js";
import { backendOf, callOptions, coreSnapshot, holding, type ServiceContext, type ServiceOperationOptions } from "../service-context.js";
import type { VolumeStatus } from "../state-machine.js";
import { serviceContext } from "../ops/host-attach.js";
import { dropTarget } from "../ops/migrate-volume.js";
import { taskState } from "./owners.js";
import { planBackupRecovery, recoverBackup, TRANSIENT_BACKUP_STATUSES } from "./recover-backup.js";
import { planRecovery, recoverVolume } from "./recover-volume.js";
import type { BackupRecord } from "../records/backup-record.js";
import { undoAttachment, type ReconcileReport, type RecoveryAction } from "./recovery-report.js";

/**
 * `reconcile()`: finds every record left in a transient status by an operation whose process
 * ended (a crash, a kill, a power cut), compares it with what its stored task and attachments say
 * exists on the backend and on this host, and completes or rolls back each (see
 * `recover-volume.ts` for the rule per status). Records of operations still running, in this
 * process or another live one, are reported as skipped. Copy and half-made attachments left
 * without an operation are undone. Nothing here guesses: every backend and host step it runs is
 * idempotent, so a reconcile interrupted in turn can simply run again.
 */

/** Volume statuses an operation of this service holds while it runs. */
export const TRANSIENT_VOLUME_STATUSES: readonly VolumeStatus[] = [
  "creating",
  "downloading",
  "deleting",
  "extending",
  "attaching",
  "detaching",
  "maintenance",
  "reverting",
  "retyping",
  "managing",
  "unmanaging",
  "backing-up",
  "restoring-backup",
];

/** Options of `reconcile()`. */
export interface ReconcileOptions extends ServiceOperationOptions {
  /**
   * Treat operations started by other hosts as abandoned now (that host is known to be gone),
   * instead of after `staleAfterMs`. Their devices are that host's: only the storage side is undone.
   */
  readonly includeOtherHosts?: boolean;
  /** Only this volume's records (with its snapshots, attachments, migration target and temporaries). */
  readonly volumeId?: string;
  /**
   * Decide but do not act: each action says what would be done (`reason` starts with `dry run:`),
   * nothing runs on the backend or this host and no record changes.
   */
  readonly dryRun?: boolean;
}

/** A dry run's action: the decision, nothing removed. */
function planned(base: Pick<Action, "kind" | "id" | "volumeId" | "from">, outcome: "completed" | "rolled-back", reason: string): Action {
  return { ...base, outcome, removed: [], leftBehind: [], reason };
}

/** Whether a record of `volumeId` is in the reconcile's scope. */
type InScope = (volumeId: string | undefined) => boolean;

type Action = RecoveryAction;

function failed(kind: Action["kind"], id: string, volumeId: string, from: string, e: VolkitError): Action {
  return { kind, id, volumeId, from, outcome: "failed", removed: [], leftBehind: [], reason: e.message, error: { code: e.code, message: e.message } };
}

/** The migration a temporary target belongs to is handled with its source; an orphan target is dropped. */
function recoverTarget(sc: ServiceContext, t: VolumeRecord): ResultAsync<Action | undefined, VolkitError> {
  const sourceId = String(t.migrationStatus).slice("target:".length);
  return sc.store.volumes.find(sourceId).andThen((source) => {
    if (source?.status === "maintenance") return okAsync(undefined);
    if (source !== undefined && source.backend === t.backend && source.providerLocation === t.providerLocation) {
      return okAsync<Action, VolkitError>({ kind: "volume", id: t.id, volumeId: sourceId, from: t.status, outcome: "skipped", removed: [], leftBehind: [], reason: "it points at the volume's live copy: not touched" });
    }
    return dropTarget(sc, t, {}).map((): Action => ({ kind: "volume", id: t.id, volumeId: sourceId, from: t.status, outcome: "rolled-back", to: "removed", removed: [`migration target of volume ${sourceId} on ${t.backend ?? "?"}`], leftBehind: [] }));
  });
}

function reconcileVolume(sc: ServiceContext, v: VolumeRecord, options: ReconcileOptions, ctx: OperationContext): ResultAsync<Action | undefined, never> {
  const key = `volume:${v.id}`;
  const state = taskState(sc, v.task, key, options);
  const base = { kind: "volume" as const, id: v.id, volumeId: v.id, from: v.status };
  if (state !== "abandoned") return okAsync({ ...base, outcome: "skipped", removed: [], leftBehind: [], reason: `${v.task?.op ?? "an operation"} is still running (${v.task?.owner ?? "?"})` });
  const isTarget = typeof v.migrationStatus === "string" && v.migrationStatus.startsWith("target:") && v.status === "creating";
  if (options.dryRun === true) {
    // A migration target is settled with its source (a dry run does not list it on its own).
    if (isTarget) return okAsync(undefined);
    const plan = planRecovery(v);
    return okAsync(plan === undefined ? { ...base, outcome: "skipped", removed: [], leftBehind: [], reason: `status ${v.status} is not set by this service's operations` } : planned(base, plan.outcome, plan.reason));
  }
  const run = (): ResultAsync<Action | undefined, VolkitError> => {
    if (isTarget) return recoverTarget(sc, v);
    const recovered = recoverVolume(sc, v, ctx);
    if (recovered === undefined) return okAsync({ ...base, outcome: "skipped", removed: [], leftBehind: [], reason: `status ${v.status} is not set by this service's operations` });
    return recovered.map((a): Action => ({ ...base, ...a }));
  };
  return holding(sc, [key], run).orElse((e) => okAsync(failed("volume", v.id, v.id, v.status, e)));
}

function reconcileSnapshot(sc: ServiceContext, s: SnapshotRecord, options: ReconcileOptions): ResultAsync<Action | undefined, never> {
  const key = `snapshot:${s.id}`;
  const base = { kind: "snapshot" as const, id: s.id, volumeId: s.volumeId, from: s.status };
  if (taskState(sc, s.task, key, options) !== "abandoned") return okAsync({ ...base, outcome: "skipped", removed: [], leftBehind: [], reason: `still running (${s.task?.owner ?? "?"})` });
  if (options.dryRun === true) {
    if (s.status === "restoring") return okAsync(planned(base, "completed", "dry run: would release the snapshot (or settle it with its volume's revert)"));
    return okAsync(s.status === "creating" ? planned(base, "rolled-back", "dry run: would delete the snapshot on the backend (record error)") : planned(base, "completed", "dry run: would delete the snapshot on the backend (record removed)"));
  }
  const run = (): ResultAsync<Action | undefined, VolkitError> =>
    sc.store.volumes.get(s.volumeId).andThen((volume) => {
      if (s.status === "restoring") {
        // The volume's revert settles it; a restoring snapshot of a volume not reverting is just released.
        if (volume.status === "reverting") return okAsync(undefined);
        return sc.store.snapshots.finish(s.id, "restore", "success").map((): Action => ({ ...base, outcome: "completed", to: "available", removed: [], leftBehind: [] }));
      }
      const creating = s.status === "creating";
      return backendOf(sc, volume)
        .asyncAndThen((b) => b.deleteSnapshot(coreSnapshot(s, volume)).map(() => `snapshot ${s.id} on ${b.name}`))
        .andThen((removed) =>
          sc.store.snapshots
            .finish(s.id, creating ? "create" : "delete", creating ? "failure" : "success", creating ? { statusReason: "create interrupted (its process ended); rolled back by reconcile" } : undefined)
            .map((): Action => ({ ...base, outcome: creating ? "rolled-back" : "completed", to: creating ? "error" : "removed", removed: [removed], leftBehind: [] })),
        );
    });
  return holding(sc, [key], run).orElse((e) => okAsync(failed("snapshot", s.id, s.volumeId, s.status, e)));
}

/** Settles one backup left `creating`, `restoring` or `deleting` (see `recover-backup.ts`). */
function reconcileBackup(sc: ServiceContext, b: BackupRecord, options: ReconcileOptions, ctx: OperationContext): ResultAsync<Action | undefined, never> {
  const key = `backup:${b.id}`;
  const base = { kind: "backup" as const, id: b.id, volumeId: b.volumeId, from: b.status };
  if (taskState(sc, b.task, key, options) !== "abandoned") return okAsync({ ...base, outcome: "skipped", removed: [], leftBehind: [], reason: `${b.task?.op ?? "an operation"} is still running (${b.task?.owner ?? "?"})` });
  if (options.dryRun === true) return planBackupRecovery(sc, b, ctx).map((p): Action | undefined => planned(base, p.outcome, p.reason)).orElse((e) => okAsync(failed("backup", b.id, b.volumeId, b.status, e)));
  return holding(sc, [key], () => recoverBackup(sc, b, ctx).map((a): Action | undefined => ({ ...base, ...a }))).orElse((e) => okAsync(failed("backup", b.id, b.volumeId, b.status, e)));
}

/** Backups in a transient status: creates first (a crashed incremental's marker must go before its parent's delete runs). */
function reconcileBackups(sc: ServiceContext, inScope: InScope, options: ReconcileOptions, ctx: OperationContext): ResultAsync<Action[], never> {
  return sc.store.backups
    .list({ status: [...TRANSIENT_BACKUP_STATUSES] }, { orderBy: "createdAt" })
    .map((all) => all.filter((b) => inScope(b.volumeId)).sort((x, y) => TRANSIENT_BACKUP_STATUSES.indexOf(x.status as never) - TRANSIENT_BACKUP_STATUSES.indexOf(y.status as never)))
    .andThen((backups) => backups.reduce<ResultAsync<Action[], VolkitError>>((chain, b) => chain.andThen((acc) => reconcileBackup(sc, b, options, ctx).map((a) => (a === undefined ? acc : [...acc, a]))), okAsync([])))
    .orElse(() => okAsync([]));
}

/**
 * Attachments of this host no operation owns any more: copies (a migration's), and attaches or
 * detaches whose volume was reset meanwhile. Undone and removed.
 */
function reconcileOrphanAttachments(sc: ServiceContext, inScope: InScope, dryRun: boolean, ctx: OperationContext): ResultAsync<Action[], never> {
  return sc.store.attachments
    .list({ host: sc.hostName })
    .andThen((atts) => {
      const suspects = atts.filter((a) => inScope(a.volumeId)).filter((a) => a.purpose === "copy" || a.attachStatus === "attaching" || a.attachStatus === "detaching" || a.attachStatus === "reserved");
      return suspects.reduce<ResultAsync<Action[], never>>(
        (chain, att) =>
          chain.andThen((acc) =>
            sc.store.volumes
              .find(att.volumeId)
              .andThen((volume) => {
                if (volume === undefined) return okAsync(undefined);
                const key = `volume:${volume.id}`;
                // A copy attachment names its owner; another attachment belongs to its volume's operation.
                const owner = att.purpose === "copy" && att.instanceId !== undefined ? { op: "copy", owner: att.instanceId, startedAt: att.createdAt } : undefined;
                const busy =
                  sc.running.has(key) ||
                  (owner !== undefined && taskState(sc, owner, key, {}) !== "abandoned") ||
                  (TRANSIENT_VOLUME_STATUSES.includes(volume.status) && taskState(sc, volume.task, key, {}) !== "abandoned");
                if (busy) return okAsync(undefined);
                // The volume's own recovery settles the attachments of a volume in a transient status first.
                if (dryRun && TRANSIENT_VOLUME_STATUSES.includes(volume.status)) return okAsync(undefined);
                if (dryRun) return okAsync(planned({ kind: "attachment", id: att.id, volumeId: volume.id, from: att.attachStatus }, "rolled-back", "dry run: would undo it on this host and the storage and remove it"));
                return undoAttachment(sc, att, volume, ctx).andThen((u) =>
                  sc.store.attachments.remove(att.id).map((): Action => ({ kind: "attachment", id: att.id, volumeId: volume.id, from: att.attachStatus, outcome: "rolled-back", to: "removed", removed: u.removed, leftBehind: u.leftBehind })),
                );
              })
              .map((a) => (a === undefined ? acc : [...acc, a]))
              .orElse((e) => okAsync([...acc, failed("attachment", att.id, att.volumeId, att.attachStatus, e)])),
          ),
        okAsync([]),
      );
    })
    .orElse(() => okAsync([]));
}

/** Temporary volumes of a cross-backend create whose create is over (`volkit:for` names it). */
function reconcileTemporaries(sc: ServiceContext, inScope: InScope, dryRun: boolean): ResultAsync<Action[], never> {
  return sc.store.volumes
    .list({ status: ["available", "error"] })
    .map((all) => all.filter((v) => v.metadata[PURPOSE_KEY] === "temporary" && inScope(v.metadata["volkit:for"])))
    .andThen((temps) =>
      temps.reduce<ResultAsync<Action[], VolkitError>>(
        (chain, t) =>
          chain.andThen((acc) => {
            const owner = t.metadata["volkit:for"];
            const ownerRecord = owner === undefined ? okAsync(undefined) : sc.store.volumes.find(owner);
            return ownerRecord.andThen((o) => {
              if (o?.status === "creating" && taskState(sc, o.task, `volume:${o.id}`, {}) !== "abandoned") return okAsync(acc);
              if (dryRun) return okAsync([...acc, planned({ kind: "volume", id: t.id, volumeId: t.id, from: t.status }, "rolled-back", "dry run: would delete this temporary volume")]);
              return dropTarget(sc, t, {}).map(() => [...acc, { kind: "volume" as const, id: t.id, volumeId: t.id, from: t.status, outcome: "rolled-back" as const, to: "removed", removed: [`temporary volume ${t.id} on ${t.backend ?? "?"}`], leftBehind: [] }]);
            });
          }),
        okAsync([]),
      ),
    )
    .orElse(() => okAsync([]));
}

/** Runs a reconcile (see module doc). It never fails as a whole: a record it could not settle is reported `failed`. */
export function reconcileOp(sc: ServiceContext, options: ReconcileOptions = {}): ResultAsync<ReconcileReport, VolkitError> {
  const scope = validate(RecordIdSchema.optional(), options.volumeId, "volumeId");
  if (scope.isErr()) return errAsync(scope.error);
  const only = scope.value;
  const inScope: InScope = (volumeId) => only === undefined || volumeId === only;
  const started = performance.now();
  const ctx = serviceContext(sc, "reconcile", undefined, callOptions(options));
  return traced(sc.events, "service", "reconcile", {}, () =>
    sc.store.volumes.list({ status: [...TRANSIENT_VOLUME_STATUSES] }, { orderBy: "createdAt" }).andThen((found) => {
      const volumes = found.filter((v) => inScope(v.id) || (only !== undefined && v.migrationStatus === `target:${only}`));
      // Migration targets after their sources, so a source settles its own target first.
      const ordered = [...volumes.filter((v) => !String(v.migrationStatus ?? "").startsWith("target:")), ...volumes.filter((v) => String(v.migrationStatus ?? "").startsWith("target:"))];
      const volumeActions = ordered.reduce<ResultAsync<Action[], never>>((chain, v) => chain.andThen((acc) => reconcileVolume(sc, v, options, ctx).map((a) => (a === undefined ? acc : [...acc, a]))), okAsync([]));
      return volumeActions.andThen((va) =>
        sc.store.snapshots
          .list({ status: ["creating", "deleting", "restoring"] })
          .andThen((snapshots) => snapshots.filter((s) => inScope(s.volumeId)).reduce<ResultAsync<Action[], never>>((chain, s) => chain.andThen((acc) => reconcileSnapshot(sc, s, options).map((a) => (a === undefined ? acc : [...acc, a]))), okAsync(va)))
          .andThen((acc) => reconcileBackups(sc, inScope, options, ctx).map((more) => [...acc, ...more]))
          .andThen((acc) => reconcileOrphanAttachments(sc, inScope, options.dryRun === true, ctx).map((more) => [...acc, ...more]))
          .andThen((acc) => reconcileTemporaries(sc, inScope, options.dryRun === true).map((more) => [...acc, ...more]))
          .map((actions): ReconcileReport => ({ actions, durationMs: Math.round(performance.now() - started) })),
      );
    }),
  );
}
