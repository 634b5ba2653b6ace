import { Command, CommanderError } from "commander";
import { VolkitError } from "../core/errors.js";
import type { CliEnvironment } from "./cli-env.js";
import { painterFor } from "./colour.js";
import { CliRun } from "./command-kit.js";
import { registerBackend } from "./commands/backend.js";
import { registerCompletion } from "./commands/completion-cmd.js";
import { registerConfig } from "./commands/config-cmd.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerHost } from "./commands/host.js";
import { registerImage } from "./commands/image.js";
import { registerSchema } from "./commands/schema-cmd.js";
import { registerServiceCommands } from "./commands/service-commands.js";
import { registerSimulator } from "./commands/simulator.js";
import { EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { printError } from "./output.js";

/**
 * The `volkit` command tree. {@link buildProgram} makes it (tests walk it for help, examples,
 * schemas and completions); {@link runCli} runs one command line and returns the exit code.
 */

/** The version printed by `volkit --version`. */
export const CLI_VERSION = "0.2.0";

/** Builds the command tree for a run. */
export function buildProgram(run: CliRun): Command {
  const program = new Command("volkit")
    .description("Operate volkit storage from a terminal: backends, volumes, attachments, backups, and this host")
    .version(CLI_VERSION, "-V, --version")
    .option("--json", "print the result as JSON (stable shapes: see `volkit schema <command>`)")
    .option("-c, --config <file>", "config file (default: $VOLKIT_CONFIG, ./volkit.yaml, /etc/volkit/volkit.yaml)")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => void run.env.stdout.write(s),
      writeErr: (s) => void run.env.stderr.write(s),
    })
    .exitOverride();
  program.addHelpText(
    "after",
    "\nExit codes follow the error codes (0 ok, 2 bad argument, 78 bad config, 130 Ctrl-C…): see docs/cli.md.\n\nExamples:\n  $ volkit doctor\n  $ volkit host show --json\n  $ volkit volume create --size 10 --type fast --name db1\n",
  );
  registerDoctor(program, run);
  const host = registerHost(program, run);
  registerBackend(program, run);
  registerImage(program, run);
  registerConfig(program, run);
  registerSimulator(program, run);
  registerServiceCommands(program, run, host);
  registerCompletion(program, run);
  registerSchema(program, run);
  return program;
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /** Ends the process at once (a second Ctrl-C); default `process.exit`. */
  readonly forceExit?: (code: number) => void;
}

/** Runs one command line (`argv` without node and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], env: CliEnvironment, options: RunCliOptions = {}): Promise<number> {
  const run = new CliRun(env, options.forceExit ?? ((code) => process.exit(code)));
  const program = buildProgram(run);
  const json = argv.includes("--json");
  if (json) {
    // With --json a refused command line is reported as a JSON error, not commander's text.
    for (const cmd of allCommands(program)) cmd.configureOutput({ writeOut: (s) => void env.stdout.write(s), writeErr: () => undefined, outputError: () => undefined });
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return run.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0 || e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return EXIT_OK;
      if (json) printError(env, true, new VolkitError("INVALID_ARGUMENT", e.message.replace(/^error: /, ""), { source: "cli" }), painterFor(env.stderr, env.env));
      return EXIT_USAGE;
    }
    return printError(env, json, new VolkitError("INTERNAL", e instanceof Error ? e.message : String(e), { source: "cli", cause: e }), painterFor(env.stderr, env.env));
  }
}

/** Every command of the tree, the root first. */
export function allCommands(root: Command): Command[] {
  return [root, ...root.commands.flatMap((c) => allCommands(c))];
}
