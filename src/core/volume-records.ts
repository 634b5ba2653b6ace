import { z } from "zod";
import { BackendQosSchema } from "./backend-qos.js";
import { registerSecret } from "./secrets.js";
import { CONTROL_CHARS_MESSAGE, FilePathSchema, IdSchema, SizeGiBSchema, hasControlChar, secretString } from "./validation.js";

/**
 * Volume and snapshot records (what a caller creates and stores, what a driver records on them),
 * references to existing backend objects and image locations. Re-exported by `records.ts`.
 */

const DisplayNameSchema = z.string().max(255).refine((s) => !hasControlChar(s), CONTROL_CHARS_MESSAGE);
const MetadataSchema = z.record(z.string().max(255), z.string().max(1024));

/** What a caller asks for when creating a volume. */
export const VolumeSpecSchema = z.object({
  /** Stable id (a UUID in Cinder); names on the backend are derived from it. */
  id: IdSchema,
  /** Size in GiB. */
  sizeGiB: SizeGiBSchema,
  /** Display name; never reaches a command. */
  displayName: DisplayNameSchema.optional(),
  /** Volume type name (the volume service schedules with it; drivers may read it). */
  volumeType: DisplayNameSchema.optional(),
  /** Free-form metadata stored by the caller. */
  metadata: MetadataSchema.optional(),
  /** Back-end QoS the driver applies (from the type's `back-end`/`both` QoS specs); a driver without the `qos` capability ignores it. */
  qos: BackendQosSchema.optional(),
});
/** A volume spec (parsed). */
export type VolumeSpec = z.output<typeof VolumeSpecSchema>;
/** A volume spec as a caller writes it. */
export type VolumeSpecInput = z.input<typeof VolumeSpecSchema>;

/** Driver-owned fields of a volume record (Cinder's model update). */
const ProviderFields = {
  /** Where the backend keeps the volume: an LV path, `"<ip>:<port>,<tid> <iqn> <lun>"`, a LUN id as JSON. */
  providerLocation: z.string().max(4096).optional(),
  /**
   * Auth the export uses, e.g. `"CHAP <user> <secret>"`: a secret, registered for redaction when
   * parsed (the whole value, and what follows the user on its own: a connector or a flow that
   * fails quoting the bare password must not show it).
   */
  providerAuth: secretString(z.string().max(1024))
    .superRefine((value) => registerSecret(/^\s*CHAP\s+\S+\s+(.+?)\s*$/s.exec(value)?.[1]))
    .optional(),
  /** Driver-private id (a LUN id on an array, an RBD image id). */
  providerId: z.string().max(255).optional(),
};

/** A volume record: the spec plus what its driver recorded. */
export const VolumeSchema = VolumeSpecSchema.extend(ProviderFields);
/** A volume record (parsed). */
export type Volume = z.output<typeof VolumeSchema>;
/** A volume record as a driver returns it or a caller hands it back. */
export type VolumeInput = z.input<typeof VolumeSchema>;

/**
 * Fields a driver may update on a volume after an export (Cinder's model update). The runtime
 * merges it into the volume, so callers always get a whole {@link Volume}.
 */
export const ModelUpdateSchema = z.strictObject(ProviderFields);
/** A model update (parsed). */
export type ModelUpdate = z.output<typeof ModelUpdateSchema>;
/** A model update as a driver returns it. */
export type ModelUpdateInput = z.input<typeof ModelUpdateSchema>;

/** What a caller asks for when creating a snapshot. */
export const SnapshotSpecSchema = z.object({
  /** Stable id. */
  id: IdSchema,
  /** Id of the volume it is taken from. */
  volumeId: IdSchema,
  /** Size of that volume in GiB at snapshot time. */
  volumeSizeGiB: SizeGiBSchema,
  /** Display name. */
  displayName: DisplayNameSchema.optional(),
});
/** A snapshot spec (parsed). */
export type SnapshotSpec = z.output<typeof SnapshotSpecSchema>;
/** A snapshot spec as a caller writes it. */
export type SnapshotSpecInput = z.input<typeof SnapshotSpecSchema>;

/** A snapshot record. */
export const SnapshotSchema = SnapshotSpecSchema.extend({
  /** Where the backend keeps it. */
  providerLocation: z.string().max(4096).optional(),
  /** Driver-private id. */
  providerId: z.string().max(255).optional(),
});
/** A snapshot record (parsed). */
export type Snapshot = z.output<typeof SnapshotSchema>;
/** A snapshot record as a driver returns it or a caller hands it back. */
export type SnapshotInput = z.input<typeof SnapshotSchema>;

/** A reference to an existing backend object for `manageExisting` (Cinder's `source-name`/`source-id`). */
export const ExistingRefSchema = z.union([
  z.strictObject({ sourceName: z.string().regex(/^[A-Za-z0-9_+.][A-Za-z0-9_+.-]{0,254}$/, "must be an object name: letters, digits, '_+.-', not starting with '-'") }),
  z.strictObject({ sourceId: z.string().regex(/^[A-Za-z0-9_.:-]{1,255}$/, "must be an object id: letters, digits, '_.:-'").refine((s) => !s.startsWith("-"), "must not start with '-'") }),
]);
/** A reference to an existing backend object. */
export type ExistingRef = z.output<typeof ExistingRefSchema>;

/** A backend object that could be managed (Cinder's `get_manageable_volumes`). */
export const ManageableVolumeSchema = z.object({
  /** Reference to pass to `manageExisting`. */
  reference: ExistingRefSchema,
  /** Size rounded up to GiB. */
  sizeGiB: z.number().int().nonnegative(),
  /** False when it is already managed or in use. */
  safeToManage: z.boolean(),
  /** Why it is not safe. */
  reasonNotSafe: z.string().max(1024).optional(),
  /** Id of the volkit volume it already is, if any. */
  volkitId: IdSchema.optional(),
});
/** A manageable backend object. */
export type ManageableVolume = z.output<typeof ManageableVolumeSchema>;

/** Where an image lives for `copyImageToVolume` / `copyVolumeToImage`. */
export const ImageLocationSchema = z.object({
  /** Path readable/writable by the runner (a file, device or a mounted store). */
  path: FilePathSchema,
  /** Format (`raw`, `qcow2`, `vmdk`…); probed with `qemu-img info` when absent. */
  format: z.string().regex(/^[a-z0-9]{2,16}$/, "must be a qemu-img format name").optional(),
});
/** An image location. */
export type ImageLocation = z.output<typeof ImageLocationSchema>;
