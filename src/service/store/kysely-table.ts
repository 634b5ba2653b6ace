import { err, errAsync, ok, type Result, type ResultAsync } from "neverthrow";
import { sql, type Kysely } from "kysely";
import { VolkitError } from "../../core/errors.js";
import { canStartSimple, type SimpleRule } from "../state-machine.js";
import { run } from "./db-errors.js";
import { decodeRow, decodeRows, encodePatch, encodeRecord, encodeValue, parseInput, type Row, type TableSpec } from "./row-codec.js";
import type { Expectation, ListFilter, ListOptions, StoreDialect, Transition } from "./store.js";

/**
 * One record table over Kysely: insert, read, list, conditional update and remove, and the
 * single-status transitions of `SNAPSHOT_RULES`/`ATTACHMENT_RULES`/`BACKUP_RULES`. Every update is
 * one `UPDATE … WHERE <key> AND <conditions> RETURNING *`: it either changed the row (won) or
 * changed nothing (lost), whatever other processes do at the same time.
 */

/** The store's view of the database: tables of loosely typed rows, validated by the record schemas. */
export type LooseDb = Record<string, Row>;

/** Everything a table needs from its store. */
export interface TableContext {
  /** The Kysely instance. */
  readonly db: Kysely<LooseDb>;
  /** Its dialect (value encoding). */
  readonly dialect: StoreDialect;
}

/** Store-owned fields, never patched. */
const OWNED = ["createdAt", "updatedAt", "revision"];

/** `revision + 1`. */
export const nextRevision = sql<number>`revision + 1`;

/** The current time as stored. */
export function nowValue(dialect: StoreDialect): unknown {
  return encodeValue("time", new Date(), dialect);
}

/** Generic table implementation; `S` is its status type. */
export class KyselyTable<T, TInput, TPatch, S extends string = never> {
  readonly #ctx: TableContext;
  /** The table's spec. */
  readonly spec: TableSpec<T>;
  readonly #locked: readonly string[];

  constructor(ctx: TableContext, spec: TableSpec<T>, locked: readonly string[] = []) {
    this.#ctx = ctx;
    this.spec = spec;
    this.#locked = [spec.keyField, ...OWNED, ...(spec.statusField === undefined ? [] : [spec.statusField]), ...locked];
  }

  /** The store's database and dialect. */
  get ctx(): TableContext {
    return this.#ctx;
  }

  /** Validates and encodes a new record. */
  encodeInput(input: TInput): Result<{ record: T; row: Row }, VolkitError> {
    return parseInput(this.spec, input).map((record) => ({ record, row: encodeRecord(this.spec, record as Record<string, unknown>, this.#ctx.dialect) }));
  }

  /** Validates and encodes a patch (`INVALID_ARGUMENT` for a locked or bad field). */
  encodePatch(patch: TPatch | undefined): Result<Row, VolkitError> {
    if (patch === undefined) return ok({});
    return encodePatch(this.spec, patch as Record<string, unknown>, this.#ctx.dialect, this.#locked);
  }

  /** Decodes a row. */
  decode(row: Row): Result<T, VolkitError> {
    return decodeRow(this.spec, row);
  }

  /** {@inheritDoc RecordTable.insert} */
  insert(input: TInput): ResultAsync<T, VolkitError> {
    const encoded = this.encodeInput(input);
    if (encoded.isErr()) return errAsync(encoded.error);
    const key = String((encoded.value.record as Record<string, unknown>)[this.spec.keyField]);
    return this.insertRow(this.#ctx.db, encoded.value.row, key);
  }

  /** Inserts an encoded row with `db` (a transaction or the store). */
  insertRow(db: Kysely<LooseDb>, row: Row, key: string): ResultAsync<T, VolkitError> {
    return run({ spec: this.spec, key, action: "insert" }, () => db.insertInto(this.spec.table).values(row).returningAll().executeTakeFirstOrThrow()).andThen((r) =>
      this.decode(r),
    );
  }

  /** {@inheritDoc RecordTable.find} */
  find(key: string): ResultAsync<T | undefined, VolkitError> {
    return this.findRow(this.#ctx.db, key).andThen((row) => (row === undefined ? ok(undefined) : this.decode(row)));
  }

  /** The raw row, read with `db`. */
  findRow(db: Kysely<LooseDb>, key: string): ResultAsync<Row | undefined, VolkitError> {
    return run({ spec: this.spec, key, action: "read" }, () => db.selectFrom(this.spec.table).selectAll().where(this.spec.keyColumn, "=", key).executeTakeFirst());
  }

  /** {@inheritDoc RecordTable.get} */
  get(key: string): ResultAsync<T, VolkitError> {
    return this.find(key).andThen((r) => (r === undefined ? err(this.notFound(key)) : ok(r)));
  }

  /** The not-found error of this table. */
  notFound(key: string): VolkitError {
    return new VolkitError(this.spec.notFound, `${this.spec.what} ${key} does not exist`, { source: "store", details: { table: this.spec.table, key } });
  }

  /** {@inheritDoc RecordTable.list} */
  list(filter: ListFilter<T> = {}, options: ListOptions<T> = {}): ResultAsync<readonly T[], VolkitError> {
    const where: [string, unknown[]][] = [];
    for (const [field, value] of Object.entries(filter as Record<string, unknown>)) {
      if (value === undefined) continue;
      const c = this.spec.columns.find((x) => x.field === field);
      if (c === undefined || c.kind === "json") return errAsync(new VolkitError("INVALID_ARGUMENT", `cannot filter ${this.spec.what} records by ${field}`, { source: "store" }));
      const values = Array.isArray(value) ? (value as unknown[]) : [value];
      where.push([c.column, values.map((v) => encodeValue(c.kind, v, this.#ctx.dialect))]);
    }
    const orderColumn = options.orderBy === undefined ? "created_at" : this.spec.columns.find((c) => c.field === options.orderBy)?.column;
    if (orderColumn === undefined) return errAsync(new VolkitError("INVALID_ARGUMENT", `cannot order ${this.spec.what} records by ${String(options.orderBy)}`, { source: "store" }));
    const direction = options.direction ?? "asc";
    return run({ spec: this.spec, action: "list" }, () => {
      let q = this.#ctx.db.selectFrom(this.spec.table).selectAll();
      for (const [column, values] of where) q = values.length === 0 ? q.where(sql<boolean>`1 = 0`) : q.where(column, "in", values);
      q = q.orderBy(orderColumn, direction).orderBy(this.spec.keyColumn, direction);
      if (options.limit !== undefined) q = q.limit(options.limit);
      return q.execute();
    }).andThen((rows) => decodeRows(this.spec, rows));
  }

  /** The conditions of `expect` as `where` pairs. */
  #expectation(expect: Expectation<S> | undefined): [string, "=" | "in", unknown][] {
    const out: [string, "=" | "in", unknown][] = [];
    if (expect?.revision !== undefined) out.push(["revision", "=", expect.revision]);
    if (expect?.status !== undefined && this.spec.statusField !== undefined) out.push([this.statusColumn(), "in", [...expect.status]]);
    return out;
  }

  /** The status column (tables with a state machine). */
  statusColumn(): string {
    const column = this.spec.columns.find((c) => c.field === this.spec.statusField)?.column;
    if (column === undefined) throw new Error(`${this.spec.table} has no status column`);
    return column;
  }

  /** Why a conditional statement changed nothing. */
  lostReason(key: string, current: T | undefined, expected: { readonly revision?: number; readonly status?: readonly string[] }): string {
    if (current === undefined) return `${this.spec.what} ${key} does not exist`;
    const c = current as Record<string, unknown>;
    const parts: string[] = [];
    if (expected.revision !== undefined && c.revision !== expected.revision) parts.push(`revision ${String(c.revision)}, expected ${expected.revision}`);
    if (expected.status !== undefined && this.spec.statusField !== undefined) {
      const status = String(c[this.spec.statusField]);
      if (!expected.status.includes(status)) parts.push(`status ${status}, expected ${expected.status.join(" or ")}`);
    }
    return `${this.spec.what} ${key} has ${parts.length > 0 ? parts.join("; ") : "changed concurrently"}`;
  }

  /** Reads the record after a lost statement and builds the `won: false` outcome. */
  lost<R>(key: string, expected: { readonly revision?: number; readonly status?: readonly string[] }, db: Kysely<LooseDb> = this.#ctx.db): ResultAsync<Transition<R>, VolkitError> {
    return this.findRow(db, key)
      .andThen((row) => (row === undefined ? ok(undefined) : this.decode(row)))
      .map((current) => ({ won: false as const, current: current as R | undefined, reason: this.lostReason(key, current, expected) }));
  }

  /** {@inheritDoc RecordTable.update} */
  update(key: string, patch: TPatch, expect?: Expectation<S>): ResultAsync<Transition<T>, VolkitError> {
    const encoded = this.encodePatch(patch);
    if (encoded.isErr()) return errAsync(encoded.error);
    return this.updateRow(this.#ctx.db, key, encoded.value, this.#expectation(expect)).andThen((row) =>
      row === undefined ? this.lost<T>(key, expect ?? {}) : this.decode(row).map((record) => ({ won: true as const, record })),
    );
  }

  /** `UPDATE … SET row, revision + 1, updated_at WHERE key AND conditions RETURNING *`. */
  updateRow(db: Kysely<LooseDb>, key: string, row: Row, conditions: readonly [string, "=" | "in", unknown][]): ResultAsync<Row | undefined, VolkitError> {
    return run({ spec: this.spec, key, action: "update" }, () => {
      let q = db
        .updateTable(this.spec.table)
        .set({ ...row, revision: nextRevision, updated_at: nowValue(this.#ctx.dialect) })
        .where(this.spec.keyColumn, "=", key);
      for (const [column, op, value] of conditions) q = Array.isArray(value) && value.length === 0 ? q.where(sql<boolean>`1 = 0`) : q.where(column, op, value);
      return q.returningAll().executeTakeFirst();
    });
  }

  /** {@inheritDoc RecordTable.remove} */
  remove(key: string, expect?: Expectation<S>): ResultAsync<Transition<T | undefined>, VolkitError> {
    return this.deleteRow(this.#ctx.db, key, this.#expectation(expect)).andThen((row) => {
      if (row !== undefined) return this.decode(row).map((record): Transition<T | undefined> => ({ won: true, record }));
      return this.lost<T>(key, expect ?? {}).map((t): Transition<T | undefined> => (!t.won && t.current === undefined ? { won: true, record: undefined } : t));
    });
  }

  /** `DELETE … WHERE key AND conditions RETURNING *`. */
  deleteRow(db: Kysely<LooseDb>, key: string, conditions: readonly [string, "=" | "in", unknown][]): ResultAsync<Row | undefined, VolkitError> {
    return run({ spec: this.spec, key, action: "remove" }, () => {
      let q = db.deleteFrom(this.spec.table).where(this.spec.keyColumn, "=", key);
      for (const [column, op, value] of conditions) q = Array.isArray(value) && value.length === 0 ? q.where(sql<boolean>`1 = 0`) : q.where(column, op, value);
      return q.returningAll().executeTakeFirst();
    });
  }
}

/** A table whose records move through a single-status operation table (`SNAPSHOT_RULES`…). */
export class KyselyStatusTable<T, TInput, TPatch, S extends string, Op extends string> extends KyselyTable<T, TInput, TPatch, S> {
  readonly #rules: Readonly<Record<string, SimpleRule<S>>>;

  constructor(ctx: TableContext, spec: TableSpec<T>, rules: Readonly<Record<Op, SimpleRule<S>>>, locked: readonly string[] = []) {
    super(ctx, spec, locked);
    this.#rules = rules;
  }

  #rule(op: Op): Result<SimpleRule<S>, VolkitError> {
    const rule = this.#rules[op];
    if (rule === undefined) return err(new VolkitError("INVALID_ARGUMENT", `${this.spec.what} has no operation ${op}`, { source: "store" }));
    return ok(rule);
  }

  /** {@inheritDoc StatusTable.begin} */
  begin(key: string, op: Op, patch?: TPatch): ResultAsync<Transition<T>, VolkitError> {
    const rule = this.#rule(op);
    if (rule.isErr()) return errAsync(rule.error);
    const r = rule.value;
    if (r.from === "initial") {
      return errAsync(new VolkitError("INVALID_ARGUMENT", `${this.spec.what} operation ${op} creates its record: insert it with status ${r.transient}`, { source: "store" }));
    }
    const encoded = this.encodePatch(patch);
    if (encoded.isErr()) return errAsync(encoded.error);
    const from = r.from;
    return this.updateRow(this.ctx.db, key, { ...encoded.value, [this.statusColumn()]: r.transient }, [[this.statusColumn(), "in", [...from]]]).andThen((row) =>
      row === undefined ? this.lost<T>(key, { status: from }) : this.decode(row).map((record) => ({ won: true as const, record })),
    );
  }

  /** {@inheritDoc StatusTable.finish} */
  finish(key: string, op: Op, outcome: "success" | "failure", patch?: TPatch): ResultAsync<Transition<T>, VolkitError> {
    const rule = this.#rule(op);
    if (rule.isErr()) return errAsync(rule.error);
    const encoded = this.encodePatch(patch);
    if (encoded.isErr()) return errAsync(encoded.error);
    const { transient } = rule.value;
    const final = outcome === "success" ? rule.value.onSuccess : rule.value.onFailure;
    const condition: [string, "=" | "in", unknown][] = [[this.statusColumn(), "=", transient]];
    // The operation is over: a task recorded with its start goes with it.
    const clearTask: Row = this.spec.columns.some((c) => c.column === "task") ? { task: null } : {};
    const statement = final === "removed" ? this.deleteRow(this.ctx.db, key, condition) : this.updateRow(this.ctx.db, key, { ...clearTask, ...encoded.value, [this.statusColumn()]: final }, condition);
    return statement.andThen((row) => (row === undefined ? this.lost<T>(key, { status: [transient] }) : this.decode(row).map((record) => ({ won: true as const, record }))));
  }

  /** Whether `op` may start from `status` (the same table the statements use). */
  canStart(op: Op, status: S | undefined): Result<SimpleRule<S>, VolkitError> {
    return this.#rule(op).andThen(() => canStartSimple(this.#rules, op, status));
  }
}
