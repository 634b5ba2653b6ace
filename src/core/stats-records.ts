import { z } from "zod";
import { ProtocolSchema } from "./connection-records.js";

/**
 * Capacity records: per-pool stats a driver reports and the backend stats the runtime builds over
 * them (Cinder's `get_volume_stats`). Re-exported by `records.ts`.
 */

/** Capacity in GiB, or one of Cinder's special values. */
export const CapacitySchema = z.union([z.number().nonnegative().finite(), z.literal("unknown"), z.literal("infinite")]);
/** Capacity in GiB, `unknown` or `infinite`. */
export type Capacity = z.output<typeof CapacitySchema>;

/** Extra pool facts an extra spec can match (`capabilities:<key>`): strings, numbers, booleans. */
export const PoolCapabilitiesSchema = z.record(z.string().regex(/^[A-Za-z0-9_:.-]{1,128}$/), z.union([z.string().max(1024), z.number().finite(), z.boolean()]));

/** Stats of one pool as a driver reports it (Cinder's pool keys, camelCased, units in the names). */
export const PoolStatsSchema = z.object({
  /** Pool name (a scheduling unit is `backend#pool`). */
  poolName: z.string().regex(/^[A-Za-z0-9_.:+-][A-Za-z0-9_.:+@/-]{0,254}$/, "must be a pool name"),
  /** Total capacity in GiB. */
  totalCapacityGiB: CapacitySchema,
  /** Free capacity in GiB. */
  freeCapacityGiB: CapacitySchema,
  /** Space kept free, in percent. */
  reservedPercentage: z.number().min(0).max(100).default(0),
  /** Sum of provisioned (virtual) sizes, GiB. */
  provisionedCapacityGiB: z.number().nonnegative().finite().optional(),
  /** Allocated (physically used) GiB. */
  allocatedCapacityGiB: z.number().nonnegative().finite().optional(),
  /** Thin over-subscription ratio (1 for thick pools). */
  maxOverSubscriptionRatio: z.number().min(1).finite().default(1),
  /** Thin provisioning available in this pool. */
  thinProvisioningSupport: z.boolean(),
  /** Thick provisioning available in this pool. */
  thickProvisioningSupport: z.boolean(),
  /** Number of volumes. */
  totalVolumes: z.number().int().nonnegative().optional(),
  /** Multiattach support. */
  multiattach: z.boolean().default(false),
  /** Back-end QoS support. */
  qosSupport: z.boolean().default(false),
  /** Where a migration can find this pool. */
  locationInfo: z.string().max(1024).optional(),
  /** `up` or `down`. */
  backendState: z.enum(["up", "down"]).default("up"),
  /** Further facts for extra-spec matching (`capabilities:<key>`), e.g. `{ dataPercent: 12.5, diskType: "ssd" }`. */
  capabilities: PoolCapabilitiesSchema.default({}),
});
/** Stats of one pool (parsed). */
export type PoolStats = z.output<typeof PoolStatsSchema>;
/** Stats of one pool as a driver returns them. */
export type PoolStatsInput = z.input<typeof PoolStatsSchema>;

/** Backend stats (Cinder's `get_volume_stats`): the runtime's header over the driver's pools. */
export const VolumeStatsSchema = z.object({
  /** The backend's name (what an extra spec `volume_backend_name` matches). */
  volumeBackendName: z.string(),
  /** Vendor, from the driver. */
  vendorName: z.string(),
  /** Driver version, from the driver. */
  driverVersion: z.string(),
  /** Transport, from the driver's capabilities. */
  storageProtocol: ProtocolSchema,
  /** Total GiB over all pools. */
  totalCapacityGiB: CapacitySchema,
  /** Free GiB over all pools. */
  freeCapacityGiB: CapacitySchema,
  /** Provisioned GiB over all pools, when every pool reports it. */
  provisionedCapacityGiB: z.number().nonnegative().optional(),
  /** Online extend supported (capabilities). */
  onlineExtendSupport: z.boolean(),
  /** Copies keep thin targets sparse (capabilities). */
  sparseCopyVolume: z.boolean(),
  /** Targets are shared between volumes, which matters to detach (capabilities). */
  sharedTargets: z.boolean(),
  /** Some pool supports thin provisioning. */
  thinProvisioningSupport: z.boolean(),
  /** Some pool supports thick provisioning. */
  thickProvisioningSupport: z.boolean(),
  /** Multiattach supported (capabilities). */
  multiattach: z.boolean(),
  /** Back-end QoS supported (capabilities). */
  qosSupport: z.boolean(),
  /** Per-pool detail. */
  pools: z.array(PoolStatsSchema).min(1),
  /** When the driver reported these (epoch ms). */
  updatedAt: z.number(),
});
/** Backend stats. */
export type VolumeStats = z.output<typeof VolumeStatsSchema>;
