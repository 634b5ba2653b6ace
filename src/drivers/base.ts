import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { rollbackContext, type OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type {
  ConnectionInfo,
  ConnectorProperties,
  ExistingRef,
  ImageLocation,
  ManageableVolume,
  ModelUpdate,
  Snapshot,
  SnapshotSpec,
  Volume,
  VolumeSpec,
  VolumeStats,
} from "../core/types.js";
import { copyDevice, type CopyEngineOptions } from "../data/copy.js";
import { QemuImg } from "../data/qemu-img.js";
import type { CommandRunner } from "../exec/runner.js";
import type { DriverCapabilities, VolumeDriver } from "./volume-driver.js";

/**
 * Abstract base for volume drivers. Extend it, implement the abstract members, and override
 * what your backend does natively. Defaults:
 *
 * - snapshots, revert, manage/unmanage: `NOT_SUPPORTED`;
 * - `createClonedVolume`: generic copy (create, then copy {@link localPath} to {@link localPath},
 *   deleting the new volume if the copy fails) when the driver exposes local paths;
 * - image copies: `qemu-img convert` to/from {@link localPath};
 * - exports: none needed (`createExport`/`removeExport` succeed, `ensureExport` = `createExport`).
 *
 * New optional members get defaults here, so adding one is never a breaking change.
 *
 * @example
 * ```ts
 * class MemoryDriver extends VolumeDriverBase {
 *   readonly driverName = "memory";
 *   // …implement setup, createVolume, deleteVolume, getVolumeStats, initializeConnection
 * }
 * ```
 */
export abstract class VolumeDriverBase implements VolumeDriver {
  /** {@inheritDoc index!VolumeDriver.driverName} */
  abstract readonly driverName: string;
  /** {@inheritDoc index!VolumeDriver.vendorName} */
  readonly vendorName: string = "volkit";
  /** {@inheritDoc index!VolumeDriver.driverVersion} */
  readonly driverVersion: string = "0.1.0";
  /** {@inheritDoc index!VolumeDriver.capabilities} */
  abstract readonly capabilities: DriverCapabilities;

  /** The runner the generic copy paths use (set by subclasses that run commands). */
  protected readonly runner: CommandRunner | undefined;

  /** @param runner - runner for the generic copy paths; omit if the driver overrides them. */
  constructor(runner?: CommandRunner) {
    this.runner = runner;
  }

  /** {@inheritDoc index!VolumeDriver.setup} */
  abstract setup(ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** {@inheritDoc index!VolumeDriver.createVolume} */
  abstract createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<Volume, VolkitError>;
  /** {@inheritDoc index!VolumeDriver.deleteVolume} */
  abstract deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** {@inheritDoc index!VolumeDriver.getVolumeStats} */
  abstract getVolumeStats(refresh: boolean, ctx: OperationContext): ResultAsync<VolumeStats, VolkitError>;
  /** {@inheritDoc index!VolumeDriver.initializeConnection} */
  abstract initializeConnection(volume: Volume, connector: ConnectorProperties, ctx: OperationContext): ResultAsync<ConnectionInfo, VolkitError>;

  /**
   * A path on the runner's host where the volume's raw data can be read and written (a block
   * device or a raw file), used by the generic copy paths. Default: `NOT_SUPPORTED`.
   */
  protected localPath(volume: Volume, _ctx: OperationContext): ResultAsync<string, VolkitError> {
    return this.notSupported("localPath", volume.id);
  }

  /** Options for the generic copy (sparse target, direct I/O, bandwidth). */
  protected copyOptions(): CopyEngineOptions {
    return {};
  }

  /** {@inheritDoc index!VolumeDriver.createSnapshot} */
  createSnapshot(snapshot: SnapshotSpec, _volume: Volume, _ctx: OperationContext): ResultAsync<Snapshot, VolkitError> {
    return this.notSupported("createSnapshot", snapshot.volumeId);
  }

  /** {@inheritDoc index!VolumeDriver.deleteSnapshot} */
  deleteSnapshot(snapshot: Snapshot, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.notSupported("deleteSnapshot", snapshot.volumeId);
  }

  /** {@inheritDoc index!VolumeDriver.createVolumeFromSnapshot} */
  createVolumeFromSnapshot(spec: VolumeSpec, _snapshot: Snapshot, _ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return this.notSupported("createVolumeFromSnapshot", spec.id);
  }

  /** Generic clone: create the target, copy the source's data into it, delete the target on failure. */
  createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    if (spec.sizeGiB < source.sizeGiB) {
      return errAsync(new VolkitError("INVALID_ARGUMENT", `clone size ${spec.sizeGiB} GiB is smaller than source ${source.sizeGiB} GiB`, { source: this.driverName }));
    }
    const runner = this.runner;
    if (!runner) return this.notSupported("createClonedVolume", spec.id);
    return this.localPath(source, ctx).andThen((from) =>
      this.createVolume(spec, ctx).andThen((created) =>
        this.localPath(created, ctx)
          .andThen((to) =>
            ctx.phase("copy", () =>
              copyDevice(runner, { source: from, target: to, bytes: source.sizeGiB * GiB, ...this.copyOptions() }, ctx),
            ),
          )
          .map(() => created)
          .orElse((e) => this.undo<Volume>(created, ctx, e)),
      ),
    );
  }

  /** {@inheritDoc index!VolumeDriver.extendVolume} */
  extendVolume(volume: Volume, _newSizeGiB: number, _ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return this.notSupported("extendVolume", volume.id);
  }

  /** {@inheritDoc index!VolumeDriver.revertToSnapshot} */
  revertToSnapshot(volume: Volume, _snapshot: Snapshot, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.notSupported("revertToSnapshot", volume.id);
  }

  /** Default: nothing to export. */
  createExport(_volume: Volume, _connector: ConnectorProperties | undefined, _ctx: OperationContext): ResultAsync<ModelUpdate, VolkitError> {
    return okAsync({});
  }

  /** Default: same as {@link createExport}, which must be idempotent. */
  ensureExport(volume: Volume, ctx: OperationContext): ResultAsync<ModelUpdate, VolkitError> {
    return this.createExport(volume, undefined, ctx);
  }

  /** Default: nothing to remove. */
  removeExport(_volume: Volume, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return okAsync(undefined);
  }

  /** Default: nothing to revoke. */
  terminateConnection(_volume: Volume, _connector: ConnectorProperties | undefined, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return okAsync(undefined);
  }

  /** Generic: `qemu-img convert` the image to the volume's local path (raw). */
  copyImageToVolume(image: ImageLocation, volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const runner = this.runner;
    if (!runner) return this.notSupported("copyImageToVolume", volume.id);
    const qemu = new QemuImg(runner);
    return this.localPath(volume, ctx).andThen((target) =>
      ctx.phase("convert", () =>
        qemu.convert({ source: image.path, ...(image.format === undefined ? {} : { sourceFormat: image.format }), target, targetFormat: "raw", targetIsDevice: true }, ctx),
      ),
    );
  }

  /** Generic: `qemu-img convert` the volume's local path to the image. */
  copyVolumeToImage(volume: Volume, image: ImageLocation & { readonly format: string }, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const runner = this.runner;
    if (!runner) return this.notSupported("copyVolumeToImage", volume.id);
    const qemu = new QemuImg(runner);
    return this.localPath(volume, ctx).andThen((source) =>
      ctx.phase("convert", () => qemu.convert({ source, sourceFormat: "raw", target: image.path, targetFormat: image.format }, ctx)),
    );
  }

  /** {@inheritDoc index!VolumeDriver.manageExisting} */
  manageExisting(spec: VolumeSpec, _ref: ExistingRef, _ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return this.notSupported("manageExisting", spec.id);
  }

  /** {@inheritDoc index!VolumeDriver.manageExistingGetSize} */
  manageExistingGetSize(_ref: ExistingRef, _ctx: OperationContext): ResultAsync<number, VolkitError> {
    return this.notSupported("manageExistingGetSize");
  }

  /** {@inheritDoc index!VolumeDriver.unmanage} */
  unmanage(volume: Volume, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.notSupported("unmanage", volume.id);
  }

  /** {@inheritDoc index!VolumeDriver.listManageable} */
  listManageable(_ctx: OperationContext): ResultAsync<readonly ManageableVolume[], VolkitError> {
    return this.notSupported("listManageable");
  }

  /** A `NOT_SUPPORTED` error naming this driver and the operation. */
  protected notSupported<T>(operation: string, volumeId?: string): ResultAsync<T, VolkitError> {
    return errAsync(
      new VolkitError("NOT_SUPPORTED", `${this.driverName} driver does not support ${operation}`, {
        source: this.driverName,
        details: { operation, ...(volumeId === undefined ? {} : { volumeId }) },
      }),
    );
  }

  /**
   * Rolls back a volume created by a failed multi-step operation, then returns the original error
   * (with the rollback failure attached when the rollback fails too).
   */
  protected undo<T>(created: Volume, ctx: OperationContext, original: VolkitError): ResultAsync<T, VolkitError> {
    return ResultAsync.fromSafePromise(this.deleteVolume(created, rollbackContext(ctx))).andThen((r) =>
      errAsync(
        r.isOk()
          ? original
          : new VolkitError(original.code, `${original.message} (rollback of ${created.id} also failed: ${r.error.message})`, {
              source: original.source ?? this.driverName,
              cause: original,
              details: { ...original.details, rollbackError: r.error.code },
            }),
      ),
    );
  }
}

/** Bytes in a GiB. */
export const GiB = 1024 ** 3;
