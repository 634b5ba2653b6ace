import { z } from "zod";
import { AbsolutePathSchema, CONTROL_CHARS_MESSAGE, FilePathSchema, hasControlChar, plainTextSchema } from "../../core/validation.js";
import { RootHelperSchema } from "../../exec/root-helper.js";
import { CephClientIdSchema, CephClusterNameSchema, CephKeySchema, MonitorAddressSchema } from "./rbd-connection.js";
import { ImageFeatureSchema, NamespaceNameSchema, PoolNameSchema, RbdQosSchema } from "./rbd-names.js";

const LIBVIRT_UUID = /^([a-fA-F0-9]{32}|[a-fA-F0-9]{8}-([a-fA-F0-9]{4}-){3}[a-fA-F0-9]{12})$/;

/**
 * Configuration of the RBD driver (Cinder's `rbd_*` options, camelCased, validated once). The
 * cluster is reached through the `rbd`/`ceph` CLIs as one cephx client: by cluster name (its
 * `/etc/ceph/<cluster>.conf`), by an explicit config file, or by monitor addresses alone; with a
 * keyring file or the key itself (a secret: written to a 0600 key file, never on a command line,
 * never in logs, errors or connection info unless `exposeKey`).
 *
 * @example
 * ```ts
 * const config = { driver: "rbd", monitors: ["10.0.0.1:6789"], clientId: "cinder", key: process.env.CEPH_KEY,
 *   pool: "volumes", libvirtSecretUuid: "457eb676-33da-42ec-9a8c-9293d545c337" };
 * ```
 */
export const RbdConfigSchema = z
  .object({
    /** Discriminator for `createBackend`. */
    driver: z.literal("rbd"),
    /** Backend name reported in stats (default `rbd-<pool>`). */
    backendName: plainTextSchema().optional().meta({ title: "Backend name", description: "Backend name reported in stats (default `rbd-<pool>`)." }),
    /** Cluster name (`--cluster`; default `ceph`, whose config is `/etc/ceph/ceph.conf`). */
    clusterName: CephClusterNameSchema.optional()
      .meta({ title: "Cluster name", description: "Cluster name (`--cluster`; default `ceph`, whose config is `/etc/ceph/ceph.conf`)." }),
    /** Ceph config file; when absent with `monitors`, none is read at all. */
    confPath: FilePathSchema.optional().meta({ title: "Ceph config file", description: "Ceph config file (`--conf`). When absent: with `monitors`, none is read; without, `/etc/ceph/<cluster>.conf`." }),
    /** Monitor addresses, overriding the config file's `mon host`. */
    monitors: z
      .array(MonitorAddressSchema)
      .min(1)
      .max(32)
      .optional()
      .meta({ title: "Monitors", description: "Monitor addresses (`10.0.0.1:6789`, `v2:10.0.0.1:3300` or `[v2:…,v1:…]`), overriding the config file's `mon host`." }),
    /** cephx client id, without `client.`. */
    clientId: CephClientIdSchema.refine((id) => !id.startsWith("client."), "is the cephx user without 'client.' (e.g. 'cinder', not 'client.cinder')").meta({ title: "Client id", description: "cephx user without the `client.` prefix (Cinder's `rbd_user`, e.g. `cinder`)." }),
    /** Keyring file holding the client's key. */
    keyringPath: FilePathSchema.optional().meta({ title: "Keyring path", description: "Keyring file holding the client's key (default: the CLIs' search path, `/etc/ceph/<cluster>.client.<id>.keyring`…)." }),
    /** The client's key itself (a secret). */
    key: CephKeySchema.optional().meta({ title: "Key", description: "The client's cephx key (secret): written to a 0600 key file for each CLI call, never put on a command line or in logs." }),
    /** Pool holding the volumes. */
    pool: PoolNameSchema.default("volumes").meta({ title: "Pool", description: "Pool holding the volumes (Cinder's `rbd_pool`)." }),
    /** RBD namespace inside the pool. */
    namespace: NamespaceNameSchema.optional().meta({ title: "Namespace", description: "RBD namespace inside the pool (must exist)." }),
    /** Pool for the data objects (an erasure-coded pool with overwrites), metadata staying in `pool`. */
    dataPool: PoolNameSchema.optional().meta({ title: "Data pool", description: "Pool for the volumes' data objects (an erasure-coded pool with `allow_ec_overwrites`); image metadata stays in `pool`. Capacity is read from it." }),
    /** Features of new images; the cluster's `rbd_default_features` when absent. */
    imageFeatures: z
      .array(ImageFeatureSchema)
      .min(1)
      .refine((f) => f.includes("layering"), "must include layering (clones need it)")
      .refine((f) => new Set(f).size === f.length, "must not repeat a feature")
      .optional()
      .meta({ title: "Image features", description: "Features of new images (`layering` required; the kernel client maps layering, exclusive-lock, object-map, fast-diff, deep-flatten). Default: the cluster's `rbd_default_features`." }),
    /** Clone chains longer than this are flattened (0 = every clone is flattened at once). */
    maxCloneDepth: z.number().int().min(0).max(64).default(5).meta({ title: "Max clone depth", description: "A clone whose chain of parents would exceed this many is flattened right after it is made (Cinder's `rbd_max_clone_depth`, 5); 0 = every clone and volume from a snapshot is flattened (a full copy)." }),
    /** Flatten volumes created from snapshots, so they never depend on the snapshot. */
    flattenVolumeFromSnapshot: z.boolean().default(false).meta({ title: "Flatten volumes from snapshots", description: "Copy the snapshot's data into a volume created from it, so the snapshot can be deleted at once (Cinder's `rbd_flatten_volume_from_snapshot`)." }),
    /** What deleting a volume or snapshot that clones depend on does. */
    deleteWithClones: z
      .enum(["trash", "flatten"])
      .default("trash")
      .meta({
        title: "Delete with clones",
        description:
          "Deleting a volume or snapshot that clones still depend on: `trash` keeps its data hidden (the image in the RBD trash, the snapshot renamed `snapshot-<id>.deleted`) until its last clone is deleted; `flatten` copies its data into every clone first and removes it at once.",
      }),
    /** Seconds a command waits for the monitors (always passed: the CLI default waits 300 s). */
    connectTimeoutSec: z.number().int().min(1).max(300).default(10).meta({ title: "Connect timeout (s)", description: "Seconds a command waits for the monitors (`--client-mount-timeout`, `--rados-mon-op-timeout`); always passed, since the CLI default waits 300 s." }),
    /** Seconds one OSD operation may take (0 = librados default, no limit). */
    osdOpTimeoutSec: z.number().int().min(0).max(3600).default(0).meta({ title: "OSD op timeout (s)", description: "Seconds one OSD operation may take before failing (`--rados-osd-op-timeout`; 0 = no limit)." }),
    /** Bound on metadata commands in ms (data-sized ones run to the operation's deadline). */
    commandTimeoutMs: z.number().int().min(1000).max(86_400_000).default(120_000).meta({ title: "Command timeout (ms)", description: "Bound on metadata commands (info, snap, clone…); data-sized ones (flatten, rollback, image copies) run to the operation's deadline." }),
    /** Thin over-subscription ratio for the scheduler. */
    maxOverSubscriptionRatio: z.number().min(1).max(1000).default(20).meta({ title: "Max over-subscription ratio", description: "Thin over-subscription ratio reported in stats (Cinder's default 20)." }),
    /** Space kept free, percent. */
    reservedPercentage: z.number().min(0).max(100).default(0).meta({ title: "Reserved percentage", description: "Space kept free, percent (reported in stats)." }),
    /** Back-end QoS per volume type: librbd limits set on each image of that type. */
    qosSpecs: z
      .record(z.string().min(1).max(255).refine((s) => !hasControlChar(s), CONTROL_CHARS_MESSAGE), RbdQosSchema)
      .default({})
      .meta({
        title: "QoS specs by volume type",
        description:
          "Back-end QoS per volume type name (`{ gold: { iopsLimit: 5000, bpsLimit: 209715200 } }`): set as image QoS settings (`rbd_qos_*`, enforced by every librbd client) on volumes created, cloned or managed with that `volumeType`; volumes of other types carry none.",
      }),
    /** libvirt secret (type ceph) holding the key on the hypervisors, by UUID. */
    libvirtSecretUuid: z.string().regex(LIBVIRT_UUID, "must be a libvirt secret UUID").optional().meta({ title: "libvirt secret UUID", description: "UUID of the libvirt secret (type `ceph`) holding the key on the hypervisors (Cinder's `rbd_secret_uuid`); handed out in connection info." }),
    /** libvirt secret (type ceph) holding the key, by usage name. */
    libvirtSecretUsage: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^/]+$/, "must not contain '/'")
      .refine((s) => !hasControlChar(s), CONTROL_CHARS_MESSAGE)
      .optional()
      .meta({ title: "libvirt secret usage", description: "Usage name of the libvirt secret (type `ceph`) holding the key; alternative to the UUID." }),
    /** Put the key itself into connection info (for hosts that have no keyring). */
    exposeKey: z.boolean().default(false).meta({ title: "Expose key", description: "Put the cephx key itself into connection info (`key`), for attaching hosts that keep no keyring; needs `key`. Off by default: connection info names a libvirt secret or a keyring instead." }),
    /** Keyring path on the attaching hosts, handed out in connection info. */
    hostKeyringPath: FilePathSchema.optional().meta({ title: "Host keyring path", description: "Keyring of the client on the attaching hosts, handed out in connection info (`keyringPath`) for the kernel connector." }),
    /** Directory for the key file on the runner's host. */
    keyfileDir: AbsolutePathSchema.optional().meta({ title: "Key file directory", description: "Directory on the runner's host for the 0600 key file written when `key` is given (default: a fresh `mktemp -d` directory)." }),
    /** Privilege prefix for the default local runner, e.g. `["sudo", "-n"]`. */
    rootHelper: RootHelperSchema.optional(),
  })
  .refine((c) => c.key === undefined || c.keyringPath === undefined, { message: "give either key or keyringPath, not both", path: ["key"] })
  .refine((c) => !c.exposeKey || c.key !== undefined, { message: "exposeKey needs key (the key to hand out)", path: ["exposeKey"] })
  .refine((c) => c.libvirtSecretUuid === undefined || c.libvirtSecretUsage === undefined, { message: "give libvirtSecretUuid or libvirtSecretUsage, not both", path: ["libvirtSecretUsage"] });

/** RBD driver config (input form). */
export type RbdConfig = z.input<typeof RbdConfigSchema>;
/** RBD driver config (parsed form, defaults applied). */
export type ParsedRbdConfig = z.output<typeof RbdConfigSchema>;
