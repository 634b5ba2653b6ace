import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createOperationContext } from "../../../src/core/context.js";
import { EventBus, type ProgressEvent } from "../../../src/core/events.js";
import { QemuImg, parseConvertProgress, parseImageInfo } from "../../../src/data/qemu-img.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/qemu-img/${name}`, import.meta.url), "utf8");

const ctx = () => createOperationContext({ operation: "test", source: "test" });

describe("parseImageInfo (captured qemu-img 7.2 output)", () => {
  it("parses a raw image", () => {
    expect(parseImageInfo(fixture("info-raw.json"))._unsafeUnwrap()).toEqual({ format: "raw", virtualSize: 67_108_864, actualSize: 4096 });
  });

  it("parses a qcow2 image with its cluster size", () => {
    expect(parseImageInfo(fixture("info-qcow2.json"))._unsafeUnwrap()).toEqual({
      format: "qcow2",
      virtualSize: 67_108_864,
      actualSize: 200_704,
      clusterSize: 65_536,
    });
  });

  it("parses a qcow2 overlay with its backing file exactly as recorded (relative)", () => {
    expect(parseImageInfo(fixture("info-qcow2-backing.json"))._unsafeUnwrap()).toEqual({
      format: "qcow2",
      virtualSize: 67_108_864,
      actualSize: 200_704,
      clusterSize: 65_536,
      backingFilename: "disk.qcow2",
      backingFormat: "qcow2",
    });
  });

  it("rejects --backing-chain output (an array), not one image", () => {
    const e = parseImageInfo(fixture("info-backing-chain.json"))._unsafeUnwrapErr();
    expect(e).toMatchObject({ code: "PARSE_ERROR", source: "qemu-img" });
    expect(e.message).toMatch(/--backing-chain/);
  });

  it.each([
    ["an error message", "qemu-img: Could not open 'x.qcow2': No such file or directory"],
    ["empty output", ""],
    ["truncated JSON", fixture("info-qcow2.json").slice(0, 100)],
  ])("rejects %s as PARSE_ERROR with the JSON error as cause", (_what, text) => {
    const e = parseImageInfo(text)._unsafeUnwrapErr();
    expect(e.code).toBe("PARSE_ERROR");
    expect(e.cause).toBeInstanceOf(SyntaxError);
  });

  it.each([
    ["null", "null"],
    ["a number", "42"],
    ["a string", '"raw"'],
    ["no format", '{"virtual-size": 1024}'],
    ["no virtual-size", '{"format": "raw"}'],
    ["a string virtual-size", '{"format": "raw", "virtual-size": "1024"}'],
    ["a negative virtual-size", '{"format": "raw", "virtual-size": -1}'],
    ["a fractional virtual-size", '{"format": "raw", "virtual-size": 1.5}'],
  ])("rejects JSON with %s", (_what, text) => {
    expect(parseImageInfo(text)._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
  });

  it("ignores optional fields of the wrong type instead of passing them on", () => {
    const text = JSON.stringify({ format: "qcow2", "virtual-size": 1024, "actual-size": "big", "backing-filename": 7, "cluster-size": null });
    expect(parseImageInfo(text)._unsafeUnwrap()).toEqual({ format: "qcow2", virtualSize: 1024 });
  });
});

describe("parseConvertProgress", () => {
  it("returns the last report of a captured `convert -p` stream as a fraction", () => {
    const captured = fixture("convert-progress.txt");
    expect(captured).toContain("\r");
    expect(parseConvertProgress(captured)).toBe(1);
  });

  it("reads every captured report in order, each between 0 and 1", () => {
    const reports = fixture("convert-progress.txt").split("\r").map(parseConvertProgress).filter((v) => v !== undefined);
    expect(reports.length).toBeGreaterThan(2);
    expect(reports[0]).toBe(0);
    expect(reports.at(-1)).toBe(1);
    expect(reports).toEqual([...reports].sort((a, b) => a - b));
  });

  it("parses a single report and the last of several", () => {
    expect(parseConvertProgress("    (45.00/100%)\r")).toBe(0.45);
    expect(parseConvertProgress("    (3.12/100%)\r    (6.25/100%)\r")).toBe(0.0625);
  });

  it.each(["", "\r", "    (45.0", "qemu-img: error while writing", "(45/50%)"])("returns undefined for %j", (text) => {
    expect(parseConvertProgress(text)).toBeUndefined();
  });
});

describe("QemuImg argv", () => {
  it("info passes the format explicitly and parses the output", async () => {
    const runner = new FakeRunner().on(["qemu-img", "info"], { stdout: fixture("info-qcow2.json") });
    const info = await new QemuImg(runner).info("/img/disk.qcow2", ctx(), "qcow2");
    expect(info._unsafeUnwrap().clusterSize).toBe(65_536);
    expect(runner.commands()).toEqual([["qemu-img", "info", "--output=json", "-f", "qcow2", "/img/disk.qcow2"]]);
    expect(runner.calls[0]?.env).toEqual({ LC_ALL: "C" });
  });

  it("create passes backing file, format and preallocation as one -o list", async () => {
    const runner = new FakeRunner().on(["qemu-img", "create"], {});
    (await new QemuImg(runner).create({ path: "/img/top.qcow2", format: "qcow2", sizeBytes: 1024, backingFile: "base.qcow2", backingFormat: "qcow2", preallocation: "metadata" }, ctx()))._unsafeUnwrap();
    expect(runner.commands()).toEqual([["qemu-img", "create", "-q", "-f", "qcow2", "-o", "backing_file=base.qcow2,backing_fmt=qcow2,preallocation=metadata", "/img/top.qcow2", "1024"]]);
  });

  it.each([
    ["a comma in the backing file (option injection)", { backingFile: "a.qcow2,size=1" }],
    ["a space in the backing file", { backingFile: "my disk.qcow2" }],
    ["a path that starts with '-'", { path: "-f" }],
    ["an empty path", { path: "" }],
    ["a zero size", { sizeBytes: 0 }],
    ["a fractional size", { sizeBytes: 1.5 }],
  ])("create refuses %s without running qemu-img", async (_what, patch) => {
    const runner = new FakeRunner();
    const r = await new QemuImg(runner).create({ path: "/img/a.qcow2", format: "qcow2", sizeBytes: 1024, ...patch }, ctx());
    expect(r._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(runner.calls).toHaveLength(0);
  });

  it("resize never shrinks and validates the size", async () => {
    const runner = new FakeRunner().on(["qemu-img", "resize"], {});
    const img = new QemuImg(runner);
    (await img.resize("/img/a.raw", 2048, "raw", ctx()))._unsafeUnwrap();
    expect(runner.commands()).toEqual([["qemu-img", "resize", "-q", "-f", "raw", "/img/a.raw", "2048"]]);
    expect((await img.resize("/img/a.raw", -1, "raw", ctx()))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(runner.calls).toHaveLength(1);
  });

  it("convert to a device uses -n and cache none, validates -o values", async () => {
    const runner = new FakeRunner().on(["qemu-img", "convert"], {});
    const img = new QemuImg(runner);
    (await img.convert({ source: "/img/a.qcow2", sourceFormat: "qcow2", target: "/dev/vg/v", targetFormat: "raw", targetIsDevice: true }, ctx()))._unsafeUnwrap();
    expect(runner.commands()).toEqual([["qemu-img", "convert", "-p", "-f", "qcow2", "-O", "raw", "-t", "none", "-n", "/img/a.qcow2", "/dev/vg/v"]]);
    const bad = await img.convert({ source: "/a", target: "/b", targetFormat: "qcow2", targetOptions: { compat: "1.1,backing_file=/etc/shadow" } }, ctx());
    expect(bad._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    const dash = await img.convert({ source: "-U", target: "/b", targetFormat: "raw" }, ctx());
    expect(dash._unsafeUnwrapErr().message).toMatch(/unsafe image path '-U'/);
    expect(runner.calls).toHaveLength(1);
  });

  it("convert turns the captured progress stream into progress events, even when reports are split across chunks", async () => {
    const captured = fixture("convert-progress.txt");
    const runner = new FakeRunner().on(["qemu-img", "convert"], (spec) => {
      // Deliver the stream in 7-byte pieces so that reports straddle chunk boundaries.
      for (let i = 0; i < captured.length; i += 7) spec.onStdout?.(captured.slice(i, i + 7));
      return {};
    });
    const events = new EventBus();
    const seen: ProgressEvent[] = [];
    events.on((e) => {
      if (e.type === "progress") seen.push(e);
    });
    const c = createOperationContext({ operation: "import", source: "test", events });
    (await new QemuImg(runner).convert({ source: "/a.raw", sourceFormat: "raw", target: "/b.qcow2", targetFormat: "qcow2", bytesTotal: 32 * 1024 * 1024 }, c))._unsafeUnwrap();
    const expected = captured.split("\r").map(parseConvertProgress).filter((v) => v !== undefined);
    expect(seen.map((e) => e.bytesDone)).toEqual(expected.map((f) => Math.round(f * 32 * 1024 * 1024)));
    expect(seen.at(-1)).toMatchObject({ phase: "convert", bytesDone: 32 * 1024 * 1024, bytesTotal: 32 * 1024 * 1024 });
  });

  it("convert reports percent when the size is unknown", async () => {
    const runner = new FakeRunner().on(["qemu-img", "convert"], { stdout: "    (0.00/100%)\r    (50.00/100%)\r" });
    const events = new EventBus();
    const seen: ProgressEvent[] = [];
    events.on((e) => {
      if (e.type === "progress") seen.push(e);
    });
    (await new QemuImg(runner).convert({ source: "/a", target: "/b", targetFormat: "raw" }, createOperationContext({ operation: "x", source: "t", events })))._unsafeUnwrap();
    expect(seen.map((e) => [e.bytesDone, e.bytesTotal])).toEqual([[50, 100]]);
  });

  it("commit and rebase argv", async () => {
    const runner = new FakeRunner().on(["qemu-img"], {});
    const img = new QemuImg(runner);
    (await img.commit("/img/mid.qcow2", "qcow2", ctx()))._unsafeUnwrap();
    (await img.rebase("/img/top.qcow2", "base.qcow2", "qcow2", true, ctx()))._unsafeUnwrap();
    (await img.rebase("/img/top.qcow2", "base.qcow2", "qcow2", false, ctx()))._unsafeUnwrap();
    expect(runner.commands()).toEqual([
      ["qemu-img", "commit", "-q", "-f", "qcow2", "/img/mid.qcow2"],
      ["qemu-img", "rebase", "-q", "-f", "qcow2", "-u", "-b", "base.qcow2", "-F", "qcow2", "/img/top.qcow2"],
      ["qemu-img", "rebase", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "/img/top.qcow2"],
    ]);
  });

  it("surfaces qemu-img's failure as COMMAND_FAILED", async () => {
    const runner = new FakeRunner().on(["qemu-img", "info"], { exitCode: 1, stderr: "qemu-img: Could not open 'nonexistent.qcow2': Could not open 'nonexistent.qcow2': No such file or directory\n" });
    const r = await new QemuImg(runner).info("nonexistent.qcow2", ctx(), "qcow2");
    expect(r._unsafeUnwrapErr()).toMatchObject({ code: "COMMAND_FAILED", details: { exitCode: 1 } });
    expect(r._unsafeUnwrapErr().message).toMatch(/No such file or directory/);
  });
});
