import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { RbdClient, RbdCreateOptions } from "./rbd-client.js";
import type { ParsedRbdConfig } from "./rbd-config.js";
import { imageSpec, snapshotName, volumeImageName, type ImageRef, type SnapshotRef } from "./rbd-names.js";

/**
 * The driver's pool: where its volumes live (pool and namespace), how new images are laid out,
 * and the checks the operations share. One per driver; the operation modules (clone, delete,
 * manage, data, stats) work through it.
 */
export class RbdPool {
  /** @param client - CLI access as the configured client; @param config - parsed config. */
  constructor(
    readonly client: RbdClient,
    readonly config: ParsedRbdConfig,
  ) {}

  /** The image of volume `volumeId`. */
  volume(volumeId: string): ImageRef {
    return this.image(volumeImageName(volumeId));
  }

  /** An image of the pool (and namespace) by name. */
  image(name: string): ImageRef {
    return { pool: this.config.pool, ...(this.config.namespace === undefined ? {} : { namespace: this.config.namespace }), image: name };
  }

  /** Snapshot `snapshotId` of volume `volumeId`. */
  snapshot(volumeId: string, snapshotId: string): SnapshotRef {
    return { ...this.volume(volumeId), snapshot: snapshotName(snapshotId) };
  }

  /** Layout of new images and clones: features and data pool from the config. */
  layout(): RbdCreateOptions {
    return {
      ...(this.config.imageFeatures === undefined ? {} : { features: this.config.imageFeatures }),
      ...(this.config.dataPool === undefined ? {} : { dataPool: this.config.dataPool }),
    };
  }

  /** `VOLUME_EXISTS` when the image is there (creates never overwrite). */
  mustNotExist(ref: ImageRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.client.findImage(ref, ctx).andThen((info) =>
      info === undefined
        ? okAsync(undefined)
        : errAsync(new VolkitError("VOLUME_EXISTS", `${imageSpec(ref)} already exists (${info.sizeBytes} bytes)`, { source: "rbd", details: { image: imageSpec(ref), sizeBytes: info.sizeBytes } })),
    );
  }

  /**
   * `VOLUME_BUSY` when a client has the image open (a kernel mapping, QEMU, qemu-img): deleting or
   * rolling back under a reader would break it, and `rbd trash mv` would not refuse.
   */
  mustBeClosed(ref: ImageRef, what: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.client.status(ref, ctx).andThen((status) =>
      status.watchers.length === 0
        ? okAsync(undefined)
        : errAsync(
            new VolkitError("VOLUME_BUSY", `cannot ${what} ${imageSpec(ref)}: ${status.watchers.length} client(s) have it open (${status.watchers.map((w) => w.address).join(", ")}); detach it first`, {
              source: "rbd",
              details: { image: imageSpec(ref), watchers: status.watchers.map((w) => w.address) },
            }),
          ),
    );
  }
}

/** `VOLUME_NOT_FOUND` for a volume. */
export function volumeNotFound(volumeId: string, ref: ImageRef): VolkitError {
  return new VolkitError("VOLUME_NOT_FOUND", `volume ${volumeId} not found (${imageSpec(ref)})`, { source: "rbd", details: { volumeId, image: imageSpec(ref) } });
}

/** `SNAPSHOT_NOT_FOUND` for a snapshot. */
export function snapshotNotFound(snapshotId: string, ref: SnapshotRef): VolkitError {
  return new VolkitError("SNAPSHOT_NOT_FOUND", `snapshot ${snapshotId} not found (${imageSpec(ref)})`, { source: "rbd", details: { snapshotId, snapshot: imageSpec(ref) } });
}

/** Bytes in a GiB. */
export const GiB = 1024 ** 3;

/** Whole GiB holding `bytes` (rounded up). */
export function gibCeil(bytes: number): number {
  return Math.ceil(bytes / GiB);
}
