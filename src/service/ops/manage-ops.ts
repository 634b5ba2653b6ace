import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { ExistingRefSchema } from "../../core/records.js";
import { validate } from "../../core/validation.js";
import { BackendNameSchema, DisplayNameSchema, MetadataSchema, PoolNameSchema, RecordIdSchema } from "../records/record-fields.js";
import type { VolumeRecord } from "../records/volume-record.js";
import { evaluatePools } from "../scheduler/scheduler.js";
import { hasBackendQos, resolveBackendQos } from "../scheduler/qos.js";
import { traced } from "../service-events.js";
import { backendOf, callOptions, coreVolume, failureReason, holding, mustWin, newTask, type ServiceContext, type ServiceOperationOptions } from "../service-context.js";
import { specIsTrue } from "../type-catalog.js";
import { providerPatch } from "./host-attach.js";

/** Fields of a volume a caller may change at any time. */
export const UpdateVolumeRequestSchema = z.object({
  /** Display name (`null` clears it). */
  name: DisplayNameSchema.nullable().optional(),
  /** Replaces the metadata. */
  metadata: MetadataSchema.optional(),
  /** Marks it bootable or not. */
  bootable: z.boolean().optional(),
});
/** An update as a caller writes it. */
export type UpdateVolumeRequest = z.input<typeof UpdateVolumeRequestSchema>;

/** Changes a volume's name, metadata or bootable flag (Cinder's `update`, `set-bootable`, metadata calls). */
export function updateVolumeOp(sc: ServiceContext, volumeId: string, input: UpdateVolumeRequest): ResultAsync<VolumeRecord, VolkitError> {
  const parsed = validate(UpdateVolumeRequestSchema, input, "volume update");
  if (parsed.isErr()) return errAsync(parsed.error);
  const req = parsed.value;
  const patch = {
    ...(req.name === undefined ? {} : { name: req.name ?? undefined }),
    ...(req.metadata === undefined ? {} : { metadata: req.metadata }),
    ...(req.bootable === undefined ? {} : { bootable: req.bootable }),
  };
  return traced(
    sc.events,
    "volume",
    "update",
    { volumeId },
    () => sc.store.volumes.update(volumeId, patch).andThen((t) => mustWin(t, `update volume ${volumeId}`)),
    (v) => v.status,
  );
}

/** Taking over an object that already exists on a backend (Cinder's `manage`). */
export const ManageVolumeRequestSchema = z.object({
  /** Id of the new volume record (default: a random UUID); the driver renames the object after it. */
  id: RecordIdSchema.optional(),
  /** The backend holding the object. */
  backend: BackendNameSchema,
  /** Its pool (default: the backend's only pool). */
  pool: PoolNameSchema.optional(),
  /** The object: `{ sourceName }` or `{ sourceId }`. */
  ref: ExistingRefSchema,
  /** Display name. */
  name: DisplayNameSchema.optional(),
  /** Volume type; the pool must satisfy it. */
  volumeType: z.string().min(1).max(255).optional(),
  /** Bootable. */
  bootable: z.boolean().default(false),
  /** Metadata. */
  metadata: MetadataSchema.optional(),
});
/** A manage request as a caller writes it. */
export type ManageVolumeRequest = z.input<typeof ManageVolumeRequestSchema>;

/**
 * Manages an existing backend object (see `VolumeService.manageVolume`): the record is inserted
 * `managing` with the object's size, the driver takes the object over, and the volume is
 * `available`, or `error_managing` (the object untouched or half renamed: the reason says which).
 */
export function manageVolumeOp(sc: ServiceContext, input: ManageVolumeRequest, options: ServiceOperationOptions = {}): ResultAsync<VolumeRecord, VolkitError> {
  const parsed = validate(ManageVolumeRequestSchema, input, "manage request");
  if (parsed.isErr()) return errAsync(parsed.error);
  const req = parsed.value;
  const id = req.id ?? crypto.randomUUID();
  return traced(
    sc.events,
    "volume",
    "manage",
    { volumeId: id },
    (trace) =>
      sc.backends.backend(req.backend).asyncAndThen((backend) =>
        sc.types.resolve(req.volumeType).andThen((type) => {
          const pools = sc.scheduler.pools().filter((p) => p.backend === req.backend);
          const pool = req.pool === undefined ? (pools.length === 1 ? pools[0] : undefined) : pools.find((p) => p.stats.poolName === req.pool);
          if (pool === undefined) {
            return errAsync(new VolkitError("INVALID_ARGUMENT", `name the pool of backend ${req.backend} (known: ${pools.map((p) => p.stats.poolName).join(", ") || "none reported"})`, { source: "service" }));
          }
          const multiattach = specIsTrue(type?.type.extraSpecs.multiattach);
          const fit = evaluatePools([pool], { sizeGiB: 0, multiattach, ...(type === undefined ? {} : { extraSpecs: type.type.extraSpecs }), ...(hasBackendQos(type?.qos) ? { backendQos: true } : {}) });
          const refused = fit.rejections[0];
          if (refused !== undefined) return errAsync(new VolkitError("INVALID_ARGUMENT", `pool ${pool.ref} does not fit volume type ${type?.type.name ?? "(none)"}: ${refused.reason}`, { source: "service" }));
          return backend.manageExistingGetSize(req.ref, callOptions(options)).andThen((sizeGiB) =>
            sc.store.volumes
              .insert({
                id,
                sizeGiB,
                status: "managing",
                backend: req.backend,
                pool: pool.stats.poolName,
                availabilityZone: pool.availabilityZone,
                bootable: req.bootable,
                multiattach,
                metadata: req.metadata ?? {},
                task: newTask(sc, "manage"),
                ...(req.name === undefined ? {} : { name: req.name }),
                ...(type === undefined ? {} : { volumeTypeId: type.type.id }),
              })
              .andThen(() =>
                holding(sc, [`volume:${id}`], () => {
                  trace.step("recorded");
                  return backend
                    .manageExisting(
                      {
                        id,
                        sizeGiB,
                        ...(req.name === undefined ? {} : { displayName: req.name }),
                        ...(type === undefined ? {} : { volumeType: type.type.name }),
                        // Specs that do not resolve were refused by the create of every other volume of the type.
                        ...resolveBackendQos(type?.qos, sizeGiB).match((qos) => (qos === undefined ? {} : { qos }), () => ({})),
                      },
                      req.ref,
                      callOptions(options),
                    )
                    .orElse((e) =>
                      sc.store.volumes
                        .finish(id, "manage", "failure", { statusReason: failureReason("manage", e) })
                        .orElse(() => okAsync(undefined))
                        .andThen(() => errAsync(e)),
                    )
                    .andThen((volume) => sc.store.volumes.finish(id, "manage", "success", { patch: { ...providerPatch(volume), sizeGiB: volume.sizeGiB } }))
                    .andThen((t) => mustWin(t, `finish managing volume ${id}`));
                }),
              ),
          );
        }),
      ),
    (v) => v.status,
  );
}

/** Stops managing a volume (see `VolumeService.unmanageVolume`): the record goes, the data stays on the backend. */
export function unmanageVolumeOp(sc: ServiceContext, volumeId: string, options: ServiceOperationOptions = {}): ResultAsync<void, VolkitError> {
  return traced(sc.events, "volume", "unmanage", { volumeId }, () =>
    sc.store.volumes
      .begin(volumeId, "unmanage", { patch: { task: newTask(sc, "unmanage") } })
      .andThen((t) => mustWin(t, `unmanage volume ${volumeId}`))
      .andThen((volume) =>
        holding(sc, [`volume:${volumeId}`], () =>
          backendOf(sc, volume)
            .asyncAndThen((backend) => backend.unmanage(coreVolume(volume), callOptions(options)))
            .orElse((e) =>
              sc.store.volumes
                .finish(volumeId, "unmanage", "failure", { statusReason: failureReason("unmanage", e) })
                .orElse(() => okAsync(undefined))
                .andThen(() => errAsync(e)),
            )
            .andThen(() => sc.store.volumes.finish(volumeId, "unmanage", "success"))
            .andThen((t) => mustWin(t, `finish unmanaging volume ${volumeId}`))
            .map(() => undefined),
        ),
      ),
  );
}
