import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import type { Snapshot, Volume, VolumeInput, VolumeSpec } from "../../core/records.js";
import type { RbdImageInfo, RbdParent } from "./rbd-parsers.js";
import { cloneSnapshotName, imageSpec, type ImageRef, type SnapshotRef } from "./rbd-names.js";
import { GiB, snapshotNotFound, volumeNotFound, type RbdPool } from "./rbd-pool.js";
import { applyTypeQos } from "./rbd-qos.js";

/**
 * Copy-on-write clones. A volume from a snapshot is a clone of that snapshot; a clone of a volume
 * is a clone of a fresh snapshot of it (`volume-<cloneId>.clone_snap`, Cinder's name), which
 * lives as long as the clone depends on it. Snapshots are protected before cloning (format-1
 * clones need it). A clone is flattened (its parent's data copied in, the dependency cut) when its
 * chain of parents would exceed `maxCloneDepth`, or, for volumes from snapshots, when
 * `flattenVolumeFromSnapshot` is set. A failure after the clone was made removes it again.
 */

/** The volume record the driver returns for an image. */
export function volumeRecord(spec: VolumeSpec, ref: ImageRef): VolumeInput {
  return { ...spec, providerLocation: imageSpec(ref) };
}

/**
 * How many parents the image has, counted up to `limit + 1` (enough to decide a flatten). Parents
 * in the trash are read by id.
 */
export function cloneDepth(pool: RbdPool, info: RbdImageInfo, limit: number, ctx: OperationContext): ResultAsync<number, VolkitError> {
  const walk = (parent: RbdParent | undefined, depth: number): ResultAsync<number, VolkitError> => {
    if (parent === undefined || depth > limit) return okAsync(depth);
    const read =
      parent.id !== undefined
        ? pool.client.infoById({ pool: parent.pool, namespace: parent.namespace || undefined, imageId: parent.id }, ctx)
        : pool.client.info({ pool: parent.pool, ...(parent.namespace ? { namespace: parent.namespace } : {}), image: parent.image }, ctx);
    return read.andThen((up) => walk(up.parent, depth + 1));
  };
  return walk(info.parent, 0);
}

/**
 * Clones `parent` (protecting it first unless it is) into `target`, grows it to the spec's size,
 * flattens it when asked, and gives it its volume type's QoS. A clone that fails with
 * `VOLUME_EXISTS` leaves the existing image alone; a later step that fails removes the new clone.
 */
function cloneInto(pool: RbdPool, parent: SnapshotRef & { readonly bytes: number; readonly protected: boolean }, target: ImageRef, spec: VolumeSpec, flatten: boolean, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const { client } = pool;
  const wantBytes = spec.sizeGiB * GiB;
  const snap: SnapshotRef = { pool: parent.pool, ...(parent.namespace === undefined ? {} : { namespace: parent.namespace }), image: parent.image, snapshot: parent.snapshot };
  return (parent.protected ? okAsync(undefined) : ctx.phase("protect", () => client.snapProtect(snap, ctx)))
    .andThen(() => ctx.phase("clone", () => client.clone(snap, target, ctx, pool.layout())))
    .andThen(() =>
      (wantBytes > parent.bytes ? ctx.phase("resize", () => client.resize(target, wantBytes, ctx)) : okAsync(undefined))
        .andThen(() => (flatten ? ctx.phase("flatten", () => client.flatten(target, ctx)) : okAsync(undefined)))
        .andThen(() => applyTypeQos(pool, target, spec, true, ctx))
        .orElse((e) => removeAfterFailure(pool, target, e, ctx)),
    );
}

/** Removes a half-made clone, then fails with the original error (noting a failed removal). */
function removeAfterFailure(pool: RbdPool, target: ImageRef, error: VolkitError, ctx: OperationContext): ResultAsync<never, VolkitError> {
  const rc = rollbackContext(ctx);
  return pool.client
    .remove(target, rc)
    .orElse((e) => {
      ctx.logger.warn({ image: imageSpec(target), err: e.toJSON() }, "could not remove the clone of a failed operation");
      return okAsync(undefined);
    })
    .andThen(() => errAsync(error));
}

/**
 * A volume from a snapshot: a clone of it (flattened per config or clone depth). One `rbd info`
 * of the snapshot gives its size, whether it is protected, and the image's parents then.
 */
export function createVolumeFromSnapshot(pool: RbdPool, spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
  const target = pool.volume(spec.id);
  const snap = pool.snapshot(snapshot.volumeId, snapshot.id);
  const { client, config } = pool;
  return client
    .info(snap, ctx)
    .mapErr((e) => (e.code === "VOLUME_NOT_FOUND" || e.code === "SNAPSHOT_NOT_FOUND" ? snapshotNotFound(snapshot.id, snap) : e))
    .andThen((info) =>
      cloneDepth(pool, info, config.maxCloneDepth, ctx).andThen((depth) =>
        cloneInto(pool, { ...snap, bytes: info.sizeBytes, protected: info.protected ?? false }, target, spec, config.flattenVolumeFromSnapshot || depth + 1 > config.maxCloneDepth, ctx),
      ),
    )
    .map(() => volumeRecord(spec, target));
}

/**
 * A clone of a volume: a clone of a fresh snapshot of it. When the clone is flattened (clone depth)
 * that snapshot is removed again at once; otherwise it stays until the clone is deleted. A clone
 * onto an existing volume fails with `VOLUME_EXISTS` (and drops the snapshot it made).
 */
export function createClonedVolume(pool: RbdPool, spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
  const target = pool.volume(spec.id);
  const src = pool.volume(source.id);
  const snap: SnapshotRef = { ...src, snapshot: cloneSnapshotName(spec.id) };
  const { client, config } = pool;
  return client
    .info(src, ctx)
    .mapErr((e) => (e.code === "VOLUME_NOT_FOUND" ? volumeNotFound(source.id, src) : e))
    .andThen((info) =>
      cloneDepth(pool, info, config.maxCloneDepth, ctx).andThen((depth) => {
        const flatten = depth + 1 > config.maxCloneDepth;
        return ctx
          .phase("snapshot", () => client.snapCreate(snap, ctx).orElse((e) => (e.code === "SNAPSHOT_EXISTS" ? okAsync(undefined) : errAsync(e))))
          .andThen(() =>
            cloneInto(pool, { ...snap, bytes: info.sizeBytes, protected: false }, target, spec, flatten, ctx).orElse((e) => dropSnapshot(pool, snap, rollbackContext(ctx)).andThen(() => errAsync(e))),
          )
          .andThen(() => (flatten ? dropSnapshot(pool, snap, ctx) : okAsync(undefined)));
      }),
    )
    .map(() => volumeRecord(spec, target));
}

/**
 * Unprotects and removes a clone snapshot nothing depends on any more. Best effort: one left
 * behind is harmless (deleting its volume removes it) and is logged, never failing the operation.
 */
function dropSnapshot(pool: RbdPool, snap: SnapshotRef, ctx: OperationContext): ResultAsync<void, never> {
  return pool.client
    .snapUnprotect(snap, ctx)
    .andThen(() => pool.client.snapRemove(snap, ctx))
    .orElse((e) => {
      ctx.logger.warn({ snapshot: imageSpec(snap), err: e.toJSON() }, "could not remove a clone snapshot; deleting its volume removes it");
      return okAsync(undefined);
    });
}
