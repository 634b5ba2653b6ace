import { MAX_NAME_LENGTH } from "../../drivers/ipsan/ipsan-constants.js";
import { fail } from "./sim-errors.js";

/**
 * Request routing of the simulated REST API, and the helpers handlers share: body field readers
 * that answer PARAMETER_ERROR like the array, and list queries with `filter=` and `range=[a-b]`.
 */

/** One request below `<base><deviceid>`. */
export interface SimRequest {
  /** HTTP method. */
  readonly method: string;
  /** Path as sent (case kept: initiator IQNs are ids). */
  readonly path: string;
  /** Query parameters. */
  readonly query: URLSearchParams;
  /** JSON body (empty object when none). */
  readonly body: Readonly<Record<string, unknown>>;
}

/** A route handler: returns the envelope's `data`, or throws an ArrayFailure. */
export type SimHandler = (req: SimRequest, params: readonly string[]) => unknown;

interface Route {
  readonly method: string;
  readonly parts: readonly string[];
  readonly handler: SimHandler;
}

/**
 * Matches method + path. Paths are case-insensitive (the dialect mixes `/LUNCOPY/start`,
 * `/luncopy`, `/MAPPINGVIEW/CREATE_ASSOCIATE` and `/mappingview/REMOVE_ASSOCIATE` for one
 * resource); `:x` segments capture a parameter; a literal segment beats a parameter, so
 * `/lun/expand` is never read as LUN id "expand".
 */
export class SimRouter {
  readonly #routes: Route[] = [];

  /** Adds a route, e.g. `add("GET", "/lun/:id", h)`. */
  add(method: string, pattern: string, handler: SimHandler): this {
    this.#routes.push({ method, parts: split(pattern.toLowerCase()), handler });
    return this;
  }

  /** The handler and captured parameters of a request, or undefined (HTTP 404). */
  match(method: string, path: string): { handler: SimHandler; params: string[] } | undefined {
    const parts = split(path);
    let best: { handler: SimHandler; params: string[]; literals: number } | undefined;
    for (const route of this.#routes) {
      if (route.method !== method || route.parts.length !== parts.length) continue;
      const params: string[] = [];
      let literals = 0;
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const want = route.parts[i] ?? "";
        const got = parts[i] ?? "";
        if (want.startsWith(":")) params.push(decodeURIComponent(got));
        else if (want === got.toLowerCase()) literals++;
        else ok = false;
      }
      if (ok && (!best || literals > best.literals)) best = { handler: route.handler, params, literals };
    }
    return best;
  }
}

function split(path: string): string[] {
  return path.split("/").filter((p) => p !== "");
}

/** A body field as a string (numbers accepted), or undefined. */
export function optField(body: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw fail("PARAMETER_ERROR", `${key} must be a string`);
}

/** A required body field. */
export function field(body: Readonly<Record<string, unknown>>, key: string): string {
  const v = optField(body, key);
  if (v === undefined || v === "") throw fail("PARAMETER_ERROR", `${key} is required`);
  return v;
}

/** A required positive integer field (numbers or digit strings). */
export function intField(body: Readonly<Record<string, unknown>>, key: string): number {
  const v = field(body, key);
  if (!/^\d+$/.test(v)) throw fail("PARAMETER_ERROR", `${key} must be a whole number`);
  return Number(v);
}

/** A query parameter that must be there. */
export function queryField(query: URLSearchParams, key: string): string {
  const v = query.get(key);
  if (v === null || v === "") throw fail("PARAMETER_ERROR", `${key} is required`);
  return v;
}

/** The array's name rule: 1-31 characters of letters, digits, `_`, `-`, `.`. */
export function checkName(name: string, key = "NAME"): string {
  if (name.length > MAX_NAME_LENGTH) throw fail("PARAMETER_ERROR", `${key} is longer than ${MAX_NAME_LENGTH} characters`);
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw fail("PARAMETER_ERROR", `${key} contains characters the array does not accept`);
  return name;
}

/** Query keys that select or page, never field filters. */
const RESERVED = new Set(["range", "filter", "type", "associateobjtype", "associateobjid", "id", "selectfields", "sortby"]);

/** Items of a page size when the query names no range. */
const DEFAULT_PAGE = 100;

/**
 * Applies a list query the way the array does: `filter=FIELD::value` (exact) or `FIELD:value`
 * (contains), plain `FIELD=value` parameters as exact filters, then `range=[a-b]` (items a to b-1;
 * the first 100 when absent).
 */
export function listQuery<T extends Readonly<Record<string, unknown>>>(items: readonly T[], query: URLSearchParams): T[] {
  let out = [...items];
  const filter = query.get("filter");
  if (filter) {
    const exact = /^([A-Za-z_]+)::(.*)$/.exec(filter);
    const loose = exact ? undefined : /^([A-Za-z_]+):(.*)$/.exec(filter);
    if (!exact && !loose) throw fail("PARAMETER_ERROR", "filter must be FIELD::value or FIELD:value");
    const [, key = "", value = ""] = exact ?? loose ?? [];
    out = out.filter((i) => {
      const v = i[key];
      const s = typeof v === "string" ? v : typeof v === "number" ? String(v) : "";
      return exact ? s === value : s.includes(value);
    });
  }
  for (const [key, value] of query) {
    if (RESERVED.has(key.toLowerCase())) continue;
    out = out.filter((i) => {
      const v = i[key];
      return (typeof v === "string" || typeof v === "number") && String(v) === value;
    });
  }
  const range = query.get("range");
  let start = 0;
  let end = DEFAULT_PAGE;
  if (range !== null) {
    const m = /^\[(\d+)-(\d+)\]$/.exec(range);
    if (!m) throw fail("PARAMETER_ERROR", "range must be [start-end]");
    start = Number(m[1]);
    end = Number(m[2]);
    if (end < start) throw fail("PARAMETER_ERROR", "range end is before its start");
  }
  return out.slice(start, end);
}
