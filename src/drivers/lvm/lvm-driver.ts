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
import { FilePathSchema, validate } from "../../core/validation.js";
import type { CopyEngineOptions, CopyReport } from "../../data/copy.js";
import type { CommandRunner } from "../../exec/runner.js";
import type { TargetHelper } from "../../targets/target-helper.js";
import { VolumeDriverBase } from "../base.js";
import type { AllocationSubject, ByteRange, DriverCapabilities, ExportState, IdRule } from "../volume-driver.js";
import { GiB, LvmClient, gibCeil } from "./lvm-client.js";
import type { ParsedLvmConfig } from "./lvm-config.js";
import { LvmData } from "./lvm-data.js";
import { existsError, fitsIn, mustNotExistIn, notFound, openError, snapshotsOf } from "./lvm-checks.js";
import { LvmExports } from "./lvm-export.js";
import { LvmManage } from "./lvm-manage.js";
import { cloneTempLvName, originTag, snapshotLvName, volumeLvName } from "./lvm-names.js";
import { hasThickSnapshots, isActive, isOpen, isThickSnapshot, isThinVolume, type LvInfo, type VgInfo } from "./lvm-parsers.js";
import { poolStatsOf, resolveMode, thinPoolName, type LvmMode } from "./lvm-pool.js";
import { revertThick, revertThin } from "./lvm-revert.js";
import { ThinMapReader } from "./lvm-thin-map.js";

/** Dependencies of {@link LvmDriver}. */
export interface LvmDriverDeps {
  /** Runs lvm2, dd, blkdiscard (locally, via a root helper or over SSH). */
  readonly runner: CommandRunner;
  /** Exports volumes over iSCSI; absent = local connections only. */
  readonly target?: TargetHelper | undefined;
}

/** How long what `initialize` read stands in for `setup`'s own read (setup normally follows at once). */
const SETUP_REUSE_MS = 5_000;

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
  readonly #manage: LvmManage;
  #mode: LvmMode | undefined;
  /** The runner host's name for stats, learned on first use (no command on the create path). */
  #host: string | undefined;
  /** LVs seen by `initialize`, handed to `setup` when it follows at once, so it reads nothing again. */
  #initialLvs: { readonly lvs: LvInfo[]; readonly at: number } | undefined;

  /** @param config - parsed config (see `LvmConfigSchema`); @param deps - runner and target helper. */
  constructor(config: ParsedLvmConfig, deps: LvmDriverDeps) {
    super(deps.runner);
    this.#config = config;
    this.#target = deps.target;
    this.lvm = new LvmClient(deps.runner, config);
    this.#thinMap = new ThinMapReader(this.lvm, deps.runner, thinPoolName(config));
    this.#data = new LvmData(this.lvm, deps.runner, config, this.#thinMap);
    this.#exports = new LvmExports(this.lvm, deps.target, config);
    this.#manage = new LvmManage(this.lvm, config, (spec) => this.#volumeRecord(spec));
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
      .andThen(({ vg, lvs }) =>
        resolveMode(this.#config, vg, lvs).asyncAndThen((mode) => {
          this.#mode = mode;
          this.#initialLvs = { lvs, at: Date.now() };
          return okAsync(undefined);
        }),
      )
      .andThen(() => (this.#target ? ctx.phase("target-check", () => this.#target?.check(ctx) ?? okAsync(undefined)) : okAsync(undefined)));
  }

  /** Creates the thin pool (a share of the VG's free space) when volumes are thin and it is missing. */
  override setup(ctx: OperationContext): ResultAsync<void, VolkitError> {
    const seen = this.#initialLvs;
    this.#initialLvs = undefined;
    if (this.#mode !== "thin") return okAsync(undefined);
    const fresh = seen !== undefined && Date.now() - seen.at < SETUP_REUSE_MS;
    const pool = fresh ? okAsync(seen.lvs.find((lv) => lv.name === this.poolName)) : this.lvm.findLv(this.poolName, ctx);
    return pool.andThen((found) =>
      found ? okAsync(undefined) : ctx.phase("create-pool", () => this.lvm.createThinPool(this.poolName, this.#config.thinPoolPercentOfFree, ctx)),
    );
  }

  /**
   * Creates a thick or thin LV; `VOLUME_EXISTS` if the LV is already there. Thin: one report (the
   * LV's existence and the pool's capacity) and `lvcreate`. Thick: `lvcreate` alone, whose own
   * "already exists" and "insufficient free space" failures are the checks, unless a reserve is
   * configured (then one `vgs` first).
   */
  createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const name = volumeLvName(spec.id);
    const create = (): ResultAsync<void, VolkitError> =>
      ctx.phase("lvcreate", () => (this.#thin() ? this.lvm.createThin(name, spec.sizeGiB, this.poolName, ctx) : this.lvm.createThick(name, spec.sizeGiB, ctx))).mapErr((e) => existsError(this.#config, e, name));
    const checked = this.#thin()
      ? ctx.phase("report", () => this.#report(ctx)).andThen((report) => mustNotExistIn(this.#config, report.lvs, name).asyncAndThen(() => this.#fits(report, spec.sizeGiB)))
      : this.#thickFits(spec.sizeGiB, ctx);
    return checked.andThen(create).map(() => this.#volumeRecord(spec));
  }

  /**
   * Deletes a volume: `VOLUME_BUSY` while it has snapshots or is open (exported/attached);
   * thick volumes are zeroed first (per `volumeClear`), thin ones removed at once (discarded first
   * with `thinDiscardOnDelete`); missing = success. One `lvs`, then the wipe and `lvremove`.
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

  /** New volume from a snapshot: thin = snapshot of the snapshot (+ extend); thick = full copy. One report first. */
  override createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const name = volumeLvName(spec.id);
    const snapName = snapshotLvName(snapshot.id);
    return ctx
      .phase("report", () => this.#report(ctx))
      .andThen((report) => {
        const snapLv = report.lvs.find((lv) => lv.name === snapName);
        if (!snapLv) return errAsync(new VolkitError("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} not found`, { source: "lvm", details: { snapshotId: snapshot.id } }));
        return mustNotExistIn(this.#config, report.lvs, name)
          .asyncAndThen(() => this.#fits(report, spec.sizeGiB))
          .andThen(() =>
            isThinVolume(snapLv)
              ? this.#data.thinCopy(snapLv, name, spec.sizeGiB, ctx)
              : this.#data.thickCopy(this.lvm.devicePath(snapName), snapshot.volumeSizeGiB * GiB, name, spec.sizeGiB, ctx),
          );
      })
      .mapErr((e) => existsError(this.#config, e, name))
      .map(() => this.#volumeRecord(spec));
  }

  /**
   * Clone: thin = one thin snapshot named as the new volume (+ `lvextend` when larger); thick =
   * temporary snapshot + full copy. One report first (existence, source, capacity).
   */
  createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const name = volumeLvName(spec.id);
    const srcName = volumeLvName(source.id);
    const tempName = cloneTempLvName(spec.id);
    return ctx
      .phase("report", () => this.#report(ctx))
      .andThen((report) => {
        const src = report.lvs.find((lv) => lv.name === srcName);
        if (!src) return errAsync(notFound(source.id));
        const leftover = report.lvs.some((lv) => lv.name === tempName);
        return mustNotExistIn(this.#config, report.lvs, name)
          .asyncAndThen(() => this.#fits(report, spec.sizeGiB))
          .andThen(() => (isThinVolume(src) ? this.#data.thinCopy(src, name, spec.sizeGiB, ctx) : this.#data.thickCloneViaSnapshot(src, tempName, leftover, name, spec.sizeGiB, ctx)));
      })
      .mapErr((e) => existsError(this.#config, e, name))
      .map(() => this.#volumeRecord(spec));
  }

  /**
   * Copies a volume's data into `target`, a block device on the runner's host that reads as zeros
   * (a new thin LV, e.g. in another VG: what a migration does). A thin volume is read from the thin
   * pool's mapping, copying only its allocated blocks with one dd, so the target stays as sparse as
   * the source; a thick one is copied whole, zero blocks skipped. Copy a volume nobody writes
   * (detached), as for any copy.
   */
  copyVolumeData(volume: Volume, target: string, ctx: OperationContext): ResultAsync<CopyReport, VolkitError> {
    const name = volumeLvName(volume.id);
    return validate(FilePathSchema, target, "target").asyncAndThen((path) =>
      this.lvm.findLv(name, ctx).andThen((lv) => {
        if (!lv) return errAsync(notFound(volume.id));
        return (isActive(lv) ? okAsync(undefined) : this.lvm.activate(name, ctx)).andThen(() => this.#data.copyData(lv, path, ctx));
      }),
    );
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
      ctx.phase("report", () => this.#report(ctx)).andThen((report) => {
        const lv = report.lvs.find((l) => l.name === name);
        if (!lv) return errAsync(notFound(volume.id));
        const grown = { ...volume, sizeGiB: newSizeGiB };
        if (lv.sizeBytes >= newSizeGiB * GiB) return okAsync(grown); // already done (retry)
        if (hasThickSnapshots(lv) && isOpen(lv)) return errAsync(openError(volume.id, "extend a thick volume that has snapshots"));
        const grow = (): ResultAsync<void, VolkitError> => ctx.phase("lvextend", () => this.lvm.extend(name, newSizeGiB, ctx));
        // Thunks, not values: a ResultAsync starts running as soon as it is built.
        const resize = (): ResultAsync<void, VolkitError> => (hasThickSnapshots(lv) ? this.lvm.deactivate(name, ctx).andThen(grow).andThen(() => this.lvm.activate(name, ctx)) : grow());
        return this.#fits(report, newSizeGiB - Math.floor(lv.sizeBytes / GiB))
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

  /** The thin pool (or the VG for thick volumes) as one pool, per Cinder's LVM rules. Reads only: one report. */
  getPoolStats(ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError> {
    return this.#report(ctx).andThen(({ vg, lvs }) => this.#hostName(ctx).map((host) => [poolStatsOf(this.#config, this.#currentMode(), vg, lvs, host)]));
  }

  /** Renames an existing LV to `volume-<id>` (growing it to whole GiB, as Cinder does). */
  override manageExisting(spec: VolumeSpec, ref: ExistingRef, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#manage.manageExisting(spec, ref, ctx);
  }

  /** Size in whole GiB (rounded up) of an LV that could be managed. */
  override manageExistingGetSize(ref: ExistingRef, ctx: OperationContext): ResultAsync<number, VolkitError> {
    return this.#manage.manageableLv(ref, ctx).map((lv) => gibCeil(lv.sizeBytes));
  }

  /** Stops managing a volume; the LV and its data stay as they are. */
  override unmanage(_volume: Volume, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    return okAsync(undefined);
  }

  /** LVs of the VG that are plain or thin volumes (not pools, snapshots or volkit temporaries). */
  override listManageable(ctx: OperationContext): ResultAsync<readonly ManageableVolume[], VolkitError> {
    return this.#manage.listManageable(ctx);
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

  /** The VG and its LVs: one command (`vgs` with LV fields; a second only for a VG without LVs). */
  #report(ctx: OperationContext): ResultAsync<{ vg: VgInfo; lvs: LvInfo[] }, VolkitError> {
    return this.lvm.report(ctx);
  }

  /** The configured host name, else the runner host's `hostname` (asked once), else `localhost`. */
  #hostName(ctx: OperationContext): ResultAsync<string, VolkitError> {
    const known = this.#config.host ?? this.#host;
    if (known !== undefined) return okAsync(known);
    return this.lvm
      .run(["hostname"], ctx)
      .map((o) => o.stdout.trim() || "localhost")
      .orElse(() => okAsync("localhost"))
      .map((host) => (this.#host = host));
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

  /** Refuses `sizeGiB` more that the VG (thick) or the over-subscribed pool (thin) in `report` cannot hold. */
  #fits(report: { vg: VgInfo; lvs: LvInfo[] }, sizeGiB: number): ResultAsync<void, VolkitError> {
    const fits = fitsIn(this.#config, this.#currentMode(), report, sizeGiB);
    return fits.isOk() ? okAsync(undefined) : errAsync(fits.error);
  }

  /**
   * A thick create's capacity check: lvcreate refuses what the VG cannot hold by itself, so only a
   * configured reserve needs the VG read first.
   */
  #thickFits(sizeGiB: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (this.#config.reservedPercentage <= 0) return okAsync(undefined);
    return ctx.phase("vgs", () => this.lvm.vgInfo(ctx)).andThen((vg) => this.#fits({ vg, lvs: [] }, sizeGiB));
  }
}
