import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { Migrator, type Kysely } from "kysely";
import { VolkitError } from "../../core/errors.js";
import type { AttachmentRecord, AttachmentRecordInput } from "../records/attachment-record.js";
import type { BackupRecord, BackupRecordInput } from "../records/backup-record.js";
import { ATTACHMENT_RULES, BACKUP_RULES, type AttachmentOperation, type AttachStatus, type BackupOperation, type BackupStatus } from "../state-machine.js";
import { run, storeError } from "./db-errors.js";
import { KyselyImageCacheTable } from "./image-cache-table.js";
import { KyselyStatusTable, KyselyTable, type LooseDb, type TableContext } from "./kysely-table.js";
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, serviceMigrations } from "./migrations.js";
import { KyselySnapshotTable } from "./snapshot-table.js";
import type { AttachmentPatch, BackupPatch, ServiceStore, StoreDialect } from "./store.js";
import { ATTACHMENTS, BACKENDS, BACKUPS, QOS_SPECS, VOLUME_TYPES } from "./table-specs.js";
import { KyselyVolumeTable } from "./volume-table.js";

/**
 * The one {@link ServiceStore} implementation: every table over a Kysely instance of either dialect.
 */

/** Runs the in-code migrations; `exclusive` wraps them for SQLite (see {@link openKyselyStore}). */
export function migrate(db: Kysely<LooseDb>, dialect: StoreDialect, exclusive?: Exclusive): ResultAsync<void, VolkitError> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(serviceMigrations(dialect)) },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    disableTransactions: exclusive !== undefined,
  });
  const attempt = async (): Promise<Awaited<ReturnType<Migrator["migrateToLatest"]>>> => {
    if (exclusive === undefined) return migrator.migrateToLatest();
    exclusive.begin();
    try {
      const out = await migrator.migrateToLatest();
      if (out.error === undefined) exclusive.commit();
      else exclusive.rollback();
      return out;
    } catch (e) {
      exclusive.rollback();
      throw e;
    }
  };
  return run({ action: "migrate the schema of" }, attempt).andThen(({ error, results }) => {
    if (error === undefined) return okAsync(undefined);
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    const message = error instanceof Error ? error.message : JSON.stringify(error);
    if (/missing|corrupted migrations/i.test(message)) {
      return errAsync(
        new VolkitError("INVALID_STATE", `the service database has schema migrations this volkit does not know (opened by a newer version?): ${message}`, {
          source: "store",
          cause: error,
        }),
      );
    }
    const mapped = storeError(error, { action: `apply schema migration ${failed ?? "(setup)"} to` });
    return errAsync(mapped);
  });
}

/**
 * A way to hold the database exclusively around the migrations without Kysely's own transaction:
 * SQLite's `BEGIN IMMEDIATE` on the raw handle, so two processes opening a new file at once run
 * the migrations one after the other instead of failing with `SQLITE_BUSY`.
 */
export interface Exclusive {
  /** Takes the write lock. */
  begin(): void;
  /** Commits. */
  commit(): void;
  /** Rolls back (never throws). */
  rollback(): void;
}

/**
 * Wraps an open Kysely instance as a {@link ServiceStore}, running the schema migrations first.
 * `close` destroys the Kysely instance (and the driver's database or pool).
 */
export function openKyselyStore(db: Kysely<LooseDb>, dialect: StoreDialect, exclusive?: Exclusive): ResultAsync<ServiceStore, VolkitError> {
  return migrate(db, dialect, exclusive)
    .map(() => createStore(db, dialect, () => db.destroy()))
    .orElse((e) => ResultAsync.fromSafePromise(db.destroy().catch(() => undefined)).andThen(() => errAsync(e)));
}

/**
 * A {@link ServiceStore} over an already migrated Kysely instance; `release` runs once, on the
 * first `close` (it destroys the instance, or drops one reference to a shared one).
 */
export function createStore(db: Kysely<LooseDb>, dialect: StoreDialect, release: () => Promise<void>): ServiceStore {
  const ctx: TableContext = { db, dialect };
  const attachments = new KyselyStatusTable<AttachmentRecord, AttachmentRecordInput, AttachmentPatch, AttachStatus, AttachmentOperation>(ctx, ATTACHMENTS, ATTACHMENT_RULES, ["volumeId"]);
  const volumes = new KyselyVolumeTable(ctx, attachments);
  let closed: Promise<void> | undefined;
  return {
    dialect,
    volumes,
    snapshots: new KyselySnapshotTable(ctx, volumes),
    attachments,
    volumeTypes: new KyselyTable(ctx, VOLUME_TYPES),
    qosSpecs: new KyselyTable(ctx, QOS_SPECS),
    backends: new KyselyTable(ctx, BACKENDS),
    backups: new KyselyStatusTable<BackupRecord, BackupRecordInput, BackupPatch, BackupStatus, BackupOperation>(ctx, BACKUPS, BACKUP_RULES, ["volumeId"]),
    imageCache: new KyselyImageCacheTable(ctx),
    migrations: () =>
      run({ action: "list the migrations of" }, () => db.selectFrom(MIGRATION_TABLE).select("name").orderBy("name").execute()).map((rows) => rows.map((r) => String(r.name))),
    close: () => {
      closed ??= release();
      return run({ action: "close" }, () => closed ?? Promise.resolve());
    },
  };
}
