import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { Snapshot, Volume, VolumeInput, VolumeSpec } from "../../core/records.js";
import type { ArrayFacts } from "./ipsan-array.js";
import type { IpsanClient } from "./ipsan-client.js";
import type { ParsedIpsanConfig } from "./ipsan-config.js";
import { RUNNING_STATUS, SECTOR_BYTES } from "./ipsan-constants.js";
import { isArrayError } from "./ipsan-errors.js";
import type { IpsanLuns } from "./ipsan-luns.js";
import { cloneSnapshotNameOf, lunCopyNameOf, lunDescription, lunNameOf, snapshotNameOf } from "./ipsan-names.js";
import type { IpsanQos } from "./ipsan-qos.js";
import { sectorsOfGiB, volumeRecordOf } from "./ipsan-records.js";
import type { LunInfo, SnapshotInfo } from "./ipsan-types.js";

/** What a new volume's data comes from: a snapshot, or a LUN (linked clones of a volume). */
interface CopySource {
  /** LUN or snapshot id (one id space on the array). */
  readonly id: string;
  /** Its size in sectors. */
  readonly sectors: number;
  /** The LUN it is (or belongs to), for the clone depth. */
  readonly lunId: string;
}

/** Description of the temporary snapshot a clone copies from. */
export const CLONE_SNAPSHOT_DESCRIPTION = "volkit-clone-source";

/** Deepest chain walked when measuring clone depth (a loop guard). */
const MAX_CHAIN = 64;

/**
 * Volumes made from other data on the array: from a snapshot, or a clone of a volume.
 *
 * - A linked clone LUN (HyperClone, `ISCLONE`) when `maxCloneDepth` allows the chain and, for a
 *   snapshot source, `flattenFromSnapshot` is off; an array refusing the depth falls back to a copy.
 * - Otherwise a full copy: a new LUN, then a LUN copy or a clone pair (the config's `copyMethod`)
 *   from the snapshot, or, for a clone, from a temporary snapshot of the source (Cinder's flow),
 *   with progress events.
 *
 * The new LUN carries `volkit:<id>:copying` in its description until it is complete (grown, QoS
 * applied), so a retry after a crash recognizes a half-made LUN and starts over cleanly, and a
 * failed copy deletes it. A retry after success returns the finished volume.
 */
export class IpsanCopies {
  readonly #client: IpsanClient;
  readonly #config: ParsedIpsanConfig;
  readonly #facts: ArrayFacts;
  readonly #luns: IpsanLuns;
  readonly #qos: IpsanQos;

  /** @param deps - the REST client, parsed config, array facts, LUNs and QoS. */
  constructor(deps: { client: IpsanClient; config: ParsedIpsanConfig; facts: ArrayFacts; luns: IpsanLuns; qos: IpsanQos }) {
    this.#client = deps.client;
    this.#config = deps.config;
    this.#facts = deps.facts;
    this.#luns = deps.luns;
    this.#qos = deps.qos;
  }

  /** A new volume with the snapshot's data (grown to the spec's size). */
  fromSnapshot(spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#client.snapshots.findByName(snapshotNameOf(snapshot.id), ctx).andThen((snap) => {
      if (!snap) return errAsync(new VolkitError("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} does not exist on the array`, { source: "ipsan", details: { snapshotId: snapshot.id } }));
      if (snap.runningStatus !== RUNNING_STATUS.snapshotActive) {
        return errAsync(new VolkitError("INVALID_STATE", `snapshot ${snapshot.id} is not active on the array (RUNNINGSTATUS ${snap.runningStatus})`, { source: "ipsan", details: { snapshotId: snapshot.id } }));
      }
      const source: CopySource = { id: snap.id, sectors: snap.capacitySectors, lunId: snap.lunId };
      return this.#resume(spec, ctx).andThen((done) =>
        done
          ? okAsync(done)
          : this.#linkedAllowed(source, !this.#config.flattenFromSnapshot, ctx).andThen((linked) => (linked ? this.#linked(spec, source, ctx) : this.#full(spec, source, ctx))),
      );
    });
  }

  /** A new volume with the source volume's data (grown to the spec's size). */
  clone(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#luns.require(source, ctx).andThen((src) =>
      this.#resume(spec, ctx).andThen((done) => {
        // A finished clone whose temporary snapshot an interrupted attempt left: drop it now.
        if (done) return this.dropCloneSnapshot(spec.id, ctx).map(() => done);
        const direct: CopySource = { id: src.id, sectors: src.capacitySectors, lunId: src.id };
        return this.#linkedAllowed(direct, true, ctx).andThen((linked) => (linked ? this.#linked(spec, direct, ctx) : this.#viaTempSnapshot(spec, src, ctx)));
      }),
    );
  }

  /**
   * What an earlier attempt of this create left: the finished volume (returned again), a half-made
   * LUN (taken apart, so this attempt starts over), or nothing.
   */
  #resume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<VolumeInput | undefined, VolkitError> {
    return this.#client.luns.findByName(lunNameOf(spec.id), ctx).andThen((lun): ResultAsync<VolumeInput | undefined, VolkitError> => {
      if (!lun) return okAsync(undefined);
      const found = this.#luns.classify(lun, spec);
      if (found === "same") return this.#qos.apply(lun, spec, ctx).map(() => volumeRecordOf(spec, lun));
      if (found === "half-made") {
        ctx.logger.info({ volumeId: spec.id, lunId: lun.id }, "ipsan: removing the half-made LUN of an earlier attempt");
        return ctx.phase("discard-earlier-attempt", () => this.#luns.destroy(lun, ctx)).map(() => undefined);
      }
      return errAsync(found);
    });
  }

  /** Whether the new volume may be a linked clone of `source` (depth within `maxCloneDepth`). */
  #linkedAllowed(source: CopySource, wanted: boolean, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    const max = this.#config.maxCloneDepth;
    if (!wanted || max === 0) return okAsync(false);
    return this.cloneDepth(source.lunId, ctx).map((depth) => depth + 1 <= max);
  }

  /** How many linked clones deep a LUN is (0 for an independent LUN). */
  cloneDepth(lunId: string, ctx: OperationContext): ResultAsync<number, VolkitError> {
    const walk = (id: string, depth: number): ResultAsync<number, VolkitError> => {
      if (depth > MAX_CHAIN) return okAsync(depth);
      return this.#client.luns.find(id, ctx).andThen((lun) => {
        if (lun) return lun.isClone && lun.cloneSourceId !== "" ? walk(lun.cloneSourceId, depth + 1) : okAsync(depth);
        // A clone's source may be a snapshot: continue from its LUN.
        return this.#client.snapshots.find(id, ctx).andThen((snap) => (snap ? walk(snap.lunId, depth) : okAsync(depth)));
      });
    };
    return walk(lunId, 0);
  }

  /** A linked clone LUN of `source`, grown and finished; a full copy when the array refuses the depth. */
  #linked(spec: VolumeSpec, source: CopySource, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return ctx
      .phase("create-clone-lun", () => this.#client.luns.createClone({ name: lunNameOf(spec.id), sourceId: source.id, description: lunDescription({ volumeId: spec.id, copying: true }) }, ctx))
      .map((lun): LunInfo | undefined => lun)
      .orElse((e) => (isArrayError(e, "CLONE_DEPTH_EXCEEDED") ? okAsync(undefined) : errAsync(e)))
      .andThen((lun) => {
        if (!lun) {
          ctx.logger.info({ volumeId: spec.id, sourceId: source.id }, "ipsan: the array refused a deeper linked clone; making a full copy");
          return this.#fullFrom(spec, source, ctx);
        }
        return this.#finish(spec, lun, ctx).orElse((e) => this.#discard<VolumeInput>(lun, e, ctx));
      });
  }

  /** A full copy from a snapshot, or for a LUN source from a temporary snapshot of it. */
  #fullFrom(spec: VolumeSpec, source: CopySource, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    if (source.id !== source.lunId) return this.#full(spec, source, ctx);
    return this.#client.luns.get(source.lunId, ctx).andThen((src) => this.#viaTempSnapshot(spec, src, ctx));
  }

  /**
   * Cinder's clone: a temporary snapshot of the source (named after the new volume, replaced when
   * an earlier attempt left one), a full copy from it, then the snapshot is deleted either way.
   */
  #viaTempSnapshot(spec: VolumeSpec, src: LunInfo, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const name = cloneSnapshotNameOf(spec.id);
    const snapshots = this.#client.snapshots;
    const take = (): ResultAsync<SnapshotInfo, VolkitError> =>
      snapshots
        .findByName(name, ctx)
        .andThen((stale) => (stale ? this.removeSnapshot(stale, ctx) : okAsync(undefined)))
        .andThen(() => snapshots.create({ name, lunId: src.id, description: CLONE_SNAPSHOT_DESCRIPTION }, ctx))
        .andThen(({ value }) => snapshots.activate([value.id], ctx).andThen(() => snapshots.get(value.id, ctx)));
    return ctx.phase("temp-snapshot", take).andThen((temp) => {
      const drop = (): ResultAsync<void, VolkitError> =>
        this.removeSnapshot(temp, rollbackContext(ctx)).orElse((e) => {
          ctx.logger.warn({ snapshotId: temp.id, err: e.toJSON() }, "ipsan: could not delete the clone's temporary snapshot (deleting either volume removes it later)");
          return okAsync(undefined);
        });
      return new ResultAsync(
        (async () => {
          const made = await this.#full(spec, { id: temp.id, sectors: temp.capacitySectors, lunId: src.id }, ctx);
          // drop() never fails (a failure is logged); the copy's outcome is what counts.
          void (await drop());
          return made;
        })(),
      );
    });
  }

  /** Deletes the temporary clone snapshot named after `volumeId`, if one is left. */
  dropCloneSnapshot(volumeId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#client.snapshots.findByName(cloneSnapshotNameOf(volumeId), ctx).andThen((snap) => (snap ? this.removeSnapshot(snap, ctx) : okAsync(undefined)));
  }

  /** Stops (when active) and deletes a snapshot, splitting off linked clones that depend on it. */
  removeSnapshot(snap: SnapshotInfo, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const snapshots = this.#client.snapshots;
    const stop = (): ResultAsync<void, VolkitError> =>
      snap.runningStatus === RUNNING_STATUS.snapshotInactive
        ? okAsync(undefined)
        : snapshots.stop(snap.id, ctx).orElse((e) =>
            isArrayError(e, "OBJECT_IN_COPY_TASK") ? this.#luns.splitChildren(snap.id, ctx).andThen((n) => (n > 0 ? snapshots.stop(snap.id, ctx) : errAsync(e))) : errAsync(e),
          );
    return stop().andThen(() => this.#luns.deleteSplittingChildren(snap.id, "snapshot", ctx));
  }

  /** A full copy of `source` into a new LUN of the spec's size in a chosen pool. */
  #full(spec: VolumeSpec, source: CopySource, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const sectors = Math.max(sectorsOfGiB(spec.sizeGiB), source.sectors);
    return this.#luns.pickPool(spec, sectors, ctx).andThen((pool) =>
      ctx
        .phase("create-lun", () =>
          this.#client.luns.create({ name: lunNameOf(spec.id), poolId: pool.id, capacitySectors: sectors, allocType: this.#config.lunType, description: lunDescription({ volumeId: spec.id, copying: true }) }, ctx),
        )
        .andThen(({ value: lun }) =>
          ctx
            .phase("wait-lun-ready", () => this.#client.luns.waitReady(lun.id, this.#config.lunReadyTimeoutMs, ctx))
            .andThen(() => this.#copy(spec, source, lun, ctx))
            .andThen(() => this.#finish(spec, lun, ctx))
            .orElse((e) => this.#discard<VolumeInput>(lun, e, ctx)),
        ),
    );
  }

  /** Copies `source` into `target` by the configured method, reporting progress, and removes the task. */
  #copy(spec: VolumeSpec, source: CopySource, target: LunInfo, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const bytes = source.sectors * SECTOR_BYTES;
    const progress = (percent: number): void => ctx.progress("copy", Math.round((Math.min(100, Math.max(0, percent)) / 100) * bytes), bytes);
    const speed = this.#config.copySpeed;
    const timeout = this.#config.copyTimeoutMs;
    return this.#facts.copyMethod(ctx).andThen((method) => {
      if (method === "clone-pair") {
        const pairs = this.#client.clonePairs;
        return ctx.phase("clone-pair", () =>
          pairs.create({ sourceId: source.id, targetId: target.id, speed }, ctx).andThen((pairId) =>
            pairs
              .sync(pairId, ctx)
              .andThen(() => pairs.waitSynced(pairId, timeout, ctx, progress))
              .andThen(() => pairs.delete(pairId, ctx))
              .map(() => progress(100)),
          ),
        );
      }
      const copies = this.#client.lunCopies;
      return ctx.phase("lun-copy", () =>
        copies.create({ name: lunCopyNameOf(spec.id), sourceId: source.id, targetId: target.id, speed }, ctx).andThen((copyId) =>
          copies
            .start(copyId, ctx)
            .andThen(() => copies.waitComplete(copyId, timeout, ctx, progress))
            .andThen(() => copies.delete(copyId, ctx))
            .map(() => progress(100)),
        ),
      );
    });
  }

  /** Grows the LUN to the spec's size, applies QoS, then marks it complete. */
  #finish(spec: VolumeSpec, lun: LunInfo, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    const luns = this.#client.luns;
    const wanted = sectorsOfGiB(spec.sizeGiB);
    const grow = lun.capacitySectors < wanted ? ctx.phase("expand", () => luns.expand(lun.id, wanted, ctx)) : okAsync(undefined);
    return grow
      .andThen(() => luns.get(lun.id, ctx))
      .andThen((fresh) => ctx.phase("qos", () => this.#qos.apply(fresh, spec, ctx)))
      .andThen(() => luns.update(lun.id, { description: lunDescription({ volumeId: spec.id, copying: false }) }, ctx))
      .map(() => volumeRecordOf(spec, lun));
  }

  /** Deletes a half-made LUN on a context of its own, then returns the original error. */
  #discard<T>(lun: LunInfo, original: VolkitError, ctx: OperationContext): ResultAsync<T, VolkitError> {
    const rc = rollbackContext(ctx);
    return ResultAsync.fromSafePromise(this.#client.luns.find(lun.id, rc).andThen((fresh) => (fresh ? this.#luns.destroy(fresh, rc) : okAsync(undefined)))).andThen((r) =>
      errAsync(
        r.isOk()
          ? original
          : new VolkitError(original.code, `${original.message} (removing the half-made LUN ${lun.id} also failed: ${r.error.message})`, {
              source: "ipsan",
              cause: original,
              details: { ...original.details, rollbackError: r.error.code },
              transient: original.transient,
            }),
      ),
    );
  }
}
