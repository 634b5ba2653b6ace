import { ok, type Result } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import { createLocalRunner } from "../../exec/local-runner.js";
import { createTargetHelper } from "../../targets/index.js";
import type { DriverDeps } from "../driver-definition.js";
import type { ParsedLvmConfig } from "./lvm-config.js";
import { LvmDriver } from "./lvm-driver.js";

/**
 * Builds the LVM driver from a parsed config: the runner (local with the config's root helper
 * unless one is given) and the target helper the config names. Loaded lazily by the registry.
 */
export function buildLvmDriver(config: ParsedLvmConfig, deps: DriverDeps = {}): Result<LvmDriver, VolkitError> {
  const runner = deps.runner ?? createLocalRunner(config.rootHelper ? { rootHelper: config.rootHelper } : {});
  const target = config.target ? createTargetHelper(config.target, runner).map((t) => t) : ok(undefined);
  return target.map((t) => new LvmDriver(config, { runner, target: t }));
}
