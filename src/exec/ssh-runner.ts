import { createHash, randomBytes } from "node:crypto";
import { StringDecoder } from "node:string_decoder";
import { setTimeout as sleep } from "node:timers/promises";
import { ResultAsync, err, errAsync, ok, type Result } from "neverthrow";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { z } from "zod";
import { abortReasonToError } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { silentLogger, type Logger } from "../core/events.js";
import { registerSecret } from "../core/secrets.js";
import { HostSchema, PortSchema, validate } from "../core/validation.js";
import { quoteArgv } from "./quote.js";
import { commandFailed, redactArgv, type CommandOutput, type CommandRunner, type CommandSpec } from "./runner.js";

/**
 * Decides whether to trust the server's host key. Receives the raw public key blob (SSH wire format)
 * and its OpenSSH SHA256 fingerprint (`SHA256:…`, as `ssh-keygen -lf` prints it).
 */
export type SshHostVerifier = (key: Buffer, fingerprint: string) => boolean;

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
   * Argv prepended (on the server) to every command to gain privileges, e.g. `["sudo", "-n"]`.
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

/** A {@link CommandRunner} over one SSH connection; see {@link createSshRunner}. */
export interface SshRunner extends CommandRunner {
  /**
   * Kills running commands (best effort, see {@link createSshRunner}), closes the connection and makes
   * every later `run` fail with `INVALID_STATE`. Idempotent.
   */
  close(): ResultAsync<void, VolkitError>;
}

/**
 * The OpenSSH SHA256 fingerprint of a public key blob: `SHA256:` followed by the unpadded base64 of
 * the blob's SHA-256 digest, as printed by `ssh-keygen -lf`.
 *
 * @example
 * ```ts
 * sshHostKeyFingerprint(Buffer.from(pubLine.split(" ")[1], "base64")); // "SHA256:q0x…"
 * ```
 */
export function sshHostKeyFingerprint(key: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const SshOptionsSchema = z.object({
  host: HostSchema,
  port: PortSchema.default(22),
  username: z.string().regex(/^[A-Za-z0-9._][A-Za-z0-9._@-]{0,63}$/, "must be a user name (letters, digits, '._@-')"),
  connectTimeoutMs: z.number().int().positive().default(20_000),
  keepaliveIntervalMs: z.number().int().nonnegative().default(15_000),
  keepaliveCountMax: z.number().int().positive().default(3),
  defaultTimeoutMs: z.number().int().positive().optional(),
  maxChannels: z.number().int().min(1).max(64).default(8),
  killGraceMs: z.number().int().nonnegative().default(2000),
  rootHelper: z.array(z.string().min(1)).optional(),
  envNames: z.array(z.string().regex(ENV_NAME, "must be an environment variable name")),
});

type ResolvedOptions = z.output<typeof SshOptionsSchema>;

/**
 * Creates a {@link CommandRunner} that runs every command on a remote host over SSH (the `ssh2`
 * package; no `ssh` binary needed).
 *
 * - **Quoting.** SSH carries one command string which the remote login shell parses. The argv is
 *   turned into that string in exactly one place, {@link quoteArgv} (POSIX single quotes), so every
 *   element reaches the program byte for byte and no value can inject a command. The login shell of
 *   the remote user must be POSIX-compatible (sh, bash, dash, ksh, zsh). Per-command `env` becomes an
 *   `env VAR=value` argv prefix (servers usually refuse SSH environment requests); `cwd` becomes a
 *   quoted `cd -- <dir> &&` prefix. Environment values are visible in the remote process list: pass
 *   secrets on stdin instead.
 * - **Host keys.** Checked by default: give {@link SshRunnerOptions.hostKey} or
 *   {@link SshRunnerOptions.hostVerifier}, or opt out with `insecureSkipHostKeyCheck: true`. A
 *   mismatch fails with `AUTH_FAILED` (details `reason: "host-key-mismatch"`, `presentedFingerprint`).
 * - **Connection.** Opened lazily on the first command and shared by all commands (up to
 *   `maxChannels` at once). If it dropped, the next command reconnects; a command whose channel could
 *   not be opened (it never started) is retried once on a fresh connection. A command cut off by a
 *   dropped connection after it started is not re-run: it fails with `BACKEND_UNAVAILABLE`
 *   (transient). Call {@link SshRunner.close} when done: an open connection keeps Node running.
 * - **Cancellation.** On timeout or abort the runner sends `signal KILL` on the channel and closes
 *   it. OpenSSH honours signal requests only in privilege-separated sessions, i.e. NOT for root
 *   logins, and ssh2 1.17 drops them after stdin EOF (worked around here). So the command line also
 *   announces the remote shell's pid on stderr (a line with a per-runner random tag, removed from
 *   the output) before `exec`-ing the command, and a timeout additionally runs
 *   `kill -s KILL -- -<pgid>` (through the root helper) on a second channel, killing the command's
 *   whole process group. Still best effort: a remote child that left its process group, a root
 *   helper that may not run `kill`, or a lost connection leave it running; the runner reports
 *   `TIMEOUT`/`ABORTED` either way, after at most `killGraceMs` of cleanup.
 * - **Results** match the local runner: `COMMAND_FAILED` with redacted argv and stderr, `TIMEOUT`,
 *   `ABORTED`, and `COMMAND_NOT_FOUND` for exit code 127 (what a shell returns for a missing
 *   program). Connection failures: `AUTH_FAILED` (host key or login refused), `BACKEND_UNAVAILABLE`
 *   (unreachable, connect timeout, connection lost; transient).
 *
 * Fails with `INVALID_CONFIG` for bad options (no credential, no host key check, bad names).
 *
 * @example
 * ```ts
 * const runner = createSshRunner({
 *   host: "10.0.0.5", username: "volkit", privateKey: readFileSync("/etc/volkit/id_ed25519"),
 *   hostKey: "SHA256:q0xS…", rootHelper: ["sudo", "-n"],
 * })._unsafeUnwrap();
 * const out = await runner.run({ argv: ["lvs", "--reportformat", "json"] });
 * await runner.close();
 * ```
 */
export function createSshRunner(options: SshRunnerOptions): Result<SshRunner, VolkitError> {
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
    },
    "ssh runner options",
    "INVALID_CONFIG",
  );
  if (parsed.isErr()) return err(parsed.error);
  if (options.privateKey === undefined && options.password === undefined) {
    return err(configError("ssh runner options: give privateKey or password"));
  }
  const verifier = buildHostVerifier(options);
  if (verifier.isErr()) return err(verifier.error);
  return ok(new SshCommandRunner(options, parsed.value, verifier.value));
}

function configError(message: string): VolkitError {
  return new VolkitError("INVALID_CONFIG", message, { source: "ssh" });
}

/** Returns the verifier to install, or `undefined` when checking is explicitly off. */
function buildHostVerifier(options: SshRunnerOptions): Result<SshHostVerifier | undefined, VolkitError> {
  const entries = options.hostKey === undefined ? [] : typeof options.hostKey === "string" ? [options.hostKey] : [...options.hostKey];
  if (entries.length === 0 && options.hostVerifier === undefined) {
    return options.insecureSkipHostKeyCheck === true
      ? ok(undefined)
      : err(configError("ssh runner options: host key checking is on; give hostKey (SHA256 fingerprint or public key) or hostVerifier, or set insecureSkipHostKeyCheck: true"));
  }
  const expected = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const fingerprint = expectedFingerprint(entry);
    if (fingerprint === undefined) {
      return err(configError(`ssh runner options: hostKey[${index}] is neither a SHA256 fingerprint nor an OpenSSH public key line`));
    }
    expected.add(fingerprint);
  }
  const custom = options.hostVerifier;
  return ok((key, fingerprint) => (expected.size === 0 || expected.has(fingerprint)) && (custom === undefined || custom(key, fingerprint)));
}

const KEY_TYPE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/;

/** Normalizes one `hostKey` entry to a `SHA256:` fingerprint. */
function expectedFingerprint(entry: string): string | undefined {
  const trimmed = entry.trim();
  const fp = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(trimmed);
  if (fp) return `SHA256:${fp[1]}`;
  const tokens = trimmed.split(/\s+/);
  const typeIndex = tokens.findIndex((t) => KEY_TYPE.test(t));
  const blob = typeIndex === -1 ? undefined : tokens[typeIndex + 1];
  if (blob === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return undefined;
  const bytes = Buffer.from(blob, "base64");
  // The blob starts with the key type as an SSH string; check it matches the line's type.
  const typeLength = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
  if (typeLength <= 0 || bytes.subarray(4, 4 + typeLength).toString("latin1") !== tokens[typeIndex]) return undefined;
  return sshHostKeyFingerprint(bytes);
}

/** A command running on a channel. */
interface Running {
  readonly channel: ClientChannel;
  /** Pid (and process group) of the remote command, once its stderr announced it. */
  pid: number | undefined;
  /** Resolves when the pid is known or can no longer become known. */
  readonly pidKnown: Promise<void>;
  /** The server reported an exit status or signal. */
  exited: boolean;
  /** Resolves when the channel closed. */
  readonly closed: Promise<void>;
}

/** One SSH connection and the commands running on it. */
interface Connection {
  readonly client: Client;
  /** Commands currently running on it. */
  readonly running: Set<Running>;
  /** No new commands go to it; it is ended once its last command finishes. */
  retired: boolean;
  /** The socket closed. */
  closed: boolean;
}

type Opened = { readonly kind: "opened"; readonly channel: ClientChannel } | { readonly kind: "failed"; readonly error: unknown };

/** A small FIFO semaphore whose waits can be aborted. */
class Slots {
  #free: number;
  readonly #waiters: Array<() => void> = [];

  constructor(size: number) {
    this.#free = size;
  }

  acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const grant = (): void => {
        signal.removeEventListener("abort", onAbort);
        resolve(true);
      };
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(grant);
        if (i !== -1) this.#waiters.splice(i, 1);
        resolve(false);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(grant);
    });
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }
}

/** Marks the internal abort caused by the runner's own timeout. */
class CommandTimeout extends Error {
  override readonly name = "CommandTimeout";
}

/** How much leading stderr is scanned for the pid line before giving up. */
const PID_SCAN_LIMIT = 64 * 1024;

class SshCommandRunner implements SshRunner {
  readonly description: string;
  readonly #options: SshRunnerOptions;
  readonly #resolved: ResolvedOptions;
  readonly #verifier: SshHostVerifier | undefined;
  readonly #logger: Logger;
  readonly #slots: Slots;
  readonly #all = new Set<Connection>();
  /** Random per runner, so a command's own stderr cannot be mistaken for the pid line. */
  readonly #pidTag = `volkit-pid-${randomBytes(6).toString("hex")}`;
  #current: Promise<Result<Connection, VolkitError>> | undefined;
  #closed = false;

  constructor(options: SshRunnerOptions, resolved: ResolvedOptions, verifier: SshHostVerifier | undefined) {
    this.#options = options;
    this.#resolved = resolved;
    this.#verifier = verifier;
    this.#logger = options.logger ?? silentLogger;
    this.#slots = new Slots(resolved.maxChannels);
    const target = `${resolved.username}@${resolved.host.includes(":") ? `[${resolved.host}]` : resolved.host}:${resolved.port}`;
    const helper = resolved.rootHelper?.length ? ` via ${resolved.rootHelper.join(" ")}` : "";
    this.description = `ssh ${target}${helper}`;
  }

  run(spec: CommandSpec): ResultAsync<CommandOutput, VolkitError> {
    if (this.#closed) {
      return errAsync(new VolkitError("INVALID_STATE", `${this.description}: runner is closed`, { source: "ssh" }));
    }
    if (spec.signal?.aborted) return errAsync(abortReasonToError(spec.signal.reason, "exec"));
    const command = this.#remoteCommand(spec);
    if (command.isErr()) return errAsync(command.error);
    return new ResultAsync(this.#execute(spec, command.value));
  }

  close(): ResultAsync<void, VolkitError> {
    this.#closed = true;
    this.#current = undefined;
    const done = [...this.#all].map(async (conn) => {
      await Promise.all([...conn.running].map((cmd) => this.#kill(conn, cmd)));
      if (conn.closed) return;
      const gone = new Promise<void>((resolve) => conn.client.once("close", () => resolve()));
      conn.client.end();
      await Promise.race([gone, sleep(this.#resolved.killGraceMs, undefined, { ref: false })]);
    });
    return ResultAsync.fromSafePromise(Promise.all(done).then(() => undefined));
  }

  /**
   * Builds the one string the remote shell parses. Every variable part goes through
   * {@link quoteArgv}; the fixed part announces the shell's pid on stderr (the command keeps that
   * pid through `exec`, and leads its process group, so a timeout can kill the group) and changes
   * directory when asked:
   * `echo '<tag>' "$$" >&2; ['cd' '--' '<dir>' &&] exec [helper…] ['env' 'V=x'…] argv…`
   */
  #remoteCommand(spec: CommandSpec): Result<string, VolkitError> {
    const env = { ...this.#options.env, ...spec.env };
    const bad = Object.keys(env).find((name) => !ENV_NAME.test(name));
    if (bad !== undefined) {
      return err(new VolkitError("INVALID_ARGUMENT", `environment variable name ${JSON.stringify(bad)} is not valid`, { source: "ssh" }));
    }
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const argv = [...(this.#resolved.rootHelper ?? []), ...(assignments.length ? ["env", ...assignments] : []), ...spec.argv];
    return quoteArgv(argv).andThen((cmd) =>
      quoteArgv(["echo", this.#pidTag]).andThen((announce) => {
        const run = `exec ${cmd}`;
        if (spec.cwd === undefined) return ok(`${announce} "$$" >&2; ${run}`);
        return quoteArgv(["cd", "--", spec.cwd]).map((cd) => `${announce} "$$" >&2; ${cd} && ${run}`);
      }),
    );
  }

  async #execute(spec: CommandSpec, command: string): Promise<Result<CommandOutput, VolkitError>> {
    const started = performance.now();
    const timeoutMs = spec.timeoutMs ?? this.#resolved.defaultTimeoutMs;
    const stop = new AbortController();
    const onCallerAbort = (): void => stop.abort(spec.signal?.reason);
    spec.signal?.addEventListener("abort", onCallerAbort, { once: true });
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => stop.abort(new CommandTimeout()), timeoutMs);
    const shown = redactArgv(spec.argv, spec.secrets);
    const stopped = (): VolkitError => {
      if (stop.signal.reason instanceof CommandTimeout) {
        return new VolkitError("TIMEOUT", `${shown[0]} timed out after ${timeoutMs} ms and was killed`, {
          source: "exec",
          details: { command: shown, timeoutMs },
          transient: true,
        });
      }
      const e = abortReasonToError(stop.signal.reason, "exec");
      return new VolkitError(e.code, `${e.message} while running ${shown[0]}`, { source: "exec", cause: e.cause, details: { command: shown } });
    };
    const gotSlot = await this.#slots.acquire(stop.signal);
    try {
      if (!gotSlot) return err(stopped());
      for (let attempt = 1; ; attempt++) {
        const conn = await raceAbort(this.#connection(), stop.signal);
        if (conn === ABORTED) return err(stopped());
        if (conn.isErr()) return err(conn.error);
        const opened = await this.#open(conn.value, command, stop.signal);
        if (opened === ABORTED) return err(stopped());
        if (opened.kind === "failed") {
          // The command never started, so running it on a fresh connection is safe. A connection
          // that refuses channels (sshd's MaxSessions, sessions whose killed children linger) does
          // not recover by itself, so it is retired too.
          this.#retire(conn.value);
          this.#logger.warn({ runner: this.description, attempt, reason: errorText(opened.error) }, "ssh channel open failed");
          if (attempt < 2) continue;
          return err(
            new VolkitError("BACKEND_UNAVAILABLE", `${this.description}: cannot start ${shown[0]}: ${errorText(opened.error)}`, {
              source: "ssh",
              cause: opened.error,
              details: { command: shown },
              transient: true,
            }),
          );
        }
        return await this.#drive(conn.value, opened.channel, spec, shown, stop.signal, started, stopped);
      }
    } finally {
      if (timer) clearTimeout(timer);
      spec.signal?.removeEventListener("abort", onCallerAbort);
      if (gotSlot) this.#slots.release();
    }
  }

  /** Opens an exec channel; a channel that opens after an abort is closed at once. */
  async #open(conn: Connection, command: string, signal?: AbortSignal): Promise<Opened | typeof ABORTED> {
    const opening = new Promise<Opened>((resolve) => {
      try {
        conn.client.exec(command, (error, channel) => resolve(error ? { kind: "failed", error } : { kind: "opened", channel }));
      } catch (error) {
        resolve({ kind: "failed", error }); // "Not connected": the socket is already gone
      }
    });
    if (signal === undefined) return opening;
    const result = await raceAbort(opening, signal);
    if (result === ABORTED) {
      // Too late to stop it from starting; the pid is unknown, so the signal is all we can send.
      void opening.then((late) => late.kind === "opened" && signalAndClose(late.channel));
    }
    return result;
  }

  async #drive(
    conn: Connection,
    channel: ClientChannel,
    spec: CommandSpec,
    shown: string[],
    signal: AbortSignal,
    started: number,
    stopped: () => VolkitError,
  ): Promise<Result<CommandOutput, VolkitError>> {
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    const outDecoder = new StringDecoder("utf8");
    const errDecoder = new StringDecoder("utf8");
    let exit: { code: number } | { signal: string } | undefined;
    let pidResolved!: () => void;
    const cmd: Running = {
      channel,
      pid: undefined,
      pidKnown: new Promise<void>((resolve) => (pidResolved = resolve)),
      exited: false,
      closed: new Promise<void>((resolve) => channel.once("close", () => resolve())),
    };
    conn.running.add(cmd);
    void cmd.closed.then(() => {
      conn.running.delete(cmd);
      pidResolved();
      if (conn.retired && conn.running.size === 0 && !conn.closed) conn.client.end();
    });

    const onStderr = (chunk: Buffer): void => {
      if (chunk.length === 0) return;
      errOut.push(chunk);
      if (spec.onStderr) emitChunk(spec.onStderr, errDecoder.write(chunk));
    };
    // Until the pid line has been seen, stderr is held back line by line and the pid line removed.
    let scanning = true;
    let held = Buffer.alloc(0);
    const tag = Buffer.from(`${this.#pidTag} `);
    channel.stderr.on("data", (chunk: Buffer) => {
      if (!scanning) return onStderr(chunk);
      held = Buffer.concat([held, chunk]);
      for (let nl = held.indexOf(0x0a); nl !== -1 && scanning; nl = held.indexOf(0x0a)) {
        const line = held.subarray(0, nl + 1);
        held = held.subarray(nl + 1);
        const pid = line.subarray(0, tag.length).equals(tag) ? Number(line.subarray(tag.length, nl).toString("latin1")) : NaN;
        if (Number.isSafeInteger(pid) && pid > 1) {
          cmd.pid = pid;
          scanning = false;
          pidResolved();
        } else onStderr(Buffer.from(line));
      }
      if (scanning && held.length > PID_SCAN_LIMIT) scanning = false;
      if (!scanning) {
        pidResolved();
        const rest = held;
        held = Buffer.alloc(0);
        onStderr(rest);
      }
    });
    channel.on("data", (chunk: Buffer) => {
      out.push(chunk);
      if (spec.onStdout) emitChunk(spec.onStdout, outDecoder.write(chunk));
    });
    channel.on("exit", (code: number | null, sig?: string) => {
      cmd.exited = true;
      exit = code === null ? { signal: sig ?? "SIGKILL" } : { code };
    });
    channel.on("error", (e: unknown) => this.#logger.debug({ runner: this.description, reason: errorText(e) }, "ssh channel error"));
    const stderrEnded = new Promise<void>((resolve) => channel.stderr.once("end", () => resolve()));

    // Write stdin (or nothing) and send EOF, so commands reading stdin terminate.
    if (spec.stdin === undefined) channel.end();
    else channel.end(typeof spec.stdin === "string" ? Buffer.from(spec.stdin, "utf8") : Buffer.from(spec.stdin));

    const outcome = await raceAbort(cmd.closed, signal);
    if (outcome === ABORTED) {
      await this.#kill(conn, cmd);
      return err(stopped());
    }
    await Promise.race([stderrEnded, sleep(1000)]);
    if (held.length > 0) onStderr(held);
    if (spec.onStdout) emitChunk(spec.onStdout, outDecoder.end());
    if (spec.onStderr) emitChunk(spec.onStderr, errDecoder.end());
    const stdout = Buffer.concat(out).toString("utf8");
    const stderr = Buffer.concat(errOut).toString("utf8");
    const durationMs = performance.now() - started;

    if (exit === undefined) {
      return err(
        new VolkitError("BACKEND_UNAVAILABLE", `${this.description}: connection lost while ${shown[0]} was running`, {
          source: "ssh",
          details: { command: shown, connectionClosed: conn.closed },
          transient: true,
        }),
      );
    }
    if ("signal" in exit) return err(commandFailed(spec, undefined, stderr, stdout, exit.signal));
    if ((spec.okExitCodes ?? [0]).includes(exit.code)) {
      return ok({ argv: spec.argv, exitCode: exit.code, stdout, stderr, durationMs });
    }
    if (exit.code === 127) {
      const failed = commandFailed(spec, 127, stderr, stdout);
      return err(new VolkitError("COMMAND_NOT_FOUND", `command not found: ${shown[0]}`, { source: "exec", details: failed.details }));
    }
    return err(commandFailed(spec, exit.code, stderr, stdout));
  }

  /**
   * Stops a running command: `signal KILL` on its channel and a channel close, plus — because
   * OpenSSH refuses signal requests in sessions without privilege separation (root logins) — a
   * `kill -s KILL -- -<pgid>` of its process group on a second channel (through the root helper).
   * Best effort, bounded by `killGraceMs`.
   */
  async #kill(conn: Connection, cmd: Running): Promise<void> {
    const grace = sleep(this.#resolved.killGraceMs, undefined, { ref: false });
    if (!cmd.exited) signalAndClose(cmd.channel);
    else closeChannel(cmd.channel);
    if (!cmd.exited && !conn.closed) {
      await Promise.race([cmd.pidKnown, grace]);
      const pid = cmd.pid;
      if (pid !== undefined && !cmd.exited && !conn.closed) {
        await Promise.race([this.#killGroup(conn, pid), grace]);
      }
    }
    await Promise.race([cmd.closed, grace]);
  }

  async #killGroup(conn: Connection, pid: number): Promise<void> {
    const argv = [...(this.#resolved.rootHelper ?? []), "kill", "-s", "KILL", "--", `-${pid}`];
    const command = quoteArgv(argv);
    if (command.isErr()) return;
    const opened = await this.#open(conn, command.value);
    if (opened === ABORTED || opened.kind === "failed") {
      this.#logger.warn({ runner: this.description, pid }, "could not open a channel to kill a remote command");
      return;
    }
    const channel = opened.channel;
    channel.on("error", () => undefined);
    channel.resume();
    channel.stderr.resume();
    const closed = new Promise<void>((resolve) => channel.once("close", () => resolve()));
    channel.end();
    await closed;
  }

  /** The live connection, opening one if there is none. */
  #connection(): Promise<Result<Connection, VolkitError>> {
    if (this.#current) return this.#current;
    const attempt = this.#connect();
    this.#current = attempt;
    void attempt.then((r) => {
      if (r.isErr() && this.#current === attempt) this.#current = undefined;
    });
    return attempt;
  }

  #connect(): Promise<Result<Connection, VolkitError>> {
    const r = this.#resolved;
    const client = new Client();
    const conn: Connection = { client, running: new Set(), retired: false, closed: false };
    let presented: string | undefined;
    let rejected = false;
    const verifier = this.#verifier;
    const config: ConnectConfig = {
      host: r.host,
      port: r.port,
      username: r.username,
      readyTimeout: r.connectTimeoutMs,
      keepaliveInterval: r.keepaliveIntervalMs,
      keepaliveCountMax: r.keepaliveCountMax,
      ...(this.#options.privateKey === undefined ? {} : { privateKey: this.#options.privateKey }),
      ...(this.#options.passphrase === undefined ? {} : { passphrase: this.#options.passphrase }),
      ...(this.#options.password === undefined ? {} : { password: this.#options.password }),
      ...(verifier === undefined
        ? {}
        : {
            hostVerifier: (key: Buffer): boolean => {
              presented = sshHostKeyFingerprint(key);
              let accepted = false;
              try {
                accepted = verifier(key, presented);
              } catch {
                accepted = false; // a throwing custom verifier refuses
              }
              rejected = !accepted;
              return accepted;
            },
          }),
    };
    const where = { host: r.host, port: r.port, username: r.username };
    return new Promise((resolve) => {
      let ready = false;
      client.on("ready", () => {
        ready = true;
        this.#all.add(conn);
        this.#logger.debug({ runner: this.description }, "ssh connected");
        resolve(ok(conn));
      });
      client.on("error", (e: Error & { level?: string }) => {
        if (!ready) resolve(err(this.#connectError(e, rejected, presented, where)));
        else this.#logger.warn({ runner: this.description, reason: e.message }, "ssh connection error");
      });
      client.on("close", () => {
        conn.closed = true;
        this.#all.delete(conn);
        this.#forget(conn);
        if (!ready) {
          resolve(err(new VolkitError("BACKEND_UNAVAILABLE", `${this.description}: connection closed during the SSH handshake`, { source: "ssh", details: where, transient: true })));
        } else this.#logger.debug({ runner: this.description }, "ssh connection closed");
      });
      try {
        client.connect(config);
      } catch (e) {
        // ssh2 throws synchronously for an unparsable private key and similar config mistakes.
        resolve(err(new VolkitError("INVALID_CONFIG", `${this.description}: ${errorText(e)}`, { source: "ssh", cause: e, details: where })));
      }
    });
  }

  #connectError(e: Error & { level?: string; code?: unknown }, rejected: boolean, presented: string | undefined, where: object): VolkitError {
    if (rejected) {
      return new VolkitError("AUTH_FAILED", `${this.description}: host key ${presented ?? "?"} does not match the configured host key`, {
        source: "ssh",
        cause: e,
        details: { ...where, reason: "host-key-mismatch", ...(presented === undefined ? {} : { presentedFingerprint: presented }) },
      });
    }
    if (e.level === "client-authentication") {
      return new VolkitError("AUTH_FAILED", `${this.description}: authentication failed`, { source: "ssh", cause: e, details: { ...where, reason: "authentication" } });
    }
    const reason = e.level === "client-timeout" ? "connect-timeout" : "unreachable";
    return new VolkitError("BACKEND_UNAVAILABLE", `${this.description}: cannot connect: ${e.message}`, {
      source: "ssh",
      cause: e,
      transient: true,
      details: { ...where, reason, ...(typeof e.code === "string" ? { errno: e.code } : {}) },
    });
  }

  /** Makes the next command open a new connection if `conn` is the current one. */
  #forget(conn: Connection): void {
    const current = this.#current;
    if (current === undefined) return;
    void current.then((cur) => {
      if (cur.isOk() && cur.value === conn && this.#current === current) this.#current = undefined;
    });
  }

  /** Stops giving `conn` new commands; it is ended as soon as no command runs on it. */
  #retire(conn: Connection): void {
    conn.retired = true;
    this.#forget(conn);
    if (conn.running.size === 0 && !conn.closed) conn.client.end();
  }
}

const ABORTED = Symbol("aborted");

/** Resolves with `promise`'s value, or {@link ABORTED} as soon as `signal` fires. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(ABORTED);
    signal.addEventListener("abort", onAbort, { once: true });
    void promise.then((v) => {
      signal.removeEventListener("abort", onAbort);
      resolve(v);
    });
  });
}

/** The part of ssh2's channel internals needed to send a signal after stdin EOF. */
interface ChannelInternals {
  readonly outgoing?: { readonly id?: number; readonly state?: string };
  readonly _client?: { readonly _protocol?: { signal?: (id: number, name: string) => void } };
}

/**
 * Sends `signal KILL` and closes the channel. ssh2 1.17's `channel.signal()` silently does nothing
 * once stdin has been ended (it checks the stream's `writable` flag), although RFC 4254 allows
 * signal requests until the channel closes; so when that guard would drop the request, it is sent
 * through the protocol object directly.
 */
function signalAndClose(channel: ClientChannel): void {
  const internals = channel as unknown as ChannelInternals;
  const state = internals.outgoing?.state;
  const id = internals.outgoing?.id;
  const protocol = internals._client?._protocol;
  try {
    if (channel.writable && state === "open") channel.signal("KILL");
    else if ((state === "open" || state === "eof") && id !== undefined && typeof protocol?.signal === "function") protocol.signal(id, "KILL");
  } catch {
    // The connection is already gone; closing is all that is left to do.
  }
  closeChannel(channel);
}

function closeChannel(channel: ClientChannel): void {
  try {
    channel.close();
  } catch {
    // Already closed.
  }
}

function emitChunk(listener: (chunk: string) => void, chunk: string): void {
  if (chunk.length > 0) listener(chunk);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
