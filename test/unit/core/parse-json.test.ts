import { readFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { describeSyntaxError, isSecretFieldName, jsonSyntaxErrorAt, parseJson, parseJsonWith, registerSecretFields, registerSecretFieldsInText } from "../../../src/core/parse-json.js";
import { redactText } from "../../../src/core/secrets.js";

const SAVECONFIG = readFileSync(join(import.meta.dirname, "../../fixtures/lio/saveconfig-acl.json"), "utf8");
const FIXED_SYNTAX_MESSAGE = /^doc is not valid JSON at byte \d+ \(line \d+\): [A-Za-z' ,\\{}[\]:-]+$/;

/** Every piece of `secret` of at least 5 characters (V8 quotes about ten characters around the error). */
function pieces(secret: string, min = 5): string[] {
  const out: string[] = [];
  for (let i = 0; i + min <= secret.length; i++) out.push(secret.slice(i, i + min));
  return out;
}

describe("parseJson: no error quotes its input", () => {
  it("names the byte, the line and the reason of a syntax error, with no excerpt and no cause", () => {
    const text = '{\n "chap_password": "Zq7xK2pW9mT4vB8n" x\n}';
    const e = parseJson(text, { what: "doc", source: "test", secretFields: false })._unsafeUnwrapErr();
    expect(e.code).toBe("PARSE_ERROR");
    expect(e.message).toBe("doc is not valid JSON at byte 39 (line 2): expected '}'");
    expect(e.cause).toBeUndefined();
    for (const p of pieces("Zq7xK2pW9mT4vB8n")) expect(inspect(e, { depth: 8 })).not.toContain(p);
  });

  it("counts bytes, not UTF-16 units, before the error", () => {
    expect(describeSyntaxError('{"é€": 1,}')).toBe("at byte 12 (line 1): expected a property name") // 9 characters, 12 bytes;
  });

  it.each([
    ["", "the text ends early"],
    ["{", "the text ends early"],
    ['{"a": 1', "the text ends early"],
    ['{"a": "b', "a string is not closed"],
    ['{"a": "\u0001"}', "a control character in a string"],
    ['{"a": "\\x"}', "a bad escape"],
    ['{"a": "\\u12"}', "a bad \\u escape"],
    ['{"a": 01}', "expected '}'"],
    ['{"a": -}', "a bad number"],
    ["[1, 2,]", "unexpected character"],
    ["{} {}", "more text after the JSON value"],
    ["nul", "unexpected character"],
    ["{'a': 1}", "expected a property name"],
  ])("scans %j to the reason V8 would give (%s)", (text, why) => {
    expect(() => JSON.parse(text) as unknown).toThrow();
    expect(jsonSyntaxErrorAt(text).why).toBe(why);
  });

  it("agrees with JSON.parse on every truncation and every one-character corruption of a real saveconfig.json", () => {
    const cut = [...Array(SAVECONFIG.length).keys()].filter((i) => i % 7 === 0);
    const variants = [
      ...cut.map((i) => SAVECONFIG.slice(0, i)),
      ...cut.flatMap((i) => ["}", '"', ",", "x", "\n"].map((c) => SAVECONFIG.slice(0, i) + c + SAVECONFIG.slice(i + 1))),
    ];
    let refused = 0;
    for (const text of variants) {
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      const r = parseJson(text, { what: "doc", source: "test", secretFields: false });
      expect(r.isOk()).toBe(valid);
      if (r.isErr()) {
        refused++;
        expect(r.error.message).toMatch(FIXED_SYNTAX_MESSAGE);
        expect(r.error.message).not.toContain("refused by the JSON parser");
        expect(r.error.message).not.toMatch(/Secret|cap1|volume-/);
      }
    }
    expect(refused).toBeGreaterThan(1000);
  });

  it("refuses a shape naming paths and rules, never values or unknown key names", () => {
    const schema = z.strictObject({ user: z.string(), size: z.number().int() });
    const e = parseJsonWith(schema, '{"user": 5, "size": "Zq7xK2pW9mT4vB8n", "Zq7xK2pW9mT4": 1}', { what: "doc", source: "test" })._unsafeUnwrapErr();
    expect(e.message).toMatch(/^doc has an unexpected shape \(/);
    expect(e.message).toContain("user:");
    expect(e.message).toContain("size:");
    expect(e.message).toContain("1 unrecognized key(s)");
    for (const p of pieces("Zq7xK2pW9mT4vB8n")) expect(JSON.stringify(e.toJSON())).not.toContain(p);
  });

  it("shows record keys that are not names as [key]", () => {
    const schema = z.record(z.string(), z.number());
    const e = parseJsonWith(schema, '{"ok_name": 1, "a b;rm -rf /": "x"}', { what: "doc", source: "test" })._unsafeUnwrapErr();
    expect(e.message).toContain("[key]:");
    expect(e.message).not.toContain("rm -rf");
  });
});

describe("secret-shaped fields are registered before anything can report them", () => {
  it.each([
    ["chap_password", true],
    ["chap_mutual_password", true],
    ["mutual_password", true],
    ["authPassword", true],
    ["password", true],
    ["passwd", true],
    ["secret", true],
    ["client_secret", true],
    ["iBaseToken", true],
    ["token", true],
    ["key", true],
    ["secret_key", true],
    ["privateKey", true],
    ["api-key", true],
    ["secretUuid", false],
    ["secretUsage", false],
    ["keyringPath", false],
    ["chap_userid", false],
    ["tokenType", false],
    ["keys", false],
  ])("%s is secret-shaped: %s", (name, secret) => {
    expect(isSecretFieldName(name)).toBe(secret);
  });

  it("registers every ACL's CHAP secret of a parsed saveconfig.json", () => {
    expect(redactText("CaptureSecret01")).toBe("CaptureSecret01");
    parseJson(SAVECONFIG, { what: "LIO saveconfig", source: "lio" })._unsafeUnwrap();
    expect(redactText("x CaptureSecret01 y")).toBe("x *** y");
  });

  it("registers the fields still readable in a corrupted document", () => {
    const text = '{"targets": [{"node_acls": [{"chap_password": "Other\\u0056olume-Secret-7", "chap_mutual_password": "MutualSecret-42"} oops';
    parseJson(text, { what: "doc", source: "test" })._unsafeUnwrapErr();
    expect(redactText("OtherVolume-Secret-7 MutualSecret-42")).toBe("*** ***");
  });

  it("registers strings in arrays under a secret-shaped key and nothing else", () => {
    registerSecretFields({ keys: ["not-a-secret-1"], tokens: { token: ["Token-Value-1", "Token-Value-2"] }, name: "plain-name-1" });
    expect(redactText("not-a-secret-1 Token-Value-1 Token-Value-2 plain-name-1")).toBe("not-a-secret-1 *** *** plain-name-1");
  });

  it("reads text fields without JSON around them", () => {
    registerSecretFieldsInText('garbage "password" : "pw-in-text-1" more "name": "x"');
    expect(redactText("pw-in-text-1")).toBe("***");
  });
});
