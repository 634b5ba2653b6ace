import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { VolkitError } from "../../../src/core/errors.js";
import { withRetry } from "../../../src/core/retry.js";

const transient = (n: number): VolkitError => new VolkitError("COMMAND_FAILED", `flaky ${n}`, { transient: true });
const permanent = (): VolkitError => new VolkitError("INVALID_ARGUMENT", "bad input");

/** An attempt function that replays `script` (errors, then a value) and timestamps each call. */
function scripted<T>(script: ReadonlyArray<VolkitError | T>): { attempt: () => ResultAsync<T, VolkitError>; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    attempt: () => {
      const step = script[Math.min(calls.length, script.length - 1)] as VolkitError | T;
      calls.push(performance.now());
      return step instanceof VolkitError ? errAsync(step) : okAsync(step);
    },
  };
}

describe("withRetry", () => {
  it("retries transient failures until the attempt succeeds", async () => {
    const { attempt, calls } = scripted<string>([transient(1), transient(2), "done"]);
    const retried: Array<[string, number]> = [];
    const r = await withRetry(attempt, { minTimeoutMs: 5, onRetry: (e, n) => retried.push([e.message, n]) });
    expect(r._unsafeUnwrap()).toBe("done");
    expect(calls).toHaveLength(3);
    expect(retried).toEqual([
      ["flaky 1", 1],
      ["flaky 2", 2],
    ]);
  });

  it("backs off exponentially between attempts", async () => {
    const { attempt, calls } = scripted<string>([transient(1), transient(2), transient(3), "done"]);
    (await withRetry(attempt, { minTimeoutMs: 40, factor: 2, maxTimeoutMs: 10_000 }))._unsafeUnwrap();
    const gaps = calls.slice(1).map((t, i) => t - (calls[i] ?? 0));
    // Randomized back-off: delay n lies in [min·2^(n-1), 2·min·2^(n-1)].
    expect(gaps[0]).toBeGreaterThanOrEqual(38);
    expect(gaps[1]).toBeGreaterThanOrEqual(78);
    expect(gaps[2]).toBeGreaterThanOrEqual(158);
    expect(gaps[2]).toBeLessThan(400);
  });

  it("caps each delay at maxTimeoutMs", async () => {
    const { attempt, calls } = scripted<string>([transient(1), transient(2), "done"]);
    (await withRetry(attempt, { minTimeoutMs: 1000, maxTimeoutMs: 30 }))._unsafeUnwrap();
    expect((calls[2] ?? 0) - (calls[0] ?? 0)).toBeLessThan(300);
  });

  it("returns a permanent error at once, without retrying", async () => {
    const e = permanent();
    const { attempt, calls } = scripted<string>([e, "never"]);
    const r = await withRetry(attempt, { minTimeoutMs: 5 });
    expect(r._unsafeUnwrapErr()).toBe(e);
    expect(calls).toHaveLength(1);
  });

  it("gives up after `retries` retries with the last transient error", async () => {
    const { attempt, calls } = scripted<string>([transient(1), transient(2), transient(3), transient(4)]);
    const r = await withRetry(attempt, { retries: 2, minTimeoutMs: 5 });
    expect(calls).toHaveLength(3);
    expect(r._unsafeUnwrapErr().message).toBe("flaky 3");
  });

  it("lets the caller decide what is transient", async () => {
    const busy = new VolkitError("VOLUME_BUSY", "busy");
    const { attempt, calls } = scripted<string>([busy, "done"]);
    const r = await withRetry(attempt, { minTimeoutMs: 5, isTransient: (e) => e.code === "VOLUME_BUSY" });
    expect(r._unsafeUnwrap()).toBe("done");
    expect(calls).toHaveLength(2);
  });

  it("abort during the back-off stops waiting at once with ABORTED", async () => {
    const ac = new AbortController();
    const { attempt, calls } = scripted<string>([transient(1), "done"]);
    const t0 = performance.now();
    const pending = withRetry(attempt, { minTimeoutMs: 5000, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const r = await pending;
    expect(r._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(calls).toHaveLength(1);
  });

  it("an already-aborted signal → ABORTED without any attempt", async () => {
    const { attempt, calls } = scripted<string>(["done"]);
    const r = await withRetry(attempt, { signal: AbortSignal.abort() });
    expect(r._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(calls).toHaveLength(0);
  });

  it("a timeout signal during the back-off → TIMEOUT", async () => {
    const { attempt } = scripted<string>([transient(1), "done"]);
    const r = await withRetry(attempt, { minTimeoutMs: 5000, signal: AbortSignal.timeout(50) });
    expect(r._unsafeUnwrapErr().code).toBe("TIMEOUT");
  });

  it("an attempt that throws becomes an INTERNAL error, not a rejection", async () => {
    const r = await withRetry(() => {
      throw new Error("bug in attempt");
    });
    expect(r._unsafeUnwrapErr()).toMatchObject({ code: "INTERNAL" });
  });
});
