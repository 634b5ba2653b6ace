import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { backgroundContext } from "../../../src/core/context.js";
import { parseSeekData, seekDataArgv, seekDataExtents } from "../../../src/backup/index.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";

const fixture = (name: string): string => readFileSync(join(import.meta.dirname, "fixtures", name), "utf8");
const KiB = 1024;

describe("parseSeekData (xfs_io seek -a -r, captured)", () => {
  it("reads the data regions of a sparse file", () => {
    expect(parseSeekData(fixture("seek-sparse.txt"), 64 * 1024 * KiB)._unsafeUnwrap()).toEqual([
      { offset: 192 * KiB, length: 128 * KiB },
      { offset: 32000 * KiB, length: 64 * KiB },
    ]);
  });

  it("ends a region at the next mark, and the last at the file size", () => {
    expect(parseSeekData(fixture("seek-data-at-end.txt"), 1024 * KiB)._unsafeUnwrap()).toEqual([{ offset: 768 * KiB, length: 256 * KiB }]);
    expect(parseSeekData(fixture("seek-dense.txt"), 512 * KiB)._unsafeUnwrap()).toEqual([{ offset: 0, length: 512 * KiB }]);
  });

  it("finds nothing in an all-hole or empty file", () => {
    expect(parseSeekData(fixture("seek-all-hole.txt"), 1024 * KiB)._unsafeUnwrap()).toEqual([]);
    expect(parseSeekData(fixture("seek-empty.txt"), 0)._unsafeUnwrap()).toEqual([]);
  });

  it("clips regions to the size being backed up", () => {
    expect(parseSeekData(fixture("seek-sparse.txt"), 256 * KiB)._unsafeUnwrap()).toEqual([{ offset: 192 * KiB, length: 64 * KiB }]);
  });

  it("refuses output it does not understand", () => {
    expect(parseSeekData("Whence\tResult\nDATA\tsoon\n", 10)._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
    expect(parseSeekData("xfs_io: command \"seek\" not found\n", 10)._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
    expect(parseSeekData("DATA\t100\nHOLE\t50\n", 200)._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
  });

  it("runs xfs_io read-only with the path as its own argument", async () => {
    expect(seekDataArgv("/var/lib/x y.raw")).toEqual(["xfs_io", "-r", "-c", "seek -a -r 0", "/var/lib/x y.raw"]);
    const runner = new FakeRunner().on(["xfs_io"], { stdout: fixture("seek-dense.txt") });
    expect((await seekDataExtents(runner, "/img", 512 * KiB, backgroundContext()))._unsafeUnwrap()).toEqual([{ offset: 0, length: 512 * KiB }]);
    const missing = new FakeRunner().on(["xfs_io"], { exitCode: 127, stderr: "xfs_io: not found" });
    expect((await seekDataExtents(missing, "/img", 1, backgroundContext()))._unsafeUnwrapErr().code).toBe("COMMAND_FAILED");
  });
});
