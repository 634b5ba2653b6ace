import { ResultAsync } from "neverthrow";
import { VolkitError, type ErrorCode } from "../../core/errors.js";
import type { TableSpec } from "./row-codec.js";

/**
 * Driver errors (better-sqlite3's `SqliteError`, pg's `DatabaseError`, socket errors) → typed
 * VolkitErrors. Only the driver's code and message are kept; PostgreSQL's `detail` (it quotes the
 * row) is dropped.
 */

/** What a failed statement was doing, for the message and the code of a duplicate key. */
export interface StatementContext {
  /** The table (its name, what a record is called, its duplicate-key code). */
  readonly spec?: Pick<TableSpec<unknown>, "table" | "what" | "exists">;
  /** The key concerned. */
  readonly key?: string;
  /** `insert`, `update`, `begin volume attach`… */
  readonly action: string;
}

/** The driver's error code: SQLite's `SQLITE_*` name, a PostgreSQL SQLSTATE, or a socket `E*` code. */
function driverCode(e: unknown): string | undefined {
  if (e !== null && typeof e === "object" && "code" in e && typeof e.code === "string") return e.code;
  return undefined;
}

const UNIQUE = new Set(["SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE", "23505"]);
const FOREIGN_KEY = new Set(["SQLITE_CONSTRAINT_FOREIGNKEY", "23503"]);
/** Retrying may succeed: a locked database, a serialization failure, a lost or refused connection. */
const TRANSIENT = /^(SQLITE_BUSY|SQLITE_LOCKED|40001|40P01|55P03|57P0[123]|08\d\d\d|53300|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)/;

/** Maps a thrown driver error to a VolkitError. */
export function storeError(e: unknown, ctx: StatementContext): VolkitError {
  if (e instanceof VolkitError) return e;
  const code = driverCode(e);
  const message = e instanceof Error ? e.message : String(e);
  const what = ctx.spec === undefined ? "record" : ctx.spec.what;
  const subject = ctx.key === undefined ? what : `${what} ${ctx.key}`;
  const details = { action: ctx.action, ...(ctx.spec ? { table: ctx.spec.table } : {}), ...(ctx.key === undefined ? {} : { key: ctx.key }), ...(code === undefined ? {} : { driverCode: code }) };
  let errorCode: ErrorCode = "INTERNAL";
  let text = `${ctx.action} ${subject} failed: ${message}`;
  let transient = false;
  const foreignKey = (code !== undefined && FOREIGN_KEY.has(code)) || (code?.startsWith("SQLITE_CONSTRAINT") === true && /FOREIGN KEY/.test(message));
  if (code !== undefined && UNIQUE.has(code)) {
    errorCode = ctx.spec?.exists ?? "CONFLICT";
    text = `${subject} already exists (${message})`;
  } else if (foreignKey) {
    errorCode = "CONFLICT";
    text = `${ctx.action} ${subject} refused: a referenced record is missing or a dependent record still exists (${message})`;
  } else if ((code !== undefined && TRANSIENT.test(code)) || /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message)) {
    errorCode = "STORE_UNAVAILABLE";
    transient = true;
  }
  return new VolkitError(errorCode, text, { source: "store", cause: e, details, transient });
}

/** Runs a driver call and maps what it throws. */
export function run<T>(ctx: StatementContext, fn: () => Promise<T>): ResultAsync<T, VolkitError> {
  return ResultAsync.fromPromise(Promise.resolve().then(fn), (e) => storeError(e, ctx));
}
