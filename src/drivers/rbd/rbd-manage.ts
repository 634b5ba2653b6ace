import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { ExistingRef, ManageableVolume, VolumeInput, VolumeSpec } from "../../core/records.js";
import { validate } from "../../core/validation.js";
import { volumeRecord } from "./rbd-clone.js";
import { ImageNameSchema, imageSpec, volumeIdOf, type ImageRef } from "./rbd-names.js";
import type { RbdImageInfo } from "./rbd-parsers.js";
import { GiB, gibCeil, type RbdPool } from "./rbd-pool.js";
import { applyTypeQos } from "./rbd-qos.js";

/**
 * Taking over images made outside volkit (Cinder's manage/unmanage): an image of the pool, named
 * by `sourceName`, is grown to whole GiB and renamed `volume-<id>`; unmanaging leaves it as it is.
 */

/** The image `ref` names, after checking it can be managed: it exists and nobody has it open. */
function manageable(pool: RbdPool, ref: ExistingRef, ctx: OperationContext): ResultAsync<{ source: ImageRef; info: RbdImageInfo }, VolkitError> {
  if (!("sourceName" in ref)) return errAsync(new VolkitError("INVALID_ARGUMENT", "the RBD driver manages images by sourceName (the image name in the pool)", { source: "rbd" }));
  return validate(ImageNameSchema, ref.sourceName, "sourceName")
    .asyncAndThen((name) => {
      const source = pool.image(name);
      return pool.client.findImage(source, ctx).andThen((info) =>
        info === undefined
          ? errAsync(new VolkitError("VOLUME_NOT_FOUND", `image ${imageSpec(source)} not found`, { source: "rbd", details: { image: imageSpec(source) } }))
          : okAsync({ source, info }),
      );
    });
}

/** Renames an existing image to `volume-<id>` (grown to whole GiB first) and gives it its type's QoS. */
export function manageExisting(pool: RbdPool, spec: VolumeSpec, ref: ExistingRef, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
  const target = pool.volume(spec.id);
  return manageable(pool, ref, ctx).andThen(({ source, info }) => {
    const sizeGiB = gibCeil(info.sizeBytes);
    const record = volumeRecord({ ...spec, sizeGiB }, target);
    if (source.image === target.image) return okAsync(record);
    const grow = (): ResultAsync<void, VolkitError> => (info.sizeBytes % GiB === 0 ? okAsync(undefined) : pool.client.resize(source, sizeGiB * GiB, ctx));
    return pool
      .mustBeClosed(source, "manage", ctx)
      .andThen(() => pool.mustNotExist(target, ctx))
      .andThen(grow)
      .andThen(() => ctx.phase("rename", () => pool.client.rename(source, target.image, ctx)))
      .andThen(() => applyTypeQos(pool, target, spec, true, ctx))
      .map(() => record);
  });
}

/** Size in whole GiB (rounded up) of an image that could be managed. */
export function manageExistingGetSize(pool: RbdPool, ref: ExistingRef, ctx: OperationContext): ResultAsync<number, VolkitError> {
  return manageable(pool, ref, ctx).map(({ info }) => gibCeil(info.sizeBytes));
}

/**
 * The pool's images with whether they can be managed: `volume-<id>` images are volkit's already;
 * images someone has open (watchers) are in use.
 */
export function listManageable(pool: RbdPool, ctx: OperationContext): ResultAsync<readonly ManageableVolume[], VolkitError> {
  const { client, config } = pool;
  return client.listImagesLong(config.pool, ctx, config.namespace).andThen((rows) => {
    const heads = rows.filter((r) => r.snapshot === undefined);
    return heads.reduce<ResultAsync<ManageableVolume[], VolkitError>>(
      (chain, row) =>
        chain.andThen((done) => {
          const base = { reference: { sourceName: row.image }, sizeGiB: gibCeil(row.sizeBytes) };
          const volkitId = volumeIdOf(row.image);
          if (volkitId !== undefined) return okAsync([...done, { ...base, safeToManage: false, reasonNotSafe: "already managed by volkit", volkitId }]);
          return client.status(pool.image(row.image), ctx).map((s) => [
            ...done,
            s.watchers.length > 0 ? { ...base, safeToManage: false, reasonNotSafe: `in use (${s.watchers.length} client(s) have it open)` } : { ...base, safeToManage: true },
          ]);
        }),
      okAsync([]),
    );
  });
}
