import { ResultAsync, errAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../core/errors.js";
import { validate } from "../core/validation.js";
import type { CommandRunner } from "../exec/runner.js";
import type { BackendOptions, VolumeBackend } from "./backend.js";
import { LvmConfigSchema } from "./lvm/lvm-config.js";
import { NfsConfigSchema } from "./nfs/nfs-config.js";

/**
 * Config of any built-in driver, discriminated on `driver`. New drivers add a member here.
 * Driver code is loaded lazily, so importing the core does not load every driver.
 */
export const DriverConfigSchema = z.discriminatedUnion("driver", [LvmConfigSchema, NfsConfigSchema]);
/** Config accepted by {@link createDriver}. */
export type DriverConfig = z.input<typeof DriverConfigSchema>;
/** Names of the built-in drivers. */
export type DriverName = DriverConfig["driver"];

/** Each built-in driver's config schema, by name. */
export const driverConfigSchemas = { lvm: LvmConfigSchema, nfs: NfsConfigSchema } as const satisfies Record<DriverName, z.ZodType>;

/** Options for {@link createDriver}. */
export interface CreateDriverOptions extends BackendOptions {
  /** Runner for the driver's commands (default: local with the config's `rootHelper`). */
  readonly runner?: CommandRunner;
}

/**
 * Validates `config` (`INVALID_CONFIG` naming each bad field, nothing else happens) and builds
 * the chosen driver inside the volkit runtime.
 *
 * @example
 * ```ts
 * const backend = await createDriver({ driver: "lvm", volumeGroup: "vg0" });
 * if (backend.isOk()) await backend.value.createVolume({ id: "v1", sizeGiB: 1 });
 * ```
 */
export function createDriver(config: DriverConfig, options: CreateDriverOptions = {}): ResultAsync<VolumeBackend, VolkitError> {
  return validate(DriverConfigSchema, config, "driver config", "INVALID_CONFIG").asyncAndThen((parsed) => {
    switch (config.driver) {
      case "lvm":
        return ResultAsync.fromPromise(import("./lvm/index.js"), (e) => new VolkitError("INTERNAL", "cannot load the LVM driver", { cause: e })).andThen((m) =>
          m.createLvmDriver(config, options),
        );
      case "nfs":
        return ResultAsync.fromPromise(import("./nfs/index.js"), (e) => new VolkitError("INTERNAL", "cannot load the NFS driver", { cause: e })).andThen((m) =>
          m.createNfsDriver(config, options),
        );
      default:
        return errAsync(new VolkitError("INVALID_CONFIG", `unknown driver ${String(parsed.driver)}`));
    }
  });
}

/**
 * JSON Schema (draft 2020-12) of a driver's config, for a panel to render a form. Describes the
 * input form: fields with defaults are optional.
 */
export function driverConfigJsonSchema(driver: DriverName): Record<string, unknown> {
  return z.toJSONSchema(driverConfigSchemas[driver], { io: "input", unrepresentable: "any" });
}
