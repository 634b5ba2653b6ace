import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext, OperationOptions } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { runOperation } from "../core/operation.js";
import { AttachedDeviceSchema, ConnectionInfoSchema, HostPropertiesSchema, VolumeSchema, type VolumeInput } from "../core/records.js";
import { SizeGiBSchema, plainTextSchema, validate } from "../core/validation.js";
import type { Connector } from "../connectors/connector.js";
import type { VolumeBackend } from "../drivers/backend.js";
import { GiB } from "../drivers/base.js";
import { buildDiskXml } from "../libvirt/libvirt-disk.js";
import { parseDiskXml } from "../libvirt/libvirt-parse.js";
import { rbdSource } from "../libvirt/libvirt-rbd.js";
import { renderDiskXml } from "../libvirt/libvirt-render.js";
import { DiskOptionsSchema, type DiskOptions } from "../libvirt/libvirt-options.js";
import { attachThrough, detachThrough, undoAttach, type AttachedVolume, type DetachReport, type ExportSteps } from "./attach-flow.js";
import { createHost, type Host } from "./host.js";

/**
 * The library-owned attach and detach flows: one call from a volume record to a device on this
 * host with its libvirt `<disk>` XML, and one call back.
 */

/** What an attachment is, as a caller stores it: enough to detach after a restart (see {@link restoreAttachment}). */
export const AttachmentRecordSchema = z
  .object({
    /** Name of the backend the volume lives on. */
    backend: plainTextSchema(),
    /** The volume record after its export. */
    volume: VolumeSchema,
    /** The host properties the connection was made for. */
    host: HostPropertiesSchema,
    /** The connection info (holds the CHAP secret for iSCSI: store it like a password). */
    connection: ConnectionInfoSchema,
    /** The device on the host. */
    device: AttachedDeviceSchema,
    /** The attach created the export (it did not exist before). */
    exportCreated: z.boolean(),
    /** The libvirt `<disk>` XML, when disk options were given. */
    xml: z.string().max(64 * 1024).optional(),
    /** When the attach finished (epoch ms). */
    attachedAt: z.number().int().nonnegative(),
  })
  .superRefine((r, ctx) => {
    // The XML goes to a hypervisor as it is: a stored record must not smuggle in another source or
    // elements volkit does not write. It must be volkit's own rendering of a disk of this attachment.
    if (r.xml === undefined) return;
    const why = foreignDiskXml(r.xml, r);
    if (why !== undefined) ctx.addIssue({ code: "custom", path: ["xml"], message: why });
  });

/** Why `xml` is not the `<disk>` volkit would have written for this attachment, or undefined when it is. */
function foreignDiskXml(xml: string, r: { readonly connection: z.output<typeof ConnectionInfoSchema>; readonly device: z.output<typeof AttachedDeviceSchema> }): string | undefined {
  const parsed = parseDiskXml(xml);
  if (parsed.isErr()) return "is not one libvirt <disk> element volkit can read";
  const rendered = renderDiskXml(parsed.value);
  if (rendered.isErr() || rendered.value !== xml) return "is not a <disk> element as volkit writes it (other elements, attributes or layout)";
  const source = parsed.value.source;
  const c = r.connection;
  const ok =
    source === undefined
      ? false
      : source.kind === "block"
        ? source.dev === r.device.path
        : source.kind === "file"
          ? source.file === r.device.path
          : c.type === "rbd"
            ? source.protocol === "rbd" && source.name === rbdSource(c).name
            : c.type === "iscsi" && source.protocol === "iscsi" && source.name === `${c.targetIqn}/${c.targetLun}`;
  return ok ? undefined : "does not read from this attachment's device or volume";
}

/** A stored attachment (parsed). */
export type AttachmentRecord = z.output<typeof AttachmentRecordSchema>;
/** A stored attachment as a caller hands it back. */
export type AttachmentRecordInput = z.input<typeof AttachmentRecordSchema>;

/**
 * An attached volume: the record to store, plus the backend and connector that made it, so
 * {@link detachVolume} and {@link extendAttachedVolume} need nothing else.
 */
export interface Attachment extends AttachedVolume {
  /** The libvirt `<disk>` XML for a hypervisor (when disk options were given). */
  readonly xml: string | undefined;
  /** The serializable part: store it, and {@link restoreAttachment} it after a restart. */
  readonly record: AttachmentRecord;
  /** The backend the volume lives on. */
  readonly backend: VolumeBackend;
  /** The connector that attached it. */
  readonly connector: Connector;
}

/** How the attach reaches this host. */
export interface AttachTarget {
  /** This machine's connectors (default: one shared `createHost()` per process). */
  readonly host?: Host;
  /** A specific connector (its protocol must match the backend's); overrides `host`. */
  readonly connector?: Connector;
}

/** Options of {@link attachVolume}. */
export interface AttachOptions extends OperationOptions, AttachTarget {
  /** Build the libvirt `<disk>` XML with these options (target dev and bus, cache, serial, boot order…). */
  readonly disk?: DiskOptions;
  /** Attach read-only. */
  readonly readOnly?: boolean;
}

/** Options of {@link detachVolume}. */
export interface DetachOptions extends OperationOptions {
  /** The target is dead: go on past a failed flush (unflushed data may be lost). */
  readonly force?: boolean;
  /** Keep the export even when no host uses it any more. */
  readonly keepExport?: boolean;
}

let processHost: Host | undefined;

/** The process-wide host used when a caller gives none. */
function defaultHost(): Host {
  processHost ??= createHost();
  return processHost;
}

/** The backend's public methods as the flow's steps, each bounded by the flow's signal and deadline. */
function backendSteps(backend: VolumeBackend): ExportSteps {
  const opts = (ctx: OperationContext): OperationOptions => ({ signal: ctx.signal, ...(ctx.deadline === undefined ? {} : { deadline: ctx.deadline }) });
  return {
    describeExport: (v, ctx) => backend.describeExport(v, opts(ctx)),
    createExport: (v, h, ctx) => backend.createExport(v, h, opts(ctx)),
    initializeConnection: (v, h, ctx) => backend.initializeConnection(v, h, opts(ctx)),
    terminateConnection: (v, h, ctx) => backend.terminateConnection(v, h, opts(ctx)),
    removeExport: (v, ctx) => backend.removeExport(v, opts(ctx)),
  };
}

function connectorOf(target: AttachTarget, protocol: Parameters<Host["connector"]>[0]): ResultAsync<Connector, VolkitError> {
  if (!target.connector) return (target.host ?? defaultHost()).connector(protocol);
  return target.connector.protocol === protocol
    ? okAsync(target.connector)
    : errAsync(new VolkitError("INVALID_ARGUMENT", `the ${target.connector.protocol} connector cannot attach volumes of a ${protocol} backend`, { source: "attach" }));
}

function scopeOf(backend: VolumeBackend): { source: string; logger: VolumeBackend["logger"]; events: VolumeBackend["events"] } {
  return { source: backend.name, logger: backend.logger, events: backend.events };
}

function toAttachment(backend: VolumeBackend, connector: Connector, attached: AttachedVolume, xml: string | undefined, attachedAt: number): Attachment {
  const record: AttachmentRecord = {
    backend: backend.name,
    volume: attached.volume,
    host: attached.host,
    connection: attached.connection,
    device: attached.device,
    exportCreated: attached.exportCreated,
    ...(xml === undefined ? {} : { xml }),
    attachedAt,
  };
  return { ...attached, xml, record, backend, connector };
}

/**
 * Attaches a volume on this host in one call: exports it (when needed), grants this host access,
 * connects it with the protocol's connector (iSCSI with multipath, NFS, local) and, given `disk`
 * options, builds the libvirt `<disk>` XML. A failure at any step undoes the earlier ones (the error
 * carries `details.rollback`). Everything is validated before the first command runs.
 *
 * @example
 * ```ts
 * const attachment = await attachVolume(backend, volume, { disk: { target: { dev: "vdb", bus: "virtio" } } });
 * if (attachment.isOk()) console.log(attachment.value.device.path, attachment.value.xml);
 * ```
 */
export function attachVolume(backend: VolumeBackend, volume: VolumeInput, options: AttachOptions = {}): ResultAsync<Attachment, VolkitError> {
  const checked = validate(VolumeSchema, volume, "volume").andThen((v) => (options.disk === undefined ? ok({ v, disk: undefined }) : validate(DiskOptionsSchema, options.disk, "disk options").map(() => ({ v, disk: options.disk }))));
  return checked.asyncAndThen(({ v, disk }) =>
    connectorOf(options, backend.capabilities.protocol).andThen((connector) =>
      runOperation(scopeOf(backend), "attachVolume", v.id, options, (ctx) => {
        const steps = backendSteps(backend);
        return attachThrough(steps, connector, v, { readOnly: options.readOnly ?? false }, ctx).andThen((attached) => {
          if (disk === undefined) return okAsync(toAttachment(backend, connector, attached, undefined, Date.now()));
          return ctx
            .phase("disk-xml", () => buildDiskXml({ connection: attached.connection, device: attached.device, options: disk }).asyncAndThen((xml) => okAsync(xml)))
            .map((xml) => toAttachment(backend, connector, attached, xml, Date.now()))
            .orElse((e) => undoAttach(connector, steps, attached, e, ctx));
        });
      }),
    ),
  );
}

/**
 * Detaches what {@link attachVolume} attached: the connector flushes and removes every path, map,
 * session or mount it created (reporting anything left and why), the host's access is revoked, and
 * the export is removed when no other host uses it (unless `keepExport`). The attachment's record
 * is validated again first: nothing a caller changed in it reaches a command unchecked.
 */
export function detachVolume(attachment: Attachment, options: DetachOptions = {}): ResultAsync<DetachReport, VolkitError> {
  return validate(AttachmentRecordSchema, attachment.record, "attachment record").asyncAndThen((record) =>
    sameBackend(attachment.backend, record).asyncAndThen(() =>
      runOperation(scopeOf(attachment.backend), "detachVolume", record.volume.id, options, (ctx) =>
        detachThrough(backendSteps(attachment.backend), attachment.connector, record, { force: options.force ?? false, exportRemoval: options.keepExport ? "never" : "if-unused" }, ctx),
      ),
    ),
  );
}

/**
 * Grows an attached volume and makes this host see it: the backend extends the volume, the
 * connector rescans its paths (and resizes a multipath map). Returns the attachment with the new
 * size; `INVALID_STATE` when the host still sees the old size.
 */
export function extendAttachedVolume(attachment: Attachment, newSizeGiB: number, options: OperationOptions = {}): ResultAsync<Attachment, VolkitError> {
  return validate(AttachmentRecordSchema, attachment.record, "attachment record")
    .andThen((record) => validate(SizeGiBSchema, newSizeGiB, "new size").map((size) => ({ record, size })))
    .andThen(({ record, size }) => sameBackend(attachment.backend, record).map(() => ({ record, size })))
    .asyncAndThen(({ record, size }) =>
      runOperation(scopeOf(attachment.backend), "extendAttachedVolume", record.volume.id, options, (ctx) => {
        const opts = { signal: ctx.signal, ...(ctx.deadline === undefined ? {} : { deadline: ctx.deadline }) };
        return ctx
          .phase("extend", () => attachment.backend.extendVolume(record.volume, size, opts))
          .andThen((volume) =>
            ctx.phase("rescan", () => attachment.connector.extendVolume(record.connection, record.device, opts)).andThen((bytes) =>
              bytes < size * GiB
                ? errAsync(new VolkitError("INVALID_STATE", `the host sees ${bytes} bytes after extending volume ${volume.id} to ${size} GiB`, { source: "attach", details: { bytes, expectedBytes: size * GiB } }))
                : okAsync(toAttachment(attachment.backend, attachment.connector, { ...record, volume, device: { ...record.device, sizeBytes: bytes } }, record.xml, record.attachedAt)),
            ),
          );
      }),
    );
}

/**
 * Rebuilds an {@link Attachment} from a stored record (after a restart), validating every field,
 * so it can be detached or extended. The record must belong to `backend`.
 */
export function restoreAttachment(backend: VolumeBackend, record: AttachmentRecordInput, target: AttachTarget = {}): ResultAsync<Attachment, VolkitError> {
  return validate(AttachmentRecordSchema, record, "attachment record")
    .andThen((r) => sameBackend(backend, r).map(() => r))
    .asyncAndThen((r) => connectorOf(target, r.connection.type).map((connector) => toAttachment(backend, connector, r, r.xml, r.attachedAt)));
}

function sameBackend(backend: VolumeBackend, record: AttachmentRecord): Result<void, VolkitError> {
  return record.backend === backend.name
    ? ok(undefined)
    : err(new VolkitError("INVALID_ARGUMENT", `the attachment belongs to backend ${record.backend}, not ${backend.name}`, { source: "attach", details: { backend: record.backend } }));
}

export type { DetachReport } from "./attach-flow.js";
