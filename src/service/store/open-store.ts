import { ResultAsync, errAsync } from "neverthrow";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import type BetterSqlite3 from "better-sqlite3";
import type { Pool } from "pg";
import { resolve } from "node:path";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { registerSecret } from "../../core/secrets.js";
import { AbsolutePathSchema, HostSchema, PortSchema, secretString, validate } from "../../core/validation.js";
import { createStore, migrate, openKyselyStore, type Exclusive } from "./kysely-store.js";
import type { LooseDb } from "./kysely-table.js";
import type { ServiceStore } from "./store.js";

/**
 * Opening a store: SQLite (a file, the embedded default), PostgreSQL (several hosts sharing one
 * service) or memory (SQLite `:memory:`, for tests). The SQL drivers are optional peer
 * dependencies loaded on first use: `better-sqlite3@12` (the major that runs on Node 20) for SQLite
 * and memory, `pg@8` for PostgreSQL.
 */

/** SQLite in a file. */
export const SqliteStoreConfigSchema = z.object({
  kind: z.literal("sqlite"),
  /** Database file; created with its schema on first open. */
  path: AbsolutePathSchema,
  /** How long a statement waits for another process's write lock before `STORE_UNAVAILABLE`. */
  busyTimeoutMs: z.number().int().min(0).max(600_000).default(10_000),
});

/** PostgreSQL. */
export const PostgresStoreConfigSchema = z
  .object({
    kind: z.literal("postgres"),
    /** `postgres://user:password@host:port/db` (a secret: it may hold the password). */
    connectionString: secretString(z.string().max(4096).regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")).optional(),
    /** Server host (instead of a connection string). */
    host: HostSchema.optional(),
    /** Server port. */
    port: PortSchema.optional(),
    /** Database name. */
    database: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_$-]{0,62}$/, "must be a database name").optional(),
    /** User. */
    user: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.$-]{0,62}$/, "must be a user name").optional(),
    /** Password (a secret). */
    password: secretString(z.string().max(1024)).optional(),
    /** Connections in the pool. */
    maxConnections: z.number().int().min(1).max(1000).default(10),
    /** How long to wait for a connection, ms. */
    connectTimeoutMs: z.number().int().min(1).max(600_000).default(10_000),
  })
  .refine((c) => c.connectionString !== undefined || c.host !== undefined, { message: "give connectionString or host" });

/** In memory (SQLite `:memory:`): the same SQL and rules as the file store, gone on close. */
export const MemoryStoreConfigSchema = z.object({ kind: z.literal("memory") });

/** Where the service keeps its records. */
export const StoreConfigSchema = z.union([SqliteStoreConfigSchema, PostgresStoreConfigSchema, MemoryStoreConfigSchema]);
/** A store config as a caller writes it. */
export type StoreConfigInput = z.input<typeof StoreConfigSchema>;

/** Loads an optional peer dependency, naming the package to install when it is missing. */
function loadDriver<T>(name: string, range: string, load: () => Promise<T>): ResultAsync<T, VolkitError> {
  return ResultAsync.fromPromise(
    load(),
    (e) => new VolkitError("NOT_SUPPORTED", `the ${name} store needs the npm package ${name}@${range}: npm install ${name}@${range}`, { source: "store", cause: e }),
  );
}

/** A CommonJS module's export as Node's ESM loader hands it over (under `default`). */
function cjsExport<T>(mod: unknown): T {
  return (mod !== null && typeof mod === "object" && "default" in mod ? mod.default : mod) as T;
}

/** The raw SQLite handle opened with the pragmas the store relies on. */
function openSqliteHandle(Database: typeof BetterSqlite3, path: string, busyTimeoutMs: number): BetterSqlite3.Database {
  const handle = new Database(path, { timeout: busyTimeoutMs });
  // WAL: readers never block the writer, so many processes can share one file.
  if (path !== ":memory:") handle.pragma("journal_mode = WAL");
  handle.pragma("foreign_keys = ON");
  return handle;
}

function exclusiveOn(handle: BetterSqlite3.Database): Exclusive {
  return {
    begin: () => void handle.exec("BEGIN IMMEDIATE"),
    commit: () => void handle.exec("COMMIT"),
    rollback: () => {
      if (handle.inTransaction) handle.exec("ROLLBACK");
    },
  };
}

/** One open SQLite file in this process: its Kysely instance and how many stores use it. */
interface SharedSqlite {
  readonly ready: ResultAsync<Kysely<LooseDb>, VolkitError>;
  refs: number;
}

/**
 * Stores opened on the same file in one process share one connection. better-sqlite3 is
 * synchronous: a second connection waiting for the first one's write lock would block the event
 * loop the first one needs to finish its transaction. Kysely's driver queues statements on the one
 * connection instead; other processes wait on the busy timeout as usual.
 */
const sharedFiles = new Map<string, SharedSqlite>();

function openSqliteDb(path: string, busyTimeoutMs: number): ResultAsync<Kysely<LooseDb>, VolkitError> {
  return loadDriver("better-sqlite3", "12", () => import("better-sqlite3"))
    .andThen((mod) =>
      ResultAsync.fromPromise(
        Promise.resolve().then(() => openSqliteHandle(cjsExport<typeof BetterSqlite3>(mod), path, busyTimeoutMs)),
        (e) => new VolkitError("STORE_UNAVAILABLE", `cannot open the SQLite store ${path}: ${e instanceof Error ? e.message : String(e)}`, { source: "store", cause: e, transient: true }),
      ),
    )
    .andThen((handle) => {
      const db = new Kysely<LooseDb>({ dialect: new SqliteDialect({ database: handle }) });
      return migrate(db, "sqlite", exclusiveOn(handle))
        .map(() => db)
        .orElse((e) => ResultAsync.fromSafePromise(db.destroy().catch(() => undefined)).andThen(() => errAsync(e)));
    });
}

function openSqlite(path: string, busyTimeoutMs: number): ResultAsync<ServiceStore, VolkitError> {
  if (path === ":memory:") return openSqliteDb(path, busyTimeoutMs).map((db) => createStore(db, "sqlite", () => db.destroy()));
  const key = resolve(path);
  let shared = sharedFiles.get(key);
  if (shared === undefined) {
    const created: SharedSqlite = { ready: openSqliteDb(key, busyTimeoutMs), refs: 0 };
    sharedFiles.set(key, created);
    shared = created;
  }
  const entry = shared;
  entry.refs++;
  const release = async (): Promise<void> => {
    entry.refs--;
    if (entry.refs > 0) return;
    if (sharedFiles.get(key) === entry) sharedFiles.delete(key);
    const db = await entry.ready;
    if (db.isOk()) await db.value.destroy();
  };
  return entry.ready
    .map((db) => createStore(db, "sqlite", release))
    .orElse((e) => ResultAsync.fromSafePromise(release()).andThen(() => errAsync(e)));
}

/**
 * Opens a SQLite store in a file (created with its schema when new; migrated when older).
 *
 * @example
 * ```ts
 * const store = await openSqliteStore({ path: "/var/lib/volkit/service.db" });
 * ```
 */
export function openSqliteStore(config: Omit<z.input<typeof SqliteStoreConfigSchema>, "kind">): ResultAsync<ServiceStore, VolkitError> {
  const parsed = validate(SqliteStoreConfigSchema, { ...config, kind: "sqlite" }, "SQLite store config", "INVALID_CONFIG");
  if (parsed.isErr()) return errAsync(parsed.error);
  return openSqlite(parsed.value.path, parsed.value.busyTimeoutMs);
}

/**
 * Opens an in-memory store: SQLite `:memory:` through the same Kysely layer, so tests exercise the
 * real statements, conditions and migrations. Each call is a new empty database.
 */
export function openMemoryStore(): ResultAsync<ServiceStore, VolkitError> {
  return openSqlite(":memory:", 0);
}

/**
 * Opens a PostgreSQL store (the schema is created or migrated under an advisory lock, so several
 * hosts may open it at once).
 *
 * @example
 * ```ts
 * const store = await openPostgresStore({ host: "db.example", database: "volkit", user: "volkit", password });
 * ```
 */
export function openPostgresStore(config: Omit<z.input<typeof PostgresStoreConfigSchema>, "kind">): ResultAsync<ServiceStore, VolkitError> {
  const parsed = validate(PostgresStoreConfigSchema, { ...config, kind: "postgres" }, "PostgreSQL store config", "INVALID_CONFIG");
  if (parsed.isErr()) return errAsync(parsed.error);
  const c = parsed.value;
  if (c.connectionString !== undefined) {
    const password = URL.canParse(c.connectionString) ? decodeURIComponent(new URL(c.connectionString).password) : "";
    registerSecret(password === "" ? undefined : password);
  }
  return loadDriver("pg", "8", () => import("pg")).andThen((mod) => {
    const pg = cjsExport<{ Pool: typeof Pool }>(mod);
    const pool: Pool = new pg.Pool({
      ...(c.connectionString === undefined ? {} : { connectionString: c.connectionString }),
      ...(c.host === undefined ? {} : { host: c.host }),
      ...(c.port === undefined ? {} : { port: c.port }),
      ...(c.database === undefined ? {} : { database: c.database }),
      ...(c.user === undefined ? {} : { user: c.user }),
      ...(c.password === undefined ? {} : { password: c.password }),
      max: c.maxConnections,
      connectionTimeoutMillis: c.connectTimeoutMs,
    });
    // An idle client's socket error is emitted on the pool; unhandled, it would end the process.
    // The next statement on that connection fails with STORE_UNAVAILABLE instead.
    pool.on("error", () => undefined);
    const db = new Kysely<LooseDb>({ dialect: new PostgresDialect({ pool }) });
    return openKyselyStore(db, "postgres");
  });
}

/**
 * Opens the store a config describes.
 *
 * @example
 * ```ts
 * const store = await openStore({ kind: "sqlite", path: "/var/lib/volkit/service.db" });
 * if (store.isOk()) console.log(await store.value.migrations());
 * ```
 */
export function openStore(config: StoreConfigInput): ResultAsync<ServiceStore, VolkitError> {
  const parsed = validate(StoreConfigSchema, config, "store config", "INVALID_CONFIG");
  if (parsed.isErr()) return errAsync(parsed.error);
  const c = parsed.value;
  switch (c.kind) {
    case "memory":
      return openMemoryStore();
    case "sqlite":
      return openSqlite(c.path, c.busyTimeoutMs);
    case "postgres":
      return openPostgresStore(c);
  }
}
