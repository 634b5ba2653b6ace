import { z } from "zod";
import { BackendNameSchema, GiBSchema, PoolNameSchema, RecordIdSchema, RecordMetaFields, TimestampSchema } from "./record-fields.js";

/**
 * One image-cache entry (Cinder's `image_volume_cache_entries`): a volume holding a converted image
 * on one `backend#pool`, cloned for every later volume from that image. Unique per image checksum
 * and pool; evicted least-recently-used first.
 *
 * @example
 * ```ts
 * ImageCacheEntrySchema.parse({ id: "c-1", imageId: "debian-12", imageChecksum: "sha256:ab…", backend: "lvm-a", pool: "thin", volumeId: "vol-c1", sizeGiB: 2 });
 * ```
 */
export const ImageCacheEntrySchema = z.object({
  /** Stable id. */
  id: RecordIdSchema,
  /** Image id. */
  imageId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an image id"),
  /** Checksum of the image the entry was made from (`sha256:<hex>`): a changed image misses. */
  imageChecksum: z.string().regex(/^[a-z0-9]+:[A-Fa-f0-9]{16,128}$/, "must be <algorithm>:<hex>"),
  /** Backend holding the cached volume. */
  backend: BackendNameSchema,
  /** Pool holding the cached volume. */
  pool: PoolNameSchema,
  /** The cached volume. */
  volumeId: RecordIdSchema,
  /** Its size, GiB. */
  sizeGiB: GiBSchema,
  /** When a clone last used it. */
  lastUsedAt: TimestampSchema.default(() => new Date()),
  /** How many volumes were cloned from it. */
  hits: z.number().int().nonnegative().default(0),
  ...RecordMetaFields,
});
/** An image-cache entry (parsed). */
export type ImageCacheEntry = z.output<typeof ImageCacheEntrySchema>;
/** An image-cache entry as a caller writes it. */
export type ImageCacheEntryInput = z.input<typeof ImageCacheEntrySchema>;
