import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { withLock } from "../../core/locks.js";
import type { Volume, VolumeSpecInput } from "../../core/records.js";
import type { VolumeBackend } from "../../drivers/backend.js";
import type { ImageCacheEntry } from "../records/image-cache-record.js";
import type { VolumeRecord } from "../records/volume-record.js";
import type { OperationTrace } from "../service-events.js";
import { coreVolume, holding, mustWin, newTask, type ServiceContext } from "../service-context.js";
import { deleteVolumeOp } from "../ops/delete-volume.js";
import { providerPatch } from "../ops/host-attach.js";
import { checkImage, imageChecksum, type CheckedImage, type ImageSource } from "./image-source.js";

/**
 * The image-volume cache (Cinder's `image_volume_cache_*`, per backend pool). The first volume
 * from an image converts it once into a cache volume (an internal volume record, `bootable`, marked
 * with `volkit:purpose = image-cache`); every volume from that image is then the backend's native
 * clone of it (an LVM thin snapshot, an array LUN copy, an RBD clone…), or its linked clone where
 * the backend makes them (an NFS qcow2 overlay backed by the cache volume's file, which is never
 * written again). Entries are keyed by image id, sha256 and `backend#pool`; the least recently used
 * go first when a backend's entries exceed `maxCount` or `maxSizeGiB`, except an entry whose cache
 * volume linked clones still read: it stays until the last of them is deleted (eviction never
 * breaks a volume; the NFS driver refuses the delete too). A cache hit never reads the image file:
 * the entry was made from a file with that checksum.
 */

/** Metadata key marking the service's internal volumes (image cache, migration targets). */
export const PURPOSE_KEY = "volkit:purpose";

/** What building a volume from an image needs. */
export interface FromImage {
  /** The new volume's record (`creating`, placed). */
  readonly record: VolumeRecord;
  /** Its backend. */
  readonly backend: VolumeBackend;
  /** What the driver is asked to create. */
  readonly spec: VolumeSpecInput;
  /** The image. */
  readonly image: ImageSource;
  /** Emits progress steps. */
  readonly trace: OperationTrace;
  /** The operation's context. */
  readonly ctx: OperationContext;
}

function opts(ctx: OperationContext): { signal: AbortSignal; deadline?: number } {
  return { signal: ctx.signal, ...(ctx.deadline === undefined ? {} : { deadline: ctx.deadline }) };
}

function tooSmall(image: ImageSource, checked: CheckedImage, sizeGiB: number): VolkitError {
  return new VolkitError("INVALID_ARGUMENT", `image ${image.imageId} needs ${checked.minSizeGiB} GiB (virtual size ${checked.virtualSize} bytes), the volume has ${sizeGiB}`, {
    source: "service",
    details: { imageId: image.imageId, virtualSize: checked.virtualSize, sizeGiB },
  });
}

/** Creates the volume and converts the image into it (no cache); a failed copy deletes the volume. */
export function convertInto(sc: ServiceContext, backend: VolumeBackend, spec: VolumeSpecInput, image: ImageSource, trace: OperationTrace, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
  return checkImage(sc.runner, image, ctx).andThen((checked) => {
    if (checked.minSizeGiB > spec.sizeGiB) return errAsync(tooSmall(image, checked, spec.sizeGiB));
    trace.step("image-verified");
    return backend.createVolume(spec, opts(ctx)).andThen((volume) =>
      ctx
        .phase("copy-image", () => backend.copyImageToVolume({ path: checked.path, format: checked.format }, volume, opts(ctx)))
        .map(() => volume)
        .orElse((e) =>
          backend
            .deleteVolume(volume)
            .orElse(() => okAsync(undefined))
            .andThen(() => errAsync(e)),
        ),
    );
  });
}

/** The usable entry for this image on the record's pool: one whose cache volume is `available`. */
function usableEntry(sc: ServiceContext, image: ImageSource, record: VolumeRecord): ResultAsync<{ entry: ImageCacheEntry; cache: VolumeRecord } | undefined, VolkitError> {
  return sc.store.imageCache.lookup(image.imageId, imageChecksum(image), record.backend ?? "", record.pool ?? "").andThen((entry) => {
    if (entry === undefined) return okAsync(undefined);
    return sc.store.volumes.find(entry.volumeId).map((cache) => (cache?.status === "available" ? { entry, cache } : undefined));
  });
}

/**
 * A native clone of the cache volume, grown to the new volume's size: a linked clone where the
 * backend makes them (an NFS qcow2 overlay on the cache volume's file). The link is recorded on the
 * new volume's record before the clone is made, so a crash in between can only keep an entry too
 * long, never evict one a volume reads.
 */
function cloneFrom(sc: ServiceContext, args: FromImage, hit: { entry: ImageCacheEntry; cache: VolumeRecord }, step: string): ResultAsync<Volume, VolkitError> {
  if (hit.cache.sizeGiB > args.spec.sizeGiB) {
    return errAsync(new VolkitError("INVALID_ARGUMENT", `image ${args.image.imageId} needs ${hit.cache.sizeGiB} GiB, the volume has ${args.spec.sizeGiB}`, { source: "service", details: { imageId: args.image.imageId } }));
  }
  const link = args.backend.linkedClones
    ? sc.store.volumes
        .update(args.record.id, { source: { kind: "image", imageId: args.image.imageId, cacheVolumeId: hit.cache.id } }, { status: ["creating"] })
        .andThen((t) => mustWin(t, `record the cache volume of ${args.record.id}`))
        .map(() => undefined)
    : okAsync(undefined);
  return link
    .andThen(() => args.ctx.phase("clone-cached-image", () => args.backend.createLinkedClone(args.spec, coreVolume(hit.cache), opts(args.ctx))))
    .andThen((volume) =>
      sc.store.imageCache
        .touch(hit.entry.id)
        .map(() => {
          args.trace.step(step);
          return volume;
        })
        .orElse(() => okAsync(volume)),
    );
}

/**
 * Creates `args.record`'s volume from the image: a clone of the pool's cache entry (filled first on
 * a miss, once per image and pool even under concurrent creates in this process; a concurrent fill
 * by another process is detected by the entry's unique key and the loser's copy is dropped), or a
 * plain convert when the cache is disabled.
 */
export function volumeFromImage(sc: ServiceContext, args: FromImage): ResultAsync<Volume, VolkitError> {
  if (!sc.config.imageCache.enabled) return convertInto(sc, args.backend, args.spec, args.image, args.trace, args.ctx);
  return usableEntry(sc, args.image, args.record).andThen((hit) => {
    if (hit) return cloneFrom(sc, args, hit, "cache-hit");
    const key = `image-cache:${imageChecksum(args.image)}:${args.record.backend ?? ""}#${args.record.pool ?? ""}`;
    return withLock(sc.locks, key, args.ctx.signal, () =>
      usableEntry(sc, args.image, args.record).andThen((again) => (again ? cloneFrom(sc, args, again, "cache-hit") : fill(sc, args).andThen((filled) => cloneFrom(sc, args, filled, "cache-miss")))),
    );
  });
}

/** Converts the image into a new cache volume on the record's pool and records the entry. */
function fill(sc: ServiceContext, args: FromImage): ResultAsync<{ entry: ImageCacheEntry; cache: VolumeRecord }, VolkitError> {
  const { record, backend, image, ctx } = args;
  const pool = `${record.backend ?? ""}#${record.pool ?? ""}`;
  return checkImage(sc.runner, image, ctx).andThen((checked) => {
    if (checked.minSizeGiB > args.spec.sizeGiB) return errAsync(tooSmall(image, checked, args.spec.sizeGiB));
    args.trace.step("image-verified");
    // The cache volume takes room in the same pool: place it there, so the scheduler counts it.
    const others = sc.scheduler.pools().filter((p) => p.ref !== pool).map((p) => p.ref);
    return sc.scheduler.place({ sizeGiB: checked.minSizeGiB, excludePools: others, volumeId: record.id }).andThen((placement) => {
      const cacheId = `img-${crypto.randomUUID()}`;
      const insert = sc.store.volumes.insert({
        id: cacheId,
        name: `image ${image.imageId}`,
        sizeGiB: checked.minSizeGiB,
        status: "creating",
        backend: record.backend,
        pool: record.pool,
        availabilityZone: record.availabilityZone,
        bootable: true,
        metadata: { [PURPOSE_KEY]: "image-cache", "volkit:image": image.imageId },
        source: { kind: "image", imageId: image.imageId },
        task: newTask(sc, "create"),
      });
      const drop = (e: VolkitError): ResultAsync<never, VolkitError> => {
        sc.scheduler.release(placement);
        return backend
          .deleteVolume({ id: cacheId, sizeGiB: checked.minSizeGiB })
          .orElse(() => okAsync(undefined))
          .andThen(() => sc.store.volumes.remove(cacheId).orElse(() => okAsync(undefined)))
          .andThen(() => errAsync(e));
      };
      // The cache volume is this operation's while it is filled: a reconcile in this process leaves it alone.
      return insert.andThen(() =>
        holding(sc, [`volume:${cacheId}`], () =>
        ctx
          .phase("fill-image-cache", () =>
            backend.createVolume({ id: cacheId, sizeGiB: checked.minSizeGiB }, opts(ctx)).andThen((volume) =>
              backend.copyImageToVolume({ path: checked.path, format: checked.format }, volume, opts(ctx)).map(() => volume),
            ),
          )
          .andThen((volume) => sc.store.volumes.finish(cacheId, "create", "success", { patch: providerPatch(volume) }).andThen((t) => mustWin(t, `finish cache volume ${cacheId}`)))
          .andThen((cache) =>
            sc.store.imageCache
              .insert({ id: crypto.randomUUID(), imageId: image.imageId, imageChecksum: imageChecksum(image), backend: record.backend ?? "", pool: record.pool ?? "", volumeId: cacheId, sizeGiB: checked.minSizeGiB })
              .map((entry) => ({ entry, cache })),
          )
          .orElse((e) => {
            if (e.code !== "CONFLICT") return drop(e);
            // Another process filled this pool's entry first: use theirs, drop ours.
            return drop(e)
              .orElse(() => usableEntry(sc, image, record))
              .andThen((theirs) => (theirs ? okAsync(theirs) : errAsync(e)));
          })
          .map((filled) => {
            sc.scheduler.commit(placement);
            return filled;
          })
          .andThen((filled) => evict(sc, record.backend ?? "", filled.entry.id).map(() => filled)),
        ),
      );
    });
  });
}

/**
 * Cache volumes of `backend` that volumes are linked clones of (their records name it as
 * `source.cacheVolumeId`), with how many each: those must not be deleted.
 */
export function linkedCacheVolumes(sc: ServiceContext, backend: string): ResultAsync<ReadonlyMap<string, number>, VolkitError> {
  return sc.store.volumes.list({ backend }).map((volumes) => {
    const linked = new Map<string, number>();
    for (const v of volumes) {
      const cacheVolumeId = v.source?.kind === "image" ? v.source.cacheVolumeId : undefined;
      if (cacheVolumeId !== undefined) linked.set(cacheVolumeId, (linked.get(cacheVolumeId) ?? 0) + 1);
    }
    return linked;
  });
}

/**
 * Evicts least-recently-used entries of `backend` (never `keep`, never one whose cache volume
 * linked clones read) until its entries fit `maxCount` and `maxSizeGiB`, as far as they can; each
 * eviction deletes the cache volume (its entry goes with it). Failures are logged: eviction never
 * fails a create.
 */
export function evict(sc: ServiceContext, backend: string, keep: string): ResultAsync<readonly string[], never> {
  const { maxCount, maxSizeGiB } = sc.config.imageCache;
  if (maxCount === 0 && maxSizeGiB === 0) return okAsync([]);
  return sc.store.imageCache
    .list({ backend }, { orderBy: "lastUsedAt" })
    .andThen((entries) => linkedCacheVolumes(sc, backend).map((linked) => ({ entries, linked })))
    .map(({ entries, linked }) => {
      const victims: ImageCacheEntry[] = [];
      let count = entries.length;
      let size = entries.reduce((sum, e) => sum + e.sizeGiB, 0);
      for (const e of entries) {
        const over = (maxCount > 0 && count > maxCount) || (maxSizeGiB > 0 && size > maxSizeGiB);
        if (!over) break;
        // A cache volume that linked clones read stays (over the limit) until the last one is deleted.
        if (e.id === keep || linked.has(e.volumeId)) continue;
        victims.push(e);
        count--;
        size -= e.sizeGiB;
      }
      return victims;
    })
    .andThen((victims) =>
      victims.reduce<ResultAsync<string[], VolkitError>>(
        (chain, v) =>
          chain.andThen((evicted) =>
            deleteVolumeOp(sc, v.volumeId)
              .map(() => [...evicted, v.volumeId])
              .orElse((e) => {
                sc.logger.warn({ volumeId: v.volumeId, err: e.toJSON() }, "image cache eviction failed");
                return okAsync(evicted);
              }),
          ),
        okAsync([]),
      ),
    )
    .orElse((e) => {
      sc.logger.warn({ backend, err: e.toJSON() }, "image cache eviction failed");
      return okAsync([]);
    });
}
