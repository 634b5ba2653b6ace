import { getEventListeners, setMaxListeners } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { abortReasonToError } from "../../../src/core/context.js";
import { createCommandStop, raceAbort } from "../../../src/exec/cancellation.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("createCommandStop", () => {
  it("fires on its time limit with cause timeout and a reason that maps to TIMEOUT", () => {
    vi.useFakeTimers();
    const stop = createCommandStop({ timeoutMs: 500 });
    vi.advanceTimersByTime(499);
    expect(stop.signal.aborted).toBe(false);
    expect(stop.cause).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(stop.signal.aborted).toBe(true);
    expect(stop.cause).toEqual({ kind: "timeout", timeoutMs: 500 });
    expect(abortReasonToError(stop.signal.reason).code).toBe("TIMEOUT");
    stop.dispose();
  });

  it("fires on the caller's abort with its reason, and the first cause wins", () => {
    vi.useFakeTimers();
    const caller = new AbortController();
    const stop = createCommandStop({ signal: caller.signal, timeoutMs: 1000 });
    const reason = new Error("user pressed stop");
    caller.abort(reason);
    expect(stop.signal.aborted).toBe(true);
    expect(stop.signal.reason).toBe(reason);
    expect(stop.cause).toEqual({ kind: "abort", reason });
    vi.advanceTimersByTime(5000); // the time limit passing later changes nothing
    expect(stop.cause).toEqual({ kind: "abort", reason });
    stop.dispose();
  });

  it("is stopped at once when the caller's signal has already aborted", () => {
    const stop = createCommandStop({ signal: AbortSignal.abort("gone"), timeoutMs: 10 });
    expect(stop.signal.aborted).toBe(true);
    expect(stop.cause).toEqual({ kind: "abort", reason: "gone" });
    stop.dispose();
  });

  it("never fires without a caller signal or a time limit", () => {
    vi.useFakeTimers();
    const stop = createCommandStop({});
    vi.advanceTimersByTime(24 * 3600_000);
    expect(stop.signal.aborted).toBe(false);
    stop.dispose();
  });

  it("dispose unlinks from the caller's signal and clears the timer", () => {
    vi.useFakeTimers();
    const caller = new AbortController();
    setMaxListeners(100, caller.signal); // 50 at once on purpose
    const stops = Array.from({ length: 50 }, () => createCommandStop({ signal: caller.signal, timeoutMs: 100 }));
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(50);
    for (const stop of stops) stop.dispose();
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
    caller.abort();
    vi.advanceTimersByTime(1000);
    expect(stops.every((s) => !s.signal.aborted)).toBe(true);
  });

  it("never aborts the caller's signal", () => {
    vi.useFakeTimers();
    const caller = new AbortController();
    const stop = createCommandStop({ signal: caller.signal, timeoutMs: 10 });
    vi.advanceTimersByTime(10);
    expect(stop.signal.aborted).toBe(true);
    expect(caller.signal.aborted).toBe(false);
    stop.dispose();
  });
});

describe("raceAbort", () => {
  it("resolves with the promise's value when it settles first, and removes its listener", async () => {
    const ac = new AbortController();
    expect(await raceAbort(Promise.resolve(42), ac.signal)).toEqual({ aborted: false, value: 42 });
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });

  it("resolves as aborted with the reason as soon as the signal fires, without waiting for the promise", async () => {
    const ac = new AbortController();
    let settle!: (v: string) => void;
    const slow = new Promise<string>((resolve) => (settle = resolve));
    const raced = raceAbort(slow, ac.signal);
    ac.abort("stop now");
    expect(await raced).toEqual({ aborted: true, reason: "stop now" });
    settle("late"); // the late value is dropped
    expect(await raced).toEqual({ aborted: true, reason: "stop now" });
  });

  it("resolves as aborted at once for an already-aborted signal", async () => {
    const never = new Promise<never>(() => undefined);
    expect(await raceAbort(never, AbortSignal.abort("before"))).toEqual({ aborted: true, reason: "before" });
  });

  it("just waits when there is no signal", async () => {
    expect(await raceAbort(Promise.resolve("v"), undefined)).toEqual({ aborted: false, value: "v" });
  });

  it("rejects with the promise's own rejection, and removes its listener", async () => {
    const ac = new AbortController();
    const boom = new Error("boom");
    await expect(raceAbort(Promise.reject(boom), ac.signal)).rejects.toBe(boom);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });
});
