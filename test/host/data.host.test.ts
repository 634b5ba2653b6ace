/**
 * The data layer against the real tools of this host: GNU dd through the real local runner,
 * qemu-img and qemu-io (Debian `qemu-utils`). No root needed; files live in a temporary directory
 * on a filesystem that accepts O_DIRECT (ext4/xfs/btrfs…), chosen at start.
 *
 *   npx vitest run --project host test/host/data.host.test.ts
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOperationContext, type OperationContext } from "../../src/core/context.js";
import { EventBus, type ProgressEvent } from "../../src/core/events.js";
import { copyDevice, zeroDevice } from "../../src/data/copy.js";
import { QemuImg } from "../../src/data/qemu-img.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZE = 32 * MiB;

/** Non-zero regions of the test source; the rest of the 32 MiB are holes that read as zeros. */
const DATA_REGIONS: ReadonlyArray<readonly [offset: number, length: number]> = [
  [0, MiB],
  [5 * MiB, 512 * KiB],
  [17 * MiB + 4 * KiB, 8 * KiB],
  [31 * MiB, MiB],
];
const NONZERO_BYTES = DATA_REGIONS.reduce((sum, [, length]) => sum + length, 0);

/** Room for filesystem metadata (extent blocks) in allocation checks. */
const ALLOCATION_SLACK = 128 * KiB;

const runner = createLocalRunner();
const qemu = new QemuImg(runner);
let dir = "";

function run(file: string, args: readonly string[]): string {
  return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function sha256Of(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Bytes the filesystem allocated for `path` (st_blocks × 512, what `stat -c %b` reports). */
function allocatedBytes(path: string): number {
  const fd = openSync(path, "r");
  fsyncSync(fd);
  closeSync(fd);
  return statSync(path).blocks * 512;
}

/** Writes the sparse 32 MiB test source: random data in {@link DATA_REGIONS}, holes elsewhere. */
function writeSource(path: string): Buffer {
  const image = Buffer.alloc(SIZE);
  writeFileSync(path, "");
  truncateSync(path, SIZE);
  const fd = openSync(path, "r+");
  for (const [offset, length] of DATA_REGIONS) {
    const data = randomBytes(length);
    data.copy(image, offset);
    writeSync(fd, data, 0, length, offset);
  }
  closeSync(fd);
  return image;
}

/** A fresh file of `size` bytes that is one hole (reads as zeros, allocates nothing). */
function sparseFile(path: string, size: number): void {
  writeFileSync(path, "");
  truncateSync(path, size);
}

/** Bytes covered by `bs`-sized blocks that hold at least one non-zero byte of the source. */
function touchedBlockBytes(bs: number): number {
  const blocks = new Set<number>();
  for (const [offset, length] of DATA_REGIONS) {
    for (let b = Math.floor(offset / bs); b * bs < offset + length; b++) blocks.add(b);
  }
  return blocks.size * bs;
}

function context(events?: EventBus, signal?: AbortSignal): OperationContext {
  return createOperationContext({ operation: "host-test", source: "test", ...(events ? { events } : {}), ...(signal ? { signal } : {}) });
}

/** PIDs of processes whose command line contains `needle` (other than pgrep itself). */
function processesMatching(needle: string): string[] {
  const r = spawnSync("pgrep", ["-f", needle], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean);
}

/** The first candidate directory whose filesystem accepts O_DIRECT, probed with dd itself. */
function directCapableDir(): string {
  const candidates = [process.env.VOLKIT_HOST_TMPDIR, "/var/tmp", tmpdir(), process.cwd()].filter((d): d is string => !!d);
  const tried: string[] = [];
  for (const base of candidates) {
    const fs = run("stat", ["-f", "-c", "%T", base]).trim();
    const probe = mkdtempSync(join(base, "volkit-data-"));
    const r = spawnSync("dd", ["if=/dev/zero", `of=${join(probe, "probe")}`, "bs=4096", "count=1", "oflag=direct", "status=none"], { encoding: "utf8" });
    if (r.status === 0) return probe;
    rmSync(probe, { recursive: true, force: true });
    tried.push(`${base} (${fs}): ${r.stderr.trim()}`);
  }
  throw new Error(`no directory on a filesystem that accepts O_DIRECT; tried ${tried.join("; ")}; set VOLKIT_HOST_TMPDIR`);
}

beforeAll(() => {
  dir = directCapableDir();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("copyDevice with dd on real files", () => {
  it("sparse copy into a fresh sparse target: same data, only the data blocks allocated (1 MiB dd blocks)", async () => {
    const src = join(dir, "sparse-src");
    const dst = join(dir, "sparse-dst-1m");
    const image = writeSource(src);
    sparseFile(dst, SIZE);
    const report = await copyDevice(runner, { source: src, target: dst, bytes: SIZE, sparse: true, direct: true, chunkBytes: 8 * MiB }, context());
    expect(report._unsafeUnwrap()).toMatchObject({ bytes: SIZE, chunks: 4 });
    expect(sha256(dst)).toBe(sha256Of(image));
    const allocated = allocatedBytes(dst);
    // dd skips whole all-zero output blocks: 4 of the 32 one-MiB blocks hold data.
    expect(touchedBlockBytes(MiB)).toBe(4 * MiB);
    expect(allocated).toBeGreaterThanOrEqual(NONZERO_BYTES);
    expect(allocated).toBeLessThanOrEqual(touchedBlockBytes(MiB) + ALLOCATION_SLACK);
  });

  it("sparse copy with 64 KiB dd blocks allocates no more than the non-zero data plus block granularity", async () => {
    const src = join(dir, "sparse-src");
    const dst = join(dir, "sparse-dst-64k");
    const image = writeSource(src);
    sparseFile(dst, SIZE);
    (await copyDevice(runner, { source: src, target: dst, bytes: SIZE, sparse: true, blockBytes: 64 * KiB }, context()))._unsafeUnwrap();
    expect(sha256(dst)).toBe(sha256Of(image));
    const allocated = allocatedBytes(dst);
    expect(allocated).toBeGreaterThanOrEqual(NONZERO_BYTES);
    expect(allocated).toBeLessThanOrEqual(touchedBlockBytes(64 * KiB) + ALLOCATION_SLACK);
    expect(touchedBlockBytes(64 * KiB) - NONZERO_BYTES).toBe(56 * KiB);
  });

  it("non-sparse copy into a fresh target allocates every block (the thin-clone pain point)", async () => {
    const src = join(dir, "sparse-src");
    const dst = join(dir, "full-dst");
    const image = writeSource(src);
    sparseFile(dst, SIZE);
    (await copyDevice(runner, { source: src, target: dst, bytes: SIZE, sparse: false }, context()))._unsafeUnwrap();
    expect(sha256(dst)).toBe(sha256Of(image));
    expect(allocatedBytes(dst)).toBeGreaterThanOrEqual(SIZE);
  });

  it("non-sparse copy over a target full of garbage leaves no stale byte behind", async () => {
    const src = join(dir, "sparse-src");
    const dst = join(dir, "garbage-dst");
    const image = writeSource(src);
    writeFileSync(dst, randomBytes(SIZE));
    (await copyDevice(runner, { source: src, target: dst, bytes: SIZE, sparse: false, chunkBytes: 4 * MiB }, context()))._unsafeUnwrap();
    expect(sha256(dst)).toBe(sha256Of(image));
  });

  it("sparse copy over garbage keeps stale data in the holes: sparse is only for targets that read as zeros", async () => {
    const src = join(dir, "sparse-src");
    const dst = join(dir, "garbage-sparse-dst");
    const image = writeSource(src);
    const garbage = randomBytes(SIZE);
    writeFileSync(dst, garbage);
    (await copyDevice(runner, { source: src, target: dst, bytes: SIZE, sparse: true }, context()))._unsafeUnwrap();
    const out = readFileSync(dst);
    expect(sha256Of(out)).not.toBe(sha256Of(image));
    // The data blocks were written; the all-zero 1 MiB block at 10 MiB was skipped and still holds garbage.
    expect(out.subarray(0, MiB).equals(image.subarray(0, MiB))).toBe(true);
    expect(out.subarray(10 * MiB, 11 * MiB).equals(garbage.subarray(10 * MiB, 11 * MiB))).toBe(true);
  });

  it("copies only the requested prefix: bytes beyond `bytes` are untouched", async () => {
    const src = join(dir, "sparse-src");
    const dst = join(dir, "prefix-dst");
    const image = writeSource(src);
    const garbage = randomBytes(SIZE);
    writeFileSync(dst, garbage);
    const bytes = 5 * MiB + 4 * KiB;
    (await copyDevice(runner, { source: src, target: dst, bytes, chunkBytes: 2 * MiB }, context()))._unsafeUnwrap();
    const out = readFileSync(dst);
    expect(sha256Of(out.subarray(0, bytes))).toBe(sha256Of(image.subarray(0, bytes)));
    expect(sha256Of(out.subarray(bytes))).toBe(sha256Of(garbage.subarray(bytes)));
  });

  it("emits one progress event per chunk with real dd", async () => {
    const src = join(dir, "sparse-src");
    const dst = join(dir, "progress-dst");
    writeSource(src);
    sparseFile(dst, SIZE);
    const events = new EventBus();
    const seen: ProgressEvent[] = [];
    events.on((e) => {
      if (e.type === "progress") seen.push(e);
    });
    (await copyDevice(runner, { source: src, target: dst, bytes: SIZE, chunkBytes: 8 * MiB }, context(events)))._unsafeUnwrap();
    expect(seen.map((e) => [e.phase, e.bytesDone, e.bytesTotal])).toEqual([8, 16, 24, 32].map((m) => ["copy", m * MiB, SIZE]));
  });
});

describe("O_DIRECT refusal", () => {
  it("fails with NOT_SUPPORTED when a path refuses O_DIRECT, and writes nothing (no buffered fallback)", async () => {
    // Character devices have no direct I/O: open(O_DIRECT) fails with EINVAL on every Linux, like
    // ramfs, many FUSE filesystems and tmpfs before Linux 6.6.
    const dst = join(dir, "refused-dst");
    const garbage = randomBytes(4 * MiB);
    writeFileSync(dst, garbage);
    const r = await copyDevice(runner, { source: "/dev/zero", target: dst, bytes: 4 * MiB, direct: true }, context());
    const error = r._unsafeUnwrapErr();
    expect(error).toMatchObject({ code: "NOT_SUPPORTED", source: "copy", details: { directIo: "refused", path: "/dev/zero", exitCode: 1 } });
    expect(error.message).toContain("dd: failed to open '/dev/zero': Invalid argument");
    expect(sha256(dst)).toBe(sha256Of(garbage));
    // The same copy succeeds when the caller opts out of direct I/O.
    (await copyDevice(runner, { source: "/dev/zero", target: dst, bytes: 4 * MiB, direct: false }, context()))._unsafeUnwrap();
    expect(sha256(dst)).toBe(sha256Of(Buffer.alloc(4 * MiB)));
  });

  it("rejects a direct copy whose length is not a multiple of 512 before running dd", async () => {
    const dst = join(dir, "odd-dst");
    sparseFile(dst, MiB);
    const r = await copyDevice(runner, { source: join(dir, "sparse-src"), target: dst, bytes: 1000, direct: true }, context());
    expect(r._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
  });
});

describe("zeroDevice with dd on a real file", () => {
  it("zeroes exactly the requested bytes and leaves the bytes after them untouched", async () => {
    const target = join(dir, "wipe-target");
    const original = randomBytes(8 * MiB);
    writeFileSync(target, original);
    const bytes = 3 * MiB + 12_345;
    const report = await zeroDevice(runner, { target, bytes, chunkBytes: MiB, direct: true }, context());
    expect(report._unsafeUnwrap()).toMatchObject({ bytes, chunks: 4 });
    const out = readFileSync(target);
    expect(out.length).toBe(8 * MiB);
    expect(sha256Of(out.subarray(0, bytes))).toBe(sha256Of(Buffer.alloc(bytes)));
    expect(out[bytes]).toBe(original[bytes]);
    expect(sha256Of(out.subarray(bytes))).toBe(sha256Of(original.subarray(bytes)));
  });
});

describe("cancellation with real dd", () => {
  it("stops a bandwidth-limited copy with ABORTED after the chunk in flight, leaving no dd behind", async () => {
    const unique = `paced-${process.pid}-${Date.now()}`;
    const src = join(dir, `${unique}-src`);
    const dst = join(dir, `${unique}-dst`);
    const image = randomBytes(16 * MiB);
    writeFileSync(src, image);
    sparseFile(dst, 16 * MiB);
    const controller = new AbortController();
    const events = new EventBus();
    const seen: number[] = [];
    events.on((e) => {
      if (e.type !== "progress") return;
      seen.push(e.bytesDone);
      controller.abort();
    });
    // 1 MiB/s over 16 MiB would take 16 s; the abort lands in the pause after the first chunk.
    const r = await copyDevice(runner, { source: src, target: dst, bytes: 16 * MiB, chunkBytes: MiB, bandwidthLimitBps: MiB }, context(events, controller.signal));
    expect(r._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(seen).toEqual([MiB]);
    const out = readFileSync(dst);
    expect(out.subarray(0, MiB).equals(image.subarray(0, MiB))).toBe(true);
    expect(sha256Of(out.subarray(MiB))).toBe(sha256Of(Buffer.alloc(15 * MiB)));
    expect(processesMatching(unique)).toEqual([]);
  });

  it("kills the dd child that is running when the caller aborts", async () => {
    const unique = `blocked-${process.pid}-${Date.now()}`;
    const fifo = join(dir, `${unique}-fifo`);
    const dst = join(dir, `${unique}-dst`);
    run("mkfifo", [fifo]);
    sparseFile(dst, MiB);
    const controller = new AbortController();
    // dd blocks opening a FIFO nobody writes to: it is guaranteed to be running when we abort.
    const pending = copyDevice(runner, { source: fifo, target: dst, bytes: MiB, direct: false }, context(undefined, controller.signal));
    const deadline = Date.now() + 15_000;
    while (processesMatching(unique).length === 0 && Date.now() < deadline) await sleep(20);
    expect(processesMatching(unique), "dd never started").toHaveLength(1);
    controller.abort();
    const r = await pending;
    expect(r._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(processesMatching(unique)).toEqual([]);
  });
});

describe("QemuImg with real qemu-img", () => {
  it("creates raw and qcow2 images that info parses", async () => {
    const raw = join(dir, "create.raw");
    const qcow = join(dir, "create.qcow2");
    (await qemu.create({ path: raw, format: "raw", sizeBytes: 16 * MiB }, context()))._unsafeUnwrap();
    (await qemu.create({ path: qcow, format: "qcow2", sizeBytes: 16 * MiB }, context()))._unsafeUnwrap();
    const rawInfo = (await qemu.info(raw, context(), "raw"))._unsafeUnwrap();
    const qcowInfo = (await qemu.info(qcow, context(), "qcow2"))._unsafeUnwrap();
    expect(rawInfo).toMatchObject({ format: "raw", virtualSize: 16 * MiB });
    expect(rawInfo.backingFilename).toBeUndefined();
    expect(qcowInfo).toMatchObject({ format: "qcow2", virtualSize: 16 * MiB, clusterSize: 64 * KiB });
    expect(statSync(raw).size).toBe(16 * MiB);
    expect(statSync(qcow).size).toBeLessThan(MiB);
  });

  it("resize grows raw and qcow2 images and keeps their data", async () => {
    for (const format of ["raw", "qcow2"] as const) {
      const path = join(dir, `grow.${format}`);
      (await qemu.create({ path, format, sizeBytes: 8 * MiB }, context()))._unsafeUnwrap();
      run("qemu-io", ["-f", format, "-c", "write -P 0x5a 0 1M", path]);
      (await qemu.resize(path, 24 * MiB, format, context()))._unsafeUnwrap();
      expect((await qemu.info(path, context(), format))._unsafeUnwrap().virtualSize).toBe(24 * MiB);
      expect(run("qemu-io", ["-f", format, "-c", "read -P 0x5a 0 1M", "-c", "read -P 0 8M 16M", path])).not.toMatch(/Pattern verification failed/);
    }
  });

  it("convert raw → qcow2 → raw preserves every byte", async () => {
    const src = join(dir, "roundtrip-src.raw");
    const image = writeSource(src);
    const qcow = join(dir, "roundtrip.qcow2");
    const back = join(dir, "roundtrip-back.raw");
    (await qemu.convert({ source: src, sourceFormat: "raw", target: qcow, targetFormat: "qcow2" }, context()))._unsafeUnwrap();
    const info = (await qemu.info(qcow, context(), "qcow2"))._unsafeUnwrap();
    expect(info.virtualSize).toBe(SIZE);
    (await qemu.convert({ source: qcow, sourceFormat: "qcow2", target: back, targetFormat: "raw" }, context()))._unsafeUnwrap();
    expect(sha256(back)).toBe(sha256Of(image));
    expect(sha256(back)).toBe(sha256(src));
  });

  it("convert reports progress events from qemu-img -p", async () => {
    const src = join(dir, "progress-src.raw");
    writeFileSync(src, randomBytes(64 * MiB));
    const events = new EventBus();
    const seen: ProgressEvent[] = [];
    events.on((e) => {
      if (e.type === "progress") seen.push(e);
    });
    const total = 64 * MiB;
    (await qemu.convert({ source: src, sourceFormat: "raw", target: join(dir, "progress.qcow2"), targetFormat: "qcow2", bytesTotal: total }, context(events)))._unsafeUnwrap();
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.every((e) => e.phase === "convert" && e.bytesTotal === total)).toBe(true);
    const done = seen.map((e) => e.bytesDone);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(done.at(-1)).toBe(total);
  });

  it("builds a 3-image chain with relative backing files, commits the middle, rebases the top and keeps the top's data", async () => {
    const chain = mkdtempSync(join(dir, "chain-"));
    const base = join(chain, "base.qcow2");
    const mid = join(chain, "mid.qcow2");
    const top = join(chain, "top.qcow2");
    const size = 8 * MiB;
    (await qemu.create({ path: base, format: "qcow2", sizeBytes: size }, context()))._unsafeUnwrap();
    (await qemu.create({ path: mid, format: "qcow2", sizeBytes: size, backingFile: "base.qcow2", backingFormat: "qcow2" }, context()))._unsafeUnwrap();
    (await qemu.create({ path: top, format: "qcow2", sizeBytes: size, backingFile: "mid.qcow2", backingFormat: "qcow2" }, context()))._unsafeUnwrap();
    // Distinct data per layer; each upper layer partly shadows the one below.
    run("qemu-io", ["-f", "qcow2", "-c", "write -P 0x11 0 4M", base]);
    run("qemu-io", ["-f", "qcow2", "-c", "write -P 0x22 1M 1M", mid]);
    run("qemu-io", ["-f", "qcow2", "-c", "write -P 0x33 1536K 1M", top]);
    const expected = Buffer.alloc(size);
    expected.fill(0x11, 0, 4 * MiB);
    expected.fill(0x22, MiB, 2 * MiB);
    expected.fill(0x33, 1536 * KiB, 2560 * KiB);

    const topInfo = (await qemu.info(top, context(), "qcow2"))._unsafeUnwrap();
    expect(topInfo).toMatchObject({ backingFilename: "mid.qcow2", backingFormat: "qcow2" });
    const before = join(chain, "top-before.raw");
    (await qemu.convert({ source: top, sourceFormat: "qcow2", target: before, targetFormat: "raw" }, context()))._unsafeUnwrap();
    expect(sha256(before)).toBe(sha256Of(expected));

    // Commit the middle layer into the base, then point the top straight at the base: the data
    // the top sees is identical, so an unsafe (header-only) rebase is correct.
    (await qemu.commit(mid, "qcow2", context()))._unsafeUnwrap();
    const baseAfter = join(chain, "base-after.raw");
    (await qemu.convert({ source: base, sourceFormat: "qcow2", target: baseAfter, targetFormat: "raw" }, context()))._unsafeUnwrap();
    const expectedBase = Buffer.alloc(size);
    expectedBase.fill(0x11, 0, 4 * MiB);
    expectedBase.fill(0x22, MiB, 2 * MiB);
    expect(sha256(baseAfter)).toBe(sha256Of(expectedBase));

    (await qemu.rebase(top, "base.qcow2", "qcow2", true, context()))._unsafeUnwrap();
    rmSync(mid);
    expect((await qemu.info(top, context(), "qcow2"))._unsafeUnwrap()).toMatchObject({ backingFilename: "base.qcow2", backingFormat: "qcow2" });
    const after = join(chain, "top-after.raw");
    (await qemu.convert({ source: top, sourceFormat: "qcow2", target: after, targetFormat: "raw" }, context()))._unsafeUnwrap();
    expect(sha256(after)).toBe(sha256Of(expected));
  });

  it("reports a missing image as COMMAND_FAILED with qemu-img's message", async () => {
    const r = await qemu.info(join(dir, "nope.qcow2"), context(), "qcow2");
    expect(r._unsafeUnwrapErr()).toMatchObject({ code: "COMMAND_FAILED", details: { exitCode: 1 } });
    expect(r._unsafeUnwrapErr().message).toMatch(/No such file or directory/);
  });
});
