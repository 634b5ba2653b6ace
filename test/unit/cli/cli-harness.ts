import { EventEmitter } from "node:events";
import { createHostFs, type HostFs } from "../../../src/host/host-fs.js";
import type { CommandRunner } from "../../../src/exec/runner.js";
import type { CliEnvironment, SignalSource } from "../../../src/cli/cli-env.js";
import { runCli } from "../../../src/cli/program.js";
import type { ServiceFactory } from "../../../src/cli/service-like.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";

/** A captured output stream. */
export class Captured {
  text = "";
  constructor(readonly isTTY = false) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/** Options of {@link volkit}. */
export interface RunOptions {
  readonly runner?: CommandRunner;
  readonly hostFs?: HostFs;
  readonly env?: Record<string, string | undefined>;
  /** Files the config search and `readText` see, by absolute path. */
  readonly files?: Record<string, string>;
  readonly service?: ServiceFactory;
  readonly stdoutTTY?: boolean;
  readonly stderrTTY?: boolean;
  /** Lines typed on stdin (and whether it is a terminal). */
  readonly stdinLines?: readonly string[];
  readonly stdinTTY?: boolean;
  readonly cwd?: string;
  readonly signals?: SignalSource;
  /** Called with the runner's root helper, to check it. */
  readonly onRunner?: (rootHelper: readonly string[] | undefined) => void;
}

/** What a run produced. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON (throws when it is not). */
  json<T = Record<string, unknown>>(): T;
}

/** Runs `volkit <argv>` in-process with fakes; no real command runs unless a real runner is given. */
export async function volkit(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const stdout = new Captured(options.stdoutTTY ?? false);
  const stderr = new Captured(options.stderrTTY ?? false);
  const lines = [...(options.stdinLines ?? [])];
  const files = options.files ?? {};
  const runner = options.runner ?? new FakeRunner();
  const env: CliEnvironment = {
    stdout,
    stderr,
    stdin: { isTTY: options.stdinTTY ?? false, readLine: () => Promise.resolve(lines.shift()) },
    env: options.env ?? {},
    cwd: options.cwd ?? "/work",
    runner: (rootHelper) => {
      options.onRunner?.(rootHelper);
      return runner;
    },
    hostFs: options.hostFs ?? createHostFs({ root: "/nonexistent-volkit-test-root" }),
    signals: options.signals ?? new EventEmitter(),
    fileExists: (path) => Promise.resolve(path in files),
    readText: (path) => (path in files ? Promise.resolve(files[path] as string) : Promise.reject(Object.assign(new Error("ENOENT"), { code: "ENOENT" }))),
    service: options.service,
  };
  const code = await runCli(argv, env, { forceExit: () => undefined });
  return {
    code,
    stdout: stdout.text,
    stderr: stderr.text,
    json: <T>() => JSON.parse(stdout.text) as T,
  };
}
