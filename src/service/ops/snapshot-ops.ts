import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import { DisplayNameSchema, MetadataSchema, RecordIdSchema } from "../records/record-fields.js";
import type { SnapshotRecord } from "../records/snapshot-record.js";
import type { VolumeRecord } from "../records/volume-record.js";
import { traced } from "../service-events.js";
import { backendOf, callOptions, coreSnapshot, coreVolume, driverVolumeId, failureReason, holding, mustWin, newTask, type ServiceContext, type ServiceOperationOptions } from "../service-context.js";

/** What a caller asks for when snapshotting a volume. */
export const CreateSnapshotRequestSchema = z.object({
  /** Id (default: a random UUID). */
  id: RecordIdSchema.optional(),
  /** Display name. */
  name: DisplayNameSchema.optional(),
  /** Snapshot an `in-use` volume (crash-consistent). */
  force: z.boolean().default(false),
  /** Free-form metadata. */
  metadata: MetadataSchema.optional(),
});
/** A snapshot request as a caller writes it. */
export type CreateSnapshotRequest = z.input<typeof CreateSnapshotRequestSchema>;

/**
 * Snapshots a volume (see `VolumeService.createSnapshot`): the record is inserted `creating` only
 * if the volume may be snapshotted now (checked in the same transaction), then `available`, or
 * `error` with the reason.
 */
export function createSnapshotOp(sc: ServiceContext, volumeId: string, input: CreateSnapshotRequest = {}, options: ServiceOperationOptions = {}): ResultAsync<SnapshotRecord, VolkitError> {
  const parsed = validate(CreateSnapshotRequestSchema, input, "snapshot request");
  if (parsed.isErr()) return errAsync(parsed.error);
  const req = parsed.value;
  const id = req.id ?? crypto.randomUUID();
  return traced(sc.events, "snapshot", "create", { volumeId, snapshotId: id }, (trace) =>
    sc.store.volumes.get(volumeId).andThen((volume) =>
      backendOf(sc, volume).asyncAndThen((backend) =>
        sc.store.snapshots
          .insert({ id, volumeId, sizeGiB: volume.sizeGiB, status: "creating", task: newTask(sc, "create"), ...(req.name === undefined ? {} : { name: req.name }), ...(req.metadata === undefined ? {} : { metadata: req.metadata }) }, { force: req.force })
          .andThen((snapshot) =>
            holding(sc, [`snapshot:${id}`], () => {
              trace.step("recorded");
              return backend
                .createSnapshot({ id, volumeId: driverVolumeId(volume), volumeSizeGiB: volume.sizeGiB, ...(snapshot.name === undefined ? {} : { displayName: snapshot.name }) }, coreVolume(volume), callOptions(options))
                .orElse((e) =>
                  sc.store.snapshots
                    .finish(id, "create", "failure", { statusReason: failureReason("snapshot", e) })
                    .orElse(() => okAsync(undefined))
                    .andThen(() => errAsync(e)),
                )
                .andThen((made) => sc.store.snapshots.finish(id, "create", "success", { providerLocation: made.providerLocation, providerId: made.providerId }))
                .andThen((t) => mustWin(t, `finish snapshot ${id}`));
            }),
          ),
      ),
    ),
  );
}

/** Deletes a snapshot (see `VolumeService.deleteSnapshot`): `deleting`, then removed, or `error_deleting`. */
export function deleteSnapshotOp(sc: ServiceContext, snapshotId: string, options: ServiceOperationOptions = {}): ResultAsync<void, VolkitError> {
  return traced(sc.events, "snapshot", "delete", { snapshotId }, (trace) =>
    sc.store.snapshots.get(snapshotId).andThen((snapshot) => {
      trace.about({ volumeId: snapshot.volumeId });
      return sc.store.volumes.get(snapshot.volumeId).andThen((volume) =>
        backendOf(sc, volume).asyncAndThen((backend) =>
          sc.store.snapshots
            .begin(snapshotId, "delete", { task: newTask(sc, "delete") })
            .andThen((t) => mustWin(t, `delete snapshot ${snapshotId}`))
            .andThen((deleting) =>
              holding(sc, [`snapshot:${snapshotId}`], () =>
                backend
                  .deleteSnapshot(coreSnapshot(deleting, volume), callOptions(options))
                  .orElse((e) =>
                    sc.store.snapshots
                      .finish(snapshotId, "delete", "failure", { statusReason: failureReason("delete snapshot", e) })
                      .orElse(() => okAsync(undefined))
                      .andThen(() => errAsync(e)),
                  )
                  .andThen(() => sc.store.snapshots.finish(snapshotId, "delete", "success"))
                  .andThen((t) => mustWin(t, `finish deleting snapshot ${snapshotId}`))
                  .map(() => undefined),
              ),
            ),
        ),
      );
    }),
  );
}

/**
 * Reverts a volume to one of its snapshots (see `VolumeService.revertToSnapshot`): the snapshot
 * is `restoring` and the volume `reverting` while the driver works (the snapshot id is in the
 * volume's task, so `reconcile()` can redo it), then both `available`; a failed revert leaves the
 * volume `error` (its data may be half reverted) and the snapshot `available`.
 */
export function revertToSnapshotOp(sc: ServiceContext, volumeId: string, snapshotId: string, options: ServiceOperationOptions = {}): ResultAsync<VolumeRecord, VolkitError> {
  return traced(
    sc.events,
    "volume",
    "revert",
    { volumeId, snapshotId },
    (trace) =>
      sc.store.snapshots.get(snapshotId).andThen((snapshot) => {
        if (snapshot.volumeId !== volumeId) return errAsync(new VolkitError("INVALID_ARGUMENT", `snapshot ${snapshotId} belongs to volume ${snapshot.volumeId}, not ${volumeId}`, { source: "service" }));
        return sc.store.volumes.get(volumeId).andThen((volume) =>
          backendOf(sc, volume).asyncAndThen((backend) =>
            sc.store.snapshots
              .begin(snapshotId, "restore")
              .andThen((t) => mustWin(t, `revert to snapshot ${snapshotId}`))
              .andThen((restoring) =>
                sc.store.volumes
                  .begin(volumeId, "revert", { patch: { task: newTask(sc, "revert", { snapshotId }) } })
                  .andThen((t) => mustWin(t, `revert volume ${volumeId}`))
                  .orElse((e) =>
                    sc.store.snapshots
                      .finish(snapshotId, "restore", "failure")
                      .orElse(() => okAsync(undefined))
                      .andThen(() => errAsync(e)),
                  )
                  .andThen((reverting) =>
                    holding(sc, [`volume:${volumeId}`, `snapshot:${snapshotId}`], () => {
                      trace.step("reverting");
                      const finishSnapshot = (outcome: "success" | "failure"): ResultAsync<void, never> =>
                        sc.store.snapshots
                          .finish(snapshotId, "restore", outcome)
                          .map(() => undefined)
                          .orElse(() => okAsync(undefined));
                      return backend
                        .revertToSnapshot(coreVolume(reverting), coreSnapshot(restoring, reverting), callOptions(options))
                        .orElse((e) =>
                          sc.store.volumes
                            .finish(volumeId, "revert", "failure", { statusReason: failureReason("revert", e) })
                            .orElse(() => okAsync(undefined))
                            .andThen(() => finishSnapshot("failure"))
                            .andThen(() => errAsync(e)),
                        )
                        .andThen(() => sc.store.volumes.finish(volumeId, "revert", "success"))
                        .andThen((t) => mustWin(t, `finish reverting volume ${volumeId}`))
                        .andThen((done) => finishSnapshot("success").map(() => done));
                    }),
                  ),
              ),
          ),
        );
      }),
    (v) => v.status,
  );
}
