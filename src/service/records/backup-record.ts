import { z } from "zod";
import { BackupStatusSchema } from "../state-machine.js";
import { DisplayNameSchema, GiBSchema, OperationTaskSchema, RecordIdSchema, RecordMetaFields } from "./record-fields.js";

/**
 * A backup (Cinder's `backups` table), a placeholder until the backup engine lands: which volume,
 * where the objects are, its parent for incrementals, and the manifest that restores it without
 * this database (Cinder's pain: restore needs its DB record).
 *
 * @example
 * ```ts
 * BackupRecordSchema.parse({ id: "b-1", volumeId: "vol-1", repository: "posix:/srv/backups", sizeGiB: 10 });
 * ```
 */
export const BackupRecordSchema = z.object({
  /** Stable id. */
  id: RecordIdSchema,
  /** The backed-up volume (kept after the volume is deleted). */
  volumeId: RecordIdSchema,
  /** Display name. */
  name: DisplayNameSchema.optional(),
  /** Status (see `BACKUP_RULES`). */
  status: BackupStatusSchema.default("creating"),
  /** Where the objects are (`posix:/path`, `s3:bucket/prefix`…). */
  repository: z.string().min(1).max(1024),
  /** Parent backup of an incremental. */
  parentId: RecordIdSchema.optional(),
  /** Size of the volume backed up, GiB. */
  sizeGiB: GiBSchema,
  /** Location of the manifest (object list, sha256 blocks) inside the repository. */
  manifestLocation: z.string().max(4096).optional(),
  /** Why it is in an error status. */
  statusReason: z.string().max(2048).optional(),
  /** The operation running on it while it is `creating`, `restoring` or `deleting` (what `reconcile()` needs after a crash). */
  task: OperationTaskSchema.optional(),
  ...RecordMetaFields,
});
/** A backup record (parsed). */
export type BackupRecord = z.output<typeof BackupRecordSchema>;
/** A backup record as a caller writes it. */
export type BackupRecordInput = z.input<typeof BackupRecordSchema>;
