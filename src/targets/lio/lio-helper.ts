import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import { z } from "zod";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { InProcessLocks, withLock, type LockBackend } from "../../core/locks.js";
import { redactText, registerSecret } from "../../core/secrets.js";
import { IdSchema, IqnSchema, parsePortal, validate } from "../../core/validation.js";
import type { CommandRunner } from "../../exec/runner.js";
import { validateExportRequest } from "../export-request.js";
import {
  ChapCredentialsSchema,
  DevicePathSchema,
  SAFE_TARGET_PATH,
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
import { EMPTY_LIO_CONFIG, findLioVolume, lioPortalString, parseLioSaveConfig, type LioConfig, type LioVolumeState } from "./lio-parsers.js";
import {
  LIO_VOLUME_LUN,
  lioBatch,
  lioExportDifferences,
  planLioAllow,
  planLioDeny,
  planLioExport,
  planLioRemove,
  type LioExportSpec,
  type LioPortal,
} from "./lio-script.js";

/** LIO-specific options of {@link LioHelper}. */
export interface LioHelperOptions {
  /**
   * Lock backend serializing every LIO call (targetcli and rtslib are not safe concurrently).
   * Default: an in-process lock; pass `FileLocks` (from `volkit`) when several processes drive LIO.
   */
  readonly locks?: LockBackend | undefined;
  /** Kill a targetcli run after this many ms (default 300 000: each start costs seconds under emulation). */
  readonly commandTimeoutMs?: number | undefined;
}

/** configfs directory of the kernel's target core (configfs mounted, `target_core_mod` loaded). */
const LIO_CORE_DIR = "/sys/kernel/config/target";
/** configfs directory of LIO's iSCSI fabric: made by rtslib when targetcli starts, not at boot. */
const LIO_FABRIC_DIR = `${LIO_CORE_DIR}/iscsi`;

const LioExportRequestSchema = z.object({
  volumeId: IdSchema.regex(/^[^_]*$/, "must not contain '_' (LIO rejects it in IQNs)"),
  devicePath: DevicePathSchema,
  chap: ChapCredentialsSchema.optional(),
});
type ValidRequest = z.output<typeof LioExportRequestSchema>;

/**
 * {@link TargetHelper} for the kernel's LIO target through `targetcli` (targetcli-fb 2.1.53), the
 * layout of Cinder's `LioAdm`: block backstore `volume-<id>`, target `<prefix>volume-<id>`, TPG 1
 * with `authentication=1` (when CHAP is used) and `generate_node_acls=0`, targetcli's default
 * `0.0.0.0:3260` portal replaced by one portal per configured address (several paths for
 * multipath), LUN 0; one ACL per initiator carrying its CHAP secret and mapped LUN 0.
 *
 * Each operation sends all its steps to one targetcli process on stdin and ends with
 * `saveconfig savefile=<lioSaveFile>`; the state is read from that JSON file (`cat`, no targetcli
 * start) and every change is verified against it. Secrets travel on stdin, never in argv. All calls
 * are serialized under the lock key `lio`. targetcli needs a system D-Bus.
 *
 * The kernel reads a block backstore's size on every READ CAPACITY, so {@link refreshSize} has
 * nothing to do: initiators see a grown LV after a rescan.
 *
 * @example
 * ```ts
 * const lio = createLioHelper({ helper: "lio", portals: ["10.0.0.5:3260", "10.0.1.5:3260"] }, runner)._unsafeUnwrap();
 * const exp = await lio.createExport({ volumeId, devicePath: "/dev/vg/volume-1", chap }, ctx);
 * const lun = await lio.allowInitiator(volumeId, "iqn.1993-08.org.debian:01:host1", chap, ctx); // ok(0)
 * ```
 */
export class LioHelper implements TargetHelper {
  /** {@inheritDoc TargetHelper.kind} */
  readonly kind = "lio";
  readonly #config: ParsedTargetConfig;
  readonly #runner: CommandRunner;
  readonly #locks: LockBackend;
  readonly #timeoutMs: number;
  readonly #portals: readonly LioPortal[];

  /**
   * @param config - parsed target config; portals must be IP addresses (see {@link createLioHelper}).
   * @param runner - runs every command (local, sudo, SSH).
   * @param options - LIO-specific options.
   */
  constructor(config: ParsedTargetConfig, runner: CommandRunner, options: LioHelperOptions = {}) {
    this.#config = config;
    this.#runner = runner;
    this.#locks = options.locks ?? new InProcessLocks();
    this.#timeoutMs = options.commandTimeoutMs ?? 300_000;
    this.#portals = config.portals.map((p) => {
      const parsed = parsePortal(p);
      return { ip: parsed?.host ?? p, port: parsed?.port ?? 3260 };
    });
  }

  /**
   * Checks targetcli starts and LIO's iSCSI fabric is registered. On a freshly booted host the
   * fabric's configfs directory (`/sys/kernel/config/target/iscsi`) does not exist yet: rtslib
   * creates it (a `mkdir` there, which also loads `iscsi_target_mod`) whenever targetcli starts, so
   * it is looked for only after targetcli ran. A failure names what is missing and how to add it:
   * configfs and the target core (`/sys/kernel/config/target`), or the iSCSI fabric module.
   */
  check(ctx: OperationContext): ResultAsync<void, VolkitError> {
    const missing = (fallback: VolkitError): ResultAsync<never, VolkitError> =>
      this.#isDir(LIO_CORE_DIR, ctx).andThen((core) =>
        errAsync(
          core
            ? fallback
            : new VolkitError("BACKEND_UNAVAILABLE", `LIO's target core is not in configfs (${LIO_CORE_DIR} is missing): mount configfs (mount -t configfs configfs /sys/kernel/config) and load the target core (modprobe target_core_mod)`, {
                source: "lio",
                cause: fallback,
              }),
        ),
      );
    const noFabric = new VolkitError("BACKEND_UNAVAILABLE", `targetcli could not register LIO's iSCSI fabric (${LIO_FABRIC_DIR} is missing): load the fabric module (modprobe iscsi_target_mod)`, { source: "lio" });
    return this.#locked(ctx, () => this.#targetcli("", ctx, []))
      .orElse((e) => (e.code === "COMMAND_FAILED" ? missing(e) : errAsync(e)))
      .andThen(() => this.#isDir(LIO_FABRIC_DIR, ctx))
      .andThen((fabric) => (fabric ? okAsync(undefined) : missing(noFabric)));
  }

  /** {@inheritDoc TargetHelper.createExport} */
  createExport(request: ExportRequest, ctx: OperationContext): ResultAsync<TargetExport, VolkitError> {
    const valid = validateExportRequest(LioExportRequestSchema, request);
    if (valid.isErr()) return errAsync(valid.error);
    return this.#locked(ctx, () => this.#export(valid.value, ctx));
  }

  /** {@inheritDoc TargetHelper.ensureExport} */
  ensureExport(request: ExportRequest, ctx: OperationContext): ResultAsync<TargetExport, VolkitError> {
    return this.createExport(request, ctx);
  }

  /**
   * Deletes the target (its ACLs and LUN with it) and the backstore.
   */
  removeExport(volumeId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const id = validateId(volumeId);
    if (id.isErr()) return errAsync(id.error);
    const { iqn, backstore } = this.#names(id.value);
    return this.#locked(ctx, () =>
      this.#state(iqn, backstore, ctx).andThen((state) =>
        this.#apply(state, planLioRemove(state, iqn, backstore), [], iqn, backstore, ctx, (after) => [
          ...(after.target ? [`target ${iqn} still exists`] : []),
          ...(after.storageObject ? [`backstore ${backstore} still exists`] : []),
        ]),
      ).map(() => undefined),
    );
  }

  /**
   * An export needs the target, TPG 1 and the LUN of the backstore.
   */
  getExport(volumeId: string, ctx: OperationContext): ResultAsync<TargetExport | undefined, VolkitError> {
    const id = validateId(volumeId);
    if (id.isErr()) return errAsync(id.error);
    const { iqn, backstore } = this.#names(id.value);
    return this.#locked(ctx, () => this.#state(iqn, backstore, ctx).map((state) => (state.tpg && state.lun ? this.#exportOf(iqn, state) : undefined)));
  }

  /**
   * Creates the initiator's ACL with CHAP and mapped LUN 0.
   */
  allowInitiator(volumeId: string, initiator: string, chap: ChapCredentials | undefined, ctx: OperationContext): ResultAsync<number, VolkitError> {
    const args = validateId(volumeId).andThen((id) =>
      validate(IqnSchema, initiator, "initiator").andThen((ini) =>
        (chap === undefined ? ok(undefined) : validate(ChapCredentialsSchema, chap, "chap")).map((c) => ({ id, ini: ini.toLowerCase(), chap: c })),
      ),
    );
    if (args.isErr()) return errAsync(args.error);
    const { id, ini, chap: creds } = args.value;
    registerSecret(creds?.password);
    const { iqn, backstore } = this.#names(id);
    return this.#locked(ctx, () =>
      this.#state(iqn, backstore, ctx).andThen((state) => {
        if (!state.tpg || !state.lun) {
          return errAsync(new VolkitError("INVALID_STATE", `volume ${id} has no LIO export to allow ${ini} on`, { source: "lio", details: { volumeId: id, iqn } }));
        }
        if (Number(state.tpg.attributes.authentication) === 1 && !creds) {
          return errAsync(new VolkitError("INVALID_ARGUMENT", `target ${iqn} requires CHAP: allowInitiator needs the export's credentials`, { source: "lio", details: { iqn } }));
        }
        return this.#apply(state, planLioAllow(state, iqn, ini, creds), creds ? [creds.password] : [], iqn, backstore, ctx, (after) => aclDifferences(after, ini, creds)).map(
          () => LIO_VOLUME_LUN,
        );
      }),
    );
  }

  /** {@inheritDoc TargetHelper.denyInitiator} */
  denyInitiator(volumeId: string, initiator: string | undefined, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const args = validateId(volumeId).andThen((id) =>
      (initiator === undefined ? ok(undefined) : validate(IqnSchema, initiator, "initiator").map((i) => i.toLowerCase())).map((ini) => ({ id, ini })),
    );
    if (args.isErr()) return errAsync(args.error);
    const { id, ini } = args.value;
    const { iqn, backstore } = this.#names(id);
    return this.#locked(ctx, () =>
      this.#state(iqn, backstore, ctx).andThen((state) =>
        this.#apply(state, planLioDeny(state, iqn, ini), [], iqn, backstore, ctx, (after) => {
          const left = planLioDeny(after, iqn, ini);
          return left.length ? [`${left.length} ACL(s) still exist`] : [];
        }),
      ).map(() => undefined),
    );
  }

  /**
   * LIO: nothing to do (the kernel reads the device size live).
   */
  refreshSize(request: ExportRequest, _ctx: OperationContext): ResultAsync<void, VolkitError> {
    const valid = validateExportRequest(LioExportRequestSchema, request);
    return valid.isErr() ? errAsync(valid.error) : okAsync(undefined);
  }

  #names(volumeId: string): { iqn: string; backstore: string } {
    return { iqn: targetIqn(this.#config.iqnPrefix, volumeId).toLowerCase(), backstore: `volume-${volumeId}` };
  }

  #locked<T>(ctx: OperationContext, fn: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
    return withLock(this.#locks, "lio", ctx.signal, fn);
  }

  /** The export as LIO has it; live portals are listed in config order (configfs lists them in any order). */
  #exportOf(iqn: string, state: LioVolumeState): TargetExport {
    const live = state.tpg?.portals.map(lioPortalString) ?? [];
    const rank = (p: string): number => {
      const i = this.#config.portals.indexOf(p);
      return i === -1 ? this.#config.portals.length : i;
    };
    const sorted = [...live].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const portals = sorted.length ? sorted : this.#config.portals;
    const initiators = state.tpg?.node_acls.map((a) => a.node_wwn) ?? [];
    return { iqn, portals, lun: LIO_VOLUME_LUN, providerLocation: formatProviderLocation(portals, 1, iqn, LIO_VOLUME_LUN), initiators };
  }

  #export(req: ValidRequest, ctx: OperationContext): ResultAsync<TargetExport, VolkitError> {
    const { iqn, backstore } = this.#names(req.volumeId);
    const spec: LioExportSpec = { iqn, backstore, device: req.devicePath, portals: this.#portals, chap: req.chap };
    return this.#state(iqn, backstore, ctx).andThen((before) => {
      if (before.storageObject && before.storageObject.dev !== req.devicePath) {
        return errAsync(new VolkitError("INVALID_STATE", `LIO backstore ${backstore} is backed by ${before.storageObject.dev ?? "nothing"}, not ${req.devicePath}; remove the export first`, {
          source: "lio",
          details: { volumeId: req.volumeId, iqn },
        }));
      }
      const secrets = req.chap ? [req.chap.password] : [];
      return this.#apply(before, planLioExport(before, spec), secrets, iqn, backstore, ctx, (after) => lioExportDifferences(after, spec))
        .orElse((e) => this.#undoExport(before, iqn, backstore, ctx).andThen(() => errAsync(e)))
        .map((after) => this.#exportOf(iqn, after));
    });
  }

  /** Rollback of a failed create: deletes the target and backstore if this call made them. */
  #undoExport(before: LioVolumeState, iqn: string, backstore: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const rb = rollbackContext(ctx);
    return this.#state(iqn, backstore, rb)
      .andThen((now) => {
        const created: LioVolumeState = { ...now, target: before.target ? undefined : now.target, storageObject: before.storageObject ? undefined : now.storageObject };
        const lines = planLioRemove(created, iqn, backstore);
        return lines.length ? this.#targetcli(lioBatch(lines, this.#config.lioSaveFile), rb, []).map(() => undefined) : okAsync(undefined);
      })
      .orElse((e) => {
        ctx.logger.error({ iqn, error: e.toJSON() }, "LIO export rollback failed");
        return okAsync(undefined);
      });
  }

  /**
   * Runs `lines` in one targetcli batch (nothing when empty: `before` is returned), then reads the saved state back and
   * fails with `EXPORT_FAILED` when `verify` finds differences, quoting targetcli's (redacted) errors.
   */
  #apply(
    before: LioVolumeState,
    lines: readonly string[],
    secrets: readonly string[],
    iqn: string,
    backstore: string,
    ctx: OperationContext,
    verify: (after: LioVolumeState) => string[],
  ): ResultAsync<LioVolumeState, VolkitError> {
    if (lines.length === 0) return okAsync(before);
    return this.#targetcli(lioBatch(lines, this.#config.lioSaveFile), ctx, secrets).andThen((stderr) =>
      this.#state(iqn, backstore, ctx).andThen((after) => {
        const diffs = verify(after);
        if (diffs.length === 0) return okAsync(after);
        const messages = redactText(stderr, secrets).split("\n").map((l) => l.trim()).filter(Boolean).slice(-10);
        return errAsync(new VolkitError("EXPORT_FAILED", `LIO state for ${iqn} is not as requested: ${diffs.join("; ")}${messages.length ? ` (targetcli: ${messages.join(" | ")})` : ""}`, {
          source: "lio",
          details: { iqn, differences: diffs, targetcliErrors: messages },
        }));
      }),
    );
  }

  /** Runs targetcli with `script` on stdin; returns its stderr (where it reports failed lines). */
  #targetcli(script: string, ctx: OperationContext, secrets: readonly string[]): ResultAsync<string, VolkitError> {
    const argv: readonly [string, ...string[]] = script ? ["targetcli"] : ["targetcli", "ls", "/", "1"];
    return this.#runner
      .run({ argv, ...(script ? { stdin: script } : {}), secrets, signal: ctx.signal, timeoutMs: this.#timeoutMs, env: { LC_ALL: "C" } })
      .map((o) => o.stderr)
      .mapErr((e) => {
        const stderr = typeof e.details.stderr === "string" ? e.details.stderr : "";
        return e.code === "COMMAND_FAILED" && /g-io-error-quark|Could not connect|dbus/i.test(stderr)
          ? new VolkitError("BACKEND_UNAVAILABLE", "targetcli cannot reach the system D-Bus (start it: dbus-daemon --system)", { source: "lio", cause: e, details: e.details, transient: true })
          : e;
      });
  }

  /** Whether `path` is a directory on the target host (`test -d`). */
  #isDir(path: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return this.#runner.run({ argv: ["test", "-d", path], signal: ctx.signal, okExitCodes: [0, 1], timeoutMs: this.#timeoutMs }).map((o) => o.exitCode === 0);
  }

  /** Reads the saved LIO configuration (a missing file is an empty configuration). */
  #readConfig(ctx: OperationContext): ResultAsync<LioConfig, VolkitError> {
    const file = this.#config.lioSaveFile;
    // secretOutput: the file holds every ACL's CHAP secret, registered only once it parses.
    return this.#runner.run({ argv: ["cat", "--", file], signal: ctx.signal, okExitCodes: [0, 1], timeoutMs: this.#timeoutMs, secretOutput: true }).andThen((o) => {
      if (o.exitCode === 0) return o.stdout.trim() ? parseLioSaveConfig(o.stdout) : ok(EMPTY_LIO_CONFIG);
      if (/No such file or directory/.test(o.stderr)) return ok(EMPTY_LIO_CONFIG);
      return err(new VolkitError("COMMAND_FAILED", `cannot read ${file}: ${o.stderr.trim()}`, { source: "lio", details: { command: ["cat", "--", file], exitCode: 1, stderr: o.stderr.trim() } }));
    });
  }

  #state(iqn: string, backstore: string, ctx: OperationContext): ResultAsync<LioVolumeState, VolkitError> {
    return this.#readConfig(ctx).map((config) => findLioVolume(config, iqn, backstore));
  }
}

function aclDifferences(state: LioVolumeState, initiator: string, chap: ChapCredentials | undefined): string[] {
  const acl = state.tpg?.node_acls.find((a) => a.node_wwn === initiator);
  if (!acl) return [`no ACL for ${initiator}`];
  const diffs: string[] = [];
  const mapped = acl.mapped_luns.find((m) => m.index === LIO_VOLUME_LUN);
  if (!mapped || mapped.tpg_lun !== state.lun?.index) diffs.push(`ACL ${initiator} does not map LUN ${LIO_VOLUME_LUN} to the volume`);
  if (chap && (acl.chap_userid !== chap.username || acl.chap_password !== chap.password)) diffs.push(`ACL ${initiator} has other CHAP credentials`);
  return diffs;
}

function validateId(volumeId: string): Result<string, VolkitError> {
  return validate(IdSchema, volumeId, "volumeId").andThen((id) =>
    id.includes("_") ? err(new VolkitError("INVALID_ARGUMENT", "invalid volumeId: must not contain '_' (LIO rejects it in IQNs)", { source: "lio" })) : ok(id),
  );
}

/**
 * Validates config and options and builds a {@link LioHelper} (`INVALID_CONFIG` on bad input):
 * portals must be IP addresses (LIO binds them), the save file a path targetcli parses unchanged.
 *
 * @example
 * ```ts
 * const lio = createLioHelper({ helper: "lio", portals: ["127.0.0.1:3260", "127.0.0.2:3260"] }, runner);
 * ```
 */
export function createLioHelper(config: TargetConfig, runner: CommandRunner, options: LioHelperOptions = {}): Result<LioHelper, VolkitError> {
  return validate(TargetConfigSchema, config, "target config", "INVALID_CONFIG").andThen((parsed) => {
    const badPortal = parsed.portals.find((p) => {
      const host = parsePortal(p)?.host ?? "";
      return !z.ipv4().safeParse(host).success && !z.ipv6().safeParse(host).success;
    });
    if (badPortal !== undefined) return err(new VolkitError("INVALID_CONFIG", `LIO portal ${badPortal} must be an IP address, not a host name`, { source: "lio" }));
    if (!SAFE_TARGET_PATH.test(parsed.lioSaveFile)) {
      return err(new VolkitError("INVALID_CONFIG", `lioSaveFile ${parsed.lioSaveFile} must be an absolute path of letters, digits and '/._+:@-'`, { source: "lio" }));
    }
    if (options.commandTimeoutMs !== undefined && !(Number.isInteger(options.commandTimeoutMs) && options.commandTimeoutMs > 0)) {
      return err(new VolkitError("INVALID_CONFIG", "commandTimeoutMs must be a positive integer", { source: "lio" }));
    }
    return ok(new LioHelper(parsed, runner, options));
  });
}
