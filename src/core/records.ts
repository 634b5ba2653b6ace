import { z } from "zod";
import { BackendQosSchema } from "./backend-qos.js";
import { registerSecret } from "./secrets.js";
import {
  AbsolutePathSchema,
  ChapSecretSchema,
  ChapUserSchema,
  FilePathSchema,
  HostNameSchema,
  IdSchema,
  IqnSchema,
  PortalSchema,
  SizeGiBSchema,
  CONTROL_CHARS_MESSAGE,
  hasControlChar,
  hostPortSchema,
  secretString,
} from "./validation.js";

/**
 * Every record volkit exchanges with its callers, defined once as a zod schema with its types beside
 * it: `FooSchema`, `Foo` (the parsed form volkit returns: defaults applied, portals normalized) and
 * `FooInput` (what a caller or a driver may hand in). Drivers return input forms; the runtime parses
 * them once. Drivers are stateless like Cinder's: the caller stores the {@link Volume} and
 * {@link Snapshot} records and hands them back on later calls, and they are validated again then.
 */

/** The transports volkit attaches volumes with (one name per protocol, everywhere). */
export const PROTOCOLS = ["iscsi", "nfs", "local", "rbd", "nvmeof"] as const;
/** A transport: `ConnectionInfo.type`, `DriverCapabilities.protocol`, `VolumeStats.storageProtocol`. */
export type Protocol = (typeof PROTOCOLS)[number];
/** Schema of {@link Protocol}. */
export const ProtocolSchema = z.enum(PROTOCOLS);

const DisplayNameSchema = z.string().max(255).refine((s) => !hasControlChar(s), CONTROL_CHARS_MESSAGE);
const MetadataSchema = z.record(z.string().max(255), z.string().max(1024));

// ---------------------------------------------------------------- volumes and snapshots

/** What a caller asks for when creating a volume. */
export const VolumeSpecSchema = z.object({
  /** Stable id (a UUID in Cinder); names on the backend are derived from it. */
  id: IdSchema,
  /** Size in GiB. */
  sizeGiB: SizeGiBSchema,
  /** Display name; never reaches a command. */
  displayName: DisplayNameSchema.optional(),
  /** Volume type name (the volume service schedules with it; drivers may read it). */
  volumeType: DisplayNameSchema.optional(),
  /** Free-form metadata stored by the caller. */
  metadata: MetadataSchema.optional(),
  /** Back-end QoS the driver applies (from the type's `back-end`/`both` QoS specs); a driver without the `qos` capability ignores it. */
  qos: BackendQosSchema.optional(),
});
/** A volume spec (parsed). */
export type VolumeSpec = z.output<typeof VolumeSpecSchema>;
/** A volume spec as a caller writes it. */
export type VolumeSpecInput = z.input<typeof VolumeSpecSchema>;

/** Driver-owned fields of a volume record (Cinder's model update). */
const ProviderFields = {
  /** Where the backend keeps the volume: an LV path, `"<ip>:<port>,<tid> <iqn> <lun>"`, a LUN id as JSON. */
  providerLocation: z.string().max(4096).optional(),
  /**
   * Auth the export uses, e.g. `"CHAP <user> <secret>"`: a secret, registered for redaction when
   * parsed (the whole value, and what follows the user on its own: a connector or a flow that
   * fails quoting the bare password must not show it).
   */
  providerAuth: secretString(z.string().max(1024))
    .superRefine((value) => registerSecret(/^\s*CHAP\s+\S+\s+(.+?)\s*$/s.exec(value)?.[1]))
    .optional(),
  /** Driver-private id (a LUN id on an array, an RBD image id). */
  providerId: z.string().max(255).optional(),
};

/** A volume record: the spec plus what its driver recorded. */
export const VolumeSchema = VolumeSpecSchema.extend(ProviderFields);
/** A volume record (parsed). */
export type Volume = z.output<typeof VolumeSchema>;
/** A volume record as a driver returns it or a caller hands it back. */
export type VolumeInput = z.input<typeof VolumeSchema>;

/**
 * Fields a driver may update on a volume after an export (Cinder's model update). The runtime
 * merges it into the volume, so callers always get a whole {@link Volume}.
 */
export const ModelUpdateSchema = z.strictObject(ProviderFields);
/** A model update (parsed). */
export type ModelUpdate = z.output<typeof ModelUpdateSchema>;
/** A model update as a driver returns it. */
export type ModelUpdateInput = z.input<typeof ModelUpdateSchema>;

/** What a caller asks for when creating a snapshot. */
export const SnapshotSpecSchema = z.object({
  /** Stable id. */
  id: IdSchema,
  /** Id of the volume it is taken from. */
  volumeId: IdSchema,
  /** Size of that volume in GiB at snapshot time. */
  volumeSizeGiB: SizeGiBSchema,
  /** Display name. */
  displayName: DisplayNameSchema.optional(),
});
/** A snapshot spec (parsed). */
export type SnapshotSpec = z.output<typeof SnapshotSpecSchema>;
/** A snapshot spec as a caller writes it. */
export type SnapshotSpecInput = z.input<typeof SnapshotSpecSchema>;

/** A snapshot record. */
export const SnapshotSchema = SnapshotSpecSchema.extend({
  /** Where the backend keeps it. */
  providerLocation: z.string().max(4096).optional(),
  /** Driver-private id. */
  providerId: z.string().max(255).optional(),
});
/** A snapshot record (parsed). */
export type Snapshot = z.output<typeof SnapshotSchema>;
/** A snapshot record as a driver returns it or a caller hands it back. */
export type SnapshotInput = z.input<typeof SnapshotSchema>;

/** A reference to an existing backend object for `manageExisting` (Cinder's `source-name`/`source-id`). */
export const ExistingRefSchema = z.union([
  z.strictObject({ sourceName: z.string().regex(/^[A-Za-z0-9_+.][A-Za-z0-9_+.-]{0,254}$/, "must be an object name: letters, digits, '_+.-', not starting with '-'") }),
  z.strictObject({ sourceId: z.string().regex(/^[A-Za-z0-9_.:-]{1,255}$/, "must be an object id: letters, digits, '_.:-'").refine((s) => !s.startsWith("-"), "must not start with '-'") }),
]);
/** A reference to an existing backend object. */
export type ExistingRef = z.output<typeof ExistingRefSchema>;

/** A backend object that could be managed (Cinder's `get_manageable_volumes`). */
export const ManageableVolumeSchema = z.object({
  /** Reference to pass to `manageExisting`. */
  reference: ExistingRefSchema,
  /** Size rounded up to GiB. */
  sizeGiB: z.number().int().nonnegative(),
  /** False when it is already managed or in use. */
  safeToManage: z.boolean(),
  /** Why it is not safe. */
  reasonNotSafe: z.string().max(1024).optional(),
  /** Id of the volkit volume it already is, if any. */
  volkitId: IdSchema.optional(),
});
/** A manageable backend object. */
export type ManageableVolume = z.output<typeof ManageableVolumeSchema>;

/** Where an image lives for `copyImageToVolume` / `copyVolumeToImage`. */
export const ImageLocationSchema = z.object({
  /** Path readable/writable by the runner (a file, device or a mounted store). */
  path: FilePathSchema,
  /** Format (`raw`, `qcow2`, `vmdk`…); probed with `qemu-img info` when absent. */
  format: z.string().regex(/^[a-z0-9]{2,16}$/, "must be a qemu-img format name").optional(),
});
/** An image location. */
export type ImageLocation = z.output<typeof ImageLocationSchema>;

// ---------------------------------------------------------------- the attaching host

/** The host that wants to attach a volume (os-brick's connector properties), handed to drivers. */
export const HostPropertiesSchema = z.object({
  /** Host name. */
  host: HostNameSchema,
  /** iSCSI initiator IQN (required by iSCSI drivers). */
  initiator: IqnSchema.optional(),
  /** The host's storage IP. */
  ip: z.union([z.ipv4(), z.ipv6()]).optional(),
  /** Whether the host will use multipath. */
  multipath: z.boolean().default(false),
  /** CPU platform, e.g. `x86_64`. */
  platform: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be a platform name like x86_64").optional(),
  /** OS type, e.g. `linux2`. */
  osType: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be an OS type like linux2").optional(),
  /** NVMe host NQN (reserved for NVMe-oF). */
  nqn: z.string().regex(/^nqn\.\d{4}-\d{2}\.[A-Za-z0-9.:_-]{1,200}$/, "must be an NVMe qualified name").optional(),
  /** Whether the attachment should be read-only. */
  readOnly: z.boolean().optional(),
});
/** The attaching host's properties (parsed). */
export type HostProperties = z.output<typeof HostPropertiesSchema>;
/** The attaching host's properties as a caller writes them. */
export type HostPropertiesInput = z.input<typeof HostPropertiesSchema>;

// ---------------------------------------------------------------- connection info

/** Front-end QoS limits as Cinder passes them (`total_bytes_sec`, `read_iops_sec`…). */
export const QosSpecsSchema = z.record(z.string().regex(/^[a-z_]{1,64}$/, "must be a QoS key like total_iops_sec"), z.number().nonnegative().finite());
/** Front-end QoS limits. */
export type QosSpecs = z.output<typeof QosSpecsSchema>;

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

const LunSchema = z.number().int().min(0).max(16383);

/** iSCSI connection info: one target or, for multipath, parallel arrays of portals/IQNs/LUNs. */
export const IscsiConnectionInfoSchema = z
  .object({
    type: z.literal("iscsi"),
    ...CommonConnectionFields,
    /** True when the caller already discovered the target. */
    targetDiscovered: z.boolean().default(false),
    /** Target IQN (first path). */
    targetIqn: IqnSchema,
    /** Portal `ip:port` (first path). */
    targetPortal: PortalSchema,
    /** LUN (first path). */
    targetLun: LunSchema,
    /** Every portal, for multipath. */
    targetPortals: z.array(PortalSchema).min(1).max(64).optional(),
    /** IQN per portal. */
    targetIqns: z.array(IqnSchema).min(1).max(64).optional(),
    /** LUN per portal. */
    targetLuns: z.array(LunSchema).min(1).max(64).optional(),
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
    /** Logical block size hint. */
    logicalBlockSize: z.number().int().positive().max(65536).optional(),
    /** Physical block size hint. */
    physicalBlockSize: z.number().int().positive().max(1 << 30).optional(),
  })
  .refine(
    (v) => {
      const n = v.targetPortals?.length;
      return n === undefined || ((v.targetIqns?.length ?? n) === n && (v.targetLuns?.length ?? n) === n);
    },
    { message: "targetPortals, targetIqns and targetLuns must have the same length" },
  )
  .refine((v) => v.authMethod === undefined || (v.authUsername !== undefined && v.authPassword !== undefined), {
    message: "authMethod CHAP needs authUsername and authPassword",
  })
  .refine((v) => v.discoveryAuthMethod === undefined || (v.discoveryAuthUsername !== undefined && v.discoveryAuthPassword !== undefined), {
    message: "discoveryAuthMethod CHAP needs discoveryAuthUsername and discoveryAuthPassword",
  });

/** NFS connection info: the share, the file on it and its format. */
export const NfsConnectionInfoSchema = z.object({
  type: z.literal("nfs"),
  ...CommonConnectionFields,
  /** The share, `host:/export`. */
  export: z
    .string()
    .max(1024)
    .regex(/^[A-Za-z0-9][^\s:]*:\/\S*$/, "must be host:/path")
    .refine((s) => !hasControlChar(s) && !s.split("/").includes(".."), `${CONTROL_CHARS_MESSAGE}, nor '..'`),
  /** Volume file name inside the share. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, "must be a plain file name"),
  /** Mount options (comma-separated, validated by the NFS connector's allow-list). */
  options: z.string().max(1024).regex(/^[A-Za-z0-9_.,=:/-]*$/, "must be comma-separated mount options").optional(),
  /** Image format of the file. */
  format: z.enum(["raw", "qcow2"]),
  /** Where the driver's host mounts shares (`<base>/<md5(share)>`); informational for other hosts. */
  mountPointBase: AbsolutePathSchema.optional(),
});

/** Local connection info: a block device on the attaching host itself. */
export const LocalConnectionInfoSchema = z.object({
  type: z.literal("local"),
  ...CommonConnectionFields,
  /** Device path, e.g. `/dev/vg/volume-<id>`. */
  devicePath: FilePathSchema,
});

/**
 * A Ceph name (pool, image, namespace, cluster): letters, digits and `_.-`, not starting with `.`
 * or `-`; never `/`, `@` or `:`, which are QEMU's separators in `pool/image@snap:opt`.
 */
const CephNameSchema = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'");

/** A Ceph monitor address: `host:port` or `[v6]:port`, the port always given. */
const MonitorAddressSchema = z.string().regex(/:\d{1,5}$/, "must be host:port or [ipv6]:port (the port is required)").pipe(hostPortSchema(6789, "a monitor address host:port"));

/** RBD connection info (nova's `rbd` volume type): the image and how to reach the cluster. */
export const RbdConnectionInfoSchema = z
  .object({
    type: z.literal("rbd"),
    ...CommonConnectionFields,
    /** Pool holding the image. */
    pool: CephNameSchema,
    /** RADOS namespace inside the pool, if any. */
    namespace: CephNameSchema.optional(),
    /** Image name. */
    image: CephNameSchema,
    /** Monitor addresses `host:port` or `[v6]:port` (6789 for msgr v1, 3300 for v2). */
    monitors: z.array(MonitorAddressSchema).min(1).max(64),
    /** Cluster name (default `ceph`). */
    clusterName: CephNameSchema.default("ceph"),
    /** Whether cephx authentication is on. */
    authEnabled: z.boolean().default(true),
    /** cephx user without the `client.` prefix (`cinder`, not `client.cinder`). */
    clientId: CephNameSchema.refine((id) => !id.startsWith("client."), "is the cephx user without 'client.' (e.g. 'cinder', not 'client.cinder')").optional(),
    /** libvirt secret (type `ceph`) holding the key, by UUID (needed for a `<disk type='network'>`). */
    secretUuid: z.string().regex(/^([a-fA-F0-9]{32}|[a-fA-F0-9]{8}-([a-fA-F0-9]{4}-){3}[a-fA-F0-9]{12})$/, "must be a libvirt secret UUID").optional(),
    /** libvirt secret (type `ceph`) holding the key, by usage name. */
    secretUsage: z.string().min(1).max(255).regex(/^[^/]+$/, "must not contain '/'").refine((s) => !hasControlChar(s), CONTROL_CHARS_MESSAGE).optional(),
    /** Keyring on the attaching host, when the caller keeps keys in files. */
    keyringPath: FilePathSchema.optional(),
    /** The cephx key itself: only present when the caller asked for it (a secret). */
    key: secretString(z.string().regex(/^[A-Za-z0-9+/=]{16,128}$/, "must be a base64 cephx key")).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.authEnabled && v.clientId === undefined) ctx.addIssue({ code: "custom", path: ["clientId"], message: "authEnabled needs clientId (the cephx user)" });
    const given = (["secretUuid", "secretUsage"] as const).filter((k) => v[k] !== undefined);
    if (given.length > 1) ctx.addIssue({ code: "custom", path: ["secretUsage"], message: "give exactly one of secretUuid and secretUsage, not both" });
    if (!v.authEnabled && given[0] !== undefined) ctx.addIssue({ code: "custom", path: [given[0]], message: "is only used when authEnabled is true" });
  });

/**
 * What `initializeConnection` returns and a connector consumes, discriminated on `type`
 * (`iscsi`, `nfs`, `local`, `rbd`; NVMe-oF will be added).
 */
export const ConnectionInfoSchema = z.discriminatedUnion("type", [IscsiConnectionInfoSchema, NfsConnectionInfoSchema, LocalConnectionInfoSchema, RbdConnectionInfoSchema]);
/** Connection info (parsed). */
export type ConnectionInfo = z.output<typeof ConnectionInfoSchema>;
/** Connection info as a driver returns it or a caller hands it back. */
export type ConnectionInfoInput = z.input<typeof ConnectionInfoSchema>;
/** iSCSI connection info (parsed). */
export type IscsiConnectionInfo = z.output<typeof IscsiConnectionInfoSchema>;
/** NFS connection info (parsed). */
export type NfsConnectionInfo = z.output<typeof NfsConnectionInfoSchema>;
/** Local connection info (parsed). */
export type LocalConnectionInfo = z.output<typeof LocalConnectionInfoSchema>;
/** RBD connection info (parsed). */
export type RbdConnectionInfo = z.output<typeof RbdConnectionInfoSchema>;

// ---------------------------------------------------------------- what a connector hands out

/** A SCSI WWID as sysfs or multipath show it (`3600140…`, `t10.…`, `naa.…`). */
export const ScsiWwidSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,255}$/, "must be a SCSI WWID");

/** What a successful connect hands back (and what disconnect, extend and the libvirt builder take). */
export const AttachedDeviceSchema = z
  .object({
    /** `block` for a device node, `file` for an image file on a mounted share. */
    type: z.enum(["block", "file"]),
    /** Path to use: `/dev/dm-N` (multipath), `/dev/sdX`, `/dev/rbdN`, a local LV, or the volume file on NFS. */
    path: FilePathSchema,
    /** SCSI WWN/WWID (iSCSI), when known. */
    scsiWwn: ScsiWwidSchema.optional(),
    /** Multipath map name (the WWID with user_friendly_names off) when multipath is used. */
    multipathId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, "must be a multipath map name").optional(),
    /** Every path device behind it (`/dev/sdb`, `/dev/sdc`), empty for files. */
    paths: z.array(FilePathSchema.refine((p) => p.startsWith("/dev/"), "must be a device under /dev")).max(64).default([]),
    /** Image format of a file device. */
    format: z.enum(["raw", "qcow2"]).optional(),
    /** Size in bytes, when known. */
    sizeBytes: z.number().int().nonnegative().optional(),
  })
  .refine((d) => d.type === "file" || d.path.startsWith("/dev/"), { message: "a block device path must be under /dev", path: ["path"] });
/** An attached device (parsed). */
export type AttachedDevice = z.output<typeof AttachedDeviceSchema>;
/** An attached device as a connector returns it or a caller hands it back. */
export type AttachedDeviceInput = z.input<typeof AttachedDeviceSchema>;

/** Kinds of host objects a detach removes or reports. */
export const HOST_OBJECT_KINDS = ["session", "node", "device", "map", "mount", "mapping"] as const;

/** Something a disconnect did not remove, and why. */
export const LeftBehindSchema = z.object({
  /** What kind of object remains: an iSCSI session or node record, a SCSI disk, a dm map, a mount, an RBD mapping. */
  kind: z.enum(HOST_OBJECT_KINDS),
  /** Its name (`/dev/sdb`, a map name, `<portal>,<iqn>`, a mount point). */
  name: z.string(),
  /** Why it was left. */
  reason: z.string(),
  /**
   * True when it was kept on purpose and is not an error (a session another LUN still uses, a mount
   * other volumes share); false when removing it failed.
   */
  expected: z.boolean(),
});
/** Something a disconnect left. */
export type LeftBehind = z.output<typeof LeftBehindSchema>;

/** What a disconnect removed and what it left behind (field pain point 3: never silent). */
export const DisconnectReportSchema = z.object({
  /** Objects removed, in order (`map 3600…`, `device /dev/sdb`, `session 127.0.0.1:3260,iqn…`). */
  removed: z.array(z.string()),
  /** Objects still present afterwards; every entry with `expected: false` is a failure. */
  leftBehind: z.array(LeftBehindSchema),
});
/** A disconnect report. */
export type DisconnectReport = z.output<typeof DisconnectReportSchema>;

// ---------------------------------------------------------------- stats

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
