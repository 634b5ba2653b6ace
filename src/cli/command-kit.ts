import type { Command } from "commander";
import { ResultAsync, errAsync, ok, okAsync } from "neverthrow";
import type { z } from "zod";
import { type VolkitError, toVolkitError } from "../core/errors.js";
import type { CommandRunner } from "../exec/runner.js";
import { listenForCancel, type Cancellation } from "./cancel.js";
import type { CliEnvironment } from "./cli-env.js";
import { painterFor, type Painter } from "./colour.js";
import { loadConfig, type LoadedConfig } from "./config.js";
import { EXIT_OK } from "./exit-codes.js";
import { printError, printResult, type OutputSpec } from "./output.js";
import { createProgressBar, progressHandle, silentProgress, type ProgressHandle } from "./progress.js";

/**
 * The frame every `volkit` command runs in: commander parses the line, then {@link leaf} actions
 * get a {@link CommandContext} (config loaded on first use, the runner, Ctrl-C, progress, colours),
 * return a `ResultAsync`, and the frame prints the result or the error and sets the exit code.
 * Each leaf registers its `--json` schema and its help examples here, so `volkit schema`, the docs
 * test and the completion generator all read one tree.
 */

/** What a command's action gets. */
export interface CommandContext {
  /** The run's environment. */
  readonly env: CliEnvironment;
  /** The command being run (its parents lead to the whole tree). */
  readonly command: Command;
  /** `--json` was given. */
  readonly json: boolean;
  /** Colours for stdout. */
  readonly paint: Painter;
  /** Colours for stderr. */
  readonly paintErr: Painter;
  /** Ctrl-C. */
  readonly cancel: Cancellation;
  /** The config (read on first call). */
  config(): ResultAsync<LoadedConfig, VolkitError>;
  /** The command runner, with the config's root helper. */
  runner(): ResultAsync<CommandRunner, VolkitError>;
  /** A progress bar on stderr (a terminal, no `--json`), or a silent one. */
  progress(label: string): ProgressHandle;
  /** A line on stderr. */
  note(text: string): void;
  /** Prints a result now, in the command's output shape (a command that keeps running after it). */
  print(data: unknown): ResultAsync<void, VolkitError>;
}

/** A command's result, and the exit code when it is not 0 (doctor's findings). */
export interface Outcome {
  /** What to print: checked against the command's schema (records with `Date`s are fine: they print as ISO strings). */
  readonly data: unknown;
  /** Exit code (default 0). */
  readonly exitCode?: number;
  /** The command printed its result itself ({@link CommandContext.print}); the frame prints nothing. */
  readonly printed?: boolean;
}

/** One leaf command. */
export interface LeafSpec<S extends z.ZodType> {
  /** Name and arguments, commander syntax (`show <id>`). */
  readonly name: string;
  /** One line for the help. */
  readonly description: string;
  /** At least one example command line (without the leading `volkit`). */
  readonly examples: readonly string[];
  /** Adds options. */
  readonly configure?: (cmd: Command) => void;
  /** How the result is printed. */
  readonly output: OutputSpec<S>;
  /** The action: positional arguments and options as commander parsed them. */
  readonly run: (ctx: CommandContext, args: readonly unknown[], options: Readonly<Record<string, unknown>>) => ResultAsync<Outcome, VolkitError>;
}

/** The run's shared state: the exit code, and what each leaf registered. */
export class CliRun {
  /** Exit code of the run. */
  exitCode = EXIT_OK;
  /** `--json` schema of each leaf, by its path (`volume show`). */
  readonly schemas = new Map<string, z.ZodType>();
  /** Examples of each leaf, by its path. */
  readonly examples = new Map<string, readonly string[]>();
  /** Ends the process at once (second Ctrl-C). */
  readonly forceExit: (code: number) => void;
  #config: ResultAsync<LoadedConfig, VolkitError> | undefined;

  /** @param env - the run's environment. @param forceExit - how to end at once. */
  constructor(
    readonly env: CliEnvironment,
    forceExit: (code: number) => void,
  ) {
    this.forceExit = forceExit;
  }

  /** The config, read once per run. */
  config(explicit: string | undefined): ResultAsync<LoadedConfig, VolkitError> {
    this.#config ??= loadConfig(
      { explicit, env: this.env.env, cwd: this.env.cwd, exists: this.env.fileExists },
      this.env.readText,
    );
    return this.#config;
  }
}

/** The path of a command (`volume show`), without the program name. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Adds a leaf command under `parent`. */
export function leaf<S extends z.ZodType>(parent: Command, run: CliRun, spec: LeafSpec<S>): Command {
  const cmd = parent.command(spec.name).description(spec.description);
  spec.configure?.(cmd);
  const path = commandPath(cmd);
  run.schemas.set(path, spec.output.schema);
  run.examples.set(path, spec.examples);
  cmd.addHelpText("after", `\nExample${spec.examples.length > 1 ? "s" : ""}:\n${spec.examples.map((e) => `  $ volkit ${e}`).join("\n")}\n`);
  cmd.action(async (...raw: unknown[]) => {
    const self = raw.at(-1) as Command;
    const globals = self.optsWithGlobals<{ json?: boolean; config?: string }>();
    const json = globals.json === true;
    const env = run.env;
    const paint = painterFor(env.stdout, env.env);
    const paintErr = painterFor(env.stderr, env.env);
    // A progress bar owns the terminal's last line while it draws: anything else written to stderr
    // (the Ctrl-C notice) first ends the bar, or the bar's next redraw would overwrite it.
    let bar: ProgressHandle | undefined;
    const endBar = (): void => {
      bar?.finish();
      bar = undefined;
    };
    const cancel = listenForCancel({
      signals: env.signals,
      notify: (m) => {
        endBar();
        env.stderr.write(`volkit: ${m}\n`);
      },
      forceExit: run.forceExit,
    });
    const ctx: CommandContext = {
      env,
      command: self,
      json,
      paint,
      paintErr,
      cancel,
      config: () => run.config(globals.config),
      runner: () => run.config(globals.config).map((c) => env.runner(c.config.host.rootHelper)),
      progress: (label) => {
        endBar();
        bar = progressHandle(!json && env.stderr.isTTY === true ? createProgressBar(env.stderr, label) : silentProgress);
        return bar;
      },
      note: (text) => {
        endBar();
        env.stderr.write(`${text}\n`);
      },
      print: (data) => {
        const printed = printResult(env.stdout, json, spec.output, data, paint);
        return printed.isOk() ? okAsync(undefined) : errAsync(printed.error);
      },
    };
    const outcome = await ResultAsync.fromPromise(
      Promise.resolve().then(() => spec.run(ctx, self.processedArgs as unknown[], self.opts())),
      (e) => toVolkitError(e, "INTERNAL", "cli"),
    )
      .andThen((r) => r)
      .andThen((o) => (o.printed === true ? ok(undefined) : printResult(env.stdout, json, spec.output, o.data, paint)).map(() => o.exitCode ?? EXIT_OK))
      .orElse((error) => {
        endBar();
        return okAsync(printError(env, json, error, paintErr));
      });
    endBar();
    cancel.dispose();
    run.exitCode = outcome.isOk() ? outcome.value : run.exitCode;
  });
  return cmd;
}

/** A group command (`volume`, `backend`): no action of its own; its help lists the leaves. */
export function group(parent: Command, name: string, description: string): Command {
  return parent.command(name).description(description);
}
