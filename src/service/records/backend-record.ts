import { z } from "zod";
import { BackendNameSchema, JsonObjectSchema, RecordMetaFields, TimestampSchema } from "./record-fields.js";

/**
 * A backend the service knows (Cinder's `services` row for a volume backend): which driver runs it,
 * a hash of its config (to notice a changed config on open), the last stats it reported and whether
 * it is up. Keyed by name.
 *
 * @example
 * ```ts
 * BackendRecordSchema.parse({ name: "lvm-a", driver: "lvm", configHash: "sha256:…" });
 * ```
 */
export const BackendRecordSchema = z.object({
  /** Backend name (`volume_backend_name`). */
  name: BackendNameSchema,
  /** Driver name (`lvm`, `nfs`, a registered third-party driver). */
  driver: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "must be a driver name"),
  /** Hash of the validated config (never the config itself: it may hold secrets). */
  configHash: z.string().regex(/^[A-Za-z0-9:+/=_-]{1,128}$/, "must be a hash"),
  /** Availability zone the backend serves. */
  availabilityZone: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an availability zone name").optional(),
  /** The last stats it reported (pools with capacities), as JSON. */
  lastStats: JsonObjectSchema.optional(),
  /** When those stats were taken. */
  statsUpdatedAt: TimestampSchema.optional(),
  /** Whether it answered its last check. */
  state: z.enum(["up", "down"]).default("up"),
  ...RecordMetaFields,
});
/** A backend record (parsed). */
export type BackendRecord = z.output<typeof BackendRecordSchema>;
/** A backend record as a caller writes it. */
export type BackendRecordInput = z.input<typeof BackendRecordSchema>;
