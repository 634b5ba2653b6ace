import { z } from "zod";
import {
  AbsolutePathSchema,
  ChapSecretSchema,
  ChapUserSchema,
  HostSchema,
  IdSchema,
  IqnSchema,
  PortalSchema,
  SizeGiBSchema,
} from "./validation.js";

/**
 * Shared domain types. Drivers are stateless like Cinder's: the orchestrator stores the
 * {@link Volume} and {@link Snapshot} records a driver returns and hands them back on later calls.
 */

/** What a caller asks for when creating a volume. */
export const VolumeSpecSchema = z.object({
  /** Stable id (a UUID in Cinder); names on the backend are derived from it. */
  id: IdSchema,
  /** Size in GiB. */
  sizeGiB: SizeGiBSchema,
  /** Display name; never reaches a command. */
  displayName: z.string().max(255).optional(),
  /** Volume type name used for scheduling and driver-specific options. */
  volumeType: z.string().max(255).optional(),
  /** Free-form metadata stored by the caller. */
  metadata: z.record(z.string(), z.string()).optional(),
});
/** Input of `createVolume`, `createVolumeFromSnapshot`, `createClonedVolume`. */
export type VolumeSpec = z.input<typeof VolumeSpecSchema>;

/** A volume as a driver reports it after create (the spec plus the driver's model update). */
export const VolumeSchema = VolumeSpecSchema.extend({
  /** Where the backend keeps the volume, e.g. an LV path or `"<ip>:<port>,<tid> <iqn> <lun>"`. */
  providerLocation: z.string().max(4096).optional(),
  /** Auth the export uses, e.g. `"CHAP <user> <secret>"` (a secret: never log it). */
  providerAuth: z.string().max(1024).optional(),
  /** Driver-private id (e.g. a LUN id on an array). */
  providerId: z.string().max(255).optional(),
});
/** A volume record. */
export type Volume = z.input<typeof VolumeSchema>;

/** What a caller asks for when creating a snapshot. */
export const SnapshotSpecSchema = z.object({
  /** Stable id. */
  id: IdSchema,
  /** Id of the volume it is taken from. */
  volumeId: IdSchema,
  /** Size of that volume in GiB at snapshot time. */
  volumeSizeGiB: SizeGiBSchema,
  /** Display name. */
  displayName: z.string().max(255).optional(),
});
/** Input of `createSnapshot`. */
export type SnapshotSpec = z.input<typeof SnapshotSpecSchema>;

/** A snapshot record. */
export const SnapshotSchema = SnapshotSpecSchema.extend({
  /** Where the backend keeps it. */
  providerLocation: z.string().max(4096).optional(),
});
/** A snapshot record as returned by `createSnapshot`. */
export type Snapshot = z.input<typeof SnapshotSchema>;

/** Fields a driver may update on a volume after create/export (Cinder's model update). */
export interface ModelUpdate {
  /** New provider location. */
  readonly providerLocation?: string;
  /** New provider auth (secret). */
  readonly providerAuth?: string;
  /** New provider id. */
  readonly providerId?: string;
}

/** The host that wants to attach a volume (os-brick's connector properties). */
export const ConnectorPropertiesSchema = z.object({
  /** Host name. */
  host: z.string().min(1).max(255),
  /** iSCSI initiator IQN (required by iSCSI drivers). */
  initiator: IqnSchema.optional(),
  /** The host's storage IP. */
  ip: HostSchema.optional(),
  /** Whether the host will use multipath. */
  multipath: z.boolean().default(false),
  /** CPU platform, e.g. `x86_64`. */
  platform: z.string().max(64).optional(),
  /** OS type, e.g. `linux2`. */
  osType: z.string().max(64).optional(),
  /** NVMe host NQN (reserved for NVMe-oF). */
  nqn: z.string().max(223).optional(),
  /** Whether the attachment should be read-only. */
  readOnly: z.boolean().optional(),
});
/** The attaching host's properties. */
export type ConnectorProperties = z.input<typeof ConnectorPropertiesSchema>;

/** Front-end QoS limits as Cinder passes them (`total_bytes_sec`, `read_iops_sec`…). */
export const QosSpecsSchema = z.record(z.string().regex(/^[a-z_]+$/), z.number().nonnegative());
/** Front-end QoS limits. */
export type QosSpecs = z.infer<typeof QosSpecsSchema>;

const CommonConnectionFields = {
  /** Volume id. */
  volumeId: IdSchema,
  /** rw (default) or ro. */
  accessMode: z.enum(["rw", "ro"]).default("rw"),
  /** Whether the volume is encrypted with a front-end key. */
  encrypted: z.boolean().default(false),
  /** Front-end QoS for the hypervisor. */
  qosSpecs: QosSpecsSchema.optional(),
  /** Whether the guest may discard (unmap). */
  discard: z.boolean().optional(),
  /** Whether host caching is safe. */
  cacheable: z.boolean().optional(),
};

/** iSCSI connection info: one target or, for multipath, parallel arrays of portals/IQNs/LUNs. */
export const IscsiConnectionInfoSchema = z.object({
  type: z.literal("iscsi"),
  ...CommonConnectionFields,
  /** True when the caller already discovered the target. */
  targetDiscovered: z.boolean().default(false),
  /** Target IQN (first path). */
  targetIqn: IqnSchema,
  /** Portal `ip:port` (first path). */
  targetPortal: PortalSchema,
  /** LUN (first path). */
  targetLun: z.number().int().min(0).max(16383),
  /** Every portal, for multipath. */
  targetPortals: z.array(PortalSchema).min(1).optional(),
  /** IQN per portal. */
  targetIqns: z.array(IqnSchema).min(1).optional(),
  /** LUN per portal. */
  targetLuns: z.array(z.number().int().min(0).max(16383)).min(1).optional(),
  /** `CHAP` when session authentication is on. */
  authMethod: z.literal("CHAP").optional(),
  /** CHAP user. */
  authUsername: ChapUserSchema.optional(),
  /** CHAP secret (never logged). */
  authPassword: ChapSecretSchema.optional(),
  /** Discovery CHAP method. */
  discoveryAuthMethod: z.literal("CHAP").optional(),
  /** Discovery CHAP user. */
  discoveryAuthUsername: ChapUserSchema.optional(),
  /** Discovery CHAP secret (never logged). */
  discoveryAuthPassword: ChapSecretSchema.optional(),
  /** Logical/physical block size hints. */
  logicalBlockSize: z.number().int().positive().optional(),
  /** Physical block size hint. */
  physicalBlockSize: z.number().int().positive().optional(),
}).refine(
  (v) => {
    const n = v.targetPortals?.length;
    return n === undefined || ((v.targetIqns?.length ?? n) === n && (v.targetLuns?.length ?? n) === n);
  },
  { message: "targetPortals, targetIqns and targetLuns must have the same length" },
);

/** NFS connection info: the share, the file on it and its format. */
export const NfsConnectionInfoSchema = z.object({
  type: z.literal("nfs"),
  ...CommonConnectionFields,
  /** The share, `host:/export`. */
  export: z.string().regex(/^[^\s:]+:\/[^\0\n\s]*$/, "must be host:/path"),
  /** Volume file name inside the share. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, "must be a plain file name"),
  /** Mount options (comma-separated, validated by the NFS connector). */
  options: z.string().max(1024).optional(),
  /** Image format of the file. */
  format: z.enum(["raw", "qcow2"]),
  /** Where the host mounts shares (`<base>/<md5(share)>`). */
  mountPointBase: AbsolutePathSchema.optional(),
});

/** Local connection info: a block device on the attaching host itself. */
export const LocalConnectionInfoSchema = z.object({
  type: z.literal("local"),
  ...CommonConnectionFields,
  /** Device path, e.g. `/dev/vg/volume-<id>`. */
  devicePath: AbsolutePathSchema,
});

/**
 * What `initializeConnection` returns and a connector consumes, discriminated on `type`
 * (`iscsi`, `nfs`, `local`; NVMe-oF and RBD variants will be added).
 */
export const ConnectionInfoSchema = z.discriminatedUnion("type", [
  IscsiConnectionInfoSchema,
  NfsConnectionInfoSchema,
  LocalConnectionInfoSchema,
]);
/** Connection info (parsed form). */
export type ConnectionInfo = z.output<typeof ConnectionInfoSchema>;
/** iSCSI connection info (parsed form). */
export type IscsiConnectionInfo = z.output<typeof IscsiConnectionInfoSchema>;
/** NFS connection info (parsed form). */
export type NfsConnectionInfo = z.output<typeof NfsConnectionInfoSchema>;
/** Local connection info (parsed form). */
export type LocalConnectionInfo = z.output<typeof LocalConnectionInfoSchema>;

/** Capacity in GiB, or one of Cinder's special values. */
export type Capacity = number | "unknown" | "infinite";

/** Stats for one pool (Cinder's pool keys, camelCased). */
export interface PoolStats {
  /** Pool name. */
  readonly poolName: string;
  /** Total capacity in GiB. */
  readonly totalCapacityGb: Capacity;
  /** Free capacity in GiB. */
  readonly freeCapacityGb: Capacity;
  /** Space kept free, in percent. */
  readonly reservedPercentage: number;
  /** Sum of provisioned (virtual) sizes, GiB. */
  readonly provisionedCapacityGb?: number;
  /** Allocated (physically used) GiB. */
  readonly allocatedCapacityGb?: number;
  /** Thin over-subscription ratio. */
  readonly maxOverSubscriptionRatio?: number;
  /** Thin provisioning available. */
  readonly thinProvisioningSupport: boolean;
  /** Thick provisioning available. */
  readonly thickProvisioningSupport: boolean;
  /** Number of volumes. */
  readonly totalVolumes?: number;
  /** Multiattach support. */
  readonly multiattach: boolean;
  /** QoS support. */
  readonly qosSupport: boolean;
  /** Where a migration can find this pool. */
  readonly locationInfo?: string;
  /** `up` or `down`. */
  readonly backendState?: "up" | "down";
  /** Thin pool data usage in percent (LVM thin). */
  readonly dataPercent?: number;
}

/** Backend stats (Cinder's `get_volume_stats`). */
export interface VolumeStats {
  /** Configured backend name. */
  readonly volumeBackendName: string;
  /** Vendor. */
  readonly vendorName: string;
  /** Driver version. */
  readonly driverVersion: string;
  /** `iSCSI`, `NFS`, `local`… */
  readonly storageProtocol: string;
  /** Total GiB over all pools. */
  readonly totalCapacityGb: Capacity;
  /** Free GiB over all pools. */
  readonly freeCapacityGb: Capacity;
  /** Space kept free, in percent. */
  readonly reservedPercentage: number;
  /** Online extend supported. */
  readonly onlineExtendSupport: boolean;
  /** Copies keep thin targets sparse. */
  readonly sparseCopyVolume: boolean;
  /** Targets are shared between volumes (affects detach). */
  readonly sharedTargets: boolean;
  /** Per-pool detail. */
  readonly pools: readonly PoolStats[];
}

/** Where an image lives for `copyImageToVolume` / `copyVolumeToImage`. */
export interface ImageLocation {
  /** Path readable/writable by the runner (a file, device or a mounted store). */
  readonly path: string;
  /** Format (`raw`, `qcow2`, `vmdk`…); probed with `qemu-img info` when absent. */
  readonly format?: string | undefined;
}

/** A reference to an existing backend object for `manageExisting`. */
export type ExistingRef = { readonly sourceName: string } | { readonly sourceId: string };

/** A backend object that could be managed (Cinder's `get_manageable_volumes`). */
export interface ManageableVolume {
  /** Reference to pass to `manageExisting`. */
  readonly reference: ExistingRef;
  /** Size rounded up to GiB. */
  readonly sizeGiB: number;
  /** False when it is already managed or in use. */
  readonly safeToManage: boolean;
  /** Why it is not safe. */
  readonly reasonNotSafe?: string;
  /** Id of the volkit volume it already is, if any. */
  readonly volkitId?: string;
}

/** Paths a caller may pass directly (re-exported for convenience). */
export { AbsolutePathSchema };
