import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import { withRetry } from "../../core/retry.js";
import { exitCodeOf, type Argv, type CommandOutput, type CommandRunner } from "../../exec/runner.js";
import { ISCSIADM_EXIT, classifyIscsiadmError, type IscsiadmWhere } from "./iscsi-errors.js";
import { parseSendTargets, type DiscoveredTarget } from "./iscsi-parsers.js";

/** CHAP settings for a node or a discovery record. */
export interface ChapSettings {
  /** CHAP user. */
  readonly username: string;
  /** CHAP secret: only ever passed through `CommandSpec.secrets`-protected argv. */
  readonly password: string;
}

/** One node record setting for {@link Iscsiadm.configureNode}. */
export interface NodeSetting {
  /** Setting name (`node.startup`). */
  readonly name: string;
  /** Value. */
  readonly value: string;
  /** Redact the value (a CHAP secret). */
  readonly secret?: boolean;
}

/** The node settings of a login: manual scan (no whole-target scans), CHAP when given, automatic startup (os-brick's). */
export function loginSettings(chap: ChapSettings | undefined): NodeSetting[] {
  return [
    { name: "node.session.scan", value: "manual" },
    ...(chap
      ? [
          { name: "node.session.auth.authmethod", value: "CHAP" },
          { name: "node.session.auth.username", value: chap.username },
          { name: "node.session.auth.password", value: chap.password, secret: true },
        ]
      : []),
    { name: "node.startup", value: "automatic" },
  ];
}

/** Timing knobs of {@link Iscsiadm}. */
export interface IscsiadmTimings {
  /** Kill a login still running after this long (ms). */
  readonly loginTimeoutMs: number;
  /** Kill any other iscsiadm call after this long (ms). */
  readonly commandTimeoutMs: number;
  /** Retries of transient failures (exit 6, 28, 29). */
  readonly retries: number;
  /** First retry delay (ms). */
  readonly retryMinMs: number;
}

/**
 * Explains a node-database failure (exit 6) of a call aimed at `target`: a permanent error naming
 * the fix (stale lock, corrupt record), or undefined when the database was only busy.
 */
export type NodeDbDiagnosis = (target: string | undefined, failure: VolkitError) => ResultAsync<VolkitError | undefined, never>;

/**
 * The iscsiadm calls the connector makes, each as an argv through the runner, transient exit
 * codes retried, failures classified by the named table.
 *
 * Cancellation: a started iscsiadm is never killed by the operation's signal. iscsiadm locks the
 * node database (`/run/lock/iscsi/lock.write`) while it reads or writes records, and a process
 * killed meanwhile leaves the lock (every later call fails) or a half-written record behind. So
 * each call runs to its end, bounded only by its own timeout; once the operation is cancelled, no
 * further call starts (the retry loop and the flows check the signal), and the caller's rollback
 * undoes what the finished call made. A login to a dead portal therefore delays an abort by at most
 * `timeouts.loginMs`.
 */
export class Iscsiadm {
  readonly #runner: CommandRunner;
  readonly #t: IscsiadmTimings;
  readonly #diagnose: NodeDbDiagnosis;

  /**
   * @param runner - runs iscsiadm (locally, via a root helper…).
   * @param diagnose - explains exit 6 (default: never; the failure is retried as busy).
   */
  constructor(runner: CommandRunner, timings: IscsiadmTimings, diagnose: NodeDbDiagnosis = () => okAsync(undefined)) {
    this.#runner = runner;
    this.#t = timings;
    this.#diagnose = diagnose;
  }

  /** Whether a node record exists (`iscsiadm -m node -T -p`; exit 21 = no). */
  nodeExists(iqn: string, portal: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return this.#node(iqn, portal, [], ctx, { op: "node lookup", ok: [ISCSIADM_EXIT.SUCCESS, ISCSIADM_EXIT.NO_OBJECTS_FOUND] }).map((o) => o.exitCode === ISCSIADM_EXIT.SUCCESS);
  }

  /** Creates a node record (`--interface default --op new`). */
  createNode(iqn: string, portal: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#node(iqn, portal, ["--interface", "default", "--op", "new"], ctx, { op: "node create" }).map(() => undefined);
  }

  /** Sets one node setting (`--op update -n <name> -v <value>`); `secret` marks the value for redaction. */
  updateNode(iqn: string, portal: string, name: string, value: string, ctx: OperationContext, secret = false): ResultAsync<void, VolkitError> {
    return this.#node(iqn, portal, ["--op", "update", "-n", name, "-v", value], ctx, { op: `node update ${name}`, ...(secret ? { secrets: [value] } : {}) }).map(() => undefined);
  }

  /**
   * Sets several node settings with ONE `--op update` (`-n a -v 1 -n b -v 2 …`: one process, one
   * database lock); values marked `secret` are redacted from logs and errors.
   */
  configureNode(iqn: string, portal: string, settings: readonly NodeSetting[], ctx: OperationContext): ResultAsync<void, VolkitError> {
    const args = settings.flatMap((s) => ["-n", s.name, "-v", s.value]);
    const secrets = settings.filter((s) => s.secret === true).map((s) => s.value);
    return this.#node(iqn, portal, ["--op", "update", ...args], ctx, { op: `node update ${settings.map((s) => s.name).join(", ")}`, ...(secrets.length > 0 ? { secrets } : {}) }).map(() => undefined);
  }

  /** Logs in (`--login`). Resolves `true` when a session was made, `false` when one already existed (exit 15). */
  login(iqn: string, portal: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return this.#node(iqn, portal, ["--login"], ctx, { op: "login", ok: [ISCSIADM_EXIT.SUCCESS, ISCSIADM_EXIT.SESSION_EXISTS], timeoutMs: this.#t.loginTimeoutMs }).map(
      (o) => o.exitCode === ISCSIADM_EXIT.SUCCESS,
    );
  }

  /** Logs out (`--logout`); no session (exit 21) counts as done. */
  logout(iqn: string, portal: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#node(iqn, portal, ["--logout"], ctx, { op: "logout", ok: [ISCSIADM_EXIT.SUCCESS, ISCSIADM_EXIT.NO_OBJECTS_FOUND], timeoutMs: this.#t.loginTimeoutMs }).map(() => undefined);
  }

  /** Deletes the node record (`--op delete`). Resolves whether there was one: a missing record (exit 21) counts as done. */
  deleteNode(iqn: string, portal: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return this.#node(iqn, portal, ["--op", "delete"], ctx, { op: "node delete", ok: [ISCSIADM_EXIT.SUCCESS, ISCSIADM_EXIT.NO_OBJECTS_FOUND] }).map((o) => o.exitCode === ISCSIADM_EXIT.SUCCESS);
  }

  /**
   * SendTargets discovery through `portal` (`-m discoverydb`), with discovery CHAP when given.
   * Like os-brick, the discovery record is created, updated and used; iscsiadm also stores node
   * records for what it found.
   */
  discover(portal: string, chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<DiscoveredTarget[], VolkitError> {
    const db = ["iscsiadm", "-m", "discoverydb", "-t", "sendtargets", "-p", portal] as const;
    const where = { op: "discovery", portal };
    const update = (name: string, value: string, secret = false): ResultAsync<CommandOutput, VolkitError> =>
      this.#run([...db, "--op", "update", "-n", name, "-v", value], ctx, { ...where, ...(secret ? { secrets: [value] } : {}) });
    const setup = chap
      ? this.#run([...db, "--op", "new"], ctx, where)
          .andThen(() => update("discovery.sendtargets.auth.authmethod", "CHAP"))
          .andThen(() => update("discovery.sendtargets.auth.username", chap.username))
          .andThen(() => update("discovery.sendtargets.auth.password", chap.password, true))
          .map(() => undefined)
      : okAsync(undefined);
    return setup
      .andThen(() => this.#run([...db, "--discover"], ctx, { ...where, timeoutMs: this.#t.loginTimeoutMs }))
      .andThen((o) => parseSendTargets(o.stdout));
  }

  /**
   * A failure that may come from a broken node database: exit 6, or exit 21 (no record) from a
   * call that needs the record it follows (an update or a login right after the record was made).
   */
  #unexpected(e: VolkitError, opts: RunOpts): boolean {
    const exit = exitCodeOf(e);
    return exit === ISCSIADM_EXIT.NODE_DB || (exit === ISCSIADM_EXIT.NO_OBJECTS_FOUND && !(opts.ok ?? []).includes(exit));
  }

  #node(iqn: string, portal: string, args: readonly string[], ctx: OperationContext, opts: RunOpts): ResultAsync<CommandOutput, VolkitError> {
    return this.#run(["iscsiadm", "-m", "node", "-T", iqn, "-p", portal, ...args], ctx, { ...opts, target: iqn, portal });
  }

  #run(argv: Argv, ctx: OperationContext, opts: RunOpts & IscsiadmWhere): ResultAsync<CommandOutput, VolkitError> {
    const timeoutMs = opts.timeoutMs ?? this.#t.commandTimeoutMs;
    // The retry loop drops a finished attempt's output when the signal fired meanwhile; a finished
    // call must still be reported (its node record or session is then undone by the rollback).
    let finished: { output: CommandOutput } | undefined;
    return withRetry(
      () =>
        this.#runner
          .run({
            argv,
            // Shielded from the operation's signal (see the class comment): only its own bound ends it.
            signal: AbortSignal.timeout(timeoutMs),
            timeoutMs,
            ...(opts.ok ? { okExitCodes: opts.ok } : {}),
            ...(opts.secrets ? { secrets: opts.secrets } : {}),
          })
          .mapErr((e) => classifyIscsiadmError(e, opts))
          .orElse((e) => (this.#unexpected(e, opts) ? this.#diagnose(opts.target, e).andThen((d) => errAsync(d ?? e)) : errAsync(e)))
          .map((output) => {
            finished = { output };
            return output;
          }),
      {
        retries: this.#t.retries,
        minTimeoutMs: this.#t.retryMinMs,
        signal: ctx.signal,
        // Only the table's transient exit codes: a killed (timed-out) login is not retried.
        isTransient: (e) => e.transient && e.code === "COMMAND_FAILED",
        onRetry: (e, n) => {
          const where = { op: opts.op, target: opts.target, portal: opts.portal, attempt: n, code: e.code };
          if (e.details.staleLock !== undefined) ctx.logger.warn({ ...where, message: e.message }, "iscsiadm waited for a stale node database lock, retrying");
          else ctx.logger.debug(where, "iscsiadm transient failure, retrying");
        },
      },
    ).orElse((e) => (finished ? okAsync(finished.output) : errAsync(e)));
  }
}

interface RunOpts {
  readonly op: string;
  readonly ok?: readonly number[];
  readonly secrets?: readonly string[];
  readonly timeoutMs?: number;
}
