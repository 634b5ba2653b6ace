import { err, ok, type Result } from "neverthrow";
import type { z } from "zod";
import { VolkitError, type ErrorCode } from "../../core/errors.js";
import { issueMessage, issuePath, issuePathSegment } from "../../core/validation.js";
import type { StoreDialect } from "./store.js";

/**
 * Record ↔ row mapping. Records are camelCase zod-validated objects; rows are what the SQL driver
 * returns (SQLite: booleans as 0/1, JSON and times as text; PostgreSQL: booleans, jsonb objects and
 * `Date`s). Every row read back is validated with its record schema: a corrupt row becomes a typed
 * `PARSE_ERROR` naming the table, the key and the field, never a crash and never the stored value.
 */

/** How a field is stored. */
export type ColumnKind = "text" | "int" | "bool" | "json" | "time";

/** One field of a record and its column. */
export interface ColumnSpec {
  /** Record field (camelCase). */
  readonly field: string;
  /** SQL column (snake_case). */
  readonly column: string;
  /** Storage kind. */
  readonly kind: ColumnKind;
}

/** A row as the driver returns it. */
export type Row = Record<string, unknown>;

/** A table: its name, key, columns and record schema. */
export interface TableSpec<T> {
  /** SQL table name. */
  readonly table: string;
  /** What a record is called in messages (`volume`, `volume type`). */
  readonly what: string;
  /** Key field (`id`, or `name` for backends). */
  readonly keyField: string;
  /** Key column. */
  readonly keyColumn: string;
  /** Status field, when the record has a state machine. */
  readonly statusField?: string;
  /** Error code of a missing record. */
  readonly notFound: ErrorCode;
  /** Error code of a duplicate key. */
  readonly exists: ErrorCode;
  /** Every column. */
  readonly columns: readonly ColumnSpec[];
  /** The record schema. */
  readonly schema: z.ZodType<T>;
  /** Per-field schemas, to validate patches field by field. */
  readonly shape: Readonly<Record<string, z.ZodType>>;
}

/** Declares a column; the name defaults to the field in snake_case (`sizeGiB` → `size_gib`). */
export function col(field: string, kind: ColumnKind = "text", column?: string): ColumnSpec {
  return { field, kind, column: column ?? field.replace(/GiB$/, "Gib").replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) };
}

/** Encodes one field value for `dialect` (undefined → NULL). */
export function encodeValue(kind: ColumnKind, value: unknown, dialect: StoreDialect): unknown {
  if (value === undefined || value === null) return null;
  switch (kind) {
    case "bool":
      return dialect === "sqlite" ? (value === true ? 1 : 0) : value === true;
    case "json":
      return JSON.stringify(value);
    case "time":
      return value instanceof Date ? value.toISOString() : value;
    case "int":
    case "text":
      return value;
  }
}

/** Encodes every field of a parsed record. */
export function encodeRecord(spec: TableSpec<unknown>, record: Readonly<Record<string, unknown>>, dialect: StoreDialect): Row {
  const row: Row = {};
  for (const c of spec.columns) row[c.column] = encodeValue(c.kind, record[c.field], dialect);
  return row;
}

/** A value JSON.parse refused; zod then reports the field without quoting the text. */
const UNREADABLE_JSON = Symbol("unreadable JSON");

function decodeValue(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  switch (kind) {
    case "bool":
      return value === 1 || value === true ? true : value === 0 || value === false ? false : value;
    case "json":
      if (typeof value !== "string") return value;
      try {
        return JSON.parse(value) as unknown;
      } catch {
        // V8's message quotes the input, which may hold a secret: keep only the fact.
        return UNREADABLE_JSON;
      }
    case "int":
      return typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
    case "time":
    case "text":
      return value;
  }
}

/** Decodes and validates a row; `PARSE_ERROR` naming the table, key and fields when it is corrupt. */
export function decodeRow<T>(spec: TableSpec<T>, row: Row): Result<T, VolkitError> {
  const fields: Record<string, unknown> = {};
  for (const c of spec.columns) {
    const v = decodeValue(c.kind, row[c.column]);
    if (v !== undefined) fields[c.field] = v;
  }
  const key = typeof row[spec.keyColumn] === "string" ? (row[spec.keyColumn] as string) : "(unknown)";
  const unreadable = spec.columns.filter((c) => fields[c.field] === UNREADABLE_JSON).map((c) => c.field);
  if (unreadable.length > 0) return err(corruptRow(spec, key, unreadable.map((f) => ({ path: [f], message: "stored JSON is unreadable" }))));
  const parsed = spec.schema.safeParse(fields);
  if (parsed.success) return ok(parsed.data);
  return err(corruptRow(spec, key, parsed.error.issues.map((i) => ({ path: i.path.map(issuePathSegment), message: issueMessage(i) }))));
}

function corruptRow(spec: TableSpec<unknown>, key: string, issues: readonly { path: string[]; message: string }[]): VolkitError {
  const fields = [...new Set(issues.map((i) => i.path[0] ?? "(row)"))];
  return new VolkitError("PARSE_ERROR", `stored ${spec.what} ${key} is corrupt (${fields.join(", ")}): ${issues.map((i) => `${i.path.join(".") || "(row)"}: ${i.message}`).join("; ")}`, {
    source: "store",
    details: { table: spec.table, key, issues },
  });
}

/** Decodes every row, failing on the first corrupt one. */
export function decodeRows<T>(spec: TableSpec<T>, rows: readonly Row[]): Result<T[], VolkitError> {
  const out: T[] = [];
  for (const row of rows) {
    const r = decodeRow(spec, row);
    if (r.isErr()) return err(r.error);
    out.push(r.value);
  }
  return ok(out);
}

/**
 * Validates and encodes a patch field by field (`INVALID_ARGUMENT` naming bad fields, before any
 * statement runs). `locked` fields (key, statuses, store-owned) are refused.
 */
export function encodePatch(spec: TableSpec<unknown>, patch: Readonly<Record<string, unknown>>, dialect: StoreDialect, locked: readonly string[]): Result<Row, VolkitError> {
  const row: Row = {};
  const issues: string[] = [];
  for (const [field, value] of Object.entries(patch)) {
    const c = spec.columns.find((x) => x.field === field);
    const schema = spec.shape[field];
    if (c === undefined || schema === undefined || locked.includes(field)) {
      issues.push(`${issuePathSegment(field)}: cannot be changed by a patch`);
      continue;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      issues.push(...parsed.error.issues.map((i) => `${issuePath([field, ...i.path])}: ${issueMessage(i)}`));
      continue;
    }
    row[c.column] = encodeValue(c.kind, parsed.data, dialect);
  }
  if (issues.length > 0) return err(new VolkitError("INVALID_ARGUMENT", `invalid ${spec.what} patch: ${issues.join("; ")}`, { source: "store", details: { issues } }));
  return ok(row);
}

/** Validates a new record with its schema (`INVALID_ARGUMENT` naming bad fields). */
export function parseInput<T>(spec: TableSpec<T>, input: unknown): Result<T, VolkitError> {
  const parsed = spec.schema.safeParse(input);
  if (parsed.success) return ok(parsed.data);
  const issues = parsed.error.issues.map((i) => `${issuePath(i.path) || spec.what}: ${issueMessage(i)}`);
  return err(new VolkitError("INVALID_ARGUMENT", `invalid ${spec.what}: ${issues.join("; ")}`, { source: "store", details: { issues } }));
}
