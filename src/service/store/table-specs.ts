import { AttachmentRecordSchema, type AttachmentRecord } from "../records/attachment-record.js";
import { BackendRecordSchema, type BackendRecord } from "../records/backend-record.js";
import { BackupRecordSchema, type BackupRecord } from "../records/backup-record.js";
import { ImageCacheEntrySchema, type ImageCacheEntry } from "../records/image-cache-record.js";
import { SnapshotRecordSchema, type SnapshotRecord } from "../records/snapshot-record.js";
import { VolumeRecordSchema, type VolumeRecord } from "../records/volume-record.js";
import { QosSpecsRecordSchema, VolumeTypeRecordSchema, type QosSpecsRecord, type VolumeTypeRecord } from "../records/volume-type-record.js";
import { col, type ColumnSpec, type TableSpec } from "./row-codec.js";

/**
 * Where each record field is stored. The migrations create exactly these columns; a test checks
 * that every schema field has a column.
 */

const META: readonly ColumnSpec[] = [col("createdAt", "time"), col("updatedAt", "time"), col("revision", "int")];

/** Volumes. */
export const VOLUMES: TableSpec<VolumeRecord> = {
  table: "volumes",
  what: "volume",
  keyField: "id",
  keyColumn: "id",
  statusField: "status",
  notFound: "VOLUME_NOT_FOUND",
  exists: "VOLUME_EXISTS",
  schema: VolumeRecordSchema,
  shape: VolumeRecordSchema.shape,
  columns: [
    col("id"),
    col("name"),
    col("sizeGiB", "int"),
    col("status"),
    col("previousStatus"),
    col("attachStatus"),
    col("backend"),
    col("pool"),
    col("availabilityZone"),
    col("volumeTypeId"),
    col("bootable", "bool"),
    col("multiattach", "bool"),
    col("metadata", "json"),
    col("providerLocation"),
    col("providerAuth"),
    col("providerId"),
    col("source", "json"),
    col("migrationStatus"),
    col("statusReason"),
    col("task", "json"),
    ...META,
  ],
};

/** Snapshots. */
export const SNAPSHOTS: TableSpec<SnapshotRecord> = {
  table: "snapshots",
  what: "snapshot",
  keyField: "id",
  keyColumn: "id",
  statusField: "status",
  notFound: "SNAPSHOT_NOT_FOUND",
  exists: "SNAPSHOT_EXISTS",
  schema: SnapshotRecordSchema,
  shape: SnapshotRecordSchema.shape,
  columns: [
    col("id"),
    col("volumeId"),
    col("name"),
    col("sizeGiB", "int"),
    col("status"),
    col("providerLocation"),
    col("providerId"),
    col("metadata", "json"),
    col("statusReason"),
    col("task", "json"),
    ...META,
  ],
};

/** Attachments. */
export const ATTACHMENTS: TableSpec<AttachmentRecord> = {
  table: "attachments",
  what: "attachment",
  keyField: "id",
  keyColumn: "id",
  statusField: "attachStatus",
  notFound: "NOT_FOUND",
  exists: "CONFLICT",
  schema: AttachmentRecordSchema,
  shape: AttachmentRecordSchema.shape,
  columns: [
    col("id"),
    col("volumeId"),
    col("host"),
    col("hostProperties", "json"),
    col("backend"),
    col("connectionInfo", "json"),
    col("device", "json"),
    col("exportCreated", "bool"),
    col("xml"),
    col("purpose"),
    col("instanceId"),
    col("mountpoint"),
    col("attachMode"),
    col("attachStatus"),
    col("attachedAt", "time"),
    col("detachedAt", "time"),
    ...META,
  ],
};

/** Volume types. */
export const VOLUME_TYPES: TableSpec<VolumeTypeRecord> = {
  table: "volume_types",
  what: "volume type",
  keyField: "id",
  keyColumn: "id",
  notFound: "NOT_FOUND",
  exists: "CONFLICT",
  schema: VolumeTypeRecordSchema,
  shape: VolumeTypeRecordSchema.shape,
  columns: [col("id"), col("name"), col("description"), col("extraSpecs", "json"), col("qosSpecsId"), col("isPublic", "bool"), ...META],
};

/** QoS specs. */
export const QOS_SPECS: TableSpec<QosSpecsRecord> = {
  table: "qos_specs",
  what: "QoS specs",
  keyField: "id",
  keyColumn: "id",
  notFound: "NOT_FOUND",
  exists: "CONFLICT",
  schema: QosSpecsRecordSchema,
  shape: QosSpecsRecordSchema.shape,
  columns: [col("id"), col("name"), col("consumer"), col("specs", "json"), ...META],
};

/** Backends. */
export const BACKENDS: TableSpec<BackendRecord> = {
  table: "backends",
  what: "backend",
  keyField: "name",
  keyColumn: "name",
  notFound: "NOT_FOUND",
  exists: "CONFLICT",
  schema: BackendRecordSchema,
  shape: BackendRecordSchema.shape,
  columns: [
    col("name"),
    col("driver"),
    col("configHash"),
    col("availabilityZone"),
    col("lastStats", "json"),
    col("statsUpdatedAt", "time"),
    col("state"),
    ...META,
  ],
};

/** Backups. */
export const BACKUPS: TableSpec<BackupRecord> = {
  table: "backups",
  what: "backup",
  keyField: "id",
  keyColumn: "id",
  statusField: "status",
  notFound: "NOT_FOUND",
  exists: "CONFLICT",
  schema: BackupRecordSchema,
  shape: BackupRecordSchema.shape,
  columns: [
    col("id"),
    col("volumeId"),
    col("name"),
    col("status"),
    col("repository"),
    col("parentId"),
    col("sizeGiB", "int"),
    col("manifestLocation"),
    col("statusReason"),
    col("task", "json"),
    ...META,
  ],
};

/** Image-cache entries. */
export const IMAGE_CACHE: TableSpec<ImageCacheEntry> = {
  table: "image_cache",
  what: "image-cache entry",
  keyField: "id",
  keyColumn: "id",
  notFound: "NOT_FOUND",
  exists: "CONFLICT",
  schema: ImageCacheEntrySchema,
  shape: ImageCacheEntrySchema.shape,
  columns: [
    col("id"),
    col("imageId"),
    col("imageChecksum"),
    col("backend"),
    col("pool"),
    col("volumeId"),
    col("sizeGiB", "int"),
    col("lastUsedAt", "time"),
    col("hits", "int"),
    ...META,
  ],
};

/** Every table, in creation order (referenced tables first). */
export const ALL_TABLES: readonly TableSpec<unknown>[] = [QOS_SPECS, VOLUME_TYPES, VOLUMES, SNAPSHOTS, ATTACHMENTS, BACKENDS, BACKUPS, IMAGE_CACHE];
