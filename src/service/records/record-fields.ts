import { z } from "zod";
import { registerSecret } from "../../core/secrets.js";
import { IdSchema, SizeGiBSchema, hasControlChar } from "../../core/validation.js";

/**
 * Field schemas shared by the service records. Every record is one zod schema: `FooSchema`, its
 * parsed form `Foo` (what the store returns) and its input form `FooInput` (what a caller writes).
 */

/** A record id (volumes, snapshots, attachments, types…): the same rule as a volume id. */
export const RecordIdSchema = IdSchema;

/**
 * A display name: never reaches a command, so only control characters (C0, DEL, C1) and
 * bidirectional overrides are refused: it reaches logs and panels, where they forge or hide text.
 */
export const DisplayNameSchema = z
  .string()
  .max(255)
  .refine((s) => !hasControlChar(s), "must not contain control characters or bidirectional overrides");

/** Free-form string metadata (Cinder's `metadata`: 255-char keys, values up to 1 KiB). */
export const MetadataSchema = z.record(z.string().min(1).max(255), z.string().max(1024));

/**
 * A point in time. Accepts a `Date`, an ISO-8601 string or epoch milliseconds (SQLite returns
 * strings, PostgreSQL returns `Date`s) and always yields a valid `Date`.
 */
export const TimestampSchema = z
  .union([z.date(), z.iso.datetime({ offset: true }), z.number().int().nonnegative()])
  .transform((v) => (v instanceof Date ? v : new Date(v)))
  .refine((d) => !Number.isNaN(d.getTime()), "must be a valid time");

/** The row version every update increments (optimistic concurrency: `expect: { revision }`). */
export const RevisionSchema = z.number().int().min(1);

/** A size in whole GiB; 0 is allowed for records that have no size yet (a placeholder backup). */
export const GiBSchema = z.number().int().min(0).max(64 * 1024 * 1024);

/** A backend name (what `volume_backend_name` matches): letters, digits, `._-`. */
export const BackendNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, "must be a backend name: letters, digits, '_.-'");

/** A pool name inside a backend (`backend#pool`). */
export const PoolNameSchema = z.string().regex(/^[A-Za-z0-9_.:+-][A-Za-z0-9_.:+@/-]{0,254}$/, "must be a pool name");

/** A JSON value that survived a `JSON.stringify` round trip. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

const JsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number().finite(), z.boolean(), z.null(), z.array(JsonValueSchema), z.record(z.string(), JsonValueSchema)]),
);

/** A JSON object column (host properties, device, stats…). */
export const JsonObjectSchema = z.record(z.string(), JsonValueSchema);
/** A JSON object. */
export type JsonObject = z.output<typeof JsonObjectSchema>;

/** Property names whose values are credentials (CHAP passwords, Ceph keys, tokens). */
const SECRET_PROPERTY = /pass(word)?|secret|token|private.?key|^key$/i;

/** Registers every credential-looking string value in `value` (deeply) for redaction. */
function registerSecretsIn(value: JsonValue, key = ""): void {
  if (typeof value === "string") {
    if (SECRET_PROPERTY.test(key)) registerSecret(value);
  } else if (Array.isArray(value)) {
    for (const v of value) registerSecretsIn(v, key);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) registerSecretsIn(v, k);
  }
}

/**
 * A JSON object that may hold credentials (connection info with `authPassword`,
 * `discoveryAuthPassword`, an RBD `key`): every credential-looking value is registered for
 * redaction the moment it is parsed, so no later error or log line can show it.
 */
export const SecretJsonObjectSchema = JsonObjectSchema.superRefine((value) => registerSecretsIn(value));

/**
 * The operation running on a record while it is in a transient status (`creating`, `attaching`,
 * `deleting`…): what it is, which service instance runs it, since when, and what `reconcile()`
 * needs to complete or roll it back after a crash (the new size of an extend, the attachment of an
 * attach, the temporary volume of a migration…). Set in the same statement as the transient
 * status, cleared when the operation finishes.
 */
export const OperationTaskSchema = z.object({
  /** The operation (`create`, `attach`, `extend`, `migrate`…). */
  op: z.string().regex(/^[A-Za-z][A-Za-z_-]{0,63}$/, "must be an operation name"),
  /** The service instance running it: `<host>:<pid>:<instance>`. */
  owner: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}:\d{1,10}:[A-Za-z0-9]{1,64}$/, "must be <host>:<pid>:<instance>"),
  /** When it started. */
  startedAt: TimestampSchema,
  /** Extend: the size being reached. */
  newSizeGiB: SizeGiBSchema.optional(),
  /** Attach, detach: the attachment concerned. */
  attachmentId: IdSchema.optional(),
  /** Revert: the snapshot. */
  snapshotId: IdSchema.optional(),
  /** Migrate: the temporary destination volume record. */
  targetVolumeId: IdSchema.optional(),
  /** Retype: the new type. */
  volumeTypeId: IdSchema.optional(),
  /** Backup, restore of a backup (on the volume's task): the backup concerned. */
  backupId: IdSchema.optional(),
  /** How far a multi-step operation got (`copied`, `swapped`…; a backup delete's `cascade`). */
  phase: z.string().regex(/^[a-z][a-z-]{0,63}$/).optional(),
});
/** An operation task (parsed). */
export type OperationTask = z.output<typeof OperationTaskSchema>;
/** An operation task as written. */
export type OperationTaskInput = z.input<typeof OperationTaskSchema>;

/**
 * Fields every record carries. A caller may leave them out: inserts default them to now and 1
 * (a caller importing records from elsewhere may keep its own times).
 */
export const RecordMetaFields = {
  /** When the record was created. */
  createdAt: TimestampSchema.default(() => new Date()),
  /** When the record last changed. */
  updatedAt: TimestampSchema.default(() => new Date()),
  /** Row version: 1 on insert, incremented by every update (optimistic concurrency). */
  revision: RevisionSchema.default(1),
};
