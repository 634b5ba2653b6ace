/**
 * The core pieces every entry point relies on, under hostile input: refusals never echo a caller's
 * key or value with its control characters, a foreign cause never carries a registered secret into
 * `util.inspect`, a throwing logger or listener never breaks an operation, and a deadline of any
 * length is honoured.
 */
import { inspect } from "node:util";
import { errAsync, okAsync } from "neverthrow";
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createOperationContext } from "../../../src/core/context.js";
import { VolkitError, toVolkitError } from "../../../src/core/errors.js";
import { EventBus } from "../../../src/core/events.js";
import { runOperation } from "../../../src/core/operation.js";
import { VolumeSchema } from "../../../src/core/records.js";
import { redactText, registerSecret } from "../../../src/core/secrets.js";
import { MAX_TIMER_MS, setLongTimeout } from "../../../src/core/timers.js";
import { quoteForMessage, validate } from "../../../src/core/validation.js";
import { expectNoLeak, expectRefusal } from "./hostile.js";

describe("validate(): refusals name fields, never hostile keys", () => {
  it("shows a metadata key with a newline, an override or 10 KB as [key]", () => {
    const schema = z.record(z.string(), z.string().max(3));
    for (const key of ["line\nINFO forged", "evil\u202etxt.exe", "k".repeat(10 * 1024)]) {
      const e = validate(schema, { [key]: "too long" }, "metadata")._unsafeUnwrapErr();
      expectRefusal(e);
      expect(e.message).toBe("invalid metadata: [key]: Too big: expected string to have <=3 characters");
    }
  });

  it("counts unrecognized keys instead of naming them", () => {
    const e = validate(z.strictObject({ a: z.string() }), { a: "x", "Zq7Xk2Pw9Mt4Vb8N-as-a-key": 1 }, "options")._unsafeUnwrapErr();
    expect(e.message).toBe("invalid options: options: 1 unrecognized key(s)");
  });

  it("quoteForMessage keeps a caller's text on one line that reads as it is", () => {
    expect(quoteForMessage("vers=3\nexec")).toBe('"vers=3\\nexec"');
    expect(quoteForMessage("lvm\u202e\u007f")).toBe('"lvm\\u202e\\u007f"');
    expect(quoteForMessage("x".repeat(100))).toBe(`"${"x".repeat(64)}…"`);
  });
});

describe("a cause never carries a registered secret into util.inspect", () => {
  it("replaces a foreign error quoting a secret by a redacted copy of the same class, cause chain included", () => {
    const secret = "Zq7Xk2Pw9Mt4Vb8NcA5e1";
    registerSecret(secret);
    const inner = Object.assign(new TypeError(`inner ${secret}`), { code: "EFAIL", detail: `d ${secret}` });
    const outer = new Error(`runner crashed near ${secret}`, { cause: inner });
    const e = toVolkitError(outer, "INTERNAL", "test");
    const shown = inspect(e, { depth: 12 });
    expectNoLeak(shown, secret, "inspect");
    expect(e.cause).toBeInstanceOf(Error);
    expect((e.cause as Error).message).toBe("runner crashed near ***");
    expect((e.cause as Error & { cause: unknown }).cause).toBeInstanceOf(TypeError);
    expect(((e.cause as Error & { cause: TypeError & { code: string } }).cause).code).toBe("EFAIL");
  });

  it("keeps a cause that shows no secret as the same object", () => {
    const cause = new Error("plain failure");
    expect(new VolkitError("INTERNAL", "x", { cause }).cause).toBe(cause);
  });

  it("redacts a plain object or string cause that quotes a secret", () => {
    const secret = "Zq7Xk2Pw9Mt4Vb8NoB7j3";
    registerSecret(secret);
    expectNoLeak(inspect(new VolkitError("INTERNAL", "x", { cause: { stderr: `bad ${secret}` } }), { depth: 12 }), secret, "object cause");
    expectNoLeak(inspect(new VolkitError("INTERNAL", "x", { cause: `bad ${secret}` }), { depth: 12 }), secret, "string cause");
  });
});

describe("a volume record registers its CHAP password on its own", () => {
  // A connector or flow failing with the bare password (iscsiadm echoing it) must not show it:
  // registering only the whole "CHAP <user> <secret>" string redacted nothing there.
  it.each([
    ["CHAP user-v1 Pw9Mt4Vb8NpL6jRec0rd", "Pw9Mt4Vb8NpL6jRec0rd"],
    ["CHAP user-v1 Pw9Mt4Vb8N two words", "Pw9Mt4Vb8N two words"],
  ])("providerAuth %j", (providerAuth, password) => {
    expect(redactText(`iscsiadm said ${password}`)).toContain(password);
    VolumeSchema.parse({ id: "v1", sizeGiB: 1, providerAuth });
    expectNoLeak(redactText(`iscsiadm said ${password}`), password, providerAuth);
  });
});

describe("a broken logger or listener never breaks an operation", () => {
  it("an operation whose logger and listener throw still returns its Result", async () => {
    const events = new EventBus();
    events.on(() => {
      throw new Error("listener bug");
    });
    const boom = (): never => {
      throw new Error("logger bug");
    };
    const logger = { debug: boom, info: boom, warn: boom, error: boom };
    const scope = { source: "test", logger, events };
    expect((await runOperation(scope, "op", undefined, {}, (ctx) => (ctx.logger.warn({}, "inside"), okAsync(42))))._unsafeUnwrap()).toBe(42);
    const failed = await runOperation(scope, "op", undefined, {}, () => errAsync(new VolkitError("VOLUME_BUSY", "busy")));
    expect(failed._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
  });
});

describe("deadlines of any length", () => {
  it("a deadline 30 days away does not abort after 1 ms; Infinity never does", async () => {
    const far = createOperationContext({ operation: "t", source: "t", deadline: Date.now() + 30 * 24 * 3600_000 });
    const never = createOperationContext({ operation: "t", source: "t", deadline: Number.POSITIVE_INFINITY });
    await new Promise((r) => setTimeout(r, 30));
    expect(far.signal.aborted).toBe(false);
    expect(never.signal.aborted).toBe(false);
  });

  it("setLongTimeout waits in steps of at most 2^31-1 ms and fires once, at the due time", () => {
    vi.useFakeTimers();
    try {
      const fired = vi.fn();
      setLongTimeout(fired, MAX_TIMER_MS * 2 + 10);
      vi.advanceTimersByTime(MAX_TIMER_MS * 2);
      expect(fired).not.toHaveBeenCalled();
      vi.advanceTimersByTime(10);
      expect(fired).toHaveBeenCalledTimes(1);
      const cleared = vi.fn();
      setLongTimeout(cleared, 5).clear();
      vi.advanceTimersByTime(10);
      expect(cleared).not.toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });

  it.each([
    ["a NaN deadline", { deadline: Number.NaN }],
    ["an invalid Date", { deadline: new Date("nope") }],
    ["a string deadline", { deadline: "soon" }],
    ["a signal that is not an AbortSignal", { signal: { aborted: false } }],
  ])("runOperation refuses %s before it starts (no event)", async (_label, options) => {
    const events = new EventBus();
    const seen: unknown[] = [];
    events.on((e) => seen.push(e));
    const scope = { source: "test", logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined }, events };
    const e = (await runOperation(scope, "op", undefined, options as never, () => okAsync(1)))._unsafeUnwrapErr();
    expectRefusal(e, ["INVALID_ARGUMENT"]);
    expect(seen).toEqual([]);
  });
});
