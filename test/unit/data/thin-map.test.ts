import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createOperationContext } from "../../../src/core/context.js";
import { mergeRanges, parseThinDump, readThinMapping } from "../../../src/data/thin-map.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";

// Captured by test/fixtures/lvm/capture.sh: volume-bbbb (thin id 1, pool chunk 64 KiB) with 16 MiB
// written at 0, 64 KiB at 300 MiB and 1 MiB at 700 MiB.
const FIXTURES = join(import.meta.dirname, "../../fixtures/lvm");
const fx = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");
const MiB = 1024 * 1024;
const KiB = 1024;
const ref = { poolDmName: "volkit--thin-volkit--thin--pool-tpool", metadataDevice: "/dev/mapper/volkit--thin-volkit--thin--pool_tmeta", deviceId: 1 };
const ctx = (signal?: AbortSignal) => createOperationContext({ operation: "copy", source: "test", ...(signal ? { signal } : {}) });

describe("parseThinDump", () => {
  it("reads the pool's chunk size and the device's mapped ranges from real thin_dump output", () => {
    const map = parseThinDump(fx("thin-dump-bbbb.xml"), 1)._unsafeUnwrap();
    expect(map.blockBytes).toBe(64 * KiB);
    expect(map.ranges).toEqual([
      { offset: 0, length: 16 * MiB },
      { offset: 300 * MiB, length: 64 * KiB },
      { offset: 700 * MiB, length: MiB },
    ]);
    expect(map.mappedBlocks * map.blockBytes).toBe(17 * MiB + 64 * KiB);
  });

  it("refuses a dump cut short or missing mappings its header counts (never a short copy)", () => {
    const xml = fx("thin-dump-bbbb.xml");
    expect(parseThinDump(xml.slice(0, xml.indexOf("</device>")), 1)._unsafeUnwrapErr().message).toMatch(/not closed/);
    const lines = xml.split("\n");
    const withoutOne = lines.filter((l, i) => i !== lines.findIndex((x) => x.includes("_mapping"))).join("\n");
    expect(parseThinDump(withoutOne, 1)._unsafeUnwrapErr()).toMatchObject({ code: "PARSE_ERROR" });
    expect(parseThinDump(xml, 7)._unsafeUnwrapErr().message).toMatch(/device 7 is not in the dump/);
    expect(parseThinDump("not xml", 1)._unsafeUnwrapErr().message).toMatch(/superblock/);
  });
});

describe("mergeRanges", () => {
  it("sorts, merges touching and overlapping ranges, and drops empty ones", () => {
    expect(mergeRanges([{ offset: 10, length: 5 }, { offset: 0, length: 10 }, { offset: 30, length: 0 }, { offset: 12, length: 10 }, { offset: 40, length: 1 }])).toEqual([
      { offset: 0, length: 22 },
      { offset: 40, length: 1 },
    ]);
  });
});

describe("readThinMapping", () => {
  it("reserves a metadata snapshot, dumps the one device from it, and releases it", async () => {
    const runner = new FakeRunner().on(["dmsetup"], {}).on(["thin_dump"], { stdout: fx("thin-dump-bbbb.xml") });
    const map = (await readThinMapping(runner, ref, ctx()))._unsafeUnwrap();
    expect(map.ranges).toHaveLength(3);
    expect(runner.commands()).toEqual([
      ["dmsetup", "message", ref.poolDmName, "0", "reserve_metadata_snap"],
      ["thin_dump", "--metadata-snap", "--dev-id", "1", ref.metadataDevice],
      ["dmsetup", "message", ref.poolDmName, "0", "release_metadata_snap"],
    ]);
  });

  it("releases the snapshot when the dump fails, and returns the dump's error", async () => {
    const runner = new FakeRunner().on(["dmsetup"], {}).on(["thin_dump"], { exitCode: 1, stderr: fx("thin-dump-no-snap.stderr") });
    const e = (await readThinMapping(runner, ref, ctx()))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    expect(runner.commandsOf("dmsetup").map((a) => a[4])).toEqual(["reserve_metadata_snap", "release_metadata_snap"]);
  });

  it("releases the snapshot when the caller aborts during the dump", async () => {
    const controller = new AbortController();
    const runner = new FakeRunner().on(["dmsetup"], {}).on(["thin_dump"], { delayMs: 60_000 });
    const pending = readThinMapping(runner, ref, ctx(controller.signal));
    setTimeout(() => controller.abort(), 5);
    expect((await pending)._unsafeUnwrapErr().code).toBe("ABORTED");
    const release = runner.calls.find((c) => c.argv[4] === "release_metadata_snap");
    expect(release?.signal?.aborted).toBe(false);
  });

  it("reports a snapshot already held on the pool as CONFLICT and neither dumps nor releases it", async () => {
    const runner = new FakeRunner().on(["dmsetup"], { exitCode: 1, stderr: fx("dmsetup-reserve-held.stderr") });
    const e = (await readThinMapping(runner, ref, ctx()))._unsafeUnwrapErr();
    expect(e).toMatchObject({ code: "CONFLICT", details: { reason: "metadata-snapshot-held", pool: ref.poolDmName } });
    expect(runner.commands()).toEqual([["dmsetup", "message", ref.poolDmName, "0", "reserve_metadata_snap"]]);
  });
});
