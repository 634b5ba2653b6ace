import { setTimeout as sleep } from "node:timers/promises";
import { err, ok, type Result } from "neverthrow";
import type { Client, ClientChannel, ConnectConfig } from "ssh2";
import { VolkitError } from "../core/errors.js";
import { raceAbort } from "./cancellation.js";
import { hostKeyCheck, type HostKeyCheck } from "./ssh-host-keys.js";
import type { SshSettings } from "./ssh-options.js";

/**
 * The SSH connection lifecycle of one runner: `ssh2` loaded on first use, one shared connection
 * opened lazily, keepalives, reconnect after a drop, retiring a connection that refuses channels,
 * and close. Commands on it are run by ssh-command.ts.
 */

/** A command's channel on a connection, as tracked for kill and close. */
export interface RunningCommand {
  /** The exec channel. */
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
export interface Connection {
  /** The ssh2 client. */
  readonly client: Client;
  /** Commands currently running on it. */
  readonly running: Set<RunningCommand>;
  /** No new commands go to it; it is ended once its last command finishes. */
  retired: boolean;
  /** The socket closed. */
  closed: boolean;
}

/** The result of opening an exec channel. */
export type Opened =
  | { readonly kind: "opened"; readonly channel: ClientChannel }
  /** The server or the socket refused: the command never started. */
  | { readonly kind: "failed"; readonly error: unknown }
  /** The caller's signal fired first; a channel that opens later is killed and closed. */
  | { readonly kind: "aborted" };

let clientClass: Promise<typeof Client> | undefined;

/**
 * Loads `ssh2` (and with it its native crypto addons) the first time a runner connects, so that
 * importing volkit for local use never does. A failed load is retried on the next connect.
 */
function loadClient(): Promise<typeof Client> {
  clientClass ??= import("ssh2").then(
    (ssh2) => ssh2.Client,
    (e: unknown) => {
      clientClass = undefined;
      throw e;
    },
  );
  return clientClass;
}

/** A small FIFO semaphore whose waits can be aborted: the runner's channel limit. */
export class Slots {
  #free: number;
  readonly #waiters: Array<() => void> = [];

  /** @param size - how many holders at once */
  constructor(size: number) {
    this.#free = size;
  }

  /** Takes a slot, waiting in line; `false` when `signal` fired first (no slot taken). */
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

  /** Gives a slot back (to the next in line, if any). */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }
}

/** The connections of one SSH runner: at most one current, plus retired ones finishing their commands. */
export class SshConnections {
  readonly #settings: SshSettings;
  readonly #description: string;
  readonly #all = new Set<Connection>();
  #current: Promise<Result<Connection, VolkitError>> | undefined;

  /** @param settings - validated runner options; @param description - the runner's, for messages */
  constructor(settings: SshSettings, description: string) {
    this.#settings = settings;
    this.#description = description;
  }

  /** The live connection, opening one if there is none (or the last one dropped). */
  current(): Promise<Result<Connection, VolkitError>> {
    if (this.#current) return this.#current;
    const attempt = this.#connect();
    this.#current = attempt;
    void attempt.then((r) => {
      if (r.isErr() && this.#current === attempt) this.#current = undefined;
    });
    return attempt;
  }

  /** Opens an exec channel for `command`; a channel that opens after `signal` fired is killed at once. */
  async open(conn: Connection, command: string, signal?: AbortSignal): Promise<Opened> {
    const opening = new Promise<Opened>((resolve) => {
      try {
        conn.client.exec(command, (error, channel) => resolve(error ? { kind: "failed", error } : { kind: "opened", channel }));
      } catch (error) {
        resolve({ kind: "failed", error }); // "Not connected": the socket is already gone
      }
    });
    const raced = await raceAbort(opening, signal);
    if (!raced.aborted) return raced.value;
    // Too late to stop it from starting; the pid is unknown, so the signal is all we can send.
    void opening.then((late) => late.kind === "opened" && signalAndClose(late.channel));
    return { kind: "aborted" };
  }

  /**
   * Stops giving `conn` new commands; it is ended as soon as no command runs on it. For a
   * connection that refuses channels (sshd's MaxSessions, sessions whose killed children linger),
   * which does not recover by itself.
   */
  retire(conn: Connection): void {
    conn.retired = true;
    this.#forget(conn);
    if (conn.running.size === 0 && !conn.closed) conn.client.end();
  }

  /** Tracks a command's channel on `conn` until the channel closes (then a retired, idle `conn` ends). */
  track(conn: Connection, cmd: RunningCommand): void {
    conn.running.add(cmd);
    void cmd.closed.then(() => {
      conn.running.delete(cmd);
      if (conn.retired && conn.running.size === 0 && !conn.closed) conn.client.end();
    });
  }

  /**
   * Stops every running command with `stop`, then ends every connection, waiting at most
   * `killGraceMs` for each to close.
   */
  async closeAll(stop: (conn: Connection, cmd: RunningCommand) => Promise<void>): Promise<void> {
    this.#current = undefined;
    const done = [...this.#all].map(async (conn) => {
      await Promise.all([...conn.running].map((cmd) => stop(conn, cmd)));
      if (conn.closed) return;
      const gone = new Promise<void>((resolve) => conn.client.once("close", () => resolve()));
      conn.client.end();
      await Promise.race([gone, sleep(this.#settings.killGraceMs, undefined, { ref: false })]);
    });
    await Promise.all(done);
  }

  async #connect(): Promise<Result<Connection, VolkitError>> {
    const s = this.#settings;
    const where = { host: s.host, port: s.port, username: s.username };
    let ClientClass: typeof Client;
    try {
      ClientClass = await loadClient();
    } catch (e) {
      return err(new VolkitError("NOT_SUPPORTED", `${this.#description}: the ssh2 package could not be loaded: ${errorText(e)}`, { source: "ssh", cause: e, details: where }));
    }
    const client = new ClientClass();
    const conn: Connection = { client, running: new Set(), retired: false, closed: false };
    const check: HostKeyCheck | undefined = s.verifier === undefined ? undefined : hostKeyCheck(s.verifier);
    const { privateKey, passphrase, password } = s.credentials;
    const config: ConnectConfig = {
      host: s.host,
      port: s.port,
      username: s.username,
      readyTimeout: s.connectTimeoutMs,
      keepaliveInterval: s.keepaliveIntervalMs,
      keepaliveCountMax: s.keepaliveCountMax,
      ...(privateKey === undefined ? {} : { privateKey }),
      ...(passphrase === undefined ? {} : { passphrase }),
      ...(password === undefined ? {} : { password }),
      ...(check === undefined ? {} : { hostVerifier: check.verify }),
    };
    const logger = s.logger;
    return new Promise((resolve) => {
      let ready = false;
      client.on("ready", () => {
        ready = true;
        this.#all.add(conn);
        logger.debug({ runner: this.#description }, "ssh connected");
        resolve(ok(conn));
      });
      client.on("error", (e: Error & { level?: string }) => {
        if (!ready) resolve(err(this.#connectError(e, check, where)));
        else logger.warn({ runner: this.#description, reason: e.message }, "ssh connection error");
      });
      client.on("close", () => {
        conn.closed = true;
        this.#all.delete(conn);
        this.#forget(conn);
        if (!ready) {
          resolve(err(new VolkitError("BACKEND_UNAVAILABLE", `${this.#description}: connection closed during the SSH handshake`, { source: "ssh", details: where, transient: true })));
        } else logger.debug({ runner: this.#description }, "ssh connection closed");
      });
      try {
        client.connect(config);
      } catch (e) {
        // ssh2 throws synchronously for an unparsable private key and similar config mistakes.
        resolve(err(new VolkitError("INVALID_CONFIG", `${this.#description}: ${errorText(e)}`, { source: "ssh", cause: e, details: where })));
      }
    });
  }

  #connectError(e: Error & { level?: string; code?: unknown }, check: HostKeyCheck | undefined, where: object): VolkitError {
    if (check?.rejected) {
      const presented = check.presented;
      return new VolkitError("AUTH_FAILED", `${this.#description}: host key ${presented ?? "?"} does not match the configured host key`, {
        source: "ssh",
        cause: e,
        details: { ...where, reason: "host-key-mismatch", ...(presented === undefined ? {} : { presentedFingerprint: presented }) },
      });
    }
    if (e.level === "client-authentication") {
      return new VolkitError("AUTH_FAILED", `${this.#description}: authentication failed`, { source: "ssh", cause: e, details: { ...where, reason: "authentication" } });
    }
    const reason = e.level === "client-timeout" ? "connect-timeout" : "unreachable";
    return new VolkitError("BACKEND_UNAVAILABLE", `${this.#description}: cannot connect: ${e.message}`, {
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
export function signalAndClose(channel: ClientChannel): void {
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

/** Closes a channel that may already be closed. */
export function closeChannel(channel: ClientChannel): void {
  try {
    channel.close();
  } catch {
    // Already closed.
  }
}

/** The message of an unknown thrown value. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
