import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { ResultAsync, errAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError, toVolkitError } from "../../core/errors.js";
import { registerSecret } from "../../core/secrets.js";
import { AbsolutePathSchema, validate } from "../../core/validation.js";
import { leaf, type CliRun } from "../command-kit.js";
import { fields } from "../output.js";

/** `volkit simulator --json`: printed once the simulator is up (the command then runs until Ctrl-C). */
export const SimulatorOutputSchema = z.object({
  /** REST base URLs, one per controller. */
  urls: z.array(z.string()),
  /** Array user. */
  user: z.string(),
  /** File holding the password (mode 0600); the password itself is never printed. */
  authFile: z.string(),
  /** CA certificate of the HTTPS endpoints (absent with --http). */
  caFile: z.string().optional(),
  /** Device id / serial number. */
  deviceId: z.string(),
  /** Where LUN files live. */
  dataDir: z.string(),
  /** iSCSI targets, one per portal (empty with --no-iscsi). */
  iscsiTargets: z.array(z.object({ portal: z.string(), iqn: z.string() })),
});
type SimulatorOutput = z.output<typeof SimulatorOutputSchema>;

const OptionsSchema = z.object({
  http: z.boolean().optional(),
  iscsi: z.boolean().optional(),
  dir: AbsolutePathSchema.optional(),
  state: AbsolutePathSchema.optional(),
  user: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, "must be 1-32 of letters, digits, '_.-'").optional(),
});

/**
 * Registers `volkit simulator`: the IP-SAN array simulator (OceanStor REST dialect, with a real
 * tgtd data plane) from `volkit/testing`, loaded only when this command runs. It prints where
 * everything is, then serves until Ctrl-C, which stops it and removes what it made.
 */
export function registerSimulator(program: Command, run: CliRun): void {
  leaf(program, run, {
    name: "simulator",
    description: "run the IP-SAN array simulator (REST + iSCSI on loopback) until Ctrl-C",
    examples: ["simulator", "simulator --http --no-iscsi", "simulator --dir /var/tmp/array --state /var/tmp/array/state.json --json"],
    configure: (cmd) =>
      cmd
        .option("--http", "plain HTTP instead of HTTPS")
        .option("--no-iscsi", "REST only (no tgtd data plane; no root needed)")
        .option("--dir <dir>", "keep LUN files and the certificate here (kept after stop)")
        .option("--state <file>", "persist the REST state in this JSON file across runs")
        .option("--user <name>", "array user (default admin); the password comes from $ARRAY_SIMULATOR_PASSWORD or is random"),
    output: {
      schema: SimulatorOutputSchema,
      human: (out, paint) =>
        [
          paint.paint("bold", "volkit array simulator (OceanStor REST dialect)"),
          fields(
            [
              ...out.urls.map((u, i) => [`REST URL ${i + 1}`, u] as const),
              ["user", out.user],
              ["password in", out.authFile],
              ["CA cert", out.caFile],
              ["device id", out.deviceId],
              ["data in", out.dataDir],
              ...out.iscsiTargets.map((t) => ["iSCSI target", `${t.portal} ${t.iqn}`] as const),
            ],
            paint,
          ),
          paint.paint("dim", "Ctrl-C stops it and removes what it made (a --dir you gave is kept)."),
        ].join("\n"),
    },
    run: (ctx, _args, options) => {
      const parsed = validate(OptionsSchema, { http: options.http, iscsi: options.iscsi, dir: options.dir, state: options.state, user: options.user }, "simulator options");
      if (parsed.isErr()) return errAsync(parsed.error);
      const o = parsed.value;
      const password = ctx.env.env.ARRAY_SIMULATOR_PASSWORD;
      registerSecret(password);
      return ResultAsync.fromPromise(
        (async () => {
          // Loaded here only: the simulator belongs to volkit/testing and pulls in its TLS and tgtd code.
          const { startArraySimulator } = await import("../../testing/array-simulator/index.js");
          const sim = await startArraySimulator({
            protocol: o.http === true ? "http" : "https",
            iscsi: o.iscsi !== false,
            ...(o.dir === undefined ? {} : { dir: o.dir }),
            ...(o.state === undefined ? {} : { stateFile: o.state }),
            ...(o.user === undefined ? {} : { user: o.user }),
            ...(password ? { password } : {}),
          });
          registerSecret(sim.password);
          const authFile = join(sim.dir, "password");
          await writeFile(authFile, `${sim.password}\n`, { mode: 0o600 });
          return { sim, authFile };
        })(),
        (e) => toVolkitError(e, "BACKEND_UNAVAILABLE", "simulator"),
      ).andThen(({ sim, authFile }) => {
        const info: SimulatorOutput = {
          urls: [...sim.urls],
          user: sim.user,
          authFile,
          ...(sim.caFile === undefined ? {} : { caFile: sim.caFile }),
          deviceId: sim.deviceId,
          dataDir: sim.dir,
          // Without the data plane no target is served, whatever the array's REST side reports.
          iscsiTargets: o.iscsi === false ? [] : sim.iscsi.targets.map((t) => ({ portal: t.portal, iqn: t.iqn })),
        };
        // Printed now (the command's result is the running simulator); the frame prints nothing more.
        return ctx.print(info).andThen(() =>
          ResultAsync.fromPromise(
            new Promise<void>((resolve) => {
              if (ctx.cancel.signal.aborted) resolve();
              else ctx.cancel.signal.addEventListener("abort", () => resolve(), { once: true });
            }).then(() => sim.stop()),
            (e) => new VolkitError("INTERNAL", `stopping the simulator failed: ${e instanceof Error ? e.message : String(e)}`, { source: "simulator" }),
          ).map(() => ({ data: info, printed: true })),
        );
      });
    },
  });
}
