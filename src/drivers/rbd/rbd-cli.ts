import { errAsync, okAsync, type Result, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import type { CommandOutput, CommandRunner } from "../../exec/runner.js";
import { CephKeyfile, connectionArgs, qemuRbdFilename, type RbdConnection } from "./rbd-connection.js";
import { classifyRbdError, type RbdErrorSubject } from "./rbd-errors.js";
import type { ImageRef } from "./rbd-names.js";

/** Options of {@link RbdCli.rbd} and {@link RbdCli.ceph}. */
export interface RbdRunOptions {
  /** Data-sized command (flatten, rollback, export-diff…): no command timeout, only the operation's deadline. */
  readonly long?: boolean;
}

/**
 * How {@link RbdClient} runs the `rbd` and `ceph` CLIs for one cephx client: the connection's
 * options (config, monitors, `--id`, keyring or key file, `--client-mount-timeout`), the key file
 * when the connection carries a key, the operation's signal, the command timeout, and every failure
 * classified (see `classifyRbdError`).
 */
export class RbdCli {
  readonly #keyfile: CephKeyfile | undefined;

  /** @param runner - where the CLIs run; @param connection - validated connection. */
  constructor(
    private readonly runner: CommandRunner,
    readonly connection: RbdConnection,
  ) {
    this.#keyfile = connection.key === undefined ? undefined : new CephKeyfile(runner, connection.key, connection.keyfileDir);
  }

  /** The key file's path when the connection carries a key, else undefined. */
  keyfilePath(ctx: OperationContext): ResultAsync<string | undefined, VolkitError> {
    return this.#keyfile === undefined ? okAsync(undefined) : this.#keyfile.path(ctx);
  }

  /** The `rbd:` filename qemu-img/qemu-io open through librbd (see `qemuRbdFilename`); writes the key file when needed. */
  qemuFilename(ref: ImageRef & { readonly snapshot?: string }, ctx: OperationContext): ResultAsync<string, VolkitError> {
    return this.keyfilePath(ctx).map((keyfile) => qemuRbdFilename(this.connection, ref, keyfile));
  }

  /** Removes the key file, if one was written. */
  close(ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#keyfile === undefined ? okAsync(undefined) : this.#keyfile.remove(ctx);
  }

  /** Runs `rbd <connection options> <args>`, failures classified for `subject`. */
  rbd(args: readonly string[], ctx: OperationContext, subject: RbdErrorSubject, options: RbdRunOptions = {}): ResultAsync<CommandOutput, VolkitError> {
    return this.#run("rbd", args, ctx, subject, options);
  }

  /** Runs `ceph <connection options> <args>`, failures classified for `subject`. */
  ceph(args: readonly string[], ctx: OperationContext, subject: RbdErrorSubject): ResultAsync<CommandOutput, VolkitError> {
    return this.#run("ceph", args, ctx, subject, {});
  }

  #run(program: "rbd" | "ceph", args: readonly string[], ctx: OperationContext, subject: RbdErrorSubject, options: RbdRunOptions): ResultAsync<CommandOutput, VolkitError> {
    const secrets = this.connection.key === undefined ? [] : [this.connection.key];
    return this.keyfilePath(ctx).andThen((keyfile) =>
      this.runner
        .run({
          argv: [program, ...connectionArgs(this.connection, keyfile), ...args],
          env: { LC_ALL: "C" },
          signal: ctx.signal,
          secrets,
          ...(options.long ? {} : { timeoutMs: this.connection.commandTimeoutMs }),
        })
        .mapErr((e) => classifyRbdError(e, subject)),
    );
  }

  /** Runs `rbd <args> --format json` and parses its stdout with `parse`. */
  protected json<T>(args: readonly string[], ctx: OperationContext, subject: RbdErrorSubject, parse: (stdout: string) => Result<T, VolkitError>): ResultAsync<T, VolkitError> {
    return this.rbd([...args, "--format", "json"], ctx, subject).andThen((out) => parse(out.stdout));
  }
}

/** The stderr a failed command left in the error's details ("" when none). */
export function stderrOf(error: VolkitError): string {
  return typeof error.details.stderr === "string" ? error.details.stderr : "";
}

/** Success for a removal whose target is already gone. */
export function ignoreMissing(result: ResultAsync<CommandOutput, VolkitError>): ResultAsync<void, VolkitError> {
  return result.map(() => undefined).orElse((e) => (e.code === "VOLUME_NOT_FOUND" || e.code === "SNAPSHOT_NOT_FOUND" ? okAsync(undefined) : errAsync(e)));
}

/** Runs steps one after the other, stopping at the first failure. */
export function sequence(steps: readonly (() => ResultAsync<void, VolkitError>)[]): ResultAsync<void, VolkitError> {
  return steps.reduce<ResultAsync<void, VolkitError>>((chain, step) => chain.andThen(step), okAsync(undefined));
}
