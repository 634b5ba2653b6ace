import { errAsync, okAsync, ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { deleteBackup, readBackupManifest } from "../../backup/backup-admin.js";
import { backupPrefix, childMarkerKey, parseVolumeIndexKey, volumeIndexPrefix } from "../../backup/backup-keys.js";
import { forEachPage, type BackupRepository } from "../../backup/repository.js";
import type { BackupRecord } from "../records/backup-record.js";
import type { VolumeRecord } from "../records/volume-record.js";
import { mustWin, type ServiceContext } from "../service-context.js";
import { withRepository } from "../ops/backup-ops.js";
import type { RecoveryAction } from "./recovery-report.js";

/**
 * How `reconcile()` settles backups whose operation was abandoned (its process died), and the
 * volumes those operations held. The repository decides a backup create, not the record: the
 * manifest is written last (see `backup-keys.ts`), so
 *
 * - a backup `creating` whose manifest is in the repository and reads back valid was published:
 *   it is **completed** (record `available`, its parent taken from the manifest);
 * - one without a (valid) manifest is **rolled back**: every object it wrote is removed — its
 *   prefix, its entry in the volume index, its marker in a parent — and the record goes `error`;
 * - a backup `restoring` is released (`available`): the backup itself is intact; the volume it was
 *   restored into goes `error_restoring` (its data is partly written and cannot be trusted, as
 *   Cinder's backup manager does on restart);
 * - a backup `deleting` has its delete finished (idempotent; with the cascade its task recorded),
 *   its record and those of the incrementals the cascade removed are removed;
 * - a volume `backing-up` goes back to `in-use` or `available` as its attachments say.
 *
 * The backup engine's temporary snapshot and volume (random `backup-snap-…`/`backup-vol-…` ids,
 * not recorded) are not found here: the action's reason names them for the backend's admin.
 */

/** Backup statuses an operation of this service holds while it runs. */
export const TRANSIENT_BACKUP_STATUSES = ["creating", "restoring", "deleting"] as const;

const INTERRUPTED = "interrupted (its process ended); recovered by reconcile";

/** An action's fields. */
type Outcome = Omit<RecoveryAction, "kind" | "id" | "volumeId" | "from">;

/** A dry run's decision, read from the repository (nothing changes). */
export interface BackupPlan {
  /** What would be done. */
  readonly outcome: "completed" | "rolled-back";
  /** Why, starting with `dry run:`. */
  readonly reason: string;
}

/** Every object an unpublished backup may have written: its prefix, its volume index entry, its marker in a parent. */
function unpublishedKeys(repo: BackupRepository, b: BackupRecord, ctx: OperationContext): ResultAsync<string[], VolkitError> {
  const keys: string[] = [];
  const siblings: string[] = [];
  return forEachPage(repo, backupPrefix(b.id), {}, ctx, (page) => void keys.push(...page.objects.map((o) => o.key)))
    .andThen(() =>
      forEachPage(repo, volumeIndexPrefix(b.volumeId), {}, ctx, (page) => {
        for (const o of page.objects) {
          const entry = parseVolumeIndexKey(o.key);
          if (entry?.backupId === b.id) keys.push(o.key);
          else if (entry !== undefined) siblings.push(entry.backupId);
        }
      }),
    )
    // An incremental's parent is one of the volume's other backups: look for its marker there.
    .andThen(() => ResultAsync.combine(siblings.map((p) => repo.head(childMarkerKey(p, b.id), ctx).map((info) => (info === undefined ? undefined : info.key)))))
    .map((markers) => [...keys, ...markers.filter((k): k is string => k !== undefined)]);
}

/**
 * Volume index entries of `ids` (backups of `volumeId`). The backup engine finds a backup's entry
 * from its manifest: one whose manifest an interrupted delete already removed is found by listing.
 */
function indexEntries(repo: BackupRepository, volumeId: string, ids: ReadonlySet<string>, ctx: OperationContext): ResultAsync<string[], VolkitError> {
  const keys: string[] = [];
  return forEachPage(repo, volumeIndexPrefix(volumeId), {}, ctx, (page) => {
    for (const o of page.objects) if (ids.has(parseVolumeIndexKey(o.key)?.backupId ?? "")) keys.push(o.key);
  }).map(() => keys);
}

/** Whether the backup's manifest is in the repository and valid (`BACKUP_CORRUPT`: a torn one counts as absent). */
function published(repo: BackupRepository, b: BackupRecord, ctx: OperationContext): ResultAsync<{ readonly parentId?: string } | undefined, VolkitError> {
  return readBackupManifest(repo, b.id, { signal: ctx.signal })
    .map((m): { readonly parentId?: string } => (m.parent === undefined ? {} : { parentId: m.parent.backupId }))
    .orElse((e) => (e.code === "BACKUP_NOT_FOUND" || e.code === "BACKUP_CORRUPT" ? okAsync(undefined) : errAsync(e)));
}

/** Settles a backup `creating` from what the repository holds (see the module doc). */
function recoverCreating(sc: ServiceContext, b: BackupRecord, ctx: OperationContext): ResultAsync<Outcome, VolkitError> {
  return withRepository(sc, b.repository, (repo) =>
    published(repo, b, ctx).andThen((manifest) => {
      if (manifest !== undefined) {
        const parent = manifest.parentId === undefined ? okAsync(undefined) : sc.store.backups.find(manifest.parentId);
        return parent
          .andThen((p) => sc.store.backups.finish(b.id, "create", "success", p === undefined ? {} : { parentId: p.id }))
          .andThen((t) => mustWin(t, `complete backup ${b.id}`))
          .map((): Outcome => ({ outcome: "completed", to: "available", removed: [], leftBehind: [], reason: "its manifest was published: the backup is complete" }));
      }
      return unpublishedKeys(repo, b, ctx).andThen((keys) =>
        repo
          .delete(keys, ctx)
          .andThen(() => sc.store.backups.finish(b.id, "create", "failure", { statusReason: `backup ${INTERRUPTED}` }))
          .andThen((t) => mustWin(t, `roll back backup ${b.id}`))
          .map((): Outcome => ({
            outcome: "rolled-back",
            to: "error",
            removed: keys.length === 0 ? [] : [`${keys.length} object(s) of unpublished backup ${b.id} in repository ${b.repository}`],
            leftBehind: [],
            reason: "no manifest was published: its objects are removed (the backup engine's temporary backup-snap-…/backup-vol-… on the volume's backend, if any, is not recorded)",
          })),
      );
    }),
  );
}

/** The records of every incremental below `id`, deepest first (a parent's record goes after its children). */
function descendants(sc: ServiceContext, id: string): ResultAsync<string[], VolkitError> {
  return sc.store.backups.list({ parentId: id }).andThen((children) =>
    children.reduce<ResultAsync<string[], VolkitError>>((chain, c) => chain.andThen((acc) => descendants(sc, c.id).map((below) => [...acc, ...below, c.id])), okAsync([])),
  );
}

/** Finishes an abandoned backup delete (idempotent: objects already gone are skipped). */
function recoverDeleting(sc: ServiceContext, b: BackupRecord, ctx: OperationContext): ResultAsync<Outcome, VolkitError> {
  const cascade = b.task?.phase === "cascade";
  return withRepository(sc, b.repository, (repo) =>
    deleteBackup(repo, b.id, { cascade, signal: ctx.signal }).andThen((report) =>
      (cascade ? descendants(sc, b.id) : okAsync<string[], VolkitError>([]))
        .andThen((below) => indexEntries(repo, b.volumeId, new Set([b.id, ...below, ...report.deleted]), ctx))
        .andThen((stale) => repo.delete(stale, ctx))
        .map(() => report),
    ),
  )
    .map((report): { readonly deleted: readonly string[] } | VolkitError => report)
    // Incrementals were made on it meanwhile and the delete was not a cascade: it stays, error_deleting.
    .orElse((e) => (e.code === "BACKUP_IN_USE" ? okAsync(e) : errAsync(e)))
    .andThen((report) => {
      if (report instanceof VolkitError) {
        return sc.store.backups
          .finish(b.id, "delete", "failure", { statusReason: `delete ${INTERRUPTED}: ${report.message}`.slice(0, 2048) })
          .andThen((t) => mustWin(t, `end the delete of backup ${b.id}`))
          .map((): Outcome => ({ outcome: "rolled-back", to: "error_deleting", removed: [], leftBehind: [], reason: report.message }));
      }
      // A cascade removed every incremental below it in the repository: their records go too.
      return (cascade ? descendants(sc, b.id) : okAsync<string[], VolkitError>([]))
        .andThen((ids) => ids.reduce((chain, id) => chain.andThen(() => sc.store.backups.remove(id).map(() => undefined)), okAsync<void, VolkitError>(undefined)).map(() => ids))
        .andThen((ids) =>
          sc.store.backups
            .finish(b.id, "delete", "success")
            .andThen((t) => mustWin(t, `finish deleting backup ${b.id}`))
            .map((): Outcome => ({
              outcome: "completed",
              to: "removed",
              removed: [...new Set([...report.deleted, ...ids, b.id])].map((id) => `backup ${id} in repository ${b.repository}`),
              leftBehind: [],
            })),
        );
    });
}

/** Settles one abandoned backup by its status. */
export function recoverBackup(sc: ServiceContext, b: BackupRecord, ctx: OperationContext): ResultAsync<Outcome, VolkitError> {
  switch (b.status) {
    case "creating":
      return recoverCreating(sc, b, ctx);
    case "deleting":
      return recoverDeleting(sc, b, ctx);
    default:
      // restoring: the backup is intact; its target volume is settled by the volume's own recovery.
      return sc.store.backups
        .finish(b.id, "restore", "success")
        .andThen((t) => mustWin(t, `release backup ${b.id}`))
        .map((): Outcome => ({ outcome: "completed", to: "available", removed: [], leftBehind: [], reason: "the restore was interrupted: the backup is intact" }));
  }
}

/** What {@link recoverBackup} would do, reading the repository but changing nothing. */
export function planBackupRecovery(sc: ServiceContext, b: BackupRecord, ctx: OperationContext): ResultAsync<BackupPlan, VolkitError> {
  if (b.status === "restoring") return okAsync({ outcome: "completed", reason: "dry run: would release the backup (available); its target volume goes error_restoring" });
  if (b.status === "deleting") return okAsync({ outcome: "completed", reason: `dry run: would finish the delete${b.task?.phase === "cascade" ? " (cascade)" : ""} and remove the record` });
  return withRepository(sc, b.repository, (repo) =>
    published(repo, b, ctx).andThen((manifest) =>
      manifest !== undefined
        ? okAsync<BackupPlan, VolkitError>({ outcome: "completed", reason: "dry run: its manifest was published: would mark it available" })
        : unpublishedKeys(repo, b, ctx).map((keys): BackupPlan => ({ outcome: "rolled-back", reason: `dry run: no manifest was published: would remove its ${keys.length} object(s) and mark it error` })),
    ),
  );
}

/**
 * Settles a volume whose backup or restore was abandoned: `backing-up` goes back to `in-use` when
 * an attachment is attached, else `available`; `restoring-backup` goes `error_restoring`.
 */
export function recoverBackupVolume(sc: ServiceContext, v: VolumeRecord): ResultAsync<Outcome, VolkitError> {
  if (v.status === "restoring-backup") {
    return sc.store.volumes
      .finish(v.id, "restoreBackup", "failure", { statusReason: `restore of backup ${v.task?.backupId ?? "?"} ${INTERRUPTED}: its data is partly written` })
      .andThen((t) => mustWin(t, `end the interrupted restore into volume ${v.id}`))
      .map((r): Outcome => ({ outcome: "rolled-back", to: r.status, removed: [], leftBehind: [], reason: "data partly written cannot be trusted: restore again or delete it" }));
  }
  return sc.store.attachments.list({ volumeId: v.id, attachStatus: "attached" }).andThen((attached) =>
    sc.store.volumes
      .resetStatus(v.id, attached.length > 0 ? "in-use" : "available", { expect: { status: ["backing-up"] } })
      .andThen((t) => mustWin(t, `end the interrupted backup of volume ${v.id}`))
      .map((r): Outcome => ({ outcome: "rolled-back", to: r.status, removed: [], leftBehind: [], reason: `backup ${v.task?.backupId ?? "?"} interrupted: its record is settled from the repository` })),
  );
}
