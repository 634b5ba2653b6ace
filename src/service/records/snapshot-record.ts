import { z } from "zod";
import { SizeGiBSchema } from "../../core/validation.js";
import { SnapshotStatusSchema } from "../state-machine.js";
import { DisplayNameSchema, MetadataSchema, OperationTaskSchema, RecordIdSchema, RecordMetaFields } from "./record-fields.js";

/**
 * A snapshot as the service stores it (Cinder's `snapshots` table). Its volume cannot be deleted
 * while it exists (a foreign key and the `noSnapshots` guard).
 *
 * @example
 * ```ts
 * SnapshotRecordSchema.parse({ id: "snap-1", volumeId: "vol-1", sizeGiB: 10 }).status; // "creating"
 * ```
 */
export const SnapshotRecordSchema = z.object({
  /** Stable id. */
  id: RecordIdSchema,
  /** The volume it was taken from. */
  volumeId: RecordIdSchema,
  /** Display name. */
  name: DisplayNameSchema.optional(),
  /** Size of the volume when it was taken, GiB. */
  sizeGiB: SizeGiBSchema,
  /** Status (see `SNAPSHOT_RULES`). */
  status: SnapshotStatusSchema.default("creating"),
  /** Where the backend keeps it. */
  providerLocation: z.string().max(4096).optional(),
  /** Driver-private id. */
  providerId: z.string().max(255).optional(),
  /** Free-form metadata. */
  metadata: MetadataSchema.default({}),
  /** Why it is in an error status. */
  statusReason: z.string().max(2048).optional(),
  /** The operation running on it while it is `creating` or `deleting` (see `OperationTaskSchema`). */
  task: OperationTaskSchema.optional(),
  ...RecordMetaFields,
});
/** A snapshot record (parsed). */
export type SnapshotRecord = z.output<typeof SnapshotRecordSchema>;
/** A snapshot record as a caller writes it. */
export type SnapshotRecordInput = z.input<typeof SnapshotRecordSchema>;
