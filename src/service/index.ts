/**
 * The volume service's foundation (`volkit/service`): Cinder's control-plane records as zod
 * schemas, their state machine, a store with conditional (race-free) transitions over SQLite,
 * PostgreSQL or memory, and the scheduler that places volumes on `backend#pool` with Cinder's
 * filters and weighers.
 *
 * @example
 * ```ts
 * import { openStore } from "volkit/service";
 * const store = (await openStore({ kind: "sqlite", path: "/var/lib/volkit/service.db" }))._unsafeUnwrap();
 * await store.volumes.insert({ id: "vol-1", sizeGiB: 10 });
 * const t = await store.volumes.begin("vol-1", "attach");
 * // t.value.won is false in every other process that tried the same thing at the same time
 * ```
 *
 * @packageDocumentation
 */
export * from "./state-machine.js";
export * from "./records/record-fields.js";
export * from "./records/volume-record.js";
export * from "./records/snapshot-record.js";
export * from "./records/attachment-record.js";
export * from "./records/volume-type-record.js";
export * from "./records/backend-record.js";
export * from "./records/backup-record.js";
export * from "./records/image-cache-record.js";
export type * from "./store/store.js";
export { openMemoryStore, openPostgresStore, openSqliteStore, openStore, MemoryStoreConfigSchema, PostgresStoreConfigSchema, SqliteStoreConfigSchema, StoreConfigSchema, type StoreConfigInput } from "./store/open-store.js";
export { MIGRATION_TABLE, MIGRATION_LOCK_TABLE } from "./store/migrations.js";
export * from "./scheduler/pool-stats.js";
export * from "./scheduler/capacity.js";
export * from "./scheduler/extra-specs-ops.js";
export * from "./scheduler/filters.js";
export * from "./scheduler/weighers.js";
export * from "./scheduler/scheduler.js";
export * from "./scheduler/qos.js";
