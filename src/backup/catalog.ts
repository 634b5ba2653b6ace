import { ResultAsync, err, errAsync, ok, okAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { BACKUPS_PREFIX, manifestKey, parseVolumeIndexKey, volumeIndexPrefix } from "./backup-keys.js";
import { manifestBytes, parseManifest, type BackupManifest, type LoadedManifest } from "./manifest.js";
import { forEachPage, type BackupRepository } from "./repository.js";

/**
 * Reading manifests and their chains from a repository. A manifest is the only record of a
 * backup: listing the repository is listing the backups.
 */

/** Reads and validates the manifest of `backupId`; `BACKUP_NOT_FOUND` when there is none. */
export function loadManifest(repo: BackupRepository, backupId: string, ctx: OperationContext): ResultAsync<LoadedManifest, VolkitError> {
  return repo
    .get(manifestKey(backupId), ctx)
    .mapErr((e) => (e.code === "BACKUP_NOT_FOUND" ? new VolkitError("BACKUP_NOT_FOUND", `backup ${backupId} does not exist in ${repo.description}`, { source: "backup", details: { backupId } }) : e))
    .andThen((bytes) => parseManifest(bytes, backupId));
}

/** Whether a published manifest exists for `backupId`. */
export function manifestExists(repo: BackupRepository, backupId: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
  return repo.head(manifestKey(backupId), ctx).map((info) => info !== undefined);
}

/**
 * A manifest and all its ancestors, keyed by id, each link checked: the parent's manifest bytes
 * have the sha256 the child recorded, its chain is the child's chain minus itself, and chunk size,
 * block size, digest and encryption agree. Any mismatch is `BACKUP_CORRUPT`; a missing ancestor
 * too (a chain cannot restore without it).
 */
export function loadChain(repo: BackupRepository, top: LoadedManifest, ctx: OperationContext): ResultAsync<Map<string, BackupManifest>, VolkitError> {
  const chain = new Map<string, BackupManifest>([[top.manifest.backupId, top.manifest]]);
  const step = (child: BackupManifest): ResultAsync<Map<string, BackupManifest>, VolkitError> => {
    const parent = child.parent;
    if (parent === undefined) return okAsync(chain);
    return loadManifest(repo, parent.backupId, ctx)
      .mapErr((e) => (e.code === "BACKUP_NOT_FOUND" ? corruptChain(child.backupId, `its parent ${parent.backupId} is missing`) : e))
      .andThen((loaded) => {
        const problem = linkProblem(child, loaded, parent.manifestSha256);
        if (problem !== undefined) return errAsync(corruptChain(child.backupId, problem));
        chain.set(loaded.manifest.backupId, loaded.manifest);
        return step(loaded.manifest);
      });
  };
  return step(top.manifest);
}

function linkProblem(child: BackupManifest, parent: LoadedManifest, expectedSha: string): string | undefined {
  const p = parent.manifest;
  if (parent.sha256 !== expectedSha) return `the manifest of its parent ${p.backupId} changed since it was taken (sha256 ${parent.sha256}, recorded ${expectedSha})`;
  if (p.chain.join("/") !== child.chain.slice(0, -1).join("/")) return `its chain does not extend the chain of ${p.backupId}`;
  if (p.chunkSize !== child.chunkSize || p.blockSize !== child.blockSize || p.digest !== child.digest) return `its chunk size, block size or digest differs from ${p.backupId}`;
  if (p.encryption?.keyCheck !== child.encryption?.keyCheck) return `its encryption differs from ${p.backupId}`;
  return undefined;
}

function corruptChain(backupId: string, what: string): VolkitError {
  return new VolkitError("BACKUP_CORRUPT", `backup ${backupId} cannot be used: ${what}`, { source: "backup", details: { backupId } });
}

/**
 * Publishes a manifest: the objects written so far are made durable first, then the single PUT
 * that makes the backup exist, itself made durable before this returns.
 */
export function publishManifest(repo: BackupRepository, manifest: BackupManifest, ctx: OperationContext): ResultAsync<void, VolkitError> {
  return repo
    .flush(ctx)
    .andThen(() => repo.put(manifestKey(manifest.backupId), manifestBytes(manifest), ctx))
    .andThen(() => repo.flush(ctx));
}

/** What `listBackups` reports of each backup. */
export interface BackupSummary {
  /** Backup id. */
  readonly backupId: string;
  /** Volume id, when recorded. */
  readonly volumeId?: string;
  /** Parent id for incrementals. */
  readonly parentId?: string;
  /** When it was taken (ISO 8601). */
  readonly createdAt: string;
  /** When it was published (ISO 8601). */
  readonly completedAt: string;
  /** Volume size in bytes. */
  readonly sizeBytes: number;
  /** Bytes of the volume that are data (not holes). */
  readonly dataBytes: number;
  /** Bytes this backup added to the repository. */
  readonly storedBytes: number;
  /** Whether it is encrypted. */
  readonly encrypted: boolean;
}

/** Summary of a manifest. */
export function summarize(m: BackupManifest): BackupSummary {
  return {
    backupId: m.backupId,
    ...(m.volumeId === undefined ? {} : { volumeId: m.volumeId }),
    ...(m.parent === undefined ? {} : { parentId: m.parent.backupId }),
    createdAt: m.createdAt,
    completedAt: m.completedAt,
    sizeBytes: m.sizeBytes,
    dataBytes: m.stats.dataBytes,
    storedBytes: m.stats.storedBytes,
    encrypted: m.encryption !== undefined,
  };
}

/** One page of published backups. */
export interface BackupPage {
  /** The published backups of this page (unpublished ones are left out, so a page may hold fewer than asked). */
  readonly backups: readonly BackupSummary[];
  /** Cursor of the next page; absent on the last one. */
  readonly next?: string;
}

/** Manifests read at once when a page is summarized. */
const MANIFEST_READS = 8;

/**
 * One page of backups: all of the repository's in id order, or one volume's in start order
 * (from the volume index). Each listed backup's manifest is read for its summary; a backup
 * without a manifest (being written, or left by a crash) is skipped.
 */
export function listBackupPage(repo: BackupRepository, filter: { readonly volumeId?: string; readonly limit: number; readonly cursor?: string }, ctx: OperationContext): ResultAsync<BackupPage, VolkitError> {
  const byVolume = filter.volumeId !== undefined;
  const prefix = filter.volumeId === undefined ? BACKUPS_PREFIX : volumeIndexPrefix(filter.volumeId);
  const options = { limit: filter.limit, ...(byVolume ? {} : { delimiter: "/" as const }), ...(filter.cursor === undefined ? {} : { cursor: filter.cursor }) };
  return repo.list(prefix, options, ctx).andThen((page) => {
    const entries: { id: string; startedAtMs?: number }[] = byVolume
      ? page.objects.flatMap((o) => {
          const entry = parseVolumeIndexKey(o.key);
          return entry === undefined ? [] : [{ id: entry.backupId, startedAtMs: entry.startedAtMs }];
        })
      : page.prefixes.map((p) => ({ id: p.slice(BACKUPS_PREFIX.length, -1) }));
    return mapLimited(entries, MANIFEST_READS, (entry) =>
      loadManifest(repo, entry.id, ctx)
        .map((l): BackupSummary | undefined => (entry.startedAtMs === undefined || indexedBy(l.manifest, filter.volumeId, entry.startedAtMs) ? summarize(l.manifest) : undefined))
        .orElse((e) => (e.code === "BACKUP_NOT_FOUND" ? okAsync(undefined) : errAsync(e))),
    ).map((summaries) => ({ backups: summaries.filter((b): b is BackupSummary => b !== undefined), ...(page.next === undefined ? {} : { next: page.next }) }));
  });
}

/**
 * The newest published backup of a volume (by start time, from the volume index), or
 * `undefined` when it has none. Index entries are listed (1000 a page); manifests are checked
 * from the newest back until one exists.
 */
export function latestBackupOf(repo: BackupRepository, volumeId: string, ctx: OperationContext): ResultAsync<LoadedManifest | undefined, VolkitError> {
  const entries: { backupId: string; startedAtMs: number }[] = [];
  const newestPublished = (i: number): ResultAsync<LoadedManifest | undefined, VolkitError> => {
    const entry = entries[i];
    if (entry === undefined) return okAsync(undefined);
    return loadManifest(repo, entry.backupId, ctx)
      .andThen((l) => (indexedBy(l.manifest, volumeId, entry.startedAtMs) ? okAsync<LoadedManifest | undefined, VolkitError>(l) : newestPublished(i - 1)))
      .orElse((e) => (e.code === "BACKUP_NOT_FOUND" ? newestPublished(i - 1) : errAsync(e)));
  };
  return forEachPage(repo, volumeIndexPrefix(volumeId), {}, ctx, (page) => {
    for (const o of page.objects) {
      const entry = parseVolumeIndexKey(o.key);
      if (entry !== undefined) entries.push(entry);
    }
  }).andThen(() => newestPublished(entries.length - 1));
}

/** Whether an index entry (volume, start time) is the one of this manifest (not left by an earlier attempt with the same id). */
function indexedBy(m: BackupManifest, volumeId: string | undefined, startedAtMs: number): boolean {
  return m.volumeId === volumeId && Date.parse(m.createdAt) === startedAtMs;
}

/** `fn` over `items`, at most `limit` at a time, results in order; the first failure wins. */
export function mapLimited<T, U>(items: readonly T[], limit: number, fn: (item: T) => ResultAsync<U, VolkitError>): ResultAsync<U[], VolkitError> {
  const out: U[] = new Array<U>(items.length);
  let next = 0;
  let failure: VolkitError | undefined;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      const r = await fn(items[i] as T);
      if (r.isErr()) failure ??= r.error;
      else out[i] = r.value;
    }
  };
  return new ResultAsync(
    Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane)).then(() => (failure === undefined ? ok(out) : err(failure))),
  );
}
