import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { Snapshot, Volume } from "../../core/records.js";
import type { ImageIdRef } from "./rbd-client.js";
import { deletedSnapshotName, imageSpec, isInternalSnapshot, type ImageRef, type SnapshotRef } from "./rbd-names.js";
import type { RbdParent, RbdSnapshot } from "./rbd-parsers.js";
import type { RbdPool } from "./rbd-pool.js";

/**
 * Deleting volumes and snapshots that clones may depend on. A volume with snapshots of its own is
 * `VOLUME_BUSY` (Cinder's rule); the snapshots volkit keeps for clones are handled per
 * `deleteWithClones`:
 *
 * - `trash`: a volume whose clone snapshots still have clones goes to the RBD trash (its data stays
 *   for them, invisible); a snapshot with clones is renamed `snapshot-<id>.deleted`. Whenever a
 *   clone is deleted, its parent snapshot is released: removed once it has no clone left, and a
 *   parent image in the trash with no snapshot left is removed from the trash (up the chain).
 * - `flatten`: every clone is flattened first (the parent's data copied into it), then the volume
 *   or snapshot is removed at once. Clones already in the trash cannot be flattened by name; a
 *   parent of such clones still goes to the trash.
 *
 * Everything is idempotent: what is already gone counts as deleted.
 */

type Release = "removed" | "has-clones";

/** Deletes a volume (see the module comment); missing = success. */
export function deleteVolume(pool: RbdPool, volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const ref = pool.volume(volume.id);
  const { client } = pool;
  return client.findImage(ref, ctx).andThen((info) => {
    if (info === undefined) return okAsync(undefined);
    // No snapshot: `rbd rm` itself refuses an image someone has open (EBUSY → VOLUME_BUSY).
    const removal = info.snapshotCount === 0 ? ctx.phase("remove", () => client.remove(ref, ctx)) : removeWithSnapshots(pool, volume, ref, ctx);
    return removal.andThen(() => (info.parent === undefined ? okAsync(undefined) : releaseParent(pool, info.parent, ctx)));
  });
}

/** `VOLUME_BUSY` with snapshots of its own or open; else its internal snapshots are released and it goes. */
function removeWithSnapshots(pool: RbdPool, volume: Volume, ref: ImageRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
  return pool.client.snapshots(ref, ctx).andThen((snaps) => {
    const own = snaps.filter((s) => !isInternalSnapshot(s.name));
    if (own.length > 0) {
      return errAsync(
        new VolkitError("VOLUME_BUSY", `volume ${volume.id} has ${own.length} snapshot(s); delete them first: ${own.map((s) => s.name).join(", ")}`, {
          source: "rbd",
          details: { volumeId: volume.id, snapshots: own.map((s) => s.name) },
        }),
      );
    }
    return pool.mustBeClosed(ref, "delete", ctx).andThen(() => removeImage(pool, ref, snaps, ctx));
  });
}

/** Removes an image whose snapshots are all internal, or moves it to the trash while clones need them. */
function removeImage(pool: RbdPool, ref: ImageRef, snaps: readonly RbdSnapshot[], ctx: OperationContext): ResultAsync<void, VolkitError> {
  const { client } = pool;
  /** Releases each snapshot; returns those clones still depend on. */
  const release = (list: readonly RbdSnapshot[]): ResultAsync<RbdSnapshot[], VolkitError> =>
    sequence(list.map((s) => () => releaseByName(pool, { ...ref, snapshot: s.name }, s.protected, ctx).map((r) => (r === "has-clones" ? [s] : [])))).map((l) => l.flat());
  return ctx
    .phase("release-snapshots", () => release(snaps))
    .andThen((busy) => {
      if (busy.length === 0 || pool.config.deleteWithClones === "trash") return okAsync(busy);
      return ctx.phase("flatten-clones", () => sequence(busy.map((s) => () => flattenClones(pool, { ...ref, snapshot: s.name }, ctx)))).andThen(() => release(busy));
    })
    .andThen((busy) =>
      busy.length === 0
        ? ctx.phase("remove", () => client.remove(ref, ctx))
        : ctx.phase("trash", () => client.trashMove(ref, ctx)).map((id) => ctx.logger.info({ image: imageSpec(ref), id, snapshots: busy.map((s) => s.name) }, "moved to the trash until its clones are deleted")),
    );
}

/** Unprotects and removes a snapshot unless clones depend on it. */
function releaseByName(pool: RbdPool, snap: SnapshotRef, isProtected: boolean, ctx: OperationContext): ResultAsync<Release, VolkitError> {
  const unprotect = isProtected ? pool.client.snapUnprotect(snap, ctx) : okAsync(undefined);
  return unprotect
    .andThen(() => pool.client.snapRemove(snap, ctx))
    .map((): Release => "removed")
    .orElse((e) => (e.code === "VOLUME_BUSY" ? okAsync<Release, VolkitError>("has-clones") : errAsync(e)));
}

/** Flattens every clone of a snapshot that can be opened by name (clones in the trash cannot). */
function flattenClones(pool: RbdPool, snap: SnapshotRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
  return pool.client.children(snap, ctx, { all: true }).andThen((children) =>
    sequence(
      children
        .filter((c) => !c.inTrash)
        .map((c) => () => pool.client.flatten({ pool: c.pool, ...(c.namespace ? { namespace: c.namespace } : {}), image: c.image }, ctx).orElse((e) => (e.code === "INVALID_ARGUMENT" ? okAsync(undefined) : errAsync(e)))),
    ).map(() => undefined),
  );
}

/**
 * Deletes a snapshot; missing (or its volume missing) = success. A snapshot clones depend on is
 * renamed `snapshot-<id>.deleted` (`trash`) or its clones flattened first (`flatten`).
 */
export function deleteSnapshot(pool: RbdPool, snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const volume = pool.volume(snapshot.volumeId);
  const snap = pool.snapshot(snapshot.volumeId, snapshot.id);
  const { client } = pool;
  return client
    .snapshots(volume, ctx)
    .map((snaps): RbdSnapshot[] | undefined => snaps)
    .orElse((e) => (e.code === "VOLUME_NOT_FOUND" ? okAsync<RbdSnapshot[] | undefined, VolkitError>(undefined) : errAsync(e)))
    .andThen((snaps) => {
      const found = snaps?.find((s) => s.name === snap.snapshot);
      if (found === undefined) return okAsync(undefined);
      return releaseByName(pool, snap, found.protected, ctx).andThen((r) => {
        if (r === "removed") return okAsync(undefined);
        if (pool.config.deleteWithClones === "flatten") {
          return ctx
            .phase("flatten-clones", () => flattenClones(pool, snap, ctx))
            .andThen(() => releaseByName(pool, snap, true, ctx))
            .andThen((again) => (again === "removed" ? okAsync(undefined) : hide(pool, snap, snapshot.id, ctx)));
        }
        return hide(pool, snap, snapshot.id, ctx);
      });
    });
}

/** Renames a snapshot clones still depend on: it disappears for volkit and goes with its last clone. */
function hide(pool: RbdPool, snap: SnapshotRef, snapshotId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const hidden = deletedSnapshotName(snapshotId);
  return ctx
    .phase("hide", () => pool.client.snapRename(snap, hidden, ctx))
    .map(() => ctx.logger.info({ snapshot: imageSpec(snap), renamed: hidden }, "snapshot has clones: hidden until the last one is deleted"));
}

/**
 * After a clone is gone: removes its parent snapshot when it is one of volkit's internal ones and
 * no clone is left, then a parent image in the trash with no snapshot left, and so on up the
 * chain. Best effort: a failure is logged (the data stays hidden, nothing is lost) and never fails
 * the delete that already succeeded.
 */
export function releaseParent(pool: RbdPool, parent: RbdParent, ctx: OperationContext): ResultAsync<void, never> {
  if (!isInternalSnapshot(parent.snapshot) || parent.id === undefined) return okAsync(undefined);
  const ref: ImageIdRef = { pool: parent.pool, namespace: parent.namespace || undefined, imageId: parent.id };
  const { client } = pool;
  return client
    .snapUnprotectById(ref, parent.snapshot, ctx)
    .andThen(() => client.snapRemoveById(ref, parent.snapshot, ctx))
    .andThen((): ResultAsync<void, VolkitError> => {
      if (!parent.inTrash) return okAsync(undefined);
      return client.snapshotsById(ref, ctx).andThen((left) =>
        left.length > 0
          ? okAsync(undefined)
          : client.infoById(ref, ctx).andThen((info) =>
              ctx
                .phase("trash-remove", () => client.trashRemove(ref.pool, ref.imageId, ctx, ref.namespace === undefined ? {} : { namespace: ref.namespace }))
                .andThen(() => (info.parent === undefined ? okAsync(undefined) : releaseParent(pool, info.parent, ctx))),
            ),
      );
    })
    .orElse((e) => {
      // VOLUME_BUSY: other clones still use the snapshot; it stays.
      if (e.code !== "VOLUME_BUSY") ctx.logger.warn({ parent: `${parent.pool}/${parent.image}@${parent.snapshot}`, err: e.toJSON() }, "could not release the parent of a deleted clone");
      return okAsync(undefined);
    });
}

/** Runs steps one after the other, collecting their values; stops at the first failure. */
function sequence<T>(steps: readonly (() => ResultAsync<T, VolkitError>)[]): ResultAsync<T[], VolkitError> {
  return steps.reduce<ResultAsync<T[], VolkitError>>((chain, step) => chain.andThen((done) => step().map((v) => [...done, v])), okAsync([]));
}
