import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { ShareFiles } from "./nfs-files.js";
import { volumeFileName } from "./nfs-names.js";
import type { InfoFile, VolumeFormat, VolumeImage } from "./nfs-parsers.js";

/**
 * The snapshot chain of a volume and the plans for changing it.
 *
 * Layout (Cinder's): `volume-<id>` is the base image. Taking snapshot S creates the qcow2 overlay
 * `volume-<id>.<S>` on top of the active image and makes it active; `.info` maps S to that overlay.
 * So S's data is the **backing** of its overlay (frozen from then on), and the overlay collects
 * the writes made after S. The chain is linear, newest on top:
 *
 *     volume-<id>  ←  volume-<id>.S1  ←  volume-<id>.S2  ←  volume-<id>.S3 (active)
 *     (data of S1)    (data of S2)       (data of S3)       (current data)
 *
 * Backing pointers are relative file names, so a share can be mounted anywhere. A linked clone's
 * base image is itself a qcow2 overlay on another volume's base image (see nfs-linked.ts); its
 * chain ends at its own base.
 */

/** One image of the chain. */
export interface ChainImage extends VolumeImage {
  /** File name in the share's directory. */
  readonly name: string;
}

/** Longest chain the driver walks (a loop in backing pointers cannot make it spin). */
const MAX_CHAIN = 512;

/**
 * Reads the chain from the active image down to the base, checking every backing pointer names
 * an image of this volume. Overlays are read with `-f qcow2`; only the base image's format is
 * probed (and a probed base may not have a backing file or an external data file). With `linkedTo`
 * (from the `.info` file) the base is read as qcow2 and must be backed by exactly that file.
 */
export function walkChain(files: ShareFiles, dir: string, volumeId: string, active: string, ctx: OperationContext, linkedTo?: string): ResultAsync<ChainImage[], VolkitError> {
  const base = volumeFileName(volumeId);
  const step = (name: string, format: VolumeFormat | undefined, acc: ChainImage[]): ResultAsync<ChainImage[], VolkitError> => {
    if (acc.length >= MAX_CHAIN || acc.some((c) => c.name === name)) {
      return errAsync(new VolkitError("INVALID_STATE", `snapshot chain of volume ${volumeId} loops or is longer than ${MAX_CHAIN}`, { source: "nfs" }));
    }
    const isBase = name === base;
    // A linked clone's base is a qcow2 overlay on another volume's base: the chain ends there.
    if (isBase && linkedTo !== undefined) {
      return files.imageInfo(`${dir}/${name}`, "qcow2", { name, volumeId, backing: true, linkedTo }, ctx).map((img) => [...acc, { ...img, name }]);
    }
    const fmt = isBase ? format : "qcow2";
    return files.imageInfo(`${dir}/${name}`, fmt, { name, volumeId, backing: !isBase }, ctx).andThen((img) => {
      const chain = [...acc, { ...img, name }];
      return img.backing === undefined ? okAsync(chain) : step(img.backing, img.backingFormat, chain);
    });
  };
  return step(active, undefined, []);
}

/** What deleting a snapshot takes. */
export type SnapshotDeletePlan =
  /** Not in `.info`: nothing to do. */
  | { readonly kind: "absent" }
  /** In `.info`, but its overlay is no longer in the chain (an interrupted delete): drop the entry and the file. */
  | { readonly kind: "forget"; readonly file: string }
  /**
   * Newest snapshot (its overlay is the active image): commit the overlay into its backing (which
   * then holds the current data) and make the backing active.
   */
  | { readonly kind: "commit-active"; readonly file: string; readonly into: ChainImage }
  /**
   * Older snapshot: commit its overlay into its backing — the backing then holds the data of the
   * next newer snapshot — and point the next overlay up (`higher`) at that backing with an unsafe
   * rebase (the data it sees is identical).
   */
  | { readonly kind: "commit-middle"; readonly file: string; readonly into: ChainImage; readonly higher: ChainImage };

/**
 * Plans deleting `snapshotId` given the chain (active first, base last) and the `.info` file.
 *
 * Why every remaining snapshot keeps its data: snapshot X's data is the chain *below* X's
 * overlay. Committing S's overlay `O` writes only into its backing `B`. `B` is the base image or
 * the overlay of the previous snapshot P, whose data is what lies *below* `B` — so S is the only
 * snapshot whose data includes `B`, and S is going away. Every image above `O` read `B + O`,
 * which is exactly what `B` holds after the commit, so after `higher` is re-pointed from `O` to
 * `B` they read the same bytes. The commit and the rebase are each safe to repeat, so a delete
 * interrupted at any step can simply be run again.
 *
 * @example
 * ```ts
 * planSnapshotDelete(chain, info, "s2"); // ok({ kind: "commit-middle", file: "volume-a.s2", into: …"volume-a.s1", higher: …"volume-a.s3" })
 * ```
 */
export function planSnapshotDelete(chain: readonly ChainImage[], info: InfoFile, snapshotId: string): Result<SnapshotDeletePlan, VolkitError> {
  const file = info.snapshots[snapshotId];
  if (file === undefined) return ok({ kind: "absent" });
  const index = chain.findIndex((c) => c.name === file);
  if (index === -1) return ok({ kind: "forget", file });
  const into = chain[index + 1];
  if (!into) return err(new VolkitError("INVALID_STATE", `snapshot ${snapshotId} names the base image ${file}`, { source: "nfs", details: { snapshotId, file } }));
  if (index === 0) return ok({ kind: "commit-active", file, into });
  const higher = chain[index - 1] as ChainImage;
  return ok({ kind: "commit-middle", file, into, higher });
}

/** What reverting to a snapshot takes. */
export interface RevertPlan {
  /** The snapshot's overlay (the active image), replaced by an empty one. */
  readonly file: string;
  /** Its backing: the snapshot's data, which the new empty overlay sits on. */
  readonly backing: ChainImage;
  /** Virtual size of the new overlay: the volume's current size (a revert never shrinks). */
  readonly sizeBytes: number;
}

/**
 * Plans reverting to `snapshotId`: only the newest snapshot can be reverted to (as in Cinder's
 * API), because discarding the overlays above an older one would silently destroy the newer
 * snapshots the caller still holds. `INVALID_STATE` names them.
 */
export function planRevert(chain: readonly ChainImage[], info: InfoFile, snapshotId: string): Result<RevertPlan, VolkitError> {
  const file = info.snapshots[snapshotId];
  if (file === undefined) return err(new VolkitError("SNAPSHOT_NOT_FOUND", `snapshot ${snapshotId} not found`, { source: "nfs", details: { snapshotId } }));
  const index = chain.findIndex((c) => c.name === file);
  const top = chain[0];
  const backing = chain[index + 1];
  if (index !== 0 || !top || !backing) {
    const above = new Set(chain.slice(0, Math.max(0, index)).map((c) => c.name));
    const newer = Object.entries(info.snapshots).filter(([, f]) => above.has(f)).map(([id]) => id);
    return err(
      new VolkitError("INVALID_STATE", `can only revert to the newest snapshot; delete the newer snapshot(s) first: ${newer.join(", ") || "(chain is inconsistent)"}`, {
        source: "nfs",
        details: { snapshotId, newerSnapshots: newer },
      }),
    );
  }
  return ok({ file, backing, sizeBytes: top.virtualSize });
}
