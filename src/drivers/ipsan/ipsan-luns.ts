import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { Volume, VolumeSpec } from "../../core/records.js";
import type { ArrayFacts } from "./ipsan-array.js";
import type { IpsanClient } from "./ipsan-client.js";
import type { ParsedIpsanConfig } from "./ipsan-config.js";
import { HEALTH_NORMAL } from "./ipsan-constants.js";
import { isArrayError } from "./ipsan-errors.js";
import { lunNameOf, parseLunDescription } from "./ipsan-names.js";
import type { IpsanQos } from "./ipsan-qos.js";
import { locationOf, sectorsOfGiB } from "./ipsan-records.js";
import type { LunInfo, PoolInfo } from "./ipsan-types.js";

/** Metadata key a caller (e.g. a scheduler) sets to place a volume in one of the configured pools. */
export const POOL_METADATA_KEY = "pool";

/**
 * The LUN side of volumes: finding a volume's LUN, placing new LUNs in a pool, and taking a LUN
 * apart completely (QoS, copy tasks and clone pairs left on it, linked clones depending on it).
 */
export class IpsanLuns {
  readonly #client: IpsanClient;
  readonly #config: ParsedIpsanConfig;
  readonly #facts: ArrayFacts;
  readonly #qos: IpsanQos;

  /** @param deps - the REST client, parsed config, array facts and QoS. */
  constructor(deps: { client: IpsanClient; config: ParsedIpsanConfig; facts: ArrayFacts; qos: IpsanQos }) {
    this.#client = deps.client;
    this.#config = deps.config;
    this.#facts = deps.facts;
    this.#qos = deps.qos;
  }

  /**
   * The LUN of a volume: by its deterministic name, else by the record's provider location when the
   * WWN there matches (a LUN renamed on the array). Undefined when neither finds it.
   */
  find(volume: Pick<Volume, "id" | "providerLocation">, ctx: OperationContext): ResultAsync<LunInfo | undefined, VolkitError> {
    return this.#client.luns.findByName(lunNameOf(volume.id), ctx).andThen((byName) => {
      if (byName) return okAsync(byName);
      const location = locationOf(volume.providerLocation);
      if (!location) return okAsync(undefined);
      return this.#client.luns.find(location.id, ctx).map((lun) => (lun && lun.wwn === location.wwn ? lun : undefined));
    });
  }

  /** Like {@link find}, but `VOLUME_NOT_FOUND` when the volume has no LUN. */
  require(volume: Pick<Volume, "id" | "providerLocation">, ctx: OperationContext): ResultAsync<LunInfo, VolkitError> {
    return this.find(volume, ctx).andThen((lun) =>
      lun ? okAsync(lun) : errAsync(new VolkitError("VOLUME_NOT_FOUND", `volume ${volume.id} has no LUN on the array`, { source: "ipsan", details: { volumeId: volume.id, lunName: lunNameOf(volume.id) } })),
    );
  }

  /**
   * The pool a new LUN of `sectors` goes to: the one the spec's metadata `pool` names, else the
   * configured pool with the most free space. A thick LUN needs that much free space
   * (`INSUFFICIENT_CAPACITY` otherwise); a thin one only a pool at least that large.
   */
  pickPool(spec: Pick<VolumeSpec, "id" | "metadata">, sectors: number, ctx: OperationContext): ResultAsync<PoolInfo, VolkitError> {
    const wanted = spec.metadata?.[POOL_METADATA_KEY];
    if (wanted !== undefined && !this.#config.storagePools.includes(wanted)) {
      return errAsync(new VolkitError("INVALID_ARGUMENT", `volume ${spec.id} asks for pool ${wanted}, which is not one of this backend's pools (${this.#config.storagePools.join(", ")})`, { source: "ipsan", details: { pool: wanted } }));
    }
    return this.#facts.pools(ctx).andThen((pools) => {
      const usable = pools.filter((p) => (wanted === undefined || p.name === wanted) && (p.healthStatus === "" || p.healthStatus === HEALTH_NORMAL));
      const fits = usable.filter((p) => (this.#config.lunType === "thick" ? p.freeSectors >= sectors : p.totalSectors >= sectors)).sort((a, b) => b.freeSectors - a.freeSectors);
      const pool = fits[0];
      if (pool) return okAsync(pool);
      return errAsync(
        new VolkitError("INSUFFICIENT_CAPACITY", `no configured pool has room for ${sectors} sectors (${this.#config.lunType}) for volume ${spec.id}`, {
          source: "ipsan",
          details: { volumeId: spec.id, pools: usable.map((p) => ({ name: p.name, freeSectors: p.freeSectors })) },
        }),
      );
    });
  }

  /**
   * What an existing LUN found under a new volume's name is: that volume, complete and of the
   * requested size (`same`: a retried create), that volume's half-made copy (`half-made`: an
   * earlier attempt crashed or failed), or something else (`VOLUME_EXISTS`).
   */
  classify(lun: LunInfo, spec: Pick<VolumeSpec, "id" | "sizeGiB">): "same" | "half-made" | VolkitError {
    const marker = parseLunDescription(lun.description);
    if (marker?.volumeId === spec.id && marker.copying) return "half-made";
    const why =
      marker?.volumeId !== spec.id
        ? "a LUN volkit did not make has its name"
        : lun.capacitySectors !== sectorsOfGiB(spec.sizeGiB)
          ? `it has another size (${lun.capacitySectors} sectors)`
          : lun.allocType !== this.#config.lunType && !lun.isClone
            ? `it is ${lun.allocType}, not ${this.#config.lunType}`
            : undefined;
    if (why === undefined) return "same";
    return new VolkitError("VOLUME_EXISTS", `volume ${spec.id} already exists on the array: ${why}`, { source: "ipsan", details: { volumeId: spec.id, lunId: lun.id } });
  }

  /**
   * Removes a LUN and what volkit left on it: its QoS policy, LUN copy tasks and clone pairs (of a
   * crashed copy), then the LUN; linked clones depending on it are split off first. The caller has
   * unmapped it. A LUN already gone succeeds.
   */
  destroy(lun: LunInfo, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const copies = this.#client.lunCopies;
    const stopCopies = lun.lunCopyIds.reduce<ResultAsync<void, VolkitError>>(
      (chain, id) => chain.andThen(() => copies.stop(id, ctx).orElse((e) => (e.code === "VOLUME_NOT_FOUND" ? okAsync(undefined) : errAsync(e))).andThen(() => copies.delete(id, ctx)).map(() => undefined)),
      okAsync(undefined),
    );
    return ctx.phase("remove-qos", () => this.#qos.remove(lun, ctx))
      .andThen(() => ctx.phase("remove-copies", () => stopCopies.andThen(() => this.#removeClonePairs(lun.id, ctx))))
      .andThen(() => ctx.phase("delete-lun", () => this.deleteSplittingChildren(lun.id, "lun", ctx)));
  }

  /**
   * Deletes a LUN or snapshot; when the array refuses because linked clone LUNs depend on it, splits
   * them off (waiting for each split) and deletes again.
   */
  deleteSplittingChildren(id: string, kind: "lun" | "snapshot", ctx: OperationContext): ResultAsync<void, VolkitError> {
    const remove = (): ResultAsync<void, VolkitError> =>
      (kind === "lun" ? this.#client.luns.delete(id, ctx) : this.#client.snapshots.delete(id, ctx)).map(() => undefined);
    return remove().orElse((e) => {
      if (!isArrayError(e, "OBJECT_IN_COPY_TASK")) return errAsync(e);
      return this.splitChildren(id, ctx).andThen((n) => (n > 0 ? remove() : errAsync(e)));
    });
  }

  /** Splits every linked clone LUN that depends on `sourceId` (a LUN or snapshot); returns how many. */
  splitChildren(sourceId: string, ctx: OperationContext): ResultAsync<number, VolkitError> {
    const luns = this.#client.luns;
    return luns.list(ctx).andThen((all) => {
      const children = all.filter((l) => l.isClone && l.cloneSourceId === sourceId);
      if (children.length > 0) ctx.logger.info({ sourceId, clones: children.map((c) => c.id) }, "ipsan: splitting linked clones off before deleting their source");
      return children
        .reduce<ResultAsync<void, VolkitError>>(
          (chain, child) => chain.andThen(() => luns.splitClone(child.id, this.#config.copySpeed, ctx).andThen(() => luns.waitSplit(child.id, this.#config.copyTimeoutMs, ctx)).map(() => undefined)),
          okAsync(undefined),
        )
        .map(() => children.length);
    });
  }

  /** Stops and deletes clone pairs involving the LUN (only where clone pairs are used). */
  #removeClonePairs(lunId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const pairs = this.#client.clonePairs;
    return this.#facts.copyMethod(ctx).andThen((method) => {
      if (method !== "clone-pair") return okAsync(undefined);
      return pairs.list(ctx).andThen((all) =>
        all
          .filter((p) => p.targetId === lunId || p.sourceId === lunId)
          .reduce<ResultAsync<void, VolkitError>>((chain, p) => chain.andThen(() => pairs.stop(p.id, ctx).andThen(() => pairs.delete(p.id, ctx)).map(() => undefined)), okAsync(undefined)),
      );
    });
  }
}
