import { randomUUID } from "node:crypto";
import { err, ok, safeTry, type ResultAsync } from "neverthrow";
import { z } from "zod";
import type { AttachTarget } from "../attach/attach.js";
import type { OperationContext, OperationOptions } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { runOperation } from "../core/operation.js";
import { VolumeSchema, type Volume, type VolumeInput } from "../core/records.js";
import { validate } from "../core/validation.js";
import type { VolumeBackend } from "../drivers/backend.js";
import { BackupOptionsSchema, backupFromSource, type BackupOptions } from "./backup-engine.js";
import { BackupIdSchema } from "./backup-keys.js";
import { latestBackupOf, loadManifest, manifestExists } from "./catalog.js";
import { deriveKeys } from "./encryption.js";
import type { BackupManifest, LoadedManifest } from "./manifest.js";
import type { BackupRepository, RepositoryDescriptor } from "./repository.js";
import { UndoStack, type CleanupFailure } from "./undo-stack.js";
import { openVolumeForBackup, type OpenedVolume } from "./volume-source.js";

/** Options of {@link createBackup}: the engine's options, how to attach, and the volume-level choices. */
export interface CreateBackupOptions extends Omit<BackupOptions, "backupId" | "volumeId" | "parent">, AttachTarget {
  /** Id of the new backup (default a random UUID). */
  readonly id?: string;
  /**
   * Make an incremental on top of the volume's newest backup in this repository (found through
   * the volume index). Refused with `INVALID_STATE` when the volume has none there yet (as Cinder).
   */
  readonly incremental?: boolean;
  /** Make an incremental on top of this backup (of the same volume); implies `incremental`. */
  readonly parent?: string;
  /**
   * Back up the live volume when the driver cannot snapshot (attached read-only; it must not
   * change meanwhile). Without it such a backup is refused with `NOT_SUPPORTED`.
   */
  readonly force?: boolean;
}

const VolumeLevelSchema = z.object({
  id: BackupIdSchema.optional(),
  incremental: z.boolean().optional(),
  parent: BackupIdSchema.optional(),
  force: z.boolean().optional(),
});

/**
 * What a volume service records about a backup: plain JSON, no secret. `repository` (with the
 * service's own credentials) and `backupId` are enough to restore it; `chain` names every backup
 * it depends on.
 */
export interface VolumeBackupRecord {
  /** Backup id. */
  readonly backupId: string;
  /** The volume backed up. */
  readonly volumeId: string;
  /** Where the backup is (no credentials). */
  readonly repository: RepositoryDescriptor;
  /** Volume size in bytes. */
  readonly sizeBytes: number;
  /** Whether it is an incremental. */
  readonly incremental: boolean;
  /** Parent backup of an incremental. */
  readonly parentId?: string;
  /** Ancestors, oldest (the full backup) first; empty for a full backup. */
  readonly chain: readonly string[];
  /** When the backup started (ISO 8601). */
  readonly createdAt: string;
  /** When it was published (ISO 8601). */
  readonly completedAt: string;
  /** Bytes of the volume that are data (not holes). */
  readonly dataBytes: number;
  /** Bytes this backup added to the repository. */
  readonly storedBytes: number;
  /** Whether it is encrypted (the key is the caller's). */
  readonly encrypted: boolean;
  /** A point-in-time snapshot was read (false: the live volume, with `force`). */
  readonly pointInTime: boolean;
}

/** What {@link createBackup} did. */
export interface VolumeBackup {
  /** The record to keep (see {@link VolumeBackupRecord}). */
  readonly record: VolumeBackupRecord;
  /** The published manifest. */
  readonly manifest: BackupManifest;
  /** The temporary snapshot and volume the backup read (already deleted, unless listed in `leftBehind`). */
  readonly temporaries: { readonly snapshotId?: string; readonly volumeId?: string };
  /** Where the allocation map came from: the driver's, or the engine's own (SEEK_DATA for files, zero detection). */
  readonly allocation: "driver" | "engine";
  /**
   * Clean-up steps that failed after the backup was published (the backup is sound; the
   * temporary objects named here must be removed by hand or by a retry). Normally empty.
   */
  readonly leftBehind: readonly CleanupFailure[];
}

/**
 * Backs up a volume of a backend into a repository (Cinder's `backup-create`): takes a temporary
 * snapshot, makes it readable on this host (a temporary volume from it, attached read-only; see
 * `volume-source.ts`), backs its bytes up with the chunk engine (`backupFromSource`: holes not
 * stored, compression and hashing on worker threads, incrementals by 32 KiB block), and takes
 * everything down again — detach, temporary volume, snapshot — on success, failure and abort
 * alike (on a context of its own). Progress and operation events go to the backend's event bus.
 *
 * Everything is checked before anything is made: the options, the backup id (`BACKUP_EXISTS`),
 * the parent (`BACKUP_NOT_FOUND`, another volume's: `INVALID_ARGUMENT`), the key.
 *
 * @example
 * ```ts
 * const full = await createBackup(backend, volume, repo);
 * const incr = await createBackup(backend, volume, repo, { incremental: true });
 * if (incr.isOk()) await store.saveBackup(incr.value.record);
 * ```
 */
export function createBackup(backend: VolumeBackend, volume: VolumeInput, repo: BackupRepository, options: CreateBackupOptions = {}): ResultAsync<VolumeBackup, VolkitError> {
  const { id, incremental, parent, force, host, connector, encryptionKey, runner, sysfs, events, logger, signal: _s, deadline: _d, ...engine } = options;
  const checked = validate(VolumeSchema, volume, "volume").andThen((v) =>
    validate(VolumeLevelSchema, { id, incremental, parent, force }, "backup options").andThen((level) =>
      validate(BackupOptionsSchema, engine, "backup options").andThen(() => (encryptionKey === undefined ? ok(undefined) : deriveKeys(encryptionKey))).map(() => ({ v, level })),
    ),
  );
  const scope = { source: backend.name, logger: logger ?? backend.logger, events: events ?? backend.events };
  return checked.asyncAndThen(({ v, level }) =>
    runOperation(scope, "createBackup", v.id, operationOptions(options), (ctx) =>
      safeTry(async function* () {
        const backupId = level.id ?? randomUUID();
        if (yield* manifestExists(repo, backupId, ctx)) return err(new VolkitError("BACKUP_EXISTS", `backup ${backupId} already exists in ${repo.description}`, { source: "backup", details: { backupId } }));
        const base = yield* parentOf(repo, v, level.parent, level.incremental === true, ctx);
        const undo = new UndoStack();
        const target = { ...(host === undefined ? {} : { host }), ...(connector === undefined ? {} : { connector }) };
        const opened = await openVolumeForBackup(backend, v, level.force === true, target, undo, ctx);
        if (opened.isErr()) return err(withCleanup(opened.error, await undo.unwind(ctx)));
        const src = opened.value;
        const source = { path: src.device.path, sizeBytes: src.sizeBytes, ...(src.allocation === undefined ? {} : { allocation: src.allocation }) };
        const engineOptions = {
          ...engine,
          backupId,
          volumeId: v.id,
          ...(base === undefined ? {} : { parent: base.manifest.backupId }),
          ...(encryptionKey === undefined ? {} : { encryptionKey }),
          ...(runner === undefined ? {} : { runner }),
          ...(sysfs === undefined ? {} : { sysfs }),
          events: scope.events,
          logger: scope.logger,
          signal: ctx.signal,
        };
        const published = await ctx.phase("backup", () => backupFromSource(repo, source, engineOptions));
        // Not a phase of `ctx`: after an abort its phases no longer start, and this must run.
        const failures = await undo.unwind(ctx);
        if (published.isErr()) return err(withCleanup(published.error, failures));
        return ok(result(published.value, repo, src, failures));
      }),
    ),
  );
}

/** The parent an incremental builds on: the one named, or the volume's newest backup. */
function parentOf(repo: BackupRepository, volume: Volume, parentId: string | undefined, incremental: boolean, ctx: OperationContext): ResultAsync<LoadedManifest | undefined, VolkitError> {
  return safeTry(async function* () {
    if (parentId === undefined && !incremental) return ok(undefined);
    const base = parentId === undefined ? yield* latestBackupOf(repo, volume.id, ctx) : yield* loadManifest(repo, parentId, ctx);
    if (base === undefined) {
      return err(new VolkitError("INVALID_STATE", `volume ${volume.id} has no backup in ${repo.description} to base an incremental backup on`, { source: "backup", details: { volumeId: volume.id } }));
    }
    const owner = base.manifest.volumeId;
    if (owner !== undefined && owner !== volume.id) {
      return err(new VolkitError("INVALID_ARGUMENT", `backup ${base.manifest.backupId} is of volume ${owner}, not ${volume.id}`, { source: "backup", details: { backupId: base.manifest.backupId, volumeId: volume.id } }));
    }
    return ok(base);
  });
}

function result(m: BackupManifest, repo: BackupRepository, src: OpenedVolume, leftBehind: readonly CleanupFailure[]): VolumeBackup {
  return {
    record: {
      backupId: m.backupId,
      volumeId: m.volumeId ?? "",
      repository: repo.descriptor,
      sizeBytes: m.sizeBytes,
      incremental: m.parent !== undefined,
      ...(m.parent === undefined ? {} : { parentId: m.parent.backupId }),
      chain: m.chain,
      createdAt: m.createdAt,
      completedAt: m.completedAt,
      dataBytes: m.stats.dataBytes,
      storedBytes: m.stats.storedBytes,
      encrypted: m.encryption !== undefined,
      pointInTime: src.pointInTime,
    },
    manifest: m,
    temporaries: { ...(src.snapshotId === undefined ? {} : { snapshotId: src.snapshotId }), ...(src.temporaryVolumeId === undefined ? {} : { volumeId: src.temporaryVolumeId }) },
    allocation: src.allocation === undefined ? "engine" : "driver",
    leftBehind,
  };
}

/** Only the signal and deadline of a caller's options (the context takes its logger and bus from the scope). */
export function operationOptions(options: OperationOptions): OperationOptions {
  return { ...(options.signal === undefined ? {} : { signal: options.signal }), ...(options.deadline === undefined ? {} : { deadline: options.deadline }) };
}

/** The error, with the clean-up steps that failed after it in `details.cleanup`. */
export function withCleanup(e: VolkitError, failures: readonly CleanupFailure[]): VolkitError {
  if (failures.length === 0) return e;
  return new VolkitError(e.code, `${e.message} (clean-up left ${failures.map((f) => f.step).join(", ")})`, {
    source: e.source ?? "backup",
    cause: e,
    details: { ...e.details, cleanup: failures },
    transient: e.transient,
  });
}
