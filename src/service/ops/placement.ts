import type { ResultAsync } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import type { Volume } from "../../core/records.js";
import type { PlacementRequest } from "../scheduler/filters.js";
import type { Placement } from "../scheduler/scheduler.js";
import type { ServiceContext } from "../service-context.js";

/** Filters whose refusal means the volume type (not capacity or state) excludes a pool. */
const TYPE_FILTERS = new Set(["CapabilitiesFilter", "AvailabilityZoneFilter", "DriverFilter"]);

/** Where a new volume goes, and whether its source's data must be copied across backends. */
export interface ChosenPlacement {
  /** The scheduler's placement (consuming its pool until committed or released). */
  readonly placement: Placement;
  /** True when the volume lands on another backend than its source (a host-assisted copy). */
  readonly crossBackend: boolean;
}

/**
 * Places a volume. A create from a snapshot or a volume lands on its source's backend (Cinder's
 * rule) unless the volume's type forbids every pool of that backend (a capability, zone or driver
 * filter refuses them, not capacity): then it goes wherever the type allows and the data is copied
 * on this host. When the source's backend is merely full or down, the error names its pools.
 */
export function choosePlacement(sc: ServiceContext, request: PlacementRequest, sourceBackend: string | undefined): ResultAsync<ChosenPlacement, VolkitError> {
  if (sourceBackend === undefined) return sc.scheduler.place(request).map((placement) => ({ placement, crossBackend: false }));
  const pinned: PlacementRequest = { ...request, sourceBackend };
  const { candidates, rejections } = sc.scheduler.evaluate(pinned);
  const own = rejections.filter((r) => r.pool.startsWith(`${sourceBackend}#`));
  const forbidden = candidates.length === 0 && own.length > 0 && own.every((r) => TYPE_FILTERS.has(r.filter));
  if (!forbidden) return sc.scheduler.place(pinned).map((placement) => ({ placement, crossBackend: false }));
  return sc.scheduler.place(request).map((placement) => ({ placement, crossBackend: placement.backend !== sourceBackend }));
}

/**
 * The pool a volume really landed in: drivers with several pools pick one themselves (the NFS
 * driver picks a share) and report it as the volume's provider location; otherwise the placed one.
 */
export function landedPool(sc: ServiceContext, placement: Placement, volume: Volume): string {
  const location = volume.providerLocation;
  if (location === undefined || location === placement.pool) return placement.pool;
  const pool = sc.scheduler.pools().find((p) => p.backend === placement.backend && p.stats.poolName === location);
  return pool === undefined ? placement.pool : pool.stats.poolName;
}
