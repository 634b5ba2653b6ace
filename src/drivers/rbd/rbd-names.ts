import { z } from "zod";

/**
 * Names that reach the `rbd` and `ceph` command lines. The CLIs split image specs on `/` and `@`
 * and read a leading `-` as an option, so names are letters, digits, `_`, `.` and `-`, never
 * starting with `-` or `.`.
 */

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const NAME_MESSAGE = "must be letters, digits, '_', '.' or '-', starting with a letter, digit or '_'";

/** A Ceph pool name. */
export const PoolNameSchema = z.string().min(1).max(128).regex(NAME, NAME_MESSAGE);

/** An RBD namespace inside a pool. */
export const NamespaceNameSchema = z.string().min(1).max(128).regex(NAME, NAME_MESSAGE);

/** An RBD image name (Cinder uses `volume-<uuid>`). */
export const ImageNameSchema = z.string().min(1).max(128).regex(NAME, NAME_MESSAGE);

/** An RBD snapshot name (Cinder uses `snapshot-<uuid>`). */
export const SnapshotNameSchema = z.string().min(1).max(128).regex(NAME, NAME_MESSAGE);

/** An image's id as the CLI prints it (hex); names trash entries (`rbd trash rm <pool>/<id>`). */
export const ImageIdSchema = z.string().regex(/^[0-9a-f]{1,64}$/, "must be an RBD image id (hex)");

/** Where an image lives: pool, optional namespace, name. */
export const ImageRefSchema = z.object({
  /** Pool holding the image. */
  pool: PoolNameSchema,
  /** Namespace inside the pool (none by default). */
  namespace: NamespaceNameSchema.optional(),
  /** Image name. */
  image: ImageNameSchema,
});

/** Where an image lives: pool, optional namespace, name. */
export type ImageRef = z.output<typeof ImageRefSchema>;

/** A snapshot of an image. */
export const SnapshotRefSchema = ImageRefSchema.extend({
  /** Snapshot name. */
  snapshot: SnapshotNameSchema,
});

/** A snapshot of an image. */
export type SnapshotRef = z.output<typeof SnapshotRefSchema>;

/** `pool[/namespace]` as the CLI's pool specs read it. */
export function poolSpec(pool: string, namespace?: string): string {
  return namespace === undefined ? pool : `${pool}/${namespace}`;
}

/**
 * `pool[/namespace]/image[@snapshot]`, the CLI's image spec.
 *
 * @example
 * ```ts
 * imageSpec({ pool: "volumes", image: "volume-1" });                 // "volumes/volume-1"
 * imageSpec({ pool: "volumes", image: "volume-1", snapshot: "s1" }); // "volumes/volume-1@s1"
 * ```
 */
export function imageSpec(ref: ImageRef & { readonly snapshot?: string | undefined }): string {
  const base = `${poolSpec(ref.pool, ref.namespace)}/${ref.image}`;
  return ref.snapshot === undefined ? base : `${base}@${ref.snapshot}`;
}

/**
 * The image features librbd knows (`rbd create --image-feature`). `layering` is needed for clones;
 * the kernel client (krbd) of Linux 5.x/6.x supports layering, exclusive-lock, object-map,
 * fast-diff and deep-flatten.
 */
export const RBD_IMAGE_FEATURES = [
  "layering",
  "striping",
  "exclusive-lock",
  "object-map",
  "fast-diff",
  "deep-flatten",
  "journaling",
  "data-pool",
] as const;

/** One image feature. */
export const ImageFeatureSchema = z.enum(RBD_IMAGE_FEATURES);

/** One image feature. */
export type ImageFeature = z.output<typeof ImageFeatureSchema>;

/**
 * The image-level QoS settings librbd enforces (`rbd config image set <image> <key> <value>`),
 * by volkit's name. 0 means unlimited. Burst settings need their limit set too.
 */
export const RBD_QOS_KEYS = {
  iopsLimit: "rbd_qos_iops_limit",
  readIopsLimit: "rbd_qos_read_iops_limit",
  writeIopsLimit: "rbd_qos_write_iops_limit",
  bpsLimit: "rbd_qos_bps_limit",
  readBpsLimit: "rbd_qos_read_bps_limit",
  writeBpsLimit: "rbd_qos_write_bps_limit",
  iopsBurst: "rbd_qos_iops_burst",
  readIopsBurst: "rbd_qos_read_iops_burst",
  writeIopsBurst: "rbd_qos_write_iops_burst",
  bpsBurst: "rbd_qos_bps_burst",
  readBpsBurst: "rbd_qos_read_bps_burst",
  writeBpsBurst: "rbd_qos_write_bps_burst",
} as const;

const QosValue = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Image QoS limits (IOPS and bytes per second; 0 = unlimited); unset keys are left alone. */
export const RbdQosSchema = z
  .object({
    /** Total IOPS. */
    iopsLimit: QosValue.optional(),
    /** Read IOPS. */
    readIopsLimit: QosValue.optional(),
    /** Write IOPS. */
    writeIopsLimit: QosValue.optional(),
    /** Total bytes/s. */
    bpsLimit: QosValue.optional(),
    /** Read bytes/s. */
    readBpsLimit: QosValue.optional(),
    /** Write bytes/s. */
    writeBpsLimit: QosValue.optional(),
    /** Total IOPS burst. */
    iopsBurst: QosValue.optional(),
    /** Read IOPS burst. */
    readIopsBurst: QosValue.optional(),
    /** Write IOPS burst. */
    writeIopsBurst: QosValue.optional(),
    /** Total bytes/s burst. */
    bpsBurst: QosValue.optional(),
    /** Read bytes/s burst. */
    readBpsBurst: QosValue.optional(),
    /** Write bytes/s burst. */
    writeBpsBurst: QosValue.optional(),
  })
  .strict();

/** Image QoS limits (IOPS and bytes per second; 0 = unlimited). */
export type RbdQos = z.output<typeof RbdQosSchema>;

// volkit's names on the cluster --------------------------------------------------------------
//
// Cinder's: a volume is the image `volume-<id>`, a snapshot the image snapshot `snapshot-<id>`,
// and a clone of a volume hangs off a per-clone snapshot of its source, `volume-<cloneId>.clone_snap`.
// A snapshot deleted while clones still depend on it is renamed `snapshot-<id>.deleted` (ids
// never contain '.', so these never clash) and removed with its last clone.

/** Image name of a volume. */
export const volumeImageName = (volumeId: string): string => `volume-${volumeId}`;
/** Snapshot name of a volkit snapshot. */
export const snapshotName = (snapshotId: string): string => `snapshot-${snapshotId}`;
/** Snapshot of a clone's source that the clone `cloneId` hangs off (Cinder's name). */
export const cloneSnapshotName = (cloneId: string): string => `volume-${cloneId}.clone_snap`;
/** A snapshot deleted while clones depend on it (removed with its last clone). */
export const deletedSnapshotName = (snapshotId: string): string => `snapshot-${snapshotId}.deleted`;

/**
 * True for the snapshots volkit keeps for its own bookkeeping (clone sources, snapshots deleted
 * while clones remain): they are removed with their last clone, never reported as a volume's
 * snapshots.
 */
export function isInternalSnapshot(name: string): boolean {
  return /^volume-[A-Za-z0-9_-]+\.clone_snap$/.test(name) || /^snapshot-[A-Za-z0-9_-]+\.deleted$/.test(name);
}

/** The volume id of a volkit image name (`volume-<id>`), or undefined. */
export function volumeIdOf(imageName: string): string | undefined {
  const m = /^volume-([A-Za-z0-9][A-Za-z0-9_-]{0,63})$/.exec(imageName);
  return m?.[1];
}
