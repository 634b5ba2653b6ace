import type { CreateTableBuilder, Kysely, Migration } from "kysely";
import type { StoreDialect } from "./store.js";

/**
 * The store's schema, as versioned in-code migrations run by Kysely's `Migrator` on open. A
 * migration is never edited once released: a change is a new entry. Column types differ per
 * dialect only where SQLite has no native type (booleans as 0/1 integers, JSON and times as text).
 */

/** Kysely's migration bookkeeping tables, named for volkit so they never clash with the caller's. */
export const MIGRATION_TABLE = "volkit_migration";
/** The migration lock table. */
export const MIGRATION_LOCK_TABLE = "volkit_migration_lock";

type Db = Kysely<unknown>;
type Table = CreateTableBuilder<string, string>;

/** SQL types per dialect. */
function types(dialect: StoreDialect): { readonly bool: "boolean" | "integer"; readonly json: "jsonb" | "text"; readonly time: "timestamptz" | "text" } {
  return dialect === "postgres" ? { bool: "boolean", json: "jsonb", time: "timestamptz" } : { bool: "integer", json: "text", time: "text" };
}

/** created_at, updated_at, revision. */
function meta(t: Table, time: "timestamptz" | "text"): Table {
  return t
    .addColumn("created_at", time, (c) => c.notNull())
    .addColumn("updated_at", time, (c) => c.notNull())
    .addColumn("revision", "integer", (c) => c.notNull().defaultTo(1));
}

/** 0001: volumes, snapshots, attachments, volume types, QoS specs, backends, backups, image cache. */
function initial(dialect: StoreDialect): Migration {
  const { bool, json, time } = types(dialect);
  return {
    async up(db: Db): Promise<void> {
      await meta(
        db.schema
          .createTable("qos_specs")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull().unique())
          .addColumn("consumer", "text", (c) => c.notNull())
          .addColumn("specs", json, (c) => c.notNull()),
        time,
      ).execute();
      await meta(
        db.schema
          .createTable("volume_types")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull().unique())
          .addColumn("description", "text")
          .addColumn("extra_specs", json, (c) => c.notNull())
          .addColumn("qos_specs_id", "text", (c) => c.references("qos_specs.id").onDelete("restrict"))
          .addColumn("is_public", bool, (c) => c.notNull()),
        time,
      ).execute();
      await meta(
        db.schema
          .createTable("volumes")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text")
          .addColumn("size_gib", "integer", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("previous_status", "text")
          .addColumn("attach_status", "text", (c) => c.notNull())
          .addColumn("backend", "text")
          .addColumn("pool", "text")
          .addColumn("availability_zone", "text")
          .addColumn("volume_type_id", "text", (c) => c.references("volume_types.id").onDelete("restrict"))
          .addColumn("bootable", bool, (c) => c.notNull())
          .addColumn("multiattach", bool, (c) => c.notNull())
          .addColumn("metadata", json, (c) => c.notNull())
          .addColumn("provider_location", "text")
          .addColumn("provider_auth", "text")
          .addColumn("provider_id", "text")
          .addColumn("source", json)
          .addColumn("migration_status", "text")
          .addColumn("status_reason", "text"),
        time,
      ).execute();
      await db.schema.createIndex("volumes_status_idx").on("volumes").column("status").execute();
      await db.schema.createIndex("volumes_backend_pool_idx").on("volumes").columns(["backend", "pool"]).execute();
      await meta(
        db.schema
          .createTable("snapshots")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("volume_id", "text", (c) => c.notNull().references("volumes.id").onDelete("restrict"))
          .addColumn("name", "text")
          .addColumn("size_gib", "integer", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("provider_location", "text")
          .addColumn("provider_id", "text")
          .addColumn("metadata", json, (c) => c.notNull())
          .addColumn("status_reason", "text"),
        time,
      ).execute();
      await db.schema.createIndex("snapshots_volume_idx").on("snapshots").column("volume_id").execute();
      await meta(
        db.schema
          .createTable("attachments")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("volume_id", "text", (c) => c.notNull().references("volumes.id").onDelete("restrict"))
          .addColumn("host", "text", (c) => c.notNull())
          .addColumn("host_properties", json, (c) => c.notNull())
          .addColumn("connection_info", json)
          .addColumn("device", json)
          .addColumn("instance_id", "text")
          .addColumn("mountpoint", "text")
          .addColumn("attach_mode", "text", (c) => c.notNull())
          .addColumn("attach_status", "text", (c) => c.notNull())
          .addColumn("attached_at", time)
          .addColumn("detached_at", time),
        time,
      ).execute();
      await db.schema.createIndex("attachments_volume_idx").on("attachments").column("volume_id").execute();
      await meta(
        db.schema
          .createTable("backends")
          .addColumn("name", "text", (c) => c.primaryKey())
          .addColumn("driver", "text", (c) => c.notNull())
          .addColumn("config_hash", "text", (c) => c.notNull())
          .addColumn("availability_zone", "text")
          .addColumn("last_stats", json)
          .addColumn("stats_updated_at", time)
          .addColumn("state", "text", (c) => c.notNull()),
        time,
      ).execute();
      await meta(
        db.schema
          .createTable("backups")
          .addColumn("id", "text", (c) => c.primaryKey())
          // No foreign key: a backup outlives its volume.
          .addColumn("volume_id", "text", (c) => c.notNull())
          .addColumn("name", "text")
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("repository", "text", (c) => c.notNull())
          // An incremental's parent cannot be removed while the child exists.
          .addColumn("parent_id", "text", (c) => c.references("backups.id").onDelete("restrict"))
          .addColumn("size_gib", "integer", (c) => c.notNull())
          .addColumn("manifest_location", "text")
          .addColumn("status_reason", "text"),
        time,
      ).execute();
      await db.schema.createIndex("backups_volume_idx").on("backups").column("volume_id").execute();
      await meta(
        db.schema
          .createTable("image_cache")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("image_id", "text", (c) => c.notNull())
          .addColumn("image_checksum", "text", (c) => c.notNull())
          .addColumn("backend", "text", (c) => c.notNull())
          .addColumn("pool", "text", (c) => c.notNull())
          // Removing the cached volume removes its entry.
          .addColumn("volume_id", "text", (c) => c.notNull().references("volumes.id").onDelete("cascade"))
          .addColumn("size_gib", "integer", (c) => c.notNull())
          .addColumn("last_used_at", time, (c) => c.notNull())
          .addColumn("hits", "integer", (c) => c.notNull())
          .addUniqueConstraint("image_cache_image_pool_uq", ["image_id", "image_checksum", "backend", "pool"]),
        time,
      ).execute();
      await db.schema.createIndex("image_cache_last_used_idx").on("image_cache").column("last_used_at").execute();
    },
    async down(db: Db): Promise<void> {
      for (const table of ["image_cache", "backups", "backends", "attachments", "snapshots", "volumes", "volume_types", "qos_specs"]) {
        await db.schema.dropTable(table).execute();
      }
    },
  };
}

/**
 * 0002: what the volume service needs to recover after a crash: the running operation (`task`) on
 * volumes and snapshots, and on attachments the backend, whether the attach created the export,
 * the libvirt XML and the attachment's purpose (an instance, or a copy the service made).
 */
function operationTasks(dialect: StoreDialect): Migration {
  const { bool, json } = types(dialect);
  const no = dialect === "postgres" ? false : 0;
  return {
    async up(db: Db): Promise<void> {
      await db.schema.alterTable("volumes").addColumn("task", json).execute();
      await db.schema.alterTable("snapshots").addColumn("task", json).execute();
      await db.schema.alterTable("attachments").addColumn("backend", "text").execute();
      await db.schema.alterTable("attachments").addColumn("export_created", bool, (c) => c.notNull().defaultTo(no)).execute();
      await db.schema.alterTable("attachments").addColumn("xml", "text").execute();
      await db.schema.alterTable("attachments").addColumn("purpose", "text", (c) => c.notNull().defaultTo("instance")).execute();
      await db.schema.createIndex("attachments_host_idx").on("attachments").column("host").execute();
    },
    async down(db: Db): Promise<void> {
      await db.schema.dropIndex("attachments_host_idx").execute();
      for (const column of ["purpose", "xml", "export_created", "backend"]) await db.schema.alterTable("attachments").dropColumn(column).execute();
      await db.schema.alterTable("snapshots").dropColumn("task").execute();
      await db.schema.alterTable("volumes").dropColumn("task").execute();
    },
  };
}

/**
 * 0003: the running operation (`task`) on backups, so `reconcile()` can tell an abandoned backup
 * create, restore or delete from one still running in another process.
 */
function backupTasks(dialect: StoreDialect): Migration {
  const { json } = types(dialect);
  return {
    async up(db: Db): Promise<void> {
      await db.schema.alterTable("backups").addColumn("task", json).execute();
    },
    async down(db: Db): Promise<void> {
      await db.schema.alterTable("backups").dropColumn("task").execute();
    },
  };
}

/**
 * Every migration, by name; names sort in the order they run. Kysely records the applied ones in
 * {@link MIGRATION_TABLE} and refuses a database that has a migration this code does not know
 * (opened by a newer volkit).
 */
export function serviceMigrations(dialect: StoreDialect): Record<string, Migration> {
  return { "0001_initial": initial(dialect), "0002_operation_tasks": operationTasks(dialect), "0003_backup_tasks": backupTasks(dialect) };
}
