import type { ResultAsync } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import type { AttachmentRecord, AttachmentRecordInput } from "../records/attachment-record.js";
import type { BackendRecord, BackendRecordInput } from "../records/backend-record.js";
import type { BackupRecord, BackupRecordInput } from "../records/backup-record.js";
import type { ImageCacheEntry, ImageCacheEntryInput } from "../records/image-cache-record.js";
import type { SnapshotRecord, SnapshotRecordInput } from "../records/snapshot-record.js";
import type { VolumeRecord, VolumeRecordInput } from "../records/volume-record.js";
import type { QosSpecsRecord, QosSpecsRecordInput, VolumeTypeRecord, VolumeTypeRecordInput } from "../records/volume-type-record.js";
import type {
  AttachmentOperation,
  AttachStatus,
  BackupOperation,
  SnapshotOperation,
  StartOptions,
  VolumeOperation,
  VolumeStatus,
} from "../state-machine.js";

/**
 * The service's persistence contract: one interface, implemented once over Kysely for SQLite (the
 * embedded default, also in memory for tests) and PostgreSQL (several hosts sharing one service).
 * Every state change is a conditional update that reports whether it won, so two processes or two
 * hosts never both start the same operation on the same record.
 */

/** The SQL dialect a store runs on. */
export type StoreDialect = "sqlite" | "postgres";

/**
 * The outcome of a conditional update. `won: false` is not an error: the record was not in the
 * expected state (another process got there first, or the operation is not allowed now); `current`
 * is the record as it is now (undefined when it does not exist) and `reason` says what was expected.
 */
export type Transition<T> =
  | { readonly won: true; readonly record: T }
  | { readonly won: false; readonly current: T | undefined; readonly reason: string };

/** Conditions of a conditional update or delete; every given one must hold. */
export interface Expectation<S extends string = never> {
  /** The row version the caller read (optimistic concurrency). */
  readonly revision?: number;
  /** Statuses the record must be in. */
  readonly status?: readonly S[];
}

/** Fields the store owns: never in a patch. */
export type StoreOwnedField = "createdAt" | "updatedAt" | "revision";

/**
 * A change to a record: the fields to set (`undefined` clears an optional field). The key and the
 * store-owned fields cannot be patched; statuses change only through `begin`/`finish`/`resetStatus`.
 */
export type Patch<TInput, Key extends keyof TInput, Locked extends keyof TInput = never> = {
  readonly [K in Exclude<keyof TInput, Key | StoreOwnedField | Locked>]?: TInput[K] | undefined;
};

/** A filter of `list`: each given field must equal the value, or one of the values of an array. */
export type ListFilter<T> = {
  readonly [K in keyof T]?: T[K] extends string | number | boolean | undefined ? Exclude<T[K], undefined> | readonly Exclude<T[K], undefined>[] : never;
};

/** Order and size of a `list`. */
export interface ListOptions<T> {
  /** Field to order by (default: creation time, then key). */
  readonly orderBy?: keyof T & string;
  /** `asc` (default) or `desc`. */
  readonly direction?: "asc" | "desc";
  /** At most this many records. */
  readonly limit?: number;
}

/** Create, read, list, conditionally update and conditionally remove one kind of record. */
export interface RecordTable<T, TInput, TPatch, S extends string = never> {
  /** Inserts a new record; its key must be unused (`VOLUME_EXISTS`, `SNAPSHOT_EXISTS` or `CONFLICT`). */
  insert(input: TInput): ResultAsync<T, VolkitError>;
  /** The record, or `VOLUME_NOT_FOUND`/`SNAPSHOT_NOT_FOUND`/`NOT_FOUND`. */
  get(key: string): ResultAsync<T, VolkitError>;
  /** The record, or undefined. */
  find(key: string): ResultAsync<T | undefined, VolkitError>;
  /** Records matching `filter`. A row that fails validation fails the list with `PARSE_ERROR` naming it. */
  list(filter?: ListFilter<T>, options?: ListOptions<T>): ResultAsync<readonly T[], VolkitError>;
  /** Sets `patch` if the record meets `expect` (one conditional `UPDATE … RETURNING`). */
  update(key: string, patch: TPatch, expect?: Expectation<S>): ResultAsync<Transition<T>, VolkitError>;
  /** Removes the record if it meets `expect`; removing a missing record wins with `record` undefined. */
  remove(key: string, expect?: Expectation<S>): ResultAsync<Transition<T | undefined>, VolkitError>;
}

/** Moves a record with one status column through a table of operations (`SNAPSHOT_RULES`…). */
export interface StatusTable<T, Op extends string> {
  /**
   * Starts `op`: moves the record from an allowed status to the operation's transient status,
   * setting `patch` (e.g. the operation's task) in the same statement.
   */
  begin(key: string, op: Op, patch?: Readonly<Record<string, unknown>>): ResultAsync<Transition<T>, VolkitError>;
  /**
   * Ends `op` (the record must still be in its transient status): moves it to the success or
   * failure status, or removes it when that is `removed` (`record` is then the removed record). A
   * record with a task has it cleared.
   */
  finish(key: string, op: Op, outcome: "success" | "failure", patch?: Readonly<Record<string, unknown>>): ResultAsync<Transition<T>, VolkitError>;
}

/** A volume patch. */
export type VolumePatch = Patch<VolumeRecordInput, "id", "status" | "previousStatus" | "attachStatus">;
/** A snapshot patch. */
export type SnapshotPatch = Patch<SnapshotRecordInput, "id" | "volumeId", "status">;
/** An attachment patch. */
export type AttachmentPatch = Patch<AttachmentRecordInput, "id" | "volumeId", "attachStatus">;
/** A volume type patch. */
export type VolumeTypePatch = Patch<VolumeTypeRecordInput, "id">;
/** A QoS specs patch. */
export type QosSpecsPatch = Patch<QosSpecsRecordInput, "id">;
/** A backend patch. */
export type BackendPatch = Patch<BackendRecordInput, "name">;
/** A backup patch. */
export type BackupPatch = Patch<BackupRecordInput, "id" | "volumeId", "status">;
/** An image-cache entry patch. */
export type ImageCacheEntryPatch = Patch<ImageCacheEntryInput, "id">;

/** An attachment written in the same transaction as a volume transition. */
export type AttachmentChange =
  | { readonly insert: AttachmentRecordInput }
  | { readonly update: string; readonly attachStatus?: AttachStatus; readonly patch?: AttachmentPatch }
  | { readonly remove: string };

/** Options of {@link VolumeTable.begin}. */
export interface BeginOptions extends StartOptions {
  /** Fields set in the same statement (e.g. `migrationStatus: "starting"`, the new size). */
  readonly patch?: VolumePatch;
  /** An attachment written atomically with the transition (attach: the new attachment). */
  readonly attachment?: AttachmentChange;
}

/** Options of {@link VolumeTable.finish}. */
export interface FinishOptions {
  /** Fields set with the final status (e.g. the new `sizeGiB`, `providerLocation`). */
  readonly patch?: VolumePatch;
  /** Why it failed (kept in `statusReason` for panels; cleared on success when not given). */
  readonly statusReason?: string;
  /** An attachment written atomically with the transition, before `by-attachments` is resolved. */
  readonly attachment?: AttachmentChange;
}

/** Volumes: records plus the transitions of `VOLUME_RULES`, each one conditional and atomic. */
export interface VolumeTable extends RecordTable<VolumeRecord, VolumeRecordInput, VolumePatch, VolumeStatus> {
  /**
   * Starts `op`: in one conditional update (`… SET status = '<transient>' WHERE id = ? AND status IN
   * (…) AND <guards>`), moves the volume to the operation's transient status and records the status
   * it had. `won: false` when the volume is not in an allowed status or a guard fails (snapshots,
   * live attachments, a running migration); on PostgreSQL the row is locked for the transaction so
   * cross-table guards cannot race.
   */
  begin(id: string, op: VolumeOperation, options?: BeginOptions): ResultAsync<Transition<VolumeRecord>, VolkitError>;
  /**
   * Ends `op`: the volume must still be in the operation's transient status. Moves it to the
   * success/failure status of `VOLUME_RULES` (`previous`, `by-attachments` resolved in the same
   * transaction) and clears its task, or removes the record (delete) together with its finished
   * attachments.
   */
  finish(id: string, op: VolumeOperation, outcome: "success" | "failure", options?: FinishOptions): ResultAsync<Transition<VolumeRecord>, VolkitError>;
  /**
   * The swap that completes a migration, in one transaction: `sourceId` (in `maintenance`) takes the
   * location of `targetId` (its temporary destination, migration status `target:<sourceId>`), and
   * the target takes the source's old location, so deleting the target record afterwards deletes
   * the old copy. Location = backend, pool, zone and the provider fields. `patch` is applied to the
   * source in the same statement (a retype's new type). `INVALID_STATE` when the records are not in
   * those states.
   */
  swapLocation(sourceId: string, targetId: string, patch?: VolumePatch): ResultAsync<{ readonly source: VolumeRecord; readonly target: VolumeRecord }, VolkitError>;
  /** Admin reset (Cinder's `reset-state`): sets the status whatever it is, if `expect` holds; clears the task. */
  resetStatus(
    id: string,
    status: VolumeStatus,
    options?: { readonly attachStatus?: AttachStatus; readonly expect?: Expectation<VolumeStatus>; readonly statusReason?: string },
  ): ResultAsync<Transition<VolumeRecord>, VolkitError>;
}

/** Snapshots; inserting one checks its volume may be snapshotted now, atomically. */
export interface SnapshotTable extends RecordTable<SnapshotRecord, SnapshotRecordInput, SnapshotPatch, SnapshotRecord["status"]>, StatusTable<SnapshotRecord, SnapshotOperation> {
  /**
   * Inserts a snapshot if its volume may be snapshotted (`createSnapshot`: available, or in-use with
   * `force`, no migration running); `INVALID_STATE` otherwise, `VOLUME_NOT_FOUND` without a volume.
   */
  insert(input: SnapshotRecordInput, options?: { readonly force?: boolean }): ResultAsync<SnapshotRecord, VolkitError>;
}

/** Attachments. */
export type AttachmentTable = RecordTable<AttachmentRecord, AttachmentRecordInput, AttachmentPatch, AttachStatus> & StatusTable<AttachmentRecord, AttachmentOperation>;

/** Backups. */
export type BackupTable = RecordTable<BackupRecord, BackupRecordInput, BackupPatch, BackupRecord["status"]> & StatusTable<BackupRecord, BackupOperation>;

/** Image-cache entries, with the lookups the cache needs. */
export interface ImageCacheTable extends RecordTable<ImageCacheEntry, ImageCacheEntryInput, ImageCacheEntryPatch> {
  /** The entry for this image checksum on `backend#pool`, if any. */
  lookup(imageId: string, imageChecksum: string, backend: string, pool: string): ResultAsync<ImageCacheEntry | undefined, VolkitError>;
  /** Records a hit: `hits + 1`, `lastUsedAt = now` (one statement, no revision check). */
  touch(id: string): ResultAsync<ImageCacheEntry, VolkitError>;
}

/** The service store. */
export interface ServiceStore {
  /** The dialect it runs on. */
  readonly dialect: StoreDialect;
  /** Volumes. */
  readonly volumes: VolumeTable;
  /** Snapshots. */
  readonly snapshots: SnapshotTable;
  /** Attachments. */
  readonly attachments: AttachmentTable;
  /** Volume types. */
  readonly volumeTypes: RecordTable<VolumeTypeRecord, VolumeTypeRecordInput, VolumeTypePatch>;
  /** QoS specs. */
  readonly qosSpecs: RecordTable<QosSpecsRecord, QosSpecsRecordInput, QosSpecsPatch>;
  /** Backends, keyed by name. */
  readonly backends: RecordTable<BackendRecord, BackendRecordInput, BackendPatch>;
  /** Backups. */
  readonly backups: BackupTable;
  /** Image-cache entries. */
  readonly imageCache: ImageCacheTable;
  /** Names of the schema migrations applied, oldest first. */
  migrations(): ResultAsync<readonly string[], VolkitError>;
  /** Closes the connection (pool). Idempotent. */
  close(): ResultAsync<void, VolkitError>;
}
