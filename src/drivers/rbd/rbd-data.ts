import { type ResultAsync, errAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { ImageLocation, Volume } from "../../core/records.js";
import { QemuImg } from "../../data/qemu-img.js";
import type { CommandRunner } from "../../exec/runner.js";
import { volumeNotFound, type RbdPool } from "./rbd-pool.js";

/**
 * Image copies through librbd in userspace: `qemu-img convert` reads or writes the volume as an
 * `rbd:pool/image:id=…:keyfile=…` filename on the runner's host, with no kernel mapping and no
 * attach (the key reaches qemu-img through the key file, never the command line). Zero regions
 * of the source are not written (qemu's rbd driver discards them), so volumes stay thin.
 */

/** Writes an image file (any qemu-img format) into the volume, which must be at least its virtual size. */
export function copyImageToVolume(pool: RbdPool, runner: CommandRunner, image: ImageLocation, volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const ref = pool.volume(volume.id);
  const qemu = new QemuImg(runner);
  return pool.client
    .findImage(ref, ctx)
    .andThen((info) => (info === undefined ? errAsync(volumeNotFound(volume.id, ref)) : qemu.info(image.path, ctx, image.format).map((img) => ({ info, img }))))
    .andThen(({ info, img }) => {
      if (img.virtualSize > info.sizeBytes) {
        return errAsync(
          new VolkitError("INVALID_ARGUMENT", `image ${image.path} (${img.virtualSize} bytes) does not fit volume ${volume.id} (${info.sizeBytes} bytes)`, {
            source: "rbd",
            details: { imageBytes: img.virtualSize, volumeBytes: info.sizeBytes },
          }),
        );
      }
      return pool.client.qemuFilename(ref, ctx).andThen((target) =>
        ctx.phase("convert", () =>
          qemu.convert({ source: image.path, sourceFormat: img.format, target, targetFormat: "raw", targetIsDevice: true, targetCache: "writeback", bytesTotal: img.virtualSize }, ctx),
        ),
      );
    });
}

/** Writes the volume's data to an image file of `image.format`. */
export function copyVolumeToImage(pool: RbdPool, runner: CommandRunner, volume: Volume, image: ImageLocation & { readonly format: string }, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const ref = pool.volume(volume.id);
  const qemu = new QemuImg(runner);
  return pool.client
    .findImage(ref, ctx)
    .andThen((info) =>
      info === undefined
        ? errAsync(volumeNotFound(volume.id, ref))
        : pool.client.qemuFilename(ref, ctx).andThen((source) =>
            ctx.phase("convert", () => qemu.convert({ source, sourceFormat: "raw", target: image.path, targetFormat: image.format, bytesTotal: info.sizeBytes }, ctx)),
          ),
    );
}
