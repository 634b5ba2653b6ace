import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as timers from "node:timers/promises";
import { afterAll, describe, expect, it, vi } from "vitest";
import { FileLocks } from "../../../src/core/locks.js";

// Records every back-off FileLocks asks for and returns at once, so the schedule is observed
// exactly instead of being inferred from wall-clock time.
const waits = vi.hoisted(() => ({ delays: [] as number[], abortAfter: Infinity, controller: undefined as AbortController | undefined }));
vi.mock("node:timers/promises", async (importOriginal) => {
  const real = await importOriginal<typeof timers>();
  return {
    ...real,
    setTimeout: (ms: number, value?: unknown) => {
      waits.delays.push(ms);
      if (waits.delays.length >= waits.abortAfter) waits.controller?.abort();
      return real.setImmediate(value);
    },
  };
});

const scratch = mkdtempSync(join(tmpdir(), "volkit-locks-poll-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("FileLocks polling while another live process holds the lock", () => {
  it("backs off from pollMs to about 100 ms at most, with jitter", async () => {
    const dir = join(scratch, "poll");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "k.lock"), `${process.ppid}\n`); // a live process holds it
    waits.delays.length = 0;
    waits.abortAfter = 40;
    waits.controller = new AbortController();
    const r = await new FileLocks({ directory: dir, pollMs: 50 }).acquire("k", waits.controller.signal);
    expect(r._unsafeUnwrapErr().code).toBe("ABORTED");
    const delays = waits.delays;
    expect(delays.length).toBe(40);
    expect(Math.max(...delays)).toBeLessThanOrEqual(125); // 100 ms + 25 % jitter; the old cap was 500
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(37); // 50 ms - 25 %
    const capped = delays.slice(5);
    expect(capped.every((d) => d >= 75)).toBe(true); // it reached the cap and stayed there
    expect(new Set(capped).size).toBeGreaterThan(5); // jittered, not lockstep
  });

  it("a pollMs above the cap is used as is", async () => {
    const dir = join(scratch, "slow");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "k.lock"), `${process.ppid}\n`);
    waits.delays.length = 0;
    waits.abortAfter = 10;
    waits.controller = new AbortController();
    const r = await new FileLocks({ directory: dir, pollMs: 400 }).acquire("k", waits.controller.signal);
    expect(r._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(waits.delays.every((d) => d >= 300 && d <= 500)).toBe(true);
  });
});
