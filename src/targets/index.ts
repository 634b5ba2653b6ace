/**
 * iSCSI target helpers: export a block device through tgt (`tgtd` + `tgt-admin`) or the kernel's
 * LIO (`targetcli`). Drivers pick one with {@link createTargetHelper} and talk only to the
 * {@link TargetHelper} interface.
 *
 * @example
 * ```ts
 * const helper = createTargetHelper({ helper: "lio", portals: ["10.0.0.5:3260"] }, createLocalRunner())._unsafeUnwrap();
 * const exp = await helper.createExport({ volumeId: "vol-1", devicePath: "/dev/vg0/volume-vol-1", chap }, ctx);
 * ```
 *
 * @packageDocumentation
 */
import type { Result } from "neverthrow";
import type { VolkitError } from "../core/errors.js";
import type { LockBackend } from "../core/locks.js";
import { validate } from "../core/validation.js";
import type { CommandRunner } from "../exec/runner.js";
import { createLioHelper } from "./lio/lio-helper.js";
import { TargetConfigSchema, type TargetConfig, type TargetHelper } from "./target-helper.js";
import { createTgtHelper } from "./tgt/tgt-helper.js";

export * from "./target-helper.js";
export { TgtHelper, createTgtHelper, type TgtHelperOptions } from "./tgt/tgt-helper.js";
export { LioHelper, createLioHelper, type LioHelperOptions } from "./lio/lio-helper.js";
export { parseTgtTargets, parseTgtAccounts, parseTgtSystem, type TgtTarget, type TgtLun, type TgtSession, type TgtBoundAccount, type TgtSystem } from "./tgt/tgt-parsers.js";
export { renderTgtTargetFile, parseTgtTargetFile, type TgtTargetFile } from "./tgt/tgt-config-file.js";
export { parseLioSaveConfig, LioSaveConfigSchema, type LioConfig } from "./lio/lio-parsers.js";

/** Options of {@link createTargetHelper} that only some helpers use. */
export interface TargetHelperOptions {
  /** Lock backend serializing changes (default: in-process). */
  readonly locks?: LockBackend | undefined;
  /** tgt only: management port of the tgtd to drive (`tgtd -C N`). */
  readonly tgtControlPort?: number | undefined;
  /** Kill any single target command after this many ms. */
  readonly commandTimeoutMs?: number | undefined;
}

/**
 * Builds the target helper named by `config.helper` (`tgt` by default). Fails with
 * `INVALID_CONFIG` naming every bad field.
 */
export function createTargetHelper(config: TargetConfig, runner: CommandRunner, options: TargetHelperOptions = {}): Result<TargetHelper, VolkitError> {
  return validate(TargetConfigSchema, config, "target config", "INVALID_CONFIG").andThen((parsed): Result<TargetHelper, VolkitError> =>
    parsed.helper === "lio"
      ? createLioHelper(config, runner, { locks: options.locks, commandTimeoutMs: options.commandTimeoutMs })
      : createTgtHelper(config, runner, { locks: options.locks, controlPort: options.tgtControlPort, commandTimeoutMs: options.commandTimeoutMs }),
  );
}
