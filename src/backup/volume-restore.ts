import { err, ok, safeTry, type Result, type ResultAsync } from "neverthrow";
import type { z } from "zod";
import { attachVolume, detachVolume, type AttachTarget } from "../attach/attach.js";
import { VolkitError } from "../core/errors.js";
import { runOperation } from "../core/operation.js";
import { VolumeSchema, VolumeSpecSchema, type AttachedDevice, type Volume, type VolumeInput, type VolumeSpecInput } from "../core/records.js";
import { validate } from "../core/validation.js";
import { createLocalRunner } from "../exec/local-runner.js";
import type { VolumeBackend } from "../drivers/backend.js";
import { GiB } from "../drivers/base.js";
import type { DriverCapabilities } from "../drivers/volume-driver.js";
import { createHostFs } from "../host/host-fs.js";
import { BackupIdSchema } from "./backup-keys.js";
import { HoleModeSchema, type HoleMode } from "./block-source.js";
import { deriveKeys } from "./encryption.js";
import type { BackupRepository } from "./repository.js";
import { RestoreOptionsSchema, type RestoreOptions, type RestoreReport } from "./restore-engine.js";
import { loadForRestore, restoreLoaded } from "./restore-writer.js";
import { UndoStack, type CleanupFailure } from "./undo-stack.js";
import { operationOptions, withCleanup } from "./volume-backup.js";
import { callOptions, rawDevice } from "./volume-source.js";

/** A volume to create for the restore: a volume spec whose size defaults to the backup's (rounded up to GiB). */
export type NewVolumeSpec = Omit<VolumeSpecInput, "sizeGiB"> & { readonly sizeGiB?: number };

/** Where {@link restoreBackup} restores: a new volume it creates, or an existing one (at least the backup's size). */
export type RestoreDestination = { readonly newVolume: NewVolumeSpec } | { readonly volume: VolumeInput };

/** Options of {@link restoreBackup}. */
export interface RestoreBackupOptions extends RestoreOptions, AttachTarget {
  /**
   * How the backup's holes are made in the target (see `HoleModeSchema`). Default: a new volume
   * already reads as zeros — `assume-zero` for files and thin volumes, `zeroout` for thick block
   * devices (their extents may hold an earlier volume's data); an existing volume: `punch` for
   * files, `discard` for thin block devices, `zeroout` for thick ones.
   */
  readonly holes?: HoleMode;
}

/** What {@link restoreBackup} did. */
export interface VolumeRestore {
  /** The volume restored into (the new one, or the existing one). */
  readonly volume: Volume;
  /** Whether the restore created it. */
  readonly created: boolean;
  /** The engine's report (chunks written, holes, bytes, time). */
  readonly report: RestoreReport;
  /** Clean-up steps (the detach) that failed after a successful restore. Normally empty. */
  readonly leftBehind: readonly CleanupFailure[];
}

/**
 * Restores a backup into a volume of a backend (Cinder's `backup-restore`), on a host that may
 * never have seen the backup: everything comes from the repository. The manifest chain, the key
 * and the presence of every object are checked first; then the target — a new volume created at
 * the backup's size, or an existing one whose size is checked — is attached read-write on this
 * host, written chunk by chunk (each verified before it is written, holes written as holes so a
 * thin target stays sparse), and detached. A new volume is deleted when the restore fails; an
 * existing one is left alone until the first chunk has been checked. The volume must not be in
 * use elsewhere while it is restored.
 *
 * @example
 * ```ts
 * const r = await restoreBackup(repo, "b2", backend, { newVolume: { id: "vol1-restored" } });
 * ```
 */
export function restoreBackup(repo: BackupRepository, backupId: string, backend: VolumeBackend, destination: RestoreDestination, options: RestoreBackupOptions = {}): ResultAsync<VolumeRestore, VolkitError> {
  const { host, connector, holes, encryptionKey, runner, sysfs, events, logger, signal: _s, deadline: _d, ...plain } = options;
  const checked = validate(BackupIdSchema, backupId, "backup id").andThen(() =>
    validate(RestoreOptionsSchema, plain, "restore options").andThen((o) =>
      validate(HoleModeSchema.optional(), holes, "holes").andThen(() =>
        parseDestination(destination).andThen((dest) => (encryptionKey === undefined ? ok(undefined) : deriveKeys(encryptionKey)).map((keys) => ({ o, dest, keys }))),
      ),
    ),
  );
  const scope = { source: backend.name, logger: logger ?? backend.logger, events: events ?? backend.events };
  const target = { ...(host === undefined ? {} : { host }), ...(connector === undefined ? {} : { connector }) };
  const io = { runner: runner ?? createLocalRunner(), sysfs: sysfs ?? createHostFs() };
  const volumeId = "newVolume" in destination ? destination.newVolume.id : destination.volume.id;
  return checked.asyncAndThen(({ o, dest, keys }) =>
    runOperation(scope, "restoreBackup", volumeId, operationOptions(options), (ctx) =>
      safeTry(async function* () {
        const started = Date.now();
        const backup = yield* loadForRestore(repo, backupId, keys, ctx);
        const needBytes = backup.manifest.sizeBytes;
        const undo = new UndoStack();
        let volume: Volume;
        if (dest.kind === "new") {
          const sizeGiB = dest.spec.sizeGiB ?? Math.ceil(needBytes / GiB);
          if (sizeGiB * GiB < needBytes) return err(tooSmall(dest.spec.id, sizeGiB, needBytes));
          const spec = yield* validate(VolumeSpecSchema, { ...dest.spec, sizeGiB }, "new volume");
          volume = yield* ctx.phase("create-volume", () => backend.createVolume(spec, callOptions(ctx)));
          const made = volume;
          undo.push(`delete new volume ${made.id}`, (c) => backend.deleteVolume(made, callOptions(c)));
        } else {
          volume = dest.volume;
          if (volume.sizeGiB * GiB < needBytes) return err(tooSmall(volume.id, volume.sizeGiB, needBytes));
        }
        const attachedVolume = volume;
        const attached = await ctx.phase("attach", () => attachVolume(backend, attachedVolume, { ...target, readOnly: false, ...callOptions(ctx) }).andThen((a) => rawDevice(a.device, backend.driver.driverName).map(() => a)));
        if (attached.isErr()) return err(withCleanup(attached.error, await undo.unwind(ctx)));
        const attachment = attached.value;
        undo.push(`detach ${volume.id}`, (c) => detachVolume(attachment, callOptions(c)));
        const mode = holes ?? defaultHoles(attachment.device, dest.kind === "new", backend.capabilities);
        const restored = await ctx.phase("restore", () => restoreLoaded(repo, backup, { path: attachment.device.path, holes: mode }, keys, o, io, ctx, started));
        if (restored.isErr()) return err(withCleanup(restored.error, await undo.unwind(ctx)));
        // Success: the new volume stays; only the attachment is taken down.
        undo.drop(`delete new volume ${volume.id}`);
        const leftBehind = await undo.unwind(ctx);
        return ok({ volume, created: dest.kind === "new", report: restored.value, leftBehind });
      }),
    ),
  );
}

const NewVolumeSchema = VolumeSpecSchema.extend({ sizeGiB: VolumeSpecSchema.shape.sizeGiB.optional() });

type ParsedDestination = { readonly kind: "new"; readonly spec: z.output<typeof NewVolumeSchema> } | { readonly kind: "existing"; readonly volume: Volume };

function parseDestination(destination: RestoreDestination): Result<ParsedDestination, VolkitError> {
  if ("newVolume" in destination) return validate(NewVolumeSchema, destination.newVolume, "new volume").map((spec) => ({ kind: "new" as const, spec }));
  return validate(VolumeSchema, destination.volume, "volume").map((volume) => ({ kind: "existing" as const, volume }));
}

/**
 * The hole mode a target needs when the caller names none. A new volume reads as zeros when it is
 * a file or a thin volume; a new thick block device may hold an earlier volume's data, so it is
 * zeroed. An existing target is punched (file), discarded (thin) or zeroed (thick).
 */
export function defaultHoles(device: AttachedDevice, created: boolean, capabilities: DriverCapabilities): HoleMode {
  const thinOnly = capabilities.thin && !capabilities.thick;
  if (device.type === "file") return created ? "assume-zero" : "punch";
  if (created) return thinOnly ? "assume-zero" : "zeroout";
  return thinOnly ? "discard" : "zeroout";
}

function tooSmall(volumeId: string, sizeGiB: number, needBytes: number): VolkitError {
  return new VolkitError("INVALID_ARGUMENT", `volume ${volumeId} (${sizeGiB} GiB) is smaller than the backup (${needBytes} bytes)`, {
    source: "backup",
    details: { volumeId, targetBytes: sizeGiB * GiB, backupBytes: needBytes },
  });
}
