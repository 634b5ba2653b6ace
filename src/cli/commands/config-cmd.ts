import type { Command } from "commander";
import { stringify } from "yaml";
import { z } from "zod";
import { group, leaf, type CliRun } from "../command-kit.js";
import { maskSecrets } from "../config-secrets.js";

/** `volkit config show --json`: the config in effect, secrets masked. */
export const ConfigShowOutputSchema = z.object({
  /** The file read; null when none was found and the defaults apply. */
  path: z.string().nullable(),
  /** The checked config with defaults filled in; every secret is `***`. */
  config: z.record(z.string(), z.unknown()),
});

/** `volkit config check --json`. */
export const ConfigCheckOutputSchema = z.object({
  /** The file checked; null when none was found. */
  path: z.string().nullable(),
  /** Always true (a bad config fails with INVALID_CONFIG naming each field). */
  valid: z.literal(true),
  /** Backend names. */
  backends: z.array(z.string()),
  /** Volume type names. */
  types: z.array(z.string()),
  /** Store kind. */
  store: z.string(),
});

/** Registers `volkit config show|check`. */
export function registerConfig(program: Command, run: CliRun): void {
  const config = group(program, "config", "the config file: where it is, what it says (secrets masked), whether it is valid");
  leaf(config, run, {
    name: "show",
    description: "print the config in effect with defaults filled in; passwords and keys are shown as ***",
    examples: ["config show", "--config ./volkit.yaml config show --json"],
    output: {
      schema: ConfigShowOutputSchema,
      human: (out, paint) => `${paint.paint("dim", `# ${out.path ?? "no config file found: defaults"}`)}\n${stringify(out.config).trimEnd()}`,
    },
    run: (ctx) => ctx.config().map((loaded) => ({ data: { path: loaded.path ?? null, config: maskSecrets(loaded.config) as Record<string, unknown> } })),
  });
  leaf(config, run, {
    name: "check",
    description: "check the config: every backend against its driver's schema, every connector against its own",
    examples: ["config check", "--config /etc/volkit/volkit.yaml config check --json"],
    output: {
      schema: ConfigCheckOutputSchema,
      human: (out, paint) => `${paint.paint("ok", "valid")}: ${out.path ?? "(no config file: defaults)"}; backends: ${out.backends.join(", ") || "none"}; types: ${out.types.join(", ") || "none"}; store: ${out.store}`,
    },
    run: (ctx) =>
      ctx.config().map((loaded) => ({
        data: { path: loaded.path ?? null, valid: true as const, backends: Object.keys(loaded.config.backends), types: Object.keys(loaded.config.types), store: loaded.config.store.kind },
      })),
  });
}
