import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { VolkitError } from "../core/errors.js";
import type { Logger } from "../core/events.js";
import { FileLocks, type LockBackend } from "../core/locks.js";
import type { ConnectorSource } from "../connectors/connector.js";
import type { DriverDefinition } from "../drivers/driver-definition.js";
import type { CommandRunner } from "../exec/runner.js";
import type { HostFs } from "../host/host-fs.js";
import type { ServiceStore } from "../service/store/store.js";
import type { ServiceQosSpecsConfig, ServiceVolumeTypeConfig, VolumeServiceConfig } from "../service/service-config.js";
import type { ServiceBackupRepositoryConfig } from "../service/backup-repositories.js";
import { createVolumeService } from "../service/open-service.js";
import type { VolumeService } from "../service/volume-service.js";
import type { CliConfig, LoadedConfig } from "./config.js";
import { VolumeServiceAdapter } from "./service-adapter.js";
import type { ServiceFactory, ServiceHandle } from "./service-like.js";

/**
 * Binds the CLI to the volume service: the config file's sections become a `VolumeServiceConfig`
 * (backends keyed by name → a list, types with inline QoS → types plus QoS specs named after them),
 * the service opens on the config's store with this host's runner, and {@link VolumeServiceAdapter}
 * answers the CLI's {@link ServiceLike} calls. Each command opens the service and closes it when it
 * ends, so the service is opened without its reconcile-on-open: repairing is the operator's
 * explicit `volkit reconcile`.
 */

/** Where lock files live when the store is not a SQLite file (PostgreSQL, memory). */
export const DEFAULT_LOCK_DIRECTORY = "/run/volkit/locks";

/** What the binding is built with; tests replace the drivers, this host's connectors and the store. */
export interface ServiceBindingDeps {
  /** The runner commands go through, from the config's root helper. */
  readonly runner: (rootHelper: readonly string[] | undefined) => CommandRunner;
  /** This host's connectors (default: built by the service from `host.connectors`). */
  readonly host?: ConnectorSource;
  /** Drivers to know besides the registry. */
  readonly drivers?: readonly DriverDefinition[];
  /** A store opened by the caller (default: the config's store, opened per command). */
  readonly store?: ServiceStore;
  /** Per-volume locks (default: lock files beside the SQLite store, so two `volkit` processes do not collide). */
  readonly locks?: LockBackend;
  /** Logger. */
  readonly logger?: Logger;
  /** Where `host cleanup` reads /sys (default: this machine's). */
  readonly hostFs?: HostFs;
}

/** The service configuration a CLI config describes (validated by the service when it opens). */
export function serviceConfigFor(config: CliConfig): VolumeServiceConfig {
  const qosSpecs: ServiceQosSpecsConfig[] = [];
  const volumeTypes: ServiceVolumeTypeConfig[] = [];
  for (const [name, type] of Object.entries(config.types)) {
    // A type's inline QoS becomes QoS specs of the same name (another table, so no clash).
    if (type.qos !== undefined) qosSpecs.push({ name, consumer: type.qos.consumer, specs: type.qos.specs });
    volumeTypes.push({
      name,
      extraSpecs: type.extraSpecs,
      ...(type.description === undefined ? {} : { description: type.description }),
      ...(type.qos === undefined ? {} : { qosSpecs: name }),
    });
  }
  const connectors = Object.fromEntries(Object.entries(config.host.connectors).filter(([, v]) => v !== undefined));
  return {
    backends: Object.entries(config.backends).map(([name, backend]) => ({ name, config: backend })),
    volumeTypes,
    qosSpecs,
    store: config.store,
    host: { ...(config.host.hostName === undefined ? {} : { hostName: config.host.hostName }), connectors },
    backupRepositories: Object.entries(config.backupRepositories).map(([name, repo]) => ({ ...repo, name }) as ServiceBackupRepositoryConfig),
    reconcileOnOpen: false,
    // One command is short: the stats read at open is enough; the loop's timer never holds the process.
    statsIntervalMs: 3_600_000,
  };
}

/** The lock directory for a config: `locks/` beside a SQLite store, else {@link DEFAULT_LOCK_DIRECTORY}. */
export function lockDirectoryFor(config: CliConfig): string {
  return config.store.kind === "sqlite" && config.store.path !== ":memory:" ? join(dirname(config.store.path), "locks") : DEFAULT_LOCK_DIRECTORY;
}

/** Creates the SQLite store's directory (`/var/lib/volkit`) on first use. */
function prepareStoreDirectory(config: CliConfig): ResultAsync<void, VolkitError> {
  if (config.store.kind !== "sqlite" || config.store.path === ":memory:") return okAsync(undefined);
  const dir = dirname(config.store.path);
  return ResultAsync.fromPromise(mkdir(dir, { recursive: true }), (e) =>
    new VolkitError("INVALID_CONFIG", `cannot create the store directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? "error"}`, { source: "cli", details: { path: dir } }),
  ).map(() => undefined);
}

/** Marks the config's private types (`isPublic: false`): the service's type sync leaves that field alone. */
function applyTypeVisibility(service: VolumeService, config: CliConfig): ResultAsync<void, VolkitError> {
  const hidden = Object.entries(config.types).filter(([, t]) => !t.isPublic);
  return hidden.reduce<ResultAsync<void, VolkitError>>((chain, [name]) => chain.andThen(() => service.store.volumeTypes.update(name, { isPublic: false }).map(() => undefined)), okAsync(undefined));
}

/** Opens the service for one command from the loaded config. */
export function openServiceHandle(loaded: LoadedConfig, deps: ServiceBindingDeps, signal?: AbortSignal): ResultAsync<ServiceHandle, VolkitError> {
  const { config } = loaded;
  if (Object.keys(config.backends).length === 0) {
    const where = loaded.path ?? "(no config file found: --config, $VOLKIT_CONFIG, ./volkit.yaml, /etc/volkit/volkit.yaml)";
    return errAsync(new VolkitError("INVALID_CONFIG", `the volume service needs at least one backend; ${where} has none`, { source: "cli", details: { path: loaded.path ?? null } }));
  }
  if (signal?.aborted === true) return errAsync(new VolkitError("ABORTED", "cancelled before the service opened", { source: "cli" }));
  const locks = deps.locks ?? new FileLocks({ directory: lockDirectoryFor(config) });
  return (deps.store === undefined ? prepareStoreDirectory(config) : okAsync(undefined))
    .andThen(() =>
      createVolumeService(serviceConfigFor(config), {
        runner: deps.runner(config.host.rootHelper),
        locks,
        ...(deps.host === undefined ? {} : { host: deps.host }),
        ...(deps.drivers === undefined ? {} : { drivers: deps.drivers }),
        ...(deps.store === undefined ? {} : { store: deps.store }),
        ...(deps.logger === undefined ? {} : { logger: deps.logger }),
      }),
    )
    .andThen((service) =>
      applyTypeVisibility(service, config)
        .map((): ServiceHandle => ({ service: new VolumeServiceAdapter(service, { configTypes: Object.keys(config.types), ...(deps.hostFs === undefined ? {} : { hostFs: deps.hostFs }) }), close: () => service.close() }))
        .orElse((e) => service.close().orElse(() => okAsync(undefined)).andThen(() => errAsync(e))),
    );
}

/** The {@link ServiceFactory} `main.ts` hands to the CLI. */
export function createServiceFactory(deps: ServiceBindingDeps): ServiceFactory {
  return (loaded, options) => openServiceHandle(loaded, deps, options.signal);
}
