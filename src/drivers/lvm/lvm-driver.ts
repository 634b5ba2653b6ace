import { randomBytes } from "node:crypto";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { withRetry } from "../../core/retry.js";
import { registerSecret } from "../../core/secrets.js";
import {
  ConnectionInfoSchema,
  type ConnectionInfo,
  type ConnectorProperties,
  type ExistingRef,
  type ManageableVolume,
  type ModelUpdate,
  type PoolStats,
  type Snapshot,
  type SnapshotSpec,
  type Volume,
  type VolumeSpec,
  type VolumeStats,
} from "../../core/types.js";
import { LvmNameSchema, validate } from "../../core/validation.js";
import { copyDevice, discardDevice, zeroDevice, type CopyEngineOptions } from "../../data/copy.js";
import type { CommandRunner } from "../../exec/runner.js";
import { formatProviderAuth, parseProviderAuth, type ChapCredentials, type TargetHelper } from "../../targets/target-helper.js";
import { VolumeDriverBase } from "../base.js";
import type { DriverCapabilities } from "../volume-driver.js";
import { GiB, LvmClient, gibCeil } from "./lvm-client.js";
import type { ParsedLvmConfig } from "./lvm-config.js";
import {
  cloneTempLvName,
  originTag,
  revertOldLvName,
  revertTempLvName,
  snapshotLvName,
  volumeLvName,
  checkLvmId,
} from "./lvm-names.js";
import { hasThickSnapshots, isOpen, isThickSnapshot, isThinPool, isThinVolume, type LvInfo } from "./lvm-parsers.js";

/** Dependencies of {@link LvmDriver}. */
export interface LvmDriverDeps {
  /** Runs lvm2, dd, blkdiscard (locally, via a root helper or over SSH). */
  readonly runner: CommandRunner;
  /** Exports volumes over iSCSI; absent = local connections only. */
  readonly target?: TargetHelper | undefined;
}

/**
 * Cinder-compatible LVM driver: thick or thin LVs in one volume group, snapshots, clones,
 * revert (thick by merge, thin by swapping in a thin snapshot), extend, wipe on delete, stats,
 * manage existing, and iSCSI exports through a {@link TargetHelper} (tgt or LIO).
 *
 * @example
 * ```ts
 * const backend = (await createDriver({ driver: "lvm", volumeGroup: "vg0" }))._unsafeUnwrap();
 * ```
 */
export class LvmDriver extends VolumeDriverBase {
  /** {@inheritDoc index!VolumeDriver.driverName} */
  readonly driverName = "lvm";
  /** {@inheritDoc index!VolumeDriver.vendorName} */
  override readonly vendorName = "Open Source";
  /** {@inheritDoc index!VolumeDriver.driverVersion} */
  override readonly driverVersion = "0.1.0";

  /** Typed lvm2 access (exposed for tests and advanced callers). */
  readonly lvm: LvmClient;
  readonly #config: ParsedLvmConfig;
  readonly #target: TargetHelper | undefined;
  #thin = false;
  #host = "localhost";

  /** @param config - parsed config (see `LvmConfigSchema`); @param deps - runner and target helper. */
  constructor(config: ParsedLvmConfig, deps: LvmDriverDeps) {
    super(deps.runner);
    this.#config = config;
    this.#target = deps.target;
    this.lvm = new LvmClient(deps.runner, config);
  }

  /** {@inheritDoc index!VolumeDriver.capabilities} */
  get capabilities(): DriverCapabilities {
    return {
      thin: this.#thin,
      thick: !this.#thin,
      snapshots: true,
      nativeClone: true,
      revertToSnapshot: true,
      onlineExtend: true,
      multiattach: false,
      manageExisting: true,
      sparseCopy: this.#thin,
      protocol: this.#target ? "iSCSI" : "local",
    };
  }

  /** True when new volumes are thin (resolved by `setup`). */
  get thin(): boolean {
    return this.#thin;
  }

  /** Name of the thin pool. */
  get poolName(): string {
    return this.#config.thinPoolName ?? `${this.#config.volumeGroup}-pool`;
  }

  /**
   * Checks the VG exists, resolves `lvmType` (`auto`: thin when the pool exists or the VG has no
   * LVs), creates the thin pool when thin and missing, and checks the target service.
   */
  setup(ctx: OperationContext): ResultAsync<void, VolkitError> {
    return ctx
      .phase("vgs", () => this.lvm.vgInfo(ctx))
      .andThen((vg) => this.lvm.listLvs(ctx).map((lvs) => ({ vg, lvs })))
      .andThen(({ vg, lvs }) => {
        const pool = lvs.find((lv) => lv.name === this.poolName);
        const mode = this.#config.lvmType;
        this.#thin = mode === "thin" || (mode === "auto" && (pool !== undefined || vg.lvCount === 0));
        if (pool && !isThinPool(pool)) {
          return errAsync(new VolkitError("INVALID_CONFIG", `${this.#config.volumeGroup}/${this.poolName} exists but is not a thin pool`, { source: "lvm" }));
        }
        if (this.#thin && !pool) return ctx.phase("create-pool", () => this.lvm.createThinPool(this.poolName, this.#config.thinPoolPercentOfFree, ctx));
        return okAsync(undefined);
      })
      .andThen(() => (this.#target ? ctx.phase("target-check", () => this.#target?.check(ctx) ?? okAsync(undefined)) : okAsync(undefined)))
      .andThen(() =>
        this.#config.host
          ? okAsync(this.#config.host)
          : this.lvm.run(["hostname"], ctx).map((o) => o.stdout.trim()).orElse(() => okAsync("localhost")),
      )
      .map((host) => {
        this.#host = host;
      });
  }

  /** Creates a thick or thin LV; `VOLUME_EXISTS` if the LV is already there. */
  createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    const name = volumeLvName(spec.id);
    return checkLvmId(spec.id)
      .asyncAndThen(() => this.#mustNotExist(name, ctx))
      .andThen(() => ctx.phase("capacity", () => this.#checkCapacity(spec.sizeGiB, ctx)))
      .andThen(() =>
        ctx.phase("lvcreate", () => (this.#thin ? this.lvm.createThin(name, spec.sizeGiB, this.poolName, ctx) : this.lvm.createThick(name, spec.sizeGiB, ctx))),
      )
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
      if (isOpen(lv)) return errAsync(this.#openError(volume.id, "delete"));
      return ctx.phase("wipe", () => this.#wipe(lv, ctx)).andThen(() => ctx.phase("lvremove", () => this.lvm.remove(name, ctx)));
    });
  }

  /** Snapshots a volume (thin snapshot for thin origins, full-size COW for thick ones). */
  override createSnapshot(snapshot: SnapshotSpec, volume: Volume, ctx: OperationContext): ResultAsync<Snapshot, VolkitError> {
    const name = snapshotLvName(snapshot.id);
    const originName = volumeLvName(volume.id);
    return checkLvmId(snapshot.id)
      .asyncAndThen(() => this.lvm.listLvs(ctx))
      .andThen((lvs) => {
        const existing = lvs.find((l) => l.name === name);
        const record = { ...snapshot, providerLocation: this.lvm.devicePath(name) };
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

  /** Deletes a snapshot (thick COW zeroed first per `volumeClear`); missing = success. */
  override deleteSnapshot(snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const name = snapshotLvName(snapshot.id);
    return this.lvm.findLv(name, ctx).andThen((lv) => {
      if (!lv) return okAsync(undefined);
      if (isOpen(lv)) return errAsync(new VolkitError("VOLUME_BUSY", `snapshot ${snapshot.id} is open`, { source: "lvm" }));
      // A thick snapshot keeps the origin's old data in its exception store (the `-cow` layer,
      // lv_size bytes). Zero that store itself: writing zeros *through* the snapshot would need
      // more COW space than it has and invalidate it half way (EIO), leaking the rest.
      const wipe = isThickSnapshot(lv) && this.#config.volumeClear === "zero"
        ? ctx.phase("wipe", () => zeroDevice(this.runner as CommandRunner, { target: this.lvm.mapperPath(name, "cow"), bytes: this.#clearBytes(lv), ...this.copyOptions() }, ctx).map(() => undefined))
        : okAsync(undefined);
      return wipe.andThen(() => ctx.phase("lvremove", () => this.lvm.remove(name, ctx)));
    });
  }

  /** New volume from a snapshot: thin = snapshot of the snapshot (+ extend); thick = full copy. */
  override createVolumeFromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    const name = volumeLvName(spec.id);
    const snapName = snapshotLvName(snapshot.id);
    return checkLvmId(spec.id)
      .asyncAndThen(() => this.#mustNotExist(name, ctx))
      .andThen(() => this.lvm.findLv(snapName, ctx))
      .andThen((snapLv) => {
        if (!snapLv) return errAsync(new VolkitError("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} not found`, { source: "lvm", details: { snapshotId: snapshot.id } }));
        return isThinVolume(snapLv)
          ? this.#thinCopyOf(snapName, spec, ctx)
          : this.#thickCopyOf(this.lvm.devicePath(snapName), snapshot.volumeSizeGiB * GiB, spec, ctx);
      })
      .map(() => this.#volumeRecord(spec));
  }

  /** Clone: thin = thin snapshot named as the new volume; thick = temporary snapshot + full copy. */
  override createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    const name = volumeLvName(spec.id);
    const srcName = volumeLvName(source.id);
    return checkLvmId(spec.id)
      .asyncAndThen(() => this.#mustNotExist(name, ctx))
      .andThen(() => this.lvm.findLv(srcName, ctx))
      .andThen((src) => {
        if (!src) return errAsync(notFound(source.id));
        if (isThinVolume(src)) return this.#thinCopyOf(srcName, spec, ctx);
        // A temporary snapshot gives a consistent point-in-time source while the origin stays in use.
        const temp = cloneTempLvName(spec.id);
        return this.lvm
          .remove(temp, ctx) // leftover of an interrupted earlier attempt
          .andThen(() => ctx.phase("temp-snapshot", () => this.lvm.createSnapshot(temp, srcName, ctx, { cowBytes: src.sizeBytes })))
          .andThen(() =>
            new ResultAsync(
              (async () => {
                const copied = await this.#thickCopyOf(this.lvm.devicePath(temp), src.sizeBytes, spec, ctx);
                const dropped = await this.lvm.remove(temp, rollbackContext(ctx));
                return copied.andThen(() => dropped);
              })(),
            ),
          );
      })
      .map(() => this.#volumeRecord(spec));
  }

  /**
   * Grows a volume. Online for thin and plain thick LVs; a thick origin with old-style snapshots
   * must be deactivated to grow (lvm2's rule), so it has to be detached (`VOLUME_BUSY` otherwise).
   * An existing export is refreshed so initiators can see the new size.
   */
  override extendVolume(volume: Volume, newSizeGiB: number, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    const name = volumeLvName(volume.id);
    return this.lvm.findLv(name, ctx).andThen((lv) => {
      if (!lv) return errAsync(notFound(volume.id));
      const grown = { ...volume, sizeGiB: newSizeGiB };
      if (lv.sizeBytes >= newSizeGiB * GiB) return okAsync(grown); // already done (retry)
      const grow = (): ResultAsync<void, VolkitError> => ctx.phase("lvextend", () => this.lvm.extend(name, newSizeGiB, ctx));
      // Thunks, not values: a ResultAsync starts running as soon as it is built.
      const resize = (): ResultAsync<void, VolkitError> =>
        hasThickSnapshots(lv)
          ? isOpen(lv)
            ? errAsync(this.#openError(volume.id, "extend a thick volume that has snapshots"))
            : this.lvm.deactivate(name, ctx).andThen(grow).andThen(() => this.lvm.activate(name, ctx))
          : grow();
      return ctx
        .phase("capacity", () => this.#checkCapacity(newSizeGiB - Math.floor(lv.sizeBytes / GiB), ctx))
        .andThen(resize)
        .andThen(() => this.#refreshExport(volume, ctx))
        .map(() => grown);
    });
  }

  /**
   * Restores a volume to a snapshot, keeping the snapshot and the volume's size. Thick: merge the
   * snapshot, reactivate, wait for the merge, re-create the snapshot. Thin (unsupported upstream):
   * build a thin snapshot of the snapshot, swap it in by renames, drop the old LV; any failure
   * swaps back. The volume must not be open (detach and remove its export first).
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
      if (isOpen(lv)) return errAsync(this.#openError(volume.id, "revert"));
      return isThinVolume(lv) ? this.#revertThin(volume.id, lv, snapName, ctx) : this.#revertThick(volume.id, lv, snap, ctx);
    });
  }

  /** Exports the LV through the target helper, generating CHAP credentials once and reusing them. */
  override createExport(volume: Volume, _connector: ConnectorProperties | undefined, ctx: OperationContext): ResultAsync<ModelUpdate, VolkitError> {
    const target = this.#target;
    if (!target) return okAsync({});
    const name = volumeLvName(volume.id);
    const chap = this.#chapFor(volume);
    return this.lvm
      .findLv(name, ctx)
      .andThen((lv) => (lv ? okAsync(lv) : errAsync(notFound(volume.id))))
      .andThen(() => ctx.phase("export", () => target.createExport({ volumeId: volume.id, devicePath: this.lvm.devicePath(name), chap }, ctx)))
      .map((exp) => ({ providerLocation: exp.providerLocation, ...(chap ? { providerAuth: formatProviderAuth(chap) } : {}) }));
  }

  /** Removes the export; ok when there is none. */
  override removeExport(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#target ? ctx.phase("unexport", () => this.#target?.removeExport(volume.id, ctx) ?? okAsync(undefined)) : okAsync(undefined);
  }

  /**
   * iSCSI: allows the connector's initiator on the export and returns the target, portal(s), LUN(s)
   * and CHAP (plural keys when the target has several portals). Without a target: `local` info.
   */
  initializeConnection(volume: Volume, connector: ConnectorProperties, ctx: OperationContext): ResultAsync<ConnectionInfo, VolkitError> {
    const base = { volumeId: volume.id, accessMode: connector.readOnly ? "ro" : "rw", discard: this.#thin } as const;
    const target = this.#target;
    if (!target) return validate(ConnectionInfoSchema, { type: "local", ...base, devicePath: this.lvm.devicePath(volumeLvName(volume.id)) }, "connection info").asyncAndThen((v) => okAsync(v));
    const initiator = connector.initiator;
    if (!initiator) return errAsync(new VolkitError("INVALID_ARGUMENT", "iSCSI connections need the connector's initiator IQN", { source: "lvm" }));
    const chap = parseProviderAuth(volume.providerAuth);
    if (this.#config.target?.chap && !chap) {
      return errAsync(new VolkitError("INVALID_STATE", `volume ${volume.id} has no CHAP credentials in providerAuth; call createExport first`, { source: "lvm" }));
    }
    return target
      .getExport(volume.id, ctx)
      .andThen((exp) => (exp ? okAsync(exp) : errAsync(new VolkitError("INVALID_STATE", `volume ${volume.id} is not exported; call createExport first`, { source: "lvm" }))))
      .andThen((exp) =>
        ctx.phase("allow-initiator", () => target.allowInitiator(volume.id, initiator, chap, ctx)).andThen((lun) => {
          const multi = exp.portals.length > 1
            ? { targetPortals: [...exp.portals], targetIqns: exp.portals.map(() => exp.iqn), targetLuns: exp.portals.map(() => lun) }
            : {};
          const auth = chap ? { authMethod: "CHAP", authUsername: chap.username, authPassword: chap.password } : {};
          return validate(ConnectionInfoSchema, { type: "iscsi", ...base, targetDiscovered: false, targetIqn: exp.iqn, targetPortal: exp.portals[0], targetLun: lun, ...multi, ...auth }, "connection info");
        }),
      );
  }

  /** Revokes the initiator (or all initiators when no connector is given). */
  override terminateConnection(volume: Volume, connector: ConnectorProperties | undefined, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#target ? this.#target.denyInitiator(volume.id, connector?.initiator, ctx) : okAsync(undefined);
  }

  /** Capacity of the thin pool or the VG, with one pool entry, per Cinder's LVM rules. */
  getVolumeStats(_refresh: boolean, ctx: OperationContext): ResultAsync<VolumeStats, VolkitError> {
    return this.lvm.vgInfo(ctx).andThen((vg) =>
      this.lvm.listLvs(ctx).andThen((lvs) => {
        const volumes = lvs.filter((lv) => lv.name.startsWith("volume-"));
        let total: number, free: number, provisioned: number, dataPercent: number | undefined;
        if (this.#thin) {
          const pool = lvs.find((lv) => lv.name === this.poolName);
          if (!pool) return errAsync(new VolkitError("BACKEND_UNAVAILABLE", `thin pool ${this.poolName} is missing`, { source: "lvm" }));
          dataPercent = pool.dataPercent ?? 0;
          total = pool.sizeBytes / GiB;
          free = total - (total * dataPercent) / 100;
          provisioned = lvs.filter((lv) => lv.pool === this.poolName).reduce((sum, lv) => sum + lv.sizeBytes, 0) / GiB;
        } else {
          total = vg.sizeBytes / GiB;
          free = vg.freeBytes / GiB / (this.#config.mirrors + 1);
          provisioned = total - vg.freeBytes / GiB;
        }
        const mosr = this.#config.maxOverSubscriptionRatio === "auto" ? autoRatio(provisioned, total) : this.#config.maxOverSubscriptionRatio;
        const pool: PoolStats = {
          poolName: this.#config.volumeGroup,
          totalCapacityGb: round2(total),
          freeCapacityGb: round2(free),
          reservedPercentage: this.#config.reservedPercentage,
          provisionedCapacityGb: round2(provisioned),
          allocatedCapacityGb: round2(total - free),
          maxOverSubscriptionRatio: this.#thin ? mosr : 1,
          thinProvisioningSupport: this.#thin,
          thickProvisioningSupport: !this.#thin,
          totalVolumes: volumes.length,
          multiattach: false,
          qosSupport: false,
          locationInfo: `LVMVolumeDriver:${this.#host}:${this.#config.volumeGroup}:${this.#thin ? "thin" : "default"}:${this.#config.mirrors}`,
          backendState: "up",
          ...(dataPercent === undefined ? {} : { dataPercent }),
        };
        return okAsync<VolumeStats, VolkitError>({
          volumeBackendName: this.#config.backendName ?? `lvm-${this.#config.volumeGroup}`,
          vendorName: this.vendorName,
          driverVersion: this.driverVersion,
          storageProtocol: this.#target ? "iSCSI" : "local",
          totalCapacityGb: pool.totalCapacityGb,
          freeCapacityGb: pool.freeCapacityGb,
          reservedPercentage: pool.reservedPercentage,
          onlineExtendSupport: true,
          sparseCopyVolume: this.#thin,
          sharedTargets: false,
          pools: [pool],
        });
      }),
    );
  }

  /** Renames an existing LV to `volume-<id>` (growing it to whole GiB, as Cinder does). */
  override manageExisting(spec: VolumeSpec, ref: ExistingRef, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    const target = volumeLvName(spec.id);
    return this.#manageableLv(ref, ctx).andThen((lv) => {
      if (lv.name === target) return okAsync(this.#volumeRecord({ ...spec, sizeGiB: gibCeil(lv.sizeBytes) }));
      const sizeGiB = gibCeil(lv.sizeBytes);
      const grow = (): ResultAsync<void, VolkitError> => (lv.sizeBytes % GiB === 0 ? okAsync(undefined) : this.lvm.extend(lv.name, sizeGiB, ctx));
      return checkLvmId(spec.id)
        .asyncAndThen(() => this.#mustNotExist(target, ctx))
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

  /** The LV's device path (used by the generic image copies). */
  protected override localPath(volume: Volume): ResultAsync<string, VolkitError> {
    return okAsync(this.lvm.devicePath(volumeLvName(volume.id)));
  }

  /** Block size, bandwidth cap and direct I/O for copies and wipes. */
  protected override copyOptions(): CopyEngineOptions {
    const ionice = this.#config.volumeClearIonice;
    return {
      blockBytes: this.#config.copyBlockBytes,
      bandwidthLimitBps: this.#config.copyBandwidthLimitBps,
      direct: true,
      ...(ionice ? { ionice: ["ionice", ...ionice.split(" ")] } : {}),
    };
  }

  #volumeRecord(spec: VolumeSpec): Volume {
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
    return this.getVolumeStats(true, ctx).andThen((stats) => {
      const pool = stats.pools[0];
      if (!pool || typeof pool.totalCapacityGb !== "number" || typeof pool.freeCapacityGb !== "number") return okAsync(undefined);
      const usable = pool.totalCapacityGb * (1 - pool.reservedPercentage / 100);
      const fits = this.#thin
        ? (pool.provisionedCapacityGb ?? 0) + sizeGiB <= usable * (pool.maxOverSubscriptionRatio ?? 1) && pool.freeCapacityGb > pool.totalCapacityGb * (pool.reservedPercentage / 100)
        : pool.freeCapacityGb - pool.totalCapacityGb * (pool.reservedPercentage / 100) >= sizeGiB;
      return fits
        ? okAsync(undefined)
        : errAsync(
            new VolkitError("INSUFFICIENT_CAPACITY", `${sizeGiB} GiB does not fit in ${this.#thin ? `thin pool ${this.poolName}` : `volume group ${this.#config.volumeGroup}`} (free ${pool.freeCapacityGb} GiB, provisioned ${pool.provisionedCapacityGb} of ${pool.totalCapacityGb} GiB)`, {
              source: "lvm",
              details: { requestedGiB: sizeGiB, freeGiB: pool.freeCapacityGb, provisionedGiB: pool.provisionedCapacityGb, totalGiB: pool.totalCapacityGb },
            }),
          );
    });
  }

  #clearBytes(lv: LvInfo): number {
    const limit = this.#config.volumeClearSizeMiB * 1024 * 1024;
    return limit > 0 ? Math.min(limit, lv.sizeBytes) : lv.sizeBytes;
  }

  /** Thick: zero (unless volumeClear=none). Thin: discard, so the pool gets the blocks back. */
  #wipe(lv: LvInfo, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const runner = this.runner as CommandRunner;
    const device = this.lvm.devicePath(lv.name);
    if (isThinVolume(lv)) {
      return discardDevice(runner, device, ctx).orElse((e) => {
        // Discard is an optimisation for thin LVs: the pool zeroes newly provisioned blocks anyway.
        ctx.logger.warn({ volume: lv.name, code: e.code }, "discard failed; removing without it");
        return okAsync(undefined);
      });
    }
    if (this.#config.volumeClear === "none") return okAsync(undefined);
    return zeroDevice(runner, { target: device, bytes: this.#clearBytes(lv), ...this.copyOptions() }, ctx).map(() => undefined);
  }

  /** Thin copy: a thin snapshot named as the new volume, activated, grown when asked. */
  #thinCopyOf(sourceLv: string, spec: VolumeSpec, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const name = volumeLvName(spec.id);
    return ctx
      .phase("capacity", () => this.#checkCapacity(spec.sizeGiB, ctx))
      .andThen(() => ctx.phase("thin-snapshot", () => this.lvm.createSnapshot(name, sourceLv, ctx, { activate: true })))
      .andThen(() =>
        this.lvm
          .findLv(name, ctx)
          .andThen((lv) => (lv && lv.sizeBytes < spec.sizeGiB * GiB ? ctx.phase("lvextend", () => this.lvm.extend(name, spec.sizeGiB, ctx)) : okAsync(undefined)))
          .andThen(() => this.lvm.activate(name, ctx))
          .orElse((e) => this.lvm.remove(name, rollbackContext(ctx)).andThen(() => errAsync(e))),
      );
  }

  /** Thick copy: allocate the new LV and copy `bytes` into it; the new LV is removed on failure. */
  #thickCopyOf(sourceDevice: string, bytes: number, spec: VolumeSpec, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const name = volumeLvName(spec.id);
    const runner = this.runner as CommandRunner;
    return ctx
      .phase("capacity", () => this.#checkCapacity(spec.sizeGiB, ctx))
      .andThen(() => ctx.phase("lvcreate", () => this.lvm.createThick(name, spec.sizeGiB, ctx)))
      .andThen(() =>
        ctx
          .phase("copy", () => copyDevice(runner, { source: sourceDevice, target: this.lvm.devicePath(name), bytes, ...this.copyOptions(), sparse: false }, ctx))
          .map(() => undefined)
          .orElse((e) => this.lvm.remove(name, rollbackContext(ctx)).andThen(() => errAsync(e))),
      );
  }

  #revertThick(volumeId: string, lv: LvInfo, snap: LvInfo, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const name = lv.name;
    return ctx
      .phase("merge", () => this.lvm.merge(snap.name, ctx))
      .andThen(() => ctx.phase("reactivate", () => this.lvm.deactivate(name, ctx).andThen(() => this.lvm.activate(name, ctx))))
      .andThen(() => ctx.phase("wait-merge", () => this.#waitGone(snap.name, ctx)))
      .andThen(() => ctx.phase("recreate-snapshot", () => this.lvm.createSnapshot(snap.name, name, ctx, { cowBytes: lv.sizeBytes, tags: [originTag(volumeId)] })));
  }

  #revertThin(volumeId: string, lv: LvInfo, snapName: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const temp = revertTempLvName(volumeId);
    const old = revertOldLvName(volumeId);
    const name = lv.name;
    const undo = (e: VolkitError): ResultAsync<void, VolkitError> => {
      const rctx = rollbackContext(ctx);
      return this.lvm
        .listLvs(rctx)
        .andThen((lvs) => {
          const has = (n: string): boolean => lvs.some((l) => l.name === n);
          const restore = !has(name) && has(old) ? this.lvm.rename(old, name, rctx) : okAsync<void, VolkitError>(undefined);
          return restore.andThen(() => (has(temp) ? this.lvm.remove(temp, rctx) : okAsync(undefined)));
        })
        .orElse(() => okAsync(undefined))
        .andThen(() => errAsync(e));
    };
    return this.lvm
      .remove(temp, ctx)
      .andThen(() => ctx.phase("thin-snapshot", () => this.lvm.createSnapshot(temp, snapName, ctx, { activate: true })))
      .andThen(() => this.lvm.findLv(temp, ctx))
      .andThen((t) => (t && t.sizeBytes < lv.sizeBytes ? this.lvm.extendBytes(temp, lv.sizeBytes, ctx) : okAsync(undefined)))
      .andThen(() => ctx.phase("swap", () => this.lvm.rename(name, old, ctx).andThen(() => this.lvm.rename(temp, name, ctx))))
      .andThen(() => this.lvm.activate(name, ctx))
      .orElse(undo)
      .andThen(() => ctx.phase("drop-old", () => this.lvm.remove(old, ctx)));
  }

  /** Waits (backoff, under the deadline) until an LV is gone, e.g. a merging snapshot. */
  #waitGone(name: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return withRetry(
      () =>
        this.lvm.findLv(name, ctx).andThen((lv) =>
          lv ? errAsync(new VolkitError("TIMEOUT", `${name} still present (merge in progress)`, { source: "lvm", transient: true })) : okAsync(undefined),
        ),
      { retries: 40, minTimeoutMs: 100, maxTimeoutMs: 2000, factor: 1.5, signal: ctx.signal },
    );
  }

  #refreshExport(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const target = this.#target;
    if (!target) return okAsync(undefined);
    return target.getExport(volume.id, ctx).andThen((exp) =>
      exp
        ? ctx.phase("refresh-export", () => target.refreshSize({ volumeId: volume.id, devicePath: this.lvm.devicePath(volumeLvName(volume.id)), chap: parseProviderAuth(volume.providerAuth) }, ctx))
        : okAsync(undefined),
    );
  }

  #chapFor(volume: Volume): ChapCredentials | undefined {
    if (!this.#config.target?.chap) return undefined;
    const chap = parseProviderAuth(volume.providerAuth) ?? { username: randomToken(20), password: randomToken(16) };
    registerSecret(chap.password);
    return chap;
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

  #openError(volumeId: string, what: string): VolkitError {
    return new VolkitError("VOLUME_BUSY", `cannot ${what} volume ${volumeId}: its device is open (exported or attached); remove the export and detach first`, {
      source: "lvm",
      details: { volumeId },
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

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Cinder's `auto` ratio: grows with what is already provisioned, never below 1. */
function autoRatio(provisioned: number, total: number): number {
  return total <= 0 ? 1 : round2(Math.max(1, 1 + provisioned / total));
}

/** Random token of letters and digits (CHAP user names and secrets). */
function randomToken(length: number): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}
