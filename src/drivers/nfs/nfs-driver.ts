import { ResultAsync, err, errAsync, ok, okAsync, safeTry } from "neverthrow";
import { createOperationContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type {
  ConnectionInfoInput,
  HostProperties,
  ImageLocation,
  PoolStatsInput,
  Snapshot,
  SnapshotInput,
  SnapshotSpec,
  Volume,
  VolumeInput,
  VolumeSpec,
} from "../../core/records.js";
import type { CommandRunner } from "../../exec/runner.js";
import type { MountManager } from "../../remotefs/mount-manager.js";
import type { ShareSpec } from "../../remotefs/nfs-share.js";
import { GiB, VolumeDriverBase } from "../base.js";
import type { DriverCapabilities } from "../volume-driver.js";
import type { ParsedNfsConfig } from "./nfs-config.js";
import { ShareFiles, qemuError } from "./nfs-files.js";
import { checkSnapshotId, infoFileName, volumeFileName } from "./nfs-names.js";
import { ShareSet } from "./nfs-share-set.js";
import { NfsImages, type Flow } from "./nfs-images.js";
import { checkWritable, linkedCloneFlow, mustHaveNoLinkedClones } from "./nfs-linked.js";
import { createSnapshotFlow, deleteSnapshotFlow, fromSnapshotFlow, revertFlow } from "./nfs-snapshots.js";

/** Dependencies of {@link NfsDriver}. */
export interface NfsDriverDeps {
  /** Runs the file commands (`truncate`, `qemu-img`, `du`, `mv`…): unprivileged in secure mode. */
  readonly runner: CommandRunner;
  /** Makes shares available (real NFS mounts, or `LocalDirectoryMounts`). */
  readonly mounts: MountManager;
}

/**
 * Cinder-compatible NFS driver: one file per volume on a set of NFS shares — sparse raw (default),
 * fully allocated raw, or qcow2 with preallocated metadata — placed on the least-allocated eligible
 * share; qcow2 overlay snapshots described by Cinder's `.info` file with relative backing paths;
 * clones and volumes from snapshots by `qemu-img convert`; linked clones (qcow2 overlays on a
 * volume that is never written again, for the image cache, see nfs-linked.ts); extend by
 * `qemu-img resize`; NFS connection info for the NFS connector (or nova).
 *
 * Every command goes through the runner (so file work runs unprivileged, through a root helper or
 * over SSH), every share is probed with a bounded `statfs` before use, and temporaries are renamed
 * into place so an interrupted create never leaves a half-written `volume-<id>`.
 *
 * @example
 * ```ts
 * const backend = createNfsDriver({ driver: "nfs", shares: ["10.0.0.5:/export"] })._unsafeUnwrap();
 * const vol = await backend.createVolume({ id: "vol-1", sizeGiB: 10 });
 * ```
 */
export class NfsDriver extends VolumeDriverBase {
  /** {@inheritDoc index!VolumeDriver.driverName} */
  readonly driverName = "nfs";
  /** {@inheritDoc index!VolumeDriver.vendorName} */
  override readonly vendorName = "Open Source";
  /** {@inheritDoc index!VolumeDriver.driverVersion} */
  override readonly driverVersion = "0.2.0";

  /** File commands on the shares (exposed for tests and advanced callers). */
  readonly files: ShareFiles;
  /** The driver's shares. */
  readonly shares: ShareSet;
  readonly #config: ParsedNfsConfig;
  readonly #images: NfsImages;

  /** @param config - parsed config; @param shares - resolved shares; @param deps - runner and mount manager. */
  constructor(config: ParsedNfsConfig, shares: readonly ShareSpec[], deps: NfsDriverDeps) {
    super(deps.runner);
    this.#config = config;
    this.files = new ShareFiles(deps.runner, { timeoutMs: config.fileTimeoutMs, fileMode: config.secureFilePermissions ? "0660" : "0666" });
    const set = new ShareSet(shares, deps.mounts, this.files, {
      requireWritable: config.secureFileOperations,
      mountOptions: config.mountOptions,
      policy: { reservedPercentage: config.reservedPercentage, overSubscriptionRatio: this.#thin ? config.maxOverSubscriptionRatio : 1, requireFree: !this.#thin },
    });
    this.shares = set;
    this.#images = new NfsImages(config, set, this.files);
  }

  get #thin(): boolean {
    return this.#config.sparsedVolumes || this.#config.qcow2Volumes;
  }

  /** {@inheritDoc index!VolumeDriver.capabilities} */
  get capabilities(): DriverCapabilities {
    const snaps = this.#config.snapshotSupport;
    return {
      thin: this.#thin,
      thick: !this.#thin,
      snapshots: snaps,
      nativeClone: true,
      revertToSnapshot: snaps,
      onlineExtend: false,
      multiattach: false,
      manageExisting: false,
      sparseCopy: this.#thin,
      qos: false,
      sharedTargets: false,
      protocol: "nfs",
    };
  }

  /** Checks qemu-img is there and mounts the shares (at least one must work); writes nothing. */
  override initialize(ctx: OperationContext): ResultAsync<void, VolkitError> {
    return ctx
      .phase("qemu-img", () =>
        this.files.run(["qemu-img", "--version"], ctx).mapErr((e) =>
          e.code === "COMMAND_NOT_FOUND" ? new VolkitError("BACKEND_UNAVAILABLE", "qemu-img is not installed (Debian/Ubuntu: qemu-utils)", { source: "nfs", cause: e }) : e,
        ),
      )
      .andThen(() => ctx.phase("mount", () => this.shares.acquireAll(ctx)));
  }

  /** Releases the driver's mount references (unmounting shares nobody else uses). */
  close(): ResultAsync<void, VolkitError> {
    return this.shares.releaseAll(createOperationContext({ operation: "close", source: "nfs", deadline: Date.now() + 120_000 }));
  }

  /** Creates `volume-<id>` on the least-allocated eligible share. */
  createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return safeTry(() => this.#createVolume(spec, ctx));
  }

  async *#createVolume(spec: VolumeSpec, ctx: OperationContext): Flow<Volume> {
    yield* this.#images.mustNotExist(spec.id, ctx);
    const bytes = spec.sizeGiB * GiB;
    const target = yield* ctx.phase("place", () => this.shares.place(bytes, ctx));
    yield* ctx.phase("allocate", () => this.#images.allocate(target, spec.id, bytes, ctx));
    return ok({ ...spec, providerLocation: target.share });
  }

  /**
   * Deletes the volume's files (base image, overlays, `.info`, leftovers); `VOLUME_BUSY` while
   * `.info` lists snapshots or linked clones read its base image; success when it does not exist.
   */
  deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return safeTry(() => this.#deleteVolume(volume, ctx));
  }

  async *#deleteVolume(volume: Volume, ctx: OperationContext): Flow<void> {
    const loc = yield* this.shares.locate(volume.id, volume.providerLocation, ctx);
    if (!loc) return ok(undefined);
    const info = yield* this.#images.readInfo(loc, volume.id, ctx);
    const snaps = Object.keys(info.snapshots);
    if (snaps.length > 0) {
      return err(new VolkitError("VOLUME_BUSY", `volume ${volume.id} has ${snaps.length} snapshot(s); delete them first`, { source: "nfs", details: { volumeId: volume.id, snapshots: snaps } }));
    }
    if (info.frozen === true) yield* ctx.phase("linked-clones", () => mustHaveNoLinkedClones(this.#images, loc, volume.id, ctx));
    const base = volumeFileName(volume.id);
    const names = yield* this.files.list(loc.dir, [base, `${base}.*`], ctx);
    const infoName = infoFileName(volume.id);
    const ordered = [...names.filter((n) => n !== infoName), ...names.filter((n) => n === infoName)];
    yield* ctx.phase("remove", () => this.files.remove(ordered.map((n) => `${loc.dir}/${n}`), ctx));
    return ok(undefined);
  }

  /** New qcow2 overlay on top of the active image; it becomes active; `.info` records it. */
  override createSnapshot(snapshot: SnapshotSpec, volume: Volume, ctx: OperationContext): ResultAsync<SnapshotInput, VolkitError> {
    if (!this.#config.snapshotSupport) return this.notSupported("createSnapshot", volume.id);
    return checkSnapshotId(snapshot.id).asyncAndThen(() => safeTry(() => createSnapshotFlow(this.#images, snapshot, volume, ctx)));
  }


  /**
   * Deletes a snapshot by merging its overlay down (see `planSnapshotDelete`): the newest one's
   * overlay is committed into its backing, which becomes active; an older one's is committed into
   * its backing and the next overlay is re-pointed at that backing. Success when it is gone.
   */
  override deleteSnapshot(snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (!this.#config.snapshotSupport) return this.notSupported("deleteSnapshot", snapshot.volumeId);
    return safeTry(() => deleteSnapshotFlow(this.#images, snapshot, ctx));
  }


  /** `qemu-img convert` of the snapshot's data (its overlay's backing) into a new volume, grown as asked. */
  override createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    if (!this.#config.snapshotSupport) return this.notSupported("createVolumeFromSnapshot", spec.id);
    return safeTry(() => fromSnapshotFlow(this.#images, spec, snapshot, ctx));
  }


  /** `qemu-img convert` of the source's active image (its whole chain, flattened), grown as asked. */
  createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return safeTry(() => this.#clone(spec, source, ctx));
  }

  async *#clone(spec: VolumeSpec, source: Volume, ctx: OperationContext): Flow<Volume> {
    const loc = yield* this.#images.locateVolume(source, ctx);
    const info = yield* this.#images.readInfo(loc, source.id, ctx);
    const active = yield* this.#images.activeImage(loc, source.id, info, ctx);
    return ok(yield* this.#images.copyInto(spec, { path: `${loc.dir}/${active.name}`, format: active.format, virtualSize: active.virtualSize }, ctx));
  }

  /**
   * A linked clone: a qcow2 overlay on `source`'s base image, on its share (see nfs-linked.ts).
   * `source` is frozen from then on: never written again, not deletable while clones exist.
   */
  createLinkedClone(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return safeTry(() => linkedCloneFlow(this.#images, spec, source, ctx));
  }

  /** `qemu-img resize` of the active image after checking the share has room; a retry is a no-op. */
  extendVolume(volume: Volume, newSizeGiB: number, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return safeTry(() => this.#extend(volume, newSizeGiB, ctx));
  }

  async *#extend(volume: Volume, newSizeGiB: number, ctx: OperationContext): Flow<Volume> {
    const loc = yield* this.#images.locateVolume(volume, ctx);
    const info = yield* this.#images.readInfo(loc, volume.id, ctx);
    const active = yield* this.#images.activeImage(loc, volume.id, info, ctx);
    const bytes = newSizeGiB * GiB;
    const grown = { ...volume, sizeGiB: newSizeGiB, providerLocation: loc.share };
    if (active.virtualSize >= bytes) return ok(grown);
    yield* checkWritable(info, volume.id, "extend");
    yield* ctx.phase("capacity", () => this.shares.checkRoom(loc.share, bytes - active.virtualSize, ctx));
    // A linked clone's base is an overlay: grown without preallocation, like a snapshot overlay.
    const isBase = active.name === volumeFileName(volume.id) && info.backing === undefined;
    yield* ctx.phase("resize", () => this.files.resize(`${loc.dir}/${active.name}`, active.format, bytes, isBase ? this.#images.preallocation(active.format) : "off", ctx));
    return ok(grown);
  }

  /**
   * Reverts to the newest snapshot: a new empty overlay on the snapshot's data, of the volume's
   * current size, renamed over the active overlay. Older snapshots: `INVALID_STATE` (see `planRevert`).
   */
  override revertToSnapshot(volume: Volume, snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (!this.#config.snapshotSupport) return this.notSupported("revertToSnapshot", volume.id);
    return safeTry(() => revertFlow(this.#images, volume, snapshot, ctx));
  }


  /**
   * NFS connection info for the active image after `qemu-img info` confirms its format and that
   * its virtual size is the volume's (`INVALID_STATE` otherwise).
   */
  initializeConnection(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError> {
    return safeTry(() => this.#connection(volume, host, ctx));
  }

  async *#connection(volume: Volume, host: HostProperties, ctx: OperationContext): Flow<ConnectionInfoInput> {
    const loc = yield* this.#images.locateVolume(volume, ctx);
    const info = yield* this.#images.readInfo(loc, volume.id, ctx);
    if (!host.readOnly) yield* checkWritable(info, volume.id, "a read-write connection");
    const active = yield* this.#images.activeImage(loc, volume.id, info, ctx);
    const expected = volume.sizeGiB * GiB;
    if (active.virtualSize !== expected) {
      return err(
        new VolkitError("INVALID_STATE", `volume ${volume.id}: ${active.name} is ${active.virtualSize} bytes, the volume record says ${expected}`, {
          source: "nfs",
          details: { volumeId: volume.id, file: active.name, virtualSize: active.virtualSize, expectedBytes: expected },
        }),
      );
    }
    const options = this.shares.connectionOptions(loc.share);
    return ok({
      type: "nfs",
      volumeId: volume.id,
      accessMode: host.readOnly ? "ro" : "rw",
      discard: this.#thin,
      export: loc.share,
      name: active.name,
      ...(options === undefined ? {} : { options }),
      format: active.format,
      mountPointBase: this.#config.mountPointBase,
    });
  }

  /** One pool per share (name = the share); a share that does not answer is reported down. */
  getPoolStats(ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError> {
    return ResultAsync.fromSafePromise(
      (async () => {
        const pools: PoolStatsInput[] = [];
        for (const s of this.shares.shares) {
          const u = await this.shares.usage(s.share, ctx);
          pools.push(u.isOk() ? this.#images.pool(s.share, u.value) : this.#images.downPool(s.share));
        }
        return pools;
      })(),
    ).andThen((pools) => {
      if (ctx.signal.aborted) return errAsync(ctx.abortError() as VolkitError);
      if (!pools.some((p) => p.backendState !== "down")) return errAsync(new VolkitError("BACKEND_UNAVAILABLE", "no NFS share answers", { source: "nfs" }));
      return okAsync(pools);
    });
  }

  /** Converts an image (raw, qcow2, vmdk… without external files) into the volume's base image. */
  override copyImageToVolume(image: ImageLocation, volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return safeTry(() => this.#imageToVolume(image, volume, ctx));
  }

  async *#imageToVolume(image: ImageLocation, volume: Volume, ctx: OperationContext): Flow<void> {
    const loc = yield* this.#images.locateVolume(volume, ctx);
    const info = yield* this.#images.readInfo(loc, volume.id, ctx);
    if (Object.keys(info.snapshots).length > 0) {
      return err(new VolkitError("VOLUME_BUSY", `volume ${volume.id} has snapshots; an image can only be written into a volume without them`, { source: "nfs" }));
    }
    yield* checkWritable(info, volume.id, "writing an image");
    if (info.backing !== undefined) return err(new VolkitError("INVALID_STATE", `volume ${volume.id} is a linked clone; an image can only be written into a volume of its own`, { source: "nfs" }));
    const active = yield* this.#images.activeImage(loc, volume.id, info, ctx);
    const source = yield* this.#images.checkImage(image, ctx);
    const bytes = volume.sizeGiB * GiB;
    if (source.virtualSize > bytes) return err(new VolkitError("INVALID_ARGUMENT", `image is ${source.virtualSize} bytes, larger than volume ${volume.id} (${bytes})`, { source: "nfs" }));
    yield* this.#images.convertInto(loc, volume.id, source, active.format, bytes, `${loc.dir}/${active.name}`, ctx);
    return ok(undefined);
  }

  /** `qemu-img convert` of the active image chain to an image file. */
  override copyVolumeToImage(volume: Volume, image: ImageLocation & { readonly format: string }, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return safeTry(() => this.#volumeToImage(volume, image, ctx));
  }

  async *#volumeToImage(volume: Volume, image: ImageLocation & { readonly format: string }, ctx: OperationContext): Flow<void> {
    const loc = yield* this.#images.locateVolume(volume, ctx);
    const info = yield* this.#images.readInfo(loc, volume.id, ctx);
    const active = yield* this.#images.activeImage(loc, volume.id, info, ctx);
    yield* ctx.phase("convert", () =>
      this.files.qemu
        .convert({ source: `${loc.dir}/${active.name}`, sourceFormat: active.format, target: image.path, targetFormat: image.format, bytesTotal: active.virtualSize }, ctx)
        .mapErr(qemuError),
    );
    return ok(undefined);
  }
}
