import type { CapabilityValue } from "./pool-stats.js";

/**
 * Cinder's extra-spec operators (`cinder/scheduler/filters/extra_specs_ops.py`), matched against
 * one capability value. A requirement is `"<op> <operand>"`; without a known operator it is plain
 * string equality with the whole requirement.
 *
 * | op | meaning |
 * | --- | --- |
 * | `=` | numeric **≥** (Cinder's odd choice, kept) |
 * | `==` `!=` `>=` `<=` | numeric |
 * | `s==` `s!=` `s<` `s<=` `s>` `s>=` | string |
 * | `<in>` | the operand is a substring of the value |
 * | `<all-in>` | every operand word is a substring of the value |
 * | `<is>` | booleans (`True`, `yes`, `on`, `1`… are true) |
 * | `<or>` | equal to any alternative: `<or> a <or> b` |
 *
 * Capability values are compared in Python's string form (booleans `True`/`False`), so specs written
 * for Cinder keep their meaning. Where Cinder would crash (a string operator on a number, `<in>` on
 * a boolean) the value's string form is used; a numeric operator on a non-number does not match.
 */

/** The operators, in the order a requirement is parsed. */
export const EXTRA_SPEC_OPERATORS = ["=", "==", "!=", ">=", "<=", "s==", "s!=", "s<", "s<=", "s>", "s>=", "<in>", "<all-in>", "<is>", "<or>"] as const;
/** An extra-spec operator. */
export type ExtraSpecOperator = (typeof EXTRA_SPEC_OPERATORS)[number];

/** Python's `str()` of a capability value. */
export function capabilityString(value: CapabilityValue): string {
  if (typeof value === "boolean") return value ? "True" : "False";
  return String(value);
}

const FLOAT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Python's `float()`: undefined where Python raises ValueError. */
function toFloat(value: CapabilityValue | string): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  const s = value.trim();
  if (FLOAT.test(s)) return Number(s);
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(s)) return NaN;
  return undefined;
}

const TRUE_STRINGS = new Set(["1", "t", "true", "on", "y", "yes"]);

/** oslo's `bool_from_string` (not strict): true for `1 t true on y yes` in any case, else false. */
function boolFromString(value: CapabilityValue | string): boolean {
  if (typeof value === "boolean") return value;
  return TRUE_STRINGS.has(String(value).trim().toLowerCase());
}

type Method = (value: CapabilityValue, operand: string) => boolean;

function numeric(cmp: (a: number, b: number) => boolean): Method {
  return (value, operand) => {
    const a = toFloat(value);
    const b = toFloat(operand);
    return a !== undefined && b !== undefined && cmp(a, b);
  };
}

function stringwise(cmp: (a: string, b: string) => boolean): Method {
  return (value, operand) => cmp(capabilityString(value), operand);
}

const METHODS: Readonly<Record<string, Method>> = {
  "=": numeric((a, b) => a >= b),
  "==": numeric((a, b) => a === b),
  "!=": numeric((a, b) => a !== b),
  ">=": numeric((a, b) => a >= b),
  "<=": numeric((a, b) => a <= b),
  "s==": stringwise((a, b) => a === b),
  "s!=": stringwise((a, b) => a !== b),
  "s<": stringwise((a, b) => a < b),
  "s<=": stringwise((a, b) => a <= b),
  "s>": stringwise((a, b) => a > b),
  "s>=": stringwise((a, b) => a >= b),
  "<in>": (value, operand) => capabilityString(value).includes(operand),
  "<is>": (value, operand) => boolFromString(value) === boolFromString(operand),
};

/**
 * Whether a capability value meets an extra-spec requirement.
 *
 * @example
 * ```ts
 * matchExtraSpec(200, "= 100");        // true: `=` means >=
 * matchExtraSpec("ssd", "<or> hdd <or> ssd"); // true
 * matchExtraSpec(true, "<is> True");  // true
 * matchExtraSpec("thin", "thin");     // true: plain equality
 * ```
 */
export function matchExtraSpec(value: CapabilityValue | undefined, requirement: string | undefined): boolean {
  if (requirement === undefined) return value === undefined;
  const words = requirement.split(/\s+/).filter((w) => w !== "");
  const op = words.shift();
  const method = op === undefined ? undefined : METHODS[op];
  if (op !== "<or>" && op !== "<all-in>" && method === undefined) return value !== undefined && capabilityString(value) === requirement;
  if (value === undefined) return false;
  if (op === "<or>") {
    const actual = capabilityString(value);
    // <or> a <or> b <or> c: every other word is an alternative.
    for (let i = 0; i < words.length; i += 2) if (words[i] === actual) return true;
    return false;
  }
  if (op === "<all-in>") {
    const actual = capabilityString(value);
    return words.length > 0 && words.every((w) => actual.includes(w));
  }
  const operand = words[0];
  return operand !== undefined && method !== undefined && method(value, operand);
}
