/**
 * The LVM volume driver (`volkit/drivers/lvm`): thick and thin LVs, snapshots, clones, revert,
 * extend, wipe on delete, and iSCSI exports through tgt or LIO. Most callers only need
 * `createBackend({ driver: "lvm", … })` from `volkit`; this entry point is for tests, custom
 * wiring (your own runner or target helper) and the parsers.
 *
 * @example
 * ```ts
 * import { wrapDriver } from "volkit";
 * import { createLvmDriver } from "volkit/drivers/lvm";
 * const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: "vg0", target: { helper: "lio" } })._unsafeUnwrap());
 * const vol = await backend.createVolume({ id: "vol-1", sizeGiB: 1 });
 * ```
 *
 * @packageDocumentation
 */
import type { Result } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import type { DriverDeps } from "../driver-definition.js";
import { LvmConfigSchema, type LvmConfig } from "./lvm-config.js";
import type { LvmDriver } from "./lvm-driver.js";
import { buildLvmDriver } from "./lvm-factory.js";

export { LvmConfigSchema, type LvmConfig, type ParsedLvmConfig } from "./lvm-config.js";
export { LvmDriver, type LvmDriverDeps } from "./lvm-driver.js";
export { LvmClient } from "./lvm-client.js";
export { checkFits, poolStatsOf, resolveMode, thinPoolName, type LvmMode } from "./lvm-pool.js";
export { lvmDriverDefinition } from "../builtin-drivers.js";
export * from "./lvm-parsers.js";
export * from "./lvm-names.js";
export * from "../../targets/index.js";

/**
 * Validates `config` (`INVALID_CONFIG` naming every bad field) and builds the LVM driver; wrap it
 * with `wrapDriver` (or use `createBackend`, which does both).
 */
export function createLvmDriver(config: LvmConfig, deps: DriverDeps = {}): Result<LvmDriver, VolkitError> {
  return validate(LvmConfigSchema, config, "LVM driver config", "INVALID_CONFIG").andThen((parsed) => buildLvmDriver(parsed, deps));
}
