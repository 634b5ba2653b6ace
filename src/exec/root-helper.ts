import { err, ok, type Result } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../core/errors.js";
import { validate } from "../core/validation.js";
import { ENV_NAME, checkCommandSpec, type Argv, type CommandRunner } from "./runner.js";

/**
 * The root helper: the argv a runner puts before every command to gain privileges. It comes from
 * configuration (a panel form, a config file), so it is an allow-list, not a pattern: a value that
 * is not one of the shapes below is refused, because anything that can run a shell (`sh -c`), load
 * code (`env LD_PRELOAD=…`) or change what runs (`sudo -s`, `sudo -- sh`) would turn a config field
 * into arbitrary root code.
 *
 * Accepted (each element one argv string):
 *
 * - `sudo [-n] [-u <user>]` — bare `sudo` is resolved to `/usr/bin/sudo`, so `PATH` cannot choose it.
 * - `doas [-n] [-u <user>]` — bare `doas` is resolved to `/usr/bin/doas`.
 * - `/usr/bin/<project>-rootwrap /etc/<…>.conf` — OpenStack's filter-based helper with its config
 *   file (bare `<project>-rootwrap` resolves to `/usr/bin/`), alone (when already root) or after
 *   one of the above, as Cinder configures it: `sudo cinder-rootwrap /etc/cinder/rootwrap.conf`.
 *
 * Flags, each at most once, as separate elements (no `-nu root`):
 *
 * - `-n` (non-interactive): fail at once instead of waiting for a password nobody will type.
 * - `-u <user>` (a plain user name, `[a-z_][a-z0-9_-]{0,31}`): run as that user instead of root.
 *   Which commands it may run is still the sudoers/doas.conf policy's decision.
 *
 * Refused on purpose: `-E`/`--preserve-env` (would hand the caller's whole environment, `PATH`
 * included, to the root process; the runners pass the variables a command needs explicitly, after
 * the helper, as `env VAR=value cmd`), `-s`/`-i` (a shell), `-S` (reads a password from the
 * command's stdin), `-b` (background: the exit code is lost), `-C`/`-D`/`-R`/`-g`/`-h`/`-p`/`-T`
 * and `--` (not needed to run a command as root, each changes what or where it runs), every long
 * option, and paths other than the ones above (`./sudo`, `/tmp/sudo`, `/usr/bin/../bin/sh`).
 *
 * An empty array means no helper. The parsed value is the normalized argv (absolute paths).
 *
 * @example
 * ```ts
 * RootHelperSchema.parse(["sudo", "-n"]); // ["/usr/bin/sudo", "-n"]
 * RootHelperSchema.parse(["sudo", "cinder-rootwrap", "/etc/cinder/rootwrap.conf"]);
 * // ["/usr/bin/sudo", "/usr/bin/cinder-rootwrap", "/etc/cinder/rootwrap.conf"]
 * RootHelperSchema.safeParse(["sh", "-c"]).success; // false
 * ```
 */
export const RootHelperSchema = z
  .array(
    z
      .string()
      .min(1, "must not be empty")
      .max(255, "must be at most 255 characters")
      .regex(/^[A-Za-z0-9_./@=:-]+$/, "must be letters, digits and '_./@=:-' only"),
  )
  .max(8, "must be at most 8 elements")
  .readonly()
  .transform((argv, ctx) => {
    const parsed = parseHelperArgv(argv);
    if ("argv" in parsed) return parsed.argv;
    ctx.issues.push({ code: "custom", message: parsed.message, input: argv, path: parsed.index === undefined ? [] : [parsed.index] });
    return z.NEVER;
  })
  .meta({
    title: "Root helper",
    description:
      "Program and flags put before every command to run it as root: sudo or doas (bare name or /usr/bin/…) with only -n and -u <user>, " +
      "and/or /usr/bin/<project>-rootwrap with its /etc/…/*.conf file. One argument per element. Leave empty when volkit already runs as root.",
    examples: [["sudo", "-n"], ["doas", "-n"], ["sudo", "cinder-rootwrap", "/etc/cinder/rootwrap.conf"]],
  });

/** A validated, normalized root helper argv (empty: none); see {@link RootHelperSchema}. */
export type RootHelper = z.output<typeof RootHelperSchema>;

/**
 * Validates a root helper from configuration with {@link RootHelperSchema}: `INVALID_CONFIG`
 * naming the offending element (by index, never echoing it) when it is not on the allow-list.
 *
 * @example
 * ```ts
 * parseRootHelper(["sudo", "-n"]); // ok(["/usr/bin/sudo", "-n"])
 * parseRootHelper(["env", "LD_PRELOAD=/x.so"]); // err(INVALID_CONFIG)
 * ```
 */
export function parseRootHelper(value: unknown): Result<RootHelper, VolkitError> {
  return validate(RootHelperSchema, value, "rootHelper", "INVALID_CONFIG");
}

/** Where the bare names of the known privilege helpers resolve. */
const ELEVATORS: Readonly<Record<string, string>> = {
  sudo: "/usr/bin/sudo",
  "/usr/bin/sudo": "/usr/bin/sudo",
  doas: "/usr/bin/doas",
  "/usr/bin/doas": "/usr/bin/doas",
};
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const ROOTWRAP = /^(\/usr\/bin\/)?([a-z][a-z0-9]*(-[a-z0-9]+)*-rootwrap)$/;
// Every segment starts with a letter or digit, so none can be `.` or `..`.
const ROOTWRAP_CONFIG = /^\/etc(\/[a-z0-9][a-z0-9._-]*)+\.conf$/;
const HELPER_SHAPES = "sudo or doas (bare or /usr/bin/…), optionally followed by /usr/bin/<project>-rootwrap and its /etc/…/*.conf file";

type Parsed = { readonly argv: readonly string[] } | { readonly message: string; readonly index?: number };

/** Reads `argv` against the grammar `[(sudo|doas) flag*] [rootwrap config]`. */
function parseHelperArgv(argv: readonly string[]): Parsed {
  const out: string[] = [];
  let i = 0;
  const elevator = argv[0] === undefined ? undefined : ELEVATORS[argv[0]];
  if (elevator !== undefined) {
    const name = elevator.slice(elevator.lastIndexOf("/") + 1);
    out.push(elevator);
    const seen = new Set<string>();
    for (i = 1; i < argv.length; ) {
      const flag = argv[i];
      if (flag !== "-n" && flag !== "-u") break;
      if (seen.has(flag)) return { message: `${flag} is given twice`, index: i };
      seen.add(flag);
      if (flag === "-n") {
        out.push(flag);
        i += 1;
        continue;
      }
      const user = argv[i + 1];
      if (user === undefined || !USER_NAME.test(user)) return { message: `-u of ${name} must be followed by a user name ([a-z_][a-z0-9_-]*)`, index: i + 1 };
      out.push(flag, user);
      i += 2;
    }
    if (i < argv.length && argv[i]?.startsWith("-")) return { message: `is not an allowed flag of ${name} (allowed: -n, -u <user>)`, index: i };
  }
  const rootwrap = argv[i] === undefined ? null : ROOTWRAP.exec(argv[i] ?? "");
  if (rootwrap) {
    const config = argv[i + 1];
    if (config === undefined || !ROOTWRAP_CONFIG.test(config)) return { message: `${rootwrap[2]} must be followed by its config file (/etc/…/*.conf)`, index: i + 1 };
    out.push(`/usr/bin/${rootwrap[2]}`, config);
    i += 2;
  }
  if (i < argv.length) {
    return i === 0 ? { message: `must be ${HELPER_SHAPES}`, index: 0 } : { message: `nothing may follow ${HELPER_SHAPES}`, index: i };
  }
  return { argv: out };
}


/**
 * The argv that runs `argv` through `helper` with `env` set for the command itself:
 * `[...helper, "env", "NAME=value"…, ...argv]`. The variables go after the helper because `sudo` and
 * `doas` reset the environment they are given (`LVM_SYSTEM_DIR` would be lost), while what `env`
 * sets reaches the command; OpenStack's rootwrap filters expect this form (`EnvFilter`). Without
 * variables there is no `env`. Values are visible in the process list (and in sudo's log, as part
 * of `SUDO_COMMAND`): pass secrets on stdin.
 *
 * Fails with `INVALID_ARGUMENT` for a variable name that is not `[A-Za-z_][A-Za-z0-9_]*` or a value
 * with a NUL byte (neither can reach a program); the value itself is never echoed.
 */
export function withRootHelper(helper: readonly string[], env: Readonly<Record<string, string>>, argv: Argv): Result<Argv, VolkitError> {
  const assignments: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) {
      return err(new VolkitError("INVALID_ARGUMENT", `environment variable name ${JSON.stringify(name.slice(0, 64))} is not valid`, { source: "exec" }));
    }
    if (value.includes("\0")) {
      return err(new VolkitError("INVALID_ARGUMENT", `environment variable ${name} contains a NUL byte`, { source: "exec" }));
    }
    assignments.push(`${name}=${value}`);
  }
  const prefix = [...helper, ...(assignments.length ? ["env", ...assignments] : [])];
  return ok(prefix.length ? ([...prefix, ...argv] as unknown as Argv) : argv);
}

/**
 * A runner that runs every command of `runner` through `helper` (environment placed after it, see
 * {@link withRootHelper}). An empty helper returns `runner` itself. For components that need root
 * for a few commands only (mount/umount) while the rest runs unprivileged, on any runner (SSH too).
 */
export function elevatedRunner(runner: CommandRunner, helper: RootHelper): CommandRunner {
  if (helper.length === 0) return runner;
  return {
    description: `${runner.description} via ${helper.join(" ")}`,
    run: (spec) => {
      const { env, ...rest } = spec;
      return checkCommandSpec(spec)
        .andThen(() => withRootHelper(helper, env ?? {}, spec.argv))
        .asyncAndThen((argv) => runner.run({ ...rest, argv }));
    },
  };
}
