import { err, ok, type Result } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../core/errors.js";
import { silentLogger, type Logger } from "../core/events.js";
import { registerSecret } from "../core/secrets.js";
import { HostSchema, PortSchema, validate } from "../core/validation.js";
import { RootHelperSchema } from "./root-helper.js";
import { MAX_TIMER_MS } from "../core/timers.js";
import { ENV_NAME } from "./runner.js";
import { buildHostVerifier, type SshHostVerifier } from "./ssh-host-keys.js";

/** Options for {@link createSshRunner}. */
export interface SshRunnerOptions {
  /** Server address: IPv4, IPv6 or DNS name. */
  readonly host: string;
  /** TCP port (default 22). */
  readonly port?: number;
  /** Login user. */
  readonly username: string;
  /** Private key (OpenSSH or PEM text). A secret: registered for redaction. */
  readonly privateKey?: string | Buffer;
  /** Passphrase of an encrypted private key. A secret: registered for redaction. */
  readonly passphrase?: string;
  /** Password, used when no key is given or the key is refused. A secret: registered for redaction. */
  readonly password?: string;
  /**
   * The server's expected host key, checked on every connection. Either its SHA256 fingerprint
   * (`SHA256:…`, from `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), an OpenSSH public key line
   * (`ssh-ed25519 AAAA… comment`) or a `known_hosts` line (`host ssh-ed25519 AAAA…`). Give several to
   * accept any of them (e.g. one per key type, or during a key rotation).
   */
  readonly hostKey?: string | readonly string[];
  /** Custom host key check, used instead of (or, when both are given, in addition to) {@link hostKey}. */
  readonly hostVerifier?: SshHostVerifier;
  /**
   * Turns host key checking off. Only for throwaway lab hosts: anyone between you and the server
   * can then read every command, including secrets passed on stdin. Must be `true` explicitly.
   */
  readonly insecureSkipHostKeyCheck?: boolean;
  /** How long the TCP connect plus SSH handshake and authentication may take (ms, default 20 000). */
  readonly connectTimeoutMs?: number;
  /** SSH keepalive interval (ms, default 15 000; 0 turns keepalives off). */
  readonly keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection counts as dead (default 3). */
  readonly keepaliveCountMax?: number;
  /**
   * Argv prepended (on the server) to every command to gain privileges, e.g. `["sudo", "-n"]`: one
   * of the helpers {@link RootHelperSchema} allows (anything else fails with `INVALID_CONFIG`).
   * Environment variables are placed after it (`sudo -n env VAR=value cmd`) so sudo's environment
   * reset cannot drop them.
   */
  readonly rootHelper?: readonly string[];
  /** Environment applied to every command (before the per-command `env`). */
  readonly env?: Readonly<Record<string, string>>;
  /** Default timeout for commands that set none (ms). */
  readonly defaultTimeoutMs?: number;
  /** Most commands run at once on the connection (default 8; OpenSSH allows 10 sessions per connection). */
  readonly maxChannels?: number;
  /** After killing a command, how long to wait for the server to close its channel (ms, default 2000). */
  readonly killGraceMs?: number;
  /** Receives connection events (connect, disconnect, reconnect). Never given argv or secrets. */
  readonly logger?: Logger;
}

const SshOptionsSchema = z.object({
  host: HostSchema,
  port: PortSchema.default(22),
  username: z.string().regex(/^[A-Za-z0-9._][A-Za-z0-9._@-]{0,63}$/, "must be a user name (letters, digits, '._@-')"),
  // Timers handed to ssh2 and setTimeout: longer than 2^31-1 ms they would fire after 1 ms.
  connectTimeoutMs: z.number().int().positive().max(MAX_TIMER_MS).default(20_000),
  keepaliveIntervalMs: z.number().int().nonnegative().max(MAX_TIMER_MS).default(15_000),
  keepaliveCountMax: z.number().int().positive().max(1000).default(3),
  defaultTimeoutMs: z.number().int().positive().optional(),
  maxChannels: z.number().int().min(1).max(64).default(8),
  killGraceMs: z.number().int().nonnegative().max(MAX_TIMER_MS).default(2000),
  rootHelper: RootHelperSchema.optional(),
  envNames: z.array(z.string().regex(ENV_NAME, "must be an environment variable name")),
  envValues: z.array(z.string().refine((v) => !v.includes("\0"), "must not contain a NUL byte")),
});

/** The login secrets, kept apart from everything that may be logged. */
export interface SshCredentials {
  /** Private key text. */
  readonly privateKey?: string | Buffer;
  /** Its passphrase. */
  readonly passphrase?: string;
  /** Password. */
  readonly password?: string;
}

/** The SSH runner's options after validation, with defaults applied. */
export type SshSettings = Omit<z.output<typeof SshOptionsSchema>, "envNames" | "envValues"> & {
  /** Login secrets. */
  readonly credentials: SshCredentials;
  /** The host key check, or `undefined` when explicitly off. */
  readonly verifier: SshHostVerifier | undefined;
  /** Runner-wide environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Where connection events go. */
  readonly logger: Logger;
};

/**
 * Registers the credentials as secrets, then validates the options (`INVALID_CONFIG` for bad names,
 * ports, durations, no credential, no host key check, an unusable `hostKey`).
 */
export function resolveSshOptions(options: SshRunnerOptions): Result<SshSettings, VolkitError> {
  // Register first: nothing below may echo a credential, but an error message might one day.
  registerSecret(options.password);
  registerSecret(options.passphrase);
  if (typeof options.privateKey === "string") registerSecret(options.privateKey);
  else if (options.privateKey !== undefined) registerSecret(options.privateKey.toString("utf8"));

  const parsed = validate(
    SshOptionsSchema,
    {
      host: options.host,
      port: options.port,
      username: options.username,
      connectTimeoutMs: options.connectTimeoutMs,
      keepaliveIntervalMs: options.keepaliveIntervalMs,
      keepaliveCountMax: options.keepaliveCountMax,
      defaultTimeoutMs: options.defaultTimeoutMs,
      maxChannels: options.maxChannels,
      killGraceMs: options.killGraceMs,
      rootHelper: options.rootHelper === undefined ? undefined : [...options.rootHelper],
      envNames: Object.keys(options.env ?? {}),
      envValues: Object.values(options.env ?? {}),
    },
    "ssh runner options",
    "INVALID_CONFIG",
  );
  if (parsed.isErr()) return err(parsed.error);
  if (options.privateKey === undefined && options.password === undefined) {
    return err(new VolkitError("INVALID_CONFIG", "ssh runner options: give privateKey or password", { source: "ssh" }));
  }
  const verifier = buildHostVerifier(options);
  if (verifier.isErr()) return err(verifier.error);
  const { envNames: _names, envValues: _values, ...settings } = parsed.value;
  return ok({
    ...settings,
    credentials: {
      ...(options.privateKey === undefined ? {} : { privateKey: options.privateKey }),
      ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
      ...(options.password === undefined ? {} : { password: options.password }),
    },
    verifier: verifier.value,
    env: { ...options.env },
    logger: options.logger ?? silentLogger,
  });
}
