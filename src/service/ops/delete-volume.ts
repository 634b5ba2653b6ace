import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import type { SnapshotRecord } from "../records/snapshot-record.js";
import type { VolumeRecord } from "../records/volume-record.js";
import { traced } from "../service-events.js";
import { backendOf, callOptions, coreSnapshot, coreVolume, failureReason, holding, mustWin, newTask, type ServiceContext, type ServiceOperationOptions } from "../service-context.js";

/** Options of a volume delete. */
export interface DeleteVolumeOptions extends ServiceOperationOptions {
  /** Delete its snapshots too (when each is available, error, deleting or error_deleting). */
  readonly cascade?: boolean;
}

/** Deletes one snapshot of a volume being deleted (it may already be `deleting`: a retry). */
function deleteCascaded(sc: ServiceContext, volume: VolumeRecord, snapshot: SnapshotRecord, options: ServiceOperationOptions): ResultAsync<void, VolkitError> {
  const begin = snapshot.status === "deleting" ? okAsync(snapshot) : sc.store.snapshots.begin(snapshot.id, "delete", { task: newTask(sc, "delete") }).andThen((t) => mustWin(t, `delete snapshot ${snapshot.id}`));
  return begin.andThen((s) =>
    backendOf(sc, volume)
      .asyncAndThen((backend) => backend.deleteSnapshot(coreSnapshot(s, volume), callOptions(options)))
      .andThen(() => sc.store.snapshots.finish(s.id, "delete", "success"))
      .map(() => undefined),
  );
}

/**
 * What a delete does on the backend, once the record is `deleting`: every snapshot (cascade), then
 * the volume (a volume never placed has nothing there). Idempotent: a missing object is deleted.
 */
export function deleteOnBackend(sc: ServiceContext, volume: VolumeRecord, options: ServiceOperationOptions): ResultAsync<void, VolkitError> {
  return sc.store.snapshots.list({ volumeId: volume.id }).andThen((snapshots) => {
    const cascade = snapshots.reduce<ResultAsync<void, VolkitError>>((chain, s) => chain.andThen(() => deleteCascaded(sc, volume, s, options)), okAsync(undefined));
    return cascade.andThen(() => {
      if (volume.backend === undefined) return okAsync(undefined);
      return backendOf(sc, volume).asyncAndThen((backend) => backend.deleteVolume(coreVolume(volume), callOptions(options)));
    });
  });
}

/**
 * Deletes a volume (see `VolumeService.deleteVolume`): `deleting` only from a deletable status,
 * with no live attachment, no running migration and (unless `cascade`) no snapshot, checked in the
 * same conditional update; the record is removed when the backend object is gone, else the volume
 * is `error_deleting` with the reason (a retry deletes again).
 */
export function deleteVolumeOp(sc: ServiceContext, volumeId: string, options: DeleteVolumeOptions = {}): ResultAsync<void, VolkitError> {
  return traced(sc.events, "volume", "delete", { volumeId }, (trace) =>
    sc.store.volumes
      .begin(volumeId, "delete", { cascade: options.cascade ?? false, patch: { task: newTask(sc, "delete") } })
      .andThen((t) => mustWin(t, `delete volume ${volumeId}`))
      .andThen((deleting) =>
        holding(sc, [`volume:${volumeId}`], () => {
          trace.step("deleting");
          return deleteOnBackend(sc, deleting, options)
            .orElse((e) =>
              sc.store.volumes
                .finish(volumeId, "delete", "failure", { statusReason: failureReason("delete", e) })
                .orElse(() => okAsync(undefined))
                .andThen(() => errAsync(e)),
            )
            .andThen(() => {
              trace.step("deleted");
              return sc.store.volumes.finish(volumeId, "delete", "success").andThen((t) => mustWin(t, `finish deleting volume ${volumeId}`));
            })
            .map(() => undefined);
        }),
      ),
  );
}
