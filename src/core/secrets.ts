/**
 * Secret handling. CHAP and array passwords are registered here when a config or a connection is
 * validated; every error message, error detail, log line and event passes through {@link redactText}
 * so a registered secret never leaves the process in clear text.
 */

const REDACTED = "***";

/** Secrets shorter than this are not registered: redacting "a" everywhere would mangle output. */
const MIN_SECRET_LENGTH = 4;

const registry = new Set<string>();

/**
 * Registers a value that must never appear in logs, errors or events. Called by config and
 * connection schemas for password fields; driver authors call it for any credential they handle.
 */
export function registerSecret(value: string | undefined): void {
  if (value !== undefined && value.length >= MIN_SECRET_LENGTH) registry.add(value);
}

/**
 * Replaces every registered secret (and the given extra ones) in `text` with `***`.
 *
 * Longer secrets are replaced first: when one secret is a prefix or substring of another
 * (`abcd` and `abcdef-longer`), replacing the short one first would leave the rest of the long one
 * in clear text.
 */
export function redactText(text: string, extra: readonly string[] = []): string {
  const secrets = [...new Set([...registry, ...extra])].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

const SECRET_KEY = /pass(word)?|secret|token|private.?key/i;

/**
 * Deep-copies `value` with registered secrets redacted from every string and every property whose
 * name looks like a credential (`password`, `secret`, `token`, `privateKey`) replaced by `***`.
 * A `Date` becomes its ISO string; an `Error` becomes `{ name, message }` with the message redacted
 * (its stack and cause are dropped: they may quote the secret).
 */
export function redactValue(value: unknown, extra: readonly string[] = []): unknown {
  if (typeof value === "string") return redactText(value, extra);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, extra));
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  if (value instanceof Error) return { name: value.name, message: redactText(value.message, extra) };
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null ? REDACTED : redactValue(v, extra);
    }
    return out;
  }
  return value;
}
