import { redactValue, registerSecret } from "../core/secrets.js";

/**
 * Secrets in the config file: CHAP and array passwords, PostgreSQL URLs and passwords, Ceph keys,
 * S3 secret keys, encryption keys. Recognised by property name, wider than the core's rule
 * (`key`, `keyring`, `connectionString`, `credentials` too), because a config echo must never show
 * one even for a driver volkit does not know.
 */
const SECRET_PROPERTY = /pass(word|phrase|wd)?|secret|token|private.?key|^key$|keyring|credential|connection.?string/i;

/** camelCase names ending in `Key` (`encryptionKey`, `secretAccessKey`); case-sensitive so `monkey` is not one. */
const SECRET_SUFFIX = /[a-z0-9]Key$/;

/** Names ending in `Key` that are not secrets. */
const NOT_SECRET = /^(publicKey|hostKey|sshHostKey|partitionKey|sortKey)$/;

/** Whether a property of this name holds a secret. */
export function isSecretProperty(name: string): boolean {
  return SECRET_PROPERTY.test(name) || (SECRET_SUFFIX.test(name) && !NOT_SECRET.test(name));
}

/** Registers every secret-named string in `value` (deeply) for redaction. */
export function registerConfigSecrets(value: unknown, key = ""): void {
  if (typeof value === "string") {
    if (isSecretProperty(key)) registerSecret(value);
  } else if (Array.isArray(value)) {
    for (const v of value) registerConfigSecrets(v, key);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) registerConfigSecrets(v, k);
  }
}

/**
 * A copy of `value` fit to print: every secret-named property is `***` (whatever its type), and
 * every registered secret is cut out of the remaining strings.
 */
export function maskSecrets(value: unknown): unknown {
  const mask = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(mask);
    if (v !== null && typeof v === "object" && !(v instanceof Date)) {
      return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, isSecretProperty(k) && inner !== undefined && inner !== null ? "***" : mask(inner)]));
    }
    return v;
  };
  return redactValue(mask(value));
}
