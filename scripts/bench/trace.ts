/**
 * Command traces for the benchmarks: a {@link CommandRunner} that wraps another and records every
 * command it runs (argv head, start offset, duration, exit), so a slow row can say which commands
 * it ran and how long each took. Figures only.
 */
import type { CommandRunner } from "../../src/exec/runner.js";
import { exitCodeOf } from "../../src/exec/runner.js";

/** One command a traced runner ran. */
export interface TracedCommand {
  /** The program and its first arguments (enough to tell the commands apart). */
  readonly command: string;
  /** Start, ms after the trace was cleared. */
  readonly atMs: number;
  /** Wall-clock duration as the caller saw it (spawn included). */
  readonly ms: number;
  /** Exit code (0 for success). */
  readonly exit: number | undefined;
}

/** A runner that records what it runs; `take()` returns and clears the record. */
export class TracingRunner implements CommandRunner {
  readonly description: string;
  #since = performance.now();
  #commands: TracedCommand[] = [];

  constructor(private readonly inner: CommandRunner) {
    this.description = `traced ${inner.description}`;
  }

  run(spec: Parameters<CommandRunner["run"]>[0]): ReturnType<CommandRunner["run"]> {
    const t0 = performance.now();
    const command = spec.argv.slice(0, spec.argv[0] === "dd" || spec.argv[0] === "dmsetup" ? 3 : 2).join(" ");
    return this.inner.run(spec).map(
      (out) => {
        this.#commands.push({ command, atMs: t0 - this.#since, ms: performance.now() - t0, exit: out.exitCode });
        return out;
      },
    ).mapErr((e) => {
      this.#commands.push({ command, atMs: t0 - this.#since, ms: performance.now() - t0, exit: exitCodeOf(e) ?? -1 });
      return e;
    });
  }

  /** The commands since the last take (or creation), and starts a new record. */
  take(): TracedCommand[] {
    const out = this.#commands;
    this.#commands = [];
    this.#since = performance.now();
    return out;
  }
}

/** `lvs 41 ms, lvcreate 512 ms (sum 553 ms of 600 ms)`: a trace in one line. */
export function describeTrace(commands: readonly TracedCommand[], totalMs?: number): string {
  const sum = commands.reduce((s, c) => s + c.ms, 0);
  const list = commands.map((c) => `${c.command} ${Math.round(c.ms)} ms${c.exit ? ` (exit ${c.exit})` : ""}`).join(", ");
  return `${commands.length} commands: ${list} (commands ${Math.round(sum)} ms${totalMs === undefined ? "" : ` of ${Math.round(totalMs)} ms`})`;
}
