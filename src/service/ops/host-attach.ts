import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { attachThrough, detachThrough, undoAttach, type AttachedVolume, type DetachReport, type ExportSteps } from "../../attach/attach-flow.js";
import { detachVolume, restoreAttachment, type AttachmentRecordInput as CoreAttachmentRecordInput } from "../../attach/attach.js";
import { createOperationContext, type OperationContext, type OperationOptions } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { AttachedDeviceInput, ConnectionInfo, QosSpecs, Volume } from "../../core/records.js";
import type { Connector } from "../../connectors/connector.js";
import type { VolumeBackend } from "../../drivers/backend.js";
import type { AttachmentRecord } from "../records/attachment-record.js";
import type { VolumeRecord } from "../records/volume-record.js";
import type { OperationTrace } from "../service-events.js";
import { coreVolume, type ServiceContext } from "../service-context.js";

/**
 * Attach and detach on this host, step by step, with each step's result written to the store as
 * soon as it exists: the export (the volume's provider fields), the connection info, the device.
 * The flows are the library's own (`attachThrough`, with its rollback; `restoreAttachment` and
 * `detachVolume`); what the service adds is that a crash between any two steps leaves a record
 * saying exactly what to undo.
 */

/** An operation context for the service's own flows (its signal, deadline and the low-level bus). */
export function serviceContext(sc: ServiceContext, operation: string, volumeId: string | undefined, options: OperationOptions): OperationContext {
  return createOperationContext({ operation, source: "service", volumeId, logger: sc.logger, events: sc.operations, ...options });
}

/** The caller's signal and deadline of a context. */
function opts(ctx: OperationContext): OperationOptions {
  return { signal: ctx.signal, ...(ctx.deadline === undefined ? {} : { deadline: ctx.deadline }) };
}

/** The driver-owned fields of an exported volume, as a volume-record patch. */
export function providerPatch(v: Volume): { providerLocation: string | undefined; providerAuth: string | undefined; providerId: string | undefined } {
  return { providerLocation: v.providerLocation, providerAuth: v.providerAuth, providerId: v.providerId };
}

/** Front-end QoS added to a driver's connection info (the driver's own limits win). */
function withQos(connection: ConnectionInfo, qos: QosSpecs | undefined): ConnectionInfo {
  if (qos === undefined || Object.keys(qos).length === 0 || connection.qosSpecs !== undefined) return connection;
  return { ...connection, qosSpecs: qos };
}

/** What one persisted attach needs. */
export interface AttachPlan {
  /** The volume's record (the driver sees {@link coreVolume} of it). */
  readonly volume: VolumeRecord;
  /** Its backend. */
  readonly backend: VolumeBackend;
  /** The attachment record to fill (it exists, in `attaching`). */
  readonly attachmentId: string;
  /** Read-only attach. */
  readonly readOnly: boolean;
  /** Front-end QoS for the connection. */
  readonly qos?: QosSpecs | undefined;
  /** Type name handed to the driver. */
  readonly typeName?: string | undefined;
}

/** A finished attach: what the library's flow returned, and the connector that made it. */
export interface HostAttached {
  /** Volume, host, connection, device, whether the export was created. */
  readonly attached: AttachedVolume;
  /** The connector. */
  readonly connector: Connector;
  /** Undoes the attach (disconnect, revoke, unexport when created), e.g. when a later step fails. */
  readonly undo: (error: VolkitError) => ResultAsync<never, VolkitError>;
}

/**
 * Attaches `plan.volume` on this host: export (provider fields written to the volume record),
 * connection (written to the attachment with `exportCreated`), connect (device written). A failure
 * undoes the completed steps, newest first (the library flow's rollback).
 */
export function attachOnHost(sc: ServiceContext, plan: AttachPlan, trace: OperationTrace, ctx: OperationContext): ResultAsync<HostAttached, VolkitError> {
  const backend = plan.backend;
  let exportedBefore: boolean | undefined;
  const steps: ExportSteps = {
    describeExport: (v, c) =>
      backend.describeExport(v, opts(c)).map((state) => {
        exportedBefore ??= state.exported;
        return state;
      }),
    createExport: (v, h, c) =>
      backend.createExport(v, h, opts(c)).andThen((updated) =>
        sc.store.volumes.update(plan.volume.id, providerPatch(updated)).map(() => {
          trace.step("exported");
          return updated;
        }),
      ),
    initializeConnection: (v, h, c) =>
      backend
        .initializeConnection(v, h, opts(c))
        .map((connection) => withQos(connection, plan.qos))
        .andThen((connection) =>
          sc.store.attachments.update(plan.attachmentId, { connectionInfo: connection, exportCreated: exportedBefore === false, backend: backend.name }).map(() => {
            trace.step("connection");
            return connection;
          }),
        ),
    terminateConnection: (v, h, c) => backend.terminateConnection(v, h, opts(c)),
    removeExport: (v, c) => backend.removeExport(v, opts(c)),
  };
  return sc.host.connector(backend.capabilities.protocol).andThen((connector) =>
    attachThrough(steps, connector, coreVolume(plan.volume, plan.typeName), { readOnly: plan.readOnly }, ctx).andThen((attached) => {
      const undo = (error: VolkitError): ResultAsync<never, VolkitError> => undoAttach(connector, steps, attached, error, ctx);
      return sc.store.attachments
        .update(plan.attachmentId, { device: attached.device })
        .orElse((e) => undo(e))
        .map((): HostAttached => {
          trace.step("connected");
          return { attached, connector, undo };
        });
    }),
  );
}

/**
 * The core attachment record (`attachVolume`'s `AttachmentRecordSchema`) of a stored attachment,
 * for `restoreAttachment`; undefined while the attach had not connected yet.
 */
export function coreAttachmentOf(att: AttachmentRecord, volume: VolumeRecord, backendName: string): CoreAttachmentRecordInput | undefined {
  if (att.connectionInfo === undefined || att.device === undefined) return undefined;
  return {
    backend: backendName,
    volume: coreVolume(volume),
    host: att.hostProperties,
    connection: att.connectionInfo,
    device: att.device,
    exportCreated: att.exportCreated,
    ...(att.xml === undefined ? {} : { xml: att.xml }),
    attachedAt: (att.attachedAt ?? att.updatedAt).getTime(),
  };
}

/**
 * A device that names nothing, for disconnecting an attach interrupted between the connect and
 * the write of its device: the iSCSI connector finds the volume's disks, maps and sessions from
 * the connection (sessions and LUNs in sysfs), the local one from the connection's device path.
 */
const UNKNOWN_DEVICE: AttachedDeviceInput = { type: "block", path: "/dev/volkit-unknown-device", paths: [] };

/** Options of {@link detachFromHost}. */
export interface HostDetachOptions {
  /** Go on past a failed flush (dead target). */
  readonly force: boolean;
  /** Only revoke and unexport on the storage (the host side is another machine's, or is gone). */
  readonly storageOnly?: boolean;
}

/**
 * Undoes what a stored attachment says exists, whatever step it reached: disconnect on this host
 * (through `restoreAttachment` and `detachVolume` when the attach completed), revoke the host's
 * access, remove the export when nobody uses it. Every step is idempotent, so a detach interrupted
 * anywhere can run again.
 */
export function detachFromHost(sc: ServiceContext, att: AttachmentRecord, volume: VolumeRecord, backend: VolumeBackend, options: HostDetachOptions, ctx: OperationContext): ResultAsync<DetachReport, VolkitError> {
  const core = coreAttachmentOf(att, volume, backend.name);
  const v = coreVolume(volume);
  if (core !== undefined && options.storageOnly !== true) {
    return sc.host.connector(att.connectionInfo?.type ?? backend.capabilities.protocol).andThen((connector) =>
      restoreAttachment(backend, core, { connector }).andThen((restored) => detachVolume(restored, { force: options.force, ...opts(ctx) })),
    );
  }
  const steps: ExportSteps = {
    describeExport: (x, c) => backend.describeExport(x, opts(c)),
    createExport: (x, h, c) => backend.createExport(x, h, opts(c)),
    initializeConnection: (x, h, c) => backend.initializeConnection(x, h, opts(c)),
    terminateConnection: (x, h, c) => backend.terminateConnection(x, h, opts(c)),
    removeExport: (x, c) => backend.removeExport(x, opts(c)),
  };
  const connection = att.connectionInfo;
  // Without a connection nothing reached the host; with one but no device (or an NFS file whose
  // path only the connector knows), the host side is found from the connection or was never made.
  const hostSide = connection !== undefined && options.storageOnly !== true && connection.type !== "nfs";
  if (!hostSide) {
    const empty = { removed: [], leftBehind: [] };
    return steps.terminateConnection(v, att.hostProperties, ctx).andThen(() =>
      steps.describeExport(v, ctx).andThen((state) =>
        !state.exported || state.hosts.length > 0
          ? okAsync<DetachReport, VolkitError>({ disconnect: empty, connectionTerminated: true, exportRemoved: false })
          : steps.removeExport(v, ctx).map((): DetachReport => ({ disconnect: empty, connectionTerminated: true, exportRemoved: true })),
      ),
    );
  }
  return sc.host.connector(connection.type).andThen((connector) => {
    const attached: AttachedVolume = { volume: v, host: att.hostProperties, connection, device: { ...UNKNOWN_DEVICE, paths: [] }, exportCreated: att.exportCreated };
    return detachThrough(steps, connector, attached, { force: true, exportRemoval: "if-unused" }, ctx);
  });
}

/** `INVALID_STATE` when an attachment's backend is not the volume's (a record edited by hand). */
export function attachmentBackend(att: AttachmentRecord, volume: VolumeRecord): ResultAsync<string, VolkitError> {
  const name = att.backend ?? volume.backend;
  if (name === undefined) return errAsync(new VolkitError("INVALID_STATE", `attachment ${att.id} names no backend and volume ${volume.id} is not placed`, { source: "service" }));
  return okAsync(name);
}
