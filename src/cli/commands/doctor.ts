import type { Command } from "commander";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import type { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import type { CommandRunner } from "../../exec/runner.js";
import type { HostFs } from "../../host/host-fs.js";
import { leaf, type CliRun } from "../command-kit.js";
import { EXIT_CODES, EXIT_OK } from "../exit-codes.js";
import { table } from "../output.js";
import { DOCTOR_AREAS, DOCTOR_CHECKS, fixesFor, type DoctorCheck } from "./doctor-checks.js";

/** Status of one check. */
export const DoctorStatusSchema = z.enum(["ok", "missing", "not-running", "kernel-missing", "unknown"]);

/** `volkit doctor --json`. */
export const DoctorOutputSchema = z.object({
  /** True when every check passed. */
  ok: z.boolean(),
  /** Whether this host runs systemd (the service fixes say `systemctl` then). */
  systemd: z.boolean(),
  /** One entry per check, in a fixed order. */
  checks: z.array(
    z.object({
      /** Check id (`iscsiadm`). */
      id: z.string(),
      /** Area (`iscsi`). */
      area: z.enum(DOCTOR_AREAS),
      /** `ok`, `missing` (not installed), `not-running` (its service is down), `kernel-missing`, `unknown` (the probe failed otherwise). */
      status: DoctorStatusSchema,
      /** First line the tool printed about itself. */
      version: z.string().optional(),
      /** Debian package. */
      package: z.string(),
      /** What volkit uses it for. */
      neededFor: z.string(),
      /** Its daemon and whether it runs (null: could not tell). */
      service: z.object({ unit: z.string(), running: z.boolean().nullable() }).optional(),
      /** Its kernel facility and whether it is present. */
      kernel: z.object({ path: z.string(), present: z.boolean() }).optional(),
      /** Commands that fix what is wrong (empty when ok). */
      fixes: z.array(z.string()),
      /** Why the status is `unknown`. */
      problem: z.string().optional(),
    }),
  ),
});
/** `volkit doctor --json`. */
export type DoctorOutput = z.output<typeof DoctorOutputSchema>;
type CheckResult = DoctorOutput["checks"][number];

const NOT_FOUND_EXIT = 127;
/** Every exit status but 127 means the tool exists (its flags vary between versions). */
const ANY_EXIT_BUT_NOT_FOUND = Array.from({ length: 256 }, (_, i) => i).filter((i) => i !== NOT_FOUND_EXIT);
const PROBE_TIMEOUT_MS = 15_000;

/** `systemctl is-active` exit 0 = active; 3 = inactive; others = unknown unit or failure. */
const SYSTEMCTL_ACTIVE = 0;
/** `pgrep` exit 0 = a process matched; 1 = none. */
const PGREP_FOUND = 0;

function probe(runner: CommandRunner, check: DoctorCheck, signal: AbortSignal): ResultAsync<{ installed: boolean; version?: string; problem?: string }, never> {
  return runner
    .run({ argv: check.probe, okExitCodes: ANY_EXIT_BUT_NOT_FOUND, timeoutMs: PROBE_TIMEOUT_MS, signal, env: { LC_ALL: "C" } })
    .map((out) => {
      const line = `${out.stdout}\n${out.stderr}`.split("\n").map((l) => l.trim()).find((l) => l !== "");
      return out.exitCode === NOT_FOUND_EXIT ? { installed: false } : { installed: true, ...(line === undefined ? {} : { version: line.slice(0, 160) }) };
    })
    .orElse((e: VolkitError) => okAsync(e.code === "COMMAND_NOT_FOUND" ? { installed: false } : { installed: true, problem: `${e.code}: ${e.message}` }));
}

function serviceRunning(runner: CommandRunner, check: DoctorCheck, systemd: boolean, signal: AbortSignal): ResultAsync<boolean | null, never> {
  const need = check.service;
  if (need === undefined) return okAsync(null);
  const argv = systemd ? (["systemctl", "is-active", "--quiet", need.unit] as const) : (["pgrep", "-x", need.process] as const);
  return runner
    .run({ argv, okExitCodes: ANY_EXIT_BUT_NOT_FOUND, timeoutMs: PROBE_TIMEOUT_MS, signal })
    .map((out): boolean | null => (out.exitCode === NOT_FOUND_EXIT ? null : out.exitCode === (systemd ? SYSTEMCTL_ACTIVE : PGREP_FOUND)))
    .orElse(() => okAsync(null));
}

/** Runs one check. */
function runCheck(runner: CommandRunner, fs: HostFs, check: DoctorCheck, systemd: boolean, signal: AbortSignal): ResultAsync<CheckResult, never> {
  return ResultAsync.combine([
    probe(runner, check, signal),
    serviceRunning(runner, check, systemd, signal),
    check.kernel ? fs.exists(check.kernel.path) : okAsync(undefined),
  ] as const).map(([tool, running, kernelPresent]): CheckResult => {
    const status: CheckResult["status"] = !tool.installed
      ? "missing"
      : tool.problem !== undefined
        ? "unknown"
        : running === false
          ? "not-running"
          : kernelPresent === false
            ? "kernel-missing"
            : "ok";
    return {
      id: check.id,
      area: check.area,
      status,
      ...(tool.version === undefined ? {} : { version: tool.version }),
      package: check.package,
      neededFor: check.neededFor,
      ...(check.service ? { service: { unit: check.service.unit, running: tool.installed ? running : false } } : {}),
      ...(check.kernel && kernelPresent !== undefined ? { kernel: { path: check.kernel.path, present: kernelPresent } } : {}),
      fixes: status === "ok" || status === "unknown" ? [] : fixesFor(check, { installed: tool.installed, serviceRunning: running ?? undefined, kernelPresent, systemd }),
      ...(tool.problem === undefined ? {} : { problem: tool.problem }),
    };
  });
}

/** Checks the host: every check of the selected areas. */
export function runDoctor(runner: CommandRunner, fs: HostFs, areas: readonly string[] | undefined, signal: AbortSignal): ResultAsync<DoctorOutput, never> {
  const selected = DOCTOR_CHECKS.filter((c) => areas === undefined || areas.includes(c.area));
  return fs.exists("/run/systemd/system").andThen((systemd) =>
    ResultAsync.combine(selected.map((c) => runCheck(runner, fs, c, systemd, signal))).map((checks) => ({ ok: checks.every((c) => c.status === "ok"), systemd, checks })),
  );
}

/** The exit code of a doctor run: 0, or the code of the worst finding. */
export function doctorExitCode(out: DoctorOutput): number {
  if (out.checks.some((c) => c.status === "missing")) return EXIT_CODES.COMMAND_NOT_FOUND;
  if (out.checks.some((c) => c.status === "not-running" || c.status === "kernel-missing")) return EXIT_CODES.BACKEND_UNAVAILABLE;
  if (out.checks.some((c) => c.status === "unknown")) return EXIT_CODES.COMMAND_FAILED;
  return EXIT_OK;
}

const AreasSchema = z
  .string()
  .transform((s) => s.split(",").map((a) => a.trim()).filter((a) => a !== ""))
  .pipe(z.array(z.enum(DOCTOR_AREAS)).min(1));

/** Registers `volkit doctor`. */
export function registerDoctor(program: Command, run: CliRun): void {
  leaf(program, run, {
    name: "doctor",
    description: "check this host's storage tools and services, and print the fix for each missing piece",
    examples: ["doctor", "doctor --only iscsi,multipath --json"],
    configure: (cmd) => cmd.option("--only <areas>", `comma-separated areas to check (${DOCTOR_AREAS.join(", ")})`),
    output: {
      schema: DoctorOutputSchema,
      human: (out, paint) => {
        const mark = (s: CheckResult["status"]): string => (s === "ok" ? paint.paint("ok", "ok") : s === "unknown" ? paint.paint("warn", s) : paint.paint("bad", s));
        const rows = out.checks.map((c) => [c.id, mark(c.status), c.package, c.version ?? "", c.neededFor]);
        const fixes = out.checks.flatMap((c) => c.fixes.map((f) => `  ${paint.paint("accent", f)}    ${paint.paint("dim", `# ${c.id}`)}`));
        const problems = out.checks.flatMap((c) => (c.problem === undefined ? [] : [`  ${c.id}: ${c.problem}`]));
        return [
          table(["check", "status", "package", "version", "needed for"], rows, paint),
          ...(fixes.length ? ["", "To fix:", ...fixes] : []),
          ...(problems.length ? ["", "Could not tell:", ...problems] : []),
          "",
          out.ok ? paint.paint("ok", "All checks passed.") : paint.paint("warn", "Some checks failed (see above)."),
        ].join("\n");
      },
    },
    run: (ctx, _args, options) => {
      const parsed = options.only === undefined ? undefined : validate(AreasSchema, options.only, "--only");
      if (parsed?.isErr()) return errAsync(parsed.error);
      const areas = okAsync<readonly string[] | undefined, VolkitError>(parsed?.isOk() ? parsed.value : undefined);
      return areas.andThen((selected) =>
        ctx.runner().andThen((runner) => runDoctor(runner, ctx.env.hostFs, selected, ctx.cancel.signal)).map((out) => ({ data: out, exitCode: doctorExitCode(out) })),
      );
    },
  });
}
