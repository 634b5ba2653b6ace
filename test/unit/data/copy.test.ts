import { describe, expect, it } from "vitest";
import { createOperationContext, type OperationContext } from "../../../src/core/context.js";
import { EventBus, type ProgressEvent } from "../../../src/core/events.js";
import { copyDevice, discardDevice, zeroDevice, type CopyClock } from "../../../src/data/copy.js";
import { DdProgressMeter } from "../../../src/data/dd.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";

const MiB = 1024 * 1024;

interface Harness {
  readonly ctx: OperationContext;
  readonly progress: ProgressEvent[];
  readonly controller: AbortController;
  readonly events: EventBus;
}

function harness(): Harness {
  const events = new EventBus();
  const progress: ProgressEvent[] = [];
  events.on((e) => {
    if (e.type === "progress") progress.push(e);
  });
  const controller = new AbortController();
  const ctx = createOperationContext({ operation: "createClonedVolume", source: "test", volumeId: "vol-1", events, signal: controller.signal });
  return { ctx, progress, controller, events };
}

/** A clock that only moves when told to: dd "takes" `ddMs` per run, sleeps advance time instantly. */
function fakeClock(): CopyClock & { t: number; readonly sleeps: number[] } {
  const clock = {
    t: 0,
    sleeps: [] as number[],
    now: () => clock.t,
    sleep: (ms: number, signal: AbortSignal): Promise<void> => {
      clock.sleeps.push(ms);
      if (signal.aborted) return Promise.reject(new Error("aborted"));
      clock.t += ms;
      return Promise.resolve();
    },
  };
  return clock;
}

describe("copyDevice", () => {
  it("runs one dd per chunk with byte offsets and the requested flags", async () => {
    const runner = new FakeRunner().on(["ionice"], {});
    const { ctx } = harness();
    const report = await copyDevice(
      runner,
      { source: "/dev/vg/src", target: "/dev/vg/dst", bytes: 2 * 4 * MiB + 512 * 1024, chunkBytes: 4 * MiB, blockBytes: 256 * 1024, sparse: true, ionice: ["ionice", "-c3"] },
      ctx,
    );
    expect(report._unsafeUnwrap()).toMatchObject({ bytes: 8.5 * MiB, chunks: 3 });
    const common = ["if=/dev/vg/src", "of=/dev/vg/dst", "bs=262144"];
    const flags = ["iflag=count_bytes,skip_bytes,direct", "oflag=seek_bytes,direct", "conv=notrunc,sparse", "status=none"];
    expect(runner.commands()).toEqual([
      ["ionice", "-c3", "dd", ...common, "skip=0", "seek=0", "count=4194304", ...flags],
      ["ionice", "-c3", "dd", ...common, "skip=4194304", "seek=4194304", "count=4194304", ...flags],
      ["ionice", "-c3", "dd", ...common, "skip=8388608", "seek=8388608", "count=524288", ...flags],
    ]);
  });

  it("runs one dd for the whole copy without a bandwidth limit or chunk size (1 MiB blocks, no conv=sparse or direct flags unless asked)", async () => {
    const runner = new FakeRunner().on(["dd"], {});
    const { ctx } = harness();
    const bytes = 3 * 1024 * MiB + 1000;
    const report = await copyDevice(runner, { source: "/a", target: "/b", bytes, direct: false }, ctx);
    expect(report._unsafeUnwrap()).toMatchObject({ bytes, chunks: 1 });
    expect(runner.commands()).toEqual([
      ["dd", "if=/a", "of=/b", "bs=1048576", "skip=0", "seek=0", `count=${bytes}`, "iflag=count_bytes,skip_bytes", "oflag=seek_bytes", "conv=notrunc", "status=progress"],
    ]);
    expect(runner.calls[0]?.signal).toBe(ctx.signal);
  });

  it("reports progress of the single dd from its status=progress lines, then the total", async () => {
    const bytes = 1024 * MiB;
    const stderr = [
      "104857600 bytes (105 MB, 100 MiB) copied, 1 s, 105 MB/s\r",
      "314572800 bytes (315 MB, 300 MiB) copied, 2 s, 157 MB/s\r",
      "1024+0 records in\n1024+0 records out\n",
      `${bytes} bytes (1.1 GB, 1.0 GiB) copied, 3.2 s, 335 MB/s\n`,
    ].join("");
    const runner = new FakeRunner().on(["dd"], { stderr });
    const { ctx, progress } = harness();
    (await copyDevice(runner, { source: "/a", target: "/b", bytes }, ctx))._unsafeUnwrap();
    expect(progress.map((p) => [p.phase, p.bytesDone, p.bytesTotal])).toEqual([
      ["copy", 100 * MiB, bytes],
      ["copy", 300 * MiB, bytes],
      ["copy", bytes, bytes],
    ]);
  });

  it("passes the context's signal to every dd", async () => {
    const runner = new FakeRunner().on(["dd"], {});
    const { ctx } = harness();
    (await copyDevice(runner, { source: "/a", target: "/b", bytes: 2 * MiB, chunkBytes: MiB }, ctx))._unsafeUnwrap();
    expect(runner.calls.map((c) => c.signal)).toEqual([ctx.signal, ctx.signal]);
  });

  it("emits one progress event per chunk with cumulative bytes", async () => {
    const runner = new FakeRunner().on(["dd"], {});
    const { ctx, progress } = harness();
    (await copyDevice(runner, { source: "/a", target: "/b", bytes: 3 * MiB - 4096, chunkBytes: MiB }, ctx))._unsafeUnwrap();
    expect(progress).toEqual([1, 2, 3].map((i) => ({
      type: "progress",
      operation: "createClonedVolume",
      source: "test",
      volumeId: "vol-1",
      phase: "copy",
      bytesDone: Math.min(i * MiB, 3 * MiB - 4096),
      bytesTotal: 3 * MiB - 4096,
    })));
  });

  it("copies nothing for zero bytes", async () => {
    const runner = new FakeRunner();
    const { ctx, progress } = harness();
    expect((await copyDevice(runner, { source: "/a", target: "/b", bytes: 0 }, ctx))._unsafeUnwrap()).toMatchObject({ bytes: 0, chunks: 0 });
    expect(runner.calls).toHaveLength(0);
    expect(progress).toHaveLength(0);
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])("rejects byte count %s without running dd", async (bytes) => {
    const runner = new FakeRunner();
    const r = await copyDevice(runner, { source: "/a", target: "/b", bytes, direct: false }, harness().ctx);
    expect(r._unsafeUnwrapErr()).toMatchObject({ code: "INVALID_ARGUMENT", source: "copy" });
    expect(r._unsafeUnwrapErr().message).toMatch(/byte count must be a non-negative integer/);
    expect(runner.calls).toHaveLength(0);
  });

  it.each([
    [{ chunkBytes: 0 }, /chunkBytes must be a positive integer/],
    [{ chunkBytes: -MiB }, /chunkBytes must be a positive integer/],
    [{ blockBytes: 0 }, /blockBytes must be a positive integer/],
    [{ bandwidthLimitBps: -1 }, /bandwidthLimitBps must be a non-negative number/],
    [{ bandwidthLimitBps: Number.NaN }, /bandwidthLimitBps must be a non-negative number/],
    [{ chunkBytes: 1_000_000 }, /with direct I\/O chunkBytes must be a multiple of 4096/],
    [{ blockBytes: 1000 }, /with direct I\/O blockBytes must be a multiple of 4096/],
  ])("rejects options %o (a zero chunk would loop forever)", async (options, message) => {
    const runner = new FakeRunner();
    const r = await copyDevice(runner, { source: "/a", target: "/b", bytes: MiB, ...options }, harness().ctx);
    expect(r._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(r._unsafeUnwrapErr().message).toMatch(message);
    expect(runner.calls).toHaveLength(0);
  });

  it("requires a sector-multiple length for a direct copy, but not for a buffered one", async () => {
    const runner = new FakeRunner().on(["dd"], {});
    const direct = await copyDevice(runner, { source: "/a", target: "/b", bytes: 1000 }, harness().ctx);
    expect(direct._unsafeUnwrapErr().message).toMatch(/multiple of 512, got 1000; pass direct: false/);
    expect(runner.calls).toHaveLength(0);
    (await copyDevice(runner, { source: "/a", target: "/b", bytes: 1000, direct: false }, harness().ctx))._unsafeUnwrap();
    expect(runner.commandsOf("dd")).toHaveLength(1);
  });

  it("stops between chunks with ABORTED when the caller aborts, and runs no further dd", async () => {
    const runner = new FakeRunner().on(["dd"], {});
    const { ctx, controller, progress, events } = harness();
    events.on((e) => {
      if (e.type === "progress" && e.bytesDone === MiB) controller.abort();
    });
    const error = (await copyDevice(runner, { source: "/a", target: "/b", bytes: 4 * MiB, chunkBytes: MiB }, ctx))._unsafeUnwrapErr();
    expect(error.code).toBe("ABORTED");
    expect(runner.commandsOf("dd")).toHaveLength(1);
    expect(progress.map((p) => p.bytesDone)).toEqual([MiB]);
  });

  it("fails with TIMEOUT, not ABORTED, when the deadline has passed", async () => {
    const runner = new FakeRunner().on(["dd"], {});
    const ctx = createOperationContext({ operation: "clone", source: "test", deadline: Date.now() - 1 });
    const r = await copyDevice(runner, { source: "/a", target: "/b", bytes: MiB }, ctx);
    expect(r._unsafeUnwrapErr().code).toBe("TIMEOUT");
    expect(runner.calls).toHaveLength(0);
  });

  it("kills the running dd when aborted within a chunk (the runner sees the abort)", async () => {
    const runner = new FakeRunner().on(["dd"], { delayMs: 60_000 });
    const { ctx, controller } = harness();
    const pending = copyDevice(runner, { source: "/a", target: "/b", bytes: 2 * MiB, chunkBytes: MiB }, ctx);
    controller.abort();
    expect((await pending)._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(runner.commandsOf("dd")).toHaveLength(1);
  });

  it("kills the single dd when aborted during an unpaced copy", async () => {
    const runner = new FakeRunner().on(["dd"], { delayMs: 60_000 });
    const { ctx, controller, progress } = harness();
    const pending = copyDevice(runner, { source: "/a", target: "/b", bytes: 1024 * MiB }, ctx);
    controller.abort();
    expect((await pending)._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(runner.commandsOf("dd")).toHaveLength(1);
    expect(progress).toEqual([]);
  });

  it("returns the dd failure as COMMAND_FAILED and stops", async () => {
    const runner = new FakeRunner()
      .once(["dd"], {})
      .once(["dd"], { exitCode: 1, stderr: "dd: error writing '/dev/vg/dst': No space left on device\n" });
    const r = await copyDevice(runner, { source: "/a", target: "/dev/vg/dst", bytes: 3 * MiB, chunkBytes: MiB }, harness().ctx);
    expect(r._unsafeUnwrapErr()).toMatchObject({ code: "COMMAND_FAILED", details: { exitCode: 1 } });
    expect(r._unsafeUnwrapErr().message).toMatch(/No space left on device/);
    expect(runner.commandsOf("dd")).toHaveLength(2);
  });
});

describe("O_DIRECT failures", () => {
  it("maps a path refusing O_DIRECT at open to NOT_SUPPORTED, never retrying buffered", async () => {
    const runner = new FakeRunner().on(["dd"], { exitCode: 1, stderr: "dd: failed to open '/mnt/fuse/disk': Invalid argument\n" });
    const r = await copyDevice(runner, { source: "/mnt/fuse/disk", target: "/b", bytes: 2 * MiB, chunkBytes: MiB }, harness().ctx);
    const error = r._unsafeUnwrapErr();
    expect(error).toMatchObject({ code: "NOT_SUPPORTED", source: "copy", details: { directIo: "refused", path: "/mnt/fuse/disk", exitCode: 1 } });
    expect(error.message).toMatch(/O_DIRECT is not supported by '\/mnt\/fuse\/disk'.*retry with direct: false/);
    expect((error.cause as { code?: string }).code).toBe("COMMAND_FAILED");
    expect(runner.commandsOf("dd")).toHaveLength(1);
  });

  it("maps EINVAL on read or write under O_DIRECT to INVALID_ARGUMENT (misaligned)", async () => {
    const runner = new FakeRunner().on(["dd"], { exitCode: 1, stderr: "dd: error reading '/dev/sdx': Invalid argument\n" });
    const r = await copyDevice(runner, { source: "/dev/sdx", target: "/b", bytes: MiB }, harness().ctx);
    expect(r._unsafeUnwrapErr()).toMatchObject({ code: "INVALID_ARGUMENT", details: { directIo: "misaligned", path: "/dev/sdx" } });
  });

  it("leaves EINVAL alone when direct I/O was off", async () => {
    const runner = new FakeRunner().on(["dd"], { exitCode: 1, stderr: "dd: failed to open '/x': Invalid argument\n" });
    const r = await copyDevice(runner, { source: "/x", target: "/b", bytes: MiB, direct: false }, harness().ctx);
    expect(r._unsafeUnwrapErr().code).toBe("COMMAND_FAILED");
  });
});

describe("bandwidth pacing", () => {
  it("sleeps after each chunk until bytes/limit has elapsed, and not after the last chunk", async () => {
    const clock = fakeClock();
    const runner = new FakeRunner().on(["dd"], () => {
      clock.t += 250; // each dd "takes" 250 ms
      return {};
    });
    const { ctx } = harness();
    const r = await copyDevice(runner, { source: "/a", target: "/b", bytes: 3 * MiB, chunkBytes: MiB, bandwidthLimitBps: MiB, clock }, ctx);
    // 1 MiB at 1 MiB/s must take 1000 ms: 250 ms of dd, then 750 ms of sleep, twice; the last chunk is not followed by a pause.
    expect(clock.sleeps).toEqual([750, 750]);
    expect(r._unsafeUnwrap()).toEqual({ bytes: 3 * MiB, chunks: 3, durationMs: 2250 });
  });

  it("does not sleep when dd is already slower than the limit", async () => {
    const clock = fakeClock();
    const runner = new FakeRunner().on(["dd"], () => {
      clock.t += 2000;
      return {};
    });
    (await copyDevice(runner, { source: "/a", target: "/b", bytes: 3 * MiB, chunkBytes: MiB, bandwidthLimitBps: MiB, clock }, harness().ctx))._unsafeUnwrap();
    expect(clock.sleeps).toEqual([]);
  });

  it("never sleeps without a limit", async () => {
    const clock = fakeClock();
    const runner = new FakeRunner().on(["dd"], {});
    (await copyDevice(runner, { source: "/a", target: "/b", bytes: 3 * MiB, chunkBytes: MiB, bandwidthLimitBps: 0, clock }, harness().ctx))._unsafeUnwrap();
    expect(clock.sleeps).toEqual([]);
  });

  it("derives about one second of data per chunk from the limit when chunkBytes is not set", async () => {
    const clock = fakeClock();
    const runner = new FakeRunner().on(["dd"], {});
    const r = await copyDevice(runner, { source: "/a", target: "/b", bytes: 10 * MiB, bandwidthLimitBps: 4.5 * MiB, clock }, harness().ctx);
    expect(runner.commandsOf("dd").map((a) => a.find((x) => x.startsWith("count=")))).toEqual(["count=4194304", "count=4194304", "count=2097152"]);
    expect(r._unsafeUnwrap().chunks).toBe(3);
    // 4 MiB at 4.5 MiB/s, then 8 MiB: cumulative targets 888.9 ms and 1777.8 ms.
    expect(clock.sleeps.map((ms) => Math.round(ms * 10) / 10)).toEqual([888.9, 888.9]);
  });

  it("clamps the derived chunk to 1 MiB for slow limits and 64 MiB for fast ones", async () => {
    const slow = new FakeRunner().on(["dd"], {});
    (await copyDevice(slow, { source: "/a", target: "/b", bytes: 2 * MiB, bandwidthLimitBps: 100_000, clock: fakeClock() }, harness().ctx))._unsafeUnwrap();
    expect(slow.commandsOf("dd")).toHaveLength(2);
    const fast = new FakeRunner().on(["dd"], {});
    (await copyDevice(fast, { source: "/a", target: "/b", bytes: 128 * MiB, bandwidthLimitBps: 10 * 1024 * MiB, clock: fakeClock() }, harness().ctx))._unsafeUnwrap();
    expect(fast.commandsOf("dd")).toHaveLength(2);
  });

  it("stops with ABORTED when aborted during a pacing pause, and runs no further dd", async () => {
    const clock = fakeClock();
    const runner = new FakeRunner().on(["dd"], {});
    const { ctx, controller } = harness();
    const pausing: CopyClock = {
      now: () => clock.now(),
      sleep: (ms, signal) => {
        controller.abort();
        return clock.sleep(ms, signal);
      },
    };
    const r = await copyDevice(runner, { source: "/a", target: "/b", bytes: 3 * MiB, chunkBytes: MiB, bandwidthLimitBps: MiB, clock: pausing }, ctx);
    expect(r._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(runner.commandsOf("dd")).toHaveLength(1);
  });
});

describe("zeroDevice", () => {
  it("writes /dev/zero over exactly the requested bytes in chunks", async () => {
    const runner = new FakeRunner().on(["dd"], {});
    const { ctx, progress } = harness();
    const r = await zeroDevice(runner, { target: "/dev/vg/old", bytes: 2 * MiB + 12_345, chunkBytes: MiB }, ctx);
    expect(r._unsafeUnwrap()).toMatchObject({ bytes: 2 * MiB + 12_345, chunks: 3 });
    const tail = ["iflag=count_bytes", "oflag=seek_bytes,direct", "conv=notrunc", "status=none"];
    expect(runner.commands()).toEqual([
      ["dd", "if=/dev/zero", "of=/dev/vg/old", "bs=1048576", "seek=0", "count=1048576", ...tail],
      ["dd", "if=/dev/zero", "of=/dev/vg/old", "bs=1048576", "seek=1048576", "count=1048576", ...tail],
      ["dd", "if=/dev/zero", "of=/dev/vg/old", "bs=1048576", "seek=2097152", "count=12345", ...tail],
    ]);
    expect(progress.map((p) => [p.phase, p.bytesDone])).toEqual([["wipe", MiB], ["wipe", 2 * MiB], ["wipe", 2 * MiB + 12_345]]);
  });

  it("never uses conv=sparse (a wipe must write), honours direct: false, and runs one dd without a limit", async () => {
    const runner = new FakeRunner().on(["dd"], {});
    const r = await zeroDevice(runner, { target: "/f", bytes: 3 * 1024 * MiB, sparse: true, direct: false }, harness().ctx);
    expect(r._unsafeUnwrap()).toMatchObject({ chunks: 1 });
    expect(runner.commands()).toEqual([["dd", "if=/dev/zero", "of=/f", "bs=1048576", "seek=0", `count=${3 * 1024 * MiB}`, "iflag=count_bytes", "oflag=seek_bytes", "conv=notrunc", "status=progress"]]);
  });

  it("is paced in chunks under a bandwidth limit", async () => {
    const clock = fakeClock();
    const runner = new FakeRunner().on(["dd"], {});
    (await zeroDevice(runner, { target: "/f", bytes: 4 * MiB, bandwidthLimitBps: 2 * MiB, clock }, harness().ctx))._unsafeUnwrap();
    expect(runner.commandsOf("dd").map((a) => [a.find((x) => x.startsWith("seek=")), a.at(-1)])).toEqual([
      ["seek=0", "status=none"],
      ["seek=2097152", "status=none"],
    ]);
    expect(clock.sleeps).toEqual([1000]);
  });

  it("rejects an invalid byte count", async () => {
    const runner = new FakeRunner();
    const r = await zeroDevice(runner, { target: "/f", bytes: -5 }, harness().ctx);
    expect(r._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(runner.calls).toHaveLength(0);
  });
});

describe("DdProgressMeter", () => {
  it("reads counts from lines split across chunks and ignores the records lines", () => {
    const seen: number[] = [];
    const meter = new DdProgressMeter((n) => seen.push(n));
    for (const chunk of ["5242", "88000 bytes (524 MB, 500 MiB) copied, 2 s, 262 MB/s\r6", "29145600 bytes (629 MB) copied, 3 s\r", "1+0 records in\n1+0 rec", "ords out\n", "629145600 bytes copied\n"]) meter.push(chunk);
    expect(seen).toEqual([524_288_000, 629_145_600, 629_145_600]);
  });
});

describe("discardDevice", () => {
  it("runs blkdiscard on the device", async () => {
    const runner = new FakeRunner().on(["blkdiscard"], {});
    (await discardDevice(runner, "/dev/vg/thin", harness().ctx))._unsafeUnwrap();
    expect(runner.commands()).toEqual([["blkdiscard", "/dev/vg/thin"]]);
  });

  it("reports a device without discard support as COMMAND_FAILED", async () => {
    const runner = new FakeRunner().on(["blkdiscard"], { exitCode: 1, stderr: "blkdiscard: /dev/sdb: BLKDISCARD ioctl failed: Operation not supported\n" });
    const r = await discardDevice(runner, "/dev/sdb", harness().ctx);
    expect(r._unsafeUnwrapErr().message).toMatch(/Operation not supported/);
  });
});
