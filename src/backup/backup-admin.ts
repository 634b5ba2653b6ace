import { ResultAsync, err, errAsync, ok, okAsync, safeTry, type Result } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { IdSchema, validate } from "../core/validation.js";
import { backupContext, type BackupRunOptions } from "./backup-options.js";
import { BACKUPS_PREFIX, BackupIdSchema, VOLUMES_PREFIX, backupPrefix, childMarkerKey, childrenPrefix, manifestKey, parseVolumeIndexKey, volumeIndexKey } from "./backup-keys.js";
import { listBackupPage, loadManifest, manifestExists, type BackupPage } from "./catalog.js";
import type { BackupManifest } from "./manifest.js";
import { forEachPage, type BackupRepository } from "./repository.js";

/** Markers of incrementals younger than this without a manifest count as "being written". */
const DEFAULT_GRACE_MS = 24 * 60 * 60 * 1000;

/** Options of {@link listBackups}. */
export interface ListBackupsOptions extends BackupRunOptions {
  /** Only this volume's backups, oldest first (from the volume index). Default: every backup, in id order. */
  readonly volumeId?: string;
  /** Backups listed per page, at most 1000 (default 100). */
  readonly limit?: number;
  /** Continue after this cursor (the `next` of the previous page). */
  readonly cursor?: string;
}

/**
 * Lists the published backups of a repository, one page at a time (read from their manifests: no
 * database). Unpublished backups are left out, so a page may hold fewer than `limit`; go on while
 * `next` is set.
 *
 * @example
 * ```ts
 * let cursor: string | undefined;
 * do {
 *   const page = (await listBackups(repo, { volumeId: "vol1", ...(cursor ? { cursor } : {}) }))._unsafeUnwrap();
 *   for (const b of page.backups) console.log(b.backupId, b.parentId ?? "full");
 *   cursor = page.next;
 * } while (cursor !== undefined);
 * ```
 */
export function listBackups(repo: BackupRepository, options: ListBackupsOptions = {}): ResultAsync<BackupPage, VolkitError> {
  const ctx = backupContext("listBackups", options, options.volumeId);
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return errAsync(new VolkitError("INVALID_ARGUMENT", `limit must be 1-1000, got ${limit}`, { source: "backup" }));
  const volume: Result<unknown, VolkitError> = options.volumeId === undefined ? ok(undefined) : validate(IdSchema, options.volumeId, "volume id");
  const cursor: Result<unknown, VolkitError> =
    options.cursor === undefined || (options.cursor.length > 0 && options.cursor.length <= 1024) ? ok(undefined) : err(new VolkitError("INVALID_ARGUMENT", "cursor must be 1-1024 characters", { source: "backup" }));
  return volume.andThen(() => cursor).asyncAndThen(() =>
    listBackupPage(repo, { limit, ...(options.volumeId === undefined ? {} : { volumeId: options.volumeId }), ...(options.cursor === undefined ? {} : { cursor: options.cursor }) }, ctx),
  );
}

/** Reads and validates the manifest of a backup (`BACKUP_NOT_FOUND`, `BACKUP_CORRUPT`). */
export function readBackupManifest(repo: BackupRepository, backupId: string, options: BackupRunOptions = {}): ResultAsync<BackupManifest, VolkitError> {
  const ctx = backupContext("readBackupManifest", options);
  return validate(BackupIdSchema, backupId, "backup id").asyncAndThen(() => loadManifest(repo, backupId, ctx).map((l) => l.manifest));
}

/** Options of {@link deleteBackup}. */
export interface DeleteBackupOptions extends BackupRunOptions {
  /** Also delete every incremental that depends on the backup (newest first). Default false: refuse. */
  readonly cascade?: boolean;
  /** An incremental marker younger than this with no manifest is an incremental being written (default 24 h). */
  readonly graceMs?: number;
}

/** What {@link deleteBackup} removed. */
export interface DeleteBackupReport {
  /** Backups deleted, dependents first. Empty when the backup did not exist. */
  readonly deleted: readonly string[];
}

/**
 * Deletes a backup. Refused with `BACKUP_IN_USE` (naming them in `details.dependents`) while
 * incrementals depend on it — or are being written on top of it — unless `cascade`, which deletes
 * them first. The manifest goes first (the backup disappears at once), then its objects, then its
 * marker in its parent; an interrupted delete leaves only unreferenced objects, which
 * {@link collectBackupGarbage} removes. Deleting a backup that does not exist succeeds (and removes
 * any objects left under its prefix).
 *
 * @example
 * ```ts
 * const r = await deleteBackup(repo, "b1");
 * if (r.isErr() && r.error.code === "BACKUP_IN_USE") console.log("incrementals depend on it:", r.error.details.dependents);
 * ```
 */
export function deleteBackup(repo: BackupRepository, backupId: string, options: DeleteBackupOptions = {}): ResultAsync<DeleteBackupReport, VolkitError> {
  const ctx = backupContext("deleteBackup", options);
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  return validate(BackupIdSchema, backupId, "backup id").asyncAndThen(() => remove(repo, backupId, options.cascade === true, graceMs, ctx, new Set()).map((deleted) => ({ deleted })));
}

function remove(repo: BackupRepository, backupId: string, cascade: boolean, graceMs: number, ctx: OperationContext, seen: Set<string>): ResultAsync<string[], VolkitError> {
  if (seen.has(backupId)) return errAsync(new VolkitError("BACKUP_CORRUPT", `backup ${backupId} is its own descendant`, { source: "backup", details: { backupId } }));
  seen.add(backupId);
  return safeTry(async function* () {
    const exists = yield* manifestExists(repo, backupId, ctx);
    const manifest = exists ? (yield* loadManifest(repo, backupId, ctx).orElse((e) => (e.code === "BACKUP_CORRUPT" ? okAsync(undefined) : errAsync(e))))?.manifest : undefined;
    const parentId = manifest?.parent?.backupId;
    const dependents = yield* dependentsOf(repo, backupId, graceMs, ctx);
    if (dependents.length > 0 && !cascade) {
      return err(new VolkitError("BACKUP_IN_USE", `backup ${backupId} has ${dependents.length} dependent incremental(s): ${dependents.join(", ")}`, { source: "backup", details: { backupId, dependents } }));
    }
    const deleted: string[] = [];
    for (const child of dependents) deleted.push(...(yield* remove(repo, child, cascade, graceMs, ctx, seen)));
    if (exists) yield* repo.delete([manifestKey(backupId)], ctx);
    yield* deletePrefix(repo, backupPrefix(backupId), ctx);
    if (parentId !== undefined) yield* repo.delete([childMarkerKey(parentId, backupId)], ctx);
    if (manifest?.volumeId !== undefined) yield* repo.delete([volumeIndexKey(manifest.volumeId, Date.parse(manifest.createdAt), backupId)], ctx);
    if (exists) {
      deleted.push(backupId);
      ctx.logger.info({ backupId }, "backup deleted");
    }
    return ok(deleted);
  });
}

/** Incrementals on top of `backupId`: published, or being written (a recent marker without manifest). */
function dependentsOf(repo: BackupRepository, backupId: string, graceMs: number, ctx: OperationContext): ResultAsync<string[], VolkitError> {
  const markers: { id: string; modifiedAt: number }[] = [];
  const prefix = childrenPrefix(backupId);
  return forEachPage(repo, prefix, {}, ctx, (page) => void markers.push(...page.objects.map((o) => ({ id: o.key.slice(prefix.length), modifiedAt: o.modifiedAt }))))
    .andThen(() => ResultAsync.combine(markers.map((m) => manifestExists(repo, m.id, ctx).map((published) => (published || Date.now() - m.modifiedAt < graceMs ? m.id : undefined)))))
    .map((ids) => ids.filter((id): id is string => id !== undefined));
}

function deletePrefix(repo: BackupRepository, prefix: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
  return forEachPage(repo, prefix, {}, ctx, (page) => (page.objects.length === 0 ? undefined : repo.delete(page.objects.map((o) => o.key), ctx)));
}

/** Options of {@link collectBackupGarbage}. */
export interface CollectGarbageOptions extends BackupRunOptions {
  /** Objects of an unpublished backup younger than this are spared: it may still be running (default 24 h). */
  readonly graceMs?: number;
}

/** What {@link collectBackupGarbage} removed. */
export interface CollectGarbageReport {
  /** Prefixes of unpublished backups removed. */
  readonly removedBackups: readonly string[];
  /** Objects deleted. */
  readonly objectsDeleted: number;
}

/**
 * Deletes what failed or crashed backups left behind: objects under a backup prefix that has no
 * manifest and nothing newer than `graceMs`, and markers and volume index entries of backups
 * that never published.
 * (A backup that fails while this process runs deletes its own objects; this is for crashes.)
 *
 * @example
 * ```ts
 * await collectBackupGarbage(repo, { graceMs: 6 * 3600_000 });
 * ```
 */
export function collectBackupGarbage(repo: BackupRepository, options: CollectGarbageOptions = {}): ResultAsync<CollectGarbageReport, VolkitError> {
  const ctx = backupContext("collectBackupGarbage", options);
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const prefixes: string[] = [];
  const removedBackups: string[] = [];
  let objectsDeleted = 0;
  const sweep = (prefix: string): ResultAsync<void, VolkitError> => {
    const id = prefix.slice(BACKUPS_PREFIX.length, -1);
    const keys: string[] = [];
    let newest = 0;
    return manifestExists(repo, id, ctx).andThen((published) => {
      if (published) return staleMarkers(repo, id, graceMs, ctx).andThen((stale) => repo.delete(stale, ctx).map(() => void (objectsDeleted += stale.length)));
      return forEachPage(repo, prefix, {}, ctx, (page) => {
        for (const o of page.objects) {
          keys.push(o.key);
          newest = Math.max(newest, o.modifiedAt);
        }
      }).andThen(() => {
        if (keys.length === 0 || Date.now() - newest < graceMs) return okAsync(undefined);
        removedBackups.push(id);
        objectsDeleted += keys.length;
        return deletePrefix(repo, prefix, ctx);
      });
    });
  };
  return forEachPage(repo, BACKUPS_PREFIX, { delimiter: "/" }, ctx, (page) => void prefixes.push(...page.prefixes))
    .andThen(() => prefixes.reduce((chain, p) => chain.andThen(() => sweep(p)), okAsync<void, VolkitError>(undefined)))
    .andThen(() => staleIndexEntries(repo, graceMs, ctx, (n) => void (objectsDeleted += n)))
    .map(() => ({ removedBackups, objectsDeleted }));
}

/** Volume index entries of backups that never published (older than the grace period), page by page. */
function staleIndexEntries(repo: BackupRepository, graceMs: number, ctx: OperationContext, deleted: (n: number) => void): ResultAsync<void, VolkitError> {
  return forEachPage(repo, VOLUMES_PREFIX, {}, ctx, (page) => {
    const old = page.objects.flatMap((o) => {
      const entry = parseVolumeIndexKey(o.key);
      return entry !== undefined && Date.now() - o.modifiedAt >= graceMs ? [{ key: o.key, backupId: entry.backupId }] : [];
    });
    return ResultAsync.combine(old.map((e) => manifestExists(repo, e.backupId, ctx).map((published) => (published ? undefined : e.key))))
      .map((keys) => keys.filter((k): k is string => k !== undefined))
      .andThen((stale) => (stale.length === 0 ? okAsync(undefined) : repo.delete(stale, ctx).map(() => deleted(stale.length))));
  });
}

function staleMarkers(repo: BackupRepository, backupId: string, graceMs: number, ctx: OperationContext): ResultAsync<string[], VolkitError> {
  const prefix = childrenPrefix(backupId);
  const markers: { key: string; id: string; modifiedAt: number }[] = [];
  return forEachPage(repo, prefix, {}, ctx, (page) => void markers.push(...page.objects.map((o) => ({ key: o.key, id: o.key.slice(prefix.length), modifiedAt: o.modifiedAt }))))
    .andThen(() => ResultAsync.combine(markers.map((m) => manifestExists(repo, m.id, ctx).map((published) => (!published && Date.now() - m.modifiedAt >= graceMs ? m.key : undefined)))))
    .map((keys) => keys.filter((k): k is string => k !== undefined));
}
