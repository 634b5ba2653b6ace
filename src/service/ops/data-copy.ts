import { ResultAsync, err, errAsync, okAsync, type Result } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { AttachedDevice } from "../../core/records.js";
import { copyDevice, type CopyReport } from "../../data/copy.js";
import { QemuImg } from "../../data/qemu-img.js";
import type { VolumeBackend } from "../../drivers/backend.js";
import type { AttachmentRecord } from "../records/attachment-record.js";
import type { VolumeRecord } from "../records/volume-record.js";
import type { OperationTrace } from "../service-events.js";
import { backendOf, callOptions, holding, mustWin, type ServiceContext, type ServiceOperationOptions } from "../service-context.js";
import { LIVE_ATTACH_STATUSES } from "../state-machine.js";
import { attachOnHost, detachFromHost, serviceContext } from "./host-attach.js";

/**
 * Host-assisted copies between backends (migration, a clone onto another backend): both volumes
 * are attached on this host with the library's attach flow, recorded as `copy` attachments (so a
 * crash mid-copy leaves records `reconcile()` undoes), copied with the copy engine (`dd` in
 * chunks, sparse where the target reads as zeros, O_DIRECT) or, when either side is a qcow2 file,
 * `qemu-img convert`, then both are detached, whatever happened.
 */

const GiB = 1024 ** 3;

/** One side of a copy. */
export interface CopySide {
  /** The volume's record. */
  readonly record: VolumeRecord;
  /** Attach it read-only. */
  readonly readOnly: boolean;
}

interface CopyAttached {
  readonly attachment: AttachmentRecord;
  readonly record: VolumeRecord;
  readonly backend: VolumeBackend;
  readonly device: AttachedDevice;
}

/** Attaches one side on this host as a `copy` attachment. */
function attachForCopy(sc: ServiceContext, side: CopySide, trace: OperationTrace, ctx: OperationContext): ResultAsync<CopyAttached, VolkitError> {
  return backendOf(sc, side.record).asyncAndThen((backend) =>
    sc.host
      .connector(backend.capabilities.protocol)
      .andThen((c) => c.getHostProperties({ signal: ctx.signal }))
      .andThen((props) => {
        const id = crypto.randomUUID();
        const hostProperties = side.readOnly ? { ...props, readOnly: true } : props;
        return sc.store.attachments
          // A copy attachment names its owner (in `instanceId`): reconcile leaves it alone while that process lives.
          .insert({ id, volumeId: side.record.id, host: props.host, hostProperties, backend: backend.name, purpose: "copy", instanceId: sc.owner, attachMode: side.readOnly ? "ro" : "rw", attachStatus: "reserved" })
          .andThen(() => sc.store.attachments.begin(id, "attach"))
          .andThen((t) => mustWin(t, `attach volume ${side.record.id} for a copy`))
          .andThen(() =>
            attachOnHost(sc, { volume: side.record, backend, attachmentId: id, readOnly: side.readOnly }, trace, ctx).orElse((e) =>
              sc.store.attachments
                .remove(id)
                .orElse(() => okAsync(undefined))
                .andThen(() => errAsync(e)),
            ),
          )
          .andThen((host) => sc.store.attachments.finish(id, "attach", "success").andThen((t) => mustWin(t, `finish the copy attachment of ${side.record.id}`)).map((attachment) => ({ attachment, record: side.record, backend, device: host.attached.device })));
      }),
  );
}

/** Detaches a copy attachment (the device stays when another attachment on this host uses it) and removes its record. */
export function detachCopy(sc: ServiceContext, att: AttachmentRecord, record: VolumeRecord, backend: VolumeBackend, ctx: OperationContext): ResultAsync<void, VolkitError> {
  return sc.store.attachments.list({ volumeId: record.id, host: att.host, attachStatus: [...LIVE_ATTACH_STATUSES] }).andThen((live) => {
    const shared = live.some((a) => a.id !== att.id);
    const hostSide = shared ? okAsync(undefined) : detachFromHost(sc, att, record, backend, { force: false }, ctx).map(() => undefined);
    return hostSide.andThen(() => sc.store.attachments.remove(att.id)).map(() => undefined);
  });
}

/** Copies `bytes` from one attached device to another. */
function copyBytes(sc: ServiceContext, from: CopyAttached, to: CopyAttached, bytes: number, ctx: OperationContext): ResultAsync<CopyReport, VolkitError> {
  const s = from.device;
  const d = to.device;
  if (s.format === "qcow2" || d.format === "qcow2") {
    const started = performance.now();
    return ctx
      .phase("convert", () =>
        new QemuImg(sc.runner).convert({ source: s.path, sourceFormat: s.format ?? "raw", target: d.path, targetFormat: d.format ?? "raw", targetIsDevice: true, bytesTotal: bytes }, ctx),
      )
      .map(() => ({ bytes, chunks: 1, durationMs: Math.round(performance.now() - started) }));
  }
  const { bandwidthLimitBps, direct } = sc.config.copy;
  return ctx.phase("copy", () =>
    copyDevice(sc.runner, { source: s.path, target: d.path, bytes, sparse: to.backend.capabilities.sparseCopy, direct, ...(bandwidthLimitBps > 0 ? { bandwidthLimitBps } : {}) }, ctx),
  );
}

/**
 * Copies the first `from.record.sizeGiB` GiB of `from` into `to` through this host (see module
 * doc). Both attachments are undone whatever happens; a failed undo fails the copy.
 */
export function copyVolumeData(sc: ServiceContext, from: CopySide, to: CopySide, trace: OperationTrace, options: ServiceOperationOptions): ResultAsync<CopyReport, VolkitError> {
  return holding(sc, [`volume:${from.record.id}`, `volume:${to.record.id}`], () => copyHeld(sc, from, to, trace, options));
}

function copyHeld(sc: ServiceContext, from: CopySide, to: CopySide, trace: OperationTrace, options: ServiceOperationOptions): ResultAsync<CopyReport, VolkitError> {
  const ctx = serviceContext(sc, "copyVolumeData", to.record.id, callOptions(options));
  const release = (a: CopyAttached): ResultAsync<void, VolkitError> => detachCopy(sc, a.attachment, a.record, a.backend, serviceContext(sc, "copyVolumeData:detach", a.record.id, {}));
  return attachForCopy(sc, from, trace, ctx).andThen((source) =>
    attachForCopy(sc, to, trace, ctx)
      .orElse((e) => release(source).andThen(() => errAsync(e)))
      .andThen((target) => {
        trace.step("copy-attached");
        return new ResultAsync(
          (async (): Promise<Result<CopyReport, VolkitError>> => {
            const copied = await copyBytes(sc, source, target, from.record.sizeGiB * GiB, ctx);
            const released = await release(target).andThen(() => release(source));
            if (released.isErr()) {
              if (copied.isOk()) return err(released.error);
              return err(new VolkitError(copied.error.code, `${copied.error.message} (detaching after the copy failed too: ${released.error.message})`, { source: "service", cause: copied.error }));
            }
            if (copied.isOk()) trace.step("copied");
            return copied;
          })(),
        );
      }),
  );
}
