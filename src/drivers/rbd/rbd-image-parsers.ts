import type { Result } from "neverthrow";
import { z } from "zod";
import type { VolkitError } from "../../core/errors.js";
import { Boolish, Count, Ctime, parseJson } from "./rbd-json.js";

/** Parsers of what `rbd` says about images, snapshots, clones, the trash and namespaces of a pool. */

// `rbd info` ---------------------------------------------------------------------------------

/** Schema of a clone's `parent` in `rbd info` JSON. */
export const RbdParentSchema = z
  .object({
    pool: z.string(),
    pool_namespace: z.string().default(""),
    image: z.string(),
    id: z.string().optional(),
    snapshot: z.string(),
    trash: Boolish.default(false),
    overlap: Count,
  })
  .transform((p) => ({
    pool: p.pool,
    namespace: p.pool_namespace,
    image: p.image,
    ...(p.id === undefined ? {} : { id: p.id }),
    snapshot: p.snapshot,
    inTrash: p.trash,
    overlapBytes: p.overlap,
  }));

/** The parent of a clone, as `rbd info` reports it. */
export type RbdParent = z.output<typeof RbdParentSchema>;

/** Schema of `rbd info --format json`. */
export const RbdInfoSchema = z
  .object({
    name: z.string(),
    id: z.string().default(""),
    size: Count,
    objects: Count,
    order: Count,
    object_size: Count,
    snapshot_count: Count.optional(),
    block_name_prefix: z.string(),
    format: z.number().int(),
    features: z.array(z.string()).default([]),
    op_features: z.array(z.string()).default([]),
    flags: z.array(z.string()).default([]),
    data_pool: z.string().optional(),
    protected: Boolish.optional(),
    create_timestamp: Ctime.optional(),
    access_timestamp: Ctime.optional(),
    modify_timestamp: Ctime.optional(),
    parent: RbdParentSchema.optional(),
  })
  .transform((i) => ({
    name: i.name,
    id: i.id,
    sizeBytes: i.size,
    objectCount: i.objects,
    order: i.order,
    objectSizeBytes: i.object_size,
    snapshotCount: i.snapshot_count ?? 0,
    blockNamePrefix: i.block_name_prefix,
    format: i.format,
    features: i.features,
    opFeatures: i.op_features,
    flags: i.flags,
    ...(i.data_pool === undefined ? {} : { dataPool: i.data_pool }),
    ...(i.protected === undefined ? {} : { protected: i.protected }),
    ...(i.create_timestamp === undefined ? {} : { createdAt: i.create_timestamp }),
    ...(i.modify_timestamp === undefined ? {} : { modifiedAt: i.modify_timestamp }),
    ...(i.parent === undefined ? {} : { parent: i.parent }),
  }));

/** An image (or, with `protected` set, a snapshot) as `rbd info` reports it. */
export type RbdImageInfo = z.output<typeof RbdInfoSchema>;

/**
 * Parses `rbd info <pool>/<image>[@snap] --format json`.
 *
 * @example
 * ```ts
 * const info = parseRbdInfo(out.stdout)._unsafeUnwrap();
 * info.parent?.snapshot; // "s1" for a clone of volumes/base@s1
 * ```
 */
export function parseRbdInfo(stdout: string): Result<RbdImageInfo, VolkitError> {
  return parseJson(RbdInfoSchema, stdout, "rbd info");
}

// `rbd ls` / `rbd ls -l` ---------------------------------------------------------------------

/** Parses `rbd ls <pool> --format json` (image names). */
export function parseRbdNames(stdout: string): Result<string[], VolkitError> {
  return parseJson(z.array(z.string()), stdout, "rbd ls");
}

/** Schema of one row of `rbd ls -l --format json`. */
export const RbdListEntrySchema = z
  .object({
    image: z.string(),
    id: z.string().optional(),
    size: Count,
    format: z.number().int(),
    snapshot: z.string().optional(),
    snapshot_id: Count.optional(),
    protected: Boolish.optional(),
    lock_type: z.string().optional(),
    parent: z.object({ pool: z.string(), pool_namespace: z.string().default(""), image: z.string(), snapshot: z.string() }).optional(),
  })
  .transform((e) => ({
    image: e.image,
    ...(e.id === undefined ? {} : { id: e.id }),
    sizeBytes: e.size,
    format: e.format,
    ...(e.snapshot === undefined ? {} : { snapshot: e.snapshot }),
    ...(e.snapshot_id === undefined ? {} : { snapshotId: e.snapshot_id }),
    ...(e.protected === undefined ? {} : { protected: e.protected }),
    ...(e.lock_type === undefined ? {} : { lockType: e.lock_type }),
    ...(e.parent === undefined ? {} : { parent: { pool: e.parent.pool, namespace: e.parent.pool_namespace, image: e.parent.image, snapshot: e.parent.snapshot } }),
  }));

/** One row of `rbd ls -l`: an image, or one of its snapshots (`snapshot` set). */
export type RbdListEntry = z.output<typeof RbdListEntrySchema>;

/** Parses `rbd ls -l <pool> --format json`: images and snapshots, clones with their parent. */
export function parseRbdLongList(stdout: string): Result<RbdListEntry[], VolkitError> {
  return parseJson(z.array(RbdListEntrySchema), stdout, "rbd ls -l");
}

// `rbd snap ls` ------------------------------------------------------------------------------

/** Schema of one row of `rbd snap ls --format json`. */
export const RbdSnapshotSchema = z
  .object({ id: Count, name: z.string(), size: Count, protected: Boolish.default(false), timestamp: Ctime.optional() })
  .transform((s) => ({ id: s.id, name: s.name, sizeBytes: s.size, protected: s.protected, ...(s.timestamp === undefined ? {} : { createdAt: s.timestamp }) }));

/** A snapshot as `rbd snap ls` reports it. */
export type RbdSnapshot = z.output<typeof RbdSnapshotSchema>;

/** Parses `rbd snap ls <pool>/<image> --format json`. */
export function parseRbdSnapshots(stdout: string): Result<RbdSnapshot[], VolkitError> {
  return parseJson(z.array(RbdSnapshotSchema), stdout, "rbd snap ls");
}

// `rbd children` -----------------------------------------------------------------------------

/** Schema of one row of `rbd children --format json`. */
export const RbdChildSchema = z
  .object({ pool: z.string(), pool_namespace: z.string().default(""), image: z.string(), id: z.string().optional(), trash: Boolish.default(false) })
  .transform((c) => ({ pool: c.pool, namespace: c.pool_namespace, image: c.image, ...(c.id === undefined ? {} : { id: c.id }), inTrash: c.trash }));

/** A clone of a snapshot, as `rbd children` reports it. */
export type RbdChild = z.output<typeof RbdChildSchema>;

/** Parses `rbd children [--all] <pool>/<image>@<snap> --format json`. */
export function parseRbdChildren(stdout: string): Result<RbdChild[], VolkitError> {
  return parseJson(z.array(RbdChildSchema), stdout, "rbd children");
}

// `rbd trash ls` -----------------------------------------------------------------------------

/** Schema of one row of `rbd trash ls -l --format json`. */
export const RbdTrashEntrySchema = z
  .object({ id: z.string(), name: z.string(), source: z.string().optional(), deleted_at: Ctime.optional(), status: z.string().optional() })
  .transform((t) => ({
    id: t.id,
    name: t.name,
    ...(t.source === undefined ? {} : { source: t.source }),
    ...(t.deleted_at === undefined ? {} : { deletedAt: t.deleted_at }),
    ...(t.status === undefined ? {} : { status: t.status }),
  }));

/** An image in the trash (`source`, `deletedAt`, `status` with `-l`). */
export type RbdTrashEntry = z.output<typeof RbdTrashEntrySchema>;

/** Parses `rbd trash ls [-l] <pool> --format json`. */
export function parseRbdTrash(stdout: string): Result<RbdTrashEntry[], VolkitError> {
  return parseJson(z.array(RbdTrashEntrySchema), stdout, "rbd trash ls");
}

// `rbd namespace ls` -------------------------------------------------------------------------

/** Parses `rbd namespace ls <pool> --format json` (namespace names). */
export function parseRbdNamespaces(stdout: string): Result<string[], VolkitError> {
  return parseJson(z.array(z.object({ name: z.string() })).transform((l) => l.map((n) => n.name)), stdout, "rbd namespace ls");
}
