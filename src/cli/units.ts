import { err, ok, type Result } from "neverthrow";
import { VolkitError } from "../core/errors.js";

/** Sizes and durations as people type and read them. */

const UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/**
 * Parses a byte count: `4096`, `16M`, `16MiB`, `1.5G`, `10GB` (K/M/G/T and KiB… are powers of
 * 1024, KB/MB/GB/TB powers of 1000). `INVALID_ARGUMENT` naming `what` otherwise.
 *
 * @example
 * ```ts
 * parseBytes("16M", "--bandwidth-limit"); // ok(16777216)
 * ```
 */
export function parseBytes(text: string, what: string): Result<number, VolkitError> {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  const factor = m ? UNITS[(m[2] ?? "").toLowerCase()] : undefined;
  if (!m || factor === undefined) return err(new VolkitError("INVALID_ARGUMENT", `${what}: ${JSON.stringify(text)} is not a size (examples: 4096, 16M, 1.5GiB, 10GB)`, { source: "cli" }));
  const bytes = Math.round(Number(m[1]) * factor);
  return Number.isSafeInteger(bytes) ? ok(bytes) : err(new VolkitError("INVALID_ARGUMENT", `${what}: ${text} is too large`, { source: "cli" }));
}

/** `1536` → `1.5 KiB`; `0` → `0 B`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(Number.isFinite(bytes) ? bytes : 0))} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[i]}`;
}

/** `75` → `1m15s`; `3725` → `1h02m05s`; under a minute: `42s`. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m${String(rest).padStart(2, "0")}s`;
  if (m > 0) return `${m}m${String(rest).padStart(2, "0")}s`;
  return `${rest}s`;
}
