import { err, ok, type Result } from "neverthrow";
import { z } from "zod";
import { VolkitError, type ErrorCode } from "../core/errors.js";
import { redactText, redactValue } from "../core/secrets.js";
import type { CliOutput } from "./cli-env.js";
import type { Painter } from "./colour.js";
import { maskSecrets } from "./config-secrets.js";
import { exitCodeFor } from "./exit-codes.js";
import { parseJson } from "../core/parse-json.js";

/**
 * Printing. Every command's result has a zod schema (its `--json` shape) and a human rendering.
 * Both paths start from the same redacted value: registered secrets are cut out of every string
 * and secret-named properties become `***`, so no output mode can show a password. With `--json`
 * the redacted value is checked against the schema and printed as the parsed (stripped) value: a
 * field the schema does not document is never printed, and a value that does not fit is an
 * `INTERNAL` error rather than a silently different shape.
 */

/** How a command's result is shown. */
export interface OutputSpec<S extends z.ZodType> {
  /** The `--json` shape (every result is checked against it before printing, in both modes). */
  readonly schema: S;
  /** The text a person reads, from the checked result (ends without a newline; may be empty). */
  readonly human: (data: z.output<S>, paint: Painter) => string;
}

/** The `--json` shape of a failed command (printed on stdout, like a result, so scripts read one stream). */
export const ErrorOutputSchema = z.object({
  /** The error. */
  error: z.object({
    /** Stable error code (`VOLUME_NOT_FOUND`, `INVALID_CONFIG`…). */
    code: z.string(),
    /** Redacted message. */
    message: z.string(),
    /** The process exit code that goes with the code. */
    exitCode: z.number().int(),
    /** Component that failed. */
    source: z.string().optional(),
    /** Redacted machine-readable context (bad fields, the failed command…). */
    details: z.record(z.string(), z.unknown()),
  }),
});
/** A failed command's `--json` output. */
export type ErrorOutput = z.output<typeof ErrorOutputSchema>;

/**
 * A result as it leaves the process: secrets masked, JSON-safe (times as ISO strings), checked
 * against the schema and stripped to it.
 */
export function toWire<S extends z.ZodType>(schema: S, data: unknown): Result<z.output<S>, VolkitError> {
  const wire = parseJson(JSON.stringify(maskSecrets(data)) ?? "null", { what: "the command's result", source: "cli", code: "INTERNAL" });
  if (wire.isErr()) return err(wire.error);
  const checked = schema.safeParse(wire.value);
  if (!checked.success) {
    const issues = checked.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    return err(new VolkitError("INTERNAL", `the command's result does not match its documented --json shape (${issues.join("; ")})`, { source: "cli" }));
  }
  return ok(checked.data);
}

/** JSON text of a result (see {@link toWire}). */
export function renderJson(schema: z.ZodType, data: unknown): Result<string, VolkitError> {
  return toWire(schema, data).map((wire) => `${JSON.stringify(redactValue(wire), null, 2)}\n`);
}

/** Writes a result in the chosen mode; both start from the same checked, masked value. */
export function printResult<S extends z.ZodType>(stdout: CliOutput, json: boolean, spec: OutputSpec<S>, data: unknown, paint: Painter): Result<void, VolkitError> {
  if (json) return renderJson(spec.schema, data).map((text) => void stdout.write(text));
  return toWire(spec.schema, data).map((wire) => {
    const text = redactText(spec.human(wire, paint));
    if (text !== "") stdout.write(`${text}\n`);
  });
}

/** The `--json` form of an error. */
export function errorOutput(error: VolkitError): ErrorOutput {
  const code: ErrorCode = error.code;
  return {
    error: {
      code,
      message: redactText(error.message),
      exitCode: exitCodeFor(code),
      ...(error.source === undefined ? {} : { source: error.source }),
      details: maskSecrets(error.details) as Record<string, unknown>,
    },
  };
}

/**
 * Writes an error (JSON on stdout with `--json`, else one line on stderr with the code, plus the
 * bad fields of a validation error one per line) and returns the exit code.
 */
export function printError(out: { readonly stdout: CliOutput; readonly stderr: CliOutput }, json: boolean, error: VolkitError, paint: Painter): number {
  const shown = errorOutput(error);
  if (json) {
    out.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
  } else {
    const lines = [`${paint.paint("bad", "error")} ${paint.paint("bold", shown.error.code)}: ${shown.error.message}`];
    const issues = shown.error.details.issues;
    if (Array.isArray(issues) && issues.length > 1) {
      for (const issue of issues as { path?: unknown; message?: unknown }[]) {
        const path = Array.isArray(issue.path) ? issue.path.join(".") : "";
        lines.push(`  ${path === "" ? "(root)" : path}: ${String(issue.message)}`);
      }
    }
    out.stderr.write(`volkit: ${lines.join("\n")}\n`);
  }
  return shown.error.exitCode;
}

/** A plain table: header row and rows, columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], paint: Painter): string {
  if (rows.length === 0) return paint.paint("dim", "(none)");
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ""))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(c)))))
      .join("  ")
      .trimEnd();
  return [paint.paint("bold", line(header)), ...rows.map(line)].join("\n");
}

/** `key: value` lines, keys padded; undefined values are left out. */
export function fields(entries: readonly (readonly [string, string | number | boolean | undefined])[], paint: Painter): string {
  const shown = entries.filter((e): e is readonly [string, string | number | boolean] => e[1] !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${paint.paint("dim", `${k}:`.padEnd(width + 1))} ${String(v)}`).join("\n");
}

// eslint-disable-next-line no-control-regex -- measuring text without its colour codes
const ANSI = /\u001b\[[0-9;]*m/g;

function visibleLength(text: string): number {
  return text.replace(ANSI, "").length;
}
