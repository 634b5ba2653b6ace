import { err, ok, type Result } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";

/**
 * Building blocks of the RBD parsers: Ceph's JSON quirks (booleans as strings, ctime text) and the
 * one JSON-then-schema step every parser ends with. Re-exported (`parseCtime`) by `rbd-parsers.ts`.
 */

/** `true`, `false`, `"true"` or `"false"`. */
export const Boolish = z.union([z.boolean(), z.enum(["true", "false"])]).transform((v) => v === true || v === "true");

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * Parses ctime text (`Tue Dec  1 16:15:08 2026`) as UTC; ISO-8601 text is accepted too.
 * Undefined when it is neither.
 *
 * @example
 * ```ts
 * parseCtime("Tue Dec  1 16:15:08 2026")?.toISOString(); // "2026-12-01T16:15:08.000Z"
 * ```
 */
export function parseCtime(text: string): Date | undefined {
  const m = /^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})$/.exec(text.trim());
  if (m) {
    const month = MONTHS.indexOf(m[1] ?? "");
    if (month < 0) return undefined;
    return new Date(Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
  }
  if (/^\d{4}-\d\d-\d\dT/.test(text)) {
    const d = new Date(text);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

/** A ctime or ISO timestamp, parsed to a Date (see {@link parseCtime}). */
export const Ctime = z.string().transform((text, ctx) => {
  const date = parseCtime(text);
  if (date === undefined) {
    ctx.addIssue({ code: "custom", message: "is not a ctime or ISO timestamp" });
    return z.NEVER;
  }
  return date;
});

/** A non-negative integer (sizes, counts, ids). */
export const Count = z.number().int().min(0);

/** Parses `stdout` as JSON and validates it with `schema`; `PARSE_ERROR` names the command and the bad fields. */
export function parseJson<S extends z.ZodType>(schema: S, stdout: string, what: string): Result<z.output<S>, VolkitError> {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    // Not the native message: it quotes the input.
    return err(new VolkitError("PARSE_ERROR", `${what} did not print JSON`, { source: "rbd" }));
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return ok(parsed.data);
  const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  return err(new VolkitError("PARSE_ERROR", `unexpected ${what} JSON: ${issues.slice(0, 5).join("; ")}`, { source: "rbd" }));
}
