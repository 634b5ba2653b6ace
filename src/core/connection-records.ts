import { z } from "zod";
import {
  AbsolutePathSchema,
  ChapSecretSchema,
  ChapUserSchema,
  FilePathSchema,
  IdSchema,
  IqnSchema,
  PortalSchema,
  CONTROL_CHARS_MESSAGE,
  hasControlChar,
  hostPortSchema,
  secretString,
} from "./validation.js";

/**
 * Connection info: what `initializeConnection` returns and a connector consumes, one schema per
 * transport ({@link Protocol}). Re-exported by `records.ts`.
 */

/** The transports volkit attaches volumes with (one name per protocol, everywhere). */
export const PROTOCOLS = ["iscsi", "nfs", "local", "rbd", "nvmeof"] as const;
/** A transport: `ConnectionInfo.type`, `DriverCapabilities.protocol`, `VolumeStats.storageProtocol`. */
export type Protocol = (typeof PROTOCOLS)[number];
/** Schema of {@link Protocol}. */
export const ProtocolSchema = z.enum(PROTOCOLS);



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
