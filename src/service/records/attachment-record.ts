import { z } from "zod";
import { AttachedDeviceSchema, ConnectionInfoSchema, HostPropertiesSchema } from "../../core/records.js";
import { AttachStatusSchema } from "../state-machine.js";
import { BackendNameSchema, RecordIdSchema, RecordMetaFields, TimestampSchema } from "./record-fields.js";

/**
 * Why an attachment exists: an instance (VM) uses the volume, or the service itself attached it on
 * this host to copy its data (a migration). Copy attachments never make a volume `in-use`.
 */
export const AttachmentPurposeSchema = z.enum(["instance", "copy"]);
/** An attachment's purpose. */
export type AttachmentPurpose = z.output<typeof AttachmentPurposeSchema>;

/**
 * One attachment of a volume to a host (Cinder's `volume_attachment` table). Its host-side parts are
 * the core records of `attachVolume`'s `AttachmentRecordSchema` (`HostProperties`, `ConnectionInfo`,
 * `AttachedDevice`), written as each attach step completes, so a detach after a restart, or
 * `reconcile()` after a crash, can undo exactly what exists. The connection info may hold CHAP
 * secrets: they are registered for redaction when the record is parsed.
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
  host: z.string().min(1).max(255),
  /** The attaching host's properties (initiator, ip, multipath…), as handed to the driver. */
  hostProperties: HostPropertiesSchema,
  /** The backend that granted the connection. */
  backend: BackendNameSchema.optional(),
  /** Connection info from the driver's `initializeConnection` (secret fields redacted in logs). */
  connectionInfo: ConnectionInfoSchema.optional(),
  /** The device the connector attached (path, WWN, multipath map…). */
  device: AttachedDeviceSchema.optional(),
  /** The attach created the volume's export (it did not exist before): the detach removes it when unused. */
  exportCreated: z.boolean().default(false),
  /** The libvirt `<disk>` XML handed to the hypervisor. */
  xml: z.string().max(64 * 1024).optional(),
  /** Why it exists. */
  purpose: AttachmentPurposeSchema.default("instance"),
  /** The instance (VM) using it. */
  instanceId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an instance id").optional(),
  /** Where the instance sees it (`/dev/vdb`, a libvirt target dev). */
  mountpoint: z.string().max(255).optional(),
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
