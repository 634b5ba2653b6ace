import { errAsync, okAsync, ResultAsync, type Result } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { registerSecret } from "../../core/secrets.js";
import { AbsolutePathSchema, FilePathSchema, HostSchema, PortSchema } from "../../core/validation.js";
import type { CommandRunner } from "../../exec/runner.js";

/**
 * A Ceph cluster name (`--cluster`, and the `<cluster>.conf` / `<cluster>.client.<id>.keyring`
 * file names): it starts with a letter or digit, so it can never be read as an option.
 */
export const CephClusterNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit");

/** A cephx client id: `cinder` for `client.cinder`. */
export const CephClientIdSchema = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/, "must be 1-64 letters, digits, '_', '.' or '-', not starting with '-' or '.'");

/**
 * A cephx secret key (base64, e.g. `AQBx…==`, what `ceph auth get-key` prints). Registered as a
 * secret the moment it is validated, so it never appears in logs or errors.
 */
export const CephKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9+/]{16,1024}={0,2}$/, "must be a base64 cephx key")
  .transform((key) => {
    registerSecret(key);
    return key;
  });

/** One address: `host`, `host:port`, `[v6]:port`, optionally prefixed `v1:`/`v2:` (messenger version). */
function isMonitorAddress(text: string): boolean {
  const m = /^(?:v[12]:)?(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s,]+))(?::(\d{1,5}))?$/.exec(text);
  if (!m) return false;
  const host = m[1] ?? m[2] ?? "";
  if (!HostSchema.safeParse(host).success) return false;
  return m[3] === undefined || PortSchema.safeParse(Number(m[3])).success;
}

/**
 * A monitor address as `-m` and `mon host` read it: `10.0.0.1`, `10.0.0.1:6789`,
 * `v2:10.0.0.1:3300`, or one monitor's address vector `[v2:10.0.0.1:3300,v1:10.0.0.1:6789]`.
 * Without a prefix the client tries msgr2 first, then msgr1.
 */
export const MonitorAddressSchema = z.string().max(512).refine((text) => {
  const vector = /^\[(.+)\]$/.exec(text);
  if (vector?.[1] && /^v[12]:/.test(vector[1])) return vector[1].split(",").every((a) => /^v[12]:/.test(a) && isMonitorAddress(a));
  return isMonitorAddress(text);
}, "must be host[:port], v1:/v2:host:port or [v2:host:port,v1:host:port]");

/**
 * How to reach a Ceph cluster as one cephx client: the cluster (config file and/or monitors), the
 * client id, and its credentials (a keyring file, or the key itself, which is then written to a
 * 0600 key file through the runner: never put on a command line).
 *
 * @example
 * ```ts
 * const connection = { monitors: ["v2:10.0.0.1:3300"], clientId: "cinder", key: process.env.CEPH_KEY, connectTimeoutSec: 10 };
 * ```
 */
export const RbdConnectionSchema = z
  .object({
    /** Cluster name (`--cluster`; default `ceph`: `/etc/ceph/ceph.conf`). */
    clusterName: CephClusterNameSchema.optional(),
    /**
     * Ceph config file (`--conf`). When absent: with `monitors`, no file at all (`--conf /dev/null`);
     * without, the CLIs read `/etc/ceph/<cluster>.conf`.
     */
    confPath: FilePathSchema.optional(),
    /** Monitor addresses (`-m`), overriding the config file's `mon host`. */
    monitors: z.array(MonitorAddressSchema).min(1).max(32).optional(),
    /** cephx client id (`--id`). */
    clientId: CephClientIdSchema,
    /** Keyring file holding the client's key (`--keyring`). */
    keyringPath: FilePathSchema.optional(),
    /** The client's key itself (secret). */
    key: CephKeySchema.optional(),
    /**
     * Seconds a command waits for the monitors (`--client-mount-timeout` and
     * `--rados-mon-op-timeout`); always passed, since the CLI default waits 300 s.
     */
    connectTimeoutSec: z.number().int().min(1).max(300).default(10),
    /** Seconds one OSD operation may take before failing (`--rados-osd-op-timeout`; 0 = librados default, no limit). */
    osdOpTimeoutSec: z.number().int().min(0).max(3600).default(0),
    /** Bound on metadata commands (info, snap, clone…, ms); data-sized ones (flatten, export-diff) run to the operation's deadline. */
    commandTimeoutMs: z.number().int().min(1000).max(86_400_000).default(120_000),
    /** Directory on the runner's host for the key file (default: a fresh `mktemp -d` directory). */
    keyfileDir: AbsolutePathSchema.optional(),
  })
  .refine((c) => c.key === undefined || c.keyringPath === undefined, { message: "give either key or keyringPath, not both", path: ["key"] });

/** How to reach a Ceph cluster (see {@link RbdConnectionSchema}). */
export type RbdConnection = z.output<typeof RbdConnectionSchema>;

/** What callers pass for {@link RbdConnection}. */
export type RbdConnectionInput = z.input<typeof RbdConnectionSchema>;

/**
 * The options every `rbd`/`ceph` command gets for `connection`: cluster, config, monitors, client
 * id, keyring or key file, and the timeouts.
 */
export function connectionArgs(connection: RbdConnection, keyfile?: string): string[] {
  const timeout = String(connection.connectTimeoutSec);
  return [
    ...(connection.clusterName === undefined ? [] : ["--cluster", connection.clusterName]),
    // Monitors without a config file: read none (the `ceph` CLI refuses to run without one, and a
    // host's /etc/ceph/ceph.conf may describe another cluster).
    ...(connection.confPath !== undefined ? ["--conf", connection.confPath] : connection.monitors !== undefined ? ["--conf", "/dev/null"] : []),
    ...(connection.monitors === undefined ? [] : ["-m", connection.monitors.join(",")]),
    "--id",
    connection.clientId,
    ...(connection.keyringPath === undefined ? [] : ["--keyring", connection.keyringPath]),
    ...(keyfile === undefined ? [] : ["--keyfile", keyfile]),
    "--client-mount-timeout",
    timeout,
    "--rados-mon-op-timeout",
    timeout,
    ...(connection.osdOpTimeoutSec > 0 ? ["--rados-osd-op-timeout", String(connection.osdOpTimeoutSec)] : []),
  ];
}

/**
 * The client's key in a 0600 file on the runner's host, created on first use inside a private
 * (0700) directory and removed by {@link CephKeyfile.remove}. The key travels to the file on the
 * standard input of `dd`, never in an argv.
 */
export class CephKeyfile {
  #path: Promise<Result<string, VolkitError>> | undefined;

  /** @param runner - where the CLIs run; @param key - the secret key; @param dir - parent directory (default `mktemp -d`'s). */
  constructor(
    private readonly runner: CommandRunner,
    private readonly key: string,
    private readonly dir?: string,
  ) {
    registerSecret(key);
  }

  /**
   * The key file's path, creating it once. Concurrent callers share the creation (and its
   * outcome: an abort of the first caller fails them too); a failed creation is retried by the
   * next call.
   */
  path(ctx: OperationContext): ResultAsync<string, VolkitError> {
    if (this.#path === undefined) {
      const creating: Promise<Result<string, VolkitError>> = Promise.resolve(this.#create(ctx)).then((r) => {
        if (r.isErr() && this.#path === creating) this.#path = undefined;
        return r;
      });
      this.#path = creating;
    }
    return new ResultAsync(this.#path);
  }

  /** Removes the key file and its directory (nothing to do when never created). */
  remove(ctx: OperationContext): ResultAsync<void, VolkitError> {
    const pending = this.#path;
    if (pending === undefined) return okAsync(undefined);
    this.#path = undefined;
    return new ResultAsync(pending).orElse(() => okAsync("")).andThen((file) => {
      if (file === "") return okAsync(undefined);
      const dir = file.slice(0, file.lastIndexOf("/"));
      return this.runner.run({ argv: ["rm", "-rf", "--", dir], signal: ctx.signal, timeoutMs: 30_000 }).map(() => undefined);
    });
  }

  #create(ctx: OperationContext): ResultAsync<string, VolkitError> {
    // -t: in $TMPDIR or /tmp (a bare template would land in the working directory).
    const mktemp = ["mktemp", "-d", ...(this.dir === undefined ? ["-t"] : ["-p", this.dir]), "volkit-ceph.XXXXXXXX"] as const;
    return this.runner
      .run({ argv: mktemp, signal: ctx.signal, timeoutMs: 30_000 })
      .andThen((out) => {
        const dir = out.stdout.trim();
        if (!AbsolutePathSchema.safeParse(dir).success) return errAsync(new VolkitError("INTERNAL", "mktemp printed no directory", { source: "rbd" }));
        const file = `${dir}/keyfile`;
        return this.runner
          .run({ argv: ["install", "-m", "600", "/dev/null", file], signal: ctx.signal, timeoutMs: 30_000 })
          .andThen(() => this.runner.run({ argv: ["dd", `of=${file}`, "status=none"], stdin: `${this.key}\n`, secrets: [this.key], signal: ctx.signal, timeoutMs: 30_000 }))
          .map(() => file);
      });
  }
}

/** Escapes a value for qemu's legacy `rbd:` filename, whose options are `:`-separated. */
function qemuEscape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/:/g, "\\:");
}

/**
 * The `rbd:` filename qemu-img, qemu-io and QEMU itself open through librbd, without any kernel
 * mapping: `rbd:pool[/namespace]/image[@snap]:id=…:conf=…:mon_host=…:keyring=…|keyfile=…:client_mount_timeout=…`.
 * It names the key file, never the key.
 *
 * @example
 * ```ts
 * qemuRbdFilename(connection, { pool: "volumes", image: "volume-1" }, "/run/volkit/keyfile");
 * // "rbd:volumes/volume-1:id=cinder:mon_host=v2\\:10.0.0.1\\:3300:keyfile=/run/volkit/keyfile:client_mount_timeout=10"
 * ```
 */
export function qemuRbdFilename(connection: RbdConnection, ref: { readonly pool: string; readonly namespace?: string | undefined; readonly image: string; readonly snapshot?: string | undefined }, keyfile?: string): string {
  const path = `${ref.pool}/${ref.namespace === undefined ? "" : `${ref.namespace}/`}${ref.image}${ref.snapshot === undefined ? "" : `@${ref.snapshot}`}`;
  const options: [string, string][] = [["id", connection.clientId]];
  if (connection.confPath !== undefined) options.push(["conf", connection.confPath]);
  // qemu reads ';' as the separator of several monitors.
  if (connection.monitors !== undefined) options.push(["mon_host", connection.monitors.join(";")]);
  if (connection.keyringPath !== undefined) options.push(["keyring", connection.keyringPath]);
  if (keyfile !== undefined) options.push(["keyfile", keyfile]);
  options.push(["client_mount_timeout", String(connection.connectTimeoutSec)]);
  return `rbd:${qemuEscape(path)}${options.map(([k, v]) => `:${k}=${qemuEscape(v)}`).join("")}`;
}
