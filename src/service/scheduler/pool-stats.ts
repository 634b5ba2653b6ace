import { z } from "zod";
import { PoolStatsSchema, type PoolStats, type VolumeStats } from "../../core/records.js";
import { BackendNameSchema } from "../records/record-fields.js";

/**
 * What the scheduler knows of a backend: the pools of the 0.2 runtime's stats (core
 * `PoolStatsSchema`: Cinder's pool keys, camelCased, units in the names, plus `capabilities` for
 * extra-spec matching) under a header naming the backend and its availability zone.
 */

/** A capability value an extra spec can match (a value of `PoolStats.capabilities`). */
export type CapabilityValue = PoolStats["capabilities"][string];

/** A backend's stats: the header the runtime fills, over its pools. */
export const BackendStatsSchema = z.object({
  /** Backend name (`volume_backend_name`). */
  backendName: BackendNameSchema,
  /** Availability zone it serves (the scheduler's default zone when absent). */
  availabilityZone: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an availability zone name").optional(),
  /** Driver name. */
  driver: z.string().max(64).optional(),
  /** Transport (`iscsi`, `nfs`, `local`, `rbd`, `nvmeof`). */
  storageProtocol: z.string().max(32).optional(),
  /** Vendor. */
  vendorName: z.string().max(255).optional(),
  /** Driver version. */
  driverVersion: z.string().max(64).optional(),
  /** Its pools. */
  pools: z.array(PoolStatsSchema).min(1),
});
/** A backend's stats (parsed). */
export type BackendStats = z.output<typeof BackendStatsSchema>;
/** A backend's stats as reported. */
export type BackendStatsInput = z.input<typeof BackendStatsSchema>;

/** `backend#pool`. */
export type PoolRef = `${string}#${string}`;

/** A pool as the scheduler sees it: its stats, where it is, and its backend's header. */
export interface PoolState {
  /** `backend#pool`. */
  readonly ref: PoolRef;
  /** Backend name. */
  readonly backend: string;
  /** The backend's availability zone (resolved to the scheduler's default). */
  readonly availabilityZone: string;
  /** The backend's header. */
  readonly header: Omit<BackendStats, "pools">;
  /** Pool stats, with provisioned/allocated filled (Cinder: provisioned defaults to allocated). */
  readonly stats: PoolStats & { readonly provisionedCapacityGiB: number; readonly allocatedCapacityGiB: number };
}

/** Splits `backend#pool`; undefined when there is no `#`. */
export function parsePoolRef(ref: string): { backend: string; pool: string } | undefined {
  const i = ref.indexOf("#");
  if (i <= 0 || i === ref.length - 1) return undefined;
  return { backend: ref.slice(0, i), pool: ref.slice(i + 1) };
}

/**
 * The scheduler's view of a backend's `getVolumeStats()` (the runtime's `VolumeStats`), served in
 * `availabilityZone` (the scheduler's default zone when absent).
 *
 * @example
 * ```ts
 * const stats = await backend.getVolumeStats();
 * if (stats.isOk()) scheduler.updateBackend(backendStatsOf(stats.value, "az1"));
 * ```
 */
export function backendStatsOf(stats: VolumeStats, availabilityZone?: string, backendName: string = stats.volumeBackendName): BackendStatsInput {
  return {
    backendName,
    ...(availabilityZone === undefined ? {} : { availabilityZone }),
    storageProtocol: stats.storageProtocol,
    vendorName: stats.vendorName,
    driverVersion: stats.driverVersion,
    pools: stats.pools.map((p) => ({ ...p, multiattach: p.multiattach || stats.multiattach, qosSupport: p.qosSupport || stats.qosSupport })),
  };
}
