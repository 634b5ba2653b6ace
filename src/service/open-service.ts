import { hostname } from "node:os";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { createHost } from "../attach/host.js";
import type { VolkitError } from "../core/errors.js";
import { EventBus, type Logger, silentLogger } from "../core/events.js";
import { InProcessLocks, type LockBackend } from "../core/locks.js";
import type { Protocol } from "../core/records.js";
import { validate } from "../core/validation.js";
import type { ConnectorSource } from "../connectors/connector.js";
import type { DriverDefinition } from "../drivers/driver-definition.js";
import { createLocalRunner } from "../exec/local-runner.js";
import type { CommandRunner } from "../exec/runner.js";
import { BackendSet, checkBackendConfigs } from "./backend-set.js";
import type { RepositoryOpener } from "./backup-repositories.js";
import { newOwner, ownerClosed, ownerOpened } from "./recovery/owners.js";
import { reconcileOp } from "./recovery/reconcile.js";
import type { ReconcileReport } from "./recovery/recovery-report.js";
import { Scheduler } from "./scheduler/scheduler.js";
import { VolumeServiceConfigSchema, type ParsedVolumeServiceConfig, type VolumeServiceConfig } from "./service-config.js";
import type { ServiceContext } from "./service-context.js";
import { ServiceEventBus } from "./service-events.js";
import { openStore } from "./store/open-store.js";
import type { ServiceStore } from "./store/store.js";
import { TypeCatalog } from "./type-catalog.js";
import { VolumeService } from "./volume-service.js";

/**
 * Opening a volume service: config validation, the store, the backends, this host's connectors,
 * the configured types, first stats and the reconcile of interrupted operations.
 */

/** What a service is built with besides its config (all optional: defaults are this machine's). */
export interface VolumeServiceDeps {
  /** Runner for every command (drivers, connectors, checksums, copies); default: the local runner. */
  readonly runner?: CommandRunner;
  /** This machine's connectors (default: `createHost(config.host)` with the runner). Tests pass `createHost({ use: { local: fake } })`. */
  readonly host?: ConnectorSource;
  /** Drivers to know besides the registry (e.g. a test's in-memory driver). */
  readonly drivers?: readonly DriverDefinition[];
  /** A store the caller opened (instead of `config.store`); the service does not close it. */
  readonly store?: ServiceStore;
  /** Logger (pino-compatible). */
  readonly logger?: Logger;
  /** Lock backend for the backends (default in-process; `FileLocks` when several processes drive one host). */
  readonly locks?: LockBackend;
  /** Opens the configured backup repositories (default: `openRepository`; tests inject faults with it). */
  readonly openRepository?: RepositoryOpener;
}



/** The host name attachments are recorded under: the configured one, else what this host's first connector reports. */
function resolveHostName(config: ParsedVolumeServiceConfig, host: ConnectorSource, protocols: readonly Protocol[]): ResultAsync<string, never> {
  if (config.host.hostName !== undefined) return okAsync(config.host.hostName);
  const first = protocols[0];
  if (first === undefined) return okAsync(hostname());
  return host
    .connector(first)
    .andThen((c) => c.getHostProperties())
    .map((p) => p.host)
    .orElse(() => okAsync(hostname()));
}

/**
 * Opens a volume service: validates the whole config (every backend's driver config against its
 * registered driver; nothing runs when it is invalid: `INVALID_CONFIG`), opens (and migrates) the
 * store, builds the backends and this host's connectors, writes the configured volume types and
 * QoS specs, reads every backend's stats for the scheduler (a backend that does not answer is
 * `down`, not fatal), reconciles interrupted operations (unless `reconcileOnOpen` is false) and
 * starts the stats loop.
 *
 * @example
 * ```ts
 * const service = await createVolumeService({
 *   backends: [{ name: "fast", config: { driver: "lvm", volumeGroup: "vg0", target: { helper: "lio" } } }],
 *   volumeTypes: [{ name: "ssd", extraSpecs: { volume_backend_name: "fast" } }],
 *   store: { kind: "sqlite", path: "/var/lib/volkit/service.db" },
 * });
 * if (service.isOk()) {
 *   const v = await service.value.createVolume({ sizeGiB: 10, volumeType: "ssd" });
 * }
 * ```
 */
export function createVolumeService(config: VolumeServiceConfig, deps: VolumeServiceDeps = {}): ResultAsync<VolumeService, VolkitError> {
  const parsed = validate(VolumeServiceConfigSchema, config, "volume service config", "INVALID_CONFIG").andThen((c) => checkBackendConfigs(c, deps.drivers).map(() => c));
  if (parsed.isErr()) return errAsync(parsed.error);
  const cfg = parsed.value;
  const runner = deps.runner ?? createLocalRunner();
  const logger = deps.logger ?? silentLogger;
  const operations = new EventBus();
  const host =
    deps.host ??
    createHost({
      runner,
      logger,
      events: operations,
      ...(cfg.host.hostName === undefined ? {} : { hostName: cfg.host.hostName }),
      connectors: cfg.host.connectors as never,
      ...(deps.locks === undefined ? {} : { locks: deps.locks }),
    });
  const store = deps.store === undefined ? openStore(cfg.store) : okAsync(deps.store);
  return store.andThen((opened) => {
    const abandon = (e: VolkitError): ResultAsync<never, VolkitError> => (deps.store === undefined ? opened.close().orElse(() => okAsync(undefined)) : okAsync(undefined)).andThen(() => errAsync(e));
    return BackendSet.build(cfg, { runner, host, events: operations, logger, locks: deps.locks, drivers: deps.drivers })
      .andThen((backends) => {
        const protocols = [...new Set(backends.list().map((b) => b.backend.capabilities.protocol))];
        // Build each protocol's connector now: its config is validated before anything runs.
        return ResultAsync.combine(protocols.map((p) => host.connector(p)))
          .andThen(() => resolveHostName(cfg, host, protocols))
          .andThen((hostName) => {
            const owner = newOwner(hostName);
            const sc: ServiceContext = {
              config: cfg,
              store: opened,
              backends,
              scheduler: new Scheduler({ defaultAvailabilityZone: cfg.scheduler.defaultAvailabilityZone, ...(cfg.scheduler.weighers === undefined ? {} : { weighers: cfg.scheduler.weighers.map((w) => ({ weigher: w.weigher, ...(w.multiplier === undefined ? {} : { multiplier: w.multiplier }) })) }) }),
              types: new TypeCatalog(opened, cfg.defaultVolumeType),
              host,
              events: new ServiceEventBus(),
              operations,
              runner,
              logger,
              locks: new InProcessLocks(),
              owner,
              hostName,
              running: new Set(),
              ...(deps.openRepository === undefined ? {} : { openRepository: deps.openRepository }),
            };
            ownerOpened(owner);
            return sc.types
              .sync(cfg)
              .andThen(() => backends.refreshStats(sc.scheduler, opened))
              .andThen(() => (cfg.reconcileOnOpen ? reconcileOp(sc).map((r): ReconcileReport | undefined => r) : okAsync(undefined)))
              .map((report) => {
                const service = new VolumeService(sc, deps.store === undefined, report);
                service.startStatsLoop();
                return service;
              })
              .orElse((e) => {
                ownerClosed(owner);
                return backends
                  .close()
                  .orElse(() => okAsync(undefined))
                  .andThen(() => errAsync(e));
              });
          });
      })
      .orElse(abandon);
  });
}
