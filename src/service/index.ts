/**
 * The volume service (`volkit/service`): Cinder's control plane as a library. One
 * {@link VolumeService}, created from a config with {@link createVolumeService}, places volumes on
 * `backend#pool` with Cinder's scheduler, runs every operation (create from nothing, a snapshot, a
 * volume or an image through the image cache; delete, extend, snapshots, revert, attach and detach
 * with the libvirt XML, manage, retype, migrate) through one state machine and a store with
 * conditional transitions (SQLite, PostgreSQL or memory), emits events for panels, and recovers
 * operations a crash interrupted with `reconcile()`.
 *
 * @example
 * ```ts
 * import { createVolumeService } from "volkit/service";
 * const service = (await createVolumeService({
 *   backends: [{ name: "lvm-a", config: { driver: "lvm", volumeGroup: "vg0", target: { helper: "lio" } } }],
 *   volumeTypes: [{ name: "fast", extraSpecs: { volume_backend_name: "lvm-a" } }],
 *   store: { kind: "sqlite", path: "/var/lib/volkit/service.db" },
 * }))._unsafeUnwrap();
 * service.events.on((e) => console.log(e.type, e.volumeId));
 * const volume = await service.createVolume({ sizeGiB: 10, volumeType: "fast" });
 * ```
 *
 * @packageDocumentation
 */
export * from "./state-machine.js";
export * from "./records/record-fields.js";
export * from "./records/volume-record.js";
export * from "./records/snapshot-record.js";
export * from "./records/attachment-record.js";
export * from "./records/volume-type-record.js";
export * from "./records/backend-record.js";
export * from "./records/backup-record.js";
export * from "./records/image-cache-record.js";
export type * from "./store/store.js";
export { openMemoryStore, openPostgresStore, openSqliteStore, openStore, MemoryStoreConfigSchema, PostgresStoreConfigSchema, SqliteStoreConfigSchema, StoreConfigSchema, type StoreConfigInput } from "./store/open-store.js";
export { MIGRATION_TABLE, MIGRATION_LOCK_TABLE } from "./store/migrations.js";
export * from "./scheduler/pool-stats.js";
export * from "./scheduler/capacity.js";
export * from "./scheduler/extra-specs-ops.js";
export * from "./scheduler/filters.js";
export * from "./scheduler/weighers.js";
export * from "./scheduler/scheduler.js";
export * from "./scheduler/qos.js";
export * from "./service-config.js";
export * from "./service-events.js";
export { VolumeService, type ListVolumesFilter, type HostCleanupOptions } from "./volume-service.js";
export { createVolumeService, type VolumeServiceDeps } from "./open-service.js";
export {
  HOST_RESIDUE_KINDS,
  HOST_CLEANUP_REMOVALS,
  type HostResidue,
  type HostResidueKind,
  type HostCleanupRemoval,
  type HostCleanupReport,
  type HostCleanupFailure,
} from "./host-cleanup/host-residue.js";
export { CreateVolumeRequestSchema, CreateSourceSchema, type CreateVolumeRequest } from "./ops/create-volume.js";
export { AttachRequestSchema, DetachRequestSchema, type AttachRequest, type ParsedAttachRequest, type DetachRequest, type ServiceAttachment, type ServiceDetach } from "./ops/attach-volume.js";
export type { DeleteVolumeOptions } from "./ops/delete-volume.js";
export type { ServiceExtend } from "./ops/extend-volume.js";
export { CreateSnapshotRequestSchema, type CreateSnapshotRequest } from "./ops/snapshot-ops.js";
export { CreateBackupRequestSchema, RestoreBackupRequestSchema, type CreateBackupRequest, type RestoreBackupRequest, type DeleteBackupRequest, type ServiceRestore } from "./ops/backup-ops.js";
export {
  BackupRepositoryNameSchema,
  ServiceBackupRepositoryConfigSchema,
  ServiceBackupRepositoriesSchema,
  type ServiceBackupRepositoryConfig,
  type ParsedServiceBackupRepositoryConfig,
  type RepositoryOpener,
} from "./backup-repositories.js";
export { UpdateVolumeRequestSchema, ManageVolumeRequestSchema, type UpdateVolumeRequest, type ManageVolumeRequest } from "./ops/manage-ops.js";
export { MigrateRequestSchema, RetypeRequestSchema, type MigrateRequest, type RetypeRequest } from "./ops/migrate-volume.js";
export { ImageSourceSchema, type ImageSource } from "./image/image-source.js";
export { PURPOSE_KEY } from "./image/image-cache.js";
export { PurgeImageCacheRequestSchema, type PurgeImageCacheRequest, type ImageCachePurge } from "./image/image-cache-purge.js";
export { TRANSIENT_VOLUME_STATUSES, type ReconcileOptions } from "./recovery/reconcile.js";
export type { ResetStatusOptions } from "./recovery/admin-ops.js";
export type { AdminReport, ReconcileReport, RecoveryAction } from "./recovery/recovery-report.js";
export type { ServiceOperationOptions } from "./service-context.js";
// The libvirt pieces an attach request uses (the whole module is `volkit/libvirt`).
export { DiskOptionsSchema, type DiskOptions, type ParsedDiskOptions } from "../libvirt/libvirt-options.js";
export { resolveDisk } from "../libvirt/libvirt-disk.js";
export { serialFromVolumeId } from "../libvirt/libvirt-serial.js";
