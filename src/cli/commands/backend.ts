import type { Command } from "commander";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { VolumeStatsSchema } from "../../core/records.js";
import type { VolumeBackend } from "../../drivers/backend.js";
import { createBackend, driverDefinition } from "../../drivers/registry.js";
import { group, leaf, type CliRun, type CommandContext } from "../command-kit.js";
import type { LoadedConfig } from "../config.js";
import { EXIT_CODES, EXIT_OK } from "../exit-codes.js";
import { table } from "../output.js";

const ErrorEntrySchema = z.object({ code: z.string(), message: z.string() });

/** `volkit backend list --json`. */
export const BackendListOutputSchema = z.object({
  /** Backends of the config, by name. */
  backends: z.array(z.object({ name: z.string(), driver: z.string(), title: z.string().optional(), description: z.string().optional() })),
});

/** `volkit backend stats --json`. */
export const BackendStatsOutputSchema = z.object({
  /** Each backend's stats (the driver's pools under the runtime's header), or why they could not be read. */
  backends: z.array(z.object({ name: z.string(), stats: VolumeStatsSchema.optional(), error: ErrorEntrySchema.optional() })),
});
/** `volkit backend stats --json`. */
export type BackendStatsOutput = z.output<typeof BackendStatsOutputSchema>;

/** `volkit backend setup --json`. */
export const BackendSetupOutputSchema = z.object({
  /** The backend. */
  backend: z.string(),
  /** Always true: the driver's checks and setup ran. */
  ready: z.literal(true),
  /** Wall-clock duration. */
  durationMs: z.number(),
});

/** The backend `name` of the config, built (no command runs until its first operation). */
export function openBackend(ctx: CommandContext, loaded: LoadedConfig, name: string): ResultAsync<VolumeBackend, VolkitError> {
  const config = loaded.config.backends[name];
  if (config === undefined) {
    const known = Object.keys(loaded.config.backends);
    return errAsync(
      new VolkitError("NOT_FOUND", `no backend named ${JSON.stringify(name)} in ${loaded.path ?? "the config (no config file found)"}${known.length ? ` (known: ${known.join(", ")})` : ""}`, { source: "cli", details: { known } }),
    );
  }
  return createBackend(config, { name, runner: ctx.env.runner(loaded.config.host.rootHelper) });
}

function selectNames(loaded: LoadedConfig, names: readonly string[]): ResultAsync<readonly string[], VolkitError> {
  const all = Object.keys(loaded.config.backends);
  if (all.length === 0) return errAsync(new VolkitError("INVALID_CONFIG", `no backends configured in ${loaded.path ?? "the config (no config file found)"}`, { source: "cli" }));
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length) return errAsync(new VolkitError("NOT_FOUND", `no backend named ${unknown.join(", ")} (known: ${all.join(", ")})`, { source: "cli", details: { known: all } }));
  return okAsync(names.length ? names : all);
}

const GiB = (n: number | string): string => (typeof n === "number" ? `${Math.round(n * 10) / 10}` : n);

/** Registers `volkit backend list|stats|setup`. */
export function registerBackend(program: Command, run: CliRun): void {
  const backend = group(program, "backend", "the config's backends: list them, read their capacity, prepare them");
  leaf(backend, run, {
    name: "list",
    description: "list the backends of the config",
    examples: ["backend list", "--config /etc/volkit/volkit.yaml backend list --json"],
    output: {
      schema: BackendListOutputSchema,
      human: (out, paint) => table(["backend", "driver", "description"], out.backends.map((b) => [b.name, b.driver, b.description ?? ""]), paint),
    },
    run: (ctx) =>
      ctx.config().map((loaded) => ({
        data: {
          backends: Object.entries(loaded.config.backends).map(([name, b]) => {
            const d = driverDefinition(b.driver);
            return { name, driver: b.driver, ...(d.isOk() ? { title: d.value.title, description: d.value.description } : {}) };
          }),
        },
      })),
  });
  leaf(backend, run, {
    name: "stats [names...]",
    description: "read each backend's capacity and capabilities (all backends by default)",
    examples: ["backend stats", "backend stats lvm-a --json"],
    output: {
      schema: BackendStatsOutputSchema,
      human: (out, paint) =>
        out.backends
          .map((b) => {
            if (!b.stats) return `${paint.paint("bold", b.name)}: ${paint.paint("bad", `${b.error?.code ?? "?"}: ${b.error?.message ?? ""}`)}`;
            const s = b.stats;
            const head = `${paint.paint("bold", b.name)} (${s.vendorName} ${s.driverVersion}, ${s.storageProtocol}): ${GiB(s.freeCapacityGiB)} of ${GiB(s.totalCapacityGiB)} GiB free`;
            const rows = s.pools.map((p) => [p.poolName, GiB(p.totalCapacityGiB), GiB(p.freeCapacityGiB), p.provisionedCapacityGiB === undefined ? "" : GiB(p.provisionedCapacityGiB), p.thinProvisioningSupport ? "thin" : "thick", p.backendState]);
            return [head, table(["pool", "total GiB", "free GiB", "provisioned GiB", "provisioning", "state"], rows, paint)].join("\n");
          })
          .join("\n\n"),
    },
    run: (ctx, args) =>
      ctx.config().andThen((loaded) =>
        selectNames(loaded, (args[0] as string[] | undefined) ?? []).andThen((names) =>
          ResultAsync.combine(
            names.map((name) =>
              openBackend(ctx, loaded, name)
                .andThen((b) => b.getVolumeStats({ signal: ctx.cancel.signal }).andThen((stats) => b.close().map(() => stats)))
                .map((stats) => ({ name, stats }))
                .orElse((e) => okAsync({ name, error: { code: e.code, message: e.message } })),
            ),
          ).map((backends: BackendStatsOutput["backends"]) => {
            const failed = backends.find((b) => b.error)?.error?.code;
            return { data: { backends }, exitCode: failed === undefined ? EXIT_OK : (EXIT_CODES as Record<string, number>)[failed] ?? EXIT_CODES.INTERNAL };
          }),
        ),
      ),
  });
  leaf(backend, run, {
    name: "setup <name>",
    description: "run a backend's checks and setup now (may create things, e.g. an LVM thin pool)",
    examples: ["backend setup lvm-a"],
    output: { schema: BackendSetupOutputSchema, human: (out, paint) => `${paint.paint("ok", "ready")}: ${out.backend} (${Math.round(out.durationMs)} ms)` },
    run: (ctx, args) => {
      const name = String(args[0]);
      const started = performance.now();
      return ctx.config().andThen((loaded) =>
        openBackend(ctx, loaded, name)
          .andThen((b) => b.setup({ signal: ctx.cancel.signal }).andThen(() => b.close()))
          .map(() => ({ data: { backend: name, ready: true as const, durationMs: performance.now() - started } })),
      );
    },
  });
}
