import { randomBytes } from "node:crypto";
import { type ResultAsync, err, errAsync, ok, okAsync, safeTry } from "neverthrow";
import { attachVolume, detachVolume, type AttachTarget } from "../attach/attach.js";
import type { OperationContext, OperationOptions } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type { AttachedDevice, Snapshot, Volume } from "../core/records.js";
import type { VolumeBackend } from "../drivers/backend.js";
import { GiB } from "../drivers/base.js";
import type { AllocationMapProvider, ByteExtent } from "./block-source.js";
import type { UndoStack } from "./undo-stack.js";

/**
 * How a volume-level backup reads a volume — one path for every driver, through the backend's
 * public operations only:
 *
 *   temporary snapshot → temporary volume from it → attach read-only on this host → read
 *
 * The temporary volume is what makes the snapshot readable the same way on every backend (an LV
 * attached locally, a LUN over iSCSI, an RBD image, a file on an NFS share): a snapshot has no
 * attach of its own. Where volumes from snapshots are copy-on-write (thin LVs, RBD, arrays) it
 * costs metadata only; drivers that copy (thick LVs, NFS files) pay one copy. A driver that
 * cannot snapshot is read live, attached read-only, only when the caller passes `force`. The
 * driver's allocation map of the snapshot (or live volume), when it has one, limits what is read.
 *
 * Everything made is registered on the caller's {@link UndoStack}: detach, then delete the
 * temporary volume, then the snapshot — on success, failure and abort alike.
 */

/** What {@link openVolumeForBackup} opened. */
export interface OpenedVolume {
  /** The device or raw file to read. */
  readonly device: AttachedDevice;
  /** Bytes to back up (the volume's size). */
  readonly sizeBytes: number;
  /** The driver's allocation map, when it has one (else the engine's own: SEEK_DATA for files, zero detection). */
  readonly allocation: AllocationMapProvider | undefined;
  /** A point-in-time copy was read (false: the live volume, with `force`). */
  readonly pointInTime: boolean;
  /** The temporary snapshot, when one was taken. */
  readonly snapshotId: string | undefined;
  /** The temporary volume read, when one was made. */
  readonly temporaryVolumeId: string | undefined;
}

/** Ids of temporary snapshots and volumes: lower-case hex and `-` fit every driver's id rule (LIO's included). */
export function temporaryId(kind: "snap" | "vol" | "restore"): string {
  return `backup-${kind}-${randomBytes(6).toString("hex")}`;
}

/** A context's signal and deadline as options of a backend call. */
export function callOptions(ctx: OperationContext): OperationOptions {
  return { signal: ctx.signal, ...(ctx.deadline === undefined ? {} : { deadline: ctx.deadline }) };
}

/** Opens `volume`'s bytes for reading on this host (see the module doc); everything made is on `undo`. */
export function openVolumeForBackup(backend: VolumeBackend, volume: Volume, force: boolean, target: AttachTarget, undo: UndoStack, ctx: OperationContext): ResultAsync<OpenedVolume, VolkitError> {
  return safeTry(async function* () {
    const canSnapshot = backend.capabilities.snapshots;
    if (!canSnapshot && !force) {
      return err(
        new VolkitError("NOT_SUPPORTED", `the ${backend.driver.driverName} driver cannot snapshot volume ${volume.id}; pass force: true to back up the live volume (it must not change meanwhile)`, {
          source: "backup",
          details: { volumeId: volume.id, operation: "createBackup" },
        }),
      );
    }
    let snapshot: Snapshot | undefined;
    let readable = volume;
    if (canSnapshot) {
      const taken = yield* ctx.phase("snapshot", () =>
        backend.createSnapshot({ id: temporaryId("snap"), volumeId: volume.id, volumeSizeGiB: volume.sizeGiB, displayName: "volkit backup (temporary)" }, volume, callOptions(ctx)),
      );
      undo.push(`delete temporary snapshot ${taken.id}`, (c) => backend.deleteSnapshot(taken, callOptions(c)));
      snapshot = taken;
    }
    const allocation = yield* allocationOf(backend, snapshot === undefined ? { volume } : { snapshot }, ctx);
    if (snapshot !== undefined) {
      const source = snapshot;
      const made = yield* ctx.phase("temporary-volume", () =>
        backend.createVolumeFromSnapshot({ id: temporaryId("vol"), sizeGiB: volume.sizeGiB, displayName: `volkit backup of ${volume.id} (temporary)` }, source, callOptions(ctx)),
      );
      undo.push(`delete temporary volume ${made.id}`, (c) => backend.deleteVolume(made, callOptions(c)));
      readable = made;
    }
    const attached = yield* ctx.phase("attach", () => attachVolume(backend, readable, { ...target, readOnly: true, ...callOptions(ctx) }));
    undo.push(`detach ${readable.id}`, (c) => detachVolume(attached, callOptions(c)));
    yield* rawDevice(attached.device, backend.driver.driverName);
    return ok({
      device: attached.device,
      sizeBytes: volume.sizeGiB * GiB,
      allocation,
      pointInTime: snapshot !== undefined,
      snapshotId: snapshot?.id,
      temporaryVolumeId: readable === volume ? undefined : readable.id,
    });
  });
}

/** Backups read raw bytes: a qcow2 file (an NFS driver with qcow2 volumes) is refused. */
export function rawDevice(device: AttachedDevice, driverName: string): ResultAsync<void, VolkitError> {
  if (device.type === "file" && device.format === "qcow2") {
    return errAsync(new VolkitError("NOT_SUPPORTED", `the ${driverName} driver's volumes attach as qcow2 files; backups read and write raw bytes`, { source: "backup", details: { path: device.path } }));
  }
  return okAsync(undefined);
}

/**
 * The driver's allocation map as a provider for the engine, or `undefined` when the driver has
 * none. A map that fails for another reason is not worth failing a backup for: the engine then
 * reads everything (zero chunks still become holes). Abort and deadline end the backup.
 */
function allocationOf(backend: VolumeBackend, subject: { readonly volume: Volume } | { readonly snapshot: Snapshot }, ctx: OperationContext): ResultAsync<AllocationMapProvider | undefined, VolkitError> {
  return ctx
    .phase("allocation-map", () => backend.allocationMap(subject, callOptions(ctx)))
    .map((ranges): AllocationMapProvider | undefined => {
      const extents: readonly ByteExtent[] = ranges;
      return () => okAsync(extents);
    })
    .orElse((e) => {
      if (e.code === "ABORTED" || e.code === "TIMEOUT") return errAsync(e);
      if (e.code !== "NOT_SUPPORTED") ctx.logger.warn({ volumeId: ctx.volumeId, code: e.code, error: e.message }, "allocation map failed; reading every byte");
      return okAsync(undefined);
    });
}
