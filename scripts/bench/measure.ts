/**
 * Shared plumbing of the benchmarks (scripts/bench): running a command, timing, samples, the
 * table and the JSON line. Figures only; nothing here asserts.
 */
import { execFile } from "node:child_process";
import { cpus, loadavg, release } from "node:os";
import type { ResultAsync } from "neverthrow";
import type { VolkitError } from "../../src/core/errors.js";

/** Runs a command (no shell) and resolves with its stdout; rejects with its stderr. */
export function run(argv: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0] as string, argv.slice(1), { encoding: "utf8", maxBuffer: 256 << 20 }, (e, stdout, stderr) =>
      e ? reject(new Error(`${argv.join(" ")}: ${e.message.split("\n")[0] ?? ""} ${stderr.trim()}`)) : resolve(stdout),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Like {@link run}, undefined instead of a rejection. */
export function tryRun(argv: readonly string[]): Promise<string | undefined> {
  return run(argv).catch(() => undefined);
}

/** Milliseconds `fn` took, with its value. */
export async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** One measured row: who did what, in which unit, every sample. */
export interface Row {
  /** Benchmark number and name, e.g. `1 single attach`. */
  readonly bench: string;
  /** `volkit`, or the peer's name. */
  readonly who: string;
  /** Unit of the samples (`ms`, `MiB/s`, `ms/op`). */
  readonly unit: string;
  /** Samples in run order. */
  readonly samples: number[];
  /** Which way is better. */
  readonly better: "lower" | "higher";
}

/** Collects samples and notes, prints the table and the JSON line. */
export class Results {
  readonly rows: Row[] = [];
  readonly notes: string[] = [];

  /** Adds one sample to the row (bench, who), creating it. */
  add(bench: string, who: string, value: number, unit = "ms", better: "lower" | "higher" = "lower"): void {
    let row = this.rows.find((r) => r.bench === bench && r.who === who);
    if (!row) {
      row = { bench, who, unit, samples: [], better };
      this.rows.push(row);
    }
    row.samples.push(value);
  }

  /** A free-form line printed after the table (and kept in the JSON). */
  note(text: string): void {
    this.notes.push(text);
    console.log(`note: ${text}`);
  }

  /** Rows with medians, min, max and the ratio to the first row of the same benchmark (volkit's). */
  summary(): Summary[] {
    return this.rows.map((r) => {
      const volkit = this.rows.find((x) => x.bench === r.bench && x.who === "volkit");
      const m = median(r.samples);
      return {
        bench: r.bench,
        who: r.who,
        unit: r.unit,
        runs: r.samples.length,
        median: round(m),
        min: round(Math.min(...r.samples)),
        max: round(Math.max(...r.samples)),
        // volkit relative to this row: < 1 means volkit takes less time (or, for throughput, is slower).
        volkitRatio: volkit && r.who !== "volkit" && m !== 0 ? round(median(volkit.samples) / m, 3) : undefined,
      };
    });
  }

  /** Prints the table, then `BENCH-JSON {…}` on one line (machine facts included). */
  print(title: string): void {
    const rows = this.summary();
    console.log(`\n==== ${title} ====`);
    console.log(`${"benchmark".padEnd(40)} ${"who".padEnd(26)} ${"unit".padEnd(6)} ${"median".padStart(9)} ${"min".padStart(9)} ${"max".padStart(9)} runs  volkit/peer`);
    for (const r of rows) {
      const ratio = r.volkitRatio === undefined ? "" : r.volkitRatio.toFixed(2);
      console.log(`${r.bench.padEnd(40)} ${r.who.padEnd(26)} ${r.unit.padEnd(6)} ${fmt(r.median)} ${fmt(r.min)} ${fmt(r.max)} ${String(r.runs).padStart(4)}  ${ratio}`);
    }
    for (const n of this.notes) console.log(`note: ${n}`);
    console.log(`BENCH-JSON ${JSON.stringify({ title, machine: machine(), rows, notes: this.notes })}`);
  }
}

/** One printed row. */
export interface Summary {
  readonly bench: string;
  readonly who: string;
  readonly unit: string;
  readonly runs: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly volkitRatio: number | undefined;
}

/** Cores, load, kernel and whether this is the TCG lab guest. */
export function machine(): Record<string, unknown> {
  return { cores: cpus().length, cpu: cpus()[0]?.model ?? "", loadavg: loadavg().map((l) => round(l)), kernel: release(), lab: process.env.VOLKIT_LAB === "1" ? "qemu TCG guest (storage lab)" : "host", node: process.version };
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function fmt(n: number): string {
  return String(n).padStart(9);
}

/** `[a, b]` in odd rounds, `[b, a]` in even ones: neither side always runs first. */
export function alternate<T>(round: number, a: T, b: T, ...more: T[]): T[] {
  const all = [a, b, ...more];
  return round % 2 === 1 ? all : all.reverse();
}

/** Awaits a volkit result, throwing with its code and message. */
export async function must<T>(pending: ResultAsync<T, VolkitError>): Promise<T> {
  const r = await pending;
  if (r.isErr()) throw new Error(`volkit error ${r.error.code}: ${r.error.message}`);
  return r.value;
}
