import { ResultAsync, err, errAsync, ok, okAsync, safeTry, type Err, type Result } from "neverthrow";
import { createOperationContext, rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { parseJson } from "../../core/parse-json.js";
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
import { planRevert, planSnapshotDelete, walkChain, type ChainImage } from "./nfs-chain.js";
import type { ParsedNfsConfig } from "./nfs-config.js";
import { ShareFiles, qemuError } from "./nfs-files.js";
import { checkSnapshotId, infoFileName, snapshotFileName, tempFileName, volumeFileName } from "./nfs-names.js";
import { formatInfoFile, imageExtentFiles, parseInfoFile, qcow2DataFile, type InfoFile, type VolumeFormat } from "./nfs-parsers.js";
import { ShareSet, type Located } from "./nfs-share-set.js";

/** Dependencies of {@link NfsDriver}. */
export interface NfsDriverDeps {
  /** Runs the file commands (`truncate`, `qemu-img`, `du`, `mv`…): unprivileged in secure mode. */
  readonly runner: CommandRunner;
  /** Makes shares available (real NFS mounts, or `LocalDirectoryMounts`). */
  readonly mounts: MountManager;
}

type Flow<T> = AsyncGenerator<Err<never, VolkitError>, Result<T, VolkitError>>;

/** A source image for a new volume. */
interface SourceImage {
  readonly path: string;
  readonly format: string;
  readonly virtualSize: number;
}

/**
 * Cinder-compatible NFS driver: one file per volume on a set of NFS shares — sparse raw (default),
 * fully allocated raw, or qcow2 with preallocated metadata — placed on the least-allocated eligible
 * share; qcow2 overlay snapshots described by Cinder's `.info` file with relative backing paths;
 * clones and volumes from snapshots by `qemu-img convert`; extend by `qemu-img resize`; NFS
 * connection info for the NFS connector (or nova).
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

  /** @param config - parsed config; @param shares - resolved shares; @param deps - runner and mount manager. */
  constructor(config: ParsedNfsConfig, shares: readonly ShareSpec[], deps: NfsDriverDeps) {
    super(deps.runner);
    this.#config = config;
    this.files = new ShareFiles(deps.runner, { timeoutMs: config.fileTimeoutMs, fileMode: config.secureFilePermissions ? "0660" : "0666" });
    this.shares = new ShareSet(shares, deps.mounts, this.files, {
      requireWritable: config.secureFileOperations,
      mountOptions: config.mountOptions,
      policy: { reservedPercentage: config.reservedPercentage, overSubscriptionRatio: this.#thin ? config.maxOverSubscriptionRatio : 1, requireFree: !this.#thin },
    });
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
    yield* this.#mustNotExist(spec.id, ctx);
    const bytes = spec.sizeGiB * GiB;
    const target = yield* ctx.phase("place", () => this.shares.place(bytes, ctx));
    yield* ctx.phase("allocate", () => this.#allocate(target, spec.id, bytes, ctx));
    return ok({ ...spec, providerLocation: target.share });
  }

  /**
   * Deletes the volume's files (base image, overlays, `.info`, leftovers); `VOLUME_BUSY` while
   * `.info` lists snapshots; success when it does not exist.
   */
  deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return safeTry(() => this.#deleteVolume(volume, ctx));
  }

  async *#deleteVolume(volume: Volume, ctx: OperationContext): Flow<void> {
    const loc = yield* this.shares.locate(volume.id, volume.providerLocation, ctx);
    if (!loc) return ok(undefined);
    const info = yield* this.#readInfo(loc, volume.id, ctx);
    const snaps = Object.keys(info.snapshots);
    if (snaps.length > 0) {
      return err(new VolkitError("VOLUME_BUSY", `volume ${volume.id} has ${snaps.length} snapshot(s); delete them first`, { source: "nfs", details: { volumeId: volume.id, snapshots: snaps } }));
    }
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
    return checkSnapshotId(snapshot.id).asyncAndThen(() => safeTry(() => this.#createSnapshot(snapshot, volume, ctx)));
  }

  async *#createSnapshot(snapshot: SnapshotSpec, volume: Volume, ctx: OperationContext): Flow<Snapshot> {
    const loc = yield* this.#locateVolume(volume, ctx);
    const info = yield* this.#readInfo(loc, volume.id, ctx);
    const record: Snapshot = { ...snapshot, providerLocation: loc.share };
    if (info.snapshots[snapshot.id] !== undefined) return ok(record);
    const active = yield* this.#activeImage(loc, volume.id, info, ctx);
    const file = snapshotFileName(volume.id, snapshot.id);
    const path = `${loc.dir}/${file}`;
    const created = ctx
      .phase("overlay", () =>
        this.files
          .remove([path], ctx)
          .andThen(() => this.files.qemu.create({ path, format: "qcow2", sizeBytes: active.virtualSize, backingFile: active.name, backingFormat: active.format }, ctx).mapErr(qemuError))
          .andThen(() => this.files.chmod(path, ctx)),
      )
      .andThen(() => ctx.phase("info", () => this.#writeInfo(loc, volume.id, { active: file, snapshots: { ...info.snapshots, [snapshot.id]: file } }, ctx)));
    yield* created.orElse((e) => this.#cleanup([path], ctx, e));
    return ok(record);
  }

  /**
   * Deletes a snapshot by merging its overlay down (see `planSnapshotDelete`): the newest one's
   * overlay is committed into its backing, which becomes active; an older one's is committed into
   * its backing and the next overlay is re-pointed at that backing. Success when it is gone.
   */
  override deleteSnapshot(snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (!this.#config.snapshotSupport) return this.notSupported("deleteSnapshot", snapshot.volumeId);
    return safeTry(() => this.#deleteSnapshot(snapshot, ctx));
  }

  async *#deleteSnapshot(snapshot: Snapshot, ctx: OperationContext): Flow<void> {
    const loc = yield* this.shares.locate(snapshot.volumeId, snapshot.providerLocation, ctx);
    if (!loc) return ok(undefined);
    const vid = snapshot.volumeId;
    const info = yield* this.#readInfo(loc, vid, ctx);
    if (info.snapshots[snapshot.id] === undefined) return ok(undefined);
    const chain = yield* ctx.phase("chain", () => walkChain(this.files, loc.dir, vid, info.active, ctx));
    const plan = yield* planSnapshotDelete(chain, info, snapshot.id);
    const snapshots = Object.fromEntries(Object.entries(info.snapshots).filter(([id]) => id !== snapshot.id));
    const at = (name: string): string => `${loc.dir}/${name}`;
    switch (plan.kind) {
      case "absent":
        return ok(undefined);
      case "forget":
        yield* this.#writeInfo(loc, vid, { active: info.active, snapshots }, ctx);
        break;
      case "commit-active":
        yield* ctx.phase("commit", () => this.files.qemu.commit(at(plan.file), "qcow2", ctx).mapErr(qemuError));
        yield* ctx.phase("info", () => this.#writeInfo(loc, vid, { active: plan.into.name, snapshots }, ctx));
        break;
      case "commit-middle":
        yield* ctx.phase("commit", () => this.files.qemu.commit(at(plan.file), "qcow2", ctx).mapErr(qemuError));
        yield* ctx.phase("rebase", () => this.files.qemu.rebase(at(plan.higher.name), plan.into.name, plan.into.format, true, ctx).mapErr(qemuError));
        yield* ctx.phase("info", () => this.#writeInfo(loc, vid, { active: info.active, snapshots }, ctx));
        break;
    }
    yield* this.files.remove([at(plan.file)], ctx);
    return ok(undefined);
  }

  /** `qemu-img convert` of the snapshot's data (its overlay's backing) into a new volume, grown as asked. */
  override createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    if (!this.#config.snapshotSupport) return this.notSupported("createVolumeFromSnapshot", spec.id);
    return safeTry(() => this.#fromSnapshot(spec, snapshot, ctx));
  }

  async *#fromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): Flow<Volume> {
    const missing = new VolkitError("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} not found`, { source: "nfs", details: { snapshotId: snapshot.id } });
    const loc = yield* this.shares.locate(snapshot.volumeId, snapshot.providerLocation, ctx);
    if (!loc) return err(missing);
    const info = yield* this.#readInfo(loc, snapshot.volumeId, ctx);
    const file = info.snapshots[snapshot.id];
    if (file === undefined) return err(missing);
    const overlay = yield* this.files.imageInfo(`${loc.dir}/${file}`, "qcow2", { name: file, volumeId: snapshot.volumeId, backing: true }, ctx);
    const backing = overlay.backing as string;
    const data = yield* this.files.imageInfo(`${loc.dir}/${backing}`, overlay.backingFormat, { name: backing, volumeId: snapshot.volumeId, backing: backing !== volumeFileName(snapshot.volumeId) }, ctx);
    return ok(yield* this.#copyInto(spec, { path: `${loc.dir}/${backing}`, format: data.format, virtualSize: data.virtualSize }, ctx));
  }

  /** `qemu-img convert` of the source's active image (its whole chain, flattened), grown as asked. */
  createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return safeTry(() => this.#clone(spec, source, ctx));
  }

  async *#clone(spec: VolumeSpec, source: Volume, ctx: OperationContext): Flow<Volume> {
    const loc = yield* this.#locateVolume(source, ctx);
    const info = yield* this.#readInfo(loc, source.id, ctx);
    const active = yield* this.#activeImage(loc, source.id, info, ctx);
    return ok(yield* this.#copyInto(spec, { path: `${loc.dir}/${active.name}`, format: active.format, virtualSize: active.virtualSize }, ctx));
  }

  /** `qemu-img resize` of the active image after checking the share has room; a retry is a no-op. */
  extendVolume(volume: Volume, newSizeGiB: number, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return safeTry(() => this.#extend(volume, newSizeGiB, ctx));
  }

  async *#extend(volume: Volume, newSizeGiB: number, ctx: OperationContext): Flow<Volume> {
    const loc = yield* this.#locateVolume(volume, ctx);
    const info = yield* this.#readInfo(loc, volume.id, ctx);
    const active = yield* this.#activeImage(loc, volume.id, info, ctx);
    const bytes = newSizeGiB * GiB;
    const grown = { ...volume, sizeGiB: newSizeGiB, providerLocation: loc.share };
    if (active.virtualSize >= bytes) return ok(grown);
    yield* ctx.phase("capacity", () => this.shares.checkRoom(loc.share, bytes - active.virtualSize, ctx));
    const isBase = active.name === volumeFileName(volume.id);
    yield* ctx.phase("resize", () => this.files.resize(`${loc.dir}/${active.name}`, active.format, bytes, isBase ? this.#preallocation(active.format) : "off", ctx));
    return ok(grown);
  }

  /**
   * Reverts to the newest snapshot: a new empty overlay on the snapshot's data, of the volume's
   * current size, renamed over the active overlay. Older snapshots: `INVALID_STATE` (see `planRevert`).
   */
  override revertToSnapshot(volume: Volume, snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (!this.#config.snapshotSupport) return this.notSupported("revertToSnapshot", volume.id);
    return safeTry(() => this.#revert(volume, snapshot, ctx));
  }

  async *#revert(volume: Volume, snapshot: Snapshot, ctx: OperationContext): Flow<void> {
    const loc = yield* this.#locateVolume(volume, ctx);
    const info = yield* this.#readInfo(loc, volume.id, ctx);
    if (info.snapshots[snapshot.id] === undefined) return err(new VolkitError("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} not found`, { source: "nfs" }));
    const chain = yield* ctx.phase("chain", () => walkChain(this.files, loc.dir, volume.id, info.active, ctx));
    const plan = yield* planRevert(chain, info, snapshot.id);
    const target = `${loc.dir}/${plan.file}`;
    const tmp = `${loc.dir}/${tempFileName(plan.file, "revert")}`;
    const swap = this.files
      .remove([tmp], ctx)
      .andThen(() => this.files.qemu.create({ path: tmp, format: "qcow2", sizeBytes: plan.sizeBytes, backingFile: plan.backing.name, backingFormat: plan.backing.format }, ctx).mapErr(qemuError))
      .andThen(() => this.files.chmod(tmp, ctx))
      .andThen(() => this.files.rename(tmp, target, ctx));
    yield* ctx.phase("new-overlay", () => swap.orElse((e) => this.#cleanup([tmp], ctx, e)));
    return ok(undefined);
  }

  /**
   * NFS connection info for the active image after `qemu-img info` confirms its format and that
   * its virtual size is the volume's (`INVALID_STATE` otherwise).
   */
  initializeConnection(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError> {
    return safeTry(() => this.#connection(volume, host, ctx));
  }

  async *#connection(volume: Volume, host: HostProperties, ctx: OperationContext): Flow<ConnectionInfoInput> {
    const loc = yield* this.#locateVolume(volume, ctx);
    const info = yield* this.#readInfo(loc, volume.id, ctx);
    const active = yield* this.#activeImage(loc, volume.id, info, ctx);
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
          pools.push(u.isOk() ? this.#pool(s.share, u.value) : this.#downPool(s.share));
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
    const loc = yield* this.#locateVolume(volume, ctx);
    const info = yield* this.#readInfo(loc, volume.id, ctx);
    if (Object.keys(info.snapshots).length > 0) {
      return err(new VolkitError("VOLUME_BUSY", `volume ${volume.id} has snapshots; an image can only be written into a volume without them`, { source: "nfs" }));
    }
    const active = yield* this.#activeImage(loc, volume.id, info, ctx);
    const source = yield* this.#checkImage(image, ctx);
    const bytes = volume.sizeGiB * GiB;
    if (source.virtualSize > bytes) return err(new VolkitError("INVALID_ARGUMENT", `image is ${source.virtualSize} bytes, larger than volume ${volume.id} (${bytes})`, { source: "nfs" }));
    yield* this.#convertInto(loc, volume.id, source, active.format, bytes, `${loc.dir}/${active.name}`, ctx);
    return ok(undefined);
  }

  /** `qemu-img convert` of the active image chain to an image file. */
  override copyVolumeToImage(volume: Volume, image: ImageLocation & { readonly format: string }, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return safeTry(() => this.#volumeToImage(volume, image, ctx));
  }

  async *#volumeToImage(volume: Volume, image: ImageLocation & { readonly format: string }, ctx: OperationContext): Flow<void> {
    const loc = yield* this.#locateVolume(volume, ctx);
    const info = yield* this.#readInfo(loc, volume.id, ctx);
    const active = yield* this.#activeImage(loc, volume.id, info, ctx);
    yield* ctx.phase("convert", () =>
      this.files.qemu
        .convert({ source: `${loc.dir}/${active.name}`, sourceFormat: active.format, target: image.path, targetFormat: image.format, bytesTotal: active.virtualSize }, ctx)
        .mapErr(qemuError),
    );
    return ok(undefined);
  }

  // ---------------------------------------------------------------- helpers

  #mustNotExist(volumeId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.shares.locate(volumeId, undefined, ctx, true).andThen((loc) =>
      loc
        ? errAsync(new VolkitError("VOLUME_EXISTS", `volume ${volumeId} already exists on ${loc.share}`, { source: "nfs", details: { volumeId, share: loc.share } }))
        : okAsync(undefined),
    );
  }

  #locateVolume(volume: Volume, ctx: OperationContext): ResultAsync<Located, VolkitError> {
    return this.shares.locate(volume.id, volume.providerLocation, ctx).andThen((loc) =>
      loc ? okAsync(loc) : errAsync(new VolkitError("VOLUME_NOT_FOUND", `volume ${volume.id} not found on any share`, { source: "nfs", details: { volumeId: volume.id } })),
    );
  }

  /** The `.info` file, or the implicit one of a volume without snapshots. */
  #readInfo(loc: Located, volumeId: string, ctx: OperationContext): ResultAsync<InfoFile, VolkitError> {
    return this.files
      .readText(`${loc.dir}/${infoFileName(volumeId)}`, ctx)
      .andThen((text) => (text === undefined ? okAsync({ active: volumeFileName(volumeId), snapshots: {} }) : parseInfoFile(text, volumeId)));
  }

  #writeInfo(loc: Located, volumeId: string, info: InfoFile, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.files.writeAtomic(`${loc.dir}/${infoFileName(volumeId)}`, formatInfoFile(info), ctx);
  }

  /** The active image, validated: the base image (format probed, no backing) or a qcow2 overlay. */
  #activeImage(loc: Located, volumeId: string, info: InfoFile, ctx: OperationContext): ResultAsync<ChainImage, VolkitError> {
    const isBase = info.active === volumeFileName(volumeId);
    return this.files
      .imageInfo(`${loc.dir}/${info.active}`, isBase ? undefined : "qcow2", { name: info.active, volumeId, backing: !isBase }, ctx)
      .map((img) => ({ ...img, name: info.active }));
  }

  /** How new space is allocated: qcow2 metadata, full zeros for thick raw, else sparse. */
  #preallocation(format: VolumeFormat): "off" | "metadata" | "full" {
    if (format === "qcow2") return this.#config.qcow2Volumes ? "metadata" : "off";
    return this.#config.sparsedVolumes ? "off" : "full";
  }

  /** Creates the base image in a temporary, sets its mode, renames it into place. */
  #allocate(target: Located, volumeId: string, bytes: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const final = `${target.dir}/${volumeFileName(volumeId)}`;
    const tmp = `${target.dir}/${tempFileName(volumeFileName(volumeId), "new")}`;
    const c = this.#config;
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
      .orElse((e) => this.#cleanup<void>([tmp], ctx, e));
  }

  /** New volume with the source's data: placed, converted into a temporary, grown, renamed into place. */
  async *#copyIntoFlow(spec: VolumeSpec, source: SourceImage, ctx: OperationContext): Flow<Volume> {
    const bytes = spec.sizeGiB * GiB;
    if (source.virtualSize > bytes) {
      return err(new VolkitError("INVALID_ARGUMENT", `source is ${source.virtualSize} bytes, larger than the new volume (${bytes})`, { source: "nfs" }));
    }
    yield* this.#mustNotExist(spec.id, ctx);
    const target = yield* ctx.phase("place", () => this.shares.place(bytes, ctx));
    const format: VolumeFormat = this.#config.qcow2Volumes ? "qcow2" : "raw";
    yield* this.#convertInto(target, spec.id, source, format, bytes, `${target.dir}/${volumeFileName(spec.id)}`, ctx);
    return ok({ ...spec, providerLocation: target.share });
  }

  #copyInto(spec: VolumeSpec, source: SourceImage, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return safeTry(() => this.#copyIntoFlow(spec, source, ctx));
  }

  /** convert → resize → chmod → rename over `final`; the temporary is removed on failure. */
  #convertInto(target: Located, volumeId: string, source: SourceImage, format: VolumeFormat, bytes: number, final: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const tmp = `${target.dir}/${tempFileName(volumeFileName(volumeId), "new")}`;
    const prealloc = this.#preallocation(format);
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
      .orElse((e) => this.#cleanup<void>([tmp], ctx, e));
  }

  /**
   * An image to import: its format given or probed; refused unless qemu-img can read it without
   * touching other files (no backing file, no external data file, vmdk extents only in itself).
   */
  #checkImage(image: ImageLocation, ctx: OperationContext): ResultAsync<SourceImage, VolkitError> {
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

  #pool(share: string, u: { totalBytes: number; availableBytes: number; allocatedBytes: number; volumes: number }): PoolStatsInput {
    return {
      poolName: share,
      totalCapacityGiB: round2(u.totalBytes / GiB),
      freeCapacityGiB: round2(u.availableBytes / GiB),
      reservedPercentage: this.#config.reservedPercentage,
      provisionedCapacityGiB: round2(u.allocatedBytes / GiB),
      allocatedCapacityGiB: round2((u.totalBytes - u.availableBytes) / GiB),
      maxOverSubscriptionRatio: this.#thin ? this.#config.maxOverSubscriptionRatio : 1,
      thinProvisioningSupport: this.#thin,
      thickProvisioningSupport: !this.#thin,
      totalVolumes: u.volumes,
      multiattach: false,
      qosSupport: false,
      locationInfo: `NfsDriver:${share}`,
      backendState: "up",
    };
  }

  #downPool(share: string): PoolStatsInput {
    return {
      poolName: share,
      totalCapacityGiB: "unknown",
      freeCapacityGiB: "unknown",
      reservedPercentage: this.#config.reservedPercentage,
      thinProvisioningSupport: this.#thin,
      thickProvisioningSupport: !this.#thin,
      multiattach: false,
      qosSupport: false,
      locationInfo: `NfsDriver:${share}`,
      backendState: "down",
    };
  }

  /** Removes temporaries after a failure (with a fresh context: a cancelled call still cleans up), then fails with `original`. */
  #cleanup<T>(paths: readonly string[], ctx: OperationContext, original: VolkitError): ResultAsync<T, VolkitError> {
    return ResultAsync.fromSafePromise(this.files.remove(paths, rollbackContext(ctx, 60_000))).andThen(() => errAsync(original));
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
