import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { Volume, VolumeSpec } from "../../core/records.js";
import { GiB } from "../base.js";
import { qemuError } from "./nfs-files.js";
import type { Flow, NfsImages } from "./nfs-images.js";
import { infoFileName, tempFileName, volumeFileName } from "./nfs-names.js";
import { parseInfoFilePaths } from "./nfs-parsers.js";
import type { Located } from "./nfs-share-set.js";

/**
 * Linked clones on a share: a new volume whose base image is a qcow2 overlay on another volume's
 * base image (`qemu-img create -f qcow2 -o backing_file=volume-<source>,backing_fmt=<fmt>`), so it
 * costs a few hundred KiB and a second instead of a full copy. The image cache uses them: its
 * cache volumes are written once and then only read.
 *
 * Layout (extends Cinder's `.info` file with two volkit keys, reserved as snapshot ids):
 *
 *     volume-<cache>        raw or qcow2, never written again; volume-<cache>.info {"active": …, "frozen": "true"}
 *     volume-<clone>        qcow2, backing file "volume-<cache>" (relative: the share can be mounted anywhere)
 *     volume-<clone>.info   {"active": "volume-<clone>", "backing": "volume-<cache>"}
 *
 * The clone's `.info` is what the driver trusts: its base is read with `-f qcow2` (never probed)
 * and must be backed by exactly the file `.info` names. A frozen volume refuses every write
 * (extend, image import, snapshots, a read-write connection) and its delete answers `VOLUME_BUSY`
 * while any `.info` on its share names it as backing. A clone has its own chain on top (snapshots,
 * revert, extend by `qemu-img resize` of its overlay, delete of its own files only); clones of it,
 * volumes from its snapshots and images of it are `qemu-img convert` copies of the whole chain,
 * i.e. flattened and independent.
 */

/** `INVALID_STATE`: a frozen base (of linked clones) is never written. */
export function frozenError(volumeId: string, operation: string): VolkitError {
  return new VolkitError("INVALID_STATE", `volume ${volumeId} is the base image of linked clones and is never written again: ${operation} refused`, {
    source: "nfs",
    details: { volumeId, operation },
  });
}

/** Ids of the volumes on `loc`'s share whose `.info` names `volumeId`'s base image as their backing. */
export function linkedClonesOf(images: NfsImages, loc: Located, volumeId: string, ctx: OperationContext): ResultAsync<string[], VolkitError> {
  const base = volumeFileName(volumeId);
  // One pass over every `.info` of the share with grep; each hit is then parsed, not trusted.
  const argv = ["find", loc.dir, "-mindepth", "1", "-maxdepth", "1", "-type", "f", "-name", "volume-*.info", "-exec", "grep", "-l", "-F", "-e", `"${base}"`, "--", "{}", "+"] as const;
  return images.files.run(argv, ctx, { okExitCodes: [0, 1] }).andThen((out) => {
    if (out.exitCode !== 0 && out.stderr.trim() !== "") return errAsync(new VolkitError("COMMAND_FAILED", `cannot search ${loc.dir} for linked clones of ${volumeId}: ${out.stderr.trim()}`, { source: "nfs" }));
    const ids = parseInfoFilePaths(out.stdout).filter((id) => id !== volumeId);
    return ids.reduce<ResultAsync<string[], VolkitError>>(
      (chain, id) => chain.andThen((found) => images.readInfo(loc, id, ctx).map((info) => (info.backing === base ? [...found, id] : found))),
      okAsync([]),
    );
  });
}

/**
 * A linked clone of `source` (see module doc) on the source's share, of `spec.sizeGiB`: the
 * source is marked frozen first, then the overlay is made in a temporary, its `.info` written and
 * the temporary renamed into place; a failure removes the clone's files (the source stays frozen:
 * harmless, it only forbids writes that the caller promised not to make).
 */
export async function* linkedCloneFlow(images: NfsImages, spec: VolumeSpec, source: Volume, ctx: OperationContext): Flow<Volume> {
  yield* images.mustNotExist(spec.id, ctx);
  const loc = yield* images.locateVolume(source, ctx);
  const info = yield* images.readInfo(loc, source.id, ctx);
  const base = volumeFileName(source.id);
  if (info.active !== base || Object.keys(info.snapshots).length > 0 || info.backing !== undefined) {
    return err(
      new VolkitError("INVALID_STATE", `volume ${source.id} cannot back linked clones: it has snapshots or is itself a linked clone`, { source: "nfs", details: { volumeId: source.id } }),
    );
  }
  const image = yield* images.activeImage(loc, source.id, info, ctx);
  const bytes = spec.sizeGiB * GiB;
  if (image.virtualSize > bytes) {
    return err(new VolkitError("INVALID_ARGUMENT", `source is ${image.virtualSize} bytes, larger than the new volume (${bytes})`, { source: "nfs" }));
  }
  if (info.frozen !== true) yield* ctx.phase("freeze", () => images.writeInfo(loc, source.id, { ...info, frozen: true }, ctx));
  const final = `${loc.dir}/${volumeFileName(spec.id)}`;
  const tmp = `${loc.dir}/${tempFileName(volumeFileName(spec.id), "new")}`;
  const made = images.files
    .remove([tmp], ctx)
    // Relative backing name and no preallocation: preallocated clusters would hide the backing's data.
    .andThen(() => images.files.qemu.create({ path: tmp, format: "qcow2", sizeBytes: bytes, backingFile: base, backingFormat: image.format }, ctx).mapErr(qemuError))
    .andThen(() => images.files.chmod(tmp, ctx))
    .andThen(() => images.writeInfo(loc, spec.id, { active: volumeFileName(spec.id), snapshots: {}, backing: base }, ctx))
    .andThen(() => images.files.rename(tmp, final, ctx))
    .orElse((e) => images.cleanup<void>([tmp, `${loc.dir}/${infoFileName(spec.id)}`], ctx, e));
  yield* ctx.phase("overlay", () => made);
  return ok({ ...spec, providerLocation: loc.share });
}

/** `VOLUME_BUSY` naming the linked clones that still read `volumeId`'s base image, if any. */
export function mustHaveNoLinkedClones(images: NfsImages, loc: Located, volumeId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
  return linkedClonesOf(images, loc, volumeId, ctx).andThen((clones) =>
    clones.length === 0
      ? okAsync(undefined)
      : errAsync(
          new VolkitError("VOLUME_BUSY", `volume ${volumeId} is the base image of ${clones.length} linked clone(s); delete them first`, {
            source: "nfs",
            details: { volumeId, linkedClones: clones },
          }),
        ),
  );
}

/** `INVALID_STATE` when the volume is a frozen base (see {@link frozenError}). */
export function checkWritable(info: { readonly frozen?: boolean }, volumeId: string, operation: string): Result<void, VolkitError> {
  return info.frozen === true ? err(frozenError(volumeId, operation)) : ok(undefined);
}
