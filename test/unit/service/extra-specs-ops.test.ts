import { describe, expect, it } from "vitest";
import { EXTRA_SPEC_OPERATORS, capabilityString, matchExtraSpec } from "../../../src/service/index.js";

/** [capability value, requirement, expected] — Cinder's extra_specs_ops semantics. */
const CASES: readonly [string | number | boolean | undefined, string | undefined, boolean][] = [
  // `=` is numeric >= (Cinder's odd choice), not equality.
  [200, "= 100", true],
  [100, "= 100", true],
  [99, "= 100", false],
  ["200", "= 100", true],
  ["abc", "= 100", false],
  [1000, "= 1e3", true],
  // numeric ==, !=, >=, <=
  [100, "== 100", true],
  ["100.0", "== 100", true],
  [101, "== 100", false],
  [101, "!= 100", true],
  [100, "!= 100", false],
  [100, ">= 100", true],
  [99, ">= 100", false],
  [100, "<= 100", true],
  [101, "<= 100", false],
  [true, "== 1", true],
  ["", "== 0", false],
  // string comparisons
  ["ssd", "s== ssd", true],
  ["SSD", "s== ssd", false],
  ["ssd", "s!= hdd", true],
  ["ssd", "s!= ssd", false],
  ["abc", "s< abd", true],
  ["abd", "s< abc", false],
  ["abc", "s<= abc", true],
  ["abd", "s> abc", true],
  ["abc", "s> abc", false],
  ["abc", "s>= abc", true],
  ["10", "s< 9", true], // string order, not numeric
  // <in> substring, <all-in> every word
  ["compression,dedup", "<in> dedup", true],
  ["compression", "<in> dedup", false],
  ["compression dedup thin", "<all-in> dedup thin", true],
  ["compression thin", "<all-in> dedup thin", false],
  ["anything", "<all-in>", false],
  // <is> booleans, oslo's bool_from_string
  [true, "<is> True", true],
  [false, "<is> True", false],
  ["yes", "<is> True", true],
  ["0", "<is> False", true],
  [true, "<is> true", true],
  // <or> any alternative
  ["ssd", "<or> hdd <or> ssd", true],
  ["nvme", "<or> hdd <or> ssd <or> nvme", true],
  ["tape", "<or> hdd <or> ssd", false],
  ["<or>", "<or> hdd <or> ssd", false],
  // plain string equality with the whole requirement; booleans in Python's form
  ["thin", "thin", true],
  ["thick", "thin", false],
  [true, "True", true],
  [true, "true", false],
  [12, "12", true],
  [12.5, "12.5", true],
  // missing values
  [undefined, "<is> True", false],
  [undefined, "thin", false],
  [undefined, undefined, true],
  ["x", undefined, false],
  // an operator without an operand never matches
  [100, ">=", false],
];

describe("extra-spec operators", () => {
  for (const [value, requirement, expected] of CASES) {
    it(`${JSON.stringify(value)} vs ${JSON.stringify(requirement)} → ${String(expected)}`, () => {
      expect(matchExtraSpec(value, requirement)).toBe(expected);
    });
  }

  it("has a case for every operator", () => {
    for (const op of EXTRA_SPEC_OPERATORS) expect(CASES.some(([, r]) => r?.split(" ")[0] === op), op).toBe(true);
  });

  it("prints capability values as Python does", () => {
    expect(capabilityString(true)).toBe("True");
    expect(capabilityString(false)).toBe("False");
    expect(capabilityString(3)).toBe("3");
  });
});
