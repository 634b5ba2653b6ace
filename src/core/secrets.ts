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

/** Replaces every registered secret (and the given extra ones) in `text` with `***`. */
export function redactText(text: string, extra: readonly string[] = []): string {
  let out = text;
  for (const secret of [...registry, ...extra]) {
    if (secret.length >= MIN_SECRET_LENGTH && out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

const SECRET_KEY = /pass(word)?|secret|token|private.?key/i;

/**
 * Deep-copies `value` with registered secrets redacted from every string and every property whose
 * name looks like a credential (`password`, `secret`, `token`, `privateKey`) replaced by `***`.
 */
export function redactValue(value: unknown, extra: readonly string[] = []): unknown {
  if (typeof value === "string") return redactText(value, extra);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, extra));
  if (value !== null && typeof value === "object" && !(value instanceof Error)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null ? REDACTED : redactValue(v, extra);
    }
    return out;
  }
  return value;
}
