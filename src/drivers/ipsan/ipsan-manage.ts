import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { ExistingRef, ManageableVolume, Volume, VolumeInput, VolumeSpec } from "../../core/records.js";
import { validate } from "../../core/validation.js";
import type { IpsanClient } from "./ipsan-client.js";
import type { ParsedIpsanConfig } from "./ipsan-config.js";
import type { IpsanLuns } from "./ipsan-luns.js";
import { lunDescription, lunNameOf, parseLunDescription } from "./ipsan-names.js";
import type { IpsanQos } from "./ipsan-qos.js";
import { gibCeilOfSectors, sectorsOfGiB, volumeRecordOf } from "./ipsan-records.js";
import { ArrayIdSchema, ArrayNameSchema } from "./ipsan-rest.js";
import type { LunInfo } from "./ipsan-types.js";

/** Name prefix of an unmanaged LUN whose original name is unknown or taken. */
const UNMANAGED_PREFIX = "volkit-unmanaged-";

/**
 * Manage and unmanage existing LUNs (Cinder's `manage_existing` by `source-name`/`source-id`): a
 * managed LUN is renamed to volkit's name for the volume, its original name kept in its
 * description, and grown to a whole GiB; unmanage gives it its name back (the data stays).
 */
export class IpsanManage {
  readonly #client: IpsanClient;
  readonly #config: ParsedIpsanConfig;
  readonly #luns: IpsanLuns;
  readonly #qos: IpsanQos;

  /** @param deps - REST client, parsed config, LUNs and QoS. */
  constructor(deps: { client: IpsanClient; config: ParsedIpsanConfig; luns: IpsanLuns; qos: IpsanQos }) {
    this.#client = deps.client;
    this.#config = deps.config;
    this.#luns = deps.luns;
    this.#qos = deps.qos;
  }

  /** Takes over the LUN `ref` names as volume `spec.id` (idempotent for the same id). */
  manage(spec: VolumeSpec, ref: ExistingRef, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const target = lunNameOf(spec.id);
    return this.#lunOf(ref, ctx).andThen((lun) => {
      const sizeGiB = gibCeilOfSectors(lun.capacitySectors);
      const marker = parseLunDescription(lun.description);
      if (marker?.volumeId === spec.id && lun.name === target) return okAsync(volumeRecordOf({ ...spec, sizeGiB }, lun));
      const refusal = this.#refusal(lun);
      if (refusal) return errAsync(refusal);
      const luns = this.#client.luns;
      const grow = lun.capacitySectors === sectorsOfGiB(sizeGiB) ? okAsync<void, VolkitError>(undefined) : luns.expand(lun.id, sectorsOfGiB(sizeGiB), ctx);
      return luns
        .findByName(target, ctx)
        .andThen((taken) => (taken ? errAsync(new VolkitError("VOLUME_EXISTS", `volume ${spec.id} already has a LUN on the array (${taken.id})`, { source: "ipsan", details: { lunId: taken.id } })) : okAsync(undefined)))
        .andThen(() => grow)
        .andThen(() => luns.update(lun.id, { name: target, description: lunDescription({ volumeId: spec.id, copying: false, managedFrom: lun.name }) }, ctx))
        .andThen(() => luns.get(lun.id, ctx))
        .andThen((renamed) => this.#qos.apply(renamed, spec, ctx).map(() => volumeRecordOf({ ...spec, sizeGiB }, renamed)));
    });
  }

  /** Size in whole GiB (rounded up) of a LUN that could be managed. */
  size(ref: ExistingRef, ctx: OperationContext): ResultAsync<number, VolkitError> {
    return this.#lunOf(ref, ctx).andThen((lun) => {
      const refusal = this.#refusal(lun);
      return refusal ? errAsync(refusal) : okAsync(gibCeilOfSectors(lun.capacitySectors));
    });
  }

  /** Gives a managed LUN its original name back (or `volkit-unmanaged-<id>`); a missing volume succeeds. */
  unmanage(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const luns = this.#client.luns;
    return this.#luns.find(volume, ctx).andThen((lun) => {
      if (!lun) return okAsync(undefined);
      const original = parseLunDescription(lun.description)?.managedFrom;
      const free = original === undefined ? okAsync(false) : luns.findByName(original, ctx).map((other) => other === undefined);
      return free.andThen((ok) => luns.update(lun.id, { name: ok && original !== undefined ? original : `${UNMANAGED_PREFIX}${lun.id}`, description: "" }, ctx));
    });
  }

  /** LUNs of the configured pools, with why each may not be managed. */
  list(ctx: OperationContext): ResultAsync<readonly ManageableVolume[], VolkitError> {
    return this.#client.luns.list(ctx).map((all) =>
      all
        .filter((l) => this.#config.storagePools.includes(l.poolName))
        .map((lun): ManageableVolume => {
          const marker = parseLunDescription(lun.description);
          const reason = this.#refusal(lun)?.message;
          return {
            reference: { sourceName: lun.name },
            sizeGiB: gibCeilOfSectors(lun.capacitySectors),
            safeToManage: reason === undefined,
            ...(reason === undefined ? {} : { reasonNotSafe: reason }),
            ...(marker ? { volkitId: marker.volumeId } : {}),
          };
        }),
    );
  }

  /** The LUN a reference names (`VOLUME_NOT_FOUND` when none, `INVALID_ARGUMENT` for a malformed one). */
  #lunOf(ref: ExistingRef, ctx: OperationContext): ResultAsync<LunInfo, VolkitError> {
    const luns = this.#client.luns;
    const found =
      "sourceName" in ref
        ? validate(ArrayNameSchema, ref.sourceName, "sourceName").asyncAndThen((n) => luns.findByName(n, ctx))
        : validate(ArrayIdSchema, ref.sourceId, "sourceId").asyncAndThen((id) => luns.find(id, ctx));
    return found.andThen((lun) => (lun ? okAsync(lun) : errAsync(new VolkitError("VOLUME_NOT_FOUND", `no LUN ${"sourceName" in ref ? `named ${ref.sourceName}` : `with id ${ref.sourceId}`} on the array`, { source: "ipsan" }))));
  }

  /** Why a LUN cannot be managed, or undefined. */
  #refusal(lun: LunInfo): VolkitError | undefined {
    const marker = parseLunDescription(lun.description);
    if (marker) return new VolkitError("INVALID_ARGUMENT", `LUN ${lun.name} is already volkit volume ${marker.volumeId}`, { source: "ipsan", details: { lunId: lun.id, volumeId: marker.volumeId } });
    if (!this.#config.storagePools.includes(lun.poolName)) {
      return new VolkitError("INVALID_ARGUMENT", `LUN ${lun.name} is in pool ${lun.poolName}, not one of this backend's pools`, { source: "ipsan", details: { lunId: lun.id, pool: lun.poolName } });
    }
    if (lun.inLunGroup) return new VolkitError("VOLUME_BUSY", `LUN ${lun.name} is mapped to hosts (in a LUN group)`, { source: "ipsan", details: { lunId: lun.id } });
    if (lun.lunCopyIds.length > 0 || lun.isClone) return new VolkitError("VOLUME_BUSY", `LUN ${lun.name} is in a copy task or a linked clone`, { source: "ipsan", details: { lunId: lun.id } });
    return undefined;
  }
}
