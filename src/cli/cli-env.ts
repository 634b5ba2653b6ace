import { access } from "node:fs/promises";
import type { CommandRunner } from "../exec/runner.js";
import { createLocalRunner } from "../exec/local-runner.js";
import { createHostFs, type HostFs } from "../host/host-fs.js";
import type { ServiceFactory } from "./service-like.js";

/**
 * Everything a `volkit` command touches outside itself, in one object: streams, environment,
 * working directory, how commands run, the host's files, the signal source for Ctrl-C and the
 * volume service. `main.ts` builds the real one; tests build one with a fake runner, a fake sysfs
 * tree, captured streams and a fake service.
 */

/** An output stream as the CLI uses it. */
export interface CliOutput {
  /** Writes text. */
  write(text: string): unknown;
  /** True when the stream is a terminal. */
  readonly isTTY?: boolean;
  /** Terminal width, when a terminal. */
  readonly columns?: number;
}

/** An input stream as the CLI uses it (confirmation prompts). */
export interface CliInput {
  /** True when the stream is a terminal. */
  readonly isTTY?: boolean;
  /** Reads one line (without its newline); undefined at end of input. */
  readLine(): Promise<string | undefined>;
}

/** Where SIGINT and SIGTERM come from (the process, or an emitter in tests). */
export interface SignalSource {
  /** Subscribes to a signal. */
  on(signal: "SIGINT" | "SIGTERM", listener: () => void): unknown;
  /** Unsubscribes. */
  off(signal: "SIGINT" | "SIGTERM", listener: () => void): unknown;
}

/** The world of one CLI run. */
export interface CliEnvironment {
  /** Standard output: results (text or JSON). */
  readonly stdout: CliOutput;
  /** Standard error: errors, warnings, progress. */
  readonly stderr: CliOutput;
  /** Standard input: answers to prompts. */
  readonly stdin: CliInput;
  /** Environment variables. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Working directory. */
  readonly cwd: string;
  /** Builds the runner commands go through, from the config's root helper. */
  readonly runner: (rootHelper: readonly string[] | undefined) => CommandRunner;
  /** This host's /sys, /dev, /etc. */
  readonly hostFs: HostFs;
  /** Ctrl-C and SIGTERM. */
  readonly signals: SignalSource;
  /** Whether a file exists (config search). */
  readonly fileExists: (path: string) => Promise<boolean>;
  /** Reads a text file (config, backup records). */
  readonly readText?: (path: string) => Promise<string>;
  /** Opens the volume service for the service-backed commands; undefined until one is bound. */
  readonly service: ServiceFactory | undefined;
}

/** Reads stdin one line at a time. */
function stdinLines(): CliInput {
  let buffered = "";
  let ended = false;
  const waiting: ((line: string | undefined) => void)[] = [];
  const flush = (): void => {
    while (waiting.length > 0) {
      const nl = buffered.indexOf("\n");
      if (nl === -1 && !ended) return;
      const resolve = waiting.shift();
      if (nl === -1) {
        const rest = buffered;
        buffered = "";
        resolve?.(rest === "" ? undefined : rest);
      } else {
        const line = buffered.slice(0, nl).replace(/\r$/, "");
        buffered = buffered.slice(nl + 1);
        resolve?.(line);
      }
    }
    if (waiting.length === 0) process.stdin.pause();
  };
  let listening = false;
  return {
    isTTY: process.stdin.isTTY,
    readLine: () =>
      new Promise((resolve) => {
        waiting.push(resolve);
        if (!listening) {
          listening = true;
          process.stdin.setEncoding("utf8");
          process.stdin.on("data", (chunk: string) => {
            buffered += chunk;
            flush();
          });
          process.stdin.on("end", () => {
            ended = true;
            flush();
          });
        }
        process.stdin.resume();
        flush();
      }),
  };
}

/** The real environment of the `volkit` process. */
export function processEnvironment(service: ServiceFactory | undefined): CliEnvironment {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: stdinLines(),
    env: process.env,
    cwd: process.cwd(),
    runner: (rootHelper) => createLocalRunner(rootHelper === undefined ? {} : { rootHelper }),
    hostFs: createHostFs(),
    signals: process,
    fileExists: (path) => access(path).then(() => true, () => false),
    service,
  };
}
