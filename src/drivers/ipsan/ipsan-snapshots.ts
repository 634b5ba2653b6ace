import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { Snapshot, SnapshotInput, SnapshotSpec, Volume } from "../../core/records.js";
import type { IpsanClient } from "./ipsan-client.js";
import type { ParsedIpsanConfig } from "./ipsan-config.js";
import { RUNNING_STATUS, SECTOR_BYTES } from "./ipsan-constants.js";
import type { IpsanCopies } from "./ipsan-copies.js";
import type { IpsanLuns } from "./ipsan-luns.js";
import { snapshotNameOf } from "./ipsan-names.js";
import { snapshotRecordOf } from "./ipsan-records.js";
import type { SnapshotInfo } from "./ipsan-types.js";

/**
 * Snapshots as Cinder's Huawei driver takes them: `POST /snapshot` then `activate` (the point in
 * time); delete = `stop` then `DELETE`; revert = `rollback` and wait. Names derive from the
 * snapshot id, so a retried create finds the snapshot (and activates it if an earlier attempt
 * stopped before that).
 */
export class IpsanSnapshots {
  readonly #client: IpsanClient;
  readonly #config: ParsedIpsanConfig;
  readonly #luns: IpsanLuns;
  readonly #copies: IpsanCopies;

  /** @param deps - REST client, parsed config, LUNs and copies (for deletes that split clones). */
  constructor(deps: { client: IpsanClient; config: ParsedIpsanConfig; luns: IpsanLuns; copies: IpsanCopies }) {
    this.#client = deps.client;
    this.#config = deps.config;
    this.#luns = deps.luns;
    this.#copies = deps.copies;
  }

  /** Takes a snapshot of the volume; `VOLUME_NOT_FOUND` when it has no LUN. */
  create(spec: SnapshotSpec, volume: Volume, ctx: OperationContext): ResultAsync<SnapshotInput, VolkitError> {
    const snapshots = this.#client.snapshots;
    return this.#luns.require(volume, ctx).andThen((lun) =>
      ctx.phase("create-snapshot", () => snapshots.create({ name: snapshotNameOf(spec.id), lunId: lun.id, description: `volkit:${spec.id}` }, ctx)).andThen(({ value, created }) => {
        if (value.runningStatus === RUNNING_STATUS.snapshotActive) return okAsync(snapshotRecordOf(spec, value));
        return ctx
          .phase("activate-snapshot", () => snapshots.activate([value.id], ctx))
          .andThen(() => snapshots.get(value.id, ctx))
          .map((active) => snapshotRecordOf(spec, active))
          .orElse((e) =>
            // Cinder deletes a snapshot it could not activate; one an earlier attempt made is left for the retry.
            created ? snapshots.delete(value.id, rollbackContext(ctx)).orElse(() => okAsync(false)).andThen(() => errAsync(e)) : errAsync(e),
          );
      }),
    );
  }

  /** Deletes a snapshot (splitting off linked clones made from it); a missing one succeeds. */
  delete(snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#find(snapshot, ctx).andThen((snap) => (snap ? ctx.phase("delete-snapshot", () => this.#copies.removeSnapshot(snap, ctx)) : okAsync(undefined)));
  }

  /** Rolls the volume back to the snapshot and waits for the rollback, reporting progress. */
  revert(volume: Volume, snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const snapshots = this.#client.snapshots;
    return this.#luns.require(volume, ctx).andThen((lun) =>
      this.#find(snapshot, ctx).andThen((snap) => {
        if (!snap) return errAsync(new VolkitError("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} does not exist on the array`, { source: "ipsan", details: { snapshotId: snapshot.id } }));
        if (snap.lunId !== lun.id) return errAsync(new VolkitError("INVALID_ARGUMENT", `snapshot ${snapshot.id} is not a snapshot of volume ${volume.id}`, { source: "ipsan" }));
        const bytes = lun.capacitySectors * SECTOR_BYTES;
        return ctx.phase("rollback", () =>
          snapshots
            .rollback(snap.id, this.#config.copySpeed, ctx)
            .andThen(() => snapshots.waitRollback(snap.id, this.#config.copyTimeoutMs, ctx, (rate) => ctx.progress("rollback", Math.round((Math.min(100, rate) / 100) * bytes), bytes)))
            .map(() => undefined),
        );
      }),
    );
  }

  #find(snapshot: Snapshot, ctx: OperationContext): ResultAsync<SnapshotInfo | undefined, VolkitError> {
    return this.#client.snapshots.findByName(snapshotNameOf(snapshot.id), ctx);
  }
}
