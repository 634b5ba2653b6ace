import { getEventListeners } from "node:events";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { errAsync, type ResultAsync } from "neverthrow";
import { describe, expect, expectTypeOf, it } from "vitest";
import { createOperationContext, type OperationContext } from "../../../src/core/context.js";
import { VolkitError } from "../../../src/core/errors.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Collects garbage until `ref` is cleared (a WeakRef target survives the job that created it). */
async function collected(ref: WeakRef<object>, rounds = 20): Promise<boolean> {
  for (let i = 0; i < rounds && ref.deref() !== undefined; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  return ref.deref() === undefined;
}

describe("createOperationContext with a caller signal shared by many operations", () => {
  it("adds at most one listener to the caller's signal, however many contexts follow it", () => {
    const shared = new AbortController();
    for (let i = 0; i < 50; i++) createOperationContext({ operation: `op${i}`, source: "t", signal: shared.signal });
    expect(getEventListeners(shared.signal, "abort").length).toBeLessThanOrEqual(1);
  });

  it("emits no MaxListenersExceededWarning after many operations", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on("warning", onWarning);
    try {
      const shared = new AbortController();
      for (let i = 0; i < 30; i++) createOperationContext({ operation: "op", source: "t", signal: shared.signal, deadline: Date.now() + 60_000 });
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("the caller's abort still reaches every context, with the caller's reason", () => {
    const shared = new AbortController();
    const contexts = Array.from({ length: 15 }, (_, i) => createOperationContext({ operation: `op${i}`, source: "t", signal: shared.signal }));
    const reason = new Error("shutting down");
    shared.abort(reason);
    expect(contexts.every((c) => c.signal.aborted && c.signal.reason === reason)).toBe(true);
    expect(contexts.map((c) => c.abortError()?.code)).toEqual(Array(15).fill("ABORTED"));
    // A context made after the abort starts aborted.
    expect(createOperationContext({ operation: "late", source: "t", signal: shared.signal }).abortError()?.code).toBe("ABORTED");
  });

  it("a finished operation's context is not kept alive by a long-lived caller signal", async () => {
    const shared = new AbortController();
    const make = (): WeakRef<AbortSignal> => {
      const ctx = createOperationContext({ operation: "op", source: "t", signal: shared.signal, deadline: Date.now() + 60_000 });
      ctx.signal.addEventListener("abort", () => undefined); // what execa, locks and sleeps do
      return new WeakRef(ctx.signal);
    };
    const refs = Array.from({ length: 5 }, make);
    for (const ref of refs) expect(await collected(ref)).toBe(true);
    expect(shared.signal.aborted).toBe(false);
  });

  it("while only the context's signal is kept (a running child, a sleep), the caller's abort and the deadline still reach it", async () => {
    const shared = new AbortController();
    // Keep the signals, drop the contexts: nothing but the signal references each context's controller.
    const followsCaller = createOperationContext({ operation: "op", source: "t", signal: shared.signal }).signal;
    const hasDeadline = createOperationContext({ operation: "op", source: "t", signal: shared.signal, deadline: Date.now() + 150 }).signal;
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
    if (!hasDeadline.aborted) await new Promise<void>((resolve) => hasDeadline.addEventListener("abort", () => resolve(), { once: true }));
    expect(hasDeadline.reason).toMatchObject({ name: "DeadlineExceeded" });
    expect(followsCaller.aborted).toBe(false);
    shared.abort(new Error("stop"));
    expect(followsCaller.aborted).toBe(true);
  });

  it("the deadline still aborts a context that follows a caller signal", async () => {
    const shared = new AbortController();
    const ctx = createOperationContext({ operation: "op", source: "t", signal: shared.signal, deadline: Date.now() + 30 });
    if (!ctx.signal.aborted) await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
    expect(ctx.abortError()?.code).toBe("TIMEOUT");
    expect(shared.signal.aborted).toBe(false);
  });
});

describe("OperationContext.phase typing", () => {
  it("an aborted phase's error is a VolkitError, and the type says so", async () => {
    const ctx: OperationContext = createOperationContext({ operation: "op", source: "t", signal: AbortSignal.abort() });
    const r = ctx.phase("never", (): ResultAsync<number, "E_CUSTOM"> => errAsync("E_CUSTOM" as const));
    expectTypeOf(r).toEqualTypeOf<ResultAsync<number, "E_CUSTOM" | VolkitError>>();
    const error = (await r)._unsafeUnwrapErr();
    expect(error).toBeInstanceOf(VolkitError);
    expect(error).toMatchObject({ code: "ABORTED" });
  });
});
