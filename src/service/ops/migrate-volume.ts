import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import { PURPOSE_KEY } from "../image/image-cache.js";
import { BackendNameSchema, PoolNameSchema } from "../records/record-fields.js";
import type { VolumeRecord } from "../records/volume-record.js";
import { evaluatePools, type Placement } from "../scheduler/scheduler.js";
import { traced, type OperationTrace } from "../service-events.js";
import { backendOf, callOptions, coreVolume, failureReason, holding, mustWin, newTask, type ServiceContext, type ServiceOperationOptions } from "../service-context.js";
import { hasBackendQos, resolveBackendQos } from "../scheduler/qos.js";
import { specIsTrue, type ResolvedType } from "../type-catalog.js";
import { copyVolumeData } from "./data-copy.js";
import { providerPatch } from "./host-attach.js";

/** Where to migrate a volume. */
export const MigrateRequestSchema = z
  .object({
    /** Destination backend (default: wherever the scheduler places the volume's type, off its current backend). */
    backend: BackendNameSchema.optional(),
    /** Destination pool of that backend. */
    pool: PoolNameSchema.optional(),
    /**
     * Copy through this host even when the driver could move the volume itself. Every migration is
     * a host copy today (no driver has a native migration), so this is always honoured.
     */
    forceHostCopy: z.boolean().optional(),
  })
  .refine((r) => r.pool === undefined || r.backend !== undefined, { message: "pool needs backend" });
/** A migrate request as a caller writes it. */
export type MigrateRequest = z.input<typeof MigrateRequestSchema>;

/** How a retype may move the volume. */
export const RetypeRequestSchema = z.object({
  /** `never` (default): only when the current pool satisfies the new type; `on-demand`: migrate when it does not. */
  migrationPolicy: z.enum(["never", "on-demand"]).default("never"),
});
/** A retype request as a caller writes it. */
export type RetypeRequest = z.input<typeof RetypeRequestSchema>;

/** Where a migration is going, and the type the volume has there. */
interface Destination {
  readonly backend?: string | undefined;
  readonly pool?: string | undefined;
  readonly type: ResolvedType | undefined;
  readonly retype: boolean;
}

/** The temporary destination record: the migrating volume's object on the destination, under the volume's id. */
function targetRecord(sc: ServiceContext, volume: VolumeRecord, targetId: string, placement: Placement, dest: Destination): Parameters<ServiceContext["store"]["volumes"]["insert"]>[0] {
  return {
    id: targetId,
    name: `migration of ${volume.id}`,
    sizeGiB: volume.sizeGiB,
    status: "creating",
    backend: placement.backend,
    pool: placement.pool,
    availabilityZone: sc.scheduler.pools().find((p) => p.ref === placement.ref)?.availabilityZone,
    migrationStatus: `target:${volume.id}`,
    bootable: volume.bootable,
    multiattach: dest.type === undefined ? volume.multiattach : specIsTrue(dest.type.type.extraSpecs.multiattach),
    metadata: { [PURPOSE_KEY]: "migration" },
    task: newTask(sc, "create"),
    ...(dest.type === undefined ? {} : { volumeTypeId: dest.type.type.id }),
  };
}

/**
 * Removes a migration's temporary record and the object it points at (the destination copy
 * before the swap, the old copy after it). Idempotent.
 */
export function dropTarget(sc: ServiceContext, target: VolumeRecord, options: ServiceOperationOptions): ResultAsync<void, VolkitError> {
  const onBackend = target.backend === undefined ? okAsync(undefined) : backendOf(sc, target).asyncAndThen((b) => b.deleteVolume(coreVolume(target), callOptions(options)));
  return onBackend.andThen(() => sc.store.volumes.remove(target.id)).map(() => undefined);
}

/**
 * Moves an `available` volume to another backend through this host (Cinder's generic migration):
 * the volume is locked in `maintenance` (no snapshots allowed), a temporary record holds the new
 * copy (`migrationStatus: target:<id>`, created under the volume's id on the destination), the data
 * is copied with both volumes attached here, then one transaction swaps their locations (the
 * volume now lives on the destination; the temporary record holds the old copy), and the old copy
 * is deleted. Every step is in the volume's task, so `reconcile()` rolls back before the swap and
 * completes after it.
 */
function migrate(sc: ServiceContext, volumeId: string, dest: Destination, trace: OperationTrace, options: ServiceOperationOptions): ResultAsync<VolumeRecord, VolkitError> {
  return sc.store.volumes.get(volumeId).andThen((volume) => {
    if (volume.status !== "available") {
      return errAsync(new VolkitError(volume.status === "in-use" ? "NOT_SUPPORTED" : "INVALID_STATE", `volume ${volumeId} is ${volume.status}: only available volumes migrate (an attached one needs the hypervisor's block copy)`, { source: "service" }));
    }
    return sc.types.ofVolume(volume.volumeTypeId).andThen((current) => {
      const type = dest.type ?? current;
      const pools = sc.scheduler.pools();
      const exclude = pools.filter((p) => p.backend === volume.backend || (dest.pool !== undefined && p.ref !== `${dest.backend ?? ""}#${dest.pool}`)).map((p) => p.ref);
      const extraSpecs = { ...(type?.type.extraSpecs ?? {}), ...(dest.backend === undefined ? {} : { volume_backend_name: dest.backend }) };
      const qos = resolveBackendQos(type?.qos, volume.sizeGiB);
      if (qos.isErr()) return errAsync(qos.error);
      const request = { sizeGiB: volume.sizeGiB, volumeId, multiattach: volume.multiattach, extraSpecs, excludePools: exclude, ...(qos.value === undefined ? {} : { backendQos: true }) };
      return sc.scheduler.place(request).andThen((placement) => {
        const targetId = crypto.randomUUID();
        const task = newTask(sc, "migrate", { targetVolumeId: targetId, ...(dest.retype && type !== undefined ? { volumeTypeId: type.type.id } : {}) });
        return sc.store.volumes
          .begin(volumeId, "migrate", { patch: { migrationStatus: "migrating", task } })
          .andThen((t) => mustWin(t, `migrate volume ${volumeId}`))
          .orElse((e) => {
            sc.scheduler.release(placement);
            return errAsync(e);
          })
          .andThen((locked) =>
            holding(sc, [`volume:${volumeId}`, `volume:${targetId}`], () => {
              trace.step("maintenance");
              const rollback = (e: VolkitError): ResultAsync<never, VolkitError> => {
                sc.scheduler.release(placement);
                return sc.store.volumes
                  .find(targetId)
                  .andThen((t) => (t === undefined ? okAsync(undefined) : dropTarget(sc, t, {})))
                  .orElse(() => okAsync(undefined))
                  .andThen(() => sc.store.volumes.finish(volumeId, "migrate", "failure", { patch: { migrationStatus: "error" }, statusReason: failureReason("migrate", e) }))
                  .orElse(() => okAsync(undefined))
                  .andThen(() => errAsync(e));
              };
              return sc.store.volumes
                .insert(targetRecord(sc, locked, targetId, placement, dest))
                .andThen((target) =>
                  backendOf(sc, target).asyncAndThen((destBackend) =>
                    destBackend.createVolume({ id: volumeId, sizeGiB: volume.sizeGiB, ...(type === undefined ? {} : { volumeType: type.type.name }), ...(qos.value === undefined ? {} : { qos: qos.value }) }, callOptions(options)).andThen((created) =>
                      sc.store.volumes.update(targetId, providerPatch(created), { status: ["creating"] }).andThen((t) => mustWin(t, `record the migration target ${targetId}`)),
                    ),
                  ),
                )
                .andThen((target) => {
                  trace.step("target-created");
                  return copyVolumeData(sc, { record: locked, readOnly: true }, { record: target, readOnly: false }, trace, options);
                })
                .andThen(() =>
                  sc.store.volumes.swapLocation(volumeId, targetId, {
                    task: { ...task, phase: "swapped" },
                    ...(dest.retype && type !== undefined ? { volumeTypeId: type.type.id, multiattach: specIsTrue(type.type.extraSpecs.multiattach) } : {}),
                  }),
                )
                .orElse(rollback)
                .andThen(({ target }) => {
                  trace.step("swapped");
                  sc.scheduler.commit(placement);
                  return finishMigration(sc, volumeId, target, trace);
                });
            }),
          );
      });
    });
  });
}

/**
 * After the swap: deletes the old copy (through the temporary record, which now points at it) and
 * ends the migration. A failed delete does not undo the move: the temporary record stays
 * `error_deleting` for a later delete, and the migration still succeeds.
 */
export function finishMigration(sc: ServiceContext, volumeId: string, oldCopy: VolumeRecord, trace?: OperationTrace): ResultAsync<VolumeRecord, VolkitError> {
  return dropTarget(sc, oldCopy, {})
    .map(() => trace?.step("source-deleted"))
    .orElse((e) => {
      sc.logger.warn({ volumeId, oldCopy: oldCopy.id, err: e.toJSON() }, "migration: deleting the old copy failed; it is kept as an error_deleting record");
      return sc.store.volumes.resetStatus(oldCopy.id, "error_deleting", { statusReason: failureReason("delete the migrated-from copy", e) }).map(() => undefined);
    })
    .andThen(() => sc.store.volumes.finish(volumeId, "migrate", "success", { patch: { migrationStatus: "success" } }))
    .andThen((t) => mustWin(t, `finish migrating volume ${volumeId}`));
}

/** Migrates a volume (see `VolumeService.migrateVolume`). */
export function migrateVolumeOp(sc: ServiceContext, volumeId: string, input: MigrateRequest = {}, options: ServiceOperationOptions = {}): ResultAsync<VolumeRecord, VolkitError> {
  const parsed = validate(MigrateRequestSchema, input, "migrate request");
  if (parsed.isErr()) return errAsync(parsed.error);
  const req = parsed.value;
  return traced(sc.events, "volume", "migrate", { volumeId }, (trace) => migrate(sc, volumeId, { backend: req.backend, pool: req.pool, type: undefined, retype: false }, trace, options), (v) => v.status);
}

/**
 * Changes a volume's type (see `VolumeService.retypeVolume`): in place when its pool satisfies the
 * new type (`retyping` → the status it had), else, with `migrationPolicy: on-demand`, by migrating
 * it to a pool that does (the type changes in the migration's swap).
 */
export function retypeVolumeOp(sc: ServiceContext, volumeId: string, typeName: string, input: RetypeRequest = {}, options: ServiceOperationOptions = {}): ResultAsync<VolumeRecord, VolkitError> {
  const parsed = validate(RetypeRequestSchema, input, "retype request");
  if (parsed.isErr()) return errAsync(parsed.error);
  const policy = parsed.value.migrationPolicy;
  return traced(
    sc.events,
    "volume",
    "retype",
    { volumeId },
    (trace) =>
      sc.types.resolve(typeName).andThen((resolved) => {
        if (resolved === undefined) return errAsync(new VolkitError("INVALID_ARGUMENT", "retype needs a volume type", { source: "service" }));
        return sc.store.volumes.get(volumeId).andThen((volume) => sc.types.ofVolume(volume.volumeTypeId).andThen((current) => {
          const multiattach = specIsTrue(resolved.type.extraSpecs.multiattach);
          // Drivers apply back-end QoS when they create a volume: a retype that changes it moves the volume.
          const qosOf = (q: typeof resolved.qos): string => JSON.stringify(resolveBackendQos(q, volume.sizeGiB).unwrapOr("invalid") ?? null);
          const qosChanges = qosOf(resolved.qos) !== qosOf(current?.qos);
          if (multiattach !== volume.multiattach && volume.status === "in-use") {
            return errAsync(new VolkitError("INVALID_STATE", `volume ${volumeId} is attached: its multiattach setting cannot change`, { source: "service" }));
          }
          const pool = sc.scheduler.pools().find((p) => p.ref === `${volume.backend ?? ""}#${volume.pool ?? ""}`);
          const fit = pool === undefined ? undefined : evaluatePools([pool], { sizeGiB: 0, multiattach, extraSpecs: resolved.type.extraSpecs, ...(hasBackendQos(resolved.qos) ? { backendQos: true } : {}) });
          if (fit !== undefined && fit.candidates.length > 0 && !qosChanges) {
            return sc.store.volumes
              .begin(volumeId, "retype", { patch: { task: newTask(sc, "retype", { volumeTypeId: resolved.type.id }) } })
              .andThen((t) => mustWin(t, `retype volume ${volumeId}`))
              .andThen(() =>
                holding(sc, [`volume:${volumeId}`], () => sc.store.volumes.finish(volumeId, "retype", "success", { patch: { volumeTypeId: resolved.type.id, multiattach } }).andThen((t) => mustWin(t, `finish retyping volume ${volumeId}`))),
              );
          }
          const why = pool === undefined ? `backend ${volume.backend ?? "(none)"} has no stats` : (fit?.rejections[0]?.reason ?? (qosChanges ? "its back-end QoS changes, which the driver applies when it creates the volume" : "refused"));
          if (policy === "never") {
            return errAsync(new VolkitError("INVALID_STATE", `volume ${volumeId}'s pool does not satisfy type ${resolved.type.name} (${why}); retype with migrationPolicy on-demand to move it`, { source: "service" }));
          }
          trace.step("migrating");
          return migrate(sc, volumeId, { type: resolved, retype: true }, trace, options);
        }));
      }),
    (v) => v.status,
  );
}
