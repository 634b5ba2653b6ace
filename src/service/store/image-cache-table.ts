import { okAsync, type ResultAsync } from "neverthrow";
import { sql } from "kysely";
import type { VolkitError } from "../../core/errors.js";
import type { ImageCacheEntry, ImageCacheEntryInput } from "../records/image-cache-record.js";
import { run } from "./db-errors.js";
import { KyselyTable, nowValue, type TableContext } from "./kysely-table.js";
import type { ImageCacheEntryPatch, ImageCacheTable } from "./store.js";
import { IMAGE_CACHE } from "./table-specs.js";

/** Image-cache entries over Kysely, with the lookup by image and pool and the LRU hit counter. */
export class KyselyImageCacheTable extends KyselyTable<ImageCacheEntry, ImageCacheEntryInput, ImageCacheEntryPatch> implements ImageCacheTable {
  constructor(ctx: TableContext) {
    super(ctx, IMAGE_CACHE, ["hits", "lastUsedAt"]);
  }

  /** {@inheritDoc ImageCacheTable.lookup} */
  lookup(imageId: string, imageChecksum: string, backend: string, pool: string): ResultAsync<ImageCacheEntry | undefined, VolkitError> {
    return run({ spec: IMAGE_CACHE, key: imageId, action: "look up" }, () =>
      this.ctx.db
        .selectFrom("image_cache")
        .selectAll()
        .where("image_id", "=", imageId)
        .where("image_checksum", "=", imageChecksum)
        .where("backend", "=", backend)
        .where("pool", "=", pool)
        .executeTakeFirst(),
    ).andThen((row) => (row === undefined ? okAsync(undefined) : okAsync(row).andThen((r) => this.decode(r))));
  }

  /** {@inheritDoc ImageCacheTable.touch} */
  touch(id: string): ResultAsync<ImageCacheEntry, VolkitError> {
    const now = nowValue(this.ctx.dialect);
    return run({ spec: IMAGE_CACHE, key: id, action: "touch" }, () =>
      this.ctx.db
        .updateTable("image_cache")
        .set({ hits: sql<number>`hits + 1`, last_used_at: now, updated_at: now })
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst(),
    ).andThen((row) => (row === undefined ? okAsync(undefined).andThen(() => this.get(id)) : okAsync(row).andThen((r) => this.decode(r))));
  }
}
