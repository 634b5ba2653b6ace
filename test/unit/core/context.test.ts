import { setTimeout as sleep } from "node:timers/promises";
import { errAsync, okAsync, ResultAsync } from "neverthrow";
import { describe, expect, it, vi } from "vitest";
import { abortReasonToError, backgroundContext, createOperationContext, rollbackContext } from "../../../src/core/context.js";
import { VolkitError } from "../../../src/core/errors.js";
import { EventBus, type VolkitEvent } from "../../../src/core/events.js";

function aborted(signal: AbortSignal): Promise<number> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(performance.now());
    else signal.addEventListener("abort", () => resolve(performance.now()), { once: true });
  });
}

describe("createOperationContext", () => {
  it("without signal or deadline: never aborted, no remaining time", () => {
    const ctx = createOperationContext({ operation: "createVolume", source: "memory", volumeId: "v1" });
    expect(ctx).toMatchObject({ operation: "createVolume", source: "memory", volumeId: "v1", deadline: undefined });
    expect(ctx.signal.aborted).toBe(false);
    expect(ctx.remainingMs()).toBeUndefined();
    expect(ctx.abortError()).toBeUndefined();
  });

  it("a deadline aborts the context signal at that time with TIMEOUT", async () => {
    const t0 = performance.now();
    const ctx = createOperationContext({ operation: "op", source: "t", deadline: Date.now() + 80 });
    expect(ctx.remainingMs()).toBeGreaterThan(40);
    expect(ctx.remainingMs()).toBeLessThanOrEqual(80);
    const firedAt = await aborted(ctx.signal);
    expect(firedAt - t0).toBeGreaterThanOrEqual(70);
    expect(ctx.abortError()?.code).toBe("TIMEOUT");
    expect(ctx.abortError()?.source).toBe("t");
    expect(ctx.remainingMs()).toBe(0);
  });

  it("accepts the deadline as a Date", async () => {
    const ctx = createOperationContext({ operation: "op", source: "t", deadline: new Date(Date.now() + 30) });
    expect(typeof ctx.deadline).toBe("number");
    await aborted(ctx.signal);
    expect(ctx.abortError()?.code).toBe("TIMEOUT");
  });

  it("a deadline already past aborts at once", () => {
    const ctx = createOperationContext({ operation: "op", source: "t", deadline: Date.now() - 1 });
    expect(ctx.signal.aborted).toBe(true);
    expect(ctx.abortError()?.code).toBe("TIMEOUT");
  });

  it("the caller's abort → ABORTED", () => {
    const ac = new AbortController();
    const ctx = createOperationContext({ operation: "op", source: "t", signal: ac.signal, deadline: Date.now() + 60_000 });
    expect(ctx.signal.aborted).toBe(false);
    ac.abort();
    expect(ctx.signal.aborted).toBe(true);
    expect(ctx.abortError()?.code).toBe("ABORTED");
  });

  it("an already-aborted caller signal → ABORTED at once", () => {
    const ctx = createOperationContext({ operation: "op", source: "t", signal: AbortSignal.abort() });
    expect(ctx.abortError()?.code).toBe("ABORTED");
  });

  it("a caller AbortSignal.timeout() counts as TIMEOUT", async () => {
    const ctx = createOperationContext({ operation: "op", source: "t", signal: AbortSignal.timeout(20) });
    await aborted(ctx.signal);
    expect(ctx.abortError()?.code).toBe("TIMEOUT");
  });

  it("phase records name and duration on success and on failure, in order", async () => {
    const ctx = createOperationContext({ operation: "op", source: "t" });
    const a = await ctx.phase("first", () => ResultAsync.fromSafePromise(sleep(40).then(() => 1)));
    const b = await ctx.phase("second", () => errAsync(new VolkitError("INTERNAL", "x")));
    expect(a._unsafeUnwrap()).toBe(1);
    expect(b._unsafeUnwrapErr().code).toBe("INTERNAL");
    expect(ctx.phases.map((p) => p.name)).toEqual(["first", "second"]);
    expect(ctx.phases[0]?.durationMs).toBeGreaterThanOrEqual(35);
    expect(ctx.phases[1]?.durationMs).toBeLessThan(35);
  });

  it("phase does not start work once the context is aborted", async () => {
    const ac = new AbortController();
    const ctx = createOperationContext({ operation: "op", source: "t", signal: ac.signal });
    ac.abort();
    const work = vi.fn(() => okAsync(1));
    const r = await ctx.phase("never", work);
    expect(work).not.toHaveBeenCalled();
    expect(r._unsafeUnwrapErr()).toMatchObject({ code: "ABORTED" });
    expect(ctx.phases).toEqual([]);
  });

  it("progress publishes progress events with the operation's names", () => {
    const events = new EventBus();
    const seen: VolkitEvent[] = [];
    events.on((e) => seen.push(e));
    const ctx = createOperationContext({ operation: "createClonedVolume", source: "lvm", volumeId: "v2", events });
    ctx.progress("copy", 512, 1024);
    ctx.progress("wipe", 10);
    expect(seen).toEqual([
      { type: "progress", operation: "createClonedVolume", source: "lvm", volumeId: "v2", phase: "copy", bytesDone: 512, bytesTotal: 1024 },
      { type: "progress", operation: "createClonedVolume", source: "lvm", volumeId: "v2", phase: "wipe", bytesDone: 10 },
    ]);
  });
});

describe("rollbackContext / backgroundContext", () => {
  it("a rollback context ignores the caller's abort but has its own deadline", () => {
    const ac = new AbortController();
    const ctx = createOperationContext({ operation: "createVolume", source: "lvm", volumeId: "v1", signal: ac.signal });
    ac.abort();
    const rb = rollbackContext(ctx, 5000);
    expect(rb.signal.aborted).toBe(false);
    expect(rb.operation).toBe("createVolume:rollback");
    expect(rb.volumeId).toBe("v1");
    expect(rb.remainingMs()).toBeGreaterThan(4000);
    expect(rb.remainingMs()).toBeLessThanOrEqual(5000);
  });

  it("a background context is a plain, unbounded context", () => {
    const ctx = backgroundContext("scan", "iscsi");
    expect(ctx).toMatchObject({ operation: "scan", source: "iscsi", deadline: undefined });
    expect(ctx.signal.aborted).toBe(false);
  });
});

describe("abortReasonToError", () => {
  it("maps timeout-like reasons to TIMEOUT and everything else to ABORTED", () => {
    expect(abortReasonToError(new DOMException("t", "TimeoutError")).code).toBe("TIMEOUT");
    const deadline = new Error("d");
    deadline.name = "DeadlineExceeded";
    expect(abortReasonToError(deadline).code).toBe("TIMEOUT");
    expect(abortReasonToError(new DOMException("a", "AbortError")).code).toBe("ABORTED");
    expect(abortReasonToError(undefined, "x")).toMatchObject({ code: "ABORTED", source: "x" });
    expect(abortReasonToError("why").cause).toBe("why");
  });
});
