import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { z } from "zod";
import type { DetachReport } from "../../attach/attach-flow.js";
import { VolkitError } from "../../core/errors.js";
import type { AttachedDevice } from "../../core/records.js";
import { validate } from "../../core/validation.js";
import { buildDiskXml } from "../../libvirt/libvirt-disk.js";
import { DiskOptionsSchema, type DiskOptions, type ParsedDiskOptions } from "../../libvirt/libvirt-options.js";
import type { AttachmentRecord } from "../records/attachment-record.js";
import { RecordIdSchema } from "../records/record-fields.js";
import type { VolumeRecord } from "../records/volume-record.js";
import { resolveFrontendQos } from "../scheduler/qos.js";
import { traced, type OperationTrace } from "../service-events.js";
import { backendOf, callOptions, failureReason, holding, mustWin, newTask, type ServiceContext, type ServiceOperationOptions } from "../service-context.js";
import { ATTACHMENT_RULES, LIVE_ATTACH_STATUSES } from "../state-machine.js";
import { attachOnHost, detachFromHost, serviceContext, type HostAttached } from "./host-attach.js";

/** What a caller asks for when attaching a volume to an instance on this host. */
export interface AttachRequest {
  /** The volume. */
  readonly volumeId: string;
  /** Id of the new attachment (default: a random UUID). */
  readonly attachmentId?: string | undefined;
  /** The instance (VM) that will use it. */
  readonly instanceId?: string | undefined;
  /** Where the instance sees it (informational, e.g. `vdb`). */
  readonly mountpoint?: string | undefined;
  /** Attach read-only (default false). */
  readonly readOnly?: boolean | undefined;
  /**
   * Build the libvirt `<disk>` with these options (target dev and bus are required). Front-end QoS
   * of the volume's type becomes `<iotune>`; a bootable volume gets `bootOrder` 1 unless given; a
   * multiattach volume is `<shareable/>`.
   */
  readonly disk?: DiskOptions;
}

/** An attach request, validated (`readOnly` defaulted, disk options parsed). */
export interface ParsedAttachRequest {
  /** The volume. */
  readonly volumeId: string;
  /** Id of the new attachment. */
  readonly attachmentId?: string | undefined;
  /** The instance. */
  readonly instanceId?: string | undefined;
  /** Where the instance sees it. */
  readonly mountpoint?: string | undefined;
  /** Read-only. */
  readonly readOnly: boolean;
  /** Disk options. */
  readonly disk?: ParsedDiskOptions | undefined;
}

/** Schema of {@link AttachRequest}. */
export const AttachRequestSchema: z.ZodType<ParsedAttachRequest, unknown> = z.object({
  /** The volume. */
  volumeId: RecordIdSchema,
  /** Id of the new attachment (default: a random UUID). */
  attachmentId: RecordIdSchema.optional(),
  /** The instance (VM) that will use it. */
  instanceId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an instance id").optional(),
  /** Where the instance sees it (informational, e.g. `vdb`). */
  mountpoint: z.string().max(255).optional(),
  /** Attach read-only. */
  readOnly: z.boolean().default(false),
  /**
   * Build the libvirt `<disk>` with these options (target dev and bus are required). Front-end QoS
   * of the volume's type becomes `<iotune>`; a bootable volume gets `bootOrder` 1 unless given; a
   * multiattach volume is `<shareable/>`.
   */
  disk: DiskOptionsSchema.optional(),
});

/** A finished attach. */
export interface ServiceAttachment {
  /** The stored attachment (host properties, connection, device, XML). */
  readonly attachment: AttachmentRecord;
  /** The volume afterwards (`in-use`). */
  readonly volume: VolumeRecord;
  /** The device on this host. */
  readonly device: AttachedDevice;
  /** The libvirt `<disk>` XML, when `disk` options were given. */
  readonly xml: string | undefined;
}

/** Which attachment to detach: by id, or the volume's only attachment on this host. */
export const DetachRequestSchema = z
  .object({
    /** The attachment. */
    attachmentId: RecordIdSchema.optional(),
    /** The volume (when it has exactly one attachment on this host). */
    volumeId: RecordIdSchema.optional(),
    /** The target is dead: go on past a failed flush (unflushed data may be lost). */
    force: z.boolean().default(false),
  })
  .refine((r) => r.attachmentId !== undefined || r.volumeId !== undefined, { message: "give attachmentId or volumeId" });
/** A detach request as a caller writes it. */
export type DetachRequest = z.input<typeof DetachRequestSchema>;

/** A finished detach. */
export interface ServiceDetach {
  /** What was removed on this host and on the storage, and what was left (and why). */
  readonly report: DetachReport;
  /** The volume afterwards (`available`, or `in-use` while other attachments remain). */
  readonly volume: VolumeRecord;
}

/** The libvirt options for a volume: the caller's, with the service's defaults for boot order and sharing. */
function diskFor(volume: VolumeRecord, disk: DiskOptions): DiskOptions {
  return {
    ...disk,
    ...(disk.bootOrder === undefined && volume.bootable ? { bootOrder: 1 } : {}),
    ...(disk.shareable === undefined && volume.multiattach ? { shareable: true } : {}),
  };
}

/**
 * Attaches a volume on this host for an instance (see `VolumeService.attachVolume`). The volume
 * moves `available` (or `in-use` when multiattach) → `attaching` → `in-use` with the attachment
 * inserted in the same conditional update, so of two concurrent attaches of a single-attach volume
 * exactly one proceeds.
 */
export function attachVolumeOp(sc: ServiceContext, input: AttachRequest, options: ServiceOperationOptions = {}): ResultAsync<ServiceAttachment, VolkitError> {
  const parsed = validate(AttachRequestSchema, input, "attach request");
  if (parsed.isErr()) return errAsync(parsed.error);
  const req = parsed.value;
  const attachmentId = req.attachmentId ?? crypto.randomUUID();
  return traced(sc.events, "volume", "attach", { volumeId: req.volumeId, attachmentId }, (trace) => attach(sc, req, attachmentId, trace, options), (a) => a.volume.status);
}

function attach(sc: ServiceContext, req: ParsedAttachRequest, attachmentId: string, trace: OperationTrace, options: ServiceOperationOptions): ResultAsync<ServiceAttachment, VolkitError> {
  return sc.store.volumes.get(req.volumeId).andThen((volume) =>
    backendOf(sc, volume).asyncAndThen((backend) => {
      if (volume.multiattach && volume.status === "in-use" && !backend.capabilities.multiattach) {
        return errAsync(new VolkitError("INVALID_STATE", `backend ${backend.name} cannot attach volume ${volume.id} to a second host (no multiattach)`, { source: "service" }));
      }
      return sc.types.ofVolume(volume.volumeTypeId).andThen((type) =>
        sc.host
          .connector(backend.capabilities.protocol)
          .andThen((connector) => connector.getHostProperties(callOptions(options)))
          .andThen((props) => {
            const hostProperties = req.readOnly ? { ...props, readOnly: true } : props;
            const attachment = {
              id: attachmentId,
              volumeId: volume.id,
              host: props.host,
              hostProperties,
              backend: backend.name,
              attachStatus: "attaching" as const,
              attachMode: req.readOnly ? ("ro" as const) : ("rw" as const),
              purpose: "instance" as const,
              ...(req.instanceId === undefined ? {} : { instanceId: req.instanceId }),
              ...(req.mountpoint === undefined ? {} : { mountpoint: req.mountpoint }),
            };
            return sc.store.volumes
              .begin(volume.id, "attach", { patch: { task: newTask(sc, "attach", { attachmentId }) }, attachment: { insert: attachment } })
              .andThen((t) => mustWin(t, `attach volume ${volume.id}`))
              .andThen((attaching) =>
                holding(sc, [`volume:${volume.id}`], () => {
                  trace.step("reserved");
                  const qos = resolveFrontendQos(type?.qos, volume.sizeGiB);
                  if (qos.isErr()) return fail<ServiceAttachment>(sc, volume.id, attachmentId, qos.error);
                  const ctx = serviceContext(sc, "attach", volume.id, callOptions(options));
                  return attachOnHost(sc, { volume: attaching, backend, attachmentId, readOnly: req.readOnly, qos: qos.value, typeName: type?.type.name }, trace, ctx)
                    .orElse((e) => fail<HostAttached>(sc, volume.id, attachmentId, e))
                    .andThen((host) => {
                      const xml = req.disk === undefined ? okAsync<string | undefined, VolkitError>(undefined) : buildDiskXml({ connection: host.attached.connection, device: host.attached.device, options: diskFor(attaching, req.disk) }).asyncAndThen((x) => okAsync<string | undefined, VolkitError>(x));
                      return (
                        xml
                          .andThen((x) =>
                            sc.store.volumes
                              .finish(volume.id, "attach", "success", { attachment: { update: attachmentId, attachStatus: "attached", patch: { ...(x === undefined ? {} : { xml: x }) } } })
                              // Lost: the record was reset or deleted meanwhile (an admin).
                              .andThen((t) => mustWin(t, `finish attaching volume ${volume.id}`))
                              .map((done) => ({ done, x })),
                          )
                          // Anything failing after the connect gives the device back and ends the attach.
                          .orElse((e) => host.undo(e).orElse((undone) => fail<never>(sc, volume.id, attachmentId, undone)))
                          .andThen(({ done, x }) => sc.store.attachments.get(attachmentId).map((stored): ServiceAttachment => ({ attachment: stored, volume: done, device: host.attached.device, xml: x })))
                      );
                    });
                }),
              );
          }),
      );
    }),
  );
}

/** Ends a failed attach: the attachment goes, the volume returns to what its attachments say. */
function fail<T>(sc: ServiceContext, volumeId: string, attachmentId: string, error: VolkitError): ResultAsync<T, VolkitError> {
  return sc.store.volumes
    .finish(volumeId, "attach", "failure", { attachment: { remove: attachmentId }, statusReason: failureReason("attach", error) })
    .orElse(() => okAsync(undefined))
    .andThen(() => errAsync(error));
}

/** The attachment a detach request names. */
function findAttachment(sc: ServiceContext, req: z.output<typeof DetachRequestSchema>): ResultAsync<AttachmentRecord, VolkitError> {
  if (req.attachmentId !== undefined) {
    const id = req.attachmentId;
    return sc.store.attachments.get(id).andThen((a) =>
      req.volumeId === undefined || a.volumeId === req.volumeId ? okAsync(a) : errAsync(new VolkitError("INVALID_ARGUMENT", `attachment ${id} belongs to volume ${a.volumeId}`, { source: "service" })),
    );
  }
  const volumeId = req.volumeId ?? "";
  return sc.store.attachments.list({ volumeId, purpose: "instance", attachStatus: [...ATTACHMENT_RULES.detach.from] }).andThen((all) => {
    const here = all.filter((a) => a.host === sc.hostName || all.length === 1);
    const only = here[0];
    if (here.length === 1 && only !== undefined) return okAsync(only);
    return errAsync(
      new VolkitError(here.length === 0 ? "NOT_FOUND" : "INVALID_ARGUMENT", here.length === 0 ? `volume ${volumeId} has no attachment to detach` : `volume ${volumeId} has ${here.length} attachments: name one`, {
        source: "service",
        details: { attachments: all.map((a) => a.id) },
      }),
    );
  });
}

/**
 * Detaches an attachment made on this host (see `VolumeService.detachVolume`), from its stored
 * record alone, so it works after a restart. When another attachment of the same volume on this
 * host still uses the device, only the record goes.
 */
export function detachVolumeOp(sc: ServiceContext, input: DetachRequest, options: ServiceOperationOptions = {}): ResultAsync<ServiceDetach, VolkitError> {
  const parsed = validate(DetachRequestSchema, input, "detach request");
  if (parsed.isErr()) return errAsync(parsed.error);
  const req = parsed.value;
  return traced(
    sc.events,
    "volume",
    "detach",
    { volumeId: req.volumeId, attachmentId: req.attachmentId },
    (trace) =>
      findAttachment(sc, req).andThen((att) => {
        trace.about({ volumeId: att.volumeId, attachmentId: att.id });
        return detach(sc, att, req.force, trace, options);
      }),
    (d) => d.volume.status,
  );
}

function detach(sc: ServiceContext, att: AttachmentRecord, force: boolean, trace: OperationTrace, options: ServiceOperationOptions): ResultAsync<ServiceDetach, VolkitError> {
  if (!(ATTACHMENT_RULES.detach.from as readonly string[]).includes(att.attachStatus)) {
    return errAsync(new VolkitError("INVALID_STATE", `attachment ${att.id} is ${att.attachStatus}; detach needs ${ATTACHMENT_RULES.detach.from.join(" or ")}`, { source: "service" }));
  }
  return sc.store.volumes.get(att.volumeId).andThen((volume) =>
    backendOf(sc, { id: volume.id, backend: att.backend ?? volume.backend }).asyncAndThen((backend) =>
      sc.host
        .connector(att.connectionInfo?.type ?? backend.capabilities.protocol)
        .andThen((c) => c.getHostProperties(callOptions(options)))
        .andThen((props) =>
          props.host !== att.host
            ? errAsync(new VolkitError("INVALID_STATE", `attachment ${att.id} is on host ${att.host}, not this host (${props.host}): detach it there, or forceDetach`, { source: "service", details: { host: att.host } }))
            : sc.store.attachments.list({ volumeId: volume.id, host: att.host, attachStatus: [...LIVE_ATTACH_STATUSES] }),
        )
        .andThen((sameHost) =>
          sc.store.volumes
            .begin(volume.id, "detach", { patch: { task: newTask(sc, "detach", { attachmentId: att.id }) }, attachment: { update: att.id, attachStatus: "detaching" } })
            .andThen((t) => mustWin(t, `detach volume ${volume.id}`))
            .andThen((detaching) =>
              holding(sc, [`volume:${volume.id}`], () => {
                trace.step("detaching");
                const others = sameHost.filter((a) => a.id !== att.id);
                const ctx = serviceContext(sc, "detach", volume.id, callOptions(options));
                const hostSide: ResultAsync<DetachReport, VolkitError> =
                  others.length > 0
                    ? okAsync({
                        disconnect: { removed: [], leftBehind: [{ kind: "device", name: att.device?.path ?? volume.id, reason: `kept: attachment ${others.map((o) => o.id).join(", ")} on this host still uses it`, expected: true }] },
                        connectionTerminated: false,
                        exportRemoved: false,
                      })
                    : detachFromHost(sc, att, detaching, backend, { force }, ctx);
                return hostSide
                  .orElse((e) =>
                    sc.store.volumes
                      .finish(volume.id, "detach", "failure", { attachment: { update: att.id, attachStatus: "error_detaching" }, statusReason: failureReason("detach", e) })
                      .orElse(() => okAsync(undefined))
                      .andThen(() => errAsync(e)),
                  )
                  .andThen((report) => {
                    trace.step("detached");
                    return sc.store.volumes
                      .finish(volume.id, "detach", "success", { attachment: { remove: att.id } })
                      .andThen((t) => mustWin(t, `finish detaching volume ${volume.id}`))
                      .map((after): ServiceDetach => ({ report, volume: after }));
                  });
              }),
            ),
        ),
    ),
  );
}
