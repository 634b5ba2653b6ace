import { err, ok, type Result, type ResultAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { FilePathSchema } from "../../core/validation.js";
import { QemuImg } from "../../data/qemu-img.js";
import type { CommandRunner } from "../../exec/runner.js";

/**
 * An image a volume is created from: a raw or qcow2 file the runner's host can read, and the
 * sha256 the caller vouches for. The file is checked before a byte of it reaches a volume: its
 * checksum must match, its format must be the declared one (or, when none is declared, raw or
 * qcow2 as probed), and a qcow2 image must not name a backing file (which would make qemu-img read
 * another file of this host).
 */

const GiB = 1024 ** 3;

/** The image part of a create request. */
export const ImageSourceSchema = z.object({
  /** Discriminator. */
  kind: z.literal("image"),
  /** Image id (the cache key, with the checksum). */
  imageId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an image id"),
  /** The image file. */
  path: FilePathSchema,
  /** Its sha256 (hex), checked before use. */
  sha256: z.string().regex(/^[A-Fa-f0-9]{64}$/, "must be 64 hex digits").transform((s) => s.toLowerCase()),
  /** Its format (probed when absent: raw or qcow2 only). */
  format: z.enum(["raw", "qcow2"]).optional(),
});
/** An image source (parsed). */
export type ImageSource = z.output<typeof ImageSourceSchema>;

/** A checked image. */
export interface CheckedImage {
  /** The file. */
  readonly path: string;
  /** Its verified format. */
  readonly format: "raw" | "qcow2";
  /** Its virtual size in bytes. */
  readonly virtualSize: number;
  /** GiB a volume needs to hold it (whole GiB, at least 1). */
  readonly minSizeGiB: number;
}

/** The cache's checksum key of an image (`sha256:<hex>`). */
export function imageChecksum(image: ImageSource): string {
  return `sha256:${image.sha256}`;
}

/** Parses `sha256sum` output: the digest of its first line. */
export function parseSha256sum(stdout: string): Result<string, VolkitError> {
  const m = /^\\?([a-f0-9]{64})\s/.exec(stdout);
  return m?.[1] ? ok(m[1]) : err(new VolkitError("PARSE_ERROR", "sha256sum printed no digest", { source: "service" }));
}

/** Verifies the checksum, then probes format and size (see module doc). */
export function checkImage(runner: CommandRunner, image: ImageSource, ctx: OperationContext): ResultAsync<CheckedImage, VolkitError> {
  return ctx
    .phase("checksum", () => runner.run({ argv: ["sha256sum", "--", image.path], signal: ctx.signal, env: { LC_ALL: "C" } }))
    .andThen((out) => parseSha256sum(out.stdout))
    .andThen((digest) =>
      digest === image.sha256
        ? ok(undefined)
        : err(
            new VolkitError("INVALID_ARGUMENT", `image ${image.imageId} at ${image.path} has sha256 ${digest}, not the ${image.sha256} given`, {
              source: "service",
              details: { imageId: image.imageId, expected: image.sha256, actual: digest },
            }),
          ),
    )
    .andThen(() => ctx.phase("probe", () => new QemuImg(runner).info(image.path, ctx, image.format)))
    .andThen((info) => {
      const bad = (why: string): Result<never, VolkitError> => err(new VolkitError("INVALID_ARGUMENT", `image ${image.imageId}: ${why}`, { source: "service", details: { imageId: image.imageId, format: info.format } }));
      if (info.format !== "raw" && info.format !== "qcow2") return bad(`format ${info.format} is not raw or qcow2`);
      if (info.backingFilename !== undefined) return bad("a qcow2 image with a backing file is refused (it would read another file of this host)");
      return ok<CheckedImage, VolkitError>({ path: image.path, format: info.format, virtualSize: info.virtualSize, minSizeGiB: Math.max(1, Math.ceil(info.virtualSize / GiB)) });
    });
}
