import { StringDecoder } from "node:string_decoder";
import { setTimeout as sleep } from "node:timers/promises";
import { err, ok, type Result } from "neverthrow";
import type { ClientChannel } from "ssh2";
import { VolkitError } from "../core/errors.js";
import { raceAbort, type CommandStop } from "./cancellation.js";
import { commandOutcome, stoppedError, type CommandEnd } from "./command-outcome.js";
import { quoteArgv } from "./quote.js";
import { redactArgv, type CommandOutput, type CommandSpec } from "./runner.js";
import { closeChannel, errorText, signalAndClose, type Connection, type RunningCommand, type SshConnections } from "./ssh-connection.js";
import type { SshSettings } from "./ssh-options.js";
import { withRootHelper } from "./root-helper.js";

/**
 * Running one command over SSH: the command line (argv quoted by quote.ts, environment after the
 * root helper, the pid announcement), the channel's streams and exit, and killing the remote
 * process group on timeout or abort.
 */

/** What running a command needs from its runner. */
export interface CommandSite {
  /** Validated runner options. */
  readonly settings: SshSettings;
  /** The runner's connections (for the second channel that kills a process group). */
  readonly connections: SshConnections;
  /** The runner's description, for messages. */
  readonly description: string;
  /** Random per runner, so a command's own stderr cannot be mistaken for the pid line. */
  readonly pidTag: string;
}

/** How much leading stderr is scanned for the pid line before giving up. */
const PID_SCAN_LIMIT = 64 * 1024;

/**
 * Builds the one string the remote shell parses. Every variable part goes through
 * {@link quoteArgv}; the fixed part announces the shell's pid on stderr (the command keeps that
 * pid through `exec`, and leads its process group, so a timeout can kill the group) and changes
 * directory when asked:
 * `echo '<tag>' "$$" >&2; ['cd' '--' '<dir>' &&] exec [helper…] ['env' 'V=x'…] argv…`
 *
 * The environment goes after the root helper: `sudo` resets the environment it was given, but
 * passes on what `env` sets for the command.
 */
export function remoteCommand(site: CommandSite, spec: CommandSpec): Result<string, VolkitError> {
  return withRootHelper(site.settings.rootHelper ?? [], { ...site.settings.env, ...spec.env }, spec.argv).andThen((argv) =>
    quoteArgv(argv).andThen((cmd) =>
      quoteArgv(["echo", site.pidTag]).andThen((announce) => {
        const run = `exec ${cmd}`;
        if (spec.cwd === undefined) return ok(`${announce} "$$" >&2; ${run}`);
        return quoteArgv(["cd", "--", spec.cwd]).map((cd) => `${announce} "$$" >&2; ${cd} && ${run}`);
      }),
    ),
  );
}

/**
 * Runs `spec` on an opened channel: writes stdin (then EOF), collects and streams stdout and
 * stderr (the pid line removed), and maps the exit with `commandOutcome`. When `stop` fires, kills
 * the command (see {@link killCommand}) and fails with its `TIMEOUT`/`ABORTED`. A channel that
 * closes without an exit status means the connection was lost: `BACKEND_UNAVAILABLE` (transient;
 * the command may have run, so it is not retried).
 */
export async function driveCommand(
  site: CommandSite,
  conn: Connection,
  channel: ClientChannel,
  spec: CommandSpec,
  stop: CommandStop,
  started: number,
): Promise<Result<CommandOutput, VolkitError>> {
  const out: Buffer[] = [];
  const errOut: Buffer[] = [];
  const outDecoder = new StringDecoder("utf8");
  const errDecoder = new StringDecoder("utf8");
  let end: CommandEnd | undefined;
  let pidResolved!: () => void;
  const cmd: RunningCommand = {
    channel,
    pid: undefined,
    pidKnown: new Promise<void>((resolve) => (pidResolved = resolve)),
    exited: false,
    closed: new Promise<void>((resolve) => channel.once("close", () => resolve())),
  };
  site.connections.track(conn, cmd);
  void cmd.closed.then(() => pidResolved());

  const onStderr = (chunk: Buffer): void => {
    if (chunk.length === 0) return;
    errOut.push(chunk);
    if (spec.onStderr) emitChunk(spec.onStderr, errDecoder.write(chunk));
  };
  // Until the pid line has been seen, stderr is held back line by line and the pid line removed.
  let scanning = true;
  let held = Buffer.alloc(0);
  const tag = Buffer.from(`${site.pidTag} `);
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
    end = code === null ? { kind: "signalled", signal: sig ?? "SIGKILL" } : { kind: "exited", exitCode: code };
  });
  channel.on("error", (e: unknown) => site.settings.logger.debug({ runner: site.description, reason: errorText(e) }, "ssh channel error"));
  const stderrEnded = new Promise<void>((resolve) => channel.stderr.once("end", () => resolve()));

  // Write stdin (or nothing) and send EOF, so commands reading stdin terminate.
  if (spec.stdin === undefined) channel.end();
  else channel.end(typeof spec.stdin === "string" ? Buffer.from(spec.stdin, "utf8") : Buffer.from(spec.stdin));

  const closed = await raceAbort(cmd.closed, stop.signal);
  if (closed.aborted) {
    await killCommand(site, conn, cmd);
    return err(stoppedError(spec, stop.cause ?? { kind: "abort", reason: closed.reason }));
  }
  await Promise.race([stderrEnded, sleep(1000)]);
  if (held.length > 0) onStderr(held);
  if (spec.onStdout) emitChunk(spec.onStdout, outDecoder.end());
  if (spec.onStderr) emitChunk(spec.onStderr, errDecoder.end());
  const streams = { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(errOut).toString("utf8"), durationMs: performance.now() - started };

  if (end === undefined) {
    const shown = redactArgv(spec.argv, spec.secrets);
    return err(
      new VolkitError("BACKEND_UNAVAILABLE", `${site.description}: connection lost while ${shown[0]} was running`, {
        source: "ssh",
        details: { command: shown, connectionClosed: conn.closed },
        transient: true,
      }),
    );
  }
  return commandOutcome(spec, end, streams);
}

/**
 * Stops a running command: `signal KILL` on its channel and a channel close, plus — because
 * OpenSSH refuses signal requests in sessions without privilege separation (root logins) — a
 * `kill -s KILL -- -<pgid>` of its process group on a second channel (through the root helper).
 * Best effort, bounded by `killGraceMs`.
 */
export async function killCommand(site: CommandSite, conn: Connection, cmd: RunningCommand): Promise<void> {
  const grace = sleep(site.settings.killGraceMs, undefined, { ref: false });
  if (!cmd.exited) signalAndClose(cmd.channel);
  else closeChannel(cmd.channel);
  if (!cmd.exited && !conn.closed) {
    await Promise.race([cmd.pidKnown, grace]);
    const pid = cmd.pid;
    if (pid !== undefined && !cmd.exited && !conn.closed) {
      await Promise.race([killGroup(site, conn, pid), grace]);
    }
  }
  await Promise.race([cmd.closed, grace]);
}

async function killGroup(site: CommandSite, conn: Connection, pid: number): Promise<void> {
  const argv = [...(site.settings.rootHelper ?? []), "kill", "-s", "KILL", "--", `-${pid}`];
  const command = quoteArgv(argv);
  if (command.isErr()) return;
  const opened = await site.connections.open(conn, command.value);
  if (opened.kind !== "opened") {
    site.settings.logger.warn({ runner: site.description, pid }, "could not open a channel to kill a remote command");
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

function emitChunk(listener: (chunk: string) => void, chunk: string): void {
  if (chunk.length > 0) listener(chunk);
}
