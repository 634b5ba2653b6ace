import { z } from "zod";
import { registerSecret } from "../../core/secrets.js";
import { SizeGiBSchema, secretString } from "../../core/validation.js";
import { AttachStatusSchema, MigrationStatusSchema, VolumeStatusSchema } from "../state-machine.js";
import { BackendNameSchema, DisplayNameSchema, MetadataSchema, OperationTaskSchema, PoolNameSchema, RecordIdSchema, RecordMetaFields } from "./record-fields.js";

/** Where a volume's first bytes came from (Cinder's `snapshot_id`, `source_volid`, `image_id`). */
export const VolumeSourceSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("snapshot"), snapshotId: RecordIdSchema }),
  z.object({ kind: z.literal("volume"), volumeId: RecordIdSchema }),
  z.object({
    kind: z.literal("image"),
    imageId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an image id"),
    /**
     * The image-cache volume this volume is a linked clone of (it reads unchanged data from it, e.g.
     * an NFS qcow2 overlay): set only on backends with linked clones; the cache entry is kept while
     * such a volume exists.
     */
    cacheVolumeId: RecordIdSchema.optional(),
  }),
]);
/** A volume's source. */
export type VolumeSource = z.output<typeof VolumeSourceSchema>;

/**
 * A volume as the service stores it (Cinder's `volumes` table): identity, size, where it lives
 * (`backend#pool`), its statuses, what its driver recorded, and the row version every conditional
 * update checks.
 *
 * @example
 * ```ts
 * const v = VolumeRecordSchema.parse({ id: "vol-1", sizeGiB: 10, status: "creating" });
 * v.revision; // 1
 * ```
 */
export const VolumeRecordSchema = z.object({
  /** Stable id; backend object names derive from it. */
  id: RecordIdSchema,
  /** Display name. */
  name: DisplayNameSchema.optional(),
  /** Size in GiB. */
  sizeGiB: SizeGiBSchema,
  /** Status (see `VOLUME_RULES`); changes only through the state machine or an admin reset. */
  status: VolumeStatusSchema.default("creating"),
  /** The status before the running operation started (Cinder's `previous_status`). */
  previousStatus: VolumeStatusSchema.optional(),
  /** Attach status: `attached` while an attachment is attached, else `detached` (or a transient one). */
  attachStatus: AttachStatusSchema.default("detached"),
  /** Backend it was placed on, once scheduled. */
  backend: BackendNameSchema.optional(),
  /** Pool inside the backend, once scheduled. */
  pool: PoolNameSchema.optional(),
  /** Availability zone. */
  availabilityZone: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an availability zone name").optional(),
  /** Volume type id. */
  volumeTypeId: RecordIdSchema.optional(),
  /** Whether it holds a bootable image. */
  bootable: z.boolean().default(false),
  /** Whether several hosts may attach it at once. */
  multiattach: z.boolean().default(false),
  /** Free-form metadata. */
  metadata: MetadataSchema.default({}),
  /** Where the backend keeps it (driver's model update). */
  providerLocation: z.string().max(4096).optional(),
  /**
   * Export auth, e.g. `"CHAP <user> <secret>"`: a secret, registered for redaction when parsed
   * (the whole value, and the secret word of a CHAP triple on its own).
   */
  providerAuth: secretString(z.string().max(1024))
    .superRefine((value) => registerSecret(/^CHAP\s+\S+\s+(\S+)/.exec(value)?.[1]))
    .optional(),
  /** Driver-private id. */
  providerId: z.string().max(255).optional(),
  /** Where its first bytes came from. */
  source: VolumeSourceSchema.optional(),
  /** Migration progress, when one runs or ran. */
  migrationStatus: MigrationStatusSchema.optional(),
  /** Why it is in an error status (the failed operation's code and message), for panels. */
  statusReason: z.string().max(2048).optional(),
  /** The operation running on it while it is in a transient status (see `OperationTaskSchema`). */
  task: OperationTaskSchema.optional(),
  ...RecordMetaFields,
});
/** A volume record (parsed). */
export type VolumeRecord = z.output<typeof VolumeRecordSchema>;
/** A volume record as a caller writes it. */
export type VolumeRecordInput = z.input<typeof VolumeRecordSchema>;

/** `backend#pool` of a placed volume (Cinder's `host` without `host@`), or undefined before placement. */
export function volumePoolRef(v: Pick<VolumeRecord, "backend" | "pool">): string | undefined {
  return v.backend === undefined ? undefined : v.pool === undefined ? v.backend : `${v.backend}#${v.pool}`;
}
