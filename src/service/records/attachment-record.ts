import { z } from "zod";
import { AttachStatusSchema } from "../state-machine.js";
import { HostNameSchema } from "../../core/validation.js";
import { DisplayNameSchema, JsonObjectSchema, RecordIdSchema, RecordMetaFields, SecretJsonObjectSchema, TimestampSchema } from "./record-fields.js";

/**
 * The attaching host's properties as stored (os-brick's connector properties, `HostProperties` in
 * 0.2): `host` is required, the rest is kept as the caller gave it.
 */
export const StoredHostPropertiesSchema = JsonObjectSchema.and(z.object({ host: HostNameSchema }));

/**
 * One attachment of a volume to a host (Cinder's `volume_attachment` table). It keeps everything a
 * detach needs after a process restart: the host's properties, the connection info the driver
 * returned (it may hold CHAP secrets, registered for redaction when parsed) and the device the
 * connector attached.
 *
 * @example
 * ```ts
 * AttachmentRecordSchema.parse({ id: "att-1", volumeId: "vol-1", host: "node-1", hostProperties: { host: "node-1" } });
 * ```
 */
export const AttachmentRecordSchema = z.object({
  /** Stable id. */
  id: RecordIdSchema,
  /** The attached volume. */
  volumeId: RecordIdSchema,
  /** Host name of the attaching host. */
  host: HostNameSchema,
  /** The attaching host's properties (initiator, ip, multipath…). */
  hostProperties: StoredHostPropertiesSchema,
  /** Connection info from the driver's `initializeConnection` (secret fields redacted in logs). */
  connectionInfo: SecretJsonObjectSchema.optional(),
  /** The device the connector attached (path, WWN, multipath map…). */
  device: JsonObjectSchema.optional(),
  /** The instance (VM) using it. */
  instanceId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an instance id").optional(),
  /** Where the instance sees it (`/dev/vdb`, a libvirt target dev). */
  mountpoint: DisplayNameSchema.optional(),
  /** Read-write or read-only. */
  attachMode: z.enum(["rw", "ro"]).default("rw"),
  /** Status (see `ATTACHMENT_RULES`). */
  attachStatus: AttachStatusSchema.default("reserved"),
  /** When the attach completed. */
  attachedAt: TimestampSchema.optional(),
  /** When the detach completed. */
  detachedAt: TimestampSchema.optional(),
  ...RecordMetaFields,
});
/** An attachment record (parsed). */
export type AttachmentRecord = z.output<typeof AttachmentRecordSchema>;
/** An attachment record as a caller writes it. */
export type AttachmentRecordInput = z.input<typeof AttachmentRecordSchema>;
