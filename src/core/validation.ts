import { err, ok, type Result } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "./errors.js";
import { registerSecret } from "./secrets.js";

/**
 * Primitive validators for everything a caller hands volkit that may reach a command line.
 * Each is strict on purpose: a value that starts with `-`, contains whitespace, a NUL, a newline
 * or `..` is rejected before any command runs.
 */

/**
 * A volume or snapshot id. Cinder uses UUIDs; any 1-64 char id of letters, digits, `_` and `-`
 * starting with a letter or digit is accepted, which keeps LVM names, file names and IQNs safe.
 */
export const IdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit");

/** An LVM volume group or logical volume name (lvm2's rules: no leading `-`, not `.`/`..`, ≤ 127). */
export const LvmNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_+.][A-Za-z0-9_+.-]{0,126}$/, "must be an LVM name: letters, digits, '+_.-', not starting with '-'")
  .refine((s) => s !== "." && s !== "..", "must not be '.' or '..'");

/** An iSCSI qualified name (`iqn.YYYY-MM.reverse.domain[:suffix]`) or an EUI-64 name. */
export const IqnSchema = z
  .string()
  .max(223)
  .regex(/^(iqn\.\d{4}-\d{2}\.[a-z0-9][a-z0-9.-]*(:[A-Za-z0-9.:_-]+)?|eui\.[0-9A-Fa-f]{16})$/, "must be an iSCSI name like iqn.2010-10.org.example:target");

/** An IPv4 address. */
export const Ipv4Schema = z.ipv4();

/**
 * A host for a portal or share: IPv4, bracket-less IPv6 or a DNS name. A name whose last label is
 * all digits (`10.0.0.999`, `256.1.1.1`, `1.2.3`, `42`) is not a DNS name (no top-level domain is
 * numeric, RFC 3696 §2) but what resolvers would read as an IPv4 address, so it must be a valid one.
 */
export const HostSchema = z.union([
  z.ipv4(),
  z.ipv6(),
  z
    .string()
    .regex(/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, "must be a host name")
    .refine((s) => !/(^|\.)[0-9]+$/.test(s), "must be a valid IPv4 address or a host name whose last label is not all digits"),
]);

/** A TCP port. */
export const PortSchema = z.number().int().min(1).max(65535);

/**
 * A `host:port` address schema (`[v6]:port` for IPv6) whose port defaults to `defaultPort` when
 * omitted; the parsed value is normalized to `host:port`.
 */
export function hostPortSchema(defaultPort: number, what = "host:port") {
  return z.string().transform((s, ctx) => {
    const parsed = parsePortal(s, defaultPort);
    if (!parsed) {
      ctx.addIssue({ code: "custom", message: `must be ${what}, [ipv6]:port or a host` });
      return z.NEVER;
    }
    return `${parsed.host.includes(":") ? `[${parsed.host}]` : parsed.host}:${parsed.port}`;
  });
}

/** An iSCSI portal `host:port` or `[v6]:port`; the port defaults to 3260 when omitted. */
export const PortalSchema = hostPortSchema(3260, "host:port");

/** Splits `host[:port]` (or `[v6][:port]`) into host and port (`defaultPort` when absent); undefined when malformed. */
export function parsePortal(portal: string, defaultPort = 3260): { host: string; port: number } | undefined {
  const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(portal) ?? /^([^:\s[\]]+)(?::(\d{1,5}))?$/.exec(portal);
  if (!m?.[1]) return undefined;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  const host = m[1];
  if (!HostSchema.safeParse(host).success || !PortSchema.safeParse(port).success) return undefined;
  return { host, port };
}

/** A volume size in whole GiB (1 GiB to 64 PiB). */
export const SizeGiBSchema = z.number().int("must be a whole number of GiB").min(1, "must be at least 1 GiB").max(64 * 1024 * 1024);

/**
 * True when `s` holds a character no name, path or secret reference volkit passes on may hold: C0
 * controls (tab, newline and carriage return included: shells, tools and XML treat them each
 * differently), DEL, C1 controls, and the Unicode bidirectional marks, overrides and isolates, which
 * make a string read differently from what it is.
 */
export function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x200e || c === 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) return true;
  }
  return false;
}

/**
 * `value` the way an error message may show a caller's text: in double quotes, at most `max`
 * characters (then `…`), with every control character, DEL, C1 control and bidirectional mark
 * escaped (`\n`, `\u202e`), so the message stays one line that reads as what it is.
 *
 * @example
 * ```ts
 * quoteForMessage("vers=3\nexec"); // "\"vers=3\\nexec\""
 * ```
 */
export function quoteForMessage(value: string, max = 64): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The message of a refused {@link hasControlChar} string. */
export const CONTROL_CHARS_MESSAGE = "must not hold control characters (tab, newline, carriage return, other C0/C1 controls, DEL) or bidirectional overrides";

/**
 * One line of free text a caller names something with (a backend name, a host label): 1 to `max`
 * characters without control characters or bidirectional overrides, since it reaches logs, events
 * and error messages, where a newline or an override could forge or hide a line.
 */
export function plainTextSchema(max = 255) {
  return z.string().min(1).max(max).refine((s) => !hasControlChar(s), CONTROL_CHARS_MESSAGE);
}

/**
 * An absolute path with no `..` segment and no control character (NUL, tab, CR, LF, ESC, DEL…).
 * Paths reach commands as single argv elements, so spaces are allowed; a leading `-` is impossible.
 */
export const AbsolutePathSchema = z
  .string()
  .max(4096)
  .regex(/^\//, "must be an absolute path")
  .refine((p) => !hasControlChar(p), CONTROL_CHARS_MESSAGE)
  .refine((p) => !p.split("/").includes(".."), "must not contain '..'");

/** An absolute path that names something below the root: not `/` itself, no trailing `/`. */
export const FilePathSchema = AbsolutePathSchema.refine((p) => p !== "/" && !p.endsWith("/"), "must name a file or device, not a directory");

/** A host name as an attaching host reports itself (`compute-1`, `node7.example.com`). */
export const HostNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, "must be a host name: letters, digits, '._-', starting with a letter or digit");

/** A CHAP user name (RFC 3720 allows any; we keep argv- and config-file-safe characters). */
export const ChapUserSchema = z.string().regex(/^[A-Za-z0-9._:@-]{1,255}$/, "must be 1-255 of letters, digits, '._:@-'");

/**
 * A CHAP secret: 12-64 characters from a set that survives tgt's config parser, LIO's configfs and
 * iscsiadm unchanged (12 is the minimum several initiators enforce). The value is registered for
 * redaction as soon as it is parsed, even when it is refused.
 */
export const ChapSecretSchema = secretString(z.string().regex(/^[A-Za-z0-9._~+=/-]{12,64}$/, "must be 12-64 of letters, digits, '._~+=/-'"));

/**
 * Marks a string schema as a secret: every value it sees is registered for redaction before it is
 * checked, so neither a refusal nor anything derived from the value can show it.
 */
export function secretString<S extends z.ZodString>(schema: S): S {
  return schema.superRefine((value) => registerSecret(value));
}

/**
 * Parses `value` with `schema` and returns a typed `INVALID_ARGUMENT` (or the given code) error
 * naming each bad field. The parsed value is frozen.
 */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  code: "INVALID_ARGUMENT" | "INVALID_CONFIG" = "INVALID_ARGUMENT",
): Result<z.output<S>, VolkitError> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return ok(deepFreeze(parsed.data));
  const issues = parsed.error.issues.map((i) => `${i.path.length ? issuePath(i.path) : what}: ${issueMessage(i)}`);
  return err(
    new VolkitError(code, `invalid ${what}: ${issues.join("; ")}`, {
      source: "validation",
      details: { issues: parsed.error.issues.map((i) => ({ path: i.path.map(issuePathSegment), message: issueMessage(i) })) },
    }),
  );
}

/**
 * A zod issue path segment as errors show it: indexes and name-like keys as they are, any other key
 * (a caller's metadata key with a newline, a bidi override, 10 KB of text) as `[key]`, so no error,
 * log line or event carries it.
 */
export function issuePathSegment(segment: PropertyKey): string {
  if (typeof segment === "number") return String(segment);
  return typeof segment === "string" && /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(segment) ? segment : "[key]";
}

/** A zod issue path as errors show it (`targets.0.tpgs`), see {@link issuePathSegment}. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.map(issuePathSegment).join(".");
}

/** zod's message of an issue, except where zod quotes input: unrecognized keys are counted, not named. */
export function issueMessage(issue: z.core.$ZodIssue): string {
  return issue.code === "unrecognized_keys" ? `${issue.keys.length} unrecognized key(s)` : issue.message;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
