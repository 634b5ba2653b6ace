import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type {
  ConnectionInfoInput,
  ExistingRef,
  HostProperties,
  ManageableVolume,
  ModelUpdateInput,
  PoolStatsInput,
  Snapshot,
  SnapshotInput,
  SnapshotSpec,
  Volume,
  VolumeInput,
  VolumeSpec,
} from "../../core/records.js";
import { LvmNameSchema, validate } from "../../core/validation.js";
import type { CopyEngineOptions } from "../../data/copy.js";
import type { CommandRunner } from "../../exec/runner.js";
import type { TargetHelper } from "../../targets/target-helper.js";
import { VolumeDriverBase } from "../base.js";
import type { AllocationSubject, ByteRange, DriverCapabilities, ExportState, IdRule } from "../volume-driver.js";
import { GiB, LvmClient, gibCeil } from "./lvm-client.js";
import type { ParsedLvmConfig } from "./lvm-config.js";
import { LvmData } from "./lvm-data.js";
import { LvmExports } from "./lvm-export.js";
import { cloneTempLvName, originTag, snapshotLvName, volumeLvName } from "./lvm-names.js";
import { hasThickSnapshots, isOpen, isThickSnapshot, isThinPool, isThinVolume, type LvInfo, type VgInfo } from "./lvm-parsers.js";
import { checkFits, poolStatsOf, resolveMode, thinPoolName, type LvmMode } from "./lvm-pool.js";
import { revertThick, revertThin } from "./lvm-revert.js";
import { ThinMapReader } from "./lvm-thin-map.js";

/** Dependencies of {@link LvmDriver}. */
export interface LvmDriverDeps {
  /** Runs lvm2, dd, blkdiscard (locally, via a root helper or over SSH). */
  readonly runner: CommandRunner;
  /** Exports volumes over iSCSI; absent = local connections only. */
  readonly target?: TargetHelper | undefined;
}

/** Internal sub-LV suffixes lvm2 refuses inside LV names. */
const LVM_RESERVED = /_(cdata|cmeta|corig|mimage|mlog|pmspare|rimage|rmeta|tdata|tmeta|vdata|vorigin|wcorig)/;

/**
 * Cinder-compatible LVM driver: thick or thin LVs in one volume group, snapshots, clones,
 * revert (thick by merge, thin by swapping in a thin snapshot), extend, wipe on delete, stats,
 * manage existing, and iSCSI exports through a {@link TargetHelper} (tgt or LIO).
 *
 * `initialize` only reads (the VG, its LVs, the target service); the thin pool of `lvmType` `thin`
 * or `auto` on an empty VG is created by `setup`, which the runtime runs before the first write.
 *
 * @example
 * ```ts
 * const backend = (await createBackend({ driver: "lvm", volumeGroup: "vg0" }))._unsafeUnwrap();
 * ```
 */
export class LvmDriver extends VolumeDriverBase {
  /** {@inheritDoc index!VolumeDriver.driverName} */
  readonly driverName = "lvm";
  /** {@inheritDoc index!VolumeDriver.vendorName} */
  override readonly vendorName = "Open Source";
  /** {@inheritDoc index!VolumeDriver.driverVersion} */
  override readonly driverVersion = "0.2.0";
  /**
   * With an iSCSI target the id is part of the target's IQN, which allows lower-case letters,
   * digits and `-` only (LIO refuses `_` and upper case for good); without one, anything lvm2 takes.
   */
  readonly idRule: IdRule;

  /** Typed lvm2 access (exposed for tests and advanced callers). */
  readonly lvm: LvmClient;
  readonly #config: ParsedLvmConfig;
  readonly #target: TargetHelper | undefined;
  readonly #data: LvmData;
  readonly #exports: LvmExports;
  readonly #thinMap: ThinMapReader;
  #mode: LvmMode | undefined;
  #host = "localhost";

  /** @param config - parsed config (see `LvmConfigSchema`); @param deps - runner and target helper. */
  constructor(config: ParsedLvmConfig, deps: LvmDriverDeps) {
    super(deps.runner);
    this.#config = config;
    this.#target = deps.target;
    this.lvm = new LvmClient(deps.runner, config);
    this.#data = new LvmData(this.lvm, deps.runner, config);
    this.#exports = new LvmExports(this.lvm, deps.target, config);
    this.#thinMap = new ThinMapReader(this.lvm, deps.runner, thinPoolName(config));
    this.#mode = config.lvmType === "thin" ? "thin" : config.lvmType === "default" ? "thick" : undefined;
    this.idRule = deps.target
      ? { pattern: /^[a-z0-9][a-z0-9-]*$/, description: "lower-case letters, digits and '-' (the id is part of the volume's iSCSI target name)" }
      : { pattern: new RegExp(`^(?!.*${LVM_RESERVED.source})`), description: "free of lvm2's reserved sub-volume names (_tdata, _rimage…)" };
  }

  /**
   * What the driver can do. With `lvmType: "auto"` both thin and thick are possible until
   * `initialize` has looked at the VG; then exactly one is.
   */
  get capabilities(): DriverCapabilities {
    const thin = this.#mode !== "thick";
    const thick = this.#mode !== "thin";
    return {
      thin,
      thick,
      snapshots: true,
      nativeClone: true,
      revertToSnapshot: true,
      onlineExtend: true,
      multiattach: false,
      manageExisting: true,
      sparseCopy: thin,
      qos: false,
      sharedTargets: false,
      protocol: this.#target ? "iscsi" : "local",
    };
  }

  /** Name of the thin pool. */
  get poolName(): string {
    return thinPoolName(this.#config);
  }

  /**
   * Reads only: checks the VG exists, resolves `lvmType` (`auto`: thin when the pool exists or the VG
   * has no LVs), checks the target service answers and learns the host name.
   */
  override initialize(ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#report(ctx)
      .andThen(({ vg, lvs }) => resolveMode(this.#config, vg, lvs).asyncAndThen((mode) => okAsync((this.#mode = mode))))
      .andThen(() => (this.#target ? ctx.phase("target-check", () => this.#target?.check(ctx) ?? okAsync(undefined)) : okAsync(undefined)))
      .andThen(() => (this.#config.host ? okAsync(this.#config.host) : this.lvm.run(["hostname"], ctx).map((o) => o.stdout.trim()).orElse(() => okAsync("localhost"))))
      .map((host) => {
        this.#host = host;
      });
  }

  /** Creates the thin pool (a share of the VG's free space) when volumes are thin and it is missing. */
  override setup(ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (this.#mode !== "thin") return okAsync(undefined);
    return this.lvm.findLv(this.poolName, ctx).andThen((pool) =>
      pool ? okAsync(undefined) : ctx.phase("create-pool", () => this.lvm.createThinPool(this.poolName, this.#config.thinPoolPercentOfFree, ctx)),
    );
  }

  /** Creates a thick or thin LV; `VOLUME_EXISTS` if the LV is already there. */
  createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const name = volumeLvName(spec.id);
    return this.#mustNotExist(name, ctx)
      .andThen(() => ctx.phase("capacity", () => this.#checkCapacity(spec.sizeGiB, ctx)))
      .andThen(() => ctx.phase("lvcreate", () => (this.#thin() ? this.lvm.createThin(name, spec.sizeGiB, this.poolName, ctx) : this.lvm.createThick(name, spec.sizeGiB, ctx))))
      .map(() => this.#volumeRecord(spec));
  }

  /**
   * Deletes a volume: `VOLUME_BUSY` while it has snapshots or is open (exported/attached);
   * thick volumes are zeroed (per `volumeClear`), thin volumes discarded; missing = success.
   */
  deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const name = volumeLvName(volume.id);
    return this.lvm.listLvs(ctx).andThen((lvs) => {
      const lv = lvs.find((l) => l.name === name);
      if (!lv) return okAsync(undefined);
      const snaps = snapshotsOf(lvs, volume.id, name);
      if (snaps.length > 0) {
        return errAsync(
          new VolkitError("VOLUME_BUSY", `volume ${volume.id} has ${snaps.length} snapshot(s); delete them first`, {
            source: "lvm",
            details: { volumeId: volume.id, snapshots: snaps.map((s) => s.name) },
          }),
        );
      }
      if (isOpen(lv)) return errAsync(openError(volume.id, "delete"));
      return ctx.phase("wipe", () => this.#data.wipe(lv, ctx)).andThen(() => ctx.phase("lvremove", () => this.lvm.remove(name, ctx)));
    });
  }

  /** Snapshots a volume (thin snapshot for thin origins, full-size COW for thick ones). */
  override createSnapshot(snapshot: SnapshotSpec, volume: Volume, ctx: OperationContext): ResultAsync<SnapshotInput, VolkitError> {
    const name = snapshotLvName(snapshot.id);
    const originName = volumeLvName(volume.id);
    return this.lvm.listLvs(ctx).andThen((lvs) => {
      const existing = lvs.find((l) => l.name === name);
      const record: SnapshotInput = { ...snapshot, providerLocation: this.lvm.devicePath(name) };
      if (existing) {
        return existing.tags.includes(originTag(volume.id))
          ? okAsync(record)
          : errAsync(new VolkitError("SNAPSHOT_EXISTS", `snapshot ${snapshot.id} exists for another volume`, { source: "lvm" }));
      }
      const origin = lvs.find((l) => l.name === originName);
      if (!origin) return errAsync(notFound(volume.id));
      const cow = isThinVolume(origin) ? {} : { cowBytes: origin.sizeBytes };
      return ctx.phase("lvcreate-snapshot", () => this.lvm.createSnapshot(name, originName, ctx, { ...cow, tags: [originTag(volume.id)] })).map(() => record);
    });
  }

  /** Deletes a snapshot (a thick snapshot's COW store zeroed first per `volumeClear`); missing = success. */
  override deleteSnapshot(snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const name = snapshotLvName(snapshot.id);
    return this.lvm.findLv(name, ctx).andThen((lv) => {
      if (!lv) return okAsync(undefined);
      if (isOpen(lv)) return errAsync(new VolkitError("VOLUME_BUSY", `snapshot ${snapshot.id} is open`, { source: "lvm" }));
      const wipe = isThickSnapshot(lv) ? ctx.phase("wipe", () => this.#data.wipeSnapshot(lv, ctx)) : okAsync(undefined);
      return wipe.andThen(() => ctx.phase("lvremove", () => this.lvm.remove(name, ctx)));
    });
  }

  /** New volume from a snapshot: thin = snapshot of the snapshot (+ extend); thick = full copy. */
  override createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const name = volumeLvName(spec.id);
    const snapName = snapshotLvName(snapshot.id);
    return this.#mustNotExist(name, ctx)
      .andThen(() => this.lvm.findLv(snapName, ctx))
      .andThen((snapLv) => {
        if (!snapLv) return errAsync(new VolkitError("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} not found`, { source: "lvm", details: { snapshotId: snapshot.id } }));
        return ctx
          .phase("capacity", () => this.#checkCapacity(spec.sizeGiB, ctx))
          .andThen(() =>
            isThinVolume(snapLv)
              ? this.#data.thinCopy(snapName, name, spec.sizeGiB, ctx)
              : this.#data.thickCopy(this.lvm.devicePath(snapName), snapshot.volumeSizeGiB * GiB, name, spec.sizeGiB, ctx),
          );
      })
      .map(() => this.#volumeRecord(spec));
  }

  /** Clone: thin = thin snapshot named as the new volume; thick = temporary snapshot + full copy. */
  createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const name = volumeLvName(spec.id);
    const srcName = volumeLvName(source.id);
    return this.#mustNotExist(name, ctx)
      .andThen(() => this.lvm.findLv(srcName, ctx))
      .andThen((src) => {
        if (!src) return errAsync(notFound(source.id));
        return ctx
          .phase("capacity", () => this.#checkCapacity(spec.sizeGiB, ctx))
          .andThen(() => (isThinVolume(src) ? this.#data.thinCopy(srcName, name, spec.sizeGiB, ctx) : this.#data.thickCloneViaSnapshot(src, cloneTempLvName(spec.id), name, spec.sizeGiB, ctx)));
      })
      .map(() => this.#volumeRecord(spec));
  }

  /**
   * Grows a volume. Online for thin and plain thick LVs; a thick origin with old-style snapshots
   * must be deactivated to grow (lvm2's rule), so it has to be detached (`VOLUME_BUSY` otherwise).
   * An existing export is refreshed so initiators can see the new size. Everything the refresh
   * needs (the stored CHAP credentials) is checked before the LV changes.
   */
  extendVolume(volume: Volume, newSizeGiB: number, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const name = volumeLvName(volume.id);
    return this.#exports.storedChap(volume).asyncAndThen((chap) =>
      this.lvm.findLv(name, ctx).andThen((lv) => {
        if (!lv) return errAsync(notFound(volume.id));
        const grown = { ...volume, sizeGiB: newSizeGiB };
        if (lv.sizeBytes >= newSizeGiB * GiB) return okAsync(grown); // already done (retry)
        if (hasThickSnapshots(lv) && isOpen(lv)) return errAsync(openError(volume.id, "extend a thick volume that has snapshots"));
        const grow = (): ResultAsync<void, VolkitError> => ctx.phase("lvextend", () => this.lvm.extend(name, newSizeGiB, ctx));
        // Thunks, not values: a ResultAsync starts running as soon as it is built.
        const resize = (): ResultAsync<void, VolkitError> => (hasThickSnapshots(lv) ? this.lvm.deactivate(name, ctx).andThen(grow).andThen(() => this.lvm.activate(name, ctx)) : grow());
        return ctx
          .phase("capacity", () => this.#checkCapacity(newSizeGiB - Math.floor(lv.sizeBytes / GiB), ctx))
          .andThen(resize)
          .andThen(() => this.#exports.refresh(volume, chap, ctx))
          .map(() => grown);
      }),
    );
  }

  /**
   * Restores a volume to a snapshot, keeping the snapshot and the volume's size (see
   * `revertThick`/`revertThin`). The volume must not be open (detach and remove its export first).
   */
  override revertToSnapshot(volume: Volume, snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const name = volumeLvName(volume.id);
    const snapName = snapshotLvName(snapshot.id);
    return this.lvm.listLvs(ctx).andThen((lvs) => {
      const lv = lvs.find((l) => l.name === name);
      const snap = lvs.find((l) => l.name === snapName);
      if (!lv) return errAsync(notFound(volume.id));
      if (!snap) return errAsync(new VolkitError("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} not found`, { source: "lvm" }));
      if (!snap.tags.includes(originTag(volume.id)) && snap.origin !== name) {
        return errAsync(new VolkitError("INVALID_ARGUMENT", `snapshot ${snapshot.id} is not a snapshot of volume ${volume.id}`, { source: "lvm" }));
      }
      if (isOpen(lv)) return errAsync(openError(volume.id, "revert"));
      return isThinVolume(lv) ? revertThin(this.lvm, volume.id, lv, snapName, ctx) : revertThick(this.lvm, volume.id, lv, snap, ctx);
    });
  }

  /** Exports the LV through the target helper, generating CHAP credentials once and reusing them. */
  override createExport(volume: Volume, _host: HostProperties | undefined, ctx: OperationContext): ResultAsync<ModelUpdateInput, VolkitError> {
    return this.#exports.create(volume, ctx);
  }

  /** Removes the export; ok when there is none. */
  override removeExport(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#exports.remove(volume, ctx);
  }

  /** Whether the target exists and which initiators have access. */
  override describeExport(volume: Volume, ctx: OperationContext): ResultAsync<ExportState, VolkitError> {
    return this.#exports.describe(volume, ctx);
  }

  /** iSCSI info with the host's initiator allowed (plural keys for several portals), or `local` info without a target. */
  initializeConnection(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError> {
    return this.#exports.initializeConnection(volume, host, this.#thin(), ctx);
  }

  /** Revokes the initiator (or all initiators when no host is given). */
  override terminateConnection(volume: Volume, host: HostProperties | undefined, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#exports.terminateConnection(volume, host, ctx);
  }

  /** The thin pool (or the VG for thick volumes) as one pool, per Cinder's LVM rules. Reads only. */
  getPoolStats(ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError> {
    return this.#report(ctx).map(({ vg, lvs }) => [poolStatsOf(this.#config, this.#currentMode(), vg, lvs, this.#host)]);
  }

  /** Renames an existing LV to `volume-<id>` (growing it to whole GiB, as Cinder does). */
  override manageExisting(spec: VolumeSpec, ref: ExistingRef, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const target = volumeLvName(spec.id);
    return this.#manageableLv(ref, ctx).andThen((lv) => {
      const sizeGiB = gibCeil(lv.sizeBytes);
      if (lv.name === target) return okAsync(this.#volumeRecord({ ...spec, sizeGiB }));
      const grow = (): ResultAsync<void, VolkitError> => (lv.sizeBytes % GiB === 0 ? okAsync(undefined) : this.lvm.extend(lv.name, sizeGiB, ctx));
      return this.#mustNotExist(target, ctx)
        .andThen(grow)
        .andThen(() => this.lvm.rename(lv.name, target, ctx))
        .map(() => this.#volumeRecord({ ...spec, sizeGiB }));
    });
  }

  /** Size in whole GiB (rounded up) of an LV that could be managed. */
  override manageExistingGetSize(ref: ExistingRef, ctx: OperationContext): ResultAsync<number, VolkitError> {
    return this.#manageableLv(ref, ctx).map((lv) => gibCeil(lv.sizeBytes));
  }

  /** Stops managing a volume; the LV and its data stay as they are. */
  override unmanage(_volume: Volume, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return okAsync(undefined);
  }

  /** LVs of the VG that are plain or thin volumes (not pools, snapshots or volkit temporaries). */
  override listManageable(ctx: OperationContext): ResultAsync<readonly ManageableVolume[], VolkitError> {
    return this.lvm.listLvs(ctx).map((lvs) =>
      lvs
        .filter((lv) => !isThinPool(lv) && !isThickSnapshot(lv) && !lv.name.startsWith("_") && !lv.name.startsWith("["))
        .map((lv): ManageableVolume => {
          const managed = lv.name.startsWith("volume-");
          const reason = managed ? "already managed by volkit" : isOpen(lv) ? "volume is open (in use)" : undefined;
          return {
            reference: { sourceName: lv.name },
            sizeGiB: gibCeil(lv.sizeBytes),
            safeToManage: reason === undefined,
            ...(reason === undefined ? {} : { reasonNotSafe: reason }),
            ...(managed ? { volkitId: lv.name.slice("volume-".length) } : {}),
          };
        }),
    );
  }

  /**
   * Thin volumes and snapshots: the ranges the thin pool has mapped (from a metadata snapshot, see
   * `ThinMapReader`); a backup reads only those. Thick LVs: `NOT_SUPPORTED` (every byte is allocated).
   */
  override allocationMap(subject: AllocationSubject, ctx: OperationContext): ResultAsync<readonly ByteRange[], VolkitError> {
    if (!this.#thin()) return super.allocationMap(subject, ctx);
    return this.#thinMap.read("volume" in subject ? volumeLvName(subject.volume.id) : snapshotLvName(subject.snapshot.id), ctx);
  }

  /** The LV's device path (used by the generic image copies). */
  protected override localPath(volume: Volume): ResultAsync<string, VolkitError> {
    return okAsync(this.lvm.devicePath(volumeLvName(volume.id)));
  }

  /** Block size, bandwidth cap and direct I/O for copies and wipes. */
  protected override copyOptions(): CopyEngineOptions {
    return this.#data.copyOptions();
  }

  /** The VG and its LVs (one `vgs`, one `lvs`). */
  #report(ctx: OperationContext): ResultAsync<{ vg: VgInfo; lvs: LvInfo[] }, VolkitError> {
    return ctx.phase("vgs", () => this.lvm.vgInfo(ctx)).andThen((vg) => this.lvm.listLvs(ctx).map((lvs) => ({ vg, lvs })));
  }

  #thin(): boolean {
    return this.#currentMode() === "thin";
  }

  /** The resolved mode (`initialize` always runs first; thick is the safe reading before it). */
  #currentMode(): LvmMode {
    return this.#mode ?? "thick";
  }

  #volumeRecord(spec: VolumeSpec): VolumeInput {
    return { ...spec, providerLocation: this.lvm.devicePath(volumeLvName(spec.id)) };
  }

  #mustNotExist(name: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.lvm.findLv(name, ctx).andThen((lv) =>
      lv
        ? errAsync(new VolkitError("VOLUME_EXISTS", `${this.#config.volumeGroup}/${name} already exists (${lv.sizeBytes} bytes)`, { source: "lvm", details: { lv: name, sizeBytes: lv.sizeBytes } }))
        : okAsync(undefined),
    );
  }

  /** Refuses a create/extend that the VG (thick) or the over-subscribed pool (thin) cannot hold. */
  #checkCapacity(sizeGiB: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (sizeGiB <= 0) return okAsync(undefined);
    return this.getPoolStats(ctx).andThen((pools) => {
      const pool = pools[0];
      return pool ? checkFits(this.#config, this.#currentMode(), pool, sizeGiB) : okAsync(undefined);
    });
  }

  #manageableLv(ref: ExistingRef, ctx: OperationContext): ResultAsync<LvInfo, VolkitError> {
    if (!("sourceName" in ref)) return errAsync(new VolkitError("INVALID_ARGUMENT", "the LVM driver manages LVs by sourceName", { source: "lvm" }));
    return validate(LvmNameSchema, ref.sourceName, "sourceName")
      .asyncAndThen((n) => this.lvm.findLv(n, ctx))
      .andThen((lv) => {
        if (!lv) return errAsync(new VolkitError("VOLUME_NOT_FOUND", `LV ${ref.sourceName} not found in ${this.#config.volumeGroup}`, { source: "lvm" }));
        if (isThinPool(lv) || isThickSnapshot(lv) || lv.name.startsWith("_")) {
          return errAsync(new VolkitError("INVALID_ARGUMENT", `LV ${lv.name} is a pool, snapshot or volkit temporary and cannot be managed`, { source: "lvm" }));
        }
        if (isOpen(lv)) return errAsync(new VolkitError("VOLUME_BUSY", `LV ${lv.name} is open`, { source: "lvm" }));
        return okAsync(lv);
      });
  }
}

/** Snapshots of a volume: our `_snapshot-*` LVs tagged with it or whose origin it is. */
function snapshotsOf(lvs: readonly LvInfo[], volumeId: string, lvName: string): LvInfo[] {
  return lvs.filter((l) => l.name.startsWith("_snapshot-") && (l.tags.includes(originTag(volumeId)) || l.origin === lvName));
}

function notFound(volumeId: string): VolkitError {
  return new VolkitError("VOLUME_NOT_FOUND", `volume ${volumeId} not found`, { source: "lvm", details: { volumeId } });
}

function openError(volumeId: string, what: string): VolkitError {
  return new VolkitError("VOLUME_BUSY", `cannot ${what} volume ${volumeId}: its device is open (exported or attached); remove the export and detach first`, {
    source: "lvm",
    details: { volumeId },
  });
}
