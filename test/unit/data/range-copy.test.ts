import { describe, expect, it } from "vitest";
import { createOperationContext, type OperationContext } from "../../../src/core/context.js";
import { EventBus, type ProgressEvent } from "../../../src/core/events.js";
import { RANGES_PER_TABLE, copyRanges, packedTable } from "../../../src/data/range-copy.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";

const MiB = 1024 * 1024;
const KiB = 1024;
const SRC = "/dev/vg/volume-a";
const DST = "/dev/vg2/volume-b";

function context(signal?: AbortSignal): { ctx: OperationContext; progress: ProgressEvent[] } {
  const events = new EventBus();
  const progress: ProgressEvent[] = [];
  events.on((e) => {
    if (e.type === "progress") progress.push(e);
  });
  return { ctx: createOperationContext({ operation: "copy", source: "test", events, ...(signal ? { signal } : {}) }), progress };
}

const packedName = (argv: readonly string[], side: "src" | "dst"): string | undefined =>
  argv.find((a) => a.startsWith(side === "src" ? "if=" : "of="))?.replace(/^(if|of)=\/dev\/mapper\//, "");

describe("packedTable", () => {
  it("concatenates the ranges as linear targets in 512-byte sectors", () => {
    expect(packedTable(SRC, [{ offset: 0, length: MiB }, { offset: 300 * MiB, length: 64 * KiB }])).toEqual([
      `0 2048 linear ${SRC} 0`,
      `2048 128 linear ${SRC} 614400`,
    ]);
  });
});

describe("copyRanges", () => {
  it("packs the ranges of both devices, copies them with one dd, and removes the packed devices", async () => {
    const runner = new FakeRunner().on(["dmsetup"], {}).on(["dd"], {});
    const { ctx } = context();
    const ranges = [{ offset: 700 * MiB, length: MiB }, { offset: 0, length: 16 * MiB }, { offset: 300 * MiB, length: 64 * KiB }];
    const report = (await copyRanges(runner, { source: SRC, target: DST, ranges, sparse: true }, ctx))._unsafeUnwrap();
    expect(report).toMatchObject({ bytes: 17 * MiB + 64 * KiB, chunks: 1 });
    const [create, dd, remove] = runner.calls;
    expect(runner.calls.map((c) => c.argv[0])).toEqual(["dmsetup", "dd", "dmsetup"]);
    expect(create?.argv).toEqual(["dmsetup", "create", "--concise"]);
    const src = packedName(dd?.argv ?? [], "src");
    const dst = packedName(dd?.argv ?? [], "dst");
    expect(src).toMatch(/^volkit-copy-[0-9a-f]{12}-src$/);
    expect(dst).toBe(src?.replace(/-src$/, "-dst"));
    // Sorted: 16 MiB at 0, 64 KiB at 300 MiB, 1 MiB at 700 MiB; source read-only, target read-write.
    expect(create?.stdin).toBe(
      `${src},,,ro,0 32768 linear ${SRC} 0,32768 128 linear ${SRC} 614400,32896 2048 linear ${SRC} 1433600;` +
        `${dst},,,rw,0 32768 linear ${DST} 0,32768 128 linear ${DST} 614400,32896 2048 linear ${DST} 1433600`,
    );
    expect(dd?.argv).toEqual(["dd", `if=/dev/mapper/${src}`, `of=/dev/mapper/${dst}`, "bs=1048576", "skip=0", "seek=0", `count=${17 * MiB + 64 * KiB}`, "iflag=count_bytes,skip_bytes,direct", "oflag=seek_bytes,direct", "conv=notrunc,sparse", "status=progress"]);
    expect(remove?.argv).toEqual(["dmsetup", "remove", "--retry", src, dst]);
  });

  it("copies a single range in place with one dd and no device-mapper", async () => {
    const runner = new FakeRunner().on(["dd"], {});
    (await copyRanges(runner, { source: SRC, target: DST, ranges: [{ offset: 4 * MiB, length: 2 * MiB }, { offset: 5 * MiB, length: 2 * MiB }] }, context().ctx))._unsafeUnwrap();
    expect(runner.commands()).toEqual([
      ["dd", `if=${SRC}`, `of=${DST}`, "bs=1048576", `skip=${4 * MiB}`, `seek=${4 * MiB}`, `count=${3 * MiB}`, "iflag=count_bytes,skip_bytes,direct", "oflag=seek_bytes,direct", "conv=notrunc", "status=progress"],
    ]);
  });

  it("copies nothing for no ranges", async () => {
    const runner = new FakeRunner();
    expect((await copyRanges(runner, { source: SRC, target: DST, ranges: [] }, context().ctx))._unsafeUnwrap()).toMatchObject({ bytes: 0, chunks: 0 });
    expect(runner.calls).toEqual([]);
  });

  it("removes the packed devices when dd fails, and returns dd's error", async () => {
    const runner = new FakeRunner().on(["dmsetup"], {}).on(["dd"], { exitCode: 1, stderr: "dd: error writing '/dev/mapper/x': No space left on device\n" });
    const e = (await copyRanges(runner, { source: SRC, target: DST, ranges: [{ offset: 0, length: MiB }, { offset: 8 * MiB, length: MiB }] }, context().ctx))._unsafeUnwrapErr();
    expect(e.message).toMatch(/No space left/);
    expect(runner.commandsOf("dmsetup").map((a) => a[1])).toEqual(["create", "remove"]);
  });

  it("removes whatever the create made when it fails, and runs no dd", async () => {
    const runner = new FakeRunner().once(["dmsetup", "create"], { exitCode: 1, stderr: "device-mapper: reload ioctl failed: Invalid argument\n" }).on(["dmsetup", "remove"], { exitCode: 1 });
    const e = (await copyRanges(runner, { source: SRC, target: DST, ranges: [{ offset: 0, length: MiB }, { offset: 8 * MiB, length: MiB }] }, context().ctx))._unsafeUnwrapErr();
    expect(e.message).toMatch(/reload ioctl failed/);
    expect(runner.commandsOf("dmsetup").map((a) => a[1])).toEqual(["create", "remove"]);
    expect(runner.commandsOf("dd")).toEqual([]);
  });

  it("kills dd when the caller aborts and still removes the packed devices (with a signal of their own)", async () => {
    const controller = new AbortController();
    const runner = new FakeRunner().on(["dmsetup"], {}).on(["dd"], { delayMs: 60_000 });
    const pending = copyRanges(runner, { source: SRC, target: DST, ranges: [{ offset: 0, length: MiB }, { offset: 8 * MiB, length: MiB }] }, context(controller.signal).ctx);
    setTimeout(() => controller.abort(), 5);
    expect((await pending)._unsafeUnwrapErr().code).toBe("ABORTED");
    const remove = runner.calls.find((c) => c.argv[1] === "remove");
    expect(remove?.signal?.aborted).toBe(false);
  });

  it("splits a fragmented map into tables of at most RANGES_PER_TABLE ranges, with cumulative progress", async () => {
    const runner = new FakeRunner().on(["dmsetup"], {}).on(["dd"], {});
    const { ctx, progress } = context();
    const ranges = Array.from({ length: RANGES_PER_TABLE + 1 }, (_, i) => ({ offset: i * 128 * KiB, length: 64 * KiB }));
    const report = (await copyRanges(runner, { source: SRC, target: DST, ranges, sparse: true }, ctx))._unsafeUnwrap();
    expect(report).toMatchObject({ bytes: (RANGES_PER_TABLE + 1) * 64 * KiB, chunks: 2 });
    expect(runner.calls.map((c) => `${c.argv[0]} ${c.argv[1]?.startsWith("if=") ? "if" : (c.argv[1] ?? "")}`)).toEqual(["dmsetup create", "dd if", "dmsetup remove", "dmsetup create", "dd if", "dmsetup remove"]);
    expect(runner.calls[0]?.stdin?.toString().split(";")[0]?.split(",").length).toBe(4 + RANGES_PER_TABLE);
    expect(progress.map((p) => [p.bytesDone, p.bytesTotal])).toEqual([
      [RANGES_PER_TABLE * 64 * KiB, (RANGES_PER_TABLE + 1) * 64 * KiB],
      [(RANGES_PER_TABLE + 1) * 64 * KiB, (RANGES_PER_TABLE + 1) * 64 * KiB],
    ]);
  });

  it.each([
    [{ ranges: [{ offset: 100, length: MiB }] }, /multiples of 512/],
    [{ ranges: [{ offset: -512, length: 512 }] }, /multiples of 512/],
    [{ target: "/dev/mapper/a,b" }, /without spaces, commas/],
    [{ source: "/dev/x y" }, /without spaces, commas/],
    [{ source: "dev/relative" }, /absolute device paths/],
  ])("refuses %o before running anything", async (bad, message) => {
    const runner = new FakeRunner();
    const r = await copyRanges(runner, { source: SRC, target: DST, ranges: [{ offset: 0, length: MiB }, { offset: 4 * MiB, length: MiB }], ...bad }, context().ctx);
    expect(r._unsafeUnwrapErr()).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(r._unsafeUnwrapErr().message).toMatch(message);
    expect(runner.calls).toEqual([]);
  });
});
