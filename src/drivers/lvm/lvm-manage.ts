import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { ExistingRef, ManageableVolume, VolumeInput, VolumeSpec } from "../../core/records.js";
import { LvmNameSchema, validate } from "../../core/validation.js";
import { mustNotExistIn } from "./lvm-checks.js";
import { GiB, gibCeil, type LvmClient } from "./lvm-client.js";
import type { ParsedLvmConfig } from "./lvm-config.js";
import { volumeLvName } from "./lvm-names.js";
import { isOpen, isThickSnapshot, isThinPool, type LvInfo } from "./lvm-parsers.js";

/**
 * Taking over LVs volkit did not create (Cinder's manage/unmanage): which LVs qualify, their size
 * in whole GiB, and the rename to volkit's naming.
 */
export class LvmManage {
  /** @param record - the volume record of a managed LV. */
  constructor(
    private readonly lvm: LvmClient,
    private readonly config: ParsedLvmConfig,
    private readonly record: (spec: VolumeSpec) => VolumeInput,
  ) {}

  /** Renames an existing LV to `volume-<id>` (growing it to whole GiB, as Cinder does). */
  manageExisting(spec: VolumeSpec, ref: ExistingRef, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const target = volumeLvName(spec.id);
    return this.manageableLv(ref, ctx).andThen((lv) => {
      const sizeGiB = gibCeil(lv.sizeBytes);
      if (lv.name === target) return okAsync(this.record({ ...spec, sizeGiB }));
      const grow = (): ResultAsync<void, VolkitError> => (lv.sizeBytes % GiB === 0 ? okAsync(undefined) : this.lvm.extend(lv.name, sizeGiB, ctx));
      return this.lvm
        .listLvs(ctx)
        .andThen((lvs) => mustNotExistIn(this.config, lvs, target))
        .andThen(grow)
        .andThen(() => this.lvm.rename(lv.name, target, ctx))
        .map(() => this.record({ ...spec, sizeGiB }));
    });
  }

  /** LVs of the VG that are plain or thin volumes (not pools, snapshots or volkit temporaries). */
  listManageable(ctx: OperationContext): ResultAsync<readonly ManageableVolume[], VolkitError> {
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

  /** The LV a reference names, if it may be managed (not a pool, snapshot or temporary; not open). */
  manageableLv(ref: ExistingRef, ctx: OperationContext): ResultAsync<LvInfo, VolkitError> {
    if (!("sourceName" in ref)) return errAsync(new VolkitError("INVALID_ARGUMENT", "the LVM driver manages LVs by sourceName", { source: "lvm" }));
    return validate(LvmNameSchema, ref.sourceName, "sourceName")
      .asyncAndThen((n) => this.lvm.findLv(n, ctx))
      .andThen((lv) => {
        if (!lv) return errAsync(new VolkitError("VOLUME_NOT_FOUND", `LV ${ref.sourceName} not found in ${this.config.volumeGroup}`, { source: "lvm" }));
        if (isThinPool(lv) || isThickSnapshot(lv) || lv.name.startsWith("_")) {
          return errAsync(new VolkitError("INVALID_ARGUMENT", `LV ${lv.name} is a pool, snapshot or volkit temporary and cannot be managed`, { source: "lvm" }));
        }
        if (isOpen(lv)) return errAsync(new VolkitError("VOLUME_BUSY", `LV ${lv.name} is open`, { source: "lvm" }));
        return okAsync(lv);
      });
  }
}
