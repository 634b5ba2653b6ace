import { err, errAsync, ok, ResultAsync, type Result } from "neverthrow";
import { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import { consumed, gib, isThin } from "./capacity.js";
import { DEFAULT_FILTERS, driverFilter, type DriverFilterFunction, type Filter, type PlacementRequest } from "./filters.js";
import { BackendStatsSchema, type BackendStats, type BackendStatsInput, type PoolRef, type PoolState } from "./pool-stats.js";
import { DEFAULT_WEIGHERS, weighPools, type WeighedPool, type WeigherConfig } from "./weighers.js";

/**
 * Placement of volumes on pools, with Cinder's semantics: filter every `backend#pool`, weigh the
 * survivors, take the best, and "consume" it in the scheduler's copy of the stats so the next
 * placement sees it. Unlike Cinder, when nothing fits the error names every pool and the filter
 * that rejected it, with the numbers.
 */

/** Scheduler settings. */
export interface SchedulerOptions {
  /** Weighers and multipliers (default: `CapacityWeigher` × 1.0). */
  readonly weighers?: readonly WeigherConfig[];
  /** Zone of backends that report none (Cinder's `storage_availability_zone`, default `nova`). */
  readonly defaultAvailabilityZone?: string;
  /** Driver filter functions by backend name (Cinder's DriverFilter); the filter runs only when given. */
  readonly driverFilters?: Readonly<Record<string, DriverFilterFunction>>;
  /** The filter chain, replacing the default (advanced). */
  readonly filters?: readonly Filter[];
  /** How long an in-flight placement counts against its pool without `commit`/`release` (default 10 min). */
  readonly inFlightTtlMs?: number;
}

/** Why a pool was not a candidate. */
export interface Rejection {
  /** `backend#pool`. */
  readonly pool: PoolRef;
  /** The filter that rejected it. */
  readonly filter: string;
  /** Why, with the numbers. */
  readonly reason: string;
  /** The numbers. */
  readonly details: Readonly<Record<string, number | string>>;
}

/** Every pool's fate for one request. */
export interface Evaluation {
  /** Pools that passed every filter, best first. */
  readonly candidates: readonly WeighedPool[];
  /** Pools that did not, with the first filter that refused each. */
  readonly rejections: readonly Rejection[];
}

/** The filter chain for `options`. */
function filtersFor(options: SchedulerOptions): readonly Filter[] {
  const base = options.filters ?? DEFAULT_FILTERS;
  return options.driverFilters === undefined ? base : [...base, driverFilter(options.driverFilters)];
}

/**
 * Filters and weighs `pools` for `request` (pure).
 *
 * @example
 * ```ts
 * const { candidates, rejections } = evaluatePools(scheduler.pools(), { sizeGiB: 100 });
 * ```
 */
export function evaluatePools(pools: readonly PoolState[], request: PlacementRequest, options: SchedulerOptions = {}): Evaluation {
  const filters = filtersFor(options);
  const passed: PoolState[] = [];
  const rejections: Rejection[] = [];
  for (const pool of pools) {
    let rejected = false;
    for (const f of filters) {
      const v = f.verdict(pool, request);
      if (!v.pass) {
        rejections.push({ pool: pool.ref, filter: f.name, reason: v.reason, details: v.details });
        rejected = true;
        break;
      }
    }
    if (!rejected) passed.push(pool);
  }
  return { candidates: weighPools(passed, request, options.weighers ?? DEFAULT_WEIGHERS), rejections };
}

/** `NO_VALID_BACKEND` naming each pool and why it was refused. */
export function noValidBackendError(request: PlacementRequest, rejections: readonly Rejection[]): VolkitError {
  const what = `${request.volumeId === undefined ? "" : `volume ${request.volumeId} `}(${gib(request.sizeGiB)} GiB)`;
  const why = rejections.length === 0 ? "no backend has reported pool stats" : rejections.map((r) => `${r.pool}: ${r.reason}`).join("; ");
  return new VolkitError("NO_VALID_BACKEND", `no valid backend for ${what}: ${why}`, {
    source: "scheduler",
    details: { sizeGiB: request.sizeGiB, rejections: rejections.map((r) => ({ pool: r.pool, filter: r.filter, reason: r.reason, ...r.details })) },
  });
}

/**
 * Picks the best pool for `request` (pure): the top candidate, or `NO_VALID_BACKEND`.
 */
export function schedule(pools: readonly PoolState[], request: PlacementRequest, options: SchedulerOptions = {}): Result<WeighedPool, VolkitError> {
  const { candidates, rejections } = evaluatePools(pools, request, options);
  const best = candidates[0];
  return best === undefined ? err(noValidBackendError(request, rejections)) : ok(best);
}

/** Scheduling units of a backend's stats. */
export function poolStates(stats: BackendStats, defaultAvailabilityZone = "nova"): PoolState[] {
  const { pools, ...header } = stats;
  return pools.map((p) => {
    const allocated = p.allocatedCapacityGiB ?? 0;
    return {
      ref: `${stats.backendName}#${p.poolName}`,
      backend: stats.backendName,
      availabilityZone: stats.availabilityZone ?? defaultAvailabilityZone,
      header,
      stats: { ...p, allocatedCapacityGiB: allocated, provisionedCapacityGiB: p.provisionedCapacityGiB ?? allocated },
    };
  });
}

/** A placement: where a volume goes, and the capacity it holds in the scheduler until committed or released. */
export interface Placement {
  /** Placement number (per scheduler). */
  readonly id: number;
  /** `backend#pool`. */
  readonly ref: PoolRef;
  /** Backend name. */
  readonly backend: string;
  /** Pool name. */
  readonly pool: string;
  /** GiB consumed. */
  readonly sizeGiB: number;
  /** Placed with thin arithmetic (the pool supports thin and the type does not ask for thick): provisioned space only. */
  readonly thin: boolean;
  /** Its weight among the candidates. */
  readonly weight: number;
}

interface Consumption {
  readonly placement: Placement;
  /** `in-flight` until committed; a committed one counts until stats taken after it arrive. */
  state: "in-flight" | "committed";
  at: number;
}

/** Checks a request's numbers before anything else. */
function checkRequest(request: PlacementRequest): Result<PlacementRequest, VolkitError> {
  if (!Number.isSafeInteger(request.sizeGiB) || request.sizeGiB < 0) {
    return err(new VolkitError("INVALID_ARGUMENT", `placement size must be a whole number of GiB ≥ 0, got ${String(request.sizeGiB)}`, { source: "scheduler" }));
  }
  return ok(request);
}

/**
 * The scheduler's copy of every backend's pools, refreshed with {@link Scheduler.updateBackend}
 * and corrected by each placement. Placements are serialized: 50 concurrent `place` calls see each
 * other's consumption, so a pool is never overbooked.
 *
 * @example
 * ```ts
 * const scheduler = new Scheduler({ weighers: [{ weigher: "CapacityWeigher", multiplier: -1 }] });
 * scheduler.updateBackend(await runtime.stats("lvm-a"));
 * const placement = await scheduler.place({ sizeGiB: 10, extraSpecs: type.extraSpecs });
 * // create the volume on placement.value.backend / .pool, then:
 * scheduler.commit(placement.value); // or release() when the create failed
 * ```
 */
export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #backends = new Map<string, { readonly stats: BackendStats; readonly takenAt: number }>();
  readonly #consumptions: Consumption[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  #nextId = 1;

  constructor(options: SchedulerOptions = {}) {
    this.#options = options;
  }

  /**
   * Replaces a backend's stats with fresh ones taken at `takenAt` (epoch ms, default now). Committed
   * placements made before that time are now part of the stats and stop counting; in-flight ones
   * keep counting on top.
   */
  updateBackend(stats: BackendStatsInput, takenAt: number = Date.now()): Result<void, VolkitError> {
    return validate(BackendStatsSchema, stats, "backend stats").map((parsed) => {
      this.#backends.set(parsed.backendName, { stats: parsed, takenAt });
      this.#prune(parsed.backendName, takenAt);
    });
  }

  /** Forgets a backend (its pools stop being candidates). */
  removeBackend(name: string): void {
    this.#backends.delete(name);
  }

  #prune(backend: string | undefined, takenAt: number): void {
    const ttl = this.#options.inFlightTtlMs ?? 10 * 60_000;
    const now = Date.now();
    for (let i = this.#consumptions.length - 1; i >= 0; i--) {
      const c = this.#consumptions[i];
      if (c === undefined) continue;
      const stale = c.state === "committed" ? c.placement.backend === backend && c.at <= takenAt : now - c.at > ttl;
      if (stale) this.#consumptions.splice(i, 1);
    }
  }

  /** Every pool as the scheduler sees it now: the last stats plus the placements that count. */
  pools(): readonly PoolState[] {
    const out: PoolState[] = [];
    for (const { stats, takenAt } of this.#backends.values()) {
      for (let pool of poolStates(stats, this.#options.defaultAvailabilityZone)) {
        for (const c of this.#consumptions) {
          if (c.placement.ref === pool.ref && (c.state === "in-flight" || c.at > takenAt)) pool = consumed(pool, c.placement.sizeGiB, c.placement.thin);
        }
        out.push(pool);
      }
    }
    return out;
  }

  /** Every pool's fate for `request`, without placing anything. */
  evaluate(request: PlacementRequest): Evaluation {
    return evaluatePools(this.pools(), request, this.#options);
  }

  /**
   * Places a volume: filters, weighs, takes the best pool and consumes `sizeGiB` of it, in one
   * serialized step. `NO_VALID_BACKEND` (naming every pool and why) when nothing fits.
   */
  place(request: PlacementRequest): ResultAsync<Placement, VolkitError> {
    const checked = checkRequest(request);
    if (checked.isErr()) return errAsync(checked.error);
    const step = this.#queue.then(() => this.#placeNow(request));
    this.#queue = step.catch(() => undefined);
    return new ResultAsync(step);
  }

  #placeNow(request: PlacementRequest): Result<Placement, VolkitError> {
    this.#prune(undefined, 0);
    return schedule(this.pools(), request, this.#options).map((best) => {
      const placement: Placement = {
        id: this.#nextId++,
        ref: best.pool.ref,
        backend: best.pool.backend,
        pool: best.pool.stats.poolName,
        sizeGiB: request.sizeGiB,
        thin: isThin(best.pool, request.extraSpecs?.["provisioning:type"]),
        weight: best.weight,
      };
      this.#consumptions.push({ placement, state: "in-flight", at: Date.now() });
      return placement;
    });
  }

  /** The volume was created where placed: it keeps counting until stats taken after now arrive. */
  commit(placement: Placement): void {
    const c = this.#consumptions.find((x) => x.placement.id === placement.id);
    if (c !== undefined) {
      c.state = "committed";
      c.at = Date.now();
    }
  }

  /** The create failed: give the capacity back. */
  release(placement: Placement): void {
    const i = this.#consumptions.findIndex((x) => x.placement.id === placement.id);
    if (i >= 0) this.#consumptions.splice(i, 1);
  }
}
