import { ResultAsync, err, errAsync, ok, okAsync, safeTry, type Result } from "neverthrow";
import { z } from "zod";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { InProcessLocks, withLock, type LockBackend } from "../../core/locks.js";
import { withRetry } from "../../core/retry.js";
import { IdSchema, IqnSchema, validate } from "../../core/validation.js";
import type { CommandRunner } from "../../exec/runner.js";
import { validateExportRequest } from "../export-request.js";
import {
  TargetConfigSchema,
  formatProviderLocation,
  targetIqn,
  type ChapCredentials,
  type ExportRequest,
  type ParsedTargetConfig,
  type TargetConfig,
  type TargetExport,
  type TargetHelper,
} from "../target-helper.js";
import { TgtCommands, TGT_VOLUME_LUN, tgtFailureOf } from "./tgt-commands.js";
import { TgtExportRequestSchema, parseTgtTargetFile, renderTgtTargetFile, tgtTargetFileName, type TgtTargetFile } from "./tgt-config-file.js";
import type { TgtTarget } from "./tgt-parsers.js";
import { planTgtExport, tgtTargetDifferences } from "./tgt-plan.js";

/** tgt-specific options of {@link TgtHelper}. */
export interface TgtHelperOptions {
  /**
   * Management port of the tgtd to drive (`tgtd -C N`, 0-32767). Omitted: the default daemon, and
   * no `-C` on any command line.
   */
  readonly controlPort?: number | undefined;
  /**
   * Lock backend serializing this helper's changes (tgt-admin picks target ids by reading and then
   * creating, so two concurrent runs could collide). Default: an in-process lock; pass
   * `FileLocks` (from `volkit`) when several processes drive one tgtd.
   */
  readonly locks?: LockBackend | undefined;
  /** Kill any single tgt command after this many ms (default 120 000). */
  readonly commandTimeoutMs?: number | undefined;
}

const TgtHelperOptionsSchema = z.object({
  controlPort: z.number().int().min(0).max(32767).optional(),
  commandTimeoutMs: z.number().int().positive().optional(),
});

type ValidRequest = z.output<typeof TgtExportRequestSchema>;

/**
 * {@link TargetHelper} for the userspace tgt daemon, driven like Cinder's `TgtAdm`: one persistent
 * target file per volume (`<volumesDir>/volume-<id>`, mode 0600, written atomically) that tgtd's
 * config includes, applied with `tgt-admin --update`, then verified with `tgtadm --op show`
 * (tgt-admin silently skips a missing or busy backing store; LUN 1 is re-added by hand then).
 *
 * Beyond Cinder: the target file is never world-readable, nothing happens when the export already
 * matches, a target with sessions is never silently left stale (`VOLUME_BUSY`), a changed CHAP
 * secret really reaches tgtd (tgt-admin keeps an existing account's old password), a failed create
 * removes what it made, CHAP accounts are deleted with their target, and `refreshSize` works while
 * initiators are logged in (LUN 1 is re-created in place; the target, its sessions and the LUN's
 * SCSI id stay).
 *
 * tgtd authorizes by CHAP only: tgt-admin binds every target to `initiator-address ALL`, so
 * `allowInitiator` and `denyInitiator` change nothing. CHAP accounts are global in tgtd: each
 * volume needs its own CHAP user name.
 *
 * @example
 * ```ts
 * const helper = new TgtHelper(TargetConfigSchema.parse({ portals: ["10.0.0.5:3260"] }), createLocalRunner());
 * const exp = await helper.createExport({ volumeId, devicePath: "/dev/vg/volume-1", chap }, ctx);
 * ```
 */
export class TgtHelper implements TargetHelper {
  /** {@inheritDoc TargetHelper.kind} */
  readonly kind = "tgt";
  readonly #config: ParsedTargetConfig;
  readonly #tgt: TgtCommands;
  readonly #locks: LockBackend;
  readonly #lockKey: string;

  /**
   * @param config - parsed target config (see {@link createTgtHelper} for validation).
   * @param runner - runs every command (local, sudo, SSH).
   * @param options - tgt-specific options.
   */
  constructor(config: ParsedTargetConfig, runner: CommandRunner, options: TgtHelperOptions = {}) {
    this.#config = config;
    this.#tgt = new TgtCommands(runner, options.controlPort, options.commandTimeoutMs ?? 120_000);
    this.#locks = options.locks ?? new InProcessLocks();
    this.#lockKey = `tgt:${options.controlPort ?? 0}`;
  }

  /** {@inheritDoc TargetHelper.check} */
  check(ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#tgt.showSystem(ctx).andThen((sys) =>
      sys.state === "ready" && sys.llds.iscsi === "ready"
        ? okAsync(undefined)
        : errAsync(new VolkitError("BACKEND_UNAVAILABLE", `tgtd is not ready (state ${sys.state ?? "unknown"}, iscsi ${sys.llds.iscsi ?? "missing"})`, {
            source: "tgt",
            details: { state: sys.state, llds: sys.llds },
            transient: true,
          })),
    );
  }

  /** {@inheritDoc TargetHelper.createExport} */
  createExport(request: ExportRequest, ctx: OperationContext): ResultAsync<TargetExport, VolkitError> {
    const valid = validateExportRequest(TgtExportRequestSchema, request);
    if (valid.isErr()) return errAsync(valid.error);
    return withLock(this.#locks, this.#lockKey, ctx.signal, () => this.#export(valid.value, ctx));
  }

  /** {@inheritDoc TargetHelper.ensureExport} */
  ensureExport(request: ExportRequest, ctx: OperationContext): ResultAsync<TargetExport, VolkitError> {
    return this.createExport(request, ctx);
  }

  /** {@inheritDoc TargetHelper.removeExport} */
  removeExport(volumeId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const id = validate(IdSchema, volumeId, "volumeId");
    if (id.isErr()) return errAsync(id.error);
    return withLock(this.#locks, this.#lockKey, ctx.signal, () => this.#remove(id.value, ctx));
  }

  /**
   * A target without LUN 1 (a broken export, which `ensureExport` repairs) counts as no export.
   */
  getExport(volumeId: string, ctx: OperationContext): ResultAsync<TargetExport | undefined, VolkitError> {
    const id = validate(IdSchema, volumeId, "volumeId");
    if (id.isErr()) return errAsync(id.error);
    const iqn = targetIqn(this.#config.iqnPrefix, id.value);
    return this.#tgt.showTargets(ctx).map((targets) => {
      const target = targets.find((t) => t.iqn === iqn);
      return target?.luns.some((l) => l.lun === TGT_VOLUME_LUN) ? this.#exportOf(target) : undefined;
    });
  }

  /**
   * tgt: nothing to do (CHAP decides); always LUN 1.
   */
  allowInitiator(volumeId: string, initiator: string, _chap: ChapCredentials | undefined, _ctx: OperationContext): ResultAsync<number, VolkitError> {
    const id = validate(IdSchema, volumeId, "volumeId").andThen(() => validate(IqnSchema, initiator, "initiator"));
    return id.isErr() ? errAsync(id.error) : okAsync(TGT_VOLUME_LUN);
  }

  /**
   * tgt: nothing to do (the target accepts any initiator passing CHAP).
   */
  denyInitiator(volumeId: string, initiator: string | undefined, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    const id = validate(IdSchema, volumeId, "volumeId").andThen(() => (initiator === undefined ? ok(undefined) : validate(IqnSchema, initiator, "initiator")));
    return id.isErr() ? errAsync(id.error) : okAsync(undefined);
  }

  /**
   * tgt reads a backing store's size only when the LUN is created, and `tgt-admin --update` leaves a
   * target with sessions alone (with `-f` it drops them). So LUN 1 is deleted and re-added in place:
   * sessions stay logged in, the SCSI id (derived from tid and LUN) is unchanged, and initiators see
   * the new capacity after a rescan. A volume that is not exported needs nothing.
   */
  refreshSize(request: ExportRequest, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const valid = validateExportRequest(TgtExportRequestSchema, request);
    if (valid.isErr()) return errAsync(valid.error);
    return withLock(this.#locks, this.#lockKey, ctx.signal, () => this.#refresh(valid.value, ctx));
  }

  #exportOf(target: TgtTarget): TargetExport {
    const portals = this.#config.portals;
    return {
      iqn: target.iqn,
      portals,
      lun: TGT_VOLUME_LUN,
      tid: target.tid,
      providerLocation: formatProviderLocation(portals, target.tid, target.iqn, TGT_VOLUME_LUN),
      initiators: [...new Set(target.sessions.map((s) => s.initiator).filter((i) => i !== ""))],
    };
  }

  #filePath(volumeId: string): string {
    return `${this.#config.volumesDir.replace(/\/+$/, "")}/${tgtTargetFileName(volumeId)}`;
  }

  #export(req: ValidRequest, ctx: OperationContext): ResultAsync<TargetExport, VolkitError> {
    const iqn = targetIqn(this.#config.iqnPrefix, req.volumeId);
    const file = this.#filePath(req.volumeId);
    const desired: TgtTargetFile = { iqn, backingStore: req.devicePath, chap: req.chap, writeCache: this.#config.writeCache };
    const content = renderTgtTargetFile(desired);
    const secrets = req.chap ? [req.chap.password] : [];
    const tgt = this.#tgt;
    return ResultAsync.combine([tgt.showTargets(ctx), tgt.readFile(file, ctx)]).andThen(([targets, oldText]) => {
      const current = targets.find((t) => t.iqn === iqn);
      const old = oldText === undefined ? undefined : parseTgtTargetFile(oldText).unwrapOr(undefined);
      const plan = planTgtExport(current, old, desired);
      switch (plan.kind) {
        case "unchanged":
          return okAsync(this.#exportOf(current as TgtTarget));
        case "write-file":
          if (plan.warning) ctx.logger.warn({ volumeId: req.volumeId, iqn }, plan.warning);
          return tgt.writeFileAtomic(file, content, secrets, ctx).map(() => this.#exportOf(current as TgtTarget));
        case "busy":
          return errAsync(new VolkitError("VOLUME_BUSY", `tgt target ${iqn} has ${current?.sessions.length ?? 0} session(s) and cannot be changed: ${plan.reason}; log the initiators out or remove the export first`, {
            source: "tgt",
            details: { volumeId: req.volumeId, iqn, sessions: current?.sessions.map((s) => s.initiator) ?? [] },
          }));
        case "apply": {
          const clash = req.chap ? chapUserClash(targets, iqn, req.chap.username) : undefined;
          return clash ? errAsync(clash) : this.#apply(req, { iqn, file, desired, content, secrets, targets, current, old, oldText }, ctx);
        }
      }
    });
  }

  /** (Re)creates a target with tgt-admin and verifies it; undoes its changes on failure. */
  #apply(req: ValidRequest, s: ApplyState, ctx: OperationContext): ResultAsync<TargetExport, VolkitError> {
    const tgt = this.#tgt;
    const chap = req.chap;
    const prepared = chap ? this.#prepareAccount(chap, s, ctx) : okAsync(undefined);
    const applied = prepared.andThen(() =>
      safeTry(async function* () {
        if (s.oldText !== s.content) yield* tgt.writeFileAtomic(s.file, s.content, s.secrets, ctx);
        yield* tgt.update(s.file, s.iqn, s.secrets, ctx);
        return ok(yield* verifyOrRepair(tgt, s, req, ctx));
      }),
    );
    return applied
      .map((target) => this.#exportOf(target))
      .orElse((e) => this.#undoApply(s, req, ctx).andThen(() => errAsync(e)));
  }

  /**
   * Makes sure tgt-admin will create the CHAP account with the requested secret: an existing
   * account with the same name keeps its old password in tgt-admin, so it is deleted first unless
   * the old file proves the secret is unchanged. Deleting an account unbinds it, which would leave
   * the target open, so the target's `ALL` ACL is removed first (tgt-admin re-creates it).
   */
  #prepareAccount(chap: ChapCredentials, s: ApplyState, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const secretUnchanged = s.old?.chap?.username === chap.username && s.old.chap.password === chap.password;
    const boundHere = s.current?.accounts.some((a) => a.user === chap.username) ?? false;
    if (boundHere && secretUnchanged) return okAsync(undefined);
    return this.#tgt.showAccounts(ctx).andThen((accounts) => {
      if (!accounts.includes(chap.username)) return okAsync(undefined);
      const closeFirst = s.current ? this.#tgt.unbindInitiatorAddress(s.current.tid, "ALL", ctx) : okAsync(undefined);
      return closeFirst.andThen(() => this.#tgt.deleteAccount(chap.username, ctx)).map(() => undefined);
    });
  }

  /**
   * Rollback of {@link TgtHelper.#apply}: removes a target this call created (and its account, unless
   * another target is bound to it) and restores the file.
   */
  #undoApply(s: ApplyState, req: ValidRequest, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const rb = rollbackContext(ctx);
    const tgt = this.#tgt;
    const steps = safeTry(async function* () {
      if (!s.current) {
        yield* tgt.deleteTarget(s.iqn, rb);
        const user = req.chap?.username;
        const left = user === undefined ? [] : yield* tgt.showTargets(rb);
        if (user !== undefined && !left.some((t) => t.accounts.some((a) => a.user === user))) yield* tgt.deleteAccount(user, rb);
      }
      if (s.oldText === undefined) yield* tgt.removeFile(s.file, rb);
      else if (s.oldText !== s.content) yield* tgt.writeFileAtomic(s.file, s.oldText, s.old?.chap ? [s.old.chap.password] : [], rb);
      return ok(undefined);
    });
    return steps.orElse((e) => {
      ctx.logger.error({ iqn: s.iqn, error: e.toJSON() }, "tgt export rollback failed");
      return okAsync(undefined);
    });
  }

  #remove(volumeId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const iqn = targetIqn(this.#config.iqnPrefix, volumeId);
    const file = this.#filePath(volumeId);
    const tgt = this.#tgt;
    return safeTry(async function* () {
      const targets = yield* tgt.showTargets(ctx);
      const target = targets.find((t) => t.iqn === iqn);
      if (target) {
        yield* tgt.deleteTarget(iqn, ctx);
        const after = yield* tgt.showTargets(ctx);
        if (after.some((t) => t.iqn === iqn)) {
          return err(new VolkitError("EXPORT_FAILED", `tgt-admin --delete left target ${iqn} in place`, { source: "tgt", details: { volumeId, iqn } }));
        }
        const users = target.accounts.map((a) => a.user).filter((u) => !after.some((t) => t.accounts.some((a) => a.user === u)));
        for (const user of users) yield* tgt.deleteAccount(user, ctx);
      }
      yield* tgt.removeFile(file, ctx);
      return ok(undefined);
    });
  }

  #refresh(req: ValidRequest, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const iqn = targetIqn(this.#config.iqnPrefix, req.volumeId);
    const tgt = this.#tgt;
    const writeCache = this.#config.writeCache;
    return safeTry(async function* () {
      const target = (yield* tgt.showTargets(ctx)).find((t) => t.iqn === iqn);
      if (!target) return ok(undefined);
      const lun = target.luns.find((l) => l.lun === TGT_VOLUME_LUN);
      if (lun && lun.backingStorePath !== req.devicePath) {
        return err(new VolkitError("INVALID_STATE", `tgt target ${iqn} exports ${lun.backingStorePath ?? "nothing"}, not ${req.devicePath}`, { source: "tgt", details: { iqn } }));
      }
      if (lun) {
        // A LUN with commands in flight refuses deletion ("still active"): retry briefly.
        yield* withRetry(() => tgt.deleteLun(target.tid, ctx), {
          signal: ctx.signal,
          retries: 5,
          minTimeoutMs: 100,
          isTransient: (e) => tgtFailureOf(e) === "lun-active",
        });
      }
      yield* withRetry(() => tgt.newLun(target.tid, req.devicePath, ctx), {
        signal: ctx.signal,
        retries: 3,
        minTimeoutMs: 100,
        isTransient: (e) => tgtFailureOf(e) !== "lun-exists",
      }).mapErr((e) => new VolkitError("EXPORT_FAILED", `tgt target ${iqn} lost LUN ${TGT_VOLUME_LUN} while refreshing its size: ${e.message}`, { source: "tgt", cause: e, details: { iqn } }));
      if (!writeCache) yield* tgt.writeCacheOff(target.tid, ctx);
      return ok(undefined);
    });
  }
}

/** What {@link TgtHelper} knew when it decided to (re)create a target. */
interface ApplyState {
  readonly iqn: string;
  readonly file: string;
  readonly desired: TgtTargetFile;
  readonly content: string;
  readonly secrets: readonly string[];
  readonly targets: readonly TgtTarget[];
  readonly current: TgtTarget | undefined;
  readonly old: TgtTargetFile | undefined;
  readonly oldText: string | undefined;
}

/**
 * Checks what tgt-admin made; re-adds LUN 1 when tgt-admin skipped it (device in use per lsof, or
 * not there yet); fails with `EXPORT_FAILED` on any other difference.
 */
function verifyOrRepair(tgt: TgtCommands, s: ApplyState, req: ValidRequest, ctx: OperationContext): ResultAsync<TgtTarget, VolkitError> {
  const fail = (why: string): VolkitError =>
    new VolkitError("EXPORT_FAILED", `tgt target ${s.iqn} is not as requested after tgt-admin --update: ${why}`, { source: "tgt", details: { volumeId: req.volumeId, iqn: s.iqn } });
  const find = (targets: readonly TgtTarget[]): Result<TgtTarget, VolkitError> => {
    const t = targets.find((x) => x.iqn === s.iqn);
    return t ? ok(t) : err(fail("the target does not exist"));
  };
  return tgt.showTargets(ctx).andThen(find).andThen((target) => {
    if (target.luns.some((l) => l.lun === TGT_VOLUME_LUN)) return okAsync(target);
    return tgt
      .newLun(target.tid, req.devicePath, ctx)
      .andThen(() => (s.desired.writeCache ? okAsync(undefined) : tgt.writeCacheOff(target.tid, ctx)))
      .andThen(() => tgt.showTargets(ctx))
      .andThen(find);
  }).andThen((target) => {
    const diffs = tgtTargetDifferences(target, s.desired);
    return diffs.length === 0 ? okAsync(target) : errAsync(fail(diffs.join("; ")));
  });
}

/** tgt accounts are global: a CHAP user bound to another target would share (or clobber) its secret. */
function chapUserClash(targets: readonly TgtTarget[], iqn: string, user: string): VolkitError | undefined {
  const others = targets.filter((t) => t.iqn !== iqn && t.accounts.some((a) => a.user === user)).map((t) => t.iqn);
  return others.length === 0
    ? undefined
    : new VolkitError("INVALID_ARGUMENT", `CHAP user ${user} is already bound to ${others.join(", ")}; tgt accounts are global, so every volume needs its own CHAP user`, {
        source: "tgt",
        details: { iqn, otherTargets: others },
      });
}

/**
 * Validates config and options and builds a {@link TgtHelper} (`INVALID_CONFIG` on bad input).
 *
 * @example
 * ```ts
 * const helper = createTgtHelper({ helper: "tgt", volumesDir: "/var/lib/volkit/tgt" }, runner)._unsafeUnwrap();
 * ```
 */
export function createTgtHelper(config: TargetConfig, runner: CommandRunner, options: TgtHelperOptions = {}): Result<TgtHelper, VolkitError> {
  return validate(TargetConfigSchema, config, "target config", "INVALID_CONFIG")
    .andThen((parsed) => validate(TgtHelperOptionsSchema, { controlPort: options.controlPort, commandTimeoutMs: options.commandTimeoutMs }, "tgt options", "INVALID_CONFIG").map(() => parsed))
    .map((parsed) => new TgtHelper(parsed, runner, options));
}
