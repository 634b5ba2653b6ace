import { ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { BACKUPS_PREFIX, manifestKey } from "./backup-keys.js";
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

/** Publishes a manifest: the single PUT that makes a backup exist. */
export function publishManifest(repo: BackupRepository, manifest: BackupManifest, ctx: OperationContext): ResultAsync<void, VolkitError> {
  return repo.put(manifestKey(manifest.backupId), manifestBytes(manifest), ctx).map(() => undefined);
}

/** What {@link listBackups} reports of each backup. */
export interface BackupSummary {
  /** Backup id. */
  readonly backupId: string;
  /** Volume id, when recorded. */
  readonly volumeId?: string;
  /** Parent id for incrementals. */
  readonly parentId?: string;
  /** When it was taken (ISO 8601). */
  readonly createdAt: string;
  /** Volume size in bytes. */
  readonly sizeBytes: number;
  /** Bytes this backup added to the repository. */
  readonly storedBytes: number;
  /** Whether it is encrypted. */
  readonly encrypted: boolean;
}

/** Ids of the published backups in a repository, in key order (backups without a manifest are not listed). */
export function listBackupIds(repo: BackupRepository, ctx: OperationContext): ResultAsync<string[], VolkitError> {
  const prefixes: string[] = [];
  return forEachPage(repo, BACKUPS_PREFIX, { delimiter: "/" }, ctx, (page) => void prefixes.push(...page.prefixes)).andThen(() => {
    const ids = prefixes.map((p) => p.slice(BACKUPS_PREFIX.length, -1));
    return ResultAsync.combine(ids.map((id) => manifestExists(repo, id, ctx).map((exists) => (exists ? id : undefined)))).map((found) =>
      found.filter((id): id is string => id !== undefined),
    );
  });
}

/** Summary of a manifest. */
export function summarize(m: BackupManifest): BackupSummary {
  return {
    backupId: m.backupId,
    ...(m.volumeId === undefined ? {} : { volumeId: m.volumeId }),
    ...(m.parent === undefined ? {} : { parentId: m.parent.backupId }),
    createdAt: m.createdAt,
    sizeBytes: m.sizeBytes,
    storedBytes: m.stats.storedBytes,
    encrypted: m.encryption !== undefined,
  };
}
