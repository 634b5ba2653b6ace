import type { Command } from "commander";
import { errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { leaf, type CliRun } from "../command-kit.js";
import { bashCompletion, zshCompletion } from "../completion.js";

/** `volkit completion --json`: the script as a string. */
export const CompletionOutputSchema = z.object({ shell: z.enum(["bash", "zsh"]), script: z.string() });

/** Registers `volkit completion bash|zsh`. */
export function registerCompletion(program: Command, run: CliRun): void {
  leaf(program, run, {
    name: "completion <shell>",
    description: "print the shell completion script for bash or zsh",
    examples: ["completion bash > /etc/bash_completion.d/volkit", "completion zsh > \"${fpath[1]}/_volkit\""],
    output: { schema: CompletionOutputSchema, human: (out) => out.script.trimEnd() },
    run: (ctx, args) => {
      let root: Command = ctx.command;
      while (root.parent) root = root.parent;
      const shell = String(args[0]);
      if (shell === "bash") return okAsync({ data: { shell: "bash" as const, script: bashCompletion(root) } });
      if (shell === "zsh") return okAsync({ data: { shell: "zsh" as const, script: zshCompletion(root) } });
      return errAsync(new VolkitError("INVALID_ARGUMENT", `no completion for ${JSON.stringify(shell)}: bash or zsh`, { source: "cli" }));
    },
  });
}
