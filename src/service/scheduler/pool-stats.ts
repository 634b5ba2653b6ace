import { z } from "zod";
import { BackendNameSchema, PoolNameSchema } from "../records/record-fields.js";

/**
 * Pool stats as the 0.2 runtime reports them (`getPoolStats`: Cinder's pool keys, camelCased, units
 * in the names). Defined here until the service moves onto the core `PoolStatsSchema`, which has the
 * same fields.
 */

/** Capacity in GiB, or one of Cinder's special values. */
export const CapacityValueSchema = z.union([z.number().nonnegative().finite(), z.literal("unknown"), z.literal("infinite")]);
/** Capacity in GiB, `unknown` or `infinite`. */
export type CapacityValue = z.output<typeof CapacityValueSchema>;

/** A capability value an extra spec can match. */
export const CapabilityValueSchema = z.union([z.string().max(1024), z.number().finite(), z.boolean()]);
/** A capability value. */
export type CapabilityValue = z.output<typeof CapabilityValueSchema>;

/** Stats of one pool. */
export const PoolStatsSchema = z.object({
  /** Pool name (the scheduling unit is `backend#pool`). */
  poolName: PoolNameSchema,
  /** Total capacity in GiB. */
  totalCapacityGiB: CapacityValueSchema,
  /** Free capacity in GiB. */
  freeCapacityGiB: CapacityValueSchema,
  /** Sum of provisioned (virtual) sizes, GiB; defaults to the allocated capacity, as in Cinder. */
  provisionedCapacityGiB: z.number().nonnegative().finite().optional(),
  /** GiB of volumes placed here (the volume service's own count). */
  allocatedCapacityGiB: z.number().nonnegative().finite().optional(),
  /** Space kept free, in percent of the total. */
  reservedPercentage: z.number().min(0).max(100).default(0),
  /** Thin over-subscription ratio. */
  maxOverSubscriptionRatio: z.number().positive().finite().default(1),
  /** Thin provisioning available. */
  thinProvisioningSupport: z.boolean(),
  /** Thick provisioning available. */
  thickProvisioningSupport: z.boolean(),
  /** Number of volumes. */
  totalVolumes: z.number().int().nonnegative().optional(),
  /** Multiattach support. */
  multiattach: z.boolean().default(false),
  /** Back-end QoS support. */
  qosSupport: z.boolean().default(false),
  /** `up` or `down`. */
  backendState: z.enum(["up", "down"]).default("up"),
  /** Further facts for extra-spec matching (`capabilities:<key>`). */
  capabilities: z.record(z.string().regex(/^[A-Za-z0-9_:.-]{1,128}$/, "must be a capability key"), CapabilityValueSchema).default({}),
});
/** Stats of one pool (parsed). */
export type PoolStats = z.output<typeof PoolStatsSchema>;
/** Stats of one pool as a driver reports them. */
export type PoolStatsInput = z.input<typeof PoolStatsSchema>;

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
