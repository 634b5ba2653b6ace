/**
 * The LVM volume driver (`volkit/drivers/lvm`): thick and thin LVs, snapshots, clones, revert,
 * extend, wipe on delete, and iSCSI exports through tgt or LIO.
 *
 * @example
 * ```ts
 * import { createLvmDriver } from "volkit/drivers/lvm";
 * const backend = createLvmDriver({ driver: "lvm", volumeGroup: "vg0", target: { helper: "lio" } })._unsafeUnwrap();
 * const vol = await backend.createVolume({ id: "vol-1", sizeGiB: 1 });
 * ```
 *
 * @packageDocumentation
 */
import { ok, type Result } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import { createLocalRunner } from "../../exec/local-runner.js";
import type { CommandRunner } from "../../exec/runner.js";
import { createTargetHelper } from "../../targets/index.js";
import type { TargetHelper } from "../../targets/target-helper.js";
import { VolumeBackend, type BackendOptions } from "../backend.js";
import { LvmConfigSchema, type LvmConfig } from "./lvm-config.js";
import { LvmDriver } from "./lvm-driver.js";

export { LvmConfigSchema, type LvmConfig, type ParsedLvmConfig } from "./lvm-config.js";
export { LvmDriver, type LvmDriverDeps } from "./lvm-driver.js";
export { LvmClient } from "./lvm-client.js";
export * from "./lvm-parsers.js";
export * from "./lvm-names.js";

/** Options for {@link createLvmDriver}. */
export interface CreateLvmDriverOptions extends BackendOptions {
  /** Runner for lvm2 and the target tools (default: local, with the config's `rootHelper`). */
  readonly runner?: CommandRunner;
}

/**
 * Validates `config` and builds the LVM driver inside the volkit runtime.
 * Fails with `INVALID_CONFIG` naming every bad field.
 */
export function createLvmDriver(config: LvmConfig, options: CreateLvmDriverOptions = {}): Result<VolumeBackend, VolkitError> {
  return validate(LvmConfigSchema, config, "LVM driver config", "INVALID_CONFIG").andThen((parsed) => {
    const runner = options.runner ?? createLocalRunner(parsed.rootHelper ? { rootHelper: parsed.rootHelper } : {});
    const target = parsed.target ? createTargetHelper(parsed.target, runner) : undefined;
    const build = (t: TargetHelper | undefined): VolumeBackend =>
      new VolumeBackend(new LvmDriver(parsed, { runner, target: t }), { name: parsed.backendName ?? `lvm-${parsed.volumeGroup}`, ...options });
    return target === undefined ? ok(build(undefined)) : target.map(build);
  });
}
export * from "../../targets/index.js";
