import { err, ok, type Result } from "neverthrow";
import type { z } from "zod";
import { VolkitError, type ErrorCode } from "./errors.js";
import { registerSecret } from "./secrets.js";
import { issueMessage, issuePath, issuePathSegment } from "./validation.js";

/**
 * The one way volkit parses JSON it did not write itself: tool output (lvm reports, findmnt,
 * qemu-img info), files it reads (LIO's saveconfig.json, an NFS volume's `.info`), stored rows.
 *
 * Two rules make sure such a document never leaks a secret it holds (another volume's CHAP
 * password in LIO's saveconfig, a token in a REST body):
 *
 * - No error quotes the input. V8's `JSON.parse` message does (`Unexpected token 'x', "…secret…"
 *   is not valid JSON`), so it is never used: a syntax error reads `<what> is not valid JSON at
 *   byte N (line L)`, found by a scanner of our own, and carries no cause. Schema refusals name
 *   the path and the rule, never the value.
 * - Secret-shaped fields are registered for redaction before anything can be reported: every
 *   string under a key such as `password`, `chap_password`, `mutual_password`, `secret`, `token`
 *   or `key` (see {@link isSecretFieldName}). When the text is not valid JSON, the fields that can
 *   still be read (`"chap_password": "…"`) are registered from the text.
 */

/** How {@link parseJson} names and reports a document. */
export interface ParseJsonOptions {
  /** What the document is, for messages (`LIO saveconfig`, `lvm report`). */
  readonly what: string;
  /** The component reporting the error (`lio`, `lvm`). */
  readonly source: string;
  /** Error code of a refusal (default `PARSE_ERROR`). */
  readonly code?: ErrorCode;
  /**
   * Register every secret-shaped field for redaction (default true). Turn off only for documents
   * that hold no secret and whose `key` fields are names (a backup manifest's object keys).
   */
  readonly secretFields?: boolean;
}

/** Most schema problems a refusal lists. */
const MAX_ISSUES = 5;

const SECRET_SUFFIXES = ["password", "passwd", "passphrase", "secret", "token", "privatekey", "secretkey", "accesskey", "apikey", "authkey"];

/**
 * True when a field of that name holds a credential: its name, lower-cased without `_`, `-` or
 * `.`, is `key` or ends in `password`, `passwd`, `passphrase`, `secret`, `token`, `privatekey`,
 * `secretkey`, `accesskey`, `apikey` or `authkey` (`chap_password`, `chap_mutual_password`,
 * `authPassword`, `iBaseToken`, Ceph's `key`). `secretUuid`, `keyringPath` or `tokenType` are not.
 *
 * @example
 * ```ts
 * isSecretFieldName("chap_mutual_password"); // true
 * isSecretFieldName("secretUuid");           // false
 * ```
 */
export function isSecretFieldName(name: string): boolean {
  const n = name.toLowerCase().replace(/[_.-]/g, "");
  return n === "key" || SECRET_SUFFIXES.some((s) => n.endsWith(s));
}

/**
 * Registers (see `registerSecret`) every string held under a secret-shaped key anywhere in
 * `value`: directly, or in an array under that key. Walks at most 64 levels deep.
 *
 * @example
 * ```ts
 * registerSecretFields({ node_acls: [{ chap_userid: "u", chap_password: "Zq7xK2pW9mT4" }] }); // "Zq7xK2pW9mT4" is now redacted everywhere
 * ```
 */
export function registerSecretFields(value: unknown): void {
  const walk = (v: unknown, depth: number, secret: boolean): void => {
    if (typeof v === "string") {
      if (secret) registerSecret(v);
      return;
    }
    if (v === null || typeof v !== "object" || depth > 64) return;
    if (Array.isArray(v)) {
      for (const item of v) walk(item, depth + 1, secret);
      return;
    }
    for (const [k, item] of Object.entries(v)) walk(item, depth + 1, isSecretFieldName(k));
  };
  walk(value, 0, false);
}

const TEXT_FIELD = /"([A-Za-z0-9_.-]{1,64})"\s*:\s*"((?:[^"\\\n]|\\.){1,4096})"/g;

/**
 * Registers the secret-shaped string fields (`"chap_password": "…"`) that can be read from text
 * that is not valid JSON as a whole (a truncated or corrupted file), so that nothing quoting the
 * text elsewhere shows them.
 */
export function registerSecretFieldsInText(text: string): void {
  for (const m of text.matchAll(TEXT_FIELD)) {
    const [, key, literal] = m;
    if (key === undefined || literal === undefined || !isSecretFieldName(key)) continue;
    registerSecret(literal);
    try {
      const unescaped: unknown = JSON.parse(`"${literal}"`);
      if (typeof unescaped === "string") registerSecret(unescaped);
    } catch {
      // An invalid escape: the raw form is registered.
    }
  }
}

/**
 * Parses `text` as JSON. A syntax error is `PARSE_ERROR` (or `options.code`) reading
 * `<what> is not valid JSON at byte N (line L)`: no excerpt, no cause. Secret-shaped fields are
 * registered for redaction first (see the module notes).
 *
 * @example
 * ```ts
 * parseJson('{"a": 1', { what: "lvm report", source: "lvm" }); // err("lvm report is not valid JSON at byte 7 (line 1): the text ends early")
 * ```
 */
export function parseJson(text: string, options: ParseJsonOptions): Result<unknown, VolkitError> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Never V8's message: it quotes the input.
    if (options.secretFields !== false) registerSecretFieldsInText(text);
    return err(new VolkitError(options.code ?? "PARSE_ERROR", `${options.what} is not valid JSON ${describeSyntaxError(text)}`, { source: options.source }));
  }
  if (options.secretFields !== false) registerSecretFields(value);
  return ok(value);
}

/**
 * {@link parseJson}, then `schema`: a value of the wrong shape is refused naming up to five paths
 * and zod's rules (never the values; an unrecognized key is counted, not named).
 *
 * @example
 * ```ts
 * parseJsonWith(LioSaveConfigSchema, stdout, { what: "LIO saveconfig", source: "lio" });
 * ```
 */
export function parseJsonWith<S extends z.ZodType>(schema: S, text: string, options: ParseJsonOptions): Result<z.output<S>, VolkitError> {
  return parseJson(text, options).andThen((value): Result<z.output<S>, VolkitError> => {
    const parsed = schema.safeParse(value);
    if (parsed.success) return ok(parsed.data);
    return err(new VolkitError(options.code ?? "PARSE_ERROR", `${options.what} has an unexpected shape (${describeIssues(parsed.error.issues)})`, {
      source: options.source,
      details: { issues: parsed.error.issues.slice(0, MAX_ISSUES).map((i) => ({ path: i.path.map(issuePathSegment), message: issueMessage(i) })) },
    }));
  });
}

/** `path: rule; …` for the first five zod issues, quoting no input. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, MAX_ISSUES).map((i) => `${issuePath(i.path) || "(root)"}: ${issueMessage(i)}`);
  return `${shown.join("; ")}${issues.length > MAX_ISSUES ? `; and ${issues.length - MAX_ISSUES} more` : ""}`;
}

/** Where `text` stops being JSON: `at byte N (line L): why`. */
export function describeSyntaxError(text: string): string {
  const at = jsonSyntaxErrorAt(text);
  const byte = Buffer.byteLength(text.slice(0, at.index), "utf8");
  const line = text.slice(0, at.index).split("\n").length;
  return `at byte ${byte} (line ${line}): ${at.why}`;
}

/**
 * The position of the first JSON syntax error in `text` (a small scanner of RFC 8259's grammar,
 * used only after `JSON.parse` refused the text, to report where without quoting it).
 */
export function jsonSyntaxErrorAt(text: string): { index: number; why: string } {
  let i = 0;
  const fail = (why: string): never => {
    throw new ScanStop(i, why);
  };
  const space = (): void => {
    while (i < text.length && " \t\n\r".includes(text.charAt(i))) i++;
  };
  const expect = (c: string): void => {
    if (i >= text.length) fail("the text ends early");
    if (text.charAt(i) !== c) fail(`expected '${c}'`);
    i++;
  };
  const string = (): void => {
    expect('"');
    for (;;) {
      if (i >= text.length) fail("a string is not closed");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail("a control character in a string");
      if (c === 0x5c) {
        const e = text.charAt(i + 1);
        if (e === "u") {
          if (!/^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) fail("a bad \\u escape");
          i += 6;
        } else if ('"\\/bfnrt'.includes(e) && e !== "") i += 2;
        else fail("a bad escape");
      } else i++;
    }
  };
  const number = (): void => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === "" || m[0] === "-") fail("a bad number");
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (depth: number): void => {
    space();
    if (i >= text.length) fail("the text ends early");
    if (depth > 4096) fail("nesting is too deep");
    const c = text.charAt(i);
    if (c === "{") {
      i++;
      space();
      if (text.charAt(i) === "}") {
        i++;
        return;
      }
      for (;;) {
        space();
        if (text.charAt(i) !== '"') fail(i >= text.length ? "the text ends early" : "expected a property name");
        string();
        space();
        expect(":");
        value(depth + 1);
        space();
        if (text.charAt(i) === ",") {
          i++;
          continue;
        }
        expect("}");
        return;
      }
    }
    if (c === "[") {
      i++;
      space();
      if (text.charAt(i) === "]") {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        space();
        if (text.charAt(i) === ",") {
          i++;
          continue;
        }
        expect("]");
        return;
      }
    }
    if (c === '"') return string();
    if (c === "-" || (c >= "0" && c <= "9")) return number();
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    fail("unexpected character");
  };
  try {
    value(0);
    space();
    if (i < text.length) fail("more text after the JSON value");
  } catch (e) {
    if (e instanceof ScanStop) return { index: e.index, why: e.why };
    throw e;
  }
  // The scanner accepts what JSON.parse refused (should not happen): report the end.
  return { index: text.length, why: "refused by the JSON parser" };
}

/** Thrown inside the scanner only, to unwind to its caller. */
class ScanStop extends Error {
  constructor(
    readonly index: number,
    readonly why: string,
  ) {
    super(why);
  }
}
