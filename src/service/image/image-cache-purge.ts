import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { z } from "zod";
import type { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import { BackendNameSchema } from "../records/record-fields.js";
import type { ImageCacheEntry } from "../records/image-cache-record.js";
import type { ServiceContext } from "../service-context.js";
import { deleteVolumeOp } from "../ops/delete-volume.js";
import { linkedCacheVolumes } from "./image-cache.js";
import { ImageSourceSchema } from "./image-source.js";

/** Which image-cache entries to remove: every entry, or those of one image and/or one backend. */
export const PurgeImageCacheRequestSchema = z
  .object({
    /** Every entry. */
    all: z.boolean().optional(),
    /** Entries of this image. */
    imageId: ImageSourceSchema.shape.imageId.optional(),
    /** Entries on this backend. */
    backend: BackendNameSchema.optional(),
  })
  .strict()
  .refine((r) => r.all === true || r.imageId !== undefined || r.backend !== undefined, { message: "give all, imageId or backend" });
/** A purge request as a caller writes it. */
export type PurgeImageCacheRequest = z.input<typeof PurgeImageCacheRequestSchema>;

/** What a purge removed and what it could not (an entry still being filled, a failed backend delete). */
export interface ImageCachePurge {
  /** Entries removed, with their cache volumes. */
  readonly removed: readonly ImageCacheEntry[];
  /** Entries kept, with why. */
  readonly failed: readonly { readonly entry: ImageCacheEntry; readonly error: { readonly code: string; readonly message: string } }[];
}

/**
 * Removes the matching image-cache entries, least recently used first, by deleting each cache
 * volume through the ordinary delete (its entry goes with it). Volumes cloned from an entry keep
 * their data: on most backends clones are independent of their cache volume; an entry whose cache
 * volume linked clones still read (NFS overlays) is kept and reported in `failed` as `VOLUME_BUSY`,
 * nothing touched. An entry whose delete fails is reported in `failed` and the purge goes on; the
 * request is validated before anything is deleted.
 */
export function purgeImageCacheOp(sc: ServiceContext, input: PurgeImageCacheRequest): ResultAsync<ImageCachePurge, VolkitError> {
  const parsed = validate(PurgeImageCacheRequestSchema, input, "image cache purge request");
  if (parsed.isErr()) return errAsync(parsed.error);
  const { all, imageId, backend } = parsed.value;
  const where = all === true ? {} : { ...(imageId === undefined ? {} : { imageId }), ...(backend === undefined ? {} : { backend }) };
  return sc.store.imageCache.list(where, { orderBy: "lastUsedAt" }).andThen((entries) =>
    entries.reduce<ResultAsync<ImageCachePurge, VolkitError>>(
      (chain, entry) =>
        chain.andThen((report) =>
          linkedCacheVolumes(sc, entry.backend).andThen((linked) => {
            const clones = linked.get(entry.volumeId) ?? 0;
            if (clones > 0) {
              const error = { code: "VOLUME_BUSY", message: `cache volume ${entry.volumeId} is the base of ${clones} linked clone(s); it is removed after the last one is deleted` };
              return okAsync<ImageCachePurge, VolkitError>({ ...report, failed: [...report.failed, { entry, error }] });
            }
            return deleteVolumeOp(sc, entry.volumeId)
            .map((): ImageCachePurge => ({ ...report, removed: [...report.removed, entry] }))
            .orElse((e) => okAsync<ImageCachePurge, VolkitError>({ ...report, failed: [...report.failed, { entry, error: { code: e.code, message: e.message } }] }));
          }),
        ),
      okAsync({ removed: [], failed: [] }),
    ),
  );
}
