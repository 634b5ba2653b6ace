import { ResultAsync, okAsync } from "neverthrow";
import { type VolkitError } from "../core/errors.js";
import type { EventBus } from "../core/events.js";
import { PURPOSE_KEY } from "./image/image-cache.js";
import { purgeImageCacheOp, type ImageCachePurge, type PurgeImageCacheRequest } from "./image/image-cache-purge.js";
import type { VerifyReport } from "../backup/verify.js";
import type { AttachmentRecord } from "./records/attachment-record.js";
import type { BackupRecord } from "./records/backup-record.js";
import type { BackendRecord } from "./records/backend-record.js";
import type { ImageCacheEntry } from "./records/image-cache-record.js";
import type { SnapshotRecord } from "./records/snapshot-record.js";
import type { VolumeRecord } from "./records/volume-record.js";
import type { QosSpecsRecord, VolumeTypeRecord } from "./records/volume-type-record.js";
import type { Evaluation } from "./scheduler/scheduler.js";
import type { PlacementRequest } from "./scheduler/filters.js";
import type { PoolState } from "./scheduler/pool-stats.js";
import type { ParsedVolumeServiceConfig } from "./service-config.js";
import type { ServiceContext, ServiceOperationOptions } from "./service-context.js";
import type { ServiceEventBus } from "./service-events.js";
import type { VolumeStatus } from "./state-machine.js";
import type { ListFilter, ServiceStore } from "./store/store.js";
import { attachVolumeOp, detachVolumeOp, type AttachRequest, type DetachRequest, type ServiceAttachment, type ServiceDetach } from "./ops/attach-volume.js";
import { createVolumeOp, type CreateVolumeRequest } from "./ops/create-volume.js";
import { deleteVolumeOp, type DeleteVolumeOptions } from "./ops/delete-volume.js";
import { extendVolumeOp, type ServiceExtend } from "./ops/extend-volume.js";
import { manageVolumeOp, unmanageVolumeOp, updateVolumeOp, type ManageVolumeRequest, type UpdateVolumeRequest } from "./ops/manage-ops.js";
import { migrateVolumeOp, retypeVolumeOp, type MigrateRequest, type RetypeRequest } from "./ops/migrate-volume.js";
import {
  createBackupOp,
  deleteBackupOp,
  exportBackupRecordOp,
  importBackupRecordOp,
  restoreBackupOp,
  verifyBackupOp,
  type CreateBackupRequest,
  type DeleteBackupRequest,
  type RestoreBackupRequest,
  type ServiceRestore,
} from "./ops/backup-ops.js";
import { createSnapshotOp, deleteSnapshotOp, revertToSnapshotOp, type CreateSnapshotRequest } from "./ops/snapshot-ops.js";
import { forceDeleteOp, forceDetachOp, resetStatusOp, type ResetStatusOptions } from "./recovery/admin-ops.js";
import { ownerClosed } from "./recovery/owners.js";
import { reconcileOp, type ReconcileOptions } from "./recovery/reconcile.js";
import { hostCleanupDeps, planHostCleanup, runHostCleanup } from "./host-cleanup/host-cleanup.js";
import type { HostCleanupReport, HostResidue } from "./host-cleanup/host-residue.js";
import type { HostFs } from "../host/host-fs.js";
import type { AdminReport, ReconcileReport } from "./recovery/recovery-report.js";

/** Options of {@link VolumeService.planHostCleanup} and {@link VolumeService.hostCleanup}. */
export interface HostCleanupOptions extends ServiceOperationOptions {
  /** Where /sys is read (default: this machine's; tests pass a fake tree). */
  readonly hostFs?: HostFs;
}

/** Filter of {@link VolumeService.listVolumes}. */
export interface ListVolumesFilter extends ListFilter<VolumeRecord> {
  /** Include the service's internal volumes (image cache, migration targets, temporaries). */
  readonly includeInternal?: boolean;
}

/**
 * The volume service: Cinder's control plane as one object (see the package doc and
 * `docs/service.md`). An orchestrator creates it with {@link createVolumeService} and calls its
 * operations; a panel lists its records and subscribes to {@link VolumeService.events}. Every
 * operation returns a `ResultAsync`, moves records only through the state machine's conditional
 * transitions, calls drivers only through their backends, and emits
 * `<resource>.<action>.start|progress|end|error` events.
 */
export class VolumeService {
  /** Service events: `volume.create.start`, `volume.attach.progress`, `snapshot.delete.end`, `volume.extend.error`… */
  readonly events: ServiceEventBus;
  /** Low-level operation events of every backend and connector (per-phase timings). */
  readonly operations: EventBus;
  /** The parsed configuration. */
  readonly config: ParsedVolumeServiceConfig;
  /** What the reconcile on open did (undefined when `reconcileOnOpen` is off). */
  readonly openReport: ReconcileReport | undefined;
  readonly #sc: ServiceContext;
  readonly #ownsStore: boolean;
  #timer: NodeJS.Timeout | undefined;
  #closed: ResultAsync<void, VolkitError> | undefined;

  /**
   * Use {@link createVolumeService}.
   *
   * @internal
   */
  constructor(sc: ServiceContext, ownsStore: boolean, openReport: ReconcileReport | undefined) {
    this.#sc = sc;
    this.#ownsStore = ownsStore;
    this.events = sc.events;
    this.operations = sc.operations;
    this.config = sc.config;
    this.openReport = openReport;
  }

  /** The store (records; read it, change records through the service). */
  get store(): ServiceStore {
    return this.#sc.store;
  }

  /** This instance's owner id (`<host>:<pid>:<instance>`), written into the tasks it runs. */
  get owner(): string {
    return this.#sc.owner;
  }

  /** Host name the service records attachments under. */
  get hostName(): string {
    return this.#sc.hostName;
  }

  /** Starts the periodic stats refresh (called by {@link createVolumeService}). */
  startStatsLoop(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.refreshStats(), this.#sc.config.statsIntervalMs);
    this.#timer.unref();
  }

  // ---------------------------------------------------------------- volumes

  /**
   * Creates a volume: blank, from a snapshot or a volume (on the source's backend unless the type
   * forbids it: then copied on this host), or from an image file (sha256 checked, raw or qcow2,
   * through the image cache; bootable). Placed by the scheduler with the type's extra specs.
   */
  createVolume(request: CreateVolumeRequest, options: ServiceOperationOptions = {}): ResultAsync<VolumeRecord, VolkitError> {
    return createVolumeOp(this.#sc, request, options);
  }

  /** Deletes a volume (refused while attached, migrating, or with snapshots unless `cascade`). */
  deleteVolume(volumeId: string, options: DeleteVolumeOptions = {}): ResultAsync<void, VolkitError> {
    return deleteVolumeOp(this.#sc, volumeId, options);
  }

  /** Grows a volume; online through this host's attachments when attached. */
  extendVolume(volumeId: string, newSizeGiB: number, options: ServiceOperationOptions = {}): ResultAsync<ServiceExtend, VolkitError> {
    return extendVolumeOp(this.#sc, volumeId, newSizeGiB, options);
  }

  /** Changes name, metadata or the bootable flag. */
  updateVolume(volumeId: string, update: UpdateVolumeRequest): ResultAsync<VolumeRecord, VolkitError> {
    return updateVolumeOp(this.#sc, volumeId, update);
  }

  /** Takes over an existing backend object as a volume. */
  manageVolume(request: ManageVolumeRequest, options: ServiceOperationOptions = {}): ResultAsync<VolumeRecord, VolkitError> {
    return manageVolumeOp(this.#sc, request, options);
  }

  /** Forgets a volume (its data stays on the backend). */
  unmanageVolume(volumeId: string, options: ServiceOperationOptions = {}): ResultAsync<void, VolkitError> {
    return unmanageVolumeOp(this.#sc, volumeId, options);
  }

  /** Changes a volume's type, in place or (with `migrationPolicy: on-demand`) by migrating it. */
  retypeVolume(volumeId: string, volumeType: string, request: RetypeRequest = {}, options: ServiceOperationOptions = {}): ResultAsync<VolumeRecord, VolkitError> {
    return retypeVolumeOp(this.#sc, volumeId, volumeType, request, options);
  }

  /** Moves an available volume to another backend, copying its data through this host. */
  migrateVolume(volumeId: string, request: MigrateRequest = {}, options: ServiceOperationOptions = {}): ResultAsync<VolumeRecord, VolkitError> {
    return migrateVolumeOp(this.#sc, volumeId, request, options);
  }

  // ---------------------------------------------------------------- snapshots

  /** Snapshots a volume (`force` for an in-use one). */
  createSnapshot(volumeId: string, request: CreateSnapshotRequest = {}, options: ServiceOperationOptions = {}): ResultAsync<SnapshotRecord, VolkitError> {
    return createSnapshotOp(this.#sc, volumeId, request, options);
  }

  /** Deletes a snapshot. */
  deleteSnapshot(snapshotId: string, options: ServiceOperationOptions = {}): ResultAsync<void, VolkitError> {
    return deleteSnapshotOp(this.#sc, snapshotId, options);
  }

  /** Reverts an available volume to one of its snapshots. */
  revertToSnapshot(volumeId: string, snapshotId: string, options: ServiceOperationOptions = {}): ResultAsync<VolumeRecord, VolkitError> {
    return revertToSnapshotOp(this.#sc, volumeId, snapshotId, options);
  }

  // ---------------------------------------------------------------- backups

  /**
   * Backs a volume up into a configured repository (`backupRepositories`; the default one unless
   * `repository` names another): full, or `incremental` on its newest backup there; `force` for an
   * in-use volume. The volume is `backing-up` meanwhile; the record ends `available` or `error`.
   */
  createBackup(volumeId: string, request: CreateBackupRequest = {}, options: ServiceOperationOptions = {}): ResultAsync<BackupRecord, VolkitError> {
    return createBackupOp(this.#sc, volumeId, request, options);
  }

  /** Restores a backup into an existing available volume (`{ volumeId }`) or a new one (`{ newVolume: {} }`). */
  restoreBackup(backupId: string, request: RestoreBackupRequest, options: ServiceOperationOptions = {}): ResultAsync<ServiceRestore, VolkitError> {
    return restoreBackupOp(this.#sc, backupId, request, options);
  }

  /** Re-reads a backup and checks every chunk's sha256 (and its chain) without restoring. */
  verifyBackup(backupId: string, options: ServiceOperationOptions = {}): ResultAsync<VerifyReport, VolkitError> {
    return verifyBackupOp(this.#sc, backupId, options);
  }

  /** Deletes a backup (`CONFLICT` while incrementals depend on it, unless `cascade`); returns the ids deleted. */
  deleteBackup(backupId: string, request: DeleteBackupRequest = {}, options: ServiceOperationOptions = {}): ResultAsync<readonly string[], VolkitError> {
    return deleteBackupOp(this.#sc, backupId, request, options);
  }

  /** The backup's self-describing record (JSON), to restore it on a host without this store. */
  exportBackupRecord(backupId: string, options: ServiceOperationOptions = {}): ResultAsync<string, VolkitError> {
    return exportBackupRecordOp(this.#sc, backupId, options);
  }

  /** Imports an exported record into a configured repository and records the backup `available`. */
  importBackupRecord(record: string, request: { readonly repository?: string } = {}, options: ServiceOperationOptions = {}): ResultAsync<BackupRecord, VolkitError> {
    return importBackupRecordOp(this.#sc, record, request, options);
  }

  /** Backups (of one volume when given). */
  listBackups(volumeId?: string): ResultAsync<readonly BackupRecord[], VolkitError> {
    return this.#sc.store.backups.list(volumeId === undefined ? {} : { volumeId });
  }

  // ---------------------------------------------------------------- attachments

  /**
   * Attaches a volume on this host for an instance: records the attachment (host properties,
   * connection, device) step by step and returns the device and, with `disk` options, the libvirt
   * `<disk>` XML (front-end QoS as `<iotune>`, a boot order for bootable volumes).
   */
  attachVolume(request: AttachRequest, options: ServiceOperationOptions = {}): ResultAsync<ServiceAttachment, VolkitError> {
    return attachVolumeOp(this.#sc, request, options);
  }

  /** Detaches from the stored attachment record (works after a restart). */
  detachVolume(request: DetachRequest, options: ServiceOperationOptions = {}): ResultAsync<ServiceDetach, VolkitError> {
    return detachVolumeOp(this.#sc, request, options);
  }

  // ---------------------------------------------------------------- recovery

  /** Completes or rolls back every operation a dead process left half done; reports what it did. */
  reconcile(options: ReconcileOptions = {}): ResultAsync<ReconcileReport, VolkitError> {
    return reconcileOp(this.#sc, options);
  }

  /** Sets a volume's status after undoing its unfinished attachments (admin). */
  resetStatus(volumeId: string, status: VolumeStatus, options: ResetStatusOptions = {}): ResultAsync<AdminReport, VolkitError> {
    return resetStatusOp(this.#sc, volumeId, status, options);
  }

  /** Deletes a volume in any status, with everything it has on the storage and this host (admin). */
  forceDelete(volumeId: string, options: ServiceOperationOptions = {}): ResultAsync<AdminReport, VolkitError> {
    return forceDeleteOp(this.#sc, volumeId, options);
  }

  /** Removes an attachment (or all) on the storage and, when it is this host's, on this host (admin). */
  forceDetach(volumeId: string, attachmentId?: string, options: ServiceOperationOptions = {}): ResultAsync<AdminReport, VolkitError> {
    return forceDetachOp(this.#sc, volumeId, attachmentId, options);
  }

  /**
   * What on this host no live attachment record claims (iSCSI LUNs, their sessions and maps, NFS
   * mounts under the mount point base, krbd mappings of volkit's pools), each with why and the
   * command group that removes it. Reads only.
   */
  planHostCleanup(options: HostCleanupOptions = {}): ResultAsync<readonly HostResidue[], VolkitError> {
    return planHostCleanup(hostCleanupDeps(this.#sc, options.hostFs), options);
  }

  /** Removes residue of a plan (re-scanned first: only what is still residue goes) through the connectors' disconnects. */
  hostCleanup(items: readonly HostResidue[], options: HostCleanupOptions = {}): ResultAsync<HostCleanupReport, VolkitError> {
    return runHostCleanup(hostCleanupDeps(this.#sc, options.hostFs), items, options);
  }



  // ---------------------------------------------------------------- reading

  /** A volume. */
  getVolume(volumeId: string): ResultAsync<VolumeRecord, VolkitError> {
    return this.#sc.store.volumes.get(volumeId);
  }

  /** Volumes (the service's internal ones only with `includeInternal`). */
  listVolumes(filter: ListVolumesFilter = {}): ResultAsync<readonly VolumeRecord[], VolkitError> {
    const { includeInternal, ...where } = filter;
    return this.#sc.store.volumes.list(where).map((all) => (includeInternal === true ? all : all.filter((v) => v.metadata[PURPOSE_KEY] === undefined)));
  }

  /** Snapshots (of one volume when given). */
  listSnapshots(volumeId?: string): ResultAsync<readonly SnapshotRecord[], VolkitError> {
    return this.#sc.store.snapshots.list(volumeId === undefined ? {} : { volumeId });
  }

  /** Attachments (of one volume when given). */
  listAttachments(volumeId?: string): ResultAsync<readonly AttachmentRecord[], VolkitError> {
    return this.#sc.store.attachments.list(volumeId === undefined ? {} : { volumeId });
  }

  /** Volume types. */
  listVolumeTypes(): ResultAsync<readonly VolumeTypeRecord[], VolkitError> {
    return this.#sc.store.volumeTypes.list();
  }

  /** QoS specs. */
  listQosSpecs(): ResultAsync<readonly QosSpecsRecord[], VolkitError> {
    return this.#sc.store.qosSpecs.list();
  }

  /** Backends with their last stats and state. */
  listBackends(): ResultAsync<readonly BackendRecord[], VolkitError> {
    return this.#sc.store.backends.list();
  }

  /** Image-cache entries, least recently used first. */
  listImageCache(): ResultAsync<readonly ImageCacheEntry[], VolkitError> {
    return this.#sc.store.imageCache.list({}, { orderBy: "lastUsedAt" });
  }

  /**
   * Removes image-cache entries (every one, or one image's and/or one backend's) with their cache
   * volumes; volumes cloned from them keep their data. Reports what it removed and what it could not.
   */
  purgeImageCache(request: PurgeImageCacheRequest): ResultAsync<ImageCachePurge, VolkitError> {
    return purgeImageCacheOp(this.#sc, request);
  }

  /** Every pool as the scheduler sees it now (stats plus in-flight placements). */
  pools(): readonly PoolState[] {
    return this.#sc.scheduler.pools();
  }

  /** Every pool's fate for a request, without placing anything (why a type lands where it does). */
  evaluate(request: PlacementRequest): Evaluation {
    return this.#sc.scheduler.evaluate(request);
  }

  /** Reads every backend's stats now and feeds the scheduler (also run on the interval). */
  refreshStats(): ResultAsync<{ readonly up: readonly string[]; readonly down: readonly string[] }, never> {
    return this.#sc.backends.refreshStats(this.#sc.scheduler, this.#sc.store);
  }

  /** Stops the stats loop, closes the drivers and (when the service opened it) the store. Idempotent. */
  close(): ResultAsync<void, VolkitError> {
    if (this.#closed) return this.#closed;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    ownerClosed(this.#sc.owner);
    const closing = this.#sc.backends
      .close()
      .orElse(() => okAsync(undefined))
      .andThen(() => (this.#ownsStore ? this.#sc.store.close() : okAsync(undefined)));
    // Memoize the outcome, not the lazy chain.
    const settled = new ResultAsync(Promise.resolve(closing));
    this.#closed = settled;
    return settled;
  }
}
