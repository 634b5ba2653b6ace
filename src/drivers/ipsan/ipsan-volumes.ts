import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { PoolStatsInput, Volume, VolumeInput, VolumeSpec } from "../../core/records.js";
import type { ArrayFacts } from "./ipsan-array.js";
import type { IpsanClient } from "./ipsan-client.js";
import type { ParsedIpsanConfig } from "./ipsan-config.js";
import { HEALTH_NORMAL, SECTORS_PER_GIB } from "./ipsan-constants.js";
import { CLONE_SNAPSHOT_DESCRIPTION, type IpsanCopies } from "./ipsan-copies.js";
import type { IpsanLuns } from "./ipsan-luns.js";
import type { IpsanMappings } from "./ipsan-mapping.js";
import { lunDescription, lunNameOf } from "./ipsan-names.js";
import type { IpsanQos } from "./ipsan-qos.js";
import { sectorsOfGiB, volumeRecordOf } from "./ipsan-records.js";

/** Everything {@link IpsanVolumes} works with. */
export interface IpsanVolumesDeps {
  /** The REST client. */
  readonly client: IpsanClient;
  /** The driver's parsed config. */
  readonly config: ParsedIpsanConfig;
  /** Pools and copy method of the array. */
  readonly facts: ArrayFacts;
  /** Finding, placing and taking apart LUNs. */
  readonly luns: IpsanLuns;
  /** Back-end QoS. */
  readonly qos: IpsanQos;
  /** Copies and snapshot removal (temporary clone snapshots). */
  readonly copies: IpsanCopies;
  /** Host mappings (a delete unmaps). */
  readonly mappings: IpsanMappings;
}

/** GiB with two decimals. */
const gib = (sectors: number): number => Math.round((sectors / SECTORS_PER_GIB) * 100) / 100;

/**
 * Plain volume operations: create (thin or thick, in a pool), delete (with everything volkit hung on
 * the LUN), extend, and the pools' stats.
 */
export class IpsanVolumes {
  readonly #d: IpsanVolumesDeps;

  /** @param deps - see {@link IpsanVolumesDeps}. */
  constructor(deps: IpsanVolumesDeps) {
    this.#d = deps;
  }

  /**
   * Creates the volume's LUN (named from its id) with its type's QoS. A retry finds the LUN an
   * earlier attempt made and returns it when it matches; another size is `VOLUME_EXISTS`.
   */
  create(spec: VolumeSpec, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const { client, luns, qos, config } = this.#d;
    const sectors = sectorsOfGiB(spec.sizeGiB);
    // QoS one policy cannot hold is refused before the LUN exists.
    const limits = qos.limitsFor(spec);
    if (limits.isErr()) return errAsync(limits.error);
    return client.luns.findByName(lunNameOf(spec.id), ctx).andThen((existing) => {
      if (existing) {
        const found = luns.classify(existing, spec);
        if (found === "same") return qos.apply(existing, spec, ctx).map(() => volumeRecordOf(spec, existing));
        return errAsync(
          found === "half-made" ? new VolkitError("VOLUME_EXISTS", `volume ${spec.id} is a copy that did not finish; retry that copy or delete the volume`, { source: "ipsan", details: { lunId: existing.id } }) : found,
        );
      }
      return luns.pickPool(spec, sectors, ctx).andThen((pool) =>
        ctx
          .phase("create-lun", () => client.luns.create({ name: lunNameOf(spec.id), poolId: pool.id, capacitySectors: sectors, allocType: config.lunType, description: lunDescription({ volumeId: spec.id, copying: false }) }, ctx))
          .andThen(({ value: lun, created }) =>
            ctx
              .phase("qos", () => qos.apply(lun, spec, ctx))
              .map(() => volumeRecordOf(spec, lun))
              .orElse((e) => (created ? this.#undo<VolumeInput>(lun.id, e, ctx) : errAsync(e))),
          ),
      );
    });
  }

  /**
   * Deletes the volume's LUN: `VOLUME_BUSY` while it has snapshots (nothing changes then);
   * otherwise its volkit mappings are removed (emptied hosts torn down), its QoS policy and copy
   * leftovers too, linked clones of it are split off, and temporary clone snapshots left by crashed
   * clones are removed. A missing volume succeeds.
   */
  delete(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const { client, luns, copies, mappings } = this.#d;
    return luns
      .find(volume, ctx)
      .andThen((lun) => {
        if (!lun) return okAsync(undefined);
        return client.snapshots.list(ctx, { lunId: lun.id }).andThen((snaps) => {
          const real = snaps.filter((s) => s.description !== CLONE_SNAPSHOT_DESCRIPTION);
          if (real.length > 0) {
            return errAsync(
              new VolkitError("VOLUME_BUSY", `volume ${volume.id} has ${real.length} snapshot(s); delete them first`, { source: "ipsan", details: { volumeId: volume.id, snapshots: real.map((s) => s.name) } }),
            );
          }
          const leftovers = snaps.reduce<ResultAsync<void, VolkitError>>((chain, s) => chain.andThen(() => copies.removeSnapshot(s, ctx)), okAsync(undefined));
          return ctx
            .phase("leftover-snapshots", () => leftovers)
            .andThen(() => ctx.phase("unmap", () => mappings.unmapEverywhere(lun, ctx)))
            .andThen(() => luns.destroy(lun, ctx));
        });
      })
      .andThen(() => copies.dropCloneSnapshot(volume.id, ctx));
  }

  /** Grows the volume's LUN (online); the same size is a no-op. */
  extend(volume: Volume, newSizeGiB: number, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const { client, luns } = this.#d;
    const target = sectorsOfGiB(newSizeGiB);
    return luns.require(volume, ctx).andThen((lun) => {
      if (lun.capacitySectors > target) {
        return errAsync(new VolkitError("INVALID_ARGUMENT", `the LUN of volume ${volume.id} is already larger (${lun.capacitySectors} sectors) than ${newSizeGiB} GiB`, { source: "ipsan", details: { lunId: lun.id } }));
      }
      const grow = lun.capacitySectors === target ? okAsync<void, VolkitError>(undefined) : ctx.phase("expand", () => client.luns.expand(lun.id, target, ctx));
      return grow.map(() => volumeRecordOf({ ...volume, sizeGiB: newSizeGiB }, lun));
    });
  }

  /** Stats of the configured pools: capacity, provisioned and allocated space, LUN count. */
  poolStats(ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError> {
    const { client, facts, config } = this.#d;
    return facts.pools(ctx).andThen((pools) =>
      client.luns.list(ctx).map((all) =>
        pools.map((pool): PoolStatsInput => {
          const inPool = all.filter((l) => l.poolId === pool.id);
          return {
            poolName: pool.name,
            totalCapacityGiB: gib(pool.totalSectors),
            freeCapacityGiB: gib(Math.min(pool.freeSectors, pool.totalSectors)),
            reservedPercentage: config.reservedPercentage,
            provisionedCapacityGiB: gib(inPool.reduce((sum, l) => sum + l.capacitySectors, 0)),
            allocatedCapacityGiB: gib(pool.usedSectors),
            maxOverSubscriptionRatio: config.maxOverSubscriptionRatio,
            thinProvisioningSupport: true,
            thickProvisioningSupport: true,
            totalVolumes: inPool.length,
            multiattach: true,
            qosSupport: true,
            locationInfo: `${client.deviceId ?? ""}:${pool.id}`,
            backendState: pool.healthStatus === "" || pool.healthStatus === HEALTH_NORMAL ? "up" : "down",
            capabilities: { lunType: config.lunType, maxCloneDepth: config.maxCloneDepth },
          };
        }),
      ),
    );
  }

  /** Deletes a LUN this create made, on a context of its own, then returns the original error. */
  #undo<T>(lunId: string, original: VolkitError, ctx: OperationContext): ResultAsync<T, VolkitError> {
    const rc = rollbackContext(ctx);
    const { client, luns } = this.#d;
    return ResultAsync.fromSafePromise(client.luns.find(lunId, rc).andThen((lun) => (lun ? luns.destroy(lun, rc) : okAsync(undefined)))).andThen((r) => {
      if (r.isErr()) rc.logger.warn({ lunId, err: r.error.toJSON() }, "ipsan: removing the LUN of a failed create failed too");
      return errAsync(original);
    });
  }
}
