import { ResultAsync, err, errAsync, ok, okAsync, type Result } from "neverthrow";
import { z } from "zod";
import { VolkitError, toVolkitError } from "../core/errors.js";
import { plainTextSchema, quoteForMessage, validate } from "../core/validation.js";
import { VolumeBackend, type BackendOptions } from "./backend.js";
import { BUILTIN_DRIVERS, type BuiltinDriverConfigs } from "./builtin-drivers.js";
import type { DriverConfigSchemaLike, DriverDefinition, DriverDeps } from "./driver-definition.js";
import type { VolumeDriver } from "./volume-driver.js";

/**
 * The driver registry: `createBackend` and `driverConfigJsonSchema` know every built-in driver and
 * every driver a package registers with {@link registerDriver}, so a panel renders a third-party
 * driver's form like a built-in one.
 */

/**
 * Config types of the registered drivers, by name. A driver package adds its own by declaration
 * merging, so `createBackend` type-checks its configs too:
 *
 * ```ts
 * declare module "volkit" { interface DriverConfigs { acme: z.input<typeof AcmeConfigSchema> } }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- extended by declaration merging in driver packages
export interface DriverConfigs extends BuiltinDriverConfigs {}

/** Config accepted by `createBackend`: any registered driver's. */
export type DriverConfig = DriverConfigs[keyof DriverConfigs];
/** Names of the registered drivers. */
export type DriverName = Extract<keyof DriverConfigs, string>;

const registry = new Map<string, DriverDefinition>(BUILTIN_DRIVERS.map((d) => [d.name, d]));

/**
 * Adds a driver to the registry `createBackend` and `driverConfigJsonSchema` use. Registering the
 * same definition again is a no-op; another definition under a taken name is `INVALID_CONFIG`.
 */
export function registerDriver<S extends DriverConfigSchemaLike>(definition: DriverDefinition<S>): Result<void, VolkitError> {
  const known = registry.get(definition.name);
  if (known && known !== (definition as unknown as DriverDefinition)) {
    return err(new VolkitError("INVALID_CONFIG", `a driver named ${definition.name} is already registered`, { source: "registry" }));
  }
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(definition.name)) {
    return err(new VolkitError("INVALID_CONFIG", `driver name ${JSON.stringify(definition.name)} must be 1-32 of lower-case letters, digits and '-'`, { source: "registry" }));
  }
  registry.set(definition.name, definition);
  return ok(undefined);
}

/** Every registered driver (built-ins first), for a panel's "add backend" list. */
export function listDrivers(): readonly DriverDefinition[] {
  return [...registry.values()];
}

/** The registered definition of `name`, or `INVALID_CONFIG`. */
export function driverDefinition(name: string, extra: readonly DriverDefinition[] = []): Result<DriverDefinition, VolkitError> {
  const found = extra.find((d) => d.name === name) ?? registry.get(name);
  if (found) return ok(found);
  const known = [...new Set([...extra.map((d) => d.name), ...registry.keys()])].sort();
  return err(new VolkitError("INVALID_CONFIG", `unknown driver ${quoteForMessage(name)} (registered: ${known.join(", ")})`, { source: "registry", details: { known } }));
}

/** Options for `createBackend`. */
export interface CreateBackendOptions extends BackendOptions, DriverDeps {
  /** Drivers to know for this call only, besides the registry. */
  readonly drivers?: readonly DriverDefinition[];
}

/**
 * Validates `config` against its driver's schema (`INVALID_CONFIG` naming each bad field; nothing
 * else happens), builds the driver and returns it inside the volkit runtime: the
 * {@link VolumeBackend} callers use. No command runs until the first operation.
 *
 * @example
 * ```ts
 * const backend = await createBackend({ driver: "lvm", volumeGroup: "vg0", target: { helper: "lio" } });
 * if (backend.isOk()) await backend.value.createVolume({ id: "v1", sizeGiB: 1 });
 * ```
 */
export function createBackend(config: DriverConfig | { readonly driver: string }, options: CreateBackendOptions = {}): ResultAsync<VolumeBackend, VolkitError> {
  const name = typeof config === "object" && config !== null && typeof (config as { driver?: unknown }).driver === "string" ? (config as { driver: string }).driver : undefined;
  if (name === undefined) return errAsync(new VolkitError("INVALID_CONFIG", "invalid driver config: driver: must name a driver", { source: "registry" }));
  // The backend name reaches events, logs and error sources: one line of plain text.
  const backendName = options.name === undefined ? ok(undefined) : validate(plainTextSchema(), options.name, "backend name", "INVALID_CONFIG");
  if (backendName.isErr()) return errAsync(backendName.error);
  return driverDefinition(name, options.drivers).asyncAndThen((definition) =>
    validate(definition.configSchema, config, `${name} driver config`, "INVALID_CONFIG").asyncAndThen((parsed) => {
      const deps: DriverDeps = { runner: options.runner };
      const built = guardCreate(() => definition.create(parsed, deps), name);
      return built.map(
        (driver) =>
          new VolumeBackend(driver, {
            ...options,
            name: options.name ?? parsed.backendName ?? definition.defaultBackendName?.(parsed) ?? definition.name,
          }),
      );
    }),
  );
}

function guardCreate(create: () => Result<VolumeDriver, VolkitError> | ResultAsync<VolumeDriver, VolkitError>, name: string): ResultAsync<VolumeDriver, VolkitError> {
  try {
    const made = create();
    return made instanceof ResultAsync ? made.mapErr((e) => toVolkitError(e, "INTERNAL", name)) : made.isOk() ? okAsync(made.value) : errAsync(made.error);
  } catch (e) {
    return errAsync(toVolkitError(e, "INTERNAL", name));
  }
}

/**
 * JSON Schema (draft 2020-12) of a driver's config, for a panel to render a form with the schema's
 * titles and descriptions. Describes the input form: fields with defaults are optional.
 */
export function driverConfigJsonSchema(name: string, extra: readonly DriverDefinition[] = []): Result<Record<string, unknown>, VolkitError> {
  return driverDefinition(name, extra).map((d) => ({
    title: d.title,
    description: d.description,
    ...z.toJSONSchema(d.configSchema, { io: "input", unrepresentable: "any" }),
  }));
}

