import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, VolkitError, isVolkitError, toVolkitError, volkitError } from "../../../src/core/errors.js";
import { redactText, redactValue, registerSecret } from "../../../src/core/secrets.js";

const secret = (): string => `s3cr3t-${randomUUID()}`;

describe("error codes", () => {
  it("are unique, upper snake case strings", () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) expect(code).toMatch(/^[A-Z][A-Z_]+$/);
  });

  it("include the codes the driver contract relies on", () => {
    for (const code of ["VOLUME_NOT_FOUND", "VOLUME_EXISTS", "VOLUME_BUSY", "INVALID_ARGUMENT", "NOT_SUPPORTED", "TIMEOUT", "ABORTED", "COMMAND_FAILED", "COMMAND_NOT_FOUND"] as const) {
      expect(ERROR_CODES).toContain(code);
    }
  });
});

describe("VolkitError", () => {
  it("carries code, message, source, details, transient and cause", () => {
    const cause = new Error("lvcreate segfault");
    const e = new VolkitError("COMMAND_FAILED", "lvcreate failed", { source: "lvm", cause, details: { exitCode: 5, volumeId: "v1" }, transient: true });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("VolkitError");
    expect(e.code).toBe("COMMAND_FAILED");
    expect(e.message).toBe("lvcreate failed");
    expect(e.source).toBe("lvm");
    expect(e.details).toEqual({ exitCode: 5, volumeId: "v1" });
    expect(e.transient).toBe(true);
    expect(e.cause).toBe(cause);
  });

  it("defaults to no source, empty details, not transient, no cause", () => {
    const e = volkitError("INTERNAL", "boom");
    expect(e.source).toBeUndefined();
    expect(e.details).toEqual({});
    expect(e.transient).toBe(false);
    expect("cause" in e).toBe(false);
  });

  it("toJSON is JSON-safe: code, message, source, details, transient; no cause or stack", () => {
    const e = new VolkitError("VOLUME_BUSY", "has snapshots", { source: "lvm", cause: new Error("inner"), details: { volumeId: "v1" } });
    const json = JSON.parse(JSON.stringify(e)) as Record<string, unknown>;
    expect(json).toEqual({ code: "VOLUME_BUSY", message: "has snapshots", source: "lvm", details: { volumeId: "v1" }, transient: false });
    expect(Object.keys(volkitError("INTERNAL", "x").toJSON())).toEqual(["code", "message", "details", "transient"]);
  });

  it("redacts registered secrets from the message, the stack and every detail string", () => {
    const s = secret();
    registerSecret(s);
    const e = new VolkitError("LOGIN_FAILED", `login with ${s} refused`, {
      details: { stderr: `iscsiadm: bad secret ${s}`, command: ["iscsiadm", "--value", s], nested: { list: [{ note: `x${s}y` }] } },
    });
    expect(e.message).toBe("login with *** refused");
    expect(String(e.stack)).not.toContain(s);
    expect(e.details.stderr).toBe("iscsiadm: bad secret ***");
    expect(e.details.command).toEqual(["iscsiadm", "--value", "***"]);
    expect(e.details.nested).toEqual({ list: [{ note: "x***y" }] });
    expect(JSON.stringify(e)).not.toContain(s);
  });

  it("replaces the value of credential-named detail keys, registered or not", () => {
    const e = new VolkitError("AUTH_FAILED", "denied", {
      details: {
        password: "hunter2-unregistered",
        authPassword: "abc",
        discoveryAuthPassword: "def",
        chapSecret: "ghi",
        token: "jkl",
        privateKey: "-----BEGIN KEY-----",
        private_key: "mno",
        passphrase: "pqr",
        nested: { san_password: "stu", user: "admin" },
        absent: undefined,
        username: "admin",
      },
    });
    expect(e.details).toMatchObject({
      password: "***",
      authPassword: "***",
      discoveryAuthPassword: "***",
      chapSecret: "***",
      token: "***",
      privateKey: "***",
      private_key: "***",
      passphrase: "***",
      nested: { san_password: "***", user: "admin" },
      username: "admin",
    });
    expect(JSON.stringify(e)).not.toMatch(/hunter2|abc|def|ghi|jkl|BEGIN|mno|pqr|stu/);
  });

  it("does not mutate the caller's details object", () => {
    const details = { password: "plain-value" };
    new VolkitError("AUTH_FAILED", "x", { details });
    expect(details.password).toBe("plain-value");
  });
});

describe("secret registry", () => {
  it("ignores values shorter than 4 characters (they would mangle output)", () => {
    registerSecret("abc");
    registerSecret(undefined);
    expect(redactText("abc abcabc")).toBe("abc abcabc");
  });

  it("redacts every occurrence, plus extra per-call secrets", () => {
    const s = secret();
    registerSecret(s);
    expect(redactText(`${s}/${s} other-value`, ["other-value"])).toBe("***/*** ***");
  });

  it("redactValue deep-copies arrays and objects", () => {
    const s = secret();
    const input = { a: [`${s}`, 1, null, true], b: { c: `pre ${s}` } };
    const out = redactValue(input, [s]);
    expect(out).toEqual({ a: ["***", 1, null, true], b: { c: "pre ***" } });
    expect(input.b.c).toBe(`pre ${s}`);
  });
});

describe("isVolkitError / toVolkitError", () => {
  it("isVolkitError checks the type and, optionally, the code", () => {
    const e = volkitError("VOLUME_BUSY", "busy");
    expect(isVolkitError(e)).toBe(true);
    expect(isVolkitError(e, "VOLUME_BUSY", "TIMEOUT")).toBe(true);
    expect(isVolkitError(e, "TIMEOUT")).toBe(false);
    expect(isVolkitError(new Error("x"))).toBe(false);
    expect(isVolkitError({ code: "VOLUME_BUSY" })).toBe(false);
  });

  it("toVolkitError passes VolkitErrors through and wraps anything else", () => {
    const original = volkitError("TIMEOUT", "late");
    expect(toVolkitError(original)).toBe(original);
    const cause = new TypeError("bad thing");
    const wrapped = toVolkitError(cause, "PARSE_ERROR", "lvm");
    expect(wrapped).toMatchObject({ code: "PARSE_ERROR", message: "bad thing", source: "lvm" });
    expect(wrapped.cause).toBe(cause);
    expect(toVolkitError("plain string")).toMatchObject({ code: "INTERNAL", message: "plain string", source: undefined });
  });

  it("toVolkitError redacts secrets found in a foreign error's message", () => {
    const s = secret();
    registerSecret(s);
    expect(toVolkitError(new Error(`auth ${s} failed`)).message).toBe("auth *** failed");
  });
});
