import { createHash } from "node:crypto";
import { ResultAsync, err, errAsync, ok, okAsync, type Result } from "neverthrow";
import { VolkitError } from "../core/errors.js";
import type { EventBus, Logger } from "../core/events.js";
import type { LockBackend } from "../core/locks.js";
import { validate } from "../core/validation.js";
import { Host } from "../attach/host.js";
import type { ConnectorSource } from "../connectors/connector.js";
import type { MountManager } from "../remotefs/mount-manager.js";
import type { VolumeBackend } from "../drivers/backend.js";
import type { DriverDefinition } from "../drivers/driver-definition.js";
import { createBackend, driverDefinition } from "../drivers/registry.js";
import type { CommandRunner } from "../exec/runner.js";
import type { JsonObject } from "./records/record-fields.js";
import type { Scheduler } from "./scheduler/scheduler.js";
import { backendStatsOf } from "./scheduler/pool-stats.js";
import type { ParsedVolumeServiceConfig } from "./service-config.js";
import type { ServiceStore } from "./store/store.js";

/** One configured backend. */
export interface ServiceBackend {
  /** Its name (`volume_backend_name`). */
  readonly name: string;
  /** Zone it serves, as configured. */
  readonly availabilityZone: string | undefined;
  /** The runtime the service calls. */
  readonly backend: VolumeBackend;
  /** The driver's name. */
  readonly driver: string;
  /** sha256 of the validated config (never the config: it may hold secrets). */
  readonly configHash: string;
}

/** What building backends needs besides their configs. */
export interface BackendSetDeps {
  /** Runner for driver commands. */
  readonly runner?: CommandRunner | undefined;
  /** This machine (drivers reach volume bytes through it). */
  readonly host: ConnectorSource;
  /** Shared low-level event bus. */
  readonly events: EventBus;
  /** Logger. */
  readonly logger?: Logger | undefined;
  /** Lock backend shared by the backends. */
  readonly locks?: LockBackend | undefined;
  /** Extra driver definitions. */
  readonly drivers?: readonly DriverDefinition[] | undefined;
}

/**
 * Validates every backend's driver config against its registered driver's schema, without building
 * anything (`INVALID_CONFIG` naming the backend and the fields).
 */
export function checkBackendConfigs(config: ParsedVolumeServiceConfig, drivers: readonly DriverDefinition[] = []): Result<void, VolkitError> {
  for (const [i, entry] of config.backends.entries()) {
    const checked = driverDefinition(entry.config.driver, drivers).andThen((d) => validate(d.configSchema, entry.config, `backends[${i}].config (${entry.config.driver} driver config)`, "INVALID_CONFIG"));
    if (checked.isErr()) return err(checked.error);
  }
  return ok(undefined);
}

/**
 * The NFS driver and this host's NFS connector share one mount manager, so the driver's mounts and
 * the attaches' count references on the same mounts (a `Host` built by `createHost` has it).
 */
function sharedMounts(driver: string, host: ConnectorSource): ResultAsync<MountManager | undefined, VolkitError> {
  if (driver !== "nfs" || !(host instanceof Host)) return okAsync(undefined);
  return host.mountManager().map((m): MountManager | undefined => m);
}

/** The service's backends by name, and the stats loop that feeds the scheduler. */
export class BackendSet {
  readonly #byName: ReadonlyMap<string, ServiceBackend>;
  readonly #logger: Logger | undefined;

  private constructor(byName: ReadonlyMap<string, ServiceBackend>, logger: Logger | undefined) {
    this.#byName = byName;
    this.#logger = logger;
  }

  /** Builds every backend (drivers load; no command runs). */
  static build(config: ParsedVolumeServiceConfig, deps: BackendSetDeps): ResultAsync<BackendSet, VolkitError> {
    const made = config.backends.map((entry) =>
      sharedMounts(entry.config.driver, deps.host).andThen((mounts) =>
      createBackend(entry.config as { driver: string }, {
        ...(mounts === undefined ? {} : { mounts }),
        ...(entry.name === undefined ? {} : { name: entry.name }),
        ...(deps.runner === undefined ? {} : { runner: deps.runner }),
        ...(deps.logger === undefined ? {} : { logger: deps.logger }),
        ...(deps.locks === undefined ? {} : { locks: deps.locks }),
        ...(deps.drivers === undefined ? {} : { drivers: deps.drivers }),
        host: deps.host,
        events: deps.events,
      }).map(
        (backend): ServiceBackend => ({
          name: backend.name,
          availabilityZone: entry.availabilityZone,
          backend,
          driver: entry.config.driver,
          configHash: `sha256:${createHash("sha256").update(JSON.stringify(entry.config)).digest("hex")}`,
        }),
      ),
      ),
    );
    return ResultAsync.combine(made).andThen((list) => {
      const byName = new Map<string, ServiceBackend>();
      for (const b of list) {
        if (byName.has(b.name)) return errAsync(new VolkitError("INVALID_CONFIG", `two backends are named ${b.name}: give each a distinct name`, { source: "service", details: { backend: b.name } }));
        byName.set(b.name, b);
      }
      return okAsync(new BackendSet(byName, deps.logger));
    });
  }

  /** Every backend. */
  list(): readonly ServiceBackend[] {
    return [...this.#byName.values()];
  }

  /** The backend named `name`, or `INVALID_CONFIG` when it is not configured (any more). */
  backend(name: string): Result<VolumeBackend, VolkitError> {
    const b = this.#byName.get(name);
    if (b) return ok(b.backend);
    return err(new VolkitError("INVALID_CONFIG", `backend ${name} is not configured in this service (configured: ${[...this.#byName.keys()].join(", ")})`, { source: "service", details: { backend: name } }));
  }

  /** The entry of `name`. */
  entry(name: string): ServiceBackend | undefined {
    return this.#byName.get(name);
  }

  /**
   * Reads every backend's stats and hands them to the scheduler (taken-at = before the read, so a
   * volume committed meanwhile keeps counting on top), and records them with the backend's state.
   * A backend that does not answer is removed from the scheduler and recorded `down`; the refresh
   * itself never fails for one backend.
   */
  refreshStats(scheduler: Scheduler, store: ServiceStore): ResultAsync<{ readonly up: readonly string[]; readonly down: readonly string[] }, never> {
    const one = (b: ServiceBackend): ResultAsync<boolean, never> => {
      const takenAt = Date.now();
      return b.backend
        .getVolumeStats()
        .andThen((stats) => {
          const fed = scheduler.updateBackend(backendStatsOf(stats, b.availabilityZone, b.name), takenAt);
          if (fed.isErr()) return errAsync(fed.error);
          return this.#record(store, b, "up", stats as unknown as JsonObject).map(() => true);
        })
        .orElse((e) => {
          this.#logger?.warn({ backend: b.name, err: e.toJSON() }, "backend stats failed; backend is down for the scheduler");
          scheduler.removeBackend(b.name);
          return this.#record(store, b, "down", undefined)
            .orElse(() => okAsync(undefined))
            .map(() => false);
        });
    };
    const list = this.list();
    return ResultAsync.combine(list.map(one)).map((flags) => ({
      up: list.filter((_, i) => flags[i] === true).map((b) => b.name),
      down: list.filter((_, i) => flags[i] !== true).map((b) => b.name),
    }));
  }

  /** Upserts the backend's record. */
  #record(store: ServiceStore, b: ServiceBackend, state: "up" | "down", stats: JsonObject | undefined): ResultAsync<void, VolkitError> {
    const fields = {
      driver: b.driver,
      configHash: b.configHash,
      availabilityZone: b.availabilityZone,
      state,
      ...(stats === undefined ? {} : { lastStats: stats, statsUpdatedAt: new Date() }),
    };
    return store.backends.find(b.name).andThen((found) =>
      found === undefined
        ? store.backends
            .insert({ name: b.name, ...fields })
            .map(() => undefined)
            // Another process of the service inserted it first.
            .orElse((e) => (e.code === "CONFLICT" ? store.backends.update(b.name, fields).map(() => undefined) : errAsync(e)))
        : store.backends.update(b.name, fields).map(() => undefined),
    );
  }

  /** Releases every driver's resources. */
  close(): ResultAsync<void, VolkitError> {
    return ResultAsync.combine(this.list().map((b) => b.backend.close())).map(() => undefined);
  }
}
