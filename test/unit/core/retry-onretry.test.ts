import { errAsync, okAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { VolkitError } from "../../../src/core/errors.js";
import { withRetry } from "../../../src/core/retry.js";

const transient = (n: number): VolkitError => new VolkitError("COMMAND_FAILED", `flaky ${n}`, { transient: true });

describe("withRetry: onRetry fires only when a retry really follows", () => {
  it("retries: 2 with every attempt failing → 3 attempts, onRetry twice (attempts 1 and 2)", async () => {
    let calls = 0;
    const retried: Array<[string, number]> = [];
    const r = await withRetry(() => errAsync(transient(++calls)), { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 2, onRetry: (e, n) => retried.push([e.message, n]) });
    expect(r._unsafeUnwrapErr().message).toBe("flaky 3");
    expect(calls).toBe(3);
    expect(retried).toEqual([
      ["flaky 1", 1],
      ["flaky 2", 2],
    ]);
  });

  it("retries: 0 → one attempt and no onRetry", async () => {
    const retried: number[] = [];
    const r = await withRetry(() => errAsync(transient(1)), { retries: 0, onRetry: (_e, n) => retried.push(n) });
    expect(r._unsafeUnwrapErr().code).toBe("COMMAND_FAILED");
    expect(retried).toEqual([]);
  });

  it("a permanent error is not retried and not announced", async () => {
    let calls = 0;
    const retried: number[] = [];
    const r = await withRetry(
      () => {
        calls++;
        return errAsync(new VolkitError("VOLUME_NOT_FOUND", "gone"));
      },
      { retries: 3, minTimeoutMs: 1, onRetry: (_e, n) => retried.push(n) },
    );
    expect(r._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
    expect(calls).toBe(1);
    expect(retried).toEqual([]);
  });

  it("success on the second attempt → onRetry once, for attempt 1", async () => {
    let calls = 0;
    const retried: number[] = [];
    const r = await withRetry(() => (++calls === 1 ? errAsync(transient(1)) : okAsync("done")), { retries: 5, minTimeoutMs: 1, onRetry: (_e, n) => retried.push(n) });
    expect(r._unsafeUnwrap()).toBe("done");
    expect(retried).toEqual([1]);
  });
});
