import { z } from "zod";
import { DisconnectReportSchema } from "../../core/records.js";
import { HOST_CLEANUP_REMOVALS, HOST_RESIDUE_KINDS, type HostCleanupRemoval } from "../../service/host-cleanup/host-residue.js";
import { AttachmentRecordSchema, type AttachmentRecord } from "../../service/records/attachment-record.js";
import { BackupRecordSchema } from "../../service/records/backup-record.js";
import { ImageCacheEntrySchema } from "../../service/records/image-cache-record.js";
import { SnapshotRecordSchema } from "../../service/records/snapshot-record.js";
import { VolumeRecordSchema } from "../../service/records/volume-record.js";
import { VolumeTypeRecordSchema } from "../../service/records/volume-type-record.js";

/**
 * The `--json` shapes of the service-backed commands. Each record shape is the service record's
 * own schema (`volkit/service`) narrowed to the fields the CLI promises, with times as ISO-8601
 * strings; secrets (`providerAuth`, connection info with CHAP passwords) are never part of them.
 * A field the service adds later appears here only when it is added on purpose.
 */

/** An ISO-8601 time (`2025-01-31T12:00:00.000Z`). */
const Iso = z.iso.datetime({ offset: true });
const Times = { createdAt: Iso, updatedAt: Iso };

/** A volume as printed. */
export const VolumeOutSchema = VolumeRecordSchema.pick({
  id: true,
  name: true,
  sizeGiB: true,
  status: true,
  previousStatus: true,
  attachStatus: true,
  backend: true,
  pool: true,
  availabilityZone: true,
  volumeTypeId: true,
  bootable: true,
  multiattach: true,
  metadata: true,
  providerLocation: true,
  source: true,
  migrationStatus: true,
  statusReason: true,
  revision: true,
}).extend(Times);

/** A snapshot as printed. */
export const SnapshotOutSchema = SnapshotRecordSchema.pick({ id: true, volumeId: true, name: true, sizeGiB: true, status: true, providerLocation: true, metadata: true, statusReason: true, revision: true }).extend(Times);

/** A volume type as printed. */
export const TypeOutSchema = VolumeTypeRecordSchema.pick({ id: true, name: true, description: true, extraSpecs: true, qosSpecsId: true, isPublic: true, revision: true }).extend(Times);

/** A backup as printed. */
export const BackupOutSchema = BackupRecordSchema.pick({ id: true, volumeId: true, name: true, status: true, repository: true, parentId: true, sizeGiB: true, manifestLocation: true, statusReason: true, revision: true }).extend(Times);

/** An image-cache entry as printed. */
export const ImageCacheOutSchema = ImageCacheEntrySchema.pick({ id: true, imageId: true, imageChecksum: true, backend: true, pool: true, volumeId: true, sizeGiB: true, hits: true, revision: true }).extend({ lastUsedAt: Iso, ...Times });

/** An attachment as printed: where the volume is on which host; the connection info itself (it may hold CHAP secrets) is not. */
export const AttachmentOutSchema = AttachmentRecordSchema.pick({ id: true, volumeId: true, host: true, instanceId: true, mountpoint: true, attachMode: true, attachStatus: true, revision: true }).extend({
  /** Protocol of the connection (`iscsi`, `nfs`, `local`, `rbd`). */
  connectionType: z.string().optional(),
  /** The device or file on the host. */
  devicePath: z.string().optional(),
  /** When the attach completed. */
  attachedAt: Iso.optional(),
  /** When the detach completed. */
  detachedAt: Iso.optional(),
  ...Times,
});

/** The printed form of an attachment record. */
export function attachmentOut(a: AttachmentRecord): Record<string, unknown> {
  const info = a.connectionInfo as { readonly type?: unknown } | undefined;
  const device = a.device as { readonly path?: unknown } | undefined;
  const { connectionInfo: _info, device: _device, hostProperties: _props, ...rest } = a;
  return {
    ...rest,
    ...(typeof info?.type === "string" ? { connectionType: info.type } : {}),
    ...(typeof device?.path === "string" ? { devicePath: device.path } : {}),
  };
}

/** Outputs keyed by command path (`volume show`). */
/** One item of a `host cleanup` plan. */
export const HostResidueOutSchema = z.object({
  /** `iscsi-session`, `scsi-device`, `multipath-map`, `iscsi-node`, `nfs-mount`, `rbd-mapping`. */
  kind: z.enum(HOST_RESIDUE_KINDS),
  /** `/dev/sdc`, `dm-3 (<map>)`, `<portal>,<target iqn>`, a mount point, `/dev/rbd0`. */
  name: z.string(),
  /** The volume it belongs to, when its name tells. */
  volumeId: z.string().optional(),
  /** Why it is residue. */
  reason: z.string(),
  /** The command group that removes it (see `HOST_CLEANUP_REMOVALS`). */
  removal: z.enum(Object.keys(HOST_CLEANUP_REMOVALS) as [HostCleanupRemoval, ...HostCleanupRemoval[]]),
  /** Items of one unit are removed together (`iscsi:<iqn>:lun<N>`, `nfs:<mount point>`, `rbd:<id>`). */
  unit: z.string(),
});

export const SERVICE_OUTPUT_SCHEMAS = {
  "type create": z.object({ type: TypeOutSchema }),
  "type list": z.object({ types: z.array(TypeOutSchema) }),
  "type show": z.object({ type: TypeOutSchema }),
  "type delete": z.object({ type: z.string(), deleted: z.literal(true) }),
  "volume create": z.object({ volume: VolumeOutSchema }),
  "volume list": z.object({ volumes: z.array(VolumeOutSchema) }),
  "volume show": z.object({ volume: VolumeOutSchema, attachments: z.array(AttachmentOutSchema), snapshots: z.array(SnapshotOutSchema) }),
  "volume delete": z.object({ volumeId: z.string(), deleted: z.literal(true) }),
  "volume extend": z.object({ volume: VolumeOutSchema }),
  "volume snapshot": z.object({ snapshot: SnapshotOutSchema }),
  "volume revert": z.object({ volume: VolumeOutSchema }),
  "volume attach": z.object({ volume: VolumeOutSchema, attachment: AttachmentOutSchema, devicePath: z.string(), xml: z.string().optional() }),
  "volume detach": z.object({ volume: VolumeOutSchema, report: DisconnectReportSchema }),
  "volume migrate": z.object({ volume: VolumeOutSchema }),
  "volume retype": z.object({ volume: VolumeOutSchema }),
  "volume manage": z.object({ volume: VolumeOutSchema }),
  "volume unmanage": z.object({ volumeId: z.string(), unmanaged: z.literal(true) }),
  "volume reset-status": z.object({ volume: VolumeOutSchema }),
  "volume force-delete": z.object({ volumeId: z.string(), deleted: z.literal(true) }),
  "snapshot list": z.object({ snapshots: z.array(SnapshotOutSchema) }),
  "snapshot delete": z.object({ snapshotId: z.string(), deleted: z.literal(true) }),
  "backup create": z.object({ backup: BackupOutSchema }),
  "backup list": z.object({ backups: z.array(BackupOutSchema) }),
  "backup show": z.object({ backup: BackupOutSchema }),
  "backup restore": z.object({ backup: BackupOutSchema, volume: VolumeOutSchema }),
  "backup verify": z.object({ backupId: z.string(), level: z.enum(["content", "stored"]), chunksChecked: z.number().int(), bytesFetched: z.number().int(), durationMs: z.number() }),
  "backup delete": z.object({ backupId: z.string(), deleted: z.literal(true), deletedIds: z.array(z.string()) }),
  "backup export-record": z.object({ backupId: z.string(), file: z.string().optional(), record: z.record(z.string(), z.unknown()) }),
  "backup import-record": z.object({ backup: BackupOutSchema }),
  "image-cache list": z.object({ entries: z.array(ImageCacheOutSchema) }),
  "image-cache purge": z.object({ removed: z.array(ImageCacheOutSchema) }),
  reconcile: z.object({
    examined: z.number().int(),
    dryRun: z.boolean(),
    actions: z.array(
      z.object({
        kind: z.enum(["volume", "snapshot", "attachment", "backup"]),
        id: z.string(),
        operation: z.string(),
        from: z.string(),
        to: z.string(),
        decision: z.enum(["completed", "rolled-back", "skipped"]),
        reason: z.string(),
        applied: z.boolean(),
        errorCode: z.string().optional(),
      }),
    ),
  }),
  "host cleanup": z.object({
    /** Everything found, whether removed or not. */
    planned: z.array(HostResidueOutSchema),
    /** Whether removal was confirmed (`--yes` or an answer `y`); false = only shown. */
    confirmed: z.boolean(),
    /** Removed (or already gone). */
    removed: z.array(HostResidueOutSchema),
    /** Not removed, with the error's code and message. */
    failed: z.array(HostResidueOutSchema.extend({ errorCode: z.string(), message: z.string() })),
    /** Left alone: no longer residue when the cleanup looked again (claimed since the plan). */
    skipped: z.array(HostResidueOutSchema),
  }),
} as const;

/** A service command path. */
export type ServiceCommandPath = keyof typeof SERVICE_OUTPUT_SCHEMAS;
