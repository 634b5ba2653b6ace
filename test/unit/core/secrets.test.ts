import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { VolkitError } from "../../../src/core/errors.js";
import { redactText, redactValue, registerSecret } from "../../../src/core/secrets.js";

describe("redactText", () => {
  it("redacts a longer secret whole when a shorter registered secret is its prefix", () => {
    const short = `s${randomUUID().slice(0, 5)}`;
    const long = `${short}ef-longer-secret-${randomUUID()}`;
    registerSecret(short); // registered first: iterated first by the old code
    registerSecret(long);
    expect(redactText(`auth ${long} failed`)).toBe("auth *** failed");
    expect(redactText(`short ${short} and long ${long}`)).toBe("short *** and long ***");
  });

  it("orders extra secrets the same way, and tolerates duplicates and too-short ones", () => {
    const short = `x${randomUUID().slice(0, 5)}`;
    const long = `${short}-${randomUUID()}`;
    expect(redactText(`key=${long};`, [short, long, short, "ab"])).toBe("key=***;");
    expect(redactText("ab cd", ["ab"])).toBe("ab cd");
  });
});

describe("redactValue", () => {
  it("turns an Error into { name, message } with the message redacted", () => {
    const secret = `chap-${randomUUID()}`;
    const error = new TypeError(`login with ${secret} refused`);
    expect(redactValue({ cause: error }, [secret])).toEqual({ cause: { name: "TypeError", message: "login with *** refused" } });
    expect(redactValue(error, [secret])).toEqual({ name: "TypeError", message: "login with *** refused" });
  });

  it("turns a Date into its ISO string instead of {}", () => {
    const when = new Date("2024-05-06T07:08:09.010Z");
    expect(redactValue({ when, list: [when] })).toEqual({ when: "2024-05-06T07:08:09.010Z", list: ["2024-05-06T07:08:09.010Z"] });
    expect(redactValue(new Date(Number.NaN))).toBe("Invalid Date");
  });

  it("VolkitError details hold neither a secret from an Error nor a mangled Date", () => {
    const secret = `registered-${randomUUID()}`;
    registerSecret(secret);
    const at = new Date("2024-01-02T03:04:05.000Z");
    const e = new VolkitError("LOGIN_FAILED", "login failed", { details: { attempt: new Error(`bad secret ${secret}`), at } });
    expect(e.details).toEqual({ attempt: { name: "Error", message: "bad secret ***" }, at: "2024-01-02T03:04:05.000Z" });
    expect(JSON.stringify(e.toJSON())).not.toContain(secret);
  });
});
