import type { ResultAsync } from "neverthrow";
import type { OperationOptions } from "../core/context.js";
import type { VolkitError } from "../core/errors.js";
import type { EventBus } from "../core/events.js";
import type { DisconnectReport, ExistingRef } from "../core/records.js";
import type { HostCleanupReport as ServiceHostCleanupReport, HostResidue as ServiceHostResidue } from "../service/host-cleanup/host-residue.js";
import type { AttachmentRecord } from "../service/records/attachment-record.js";
import type { BackupRecord } from "../service/records/backup-record.js";
import type { ImageCacheEntry } from "../service/records/image-cache-record.js";
import type { SnapshotRecord } from "../service/records/snapshot-record.js";
import type { VolumeRecord } from "../service/records/volume-record.js";
import type { VolumeTypeRecord } from "../service/records/volume-type-record.js";
import type { AttachStatus, MigrationStatus, VolumeStatus } from "../service/state-machine.js";
import type { LoadedConfig } from "./config.js";

/**
 * What the service-backed commands (`type`, `volume`, `snapshot`, `backup`, `image-cache`,
 * `host cleanup`, `reconcile`) need from the volume service: one method per operator action,
 * each returning the service's own records (`volkit/service`) inside a `ResultAsync`. The CLI
 * validates every argument before it calls (ids, sizes, statuses), prints what comes back through
 * its output schemas (src/cli/service-schemas.ts) and maps the error's code to the exit code.
 *
 * Binding: `VolumeService` from src/service implements this directly or through a thin adapter;
 * `main.ts` hands a {@link ServiceFactory} to the CLI. Until it is bound those commands fail with
 * `NOT_SUPPORTED`.
 *
 * Conventions every method follows:
 * - `options.signal` is Ctrl-C: the service stops the running step and rolls back what it created
 *   (the record ends in its failure status, as the state machine says); `options.deadline` bounds it.
 * - Long operations (create from an image, extend, migrate, retype with migration, backup,
 *   restore, verify) emit `progress` events on `options.events`; the CLI draws them as a progress
 *   bar with rate and ETA.
 * - Ids are the service's record ids; `nameOrId` accepts either (types are addressed by name).
 * - Deleting what does not exist succeeds (the CLI reports `deleted: false` only when the method says so).
 */
export interface ServiceLike {
  // ------------------------------------------------------------------ volume types
  /** Creates a volume type; `CONFLICT` when a type of that name exists with other specs. */
  createType(request: CreateTypeRequest, options?: ServiceCallOptions): ResultAsync<VolumeTypeRecord, VolkitError>;
  /** Every volume type, by name. */
  listTypes(options?: ServiceCallOptions): ResultAsync<readonly VolumeTypeRecord[], VolkitError>;
  /** One type by name or id; `NOT_FOUND` when none. */
  getType(nameOrId: string, options?: ServiceCallOptions): ResultAsync<VolumeTypeRecord, VolkitError>;
  /** Deletes a type; `INVALID_STATE` while volumes use it. */
  deleteType(nameOrId: string, options?: ServiceCallOptions): ResultAsync<void, VolkitError>;

  // ------------------------------------------------------------------ volumes
  /** Schedules and creates a volume (blank, from a snapshot, a volume or an image); returns it `available`. */
  createVolume(request: CreateVolumeRequest, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError>;
  /** Volumes matching the filter, oldest first. */
  listVolumes(filter?: VolumeFilter, options?: ServiceCallOptions): ResultAsync<readonly VolumeRecord[], VolkitError>;
  /** One volume with its attachments and snapshots; `VOLUME_NOT_FOUND` when none. */
  getVolume(id: string, options?: ServiceCallOptions): ResultAsync<VolumeDetail, VolkitError>;
  /** Deletes a volume (`cascade`: its deletable snapshots too); `INVALID_STATE` when its status forbids it. */
  deleteVolume(id: string, request?: DeleteVolumeRequest, options?: ServiceCallOptions): ResultAsync<void, VolkitError>;
  /** Grows a volume (online when attached and the backend supports it); returns it with its new size. */
  extendVolume(id: string, newSizeGiB: number, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError>;
  /** Takes a snapshot (`force`: of an in-use volume). */
  snapshotVolume(id: string, request?: SnapshotVolumeRequest, options?: ServiceCallOptions): ResultAsync<SnapshotRecord, VolkitError>;
  /** Reverts a volume to its latest snapshot `snapshotId`. */
  revertVolume(id: string, snapshotId: string, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError>;
  /** Attaches a volume on this host (export, connect, libvirt XML); a failure undoes every step. */
  attachVolume(id: string, request?: AttachRequest, options?: ServiceCallOptions): ResultAsync<AttachResult, VolkitError>;
  /** Detaches a volume from this host (one attachment, or the only one); reports anything left behind. */
  detachVolume(id: string, request?: DetachRequest, options?: ServiceCallOptions): ResultAsync<DetachResult, VolkitError>;
  /** Moves a volume to another `backend[#pool]` (driver-assisted, or a host copy). */
  migrateVolume(id: string, request: MigrateRequest, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError>;
  /** Changes a volume's type, migrating when the new type needs another pool and the policy allows. */
  retypeVolume(id: string, request: RetypeRequest, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError>;
  /** Takes an existing backend object under management as a new volume record. */
  manageVolume(request: ManageRequest, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError>;
  /** Removes a volume's record and leaves its backend object in place. */
  unmanageVolume(id: string, options?: ServiceCallOptions): ResultAsync<void, VolkitError>;
  /** Admin: sets a volume's statuses without touching the backend (Cinder's reset-state). */
  resetVolumeStatus(id: string, request: ResetStatusRequest, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError>;
  /** Admin: deletes a volume in any status (detaching what is attached on this host first). */
  forceDeleteVolume(id: string, options?: ServiceCallOptions): ResultAsync<void, VolkitError>;

  // ------------------------------------------------------------------ snapshots
  /** Snapshots, of one volume or all. */
  listSnapshots(filter?: SnapshotFilter, options?: ServiceCallOptions): ResultAsync<readonly SnapshotRecord[], VolkitError>;
  /** Deletes a snapshot. */
  deleteSnapshot(id: string, options?: ServiceCallOptions): ResultAsync<void, VolkitError>;

  // ------------------------------------------------------------------ backups
  /** Backs a volume up (full or incremental) into the configured repository; returns the record `available`. */
  createBackup(request: CreateBackupRequest, options?: ServiceCallOptions): ResultAsync<BackupRecord, VolkitError>;
  /** Backups, of one volume or all. */
  listBackups(filter?: BackupFilter, options?: ServiceCallOptions): ResultAsync<readonly BackupRecord[], VolkitError>;
  /** One backup; `BACKUP_NOT_FOUND` when none. */
  getBackup(id: string, options?: ServiceCallOptions): ResultAsync<BackupRecord, VolkitError>;
  /** Restores a backup into an existing volume or a new one; returns the restored volume. */
  restoreBackup(id: string, request?: RestoreRequest, options?: ServiceCallOptions): ResultAsync<RestoreResult, VolkitError>;
  /** Re-reads a backup and checks every chunk; `BACKUP_CORRUPT` naming the problems. */
  verifyBackup(id: string, options?: ServiceCallOptions): ResultAsync<VerifyResult, VolkitError>;
  /**
   * Deletes a backup (`CONFLICT` while an incremental depends on it, unless `cascade`, which deletes
   * the dependents too, newest first); returns the ids deleted (none when it did not exist).
   */
  deleteBackup(id: string, request?: DeleteBackupRequest, options?: ServiceCallOptions): ResultAsync<readonly string[], VolkitError>;
  /** The backup's self-checking record (volkit/backup's `exportBackupRecord` JSON), to import elsewhere. */
  exportBackupRecord(id: string, options?: ServiceCallOptions): ResultAsync<string, VolkitError>;
  /** Imports a record exported by {@link ServiceLike.exportBackupRecord} (into `request.repository`, default: the default one); returns the new backup record. */
  importBackupRecord(record: string, request?: ImportBackupRecordRequest, options?: ServiceCallOptions): ResultAsync<BackupRecord, VolkitError>;

  // ------------------------------------------------------------------ image cache
  /** Image-cache entries, least recently used first. */
  listImageCache(options?: ServiceCallOptions): ResultAsync<readonly ImageCacheEntry[], VolkitError>;
  /** Removes cache entries (and their volumes) matching the request; returns what was removed. */
  purgeImageCache(request: PurgeImageCacheRequest, options?: ServiceCallOptions): ResultAsync<readonly ImageCacheEntry[], VolkitError>;

  // ------------------------------------------------------------------ repair
  /**
   * Finds records stuck in a transient status (a crashed `creating`, `attaching`, `deleting`…),
   * looks at the backend and this host, and completes or rolls back each operation. `dryRun`
   * reports the decisions without acting.
   */
  reconcile(request?: ReconcileRequest, options?: ServiceCallOptions): ResultAsync<ReconcileReport, VolkitError>;
  /** What on this host no attachment record claims (sessions, maps, mounts, exports), to show before removing. */
  planHostCleanup(options?: ServiceCallOptions): ResultAsync<readonly HostResidue[], VolkitError>;
  /** Removes the given residue (a subset of a plan); reports each item's outcome. */
  hostCleanup(items: readonly HostResidue[], options?: ServiceCallOptions): ResultAsync<HostCleanupReport, VolkitError>;
}

/** Opens the service for one CLI run from the loaded config; the CLI calls `close` when the command ends. */
export type ServiceFactory = (config: LoadedConfig, options: OperationOptions) => ResultAsync<ServiceHandle, VolkitError>;

/** An open service and how to release it (store connections, connectors). */
export interface ServiceHandle {
  /** The service. */
  readonly service: ServiceLike;
  /** Releases what opening took. */
  close(): ResultAsync<void, VolkitError>;
}

/** Options of every service call: cancellation, deadline and where progress goes. */
export interface ServiceCallOptions extends OperationOptions {
  /** Receives `progress` events of long operations (bytes done / total). */
  readonly events?: EventBus;
}

/** `type create`. */
export interface CreateTypeRequest {
  /** Unique name. */
  readonly name: string;
  /** Description. */
  readonly description?: string;
  /** Extra specs (`volume_backend_name`, `provisioning:type`, `capabilities:…`). */
  readonly extraSpecs: Readonly<Record<string, string>>;
  /** Whether every project may use it (default true). */
  readonly isPublic?: boolean;
}

/** Where a new volume's bytes come from. */
export type VolumeSourceRequest =
  | { readonly kind: "snapshot"; readonly snapshotId: string }
  | { readonly kind: "volume"; readonly volumeId: string }
  | {
      readonly kind: "image";
      /** Image id (the cache key, with the checksum). */
      readonly imageId: string;
      /** The image file on this host. */
      readonly path: string;
      /** Its sha256 (hex), checked before use. */
      readonly sha256: string;
      /** `raw` or `qcow2` (probed when absent). */
      readonly format?: "raw" | "qcow2";
    };

/** `volume create`. */
export interface CreateVolumeRequest {
  /** Id to use (default: a new UUID); creating an identical volume again is not an error. */
  readonly id?: string;
  /** Display name. */
  readonly name?: string;
  /** Size in GiB. */
  readonly sizeGiB: number;
  /** Volume type, by name or id (default: none, any pool). */
  readonly type?: string;
  /** Availability zone. */
  readonly availabilityZone?: string;
  /** Where its first bytes come from. */
  readonly source?: VolumeSourceRequest;
  /** Several hosts may attach it: the type must give it (extra spec `multiattach: "<is> True"`), else `INVALID_ARGUMENT`. */
  readonly multiattach?: boolean;
  /** Metadata. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Filter of `volume list`. */
export interface VolumeFilter {
  /** Only volumes in one of these statuses. */
  readonly status?: readonly VolumeStatus[];
  /** Only volumes on this backend. */
  readonly backend?: string;
  /** At most this many. */
  readonly limit?: number;
}

/** `volume show`: a volume with what hangs off it. */
export interface VolumeDetail {
  /** The volume. */
  readonly volume: VolumeRecord;
  /** Its attachments (every status but `deleted`). */
  readonly attachments: readonly AttachmentRecord[];
  /** Its snapshots. */
  readonly snapshots: readonly SnapshotRecord[];
}

/** `volume delete`. */
export interface DeleteVolumeRequest {
  /** Delete its deletable snapshots with it. */
  readonly cascade?: boolean;
}

/** `volume snapshot`. */
export interface SnapshotVolumeRequest {
  /** Snapshot id (default: a new UUID). */
  readonly id?: string;
  /** Display name. */
  readonly name?: string;
  /** Snapshot an in-use volume. */
  readonly force?: boolean;
}

/** `volume attach`. */
export interface AttachRequest {
  /** The instance (VM) that will use it. */
  readonly instanceId?: string;
  /** Where the instance sees it (`/dev/vdb`). */
  readonly mountpoint?: string;
  /** `rw` (default) or `ro`. */
  readonly mode?: "rw" | "ro";
  /** libvirt target of the `<disk>` XML, when one is wanted. */
  readonly disk?: { readonly dev: string; readonly bus: "virtio" | "scsi" | "sata" | "ide" };
}

/** What `volume attach` returns. */
export interface AttachResult {
  /** The attachment record, `attached`. */
  readonly attachment: AttachmentRecord;
  /** The volume, `in-use`. */
  readonly volume: VolumeRecord;
  /** The block device or file on this host. */
  readonly devicePath: string;
  /** The libvirt `<disk>` XML, when a disk target was given. */
  readonly xml?: string;
}

/** `volume detach`. */
export interface DetachRequest {
  /** The attachment to end (default: the volume's only attachment on this host). */
  readonly attachmentId?: string;
  /** Continue past a failed flush (the target is dead). */
  readonly force?: boolean;
}

/** What `volume detach` returns. */
export interface DetachResult {
  /** The volume after the detach. */
  readonly volume: VolumeRecord;
  /** What the connector removed and what it left behind. */
  readonly report: DisconnectReport;
}

/** `volume migrate`. */
export interface MigrateRequest {
  /** Destination `backend` or `backend#pool`. */
  readonly destination: string;
  /** Copy through this host even when the driver could move it itself. */
  readonly forceHostCopy?: boolean;
}

/** `volume retype`. */
export interface RetypeRequest {
  /** New type, by name or id. */
  readonly type: string;
  /** `never` (default): fail when the new type needs another pool; `on-demand`: migrate then. */
  readonly migrationPolicy?: "never" | "on-demand";
}

/** `volume manage`. */
export interface ManageRequest {
  /** Backend holding the object (`backend` or `backend#pool`). */
  readonly backend: string;
  /** The object, as the driver names it (`{ sourceName: "lv-1" }` or `{ sourceId: "42" }`). */
  readonly ref: ExistingRef;
  /** Id of the new record (default: a new UUID). */
  readonly id?: string;
  /** Display name. */
  readonly name?: string;
  /** Volume type. */
  readonly type?: string;
}

/** `volume reset-status`: the statuses to set (at least one). */
export interface ResetStatusRequest {
  /** Volume status. */
  readonly status?: VolumeStatus;
  /** Attach status. */
  readonly attachStatus?: AttachStatus;
  /** Migration status (`none` clears it). */
  readonly migrationStatus?: MigrationStatus | "none";
}

/** Filter of `snapshot list`. */
export interface SnapshotFilter {
  /** Only this volume's. */
  readonly volumeId?: string;
}

/** `backup create`. */
export interface CreateBackupRequest {
  /** The volume. */
  readonly volumeId: string;
  /** Backup id (default: a new UUID). */
  readonly id?: string;
  /** Display name. */
  readonly name?: string;
  /** Incremental on the volume's latest backup. */
  readonly incremental?: boolean;
  /** Back up an in-use volume. */
  readonly force?: boolean;
  /** Configured backup repository (`backupRepositories` in the config file); default: the default one. */
  readonly repository?: string;
}

/** `backup delete`. */
export interface DeleteBackupRequest {
  /** Delete the incrementals that depend on it too (newest first). */
  readonly cascade?: boolean;
}

/** `backup import-record`. */
export interface ImportBackupRecordRequest {
  /** Configured backup repository holding the backup's objects (default: the default one). */
  readonly repository?: string;
}

/** Filter of `backup list`. */
export interface BackupFilter {
  /** Only this volume's. */
  readonly volumeId?: string;
}

/** `backup restore`. */
export interface RestoreRequest {
  /** Restore into this existing volume (available, at least the backup's size); default: a new volume. */
  readonly volumeId?: string;
  /** Name of the new volume. */
  readonly name?: string;
  /** Type of the new volume. */
  readonly type?: string;
}

/** What `backup restore` returns. */
export interface RestoreResult {
  /** The backup. */
  readonly backup: BackupRecord;
  /** The restored volume, `available`. */
  readonly volume: VolumeRecord;
}

/** What `backup verify` returns. */
export interface VerifyResult {
  /** The backup. */
  readonly backupId: string;
  /** `content`: chunks rebuilt and their digests checked; `stored`: stored digests only (encrypted, no key). */
  readonly level: "content" | "stored";
  /** Chunks checked. */
  readonly chunksChecked: number;
  /** Stored bytes read. */
  readonly bytesFetched: number;
  /** Wall-clock duration. */
  readonly durationMs: number;
}

/** `image-cache purge`: which entries (at least one criterion). */
export interface PurgeImageCacheRequest {
  /** Every entry. */
  readonly all?: boolean;
  /** Entries of this image. */
  readonly imageId?: string;
  /** Entries on this backend. */
  readonly backend?: string;
}

/** `reconcile`. */
export interface ReconcileRequest {
  /** Only this volume. */
  readonly volumeId?: string;
  /** Decide but do not act. */
  readonly dryRun?: boolean;
}

/** One decision of `reconcile`. */
export interface ReconcileAction {
  /** Record kind. */
  readonly kind: "volume" | "snapshot" | "attachment" | "backup";
  /** Record id. */
  readonly id: string;
  /** The operation that was interrupted (`create`, `attach`, `delete`…). */
  readonly operation: string;
  /** Status found. */
  readonly from: string;
  /** Status it was (or would be) moved to; `removed` when the record goes. */
  readonly to: string;
  /** `completed` (the backend had finished), `rolled-back`, or `skipped` (an owner is still running it). */
  readonly decision: "completed" | "rolled-back" | "skipped";
  /** Why. */
  readonly reason: string;
  /** Whether the action ran (false in a dry run, or when it failed). */
  readonly applied: boolean;
  /** The error code when the action failed. */
  readonly errorCode?: string;
}

/** What `reconcile` returns. */
export interface ReconcileReport {
  /** Records looked at. */
  readonly examined: number;
  /** Decisions, in the order taken. */
  readonly actions: readonly ReconcileAction[];
  /** Whether this was a dry run. */
  readonly dryRun: boolean;
}

/** Something on this host that no attachment record claims (the service's type: kind, name, why, the command group that removes it). */
export type HostResidue = ServiceHostResidue;

/** What `host cleanup` did: removed, failed (with the error code), skipped (no longer residue). */
export type HostCleanupReport = ServiceHostCleanupReport;
