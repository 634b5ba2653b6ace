/** Pure helpers of the IP-SAN driver: LUN description markers, provider locations, product versions. */
import { describe, expect, it } from "vitest";
import { parseProductVersion, supportsClonePairs } from "../../../../src/drivers/ipsan/ipsan-array.js";
import { cloneSnapshotNameOf, lunDescription, lunNameOf, parseLunDescription, qosNameOf } from "../../../../src/drivers/ipsan/ipsan-names.js";
import { locationOf, volumeRecordOf } from "../../../../src/drivers/ipsan/ipsan-records.js";

describe("IP-SAN markers and names", () => {
  it("LUN descriptions round-trip: copying, managed-from name, hosts being unmapped", () => {
    const cases = [
      { volumeId: "v-1", copying: false },
      { volumeId: "v-1", copying: true },
      { volumeId: "v_2", copying: false, managedFrom: "legacy.db-1" },
      { volumeId: "v-3", copying: false, unmapping: ["12", "7", "100042"] },
      { volumeId: "v-4", copying: false, managedFrom: "old", unmapping: ["3"] },
    ];
    for (const marker of cases) expect(parseLunDescription(lunDescription(marker))).toEqual(marker);
    expect(lunDescription({ volumeId: "v-1", copying: true })).toBe("volkit:v-1:copying");
    for (const foreign of ["", "volume-1", "volkit:", "volkit:-x", "volkit:v-1;unmap=", "volkit:v-1;unmap=a", "volkit:v-1 trailing"]) expect(parseLunDescription(foreign)).toBeUndefined();
  });

  it("a long unmap list is cut to the array's 170-character description limit", () => {
    const ids = Array.from({ length: 40 }, (_v, i) => String(100000 + i));
    const text = lunDescription({ volumeId: "a".repeat(64), copying: false, managedFrom: "x".repeat(31), unmapping: ids });
    expect(text.length).toBeLessThanOrEqual(170);
    const parsed = parseLunDescription(text);
    expect(parsed?.unmapping?.length).toBeGreaterThan(0);
    expect(ids.slice(0, parsed?.unmapping?.length)).toEqual(parsed?.unmapping);
  });

  it("names stay within 31 characters and differ between a volume and its clone snapshot", () => {
    const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    for (const name of [lunNameOf(id), cloneSnapshotNameOf(id), qosNameOf("18446744073709551615")]) expect(name.length).toBeLessThanOrEqual(31);
    expect(cloneSnapshotNameOf("v-1")).not.toBe(lunNameOf("v-1"));
  });

  it("provider locations are Cinder's JSON; anything else is not ours", () => {
    const rec = volumeRecordOf({ id: "v", sizeGiB: 1 }, { id: "42", wwn: "6100abc" });
    expect(JSON.parse(rec.providerLocation ?? "")).toEqual({ huawei_lun_id: "42", huawei_lun_wwn: "6100abc" });
    expect(locationOf(rec.providerLocation)).toEqual({ id: "42", wwn: "6100abc" });
    for (const bad of [undefined, "", "not json", "null", '{"huawei_lun_id":42}', '{"huawei_lun_id":"../1","huawei_lun_wwn":"x"}']) expect(locationOf(bad)).toBeUndefined();
  });

  it("clone pairs from V600R003C00 on (Cinder's version test)", () => {
    expect(parseProductVersion("V500R007C60SPC300")).toEqual([500, 7, 60]);
    expect(parseProductVersion("6.1.0")).toBeUndefined();
    expect(["V500R007C60", "V600R002C99", "garbage"].map(supportsClonePairs)).toEqual([false, false, false]);
    expect(["V600R003C00", "V600R005C20", "V700R001C00"].map(supportsClonePairs)).toEqual([true, true, true]);
  });
});
