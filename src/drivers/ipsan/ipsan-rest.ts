import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import { MAX_NAME_LENGTH, MAX_RANGE } from "./ipsan-constants.js";
import { isArrayError, type ArrayErrorName } from "./ipsan-errors.js";
import type { IpsanSession, RestCall } from "./ipsan-session.js";

/**
 * Shared plumbing of the typed API classes: input validation, typed parsing of `data`, benign
 * error codes (an association that already exists, a delete of a missing object) and paging.
 */

/** An object id: the array's ids are decimal strings. */
export const ArrayIdSchema = z.string().regex(/^\d{1,20}$/, "must be an array object id (digits)");

/**
 * An object name: 1-31 of letters, digits, `_`, `-`, `.` (the array's own limit is 31 characters;
 * the character set is what is safe in a `filter=NAME::` query and in every model's name rule).
 */
export const ArrayNameSchema = z
  .string()
  .min(1)
  .max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters (the array's limit)`)
  .regex(/^[A-Za-z0-9_.-]+$/, "must use letters, digits, '_', '-' or '.'");

/** A free-text description (LUNs, hosts); control characters are refused. */
export const ArrayDescriptionSchema = z
  .string()
  .max(255)
  .refine((s) => ![...s].some((c) => c.charCodeAt(0) < 0x20), "must not contain control characters");

/** Validates `value` (INVALID_ARGUMENT on failure) as an async result. */
export function check<S extends z.ZodType>(schema: S, value: unknown, what: string): ResultAsync<z.output<S>, VolkitError> {
  const result = validate(schema, value, what);
  return result.isOk() ? okAsync(result.value) : errAsync(result.error);
}

/** Parses the `data` of an answer with `schema` (PARSE_ERROR naming the fields, never their values). */
export function parseData<S extends z.ZodType>(schema: S, data: unknown, what: string): ResultAsync<z.output<S>, VolkitError> {
  const parsed = schema.safeParse(data);
  if (parsed.success) return okAsync(parsed.data);
  const fields = parsed.error.issues.map((i) => `${i.path.join(".") || "data"}: ${i.message}`).slice(0, 5);
  return errAsync(new VolkitError("PARSE_ERROR", `unexpected ${what} from the array: ${fields.join("; ")}`, { source: "ipsan", details: { issues: fields } }));
}

/** A list answer: `data` is an array, or absent when nothing matched. */
export function parseList<S extends z.ZodType>(schema: S, data: unknown, what: string): ResultAsync<z.output<S>[], VolkitError> {
  if (data === undefined || data === null) return okAsync([]);
  return parseData(z.array(schema), data, what);
}

/** What a create returns: the object, and whether this call made it (false: it existed, identical). */
export interface Created<T> {
  /** The object. */
  readonly value: T;
  /** False when an identical object already existed (a retried or concurrent create). */
  readonly created: boolean;
}

/** Finds or creates by name: on "name exists", reads the object of that name back (a retried or concurrent create). */
export function createOrFind<T>(create: ResultAsync<T, VolkitError>, find: () => ResultAsync<T | undefined, VolkitError>): ResultAsync<Created<T>, VolkitError> {
  return create
    .map((value) => ({ value, created: true }))
    .orElse((e) => {
      if (!isArrayError(e, "OBJECT_NAME_ALREADY_EXIST", "OBJECT_ID_NOT_UNIQUE")) return errAsync(e);
      return find().andThen((found) => (found ? okAsync({ value: found, created: false }) : errAsync(e)));
    });
}

/** Base of the typed API classes. */
export abstract class RestApi {
  /** @param session - the session layer every call goes through. */
  constructor(protected readonly session: IpsanSession) {}

  /** One call whose `data` is one object. */
  protected one<S extends z.ZodType>(call: RestCall, schema: S, what: string, ctx: OperationContext): ResultAsync<z.output<S>, VolkitError> {
    return this.session.call(call, ctx).andThen((data) => parseData(schema, data, what));
  }

  /** One call whose `data` is a list. */
  protected many<S extends z.ZodType>(call: RestCall, schema: S, what: string, ctx: OperationContext): ResultAsync<z.output<S>[], VolkitError> {
    return this.session.call(call, ctx).andThen((data) => parseList(schema, data, what));
  }

  /**
   * One call whose answer only matters as success; the named array errors count as success too
   * (e.g. `LUN_ALREADY_IN_LUNGROUP` for an associate, `OBJECT_NOT_EXIST` for a delete). Returns
   * whether the call changed something (false when a benign code answered).
   */
  protected act(call: RestCall, ctx: OperationContext, benign: readonly ArrayErrorName[] = []): ResultAsync<boolean, VolkitError> {
    return this.session
      .call(call, ctx)
      .map(() => true)
      .orElse((e) => (benign.length > 0 && isArrayError(e, ...benign) ? okAsync(false) : errAsync(e)));
  }

  /**
   * The object with `name`, or undefined: `GET <base>?filter=NAME::<name>` (exact match). The
   * array's filter is exact with `::`; the result is checked again in case a model matches loosely.
   */
  protected byName<S extends z.ZodType<{ name: string }>>(base: string, name: string, schema: S, kind: RestCall["kind"], ctx: OperationContext): ResultAsync<z.output<S> | undefined, VolkitError> {
    return check(ArrayNameSchema, name, `${kind} name`).andThen((n) =>
      this.many({ method: "GET", path: `${base}?filter=NAME::${encodeURIComponent(n)}&range=[0-${MAX_RANGE}]`, kind }, schema, `${kind} list`, ctx).map((items) =>
        items.find((i) => i.name === n),
      ),
    );
  }

  /**
   * Every object of a list query, page by page (`range=[a-b]`, {@link MAX_RANGE} per page, until
   * a short page), like Huawei's driver pages large lists.
   */
  protected all<S extends z.ZodType>(base: string, schema: S, kind: RestCall["kind"], ctx: OperationContext, extraQuery = ""): ResultAsync<z.output<S>[], VolkitError> {
    const sep = base.includes("?") ? "&" : "?";
    const page = (start: number, acc: z.output<S>[]): ResultAsync<z.output<S>[], VolkitError> =>
      this.many({ method: "GET", path: `${base}${sep}${extraQuery}range=[${start}-${start + MAX_RANGE}]`, kind }, schema, `${kind} list`, ctx).andThen((items) => {
        const next = [...acc, ...items];
        return items.length < MAX_RANGE ? okAsync(next) : page(start + MAX_RANGE, next);
      });
    return page(0, []);
  }
}
