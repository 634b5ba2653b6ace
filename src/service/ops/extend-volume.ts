import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { extendAttachedVolume, restoreAttachment } from "../../attach/attach.js";
import { VolkitError } from "../../core/errors.js";
import type { Volume } from "../../core/records.js";
import { SizeGiBSchema, validate } from "../../core/validation.js";
import type { VolumeBackend } from "../../drivers/backend.js";
import type { AttachmentRecord } from "../records/attachment-record.js";
import type { VolumeRecord } from "../records/volume-record.js";
import type { Placement } from "../scheduler/scheduler.js";
import { traced, type OperationTrace } from "../service-events.js";
import { backendOf, callOptions, coreVolume, failureReason, holding, mustWin, newTask, type ServiceContext, type ServiceOperationOptions } from "../service-context.js";
import { coreAttachmentOf, providerPatch } from "./host-attach.js";

/** A finished extend. */
export interface ServiceExtend {
  /** The volume at its new size. */
  readonly volume: VolumeRecord;
  /** Attachments on this host whose device was rescanned to the new size. */
  readonly rescanned: readonly string[];
  /** Hosts with attachments this host cannot rescan: they must rescan (their `extendVolume` of the connector). */
  readonly hostsToRescan: readonly string[];
}

/**
 * Reserves the growth in the volume's pool (the scheduler's capacity filter with the numbers when
 * it does not fit); nothing when the pool has no stats (the driver checks capacity too).
 */
function reserveGrowth(sc: ServiceContext, volume: VolumeRecord, growthGiB: number, provisioningType: string | undefined): ResultAsync<Placement | undefined, VolkitError> {
  const ref = `${volume.backend ?? ""}#${volume.pool ?? ""}`;
  const pools = sc.scheduler.pools();
  if (!pools.some((p) => p.ref === ref)) return okAsync(undefined);
  return sc.scheduler
    .place({ sizeGiB: growthGiB, volumeId: volume.id, excludePools: pools.filter((p) => p.ref !== ref).map((p) => p.ref), ...(provisioningType === undefined ? {} : { extraSpecs: { "provisioning:type": provisioningType } }) })
    .map((p): Placement | undefined => p);
}

/** Grows the volume on the backend, through this host's attachments when it has some (online). */
function grow(sc: ServiceContext, volume: VolumeRecord, backend: VolumeBackend, size: number, options: ServiceOperationOptions): ResultAsync<{ volume: Volume; rescanned: string[]; elsewhere: string[] }, VolkitError> {
  return sc.store.attachments.list({ volumeId: volume.id, purpose: "instance", attachStatus: "attached" }).andThen((attachments) =>
    sc.host
      .connector(backend.capabilities.protocol)
      .andThen((c) => c.getHostProperties(callOptions(options)))
      .andThen((props) => {
        const local = attachments.filter((a) => a.host === props.host);
        const elsewhere = [...new Set(attachments.filter((a) => a.host !== props.host).map((a) => a.host))];
        const first = local[0];
        const core = first === undefined ? undefined : coreAttachmentOf(first, volume, backend.name);
        if (first === undefined || core === undefined) return backend.extendVolume(coreVolume(volume), size, callOptions(options)).map((v) => ({ volume: v, rescanned: [], elsewhere }));
        return sc.host
          .connector(core.connection.type)
          .andThen((connector) => restoreAttachment(backend, core, { connector }))
          .andThen((restored) => extendAttachedVolume(restored, size, callOptions(options)))
          .andThen((extended) =>
            sc.store.attachments.update(first.id, { device: extended.device }).andThen(() =>
              rescanOthers(sc, local.slice(1), volume, backend, size, options).map((others) => ({ volume: extended.volume, rescanned: [first.id, ...others], elsewhere })),
            ),
          );
      }),
  );
}

/** Makes this host's other attachments of the volume see the new size. */
function rescanOthers(sc: ServiceContext, others: readonly AttachmentRecord[], volume: VolumeRecord, backend: VolumeBackend, size: number, options: ServiceOperationOptions): ResultAsync<string[], VolkitError> {
  return others.reduce<ResultAsync<string[], VolkitError>>((chain, a) => {
    const core = coreAttachmentOf(a, volume, backend.name);
    if (core === undefined) return chain;
    return chain.andThen((done) =>
      sc.host
        .connector(core.connection.type)
        .andThen((c) => c.extendVolume(core.connection, core.device, callOptions(options)))
        .andThen((bytes) => sc.store.attachments.update(a.id, { device: { ...core.device, sizeBytes: bytes } }))
        .map(() => [...done, a.id]),
    );
  }, okAsync([]))
    .orElse((e) => errAsync(new VolkitError(e.code, `volume ${volume.id} grew to ${size} GiB but a rescan on this host failed: ${e.message}`, { source: "service", cause: e })));
}

/**
 * Grows a volume (see `VolumeService.extendVolume`): `extending` from `available` or `in-use`
 * with the new size in the task (so `reconcile()` can finish it), online through this host's
 * attachments, back to the status it had, or `error_extending` with the reason.
 */
export function extendVolumeOp(sc: ServiceContext, volumeId: string, newSizeGiB: number, options: ServiceOperationOptions = {}): ResultAsync<ServiceExtend, VolkitError> {
  const size = validate(SizeGiBSchema, newSizeGiB, "new size");
  if (size.isErr()) return errAsync(size.error);
  return traced(sc.events, "volume", "extend", { volumeId }, (trace) => extend(sc, volumeId, size.value, trace, options), (r) => r.volume.status);
}

function extend(sc: ServiceContext, volumeId: string, size: number, trace: OperationTrace, options: ServiceOperationOptions): ResultAsync<ServiceExtend, VolkitError> {
  return sc.store.volumes.get(volumeId).andThen((volume) =>
    backendOf(sc, volume).asyncAndThen((backend) => {
      if (size <= volume.sizeGiB) return errAsync(new VolkitError("INVALID_ARGUMENT", `volume ${volumeId} is ${volume.sizeGiB} GiB: the new size must be larger, got ${size}`, { source: "service" }));
      if (volume.status === "in-use" && !backend.capabilities.onlineExtend) {
        return errAsync(new VolkitError("INVALID_STATE", `backend ${backend.name} cannot extend an attached volume: detach ${volumeId} first`, { source: "service" }));
      }
      return sc.types.ofVolume(volume.volumeTypeId).andThen((type) =>
        reserveGrowth(sc, volume, size - volume.sizeGiB, type?.type.extraSpecs["provisioning:type"]).andThen((reserved) => {
          const release = (): void => {
            if (reserved) sc.scheduler.release(reserved);
          };
          return sc.store.volumes
            .begin(volumeId, "extend", { patch: { task: newTask(sc, "extend", { newSizeGiB: size }) } })
            .andThen((t) => mustWin(t, `extend volume ${volumeId}`))
            .orElse((e) => {
              release();
              return errAsync(e);
            })
            .andThen((extending) =>
              holding(sc, [`volume:${volumeId}`], () => {
                trace.step("extending");
                return grow(sc, extending, backend, size, options)
                  .orElse((e) => {
                    release();
                    return sc.store.volumes
                      .finish(volumeId, "extend", "failure", { statusReason: failureReason("extend", e) })
                      .orElse(() => okAsync(undefined))
                      .andThen(() => errAsync(e));
                  })
                  .andThen((grown) =>
                    sc.store.volumes
                      .finish(volumeId, "extend", "success", { patch: { ...providerPatch(grown.volume), sizeGiB: size } })
                      .andThen((t) => mustWin(t, `finish extending volume ${volumeId}`))
                      .map((done): ServiceExtend => {
                        if (reserved) sc.scheduler.commit(reserved);
                        return { volume: done, rescanned: grown.rescanned, hostsToRescan: grown.elsewhere };
                      }),
                  );
              }),
            );
        }),
      );
    }),
  );
}
