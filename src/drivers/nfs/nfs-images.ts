import { ResultAsync, err, errAsync, ok, okAsync, safeTry, type Err, type Result } from "neverthrow";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { parseJson } from "../../core/parse-json.js";
import type { ImageLocation, PoolStatsInput, Volume, VolumeSpec } from "../../core/records.js";
import { GiB } from "../base.js";
import type { ChainImage } from "./nfs-chain.js";
import type { ParsedNfsConfig } from "./nfs-config.js";
import { qemuError, type ShareFiles } from "./nfs-files.js";
import { infoFileName, tempFileName, volumeFileName } from "./nfs-names.js";
import { formatInfoFile, imageExtentFiles, parseInfoFile, qcow2DataFile, type InfoFile, type VolumeFormat } from "./nfs-parsers.js";
import type { Located, ShareSet } from "./nfs-share-set.js";

/** A multi-step flow written with `safeTry`'s generator form. */
export type Flow<T> = AsyncGenerator<Err<never, VolkitError>, Result<T, VolkitError>>;

/** A source image for a new volume. */
export interface SourceImage {
  /** Path of the image file. */
  readonly path: string;
  /** Its format. */
  readonly format: string;
  /** Its virtual size in bytes. */
  readonly virtualSize: number;
}

/**
 * The NFS driver's volume files on its shares: finding a volume, its `.info` chain file and active
 * image, allocating base images and converting data into new ones through temporaries renamed into
 * place, checking images to import, and the pool stats of a share. Shared by the driver's volume
 * operations and its snapshot flows (nfs-snapshots.ts).
 */
export class NfsImages {
  /** @param config - parsed config; @param shares - the driver's shares; @param files - file commands. */
  constructor(
    readonly config: ParsedNfsConfig,
    readonly shares: ShareSet,
    readonly files: ShareFiles,
  ) {}

  /** True when volumes are thin (sparse raw or qcow2). */
  get thin(): boolean {
    return this.config.sparsedVolumes || this.config.qcow2Volumes;
  }


  /** `VOLUME_EXISTS` when a volume with this id is on any share. */
  mustNotExist(volumeId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.shares.locate(volumeId, undefined, ctx, true).andThen((loc) =>
      loc
        ? errAsync(new VolkitError("VOLUME_EXISTS", `volume ${volumeId} already exists on ${loc.share}`, { source: "nfs", details: { volumeId, share: loc.share } }))
        : okAsync(undefined),
    );
  }

  /** The share and directory holding the volume; `VOLUME_NOT_FOUND` otherwise. */
  locateVolume(volume: Volume, ctx: OperationContext): ResultAsync<Located, VolkitError> {
    return this.shares.locate(volume.id, volume.providerLocation, ctx).andThen((loc) =>
      loc ? okAsync(loc) : errAsync(new VolkitError("VOLUME_NOT_FOUND", `volume ${volume.id} not found on any share`, { source: "nfs", details: { volumeId: volume.id } })),
    );
  }

  /** The `.info` file, or the implicit one of a volume without snapshots. */
  readInfo(loc: Located, volumeId: string, ctx: OperationContext): ResultAsync<InfoFile, VolkitError> {
    return this.files
      .readText(`${loc.dir}/${infoFileName(volumeId)}`, ctx)
      .andThen((text) => (text === undefined ? okAsync({ active: volumeFileName(volumeId), snapshots: {} }) : parseInfoFile(text, volumeId)));
  }

  /** Writes the `.info` file atomically. */
  writeInfo(loc: Located, volumeId: string, info: InfoFile, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.files.writeAtomic(`${loc.dir}/${infoFileName(volumeId)}`, formatInfoFile(info), ctx);
  }

  /**
   * The active image, validated: the base image (format probed, no backing), a linked clone's base
   * (qcow2 backed by exactly the file its `.info` names) or a qcow2 overlay.
   */
  activeImage(loc: Located, volumeId: string, info: InfoFile, ctx: OperationContext): ResultAsync<ChainImage, VolkitError> {
    return this.imageOf(loc, volumeId, info, info.active, ctx);
  }

  /** One image of the volume's chain (`name`), validated as {@link NfsImages.activeImage} does. */
  imageOf(loc: Located, volumeId: string, info: InfoFile, name: string, ctx: OperationContext): ResultAsync<ChainImage, VolkitError> {
    const isBase = name === volumeFileName(volumeId);
    const expect = isBase && info.backing !== undefined ? { name, volumeId, backing: true, linkedTo: info.backing } : { name, volumeId, backing: !isBase };
    return this.files.imageInfo(`${loc.dir}/${name}`, isBase && info.backing === undefined ? undefined : "qcow2", expect, ctx).map((img) => ({ ...img, name }));
  }

  /** How new space is allocated: qcow2 metadata, full zeros for thick raw, else sparse. */
  preallocation(format: VolumeFormat): "off" | "metadata" | "full" {
    if (format === "qcow2") return this.config.qcow2Volumes ? "metadata" : "off";
    return this.config.sparsedVolumes ? "off" : "full";
  }

  /** Creates the base image in a temporary, sets its mode, renames it into place. */
  allocate(target: Located, volumeId: string, bytes: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const final = `${target.dir}/${volumeFileName(volumeId)}`;
    const tmp = `${target.dir}/${tempFileName(volumeFileName(volumeId), "new")}`;
    const c = this.config;
    const create = (): ResultAsync<void, VolkitError> =>
      c.qcow2Volumes
        ? this.files.qemu.create({ path: tmp, format: "qcow2", sizeBytes: bytes, preallocation: "metadata" }, ctx)
        : c.sparsedVolumes
          ? this.files.truncate(tmp, bytes, ctx)
          : this.files.qemu.create({ path: tmp, format: "raw", sizeBytes: bytes, preallocation: "full" }, ctx);
    return this.files
      .remove([tmp], ctx)
      .andThen(create)
      .andThen(() => this.files.chmod(tmp, ctx))
      .andThen(() => this.files.rename(tmp, final, ctx))
      .orElse((e) => this.cleanup<void>([tmp], ctx, e));
  }

  /** New volume with the source's data: placed, converted into a temporary, grown, renamed into place. */
  async *copyIntoFlow(spec: VolumeSpec, source: SourceImage, ctx: OperationContext): Flow<Volume> {
    const bytes = spec.sizeGiB * GiB;
    if (source.virtualSize > bytes) {
      return err(new VolkitError("INVALID_ARGUMENT", `source is ${source.virtualSize} bytes, larger than the new volume (${bytes})`, { source: "nfs" }));
    }
    yield* this.mustNotExist(spec.id, ctx);
    const target = yield* ctx.phase("place", () => this.shares.place(bytes, ctx));
    const format: VolumeFormat = this.config.qcow2Volumes ? "qcow2" : "raw";
    yield* this.convertInto(target, spec.id, source, format, bytes, `${target.dir}/${volumeFileName(spec.id)}`, ctx);
    return ok({ ...spec, providerLocation: target.share });
  }

  /** {@link NfsImages.copyIntoFlow} as a ResultAsync. */
  copyInto(spec: VolumeSpec, source: SourceImage, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return safeTry(() => this.copyIntoFlow(spec, source, ctx));
  }

  /** convert → resize → chmod → rename over `final`; the temporary is removed on failure. */
  convertInto(target: Located, volumeId: string, source: SourceImage, format: VolumeFormat, bytes: number, final: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const tmp = `${target.dir}/${tempFileName(volumeFileName(volumeId), "new")}`;
    const prealloc = this.preallocation(format);
    const targetOptions = prealloc === "off" ? undefined : { preallocation: prealloc };
    return this.files
      .remove([tmp], ctx)
      .andThen(() =>
        ctx.phase("convert", () =>
          this.files.qemu
            .convert({ source: source.path, sourceFormat: source.format, target: tmp, targetFormat: format, bytesTotal: source.virtualSize, ...(targetOptions ? { targetOptions } : {}) }, ctx)
            .mapErr(qemuError),
        ),
      )
      .andThen(() => (bytes > source.virtualSize ? ctx.phase("resize", () => this.files.resize(tmp, format, bytes, prealloc, ctx)) : okAsync(undefined)))
      .andThen(() => this.files.chmod(tmp, ctx))
      .andThen(() => this.files.rename(tmp, final, ctx))
      .orElse((e) => this.cleanup<void>([tmp], ctx, e));
  }

  /**
   * An image to import: its format given or probed; refused unless qemu-img can read it without
   * touching other files (no backing file, no external data file, vmdk extents only in itself).
   */
  checkImage(image: ImageLocation, ctx: OperationContext): ResultAsync<SourceImage, VolkitError> {
    const argv = ["qemu-img", "info", "--output=json", "-U", ...(image.format ? ["-f", image.format] : []), image.path] as const;
    return this.files.run(argv, ctx).andThen((out) => {
      const bad = (why: string): ResultAsync<never, VolkitError> => errAsync(new VolkitError("INVALID_ARGUMENT", `image ${image.path} refused: ${why}`, { source: "nfs" }));
      const json = parseJson(out.stdout, { what: "qemu-img info", source: "nfs" });
      if (json.isErr() || json.value === null || typeof json.value !== "object") return bad("qemu-img info did not print a JSON object");
      const raw = json.value as { format?: unknown; "virtual-size"?: unknown; "backing-filename"?: unknown };
      const format = raw.format;
      const size = raw["virtual-size"];
      if (typeof format !== "string" || typeof size !== "number") return bad("no format or size");
      if (!["raw", "qcow2", "vmdk", "vdi", "vhdx", "vpc", "qed"].includes(format)) return bad(`format ${format} is not accepted`);
      if (raw["backing-filename"] !== undefined) return bad("it has a backing file");
      if (qcow2DataFile(out.stdout) !== undefined) return bad("it has an external data file");
      if (imageExtentFiles(out.stdout).some((f) => f !== image.path)) return bad("it has extents in other files");
      return okAsync({ path: image.path, format, virtualSize: size });
    });
  }

  /** One share as a pool (Cinder's NFS pool keys). */
  pool(share: string, u: { totalBytes: number; availableBytes: number; allocatedBytes: number; volumes: number }): PoolStatsInput {
    return {
      poolName: share,
      totalCapacityGiB: round2(u.totalBytes / GiB),
      freeCapacityGiB: round2(u.availableBytes / GiB),
      reservedPercentage: this.config.reservedPercentage,
      provisionedCapacityGiB: round2(u.allocatedBytes / GiB),
      allocatedCapacityGiB: round2((u.totalBytes - u.availableBytes) / GiB),
      maxOverSubscriptionRatio: this.thin ? this.config.maxOverSubscriptionRatio : 1,
      thinProvisioningSupport: this.thin,
      thickProvisioningSupport: !this.thin,
      totalVolumes: u.volumes,
      multiattach: false,
      qosSupport: false,
      locationInfo: `NfsDriver:${share}`,
      backendState: "up",
    };
  }

  /** A share that does not answer, as a pool marked down. */
  downPool(share: string): PoolStatsInput {
    return {
      poolName: share,
      totalCapacityGiB: "unknown",
      freeCapacityGiB: "unknown",
      reservedPercentage: this.config.reservedPercentage,
      thinProvisioningSupport: this.thin,
      thickProvisioningSupport: !this.thin,
      multiattach: false,
      qosSupport: false,
      locationInfo: `NfsDriver:${share}`,
      backendState: "down",
    };
  }

  /** Removes temporaries after a failure (with a fresh context: a cancelled call still cleans up), then fails with `original`. */
  cleanup<T>(paths: readonly string[], ctx: OperationContext, original: VolkitError): ResultAsync<T, VolkitError> {
    return ResultAsync.fromSafePromise(this.files.remove(paths, rollbackContext(ctx, 60_000))).andThen(() => errAsync(original));
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
