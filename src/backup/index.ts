/**
 * `volkit/backup`: chunked, compressed, verified, incremental backups of block devices and raw
 * files into a repository (a local directory, a directory on an NFS share, an S3 bucket), with a
 * self-describing manifest so a backup restores on a host with no database.
 *
 * This layer works on paths of this host ({@link BlockSource}, {@link BlockTarget}); taking the
 * temporary snapshot and attaching it for I/O is the driver layer's part.
 *
 * @example
 * ```ts
 * import { backupFromSource, createLocalDirectoryRepository, restoreToTarget, verifyBackup } from "volkit/backup";
 * const repo = createLocalDirectoryRepository({ directory: "/srv/backups" })._unsafeUnwrap();
 * const full = (await backupFromSource(repo, { path: "/var/lib/images/vol1.raw" }, { volumeId: "vol1" }))._unsafeUnwrap();
 * await verifyBackup(repo, full.backupId);
 * await restoreToTarget(repo, full.backupId, { path: "/var/lib/images/vol1-copy.raw" });
 * ```
 *
 * @packageDocumentation
 */
export * from "./repository.js";
export * from "./local-repository.js";
export type { SyncMode } from "./deferred-sync.js";
export * from "./nfs-repository.js";
export * from "./s3-repository.js";
export * from "./s3-options.js";
export * from "./backup-keys.js";
export * from "./manifest.js";
export * from "./block-source.js";
export * from "./seek-data.js";
export * from "./encryption.js";
export * from "./backup-options.js";
export * from "./backup-engine.js";
export * from "./restore-engine.js";
export * from "./verify.js";
export * from "./backup-admin.js";
export * from "./backup-record.js";
export type { BackupSummary } from "./catalog.js";
export type { BackupPage } from "./catalog.js";
export { createBackup, type CreateBackupOptions, type VolumeBackup, type VolumeBackupRecord } from "./volume-backup.js";
export { restoreBackup, type NewVolumeSpec, type RestoreBackupOptions, type RestoreDestination, type VolumeRestore } from "./volume-restore.js";
export type { CleanupFailure } from "./undo-stack.js";
