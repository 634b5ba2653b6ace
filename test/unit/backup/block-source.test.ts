import { describe, expect, it } from "vitest";
import { ExtentCursor, normalizeExtents, splitDev } from "../../../src/backup/index.js";

describe("allocation extents", () => {
  it("sorts, clips and merges overlapping or touching extents", () => {
    expect(
      normalizeExtents(
        [
          { offset: 900, length: 500 },
          { offset: 0, length: 10 },
          { offset: 5, length: 10 },
          { offset: 15, length: 5 },
          { offset: 100, length: 0 },
          { offset: -5, length: 7 },
        ],
        1000,
      ),
    ).toEqual([
      { offset: 0, length: 20 },
      { offset: 900, length: 100 },
    ]);
  });

  it("walks chunks in order, returning the covered parts relative to each chunk", () => {
    const cursor = new ExtentCursor(normalizeExtents([{ offset: 50, length: 200 }, { offset: 390, length: 20 }], 1000));
    expect(cursor.within(0, 100)).toEqual([{ offset: 50, length: 50 }]);
    expect(cursor.within(100, 200)).toEqual([{ offset: 0, length: 100 }]);
    expect(cursor.within(200, 300)).toEqual([{ offset: 0, length: 50 }]);
    expect(cursor.within(300, 400)).toEqual([{ offset: 90, length: 10 }]);
    expect(cursor.within(400, 500)).toEqual([{ offset: 0, length: 10 }]);
    expect(cursor.within(500, 600)).toEqual([]);
  });
});

describe("splitDev", () => {
  it("decodes major and minor like glibc", () => {
    expect(splitDev(BigInt((8 << 8) | 16))).toEqual({ major: 8, minor: 16 });
    expect(splitDev(0xfd00n)).toEqual({ major: 253, minor: 0 });
    // minor 300 of major 259 (nvme partitions): high minor bits live above bit 20.
    expect(splitDev((259n << 8n) | (300n & 0xffn) | ((300n & ~0xffn) << 12n))).toEqual({ major: 259, minor: 300 });
  });
});
