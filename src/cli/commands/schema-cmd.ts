import type { Command } from "commander";
import { errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { leaf, type CliRun } from "../command-kit.js";
import { ErrorOutputSchema } from "../output.js";

/** `volkit schema --json`: a JSON Schema (draft 2020-12), or the list of commands that have one. */
export const SchemaOutputSchema = z.record(z.string(), z.unknown());

/** Registers `volkit schema [command...]`: the JSON Schema of a command's `--json` output. */
export function registerSchema(program: Command, run: CliRun): void {
  leaf(program, run, {
    name: "schema [command...]",
    description: "print the JSON Schema of a command's --json output (`error` for failures); without a command, list them",
    examples: ["schema volume show", "schema error", "schema"],
    output: { schema: SchemaOutputSchema, human: (out) => JSON.stringify(out, null, 2) },
    run: (_ctx, args) => {
      const path = ((args[0] as string[] | undefined) ?? []).join(" ");
      if (path === "") return okAsync({ data: { commands: [...run.schemas.keys(), "error"].sort() } });
      const schema = path === "error" ? ErrorOutputSchema : run.schemas.get(path);
      if (schema === undefined) return errAsync(new VolkitError("NOT_FOUND", `no command ${JSON.stringify(path)} (see \`volkit schema\`)`, { source: "cli" }));
      return okAsync({ data: z.toJSONSchema(schema, { io: "output", unrepresentable: "any" }) });
    },
  });
}
