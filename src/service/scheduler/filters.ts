import { capacityVerdict, type Verdict } from "./capacity.js";
import { capabilityString, matchExtraSpec } from "./extra-specs-ops.js";
import type { CapabilityValue, PoolState } from "./pool-stats.js";

/**
 * The scheduler's filters, pure: each takes a pool and the request and says pass, or why not with
 * the numbers. Cinder's AvailabilityZoneFilter, CapacityFilter, CapabilitiesFilter and DriverFilter,
 * plus two checks Cinder does elsewhere or silently (a `down` backend; a create from a snapshot or a
 * volume that must land on its source's backend).
 */

/** What a placement asks for. */
export interface PlacementRequest {
  /** GiB to place (the size, or the growth of an extend; 0 = manage, always fits). */
  readonly sizeGiB: number;
  /** The volume type's extra specs (`volume_backend_name`, capabilities, `provisioning:type`…). */
  readonly extraSpecs?: Readonly<Record<string, string>>;
  /** Requested availability zone. */
  readonly availabilityZone?: string;
  /** The volume must be attachable by several hosts. */
  readonly multiattach?: boolean;
  /** Create from a snapshot or a volume: only pools of this backend (Cinder's rule). */
  readonly sourceBackend?: string;
  /** Pools not to consider (`backend#pool`), e.g. ones a failed create already tried. */
  readonly excludePools?: readonly string[];
  /** Volume id, for driver filters and messages. */
  readonly volumeId?: string;
  /** The type has back-end QoS specs: only pools whose backend applies back-end QoS (`QoS_support`). */
  readonly backendQos?: boolean;
}

/** A driver-supplied filter (Cinder's `filter_function`): true, or why the pool does not fit. */
export type DriverFilterFunction = (pool: PoolState, request: PlacementRequest) => true | string;

/** A named filter. */
export interface Filter {
  /** Name as it appears in rejections (`CapacityFilter`). */
  readonly name: string;
  /** The verdict for one pool. */
  verdict(pool: PoolState, request: PlacementRequest): Verdict;
}

const PASS: Verdict = { pass: true };
const reject = (reason: string, details: Readonly<Record<string, number | string>> = {}): Verdict => ({ pass: false, reason, details });

/** `RESKEY:availability_zones` of a type: comma-separated zones. */
export function typeAvailabilityZones(extraSpecs: Readonly<Record<string, string>> | undefined): readonly string[] {
  const raw = extraSpecs?.["RESKEY:availability_zones"];
  return raw === undefined ? [] : raw.split(",").map((z) => z.trim()).filter((z) => z !== "");
}

/** Pools of a `down` backend or pool, and excluded pools, are not candidates. */
export const BackendStateFilter: Filter = {
  name: "BackendStateFilter",
  verdict: (pool, request) => {
    if (request.excludePools?.includes(pool.ref) === true) return reject("BackendStateFilter: excluded by the request (tried before)");
    return pool.stats.backendState === "down" ? reject("BackendStateFilter: the backend reports state down") : PASS;
  },
};

/** A create from a snapshot or a volume lands on its source's backend. */
export const SourceBackendFilter: Filter = {
  name: "SourceBackendFilter",
  verdict: (pool, request) =>
    request.sourceBackend === undefined || request.sourceBackend === pool.backend
      ? PASS
      : reject(`SourceBackendFilter: the source is on backend ${request.sourceBackend}`, { sourceBackend: request.sourceBackend }),
};

/** Cinder's AvailabilityZoneFilter: the type's `RESKEY:availability_zones`, then the requested zone. */
export const AvailabilityZoneFilter: Filter = {
  name: "AvailabilityZoneFilter",
  verdict: (pool, request) => {
    const typeZones = typeAvailabilityZones(request.extraSpecs);
    if (typeZones.length > 0 && !typeZones.includes(pool.availabilityZone)) {
      return reject(`AvailabilityZoneFilter: zone ${pool.availabilityZone} is not one of the type's ${typeZones.join(", ")}`, { zone: pool.availabilityZone });
    }
    if (request.availabilityZone !== undefined && request.availabilityZone !== pool.availabilityZone) {
      return reject(`AvailabilityZoneFilter: zone ${pool.availabilityZone}, requested ${request.availabilityZone}`, { zone: pool.availabilityZone, requested: request.availabilityZone });
    }
    return PASS;
  },
};

/** Cinder's CapacityFilter (see `capacityVerdict`). */
export const CapacityFilter: Filter = {
  name: "CapacityFilter",
  verdict: (pool, request) => capacityVerdict(pool, request.sizeGiB, request.extraSpecs?.["provisioning:type"]),
};

/**
 * The capability dictionary extra specs are matched against, with Cinder's key names: the
 * backend's header, the pool's stats, then the pool's own `capabilities` (which cannot shadow the
 * standard keys).
 */
export function poolCapabilities(pool: PoolState): Readonly<Record<string, CapabilityValue>> {
  const s = pool.stats;
  const h = pool.header;
  const standard: Record<string, CapabilityValue | undefined> = {
    volume_backend_name: pool.backend,
    pool_name: s.poolName,
    availability_zone: pool.availabilityZone,
    storage_protocol: h.storageProtocol,
    vendor_name: h.vendorName,
    driver_version: h.driverVersion,
    total_capacity_gb: s.totalCapacityGiB,
    free_capacity_gb: s.freeCapacityGiB,
    provisioned_capacity_gb: s.provisionedCapacityGiB,
    allocated_capacity_gb: s.allocatedCapacityGiB,
    reserved_percentage: s.reservedPercentage,
    max_over_subscription_ratio: s.maxOverSubscriptionRatio,
    thin_provisioning_support: s.thinProvisioningSupport,
    thick_provisioning_support: s.thickProvisioningSupport,
    total_volumes: s.totalVolumes,
    multiattach: s.multiattach,
    QoS_support: s.qosSupport,
    backend_state: s.backendState,
  };
  const out: Record<string, CapabilityValue> = { ...s.capabilities };
  for (const [k, v] of Object.entries(standard)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * Cinder's CapabilitiesFilter: every unscoped or `capabilities:`-scoped extra spec must match the
 * pool's capability (`volume_backend_name` pins a backend this way); other scopes belong to drivers
 * and are skipped. volkit also checks `provisioning:type` against the pool's thin/thick support and a
 * multiattach request against the pool's `multiattach`.
 */
export const CapabilitiesFilter: Filter = {
  name: "CapabilitiesFilter",
  verdict: (pool, request) => {
    const caps = poolCapabilities(pool);
    if (request.multiattach === true && pool.stats.multiattach !== true) return reject("CapabilitiesFilter: multiattach requested, the pool does not support it");
    if (request.backendQos === true && pool.stats.qosSupport !== true) {
      return reject(`CapabilitiesFilter: the type has back-end QoS specs; backend ${pool.backend} does not apply back-end QoS (QoS_support false)`, { key: "QoS_support", backend: pool.backend });
    }
    for (const [key, requirement] of Object.entries(request.extraSpecs ?? {})) {
      if (key === "provisioning:type") {
        const support = requirement === "thin" ? pool.stats.thinProvisioningSupport : requirement === "thick" ? pool.stats.thickProvisioningSupport : undefined;
        if (support === undefined) return reject(`CapabilitiesFilter: provisioning:type must be thin or thick, got "${requirement}"`);
        if (!support) return reject(`CapabilitiesFilter: provisioning:type ${requirement} is not supported by the pool`);
        continue;
      }
      const scope = key.split(":");
      if (scope.length > 1 && scope[0] !== "capabilities") continue;
      const capKey = (scope[0] === "capabilities" ? scope.slice(1) : scope).join(":");
      const value = caps[capKey];
      if (value === undefined) return reject(`CapabilitiesFilter: ${key} requires "${requirement}", the pool does not report ${capKey}`, { key });
      if (!matchExtraSpec(value, requirement)) {
        return reject(`CapabilitiesFilter: ${key} requires "${requirement}", the pool reports ${capabilityString(value)}`, { key, reported: capabilityString(value) });
      }
    }
    return PASS;
  },
};

/** Cinder's DriverFilter: the backend's own function decides; backends without one pass. */
export function driverFilter(functions: Readonly<Record<string, DriverFilterFunction>>): Filter {
  return {
    name: "DriverFilter",
    verdict: (pool, request) => {
      const fn = functions[pool.backend];
      if (fn === undefined) return PASS;
      let answer: true | string;
      try {
        answer = fn(pool, request);
      } catch (e) {
        answer = `the filter function failed: ${e instanceof Error ? e.message : String(e)}`;
      }
      return answer === true ? PASS : reject(`DriverFilter: ${answer}`);
    },
  };
}

/** The default filter chain, in Cinder's order after volkit's two checks. */
export const DEFAULT_FILTERS: readonly Filter[] = [BackendStateFilter, SourceBackendFilter, AvailabilityZoneFilter, CapacityFilter, CapabilitiesFilter];
