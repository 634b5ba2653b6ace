import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { classifyLvmError, hasThickSnapshots, isActive, isOpen, isThickSnapshot, isThinPool, isThinVolume, parseLvs, parseVgs } from "../../../../src/drivers/lvm/lvm-parsers.js";

const fx = (name: string): string => readFileSync(join(import.meta.dirname, "../../../fixtures/lvm", name), "utf8");

describe("lvm2 JSON report parsers (lvm2 2.03.16 output)", () => {
  it("parses vgs in bytes", () => {
    const [vg] = parseVgs(fx("vgs-thick.json"))._unsafeUnwrap();
    expect(vg).toMatchObject({ name: "volkit-thick", sizeBytes: 10733223936, freeBytes: 8573157376, lvCount: 3, extentBytes: 4194304 });
    expect(vg?.uuid).toMatch(/^[A-Za-z0-9-]{38}$/);
  });

  it("parses an empty VG's lvs as no LVs", () => {
    expect(parseLvs(fx("lvs-thick-empty.json"))._unsafeUnwrap()).toEqual([]);
  });

  it("classifies thick origins, snapshots, open and active LVs from lv_attr", () => {
    const lvs = parseLvs(fx("lvs-thick.json"))._unsafeUnwrap();
    const by = new Map(lvs.map((l) => [l.name, l]));
    const origin = by.get("volume-aaaa");
    const snap = by.get("_snapshot-s1");
    expect(origin && hasThickSnapshots(origin)).toBe(true);
    expect(snap && isThickSnapshot(snap)).toBe(true);
    expect(snap?.origin).toBe("volume-aaaa");
    expect(snap?.tags).toEqual(["volkit-origin-aaaa"]);
    expect(origin && isActive(origin)).toBe(true);
    expect(origin && isOpen(origin)).toBe(false);
    const open = parseLvs(fx("lvs-thick-open.json"))._unsafeUnwrap()[0];
    expect(open && isOpen(open)).toBe(true);
  });

  it("classifies thin pools, thin volumes and inactive thin snapshots", () => {
    const by = new Map(parseLvs(fx("lvs-thin.json"))._unsafeUnwrap().map((l) => [l.name, l]));
    const pool = by.get("volkit-thin-pool");
    expect(pool && isThinPool(pool)).toBe(true);
    expect(pool?.dataPercent).toBe(0.18);
    const snap = by.get("_snapshot-s2");
    expect(snap && isThinVolume(snap)).toBe(true);
    expect(snap && isActive(snap)).toBe(false); // thin snapshots skip activation by default
    expect(snap?.dataPercent).toBeUndefined();
    expect(by.get("volume-cccc")?.origin).toBe("_snapshot-s2");
    expect(by.get("volume-bbbb")?.pool).toBe("volkit-thin-pool");
  });

  it("rejects output that is not an lvm JSON report", () => {
    expect(parseVgs("  VG   #PV\n")._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
    expect(parseLvs('{"nope": 1}')._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
    expect(parseVgs('{"report":[{"vg":[{"vg_name":"x","vg_size":"abc"}]}]}')._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
  });

  it("maps real lvm2 error messages to volkit codes", () => {
    expect(classifyLvmError(fx("lvcreate-exists.stderr"))).toBe("VOLUME_EXISTS");
    expect(classifyLvmError(fx("lvcreate-nospace.stderr"))).toBe("INSUFFICIENT_CAPACITY");
    expect(classifyLvmError(fx("lvremove-missing.stderr"))).toBe("VOLUME_NOT_FOUND");
    expect(classifyLvmError(fx("lvremove-open.stderr"))).toBe("VOLUME_BUSY");
    expect(classifyLvmError(fx("vgs-missing.stderr"))).toBe("BACKEND_UNAVAILABLE");
    expect(classifyLvmError("some new failure")).toBeUndefined();
  });
});
