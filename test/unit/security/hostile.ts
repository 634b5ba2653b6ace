/**
 * The hostile-input suite's catalogue and checks (issue 14, "Done when"). Each public entry point is
 * driven with values that carry shell metacharacters, leading dashes, `../`, NUL, control
 * characters, bidirectional overrides, 10 KB strings and numbers that are not what a field takes;
 * a refusal must be a typed `INVALID_ARGUMENT`/`INVALID_CONFIG`, before any command, with an error
 * message that neither repeats the value nor carries a control character.
 */
import { inspect } from "node:util";
import type { ResultAsync } from "neverthrow";
import { expect } from "vitest";
import type { VolkitError } from "../../../src/core/errors.js";
import { EventBus, type Logger, type VolkitEvent } from "../../../src/core/events.js";

/** A labelled hostile value. */
export type Hostile = readonly [label: string, value: unknown];

const TEN_KB = "a".repeat(10 * 1024);

/** Values no name or id may be: every one of them is outside `[A-Za-z0-9][A-Za-z0-9_-]*` or too long. */
export const HOSTILE_NAMES: readonly Hostile[] = [
  ["shell metacharacters", "a;rm -rf /"],
  ["command substitution", "$(touch /tmp/pwned)"],
  ["backticks", "`id`"],
  ["pipe and redirect", "a|b>c"],
  ["glob", "vol*"],
  ["quotes", "a'b\"c"],
  ["leading dash", "-rf"],
  ["long option", "--help"],
  ["ssh option", "-oProxyCommand=x"],
  ["dot-dot", "../../etc/shadow"],
  ["slash", "a/b"],
  ["NUL", "vol\u0000x"],
  ["newline", "vol\nx"],
  ["carriage return", "vol\rx"],
  ["tab", "vol\tx"],
  ["escape sequence", "vol\u001b[31mx"],
  ["DEL", "vol\u007fx"],
  ["C1 control", "vol\u0085x"],
  ["RTL override", "vol\u202ex"],
  ["bidi isolate", "vol\u2066x"],
  ["space", "vol x"],
  ["empty", ""],
  ["10 KB", TEN_KB],
  ["a number", 42],
  ["null", null],
  ["an object", { toString: () => "vol" }],
];

/** Paths no caller path may be: relative, dashed, `..`, controls, overrides, `/` itself, too long. */
export const HOSTILE_PATHS: readonly Hostile[] = [
  ["long option", "--help"],
  ["ssh option", "-oProxyCommand=x"],
  ["relative", "dev/sda"],
  ["dot-dot", "../../etc/shadow"],
  ["dot-dot inside", "/dev/../etc/shadow"],
  ["NUL", "/dev/sda\u0000"],
  ["newline", "/dev/sd\na"],
  ["tab", "/dev/sd\ta"],
  ["carriage return", "/dev/sd\ra"],
  ["escape sequence", "/dev/\u001b[2Jsda"],
  ["RTL override", "/dev/\u202eads"],
  ["root", "/"],
  ["10 KB", `/dev/${TEN_KB}`],
  ["empty", ""],
  ["a number", 7],
];

/** Portals: hostile names plus malformed `host:port`s. */
export const HOSTILE_PORTALS: readonly Hostile[] = [
  ...HOSTILE_NAMES.filter(([label]) => label !== "slash"),
  ["port out of range", "127.0.0.1:99999"],
  ["non-numeric port", "127.0.0.1:http"],
  ["bad IPv4", "10.0.0.999:3260"],
  ["unclosed IPv6", "[::1:3260"],
  ["host with an option", "-oProxyCommand=x:3260"],
  ["host with a space", "my host:3260"],
];

/** IQNs: hostile names plus almost-IQNs. */
export const HOSTILE_IQNS: readonly Hostile[] = [
  ...HOSTILE_NAMES,
  ["iqn with a space", "iqn.2010-10.org.example:a b"],
  ["iqn with a newline", "iqn.2010-10.org.example:a\nb"],
  ["iqn with a semicolon", "iqn.2010-10.org.example:a;reboot"],
  ["iqn without a date", "iqn.org.example:a"],
  ["iqn too long", `iqn.2010-10.org.example:${"a".repeat(300)}`],
];

/** CHAP secrets: hostile names plus too short ones and ones with spaces. */
export const HOSTILE_SECRETS: readonly Hostile[] = [
  ...HOSTILE_NAMES.filter(([label]) => !["slash", "dot-dot"].includes(label)),
  ["too short", "short"],
  ["space inside", "Secret with space"],
  ["newline inside", "SecretSecret\nX"],
  ["NUL inside", "SecretSecret\u0000X"],
];

/** Shares: hostile names plus almost-shares. */
export const HOSTILE_SHARES: readonly Hostile[] = [
  ...HOSTILE_NAMES,
  ["relative export", "10.0.0.5:export"],
  ["dot-dot export", "10.0.0.5:/export/../etc"],
  ["space in export", "10.0.0.5:/a b"],
  ["option as host", "-o:/export"],
  ["NUL in export", "10.0.0.5:/export\u0000"],
  ["escape in export", "10.0.0.5:/export\u001b[31m"],
  ["RTL override in export", "10.0.0.5:/export\u202e"],
  ["10 KB export", `10.0.0.5:/${TEN_KB}`],
];

/** Sizes in GiB that are not a whole number of GiB from 1 up. */
export const HOSTILE_SIZES: readonly Hostile[] = [
  ["fraction", 1.5],
  ["zero", 0],
  ["negative", -1],
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["beyond 64 PiB", 2 ** 60],
  ["a string", "1"],
  ["a shell string", "1;reboot"],
  ["null", null],
];

/** Free text that never reaches a command but must not carry controls or overrides, nor be huge. */
export const HOSTILE_TEXT: readonly Hostile[] = [
  ["NUL", "name\u0000"],
  ["newline", "name\nINFO forged log line"],
  ["escape sequence", "name\u001b[2J"],
  ["RTL override", "name\u202etxt.exe"],
  ["10 KB", TEN_KB],
];

/** Strings for XML attributes and text. */
export const HOSTILE_XML: readonly Hostile[] = [
  ["markup", "<disk/>"],
  ["attribute break", "a' onload='x"],
  ["entity", "&xxe;"],
  ["CDATA end", "]]>"],
  ["NUL", "a\u0000b"],
  ["newline", "a\nb"],
  ["escape sequence", "a\u001bb"],
  ["RTL override", "a\u202eb"],
  ["10 KB", TEN_KB],
];

/** Replaces the value at `path` (dot-separated, numeric segments index arrays) in a deep copy of `base`. */
export function withField<T>(base: T, path: string, value: unknown): T {
  const copy = structuredClone(base) as Record<string, unknown>;
  const keys = path.split(".");
  let node: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== "object") node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1) as string] = value;
  return copy as T;
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * Asserts a typed refusal whose message and details neither carry a control character or bidi
 * override nor repeat a 10 KB value, and that is small enough for one log line.
 */
export function expectRefusal(error: VolkitError, codes: readonly string[] = ["INVALID_ARGUMENT", "INVALID_CONFIG"]): void {
  expect(codes, `${error.code}: ${error.message}`).toContain(error.code);
  const shown = `${error.message} ${JSON.stringify(error.details)}`;
  expect(CONTROL_OR_BIDI.test(error.message), `control character in: ${JSON.stringify(error.message)}`).toBe(false);
  expect(shown.length, "refusal text length").toBeLessThan(8 * 1024);
  expect(shown).not.toContain(TEN_KB.slice(0, 300));
}

/** Runs `call`, expecting it to be refused; returns the error. */
export async function refused(call: () => ResultAsync<unknown, VolkitError> | PromiseLike<{ isErr(): boolean }>): Promise<VolkitError> {
  const r = (await call()) as { isErr(): boolean; isOk(): boolean; error?: VolkitError; value?: unknown };
  if (!r.isErr()) throw new Error(`expected a refusal, got ok: ${inspect(r.value, { depth: 2 }).slice(0, 300)}`);
  return r.error as VolkitError;
}

/** Everything an operation can report to the outside: for leak checks. */
export class Sinks {
  readonly events = new EventBus();
  readonly seen: VolkitEvent[] = [];
  readonly logs: { level: string; obj: object; msg: string | undefined }[] = [];
  readonly logger: Logger = {
    debug: (obj, msg) => void this.logs.push({ level: "debug", obj, msg }),
    info: (obj, msg) => void this.logs.push({ level: "info", obj, msg }),
    warn: (obj, msg) => void this.logs.push({ level: "warn", obj, msg }),
    error: (obj, msg) => void this.logs.push({ level: "error", obj, msg }),
  };

  constructor() {
    this.events.on((e) => void this.seen.push(e));
  }

  /** Every event and log entry, serialized as JSON and as `util.inspect` would print them. */
  text(): string {
    return [JSON.stringify(this.seen), JSON.stringify(this.logs), inspect(this.logs, { depth: 12 }), inspect(this.seen, { depth: 12 })].join("\n");
  }
}

/** Everything an error shows: message, details, `toJSON`, `util.inspect` with its cause chain, the stack. */
export function errorText(error: unknown): string {
  const e = error as VolkitError;
  return [e.message, JSON.stringify(e.details), JSON.stringify(typeof e.toJSON === "function" ? e.toJSON() : e), inspect(e, { depth: 12 }), String(e.stack)].join("\n");
}

/**
 * Asserts no piece of `secret` of 6 characters or more appears in `text` (a parser's excerpt of
 * about ten characters around an error would leak such a piece even when the whole secret is
 * redacted).
 */
export function expectNoLeak(text: string, secret: string, where: string): void {
  for (let i = 0; i + 6 <= secret.length; i++) {
    const piece = secret.slice(i, i + 6);
    if (text.includes(piece)) throw new Error(`${where}: a piece of the secret (${JSON.stringify(piece)}) leaked into: ${text.slice(Math.max(0, text.indexOf(piece) - 120), text.indexOf(piece) + 60)}`);
  }
}
