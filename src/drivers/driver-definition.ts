import { ResultAsync, type Result } from "neverthrow";
import type { z } from "zod";
import { VolkitError } from "../core/errors.js";
import type { CommandRunner } from "../exec/runner.js";
import type { MountManager } from "../remotefs/mount-manager.js";
import type { VolumeDriver } from "./volume-driver.js";

/**
 * How a driver presents itself to the registry (`createBackend`, `driverConfigJsonSchema`): its
 * name, config schema and factory. Built-in drivers and third-party drivers use the same shape.
 */

/** A driver config: an object whose `driver` names the driver. */
export type DriverConfigSchemaLike = z.ZodType<{ readonly driver: string; readonly backendName?: string | undefined }>;

/** What a driver's factory receives besides its parsed config. */
export interface DriverDeps {
  /** Runner for the driver's commands (default: the driver's own choice, usually local with its root helper). */
  readonly runner?: CommandRunner | undefined;
  /**
   * The process's mount manager for network file systems; share one between the NFS driver and the
   * NFS connector so both count references on the same mounts (default: the driver builds its own).
   */
  readonly mounts?: MountManager | undefined;
}

/**
 * A driver as the registry knows it: its name, its config schema (zod, with titles and
 * descriptions via `.meta()` so the JSON Schema carries labels and help), and a factory. Built-in
 * drivers load their code lazily, so importing volkit loads none of them.
 */
export interface DriverDefinition<S extends DriverConfigSchemaLike = DriverConfigSchemaLike> {
  /** The `driver` value of its configs (`lvm`, `nfs`, `acme-san`). */
  readonly name: string;
  /** Human-readable title for a panel. */
  readonly title: string;
  /** One-line description for a panel. */
  readonly description: string;
  /** Config schema; its `driver` field must be `z.literal(name)`. */
  readonly configSchema: S;
  /** Backend name when the config gives none (default: the driver name). */
  readonly defaultBackendName?: (config: z.output<S>) => string;
  /** Builds the driver from a parsed config (a sync Result or a ResultAsync, e.g. after a dynamic import). */
  readonly create: (config: z.output<S>, deps: DriverDeps) => Result<VolumeDriver, VolkitError> | ResultAsync<VolumeDriver, VolkitError>;
}

/**
 * Types a driver definition (an identity function, like unstorage's `defineDriver`): the config
 * type flows from the schema into `create`. Register it with {@link registerDriver} or pass it to
 * `createBackend` in `options.drivers`.
 *
 * @example
 * ```ts
 * export const acmeDriver = defineDriver({
 *   name: "acme",
 *   title: "ACME array",
 *   description: "Volumes on an ACME array over iSCSI",
 *   configSchema: z.object({ driver: z.literal("acme"), url: z.url().meta({ title: "REST URL" }) }),
 *   create: (config) => ok(new AcmeDriver(config)),
 * });
 * registerDriver(acmeDriver)._unsafeUnwrap();
 * const backend = await createBackend({ driver: "acme", url: "https://array.example" });
 * ```
 */
export function defineDriver<S extends DriverConfigSchemaLike>(definition: DriverDefinition<S>): DriverDefinition<S> {
  return definition;
}

/** Loads a module lazily for a built-in driver's factory, as a typed error when it cannot load. */
export function loadDriverModule<M>(load: () => Promise<M>, what: string): ResultAsync<M, VolkitError> {
  return ResultAsync.fromPromise(load(), (e) => new VolkitError("INTERNAL", `cannot load the ${what}`, { cause: e, source: "registry" }));
}
