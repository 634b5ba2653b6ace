import { err, errAsync, ok, okAsync, safeTry, type ResultAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import { GiB } from "../../drivers/base.js";
import { createBackup, type VolumeBackup } from "../../backup/volume-backup.js";
import { restoreBackup } from "../../backup/volume-restore.js";
import { deleteBackup } from "../../backup/backup-admin.js";
import { exportBackupRecord, importBackupRecord } from "../../backup/backup-record.js";
import { manifestKey } from "../../backup/backup-keys.js";
import type { BackupRepository } from "../../backup/repository.js";
import { verifyBackup, type VerifyReport } from "../../backup/verify.js";
import { backgroundContext } from "../../core/context.js";
import type { VolumeBackend } from "../../drivers/backend.js";
import type { Connector } from "../../connectors/connector.js";
import { BackupRepositoryNameSchema, openRepository, repositoryConfig } from "../backup-repositories.js";
import type { BackupRecord } from "../records/backup-record.js";
import { DisplayNameSchema, RecordIdSchema } from "../records/record-fields.js";
import type { VolumeRecord } from "../records/volume-record.js";
import { traced } from "../service-events.js";
import { backendOf, callOptions, coreVolume, failureReason, holding, mustWin, newTask, type ServiceContext, type ServiceOperationOptions } from "../service-context.js";
import { createVolumeOp } from "./create-volume.js";

/** What a caller asks for when backing a volume up. */
export const CreateBackupRequestSchema = z.object({
  /** Backup id (default: a random UUID). */
  id: RecordIdSchema.optional(),
  /** Display name. */
  name: DisplayNameSchema.optional(),
  /** An incremental on top of the volume's newest backup in the repository. */
  incremental: z.boolean().default(false),
  /** Back up an `in-use` volume (and the live volume when the driver cannot snapshot). */
  force: z.boolean().default(false),
  /** Configured repository name (default: the default repository). */
  repository: BackupRepositoryNameSchema.optional(),
});
/** A backup request as a caller writes it. */
export type CreateBackupRequest = z.input<typeof CreateBackupRequestSchema>;

/** Where a backup is restored: an existing volume, or a new one (size defaults to the backup's). */
export const RestoreBackupRequestSchema = z.union([
  z.strictObject({ volumeId: RecordIdSchema }),
  z.strictObject({
    newVolume: z
      .strictObject({ id: RecordIdSchema.optional(), name: DisplayNameSchema.optional(), sizeGiB: z.number().int().min(1).optional(), volumeType: z.string().min(1).max(255).optional() })
      .default({}),
  }),
]);
/** A restore request as a caller writes it (`{}` is not valid: name a volume or ask for a new one). */
export type RestoreBackupRequest = z.input<typeof RestoreBackupRequestSchema>;

/** Options of `deleteBackup`. */
export interface DeleteBackupRequest {
  /** Also delete the incrementals that depend on it (newest first). */
  readonly cascade?: boolean;
}

/** Runs `use` with the named repository open (through the service's opener), closing it after on every path. */
export function withRepository<T>(sc: ServiceContext, name: string | undefined, use: (repo: BackupRepository, name: string) => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
  const entry = repositoryConfig(sc.config.backupRepositories, name);
  if (entry instanceof VolkitError) return errAsync(entry);
  return (sc.openRepository ?? openRepository)(entry, sc.runner).andThen((repo) =>
    use(repo, entry.name)
      .andThen((v) => repo.close(backgroundContext()).orElse(() => okAsync(undefined)).map(() => v))
      .orElse((e) =>
        repo
          .close(backgroundContext())
          .orElse(() => okAsync(undefined))
          .andThen(() => errAsync(e)),
      ),
  );
}

function connectorFor(sc: ServiceContext, backend: VolumeBackend): ResultAsync<Connector, VolkitError> {
  return sc.host.connector(backend.capabilities.protocol);
}

/** GiB a backup of `sizeBytes` needs. */
const gibOf = (sizeBytes: number): number => Math.max(1, Math.ceil(sizeBytes / GiB));

/**
 * Backs a volume up (see `VolumeService.createBackup`): the volume goes `backing-up` (from
 * `available`, or `in-use` with `force`), the backup record is inserted `creating`; the backup
 * engine takes and removes its temporary snapshot; then the record is `available` and the volume
 * back to its previous status, or the record `error` with the reason.
 */
export function createBackupOp(sc: ServiceContext, volumeId: string, input: CreateBackupRequest = {}, options: ServiceOperationOptions = {}): ResultAsync<BackupRecord, VolkitError> {
  const parsed = validate(CreateBackupRequestSchema, input, "backup request");
  if (parsed.isErr()) return errAsync(parsed.error);
  const req = parsed.value;
  const id = req.id ?? crypto.randomUUID();
  const entry = repositoryConfig(sc.config.backupRepositories, req.repository);
  if (entry instanceof VolkitError) return errAsync(entry);
  return traced(sc.events, "backup", "create", { volumeId, backupId: id }, (trace) =>
    sc.store.backups.find(id).andThen((existing) => {
      if (existing !== undefined) return errAsync(new VolkitError("BACKUP_EXISTS", `backup ${id} already exists`, { source: "service", details: { backupId: id } }));
      return sc.store.volumes.get(volumeId).andThen((volume) =>
        backendOf(sc, volume).asyncAndThen((backend) =>
          sc.store.volumes
            .begin(volumeId, "backup", { force: req.force, patch: { task: newTask(sc, "backup", { backupId: id }) } })
            .andThen((t) => mustWin(t, `back up volume ${volumeId}`))
            .andThen((backingUp) =>
              sc.store.backups
                .insert({ id, volumeId, repository: entry.name, sizeGiB: backingUp.sizeGiB, status: "creating", manifestLocation: manifestKey(id), task: newTask(sc, "backup"), ...(req.name === undefined ? {} : { name: req.name }) })
                .orElse((e) => finishVolume(sc, volumeId, "backup", "failure").andThen(() => errAsync(e)))
                .andThen(() =>
                  holding(sc, [`volume:${volumeId}`, `backup:${id}`], () => {
                    trace.step("recorded");
                    return withRepository(sc, entry.name, (repo) =>
                      connectorFor(sc, backend).andThen((connector) =>
                        createBackup(backend, coreVolume(backingUp), repo, { id, incremental: req.incremental, force: req.force, connector, ...callOptions(options) }),
                      ),
                    )
                      .orElse((e) =>
                        sc.store.backups
                          .finish(id, "create", "failure", { statusReason: failureReason("backup", e) })
                          .orElse(() => okAsync(undefined))
                          .andThen(() => finishVolume(sc, volumeId, "backup", "failure"))
                          .andThen(() => errAsync(e)),
                      )
                      .andThen((made) => parentPatch(sc, made).andThen((patch) => sc.store.backups.finish(id, "create", "success", patch)))
                      .andThen((t) => mustWin(t, `finish backup ${id}`))
                      .andThen((record) => finishVolume(sc, volumeId, "backup", "success").map(() => record));
                  }),
                ),
            ),
        ),
      );
    }),
  );
}

/** The parent of an incremental, when the service knows it (the column refers to a backup record). */
function parentPatch(sc: ServiceContext, made: VolumeBackup): ResultAsync<Record<string, unknown>, VolkitError> {
  const parentId = made.record.parentId;
  if (parentId === undefined) return okAsync({});
  return sc.store.backups.find(parentId).map((p) => (p === undefined ? {} : { parentId }));
}

/** Ends a volume operation; a lost transition is logged, not fatal (the backup's own outcome stands). */
function finishVolume(sc: ServiceContext, volumeId: string, op: "backup" | "restoreBackup", outcome: "success" | "failure", statusReason?: string): ResultAsync<VolumeRecord | undefined, never> {
  return sc.store.volumes
    .finish(volumeId, op, outcome, statusReason === undefined ? {} : { statusReason })
    .map((t) => (t.won ? t.record : undefined))
    .orElse((e) => {
      sc.logger.warn({ volumeId, op, code: e.code }, "could not finish the volume's backup operation");
      return okAsync(undefined);
    });
}

/** What `VolumeService.restoreBackup` did. */
export interface ServiceRestore {
  /** The volume restored into (its status after the restore). */
  readonly volume: VolumeRecord;
  /** Whether the service created it for the restore. */
  readonly created: boolean;
  /** Bytes written (data, not holes). */
  readonly bytesWritten: number;
}

/**
 * Restores a backup (see `VolumeService.restoreBackup`) into an existing `available` volume (at
 * least the backup's size) or a new one created through the service (placed by the scheduler,
 * the backup's size unless larger is asked). The volume is `restoring-backup` and the backup
 * `restoring` while the data is written, then both `available`; a failed restore leaves the volume
 * `error_restoring` (its data is partly written) and the backup `available`.
 */
export function restoreBackupOp(sc: ServiceContext, backupId: string, input: RestoreBackupRequest, options: ServiceOperationOptions = {}): ResultAsync<ServiceRestore, VolkitError> {
  const parsed = validate(RestoreBackupRequestSchema, input, "restore request");
  if (parsed.isErr()) return errAsync(parsed.error);
  const req = parsed.value;
  return traced(
    sc.events,
    "backup",
    "restore",
    { backupId, ...("volumeId" in req ? { volumeId: req.volumeId } : {}) },
    (trace) =>
      sc.store.backups.get(backupId).andThen((backup) => {
        if (backup.status !== "available") return errAsync(new VolkitError("INVALID_STATE", `backup ${backupId} is ${backup.status}, not available`, { source: "service", details: { backupId, status: backup.status } }));
        const target: ResultAsync<{ volume: VolumeRecord; created: boolean }, VolkitError> =
          "volumeId" in req
            ? sc.store.volumes.get(req.volumeId).map((volume) => ({ volume, created: false }))
            : createVolumeOp(
                sc,
                {
                  sizeGiB: req.newVolume.sizeGiB ?? backup.sizeGiB,
                  ...(req.newVolume.id === undefined ? {} : { id: req.newVolume.id }),
                  ...(req.newVolume.name === undefined ? {} : { name: req.newVolume.name }),
                  ...(req.newVolume.volumeType === undefined ? {} : { volumeType: req.newVolume.volumeType }),
                },
                options,
              ).map((volume) => ({ volume, created: true }));
        return target.andThen(({ volume, created }) => {
          trace.about({ volumeId: volume.id });
          if (volume.sizeGiB < backup.sizeGiB) {
            return errAsync(new VolkitError("INVALID_ARGUMENT", `volume ${volume.id} (${volume.sizeGiB} GiB) is smaller than backup ${backupId} (${backup.sizeGiB} GiB)`, { source: "service", details: { volumeId: volume.id, backupId } }));
          }
          return backendOf(sc, volume).asyncAndThen((backend) =>
            sc.store.volumes
              .begin(volume.id, "restoreBackup", { patch: { task: newTask(sc, "restore-backup", { backupId }) } })
              .andThen((t) => mustWin(t, `restore into volume ${volume.id}`))
              .andThen((restoring) =>
                sc.store.backups
                  .begin(backupId, "restore", { task: newTask(sc, "restore-backup") })
                  .andThen((t) => mustWin(t, `restore backup ${backupId}`))
                  .orElse((e) => finishVolume(sc, volume.id, "restoreBackup", "failure", failureReason("restore", e)).andThen(() => errAsync(e)))
                  .andThen(() =>
                    holding(sc, [`volume:${volume.id}`, `backup:${backupId}`], () => {
                      trace.step("restoring");
                      const finishBackup = (): ResultAsync<void, never> =>
                        sc.store.backups
                          .finish(backupId, "restore", "success")
                          .map(() => undefined)
                          .orElse(() => okAsync(undefined));
                      return withRepository(sc, backup.repository, (repo) =>
                        connectorFor(sc, backend).andThen((connector) => restoreBackup(repo, backupId, backend, { volume: coreVolume(restoring) }, { connector, ...callOptions(options) })),
                      )
                        .orElse((e) =>
                          finishVolume(sc, volume.id, "restoreBackup", "failure", failureReason("restore", e))
                            .andThen(finishBackup)
                            .andThen(() => errAsync(e)),
                        )
                        .andThen((done) =>
                          sc.store.volumes
                            .finish(volume.id, "restoreBackup", "success")
                            .andThen((t) => mustWin(t, `finish restoring volume ${volume.id}`))
                            .andThen((v) => finishBackup().map(() => ({ volume: v, created, bytesWritten: done.report.bytesWritten }))),
                        );
                    }),
                  ),
              ),
          );
        });
      }),
    (r) => r.volume.status,
  );
}

/** Re-reads a backup and checks every chunk (see `VolumeService.verifyBackup`); nothing changes. */
export function verifyBackupOp(sc: ServiceContext, backupId: string, options: ServiceOperationOptions = {}): ResultAsync<VerifyReport, VolkitError> {
  return traced(sc.events, "backup", "verify", { backupId }, () =>
    sc.store.backups.get(backupId).andThen((backup) => withRepository(sc, backup.repository, (repo) => verifyBackup(repo, backupId, callOptions(options)))),
  );
}

/**
 * Deletes a backup (see `VolumeService.deleteBackup`): refused with `CONFLICT` while incrementals
 * depend on it unless `cascade`; `deleting`, then the record is removed, or `error_deleting`.
 * Deleting a backup that has no record succeeds.
 */
export function deleteBackupOp(sc: ServiceContext, backupId: string, request: DeleteBackupRequest = {}, options: ServiceOperationOptions = {}): ResultAsync<readonly string[], VolkitError> {
  return traced(sc.events, "backup", "delete", { backupId }, () =>
    sc.store.backups.find(backupId).andThen((found) => {
      if (found === undefined) return okAsync<readonly string[], VolkitError>([]);
      return sc.store.backups.list({ parentId: backupId }).andThen((children) => {
        if (children.length > 0 && request.cascade !== true) return errAsync(inUse(backupId, children.map((c) => c.id)));
        return sc.store.backups
          .begin(backupId, "delete", { task: newTask(sc, "delete-backup", request.cascade === true ? { phase: "cascade" } : {}) })
          .andThen((t) => mustWin(t, `delete backup ${backupId}`))
          .andThen((deleting) =>
            holding(sc, [`backup:${backupId}`], () =>
              withRepository(sc, deleting.repository, (repo) => deleteBackup(repo, backupId, { cascade: request.cascade === true, ...callOptions(options) }))
                .mapErr((e) => (e.code === "BACKUP_IN_USE" ? inUse(backupId, (e.details.dependents as string[] | undefined) ?? [], e) : e))
                .orElse((e) =>
                  sc.store.backups
                    .finish(backupId, "delete", "failure", { statusReason: failureReason("delete backup", e) })
                    .orElse(() => okAsync(undefined))
                    .andThen(() => errAsync(e)),
                )
                .andThen((report) => removeRecords(sc, report.deleted.filter((d) => d !== backupId)).map(() => report.deleted))
                .andThen((deleted) => sc.store.backups.finish(backupId, "delete", "success").map(() => (deleted.includes(backupId) ? deleted : [...deleted, backupId]))),
            ),
          );
      });
    }),
  );
}

/** The records of dependents a cascade deleted from the repository (newest first, so no parent goes before its child). */
function removeRecords(sc: ServiceContext, ids: readonly string[]): ResultAsync<void, VolkitError> {
  return ids.reduce((chain, id) => chain.andThen(() => sc.store.backups.remove(id).map(() => undefined)), okAsync<void, VolkitError>(undefined));
}

function inUse(backupId: string, dependents: readonly string[], cause?: VolkitError): VolkitError {
  return new VolkitError("CONFLICT", `backup ${backupId} has dependent incremental(s): ${dependents.join(", ")} (delete them first, or cascade)`, {
    source: "service",
    details: { backupId, dependents, reason: "BACKUP_IN_USE" },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The self-describing record of a backup (its manifests), to restore it where this store is not. */
export function exportBackupRecordOp(sc: ServiceContext, backupId: string, options: ServiceOperationOptions = {}): ResultAsync<string, VolkitError> {
  return sc.store.backups.get(backupId).andThen((backup) => withRepository(sc, backup.repository, (repo) => exportBackupRecord(repo, backupId, callOptions(options))));
}

/**
 * Imports an exported record into a configured repository holding the backup's objects and
 * records the backup (and its ancestors this store does not know) as `available`. Importing a
 * backup already recorded in the same repository succeeds and returns that record.
 */
export function importBackupRecordOp(sc: ServiceContext, record: string, request: { readonly repository?: string } = {}, options: ServiceOperationOptions = {}): ResultAsync<BackupRecord, VolkitError> {
  return withRepository(sc, request.repository, (repo, name) =>
    importBackupRecord(repo, record, callOptions(options)).andThen((manifest) =>
      safeTry(async function* () {
        // Ancestors first, so each parent column refers to a record.
        const ids = [...manifest.chain, manifest.backupId];
        let last: BackupRecord | undefined;
        let parent: string | undefined;
        for (const id of ids) {
          const known = yield* sc.store.backups.find(id);
          if (known !== undefined) {
            if (known.repository !== name) return err(new VolkitError("CONFLICT", `backup ${id} is already recorded in repository ${known.repository}`, { source: "service", details: { backupId: id } }));
            last = known;
          } else {
            const m = id === manifest.backupId ? manifest : undefined;
            last = yield* sc.store.backups.insert({
              id,
              volumeId: (m ?? manifest).volumeId ?? "imported",
              repository: name,
              sizeGiB: gibOf(manifest.sizeBytes),
              status: "available",
              manifestLocation: manifestKey(id),
              ...(parent === undefined ? {} : { parentId: parent }),
            });
          }
          parent = id;
        }
        return last === undefined ? err(new VolkitError("BACKUP_CORRUPT", "the record names no backup", { source: "service" })) : ok(last);
      }),
    ),
  );
}
