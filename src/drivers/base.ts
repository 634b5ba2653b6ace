import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { rollbackContext, type OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type {
  ConnectionInfoInput,
  ExistingRef,
  HostProperties,
  ImageLocation,
  ManageableVolume,
  ModelUpdateInput,
  PoolStatsInput,
  Snapshot,
  SnapshotInput,
  SnapshotSpec,
  Volume,
  VolumeInput,
  VolumeSpec,
} from "../core/records.js";
import { copyDevice, type CopyEngineOptions } from "../data/copy.js";
import { QemuImg } from "../data/qemu-img.js";
import type { CommandRunner } from "../exec/runner.js";
import type { AllocationSubject, ByteRange, DriverCapabilities, ExportState, VolumeDriver } from "./volume-driver.js";

/** Bytes in a GiB. */
export const GiB = 1024 ** 3;

/**
 * Abstract base for volume drivers. Extend it and implement the abstract members: they are exactly
 * what the conformance suite (`volkit/testing`) requires of every driver, so a driver that compiles
 * passes it. Override what your backend also does natively; the rest has defaults:
 *
 * - snapshots, volumes from snapshots, revert, manage/unmanage: `NOT_SUPPORTED`;
 * - allocation maps: `NOT_SUPPORTED` (backups read every byte);
 * - exports: none needed (`createExport`/`removeExport` succeed, `ensureExport` = `createExport`,
 *   `describeExport` says "not exported");
 * - image copies: `qemu-img convert` to/from the volume's bytes on this host, reached through
 *   {@link localPath} when the driver has one, else through the runtime's attach-for-I/O port
 *   (`ctx.io`);
 * - `initialize`/`setup`: nothing to check or create.
 *
 * {@link genericClone} is there for drivers without a native clone. New optional members get
 * defaults here, so adding one is never a breaking change.
 *
 * @example
 * ```ts
 * class MyDriver extends VolumeDriverBase {
 *   readonly driverName = "mine";
 *   readonly capabilities = { ...NO_CAPABILITIES, thin: true, protocol: "local" } as const;
 *   // createVolume, deleteVolume, createClonedVolume, extendVolume, getPoolStats, initializeConnection
 * }
 * ```
 */
export abstract class VolumeDriverBase implements VolumeDriver {
  /** {@inheritDoc index!VolumeDriver.driverName} */
  abstract readonly driverName: string;
  /** {@inheritDoc index!VolumeDriver.vendorName} */
  readonly vendorName: string = "volkit";
  /** {@inheritDoc index!VolumeDriver.driverVersion} */
  readonly driverVersion: string = "0.2.0";
  /** {@inheritDoc index!VolumeDriver.capabilities} */
  abstract readonly capabilities: DriverCapabilities;

  /** The runner the generic copy paths use (`qemu-img`, `dd`); omit it if the driver overrides them. */
  protected readonly runner: CommandRunner | undefined;

  /** @param runner - runner for the generic copy paths. */
  constructor(runner?: CommandRunner) {
    this.runner = runner;
  }

  /** {@inheritDoc index!VolumeDriver.createVolume} */
  abstract createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError>;
  /** {@inheritDoc index!VolumeDriver.deleteVolume} */
  abstract deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** {@inheritDoc index!VolumeDriver.createClonedVolume} */
  abstract createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError>;
  /** {@inheritDoc index!VolumeDriver.extendVolume} */
  abstract extendVolume(volume: Volume, newSizeGiB: number, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError>;
  /** {@inheritDoc index!VolumeDriver.getPoolStats} */
  abstract getPoolStats(ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError>;
  /** {@inheritDoc index!VolumeDriver.initializeConnection} */
  abstract initializeConnection(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError>;

  /** Default: nothing to check. */
  initialize(_ctx: OperationContext): ResultAsync<void, VolkitError> {
    return okAsync(undefined);
  }

  /** Default: nothing to create. */
  setup(_ctx: OperationContext): ResultAsync<void, VolkitError> {
    return okAsync(undefined);
  }

  /**
   * A path on the runner's host where the volume's raw bytes can be read and written (a block
   * device or a raw file), used by the generic copy paths. Default: `NOT_SUPPORTED` (the copy
   * paths then attach through `ctx.io`).
   */
  protected localPath(volume: Volume, _ctx: OperationContext): ResultAsync<string, VolkitError> {
    return this.notSupported("localPath", volume.id);
  }

  /** Options for the generic copy (sparse target, direct I/O, bandwidth). */
  protected copyOptions(): CopyEngineOptions {
    return {};
  }

  /** {@inheritDoc index!VolumeDriver.createSnapshot} */
  createSnapshot(spec: SnapshotSpec, _volume: Volume, _ctx: OperationContext): ResultAsync<SnapshotInput, VolkitError> {
    return this.notSupported("createSnapshot", spec.volumeId);
  }

  /** {@inheritDoc index!VolumeDriver.deleteSnapshot} */
  deleteSnapshot(snapshot: Snapshot, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.notSupported("deleteSnapshot", snapshot.volumeId);
  }

  /** {@inheritDoc index!VolumeDriver.createVolumeFromSnapshot} */
  createVolumeFromSnapshot(spec: VolumeSpec, _snapshot: Snapshot, _ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.notSupported("createVolumeFromSnapshot", spec.id);
  }

  /** {@inheritDoc index!VolumeDriver.revertToSnapshot} */
  revertToSnapshot(volume: Volume, _snapshot: Snapshot, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.notSupported("revertToSnapshot", volume.id);
  }

  /** Default: nothing to export. */
  createExport(_volume: Volume, _host: HostProperties | undefined, _ctx: OperationContext): ResultAsync<ModelUpdateInput, VolkitError> {
    return okAsync({});
  }

  /** Default: same as {@link createExport}, which must be idempotent. */
  ensureExport(volume: Volume, ctx: OperationContext): ResultAsync<ModelUpdateInput, VolkitError> {
    return this.createExport(volume, undefined, ctx);
  }

  /** Default: nothing to remove. */
  removeExport(_volume: Volume, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return okAsync(undefined);
  }

  /** Default: no export, nobody to wait for. */
  describeExport(_volume: Volume, _ctx: OperationContext): ResultAsync<ExportState, VolkitError> {
    return okAsync({ exported: false, hosts: [] });
  }

  /** Default: nothing to revoke. */
  terminateConnection(_volume: Volume, _host: HostProperties | undefined, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return okAsync(undefined);
  }

  /** Default: `NOT_SUPPORTED` (callers read every byte and detect zeros). */
  allocationMap(subject: AllocationSubject, _ctx: OperationContext): ResultAsync<readonly ByteRange[], VolkitError> {
    return this.notSupported("allocationMap", "volume" in subject ? subject.volume.id : subject.snapshot.volumeId);
  }

  /** Generic: `qemu-img convert` the image into the volume's bytes (raw). */
  copyImageToVolume(image: ImageLocation, volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const runner = this.runner;
    if (!runner) return this.notSupported("copyImageToVolume", volume.id);
    const qemu = new QemuImg(runner);
    return this.withVolumeBytes(volume, false, ctx, (target) =>
      ctx.phase("convert", () =>
        qemu.convert({ source: image.path, ...(image.format === undefined ? {} : { sourceFormat: image.format }), target, targetFormat: "raw", targetIsDevice: true }, ctx),
      ),
    );
  }

  /** Generic: `qemu-img convert` the volume's bytes into the image. */
  copyVolumeToImage(volume: Volume, image: ImageLocation & { readonly format: string }, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const runner = this.runner;
    if (!runner) return this.notSupported("copyVolumeToImage", volume.id);
    const qemu = new QemuImg(runner);
    return this.withVolumeBytes(volume, true, ctx, (source) =>
      ctx.phase("convert", () => qemu.convert({ source, sourceFormat: "raw", target: image.path, targetFormat: image.format }, ctx)),
    );
  }

  /** {@inheritDoc index!VolumeDriver.manageExisting} */
  manageExisting(spec: VolumeSpec, _ref: ExistingRef, _ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
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

  /**
   * A clone made by copying: creates the new volume, copies the source's bytes into it with the
   * copy engine (through {@link localPath}, or attached through `ctx.io`), and deletes the new
   * volume if the copy fails. For drivers without a native clone:
   * `createClonedVolume(spec, source, ctx) { return this.genericClone(spec, source, ctx); }`.
   */
  protected genericClone(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const runner = this.runner;
    if (!runner) return this.notSupported("createClonedVolume", spec.id);
    return this.createVolume(spec, ctx).andThen((created) => {
      const target: Volume = { ...created, id: spec.id, sizeGiB: spec.sizeGiB };
      return this.withVolumeBytes(source, true, ctx, (from) =>
        this.withVolumeBytes(target, false, ctx, (to) =>
          ctx.phase("copy", () => copyDevice(runner, { source: from, target: to, bytes: source.sizeGiB * GiB, ...this.copyOptions() }, ctx)),
        ),
      )
        .map(() => created)
        .orElse((e) => this.undo<VolumeInput>(target, ctx, e));
    });
  }

  /**
   * Runs `use` with a path to the volume's bytes on this host: {@link localPath} when the driver
   * has one, else the volume attached through the runtime's `ctx.io` (detached afterwards).
   */
  protected withVolumeBytes<T>(volume: Volume, readOnly: boolean, ctx: OperationContext, use: (path: string) => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
    return this.localPath(volume, ctx)
      .map((path): string | undefined => path)
      .orElse((e) => (e.code === "NOT_SUPPORTED" && ctx.io ? okAsync<string | undefined, VolkitError>(undefined) : errAsync(e)))
      .andThen((path): ResultAsync<T, VolkitError> => {
        if (path !== undefined) return use(path);
        const io = ctx.io;
        if (!io) return this.notSupported<T>("localPath", volume.id);
        return io.withDevice(volume, (device) => use(device.path), { readOnly });
      });
  }

  /** A `NOT_SUPPORTED` error naming this driver and the operation. */
  protected notSupported<T>(operation: string, volumeId?: string): ResultAsync<T, VolkitError> {
    return errAsync(
      new VolkitError("NOT_SUPPORTED", `${this.driverName} does not support ${operation}`, {
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

/** Capabilities with everything off, to spread into a driver's own (`{ ...NO_CAPABILITIES, thin: true, protocol: "local" }`). */
export const NO_CAPABILITIES: DriverCapabilities = {
  thin: false,
  thick: false,
  snapshots: false,
  nativeClone: false,
  revertToSnapshot: false,
  onlineExtend: false,
  multiattach: false,
  manageExisting: false,
  sparseCopy: false,
  qos: false,
  sharedTargets: false,
  protocol: "local",
};
