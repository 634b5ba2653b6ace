import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { withRetry } from "../../core/retry.js";
import { type Argv, type CommandOutput, type CommandRunner } from "../../exec/runner.js";
import { isMultipathdFailure, parseFindMultipaths, type FindMultipaths } from "./iscsi-parsers.js";

/** Timing knobs of {@link Multipath}. */
export interface MultipathTimings {
  /** Kill a multipath/multipathd call after this long (ms). */
  readonly commandTimeoutMs: number;
  /** Retries of `multipathd resize map` while the map is busy. */
  readonly busyRetries: number;
  /** First retry delay (ms). */
  readonly retryMinMs: number;
}

/**
 * multipath-tools calls: `multipathd` (daemon commands; it may print `fail` with exit 0, which is
 * treated as failure) and `multipath` (`-a` to whitelist a WWID, `-f` to flush a map).
 */
export class Multipath {
  readonly #runner: CommandRunner;
  readonly #t: MultipathTimings;
  #answered = false;
  #policy: FindMultipaths | undefined;

  /** @param runner - runs multipath-tools. */
  constructor(runner: CommandRunner, timings: MultipathTimings) {
    this.#runner = runner;
    this.#t = timings;
  }

  /**
   * Whether multipathd answers (`multipathd show status`). A "yes" is kept for the life of this
   * object (the call costs 70–380 ms on a loaded host, on every attach's critical path); a "no" is
   * asked again next time.
   */
  available(ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    if (this.#answered) return okAsync(true);
    return this.#daemon(["show", "status"], ctx)
      .map(() => {
        this.#answered = true;
        return true;
      })
      // A hung or missing multipathd is "not available"; a cancelled operation stays cancelled.
      .orElse((e) => (ctx.signal.aborted ? errAsync(e) : okAsync(false)));
  }

  /**
   * multipathd's `find_multipaths` policy (`multipathd show config`), asked once per object:
   * whether it builds a map for new paths on its own. `strict` when it cannot be told (then the
   * connector whitelists and hands over every path itself, as before).
   */
  policy(ctx: OperationContext): ResultAsync<FindMultipaths, VolkitError> {
    if (this.#policy !== undefined) return okAsync(this.#policy);
    return this.#daemon(["show", "config"], ctx)
      .andThen((o) => parseFindMultipaths(o.stdout))
      .map((p) => {
        this.#policy = p;
        return p;
      })
      .orElse((e) => {
        if (ctx.signal.aborted) return errAsync(e);
        ctx.logger.warn({ err: e.toJSON() }, "cannot read multipathd's find_multipaths: handing every path to it");
        return okAsync<FindMultipaths, VolkitError>("strict");
      });
  }

  /** Forgets what {@link available} and {@link policy} learned (multipathd restarted or reconfigured). */
  forget(): void {
    this.#answered = false;
    this.#policy = undefined;
  }

  /** Whitelists a WWID so `find_multipaths yes|smart|strict` builds its map (`multipath -a`). */
  addWwid(wwid: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#run(["multipath", "-a", wwid], ctx).map(() => undefined);
  }

  /** Hands a path to multipathd (`multipathd add path /dev/sdX`). */
  addPath(device: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#daemon(["add", "path", device], ctx).map(() => undefined);
  }

  /** Makes multipathd forget a path before it is deleted (`multipathd del path /dev/sdX`). */
  delPath(device: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#daemon(["del", "path", device], ctx).map(() => undefined);
  }

  /** Lets queued I/O fail instead of waiting forever (`multipathd disablequeueing map <name>`). */
  disableQueueing(name: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#daemon(["disablequeueing", "map", name], ctx).map(() => undefined);
  }

  /** Reloads a map with its paths' new size (`multipathd resize map <name>`), retried while busy. */
  resizeMap(name: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#retrying(() => this.#daemon(["resize", "map", name], ctx).mapErr(transient), ctx).map(() => undefined);
  }

  /**
   * Removes a map (`multipath -f <name>`), once: a failure (the map in use, typically) comes back
   * transient, and the caller decides how long to wait and try again (see `removeMap`).
   */
  flushMap(name: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#run(["multipath", "-f", name], ctx).mapErr(transient).map(() => undefined);
  }

  #retrying<T>(attempt: () => ResultAsync<T, VolkitError>, ctx: OperationContext): ResultAsync<T, VolkitError> {
    return withRetry(attempt, {
      retries: this.#t.busyRetries,
      minTimeoutMs: this.#t.retryMinMs,
      signal: ctx.signal,
      isTransient: (e) => e.transient && e.code === "COMMAND_FAILED",
      onRetry: (e, n) => ctx.logger.debug({ attempt: n, message: e.message }, "multipath busy, retrying"),
    });
  }

  #daemon(args: readonly string[], ctx: OperationContext): ResultAsync<CommandOutput, VolkitError> {
    return this.#run(["multipathd", ...args], ctx).andThen((o) =>
      isMultipathdFailure(o.stdout)
        ? errAsync(new VolkitError("COMMAND_FAILED", `multipathd ${args.join(" ")} answered: ${o.stdout.trim().slice(0, 200)}`, { source: "multipath", details: { command: [...o.argv], exitCode: o.exitCode, stdout: o.stdout.trim().slice(0, 2000) } }))
        : okAsync(o),
    );
  }

  #run(argv: Argv, ctx: OperationContext): ResultAsync<CommandOutput, VolkitError> {
    return this.#runner.run({ argv, signal: ctx.signal, timeoutMs: this.#t.commandTimeoutMs });
  }
}

/** Marks a failed multipath command as worth retrying (a map in use, a busy daemon). */
function transient(e: VolkitError): VolkitError {
  if (e.code !== "COMMAND_FAILED") return e;
  return new VolkitError(e.code, e.message, { source: "multipath", cause: e, details: e.details, transient: true });
}
