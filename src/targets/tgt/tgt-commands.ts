import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { exitCodeOf, type CommandOutput, type CommandRunner } from "../../exec/runner.js";
import {
  classifyTgtadmFailure,
  parseTgtAccounts,
  parseTgtSystem,
  parseTgtTargets,
  type TgtSystem,
  type TgtTarget,
  type TgtadmFailure,
} from "./tgt-parsers.js";

/** The mode page tgt-admin sets for `write-cache off` (caching mode page 8 with WCE cleared). */
export const TGT_WRITE_CACHE_OFF_MODE_PAGE = "mode_page=8:0:18:0x10:0:0xff:0xff:0:0:0xff:0xff:0xff:0xff:0x80:0x14:0:0:0:0:0:0";

/** The LUN tgt exports a volume as (LUN 0 is the controller tgt adds to every target). */
export const TGT_VOLUME_LUN = 1;

/** What tgtadm said when a command failed, or undefined when the error is not a tgtadm failure. */
export function tgtFailureOf(error: VolkitError): TgtadmFailure | undefined {
  if (error.code === "BACKEND_UNAVAILABLE") return "daemon-unreachable";
  if (error.code !== "COMMAND_FAILED") return undefined;
  const stderr = typeof error.details.stderr === "string" ? error.details.stderr : "";
  return classifyTgtadmFailure(stderr, exitCodeOf(error));
}

/**
 * Every command the tgt helper runs, as argv arrays through the injected runner: `tgtadm`,
 * `tgt-admin`, and the file operations on the per-volume target file (`install`, `dd`, `mv`,
 * `cat`, `rm`), so the same code works locally, through sudo or over SSH.
 */
export class TgtCommands {
  readonly #runner: CommandRunner;
  readonly #controlPort: readonly string[];
  readonly #timeoutMs: number;

  /**
   * @param runner - runs every command.
   * @param controlPort - tgtd management port (`tgtd -C N`); undefined for the default daemon.
   * @param timeoutMs - kill any single command after this long.
   */
  constructor(runner: CommandRunner, controlPort: number | undefined, timeoutMs: number) {
    this.#runner = runner;
    this.#controlPort = controlPort === undefined ? [] : ["-C", String(controlPort)];
    this.#timeoutMs = timeoutMs;
  }

  /** `tgtadm --lld iscsi --op show --mode target`, parsed. */
  showTargets(ctx: OperationContext): ResultAsync<TgtTarget[], VolkitError> {
    return this.#tgtadm(["--lld", "iscsi", "--op", "show", "--mode", "target"], ctx).andThen((o) => parseTgtTargets(o.stdout));
  }

  /** `tgtadm --lld iscsi --op show --mode account`, parsed: every account name tgtd knows. */
  showAccounts(ctx: OperationContext): ResultAsync<string[], VolkitError> {
    return this.#tgtadm(["--lld", "iscsi", "--op", "show", "--mode", "account"], ctx).andThen((o) => parseTgtAccounts(o.stdout));
  }

  /** `tgtadm --op show --mode sys`, parsed. */
  showSystem(ctx: OperationContext): ResultAsync<TgtSystem, VolkitError> {
    return this.#tgtadm(["--op", "show", "--mode", "sys"], ctx).andThen((o) => parseTgtSystem(o.stdout));
  }

  /**
   * `tgt-admin --conf <file> --update <iqn>`: (re)creates the target from its file. tgt-admin skips a
   * target with sessions (exit 0, no output) and silently skips a backing store that does not exist or
   * is in use, so callers must verify the result.
   */
  update(confFile: string, iqn: string, secrets: readonly string[], ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#run(["tgt-admin", ...this.#controlPort, "--conf", confFile, "--update", iqn], ctx, { secrets }).map(() => undefined);
  }

  /** `tgt-admin --delete <iqn> --force` (disconnects sessions; exit 0 when the target does not exist). */
  deleteTarget(iqn: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#run(["tgt-admin", ...this.#controlPort, "--delete", iqn, "--force"], ctx).map(() => undefined);
  }

  /** Adds the volume LUN backed by `device` to target `tid`. */
  newLun(tid: number, device: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#tgtadm(["--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", String(tid), "--lun", String(TGT_VOLUME_LUN), "-b", device], ctx).map(() => undefined);
  }

  /** Deletes the volume LUN of target `tid`. */
  deleteLun(tid: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#tgtadm(["--lld", "iscsi", "--op", "delete", "--mode", "logicalunit", "--tid", String(tid), "--lun", String(TGT_VOLUME_LUN)], ctx).map(() => undefined);
  }

  /** Turns the volume LUN's write cache off (what tgt-admin does for `write-cache off`). */
  writeCacheOff(tid: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#tgtadm(
      ["--lld", "iscsi", "--op", "update", "--mode", "logicalunit", "--tid", String(tid), "--lun", String(TGT_VOLUME_LUN), "--params", TGT_WRITE_CACHE_OFF_MODE_PAGE],
      ctx,
    ).map(() => undefined);
  }

  /** Deletes an account (unbinding it from every target); true if it existed. */
  deleteAccount(user: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return this.#tgtadm(["--lld", "iscsi", "--mode", "account", "--op", "delete", "--user", user], ctx)
      .map(() => true)
      .orElse((e) => (tgtFailureOf(e) === "no-account" ? okAsync(false) : errAsync(e)));
  }

  /** Removes an initiator ACL entry (`ALL`, an address) from target `tid`; ok if absent. */
  unbindInitiatorAddress(tid: number, address: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#tgtadm(["--lld", "iscsi", "--op", "unbind", "--mode", "target", "--tid", String(tid), "--initiator-address", address], ctx)
      .map(() => undefined)
      .orElse((e) => (tgtFailureOf(e) === "no-acl" ? okAsync(undefined) : errAsync(e)));
  }

  /** Reads a file; undefined when it does not exist. */
  readFile(path: string, ctx: OperationContext): ResultAsync<string | undefined, VolkitError> {
    // secretOutput: a target file holds a CHAP secret, registered only once it parses.
    return this.#run(["cat", "--", path], ctx, { okExitCodes: [0, 1], secretOutput: true }).andThen((o) => {
      if (o.exitCode === 0) return okAsync(o.stdout);
      if (/No such file or directory/.test(o.stderr)) return okAsync(undefined);
      return errAsync(new VolkitError("COMMAND_FAILED", `cannot read ${path}: ${o.stderr.trim()}`, { source: "tgt", details: { command: ["cat", "--", path], exitCode: 1, stderr: o.stderr.trim() } }));
    });
  }

  /**
   * Writes `content` to `path` atomically with mode 0600: an empty 0600 temp file next to it
   * (`install -D` also creates the directory), filled from stdin by `dd`, renamed over `path`. The
   * temp name starts with a dot so tgt's `include <dir>/*` never picks it up.
   */
  writeFileAtomic(path: string, content: string, secrets: readonly string[], ctx: OperationContext): ResultAsync<void, VolkitError> {
    const slash = path.lastIndexOf("/");
    const temp = `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.tmp`;
    return this.#run(["install", "-D", "-m", "0600", "/dev/null", temp], ctx)
      .andThen(() => this.#run(["dd", `of=${temp}`, "status=none"], ctx, { stdin: content, secrets }))
      .andThen(() => this.#run(["mv", "-f", "--", temp, path], ctx))
      .map(() => undefined)
      .orElse((e) => this.#run(["rm", "-f", "--", temp], ctx).andThen(() => errAsync(e)).orElse(() => errAsync(e)));
  }

  /** Removes a file; ok if it does not exist. */
  removeFile(path: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#run(["rm", "-f", "--", path], ctx).map(() => undefined);
  }

  #tgtadm(args: readonly string[], ctx: OperationContext, secrets: readonly string[] = []): ResultAsync<CommandOutput, VolkitError> {
    return this.#run(["tgtadm", ...this.#controlPort, ...args], ctx, { secrets });
  }

  #run(
    argv: readonly [string, ...string[]],
    ctx: OperationContext,
    extra: { readonly secrets?: readonly string[]; readonly okExitCodes?: readonly number[]; readonly stdin?: string; readonly secretOutput?: boolean } = {},
  ): ResultAsync<CommandOutput, VolkitError> {
    return this.#runner
      .run({ argv, signal: ctx.signal, timeoutMs: this.#timeoutMs, env: { LC_ALL: "C" }, ...extra })
      .mapErr((e) =>
        (argv[0] === "tgtadm" || argv[0] === "tgt-admin") && e.code === "COMMAND_FAILED" && tgtFailureOf(e) === "daemon-unreachable"
          ? new VolkitError("BACKEND_UNAVAILABLE", `tgtd is not reachable${this.#controlPort.length ? ` on control port ${this.#controlPort[1]}` : ""}: ${e.message}`, {
              source: "tgt",
              cause: e,
              details: e.details,
              transient: true,
            })
          : e,
      );
  }
}
