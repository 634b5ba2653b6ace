import { randomBytes } from "node:crypto";
import { ResultAsync, err, errAsync, type Result } from "neverthrow";
import { abortReasonToError } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { createCommandStop, raceAbort } from "./cancellation.js";
import { stoppedError } from "./command-outcome.js";
import { checkCommandSpec, redactArgv, type CommandOutput, type CommandRunner, type CommandSpec } from "./runner.js";
import { driveCommand, killCommand, remoteCommand, type CommandSite } from "./ssh-command.js";
import { errorText, Slots, SshConnections } from "./ssh-connection.js";
import { resolveSshOptions, type SshRunnerOptions, type SshSettings } from "./ssh-options.js";

export { sshHostKeyFingerprint, type SshHostVerifier } from "./ssh-host-keys.js";
export type { SshRunnerOptions } from "./ssh-options.js";

/** A {@link CommandRunner} over one SSH connection; see {@link createSshRunner}. */
export interface SshRunner extends CommandRunner {
  /**
   * Kills running commands (best effort, see {@link createSshRunner}), closes the connection and makes
   * every later `run` fail with `INVALID_STATE`. Idempotent.
   */
  close(): ResultAsync<void, VolkitError>;
}

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
 * - **Loading.** The `ssh2` package and its native crypto addons are loaded on the first connect,
 *   not when volkit is imported, so local-only use never pays for them. Should loading fail, the
 *   command fails with `NOT_SUPPORTED` and the next one tries again.
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
 * - **Results** are mapped by the same function as the local runner's: `COMMAND_FAILED` with
 *   redacted argv and stderr, `TIMEOUT`, `ABORTED`, and `COMMAND_NOT_FOUND` for exit code 127 (what a
 *   shell returns for a missing program). Connection failures: `AUTH_FAILED` (host key or login
 *   refused), `BACKEND_UNAVAILABLE` (unreachable, connect timeout, connection lost; transient).
 *
 * Fails with `INVALID_CONFIG` for bad options (no credential, no host key check, bad names, a
 * `rootHelper` that {@link RootHelperSchema} refuses); nothing connects then.
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
  return resolveSshOptions(options).map((settings) => new SshCommandRunner(settings));
}

/**
 * The runner: validates and quotes each command (ssh-command.ts), waits for a channel slot and the
 * connection (ssh-connection.ts), runs it, and retries once on a fresh connection a command whose
 * channel could not be opened.
 */
class SshCommandRunner implements SshRunner {
  readonly description: string;
  readonly #settings: SshSettings;
  readonly #site: CommandSite;
  readonly #connections: SshConnections;
  readonly #slots: Slots;
  #closed = false;

  constructor(settings: SshSettings) {
    this.#settings = settings;
    const target = `${settings.username}@${settings.host.includes(":") ? `[${settings.host}]` : settings.host}:${settings.port}`;
    const helper = settings.rootHelper?.length ? ` via ${settings.rootHelper.join(" ")}` : "";
    this.description = `ssh ${target}${helper}`;
    this.#connections = new SshConnections(settings, this.description);
    this.#slots = new Slots(settings.maxChannels);
    this.#site = { settings, connections: this.#connections, description: this.description, pidTag: `volkit-pid-${randomBytes(6).toString("hex")}` };
  }

  run(spec: CommandSpec): ResultAsync<CommandOutput, VolkitError> {
    if (this.#closed) {
      return errAsync(new VolkitError("INVALID_STATE", `${this.description}: runner is closed`, { source: "ssh" }));
    }
    const checked = checkCommandSpec(spec);
    if (checked.isErr()) return errAsync(checked.error);
    if (spec.signal?.aborted) return errAsync(abortReasonToError(spec.signal.reason, "exec"));
    const command = remoteCommand(this.#site, spec);
    if (command.isErr()) return errAsync(command.error);
    return new ResultAsync(this.#execute(spec, command.value));
  }

  close(): ResultAsync<void, VolkitError> {
    this.#closed = true;
    return ResultAsync.fromSafePromise(this.#connections.closeAll((conn, cmd) => killCommand(this.#site, conn, cmd)));
  }

  async #execute(spec: CommandSpec, command: string): Promise<Result<CommandOutput, VolkitError>> {
    const started = performance.now();
    const stop = createCommandStop({ signal: spec.signal, timeoutMs: spec.timeoutMs ?? this.#settings.defaultTimeoutMs });
    const stopped = (): VolkitError => stoppedError(spec, stop.cause ?? { kind: "abort", reason: undefined });
    const gotSlot = await this.#slots.acquire(stop.signal);
    try {
      if (!gotSlot) return err(stopped());
      for (let attempt = 1; ; attempt++) {
        const conn = await raceAbort(this.#connections.current(), stop.signal);
        if (conn.aborted) return err(stopped());
        if (conn.value.isErr()) return err(conn.value.error);
        const connection = conn.value.value;
        const opened = await this.#connections.open(connection, command, stop.signal);
        if (opened.kind === "aborted") return err(stopped());
        if (opened.kind === "failed") {
          // The command never started, so running it on a fresh connection is safe.
          this.#connections.retire(connection);
          this.#settings.logger.warn({ runner: this.description, attempt, reason: errorText(opened.error) }, "ssh channel open failed");
          if (attempt < 2) continue;
          const shown = redactArgv(spec.argv, spec.secrets);
          return err(
            new VolkitError("BACKEND_UNAVAILABLE", `${this.description}: cannot start ${shown[0]}: ${errorText(opened.error)}`, {
              source: "ssh",
              cause: opened.error,
              details: { command: shown },
              transient: true,
            }),
          );
        }
        return await driveCommand(this.#site, connection, opened.channel, spec, stop, started);
      }
    } finally {
      stop.dispose();
      if (gotSlot) this.#slots.release();
    }
  }
}
