import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import type { Volume, VolumeSpecInput } from "../../core/records.js";
import { SizeGiBSchema, validate } from "../../core/validation.js";
import type { VolumeBackend } from "../../drivers/backend.js";
import { ImageSourceSchema, checkImage, type ImageSource } from "../image/image-source.js";
import { PURPOSE_KEY, volumeFromImage } from "../image/image-cache.js";
import { DisplayNameSchema, MetadataSchema, RecordIdSchema } from "../records/record-fields.js";
import type { SnapshotRecord } from "../records/snapshot-record.js";
import type { VolumeRecord } from "../records/volume-record.js";
import type { Placement } from "../scheduler/scheduler.js";
import { traced, type OperationTrace } from "../service-events.js";
import { backendOf, callOptions, coreSnapshot, coreVolume, failureReason, holding, mustWin, newTask, type ServiceContext, type ServiceOperationOptions } from "../service-context.js";
import { hasBackendQos, resolveBackendQos } from "../scheduler/qos.js";
import { specIsTrue, type ResolvedType } from "../type-catalog.js";
import { copyVolumeData } from "./data-copy.js";
import { providerPatch, serviceContext } from "./host-attach.js";
import { choosePlacement, landedPool } from "./placement.js";

/** Where a new volume's first bytes come from. */
export const CreateSourceSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("snapshot"), snapshotId: RecordIdSchema }),
  z.object({ kind: z.literal("volume"), volumeId: RecordIdSchema }),
  ImageSourceSchema,
]);

/** What a caller asks for when creating a volume. */
export const CreateVolumeRequestSchema = z.object({
  /** Id (default: a random UUID); backend object names derive from it. */
  id: RecordIdSchema.optional(),
  /** Display name. */
  name: DisplayNameSchema.optional(),
  /** Size in GiB; default: the source's (snapshot, volume, or the image's virtual size rounded up). */
  sizeGiB: SizeGiBSchema.optional(),
  /** Volume type name (default: the service's default type). */
  volumeType: z.string().min(1).max(255).optional(),
  /** Availability zone to place it in. */
  availabilityZone: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an availability zone name").optional(),
  /** Free-form metadata. */
  metadata: MetadataSchema.optional(),
  /** Blank when absent. */
  source: CreateSourceSchema.optional(),
  /** Mark it bootable (default: true for images). */
  bootable: z.boolean().optional(),
});
/** A create request as a caller writes it. */
export type CreateVolumeRequest = z.input<typeof CreateVolumeRequestSchema>;
type Request = z.output<typeof CreateVolumeRequestSchema>;

/** What the source of a create is, once looked up. */
type Source =
  | { readonly kind: "none" }
  | { readonly kind: "snapshot"; readonly snapshot: SnapshotRecord; readonly volume: VolumeRecord }
  | { readonly kind: "volume"; readonly volume: VolumeRecord }
  | { readonly kind: "image"; readonly image: ImageSource };

function sourceOf(sc: ServiceContext, req: Request): ResultAsync<Source, VolkitError> {
  const s = req.source;
  if (s === undefined) return okAsync({ kind: "none" });
  if (s.kind === "image") return okAsync({ kind: "image", image: s });
  if (s.kind === "volume") {
    return sc.store.volumes.get(s.volumeId).andThen((volume) =>
      volume.status === "available" || volume.status === "in-use"
        ? okAsync({ kind: "volume" as const, volume })
        : errAsync(new VolkitError("INVALID_STATE", `source volume ${volume.id} is ${volume.status}; a clone needs it available or in-use`, { source: "service" })),
    );
  }
  return sc.store.snapshots.get(s.snapshotId).andThen((snapshot) =>
    snapshot.status !== "available"
      ? errAsync(new VolkitError("INVALID_STATE", `snapshot ${snapshot.id} is ${snapshot.status}; a volume from it needs it available`, { source: "service" }))
      : sc.store.volumes.get(snapshot.volumeId).map((volume) => ({ kind: "snapshot" as const, snapshot, volume })),
  );
}

/**
 * The size of the new volume: asked for, or the source's (an image's virtual size rounded up to
 * GiB, which means checking the image first); never smaller than a snapshot or volume source.
 */
function sizeFor(sc: ServiceContext, req: Request, source: Source, options: ServiceOperationOptions): ResultAsync<number, VolkitError> {
  if (req.sizeGiB === undefined && source.kind === "image") {
    return checkImage(sc.runner, source.image, serviceContext(sc, "createVolume", req.id, callOptions(options))).map((checked) => checked.minSizeGiB);
  }
  const minimum = source.kind === "snapshot" ? source.snapshot.sizeGiB : source.kind === "volume" ? source.volume.sizeGiB : undefined;
  const size = req.sizeGiB ?? minimum;
  if (size === undefined) return errAsync(new VolkitError("INVALID_ARGUMENT", "sizeGiB is required for a blank volume", { source: "service" }));
  if (minimum !== undefined && size < minimum) return errAsync(new VolkitError("INVALID_ARGUMENT", `the volume (${size} GiB) is smaller than its source (${minimum} GiB)`, { source: "service" }));
  return okAsync(size);
}

/**
 * Creates a volume (see `VolumeService.createVolume`): the record is inserted `creating`, placed
 * by the scheduler (consuming the pool), built on the backend, and finished `available`, or
 * `error` with the reason. Each step is persisted before the next runs, for `reconcile()`.
 */
export function createVolumeOp(sc: ServiceContext, input: CreateVolumeRequest, options: ServiceOperationOptions = {}): ResultAsync<VolumeRecord, VolkitError> {
  const parsed = validate(CreateVolumeRequestSchema, input, "create request");
  if (parsed.isErr()) return errAsync(parsed.error);
  const req = parsed.value;
  const id = req.id ?? crypto.randomUUID();
  return traced(sc.events, "volume", "create", { volumeId: id }, (trace) => create(sc, req, id, trace, options), (v) => v.status);
}

function create(sc: ServiceContext, req: Request, id: string, trace: OperationTrace, options: ServiceOperationOptions): ResultAsync<VolumeRecord, VolkitError> {
  return sc.types.resolve(req.volumeType).andThen((type) =>
    sourceOf(sc, req).andThen((source) =>
      sizeFor(sc, req, source, options).andThen((sizeGiB) => {
        const record = {
          id,
          sizeGiB,
          status: "creating" as const,
          bootable: req.bootable ?? (source.kind === "image" || (source.kind !== "none" && source.volume.bootable)),
          multiattach: specIsTrue(type?.type.extraSpecs.multiattach),
          metadata: req.metadata ?? {},
          task: newTask(sc, "create"),
          ...(req.name === undefined ? {} : { name: req.name }),
          ...(type === undefined ? {} : { volumeTypeId: type.type.id }),
          ...(req.availabilityZone === undefined ? {} : { availabilityZone: req.availabilityZone }),
          ...(req.source === undefined
            ? {}
            : { source: req.source.kind === "image" ? { kind: "image" as const, imageId: req.source.imageId } : req.source.kind === "volume" ? { kind: "volume" as const, volumeId: req.source.volumeId } : { kind: "snapshot" as const, snapshotId: req.source.snapshotId } }),
        };
        return sc.store.volumes
          .insert(record)
          .orElse((e) => (e.code === "VOLUME_EXISTS" ? sameAsExisting(sc, id, sizeGiB, type, e) : errAsync(e)))
          .andThen((inserted) => (inserted.status !== "creating" ? okAsync(inserted) : holding(sc, [`volume:${id}`], () => build(sc, inserted, type, source, trace, options))));
      }),
    ),
  );
}

/** A retried create of an identical, finished volume returns it; anything else is `VOLUME_EXISTS`. */
function sameAsExisting(sc: ServiceContext, id: string, sizeGiB: number, type: ResolvedType | undefined, original: VolkitError): ResultAsync<VolumeRecord, VolkitError> {
  return sc.store.volumes.get(id).andThen((existing) =>
    existing.status === "available" && existing.sizeGiB === sizeGiB && existing.volumeTypeId === type?.type.id ? okAsync(existing) : errAsync(original),
  );
}

/** Places, builds and finishes an inserted `creating` record. */
function build(sc: ServiceContext, record: VolumeRecord, type: ResolvedType | undefined, source: Source, trace: OperationTrace, options: ServiceOperationOptions): ResultAsync<VolumeRecord, VolkitError> {
  trace.step("recorded");
  const request = {
    sizeGiB: record.sizeGiB,
    volumeId: record.id,
    multiattach: record.multiattach,
    ...(type === undefined ? {} : { extraSpecs: type.type.extraSpecs }),
    ...(record.availabilityZone === undefined ? {} : { availabilityZone: record.availabilityZone }),
    ...(hasBackendQos(type?.qos) ? { backendQos: true } : {}),
  };
  const sourceBackend = source.kind === "snapshot" || source.kind === "volume" ? source.volume.backend : undefined;
  const fail = (e: VolkitError, placement?: Placement): ResultAsync<never, VolkitError> => {
    if (placement) sc.scheduler.release(placement);
    return sc.store.volumes
      .finish(record.id, "create", "failure", { statusReason: failureReason("create", e) })
      .orElse(() => okAsync(undefined))
      .andThen(() => errAsync(e));
  };
  return choosePlacement(sc, request, sourceBackend)
    .orElse((e) => fail(e))
    .andThen(({ placement }) =>
      sc.store.volumes
        .update(record.id, { backend: placement.backend, pool: placement.pool, availabilityZone: sc.scheduler.pools().find((p) => p.ref === placement.ref)?.availabilityZone }, { status: ["creating"] })
        .andThen((t) => mustWin(t, `place volume ${record.id}`))
        .andThen((placed) =>
          backendOf(sc, placed).asyncAndThen((backend) => {
            trace.step("scheduled");
            return onBackend(sc, placed, backend, type, source, trace, options).andThen((volume) => {
              trace.step("created");
              const pool = landedPool(sc, placement, volume);
              return (
                sc.store.volumes
                  .finish(record.id, "create", "success", { patch: { ...providerPatch(volume), pool } })
                  .andThen((t) => mustWin(t, `finish creating volume ${record.id}`))
                  // The record could not take the volume (a store failure, an admin's force delete): no orphan on the backend.
                  .orElse((e) => dropCreated<VolumeRecord>(backend, volume, e))
                  .map((done) => {
                    sc.scheduler.commit(placement);
                    return done;
                  })
              );
            });
          }),
        )
        .orElse((e) => fail(e, placement)),
    );
}

/** The backend work of a create, by source. */
function onBackend(sc: ServiceContext, placed: VolumeRecord, backend: VolumeBackend, type: ResolvedType | undefined, source: Source, trace: OperationTrace, options: ServiceOperationOptions): ResultAsync<Volume, VolkitError> {
  const qos = resolveBackendQos(type?.qos, placed.sizeGiB);
  if (qos.isErr()) return errAsync(qos.error);
  const spec: VolumeSpecInput = {
    id: placed.id,
    sizeGiB: placed.sizeGiB,
    ...(placed.name === undefined ? {} : { displayName: placed.name }),
    ...(type === undefined ? {} : { volumeType: type.type.name }),
    ...(Object.keys(placed.metadata).length === 0 ? {} : { metadata: placed.metadata }),
    ...(qos.value === undefined ? {} : { qos: qos.value }),
  };
  const o = callOptions(options);
  switch (source.kind) {
    case "none":
      return backend.createVolume(spec, o);
    case "image":
      return volumeFromImage(sc, { record: placed, backend, spec, image: source.image, trace, ctx: serviceContext(sc, "createVolume", placed.id, o) });
    case "snapshot":
      if (source.volume.backend === placed.backend) return backend.createVolumeFromSnapshot(spec, coreSnapshot(source.snapshot, source.volume), o);
      return viaTemporary(sc, placed, backend, spec, source, trace, options);
    case "volume":
      if (source.volume.backend === placed.backend) return backend.createClonedVolume(spec, coreVolume(source.volume), o);
      return backend.createVolume(spec, o).andThen((created) =>
        copyVolumeData(sc, { record: source.volume, readOnly: true }, { record: { ...placed, ...providerPatchOf(created) }, readOnly: false }, trace, options)
          .map(() => created)
          .orElse((e) => dropCreated<Volume>(backend, created, e)),
      );
  }
}

function providerPatchOf(v: Volume): Partial<VolumeRecord> {
  return { ...(v.providerLocation === undefined ? {} : { providerLocation: v.providerLocation }), ...(v.providerAuth === undefined ? {} : { providerAuth: v.providerAuth }), ...(v.providerId === undefined ? {} : { providerId: v.providerId }) };
}

function dropCreated<T>(backend: VolumeBackend, created: Volume, e: VolkitError): ResultAsync<T, VolkitError> {
  return backend
    .deleteVolume(created)
    .orElse(() => okAsync(undefined))
    .andThen(() => errAsync(e));
}

/**
 * A volume from a snapshot on another backend (the type forbids the snapshot's): a temporary
 * volume from the snapshot on its backend, copied on this host into the new one, then deleted.
 */
function viaTemporary(
  sc: ServiceContext,
  placed: VolumeRecord,
  backend: VolumeBackend,
  spec: VolumeSpecInput,
  source: Extract<Source, { kind: "snapshot" }>,
  trace: OperationTrace,
  options: ServiceOperationOptions,
): ResultAsync<Volume, VolkitError> {
  return createVolumeOp(sc, { source: { kind: "snapshot", snapshotId: source.snapshot.id }, metadata: { [PURPOSE_KEY]: "temporary", "volkit:for": placed.id }, ...(source.volume.volumeTypeId === undefined ? {} : { volumeType: source.volume.volumeTypeId }) }, options).andThen((temporary) => {
    const cleanup = (): ResultAsync<void, VolkitError> =>
      sc.store.volumes.begin(temporary.id, "delete", { patch: { task: newTask(sc, "delete") } }).andThen(() =>
        backendOf(sc, temporary)
          .asyncAndThen((b) => b.deleteVolume(coreVolume(temporary)))
          .andThen(() => sc.store.volumes.finish(temporary.id, "delete", "success"))
          .map(() => undefined),
      );
    const work = backend.createVolume(spec, callOptions(options)).andThen((created) =>
      copyVolumeData(sc, { record: temporary, readOnly: true }, { record: { ...placed, ...providerPatchOf(created) }, readOnly: false }, trace, options)
        .map(() => created)
        .orElse((e) => dropCreated<Volume>(backend, created, e)),
    );
    // The temporary volume goes whatever happened.
    return work
      .andThen((created) => cleanup().orElse(() => okAsync(undefined)).map(() => created))
      .orElse((e) => cleanup().orElse(() => okAsync(undefined)).andThen(() => errAsync(e)));
  });
}
