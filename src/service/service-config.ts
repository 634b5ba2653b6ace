import { z } from "zod";
import { HostNameSchema } from "../core/validation.js";
import { BackendNameSchema, DisplayNameSchema } from "./records/record-fields.js";
import { ExtraSpecKeySchema, QosConsumerSchema } from "./records/volume-type-record.js";
import { ServiceBackupRepositoriesSchema } from "./backup-repositories.js";
import { StoreConfigSchema } from "./store/open-store.js";

/**
 * The volume service's configuration: what an orchestrator writes once (a file, a panel's form) and
 * hands to `createVolumeService`. Every field is validated before anything is opened or run; each
 * backend's driver config is validated against its registered driver's schema (built-in or added
 * with `registerDriver`), so any registered driver can be a backend.
 */

const ZoneSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an availability zone name");

/** A name that is also a record id (types and QoS specs are stored under their name). */
const TypeNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit");

/** One backend: a driver config for `createBackend`, the zone it serves and its name. */
export const ServiceBackendConfigSchema = z.object({
  /** Backend name (`volume_backend_name`); default: the name `createBackend` gives it (`lvm-<vg>`, `nfs`…). */
  name: BackendNameSchema.optional().meta({ title: "Name", description: "Backend name (volume_backend_name); default: the driver's default name." }),
  /** Availability zone it serves (default: the scheduler's default zone, `nova`). */
  availabilityZone: ZoneSchema.optional().meta({ title: "Availability zone", description: "Zone the backend serves." }),
  /** The driver config, exactly what `createBackend` takes (`{ driver: "lvm", volumeGroup: … }`). */
  config: z.looseObject({ driver: z.string().min(1).max(64) }).meta({ title: "Driver config", description: "A registered driver's config (see driverConfigJsonSchema)." }),
});
/** A backend entry (input form). */
export type ServiceBackendConfig = z.input<typeof ServiceBackendConfigSchema>;

/** QoS specs (Cinder's `qos-create`): front-end limits become libvirt `<iotune>`. */
export const ServiceQosSpecsConfigSchema = z.object({
  /** Name (also its id). */
  name: TypeNameSchema.meta({ title: "Name", description: "QoS specs name." }),
  /** Who applies them: `front-end` (hypervisor), `back-end` (the storage) or `both`. */
  consumer: QosConsumerSchema.default("front-end").meta({ title: "Consumer", description: "front-end (libvirt iotune), back-end (the driver) or both." }),
  /** Limits: `total_iops_sec`, `read_bytes_sec_max`, `total_iops_sec_per_gb`… */
  specs: z.record(z.string().regex(/^[A-Za-z0-9_:.-]{1,255}$/, "must be a QoS key"), z.union([z.number().finite(), z.string().max(1024)])).default({}).meta({ title: "Specs", description: "Cinder QoS keys and values." }),
});
/** QoS specs entry (input form). */
export type ServiceQosSpecsConfig = z.input<typeof ServiceQosSpecsConfigSchema>;

/** A volume type (a storage tier): extra specs route its volumes to pools. */
export const ServiceVolumeTypeConfigSchema = z.object({
  /** Name (also its id), what callers pass as `volumeType`. */
  name: TypeNameSchema.meta({ title: "Name", description: "Volume type name." }),
  /** Description. */
  description: DisplayNameSchema.optional().meta({ title: "Description", description: "What the type is for." }),
  /** Extra specs as Cinder writes them (`volume_backend_name`, `capabilities:disk_type: "<in> ssd"`, `provisioning:type`, `multiattach: "<is> True"`). */
  extraSpecs: z.record(ExtraSpecKeySchema, z.string().max(1024)).default({}).meta({ title: "Extra specs", description: "Cinder extra specs matched against pool capabilities." }),
  /** Name of the QoS specs its volumes get. */
  qosSpecs: TypeNameSchema.optional().meta({ title: "QoS specs", description: "Name of QoS specs to apply." }),
});
/** A volume type entry (input form). */
export type ServiceVolumeTypeConfig = z.input<typeof ServiceVolumeTypeConfigSchema>;

/** The image-volume cache (Cinder's `image_volume_cache_*`). */
export const ImageCacheConfigSchema = z.object({
  /** Keep one converted volume per image and backend pool; later volumes are clones of it. */
  enabled: z.boolean().default(true).meta({ title: "Enabled", description: "Cache converted images as volumes and clone them." }),
  /** Most GiB of cache volumes per backend (0: no limit); least recently used entries go first. */
  maxSizeGiB: z.number().int().min(0).default(0).meta({ title: "Max size (GiB)", description: "Per-backend size limit, 0 = none." }),
  /** Most cache entries per backend (0: no limit). */
  maxCount: z.number().int().min(0).default(0).meta({ title: "Max count", description: "Per-backend entry limit, 0 = none." }),
});

/** This machine as the service attaches volumes on it (`createHost` options that are config). */
export const ServiceHostConfigSchema = z.object({
  /** Host name reported to drivers (default: this machine's). */
  hostName: HostNameSchema.optional().meta({ title: "Host name", description: "Host name reported to drivers." }),
  /** Each protocol's connector config (`{ iscsi: { multipath: true, enforceMultipath: true } }`), validated when the service opens. */
  connectors: z
    .object({ iscsi: z.looseObject({}).optional(), nfs: z.looseObject({}).optional(), local: z.looseObject({}).optional() })
    .default({})
    .meta({ title: "Connectors", description: "Connector configs by protocol." }),
});

/** Scheduler settings. */
export const ServiceSchedulerConfigSchema = z.object({
  /** Weighers and multipliers (default: CapacityWeigher × 1, spreading). */
  weighers: z
    .array(z.object({ weigher: z.enum(["CapacityWeigher", "AllocatedCapacityWeigher"]), multiplier: z.number().finite().optional() }))
    .optional()
    .meta({ title: "Weighers", description: "CapacityWeigher (default) and AllocatedCapacityWeigher with multipliers." }),
  /** Zone of backends that name none (Cinder's `storage_availability_zone`). */
  defaultAvailabilityZone: ZoneSchema.default("nova").meta({ title: "Default zone", description: "Zone of backends that name none." }),
});

/** Host-assisted copies (migration): the copy engine's tuning. */
export const ServiceCopyConfigSchema = z.object({
  /** Bytes per second cap (0: none). */
  bandwidthLimitBps: z.number().int().min(0).default(0).meta({ title: "Bandwidth limit (bytes/s)", description: "Cap on migration copies, 0 = none." }),
  /** O_DIRECT on both sides (default true). */
  direct: z.boolean().default(true).meta({ title: "Direct I/O", description: "Copy with O_DIRECT." }),
});

/** The whole service configuration. */
export const VolumeServiceConfigSchema = z
  .object({
    /** Backends volumes are placed on. */
    backends: z.array(ServiceBackendConfigSchema).min(1).max(256).meta({ title: "Backends", description: "Driver configs, each with its zone." }),
    /** Volume types (tiers). */
    volumeTypes: z.array(ServiceVolumeTypeConfigSchema).max(1024).default([]).meta({ title: "Volume types", description: "Types with extra specs and QoS." }),
    /** QoS specs types refer to. */
    qosSpecs: z.array(ServiceQosSpecsConfigSchema).max(1024).default([]).meta({ title: "QoS specs", description: "QoS specs by name." }),
    /** Type of volumes created without one. */
    defaultVolumeType: TypeNameSchema.optional().meta({ title: "Default volume type", description: "Type of volumes created without one." }),
    /** Where records live: SQLite file (default), PostgreSQL (several hosts), memory (tests). */
    store: StoreConfigSchema.default({ kind: "sqlite", path: "/var/lib/volkit/service.db", busyTimeoutMs: 10_000 }).meta({ title: "Store", description: "sqlite (path), postgres (connection) or memory." }),
    /** This machine's connectors. */
    host: ServiceHostConfigSchema.default({ connectors: {} }).meta({ title: "Host", description: "This machine's connectors." }),
    /** How often backend stats are refreshed for the scheduler, ms. */
    statsIntervalMs: z.number().int().min(1000).max(3_600_000).default(60_000).meta({ title: "Stats interval (ms)", description: "Backend stats refresh period." }),
    /** The image-volume cache. */
    imageCache: ImageCacheConfigSchema.default({ enabled: true, maxSizeGiB: 0, maxCount: 0 }).meta({ title: "Image cache", description: "Cached image volumes." }),
    /** Scheduler settings. */
    scheduler: ServiceSchedulerConfigSchema.default({ defaultAvailabilityZone: "nova" }).meta({ title: "Scheduler", description: "Weighers and default zone." }),
    /** Copy engine settings for migrations. */
    copy: ServiceCopyConfigSchema.default({ bandwidthLimitBps: 0, direct: true }).meta({ title: "Copy", description: "Migration copy tuning." }),
    /** Backup repositories (directory, NFS share, S3 bucket); backups go to the default one unless named. */
    backupRepositories: ServiceBackupRepositoriesSchema,
    /** Run `reconcile()` when the service opens (default true). */
    reconcileOnOpen: z.boolean().default(true).meta({ title: "Reconcile on open", description: "Recover interrupted operations at start." }),
    /**
     * An operation another host started is treated as abandoned after this long (its process
     * cannot be checked from here). Operations of this host's dead processes are recovered at once.
     */
    staleAfterMs: z.number().int().min(0).default(6 * 3_600_000).meta({ title: "Stale after (ms)", description: "When another host's unfinished operation is recovered." }),
  })
  .superRefine((c, ctx) => {
    const unique = (names: readonly string[], path: string): void => {
      const seen = new Set<string>();
      names.forEach((n, i) => {
        if (seen.has(n)) ctx.addIssue({ code: "custom", path: [path, i, "name"], message: `${n} is configured twice` });
        seen.add(n);
      });
    };
    unique(c.volumeTypes.map((t) => t.name), "volumeTypes");
    unique(c.qosSpecs.map((q) => q.name), "qosSpecs");
    unique(c.backends.flatMap((b) => (b.name === undefined ? [] : [b.name])), "backends");
    const qos = new Set(c.qosSpecs.map((q) => q.name));
    c.volumeTypes.forEach((t, i) => {
      if (t.qosSpecs !== undefined && !qos.has(t.qosSpecs)) ctx.addIssue({ code: "custom", path: ["volumeTypes", i, "qosSpecs"], message: `no QoS specs named ${t.qosSpecs}` });
    });
    if (c.defaultVolumeType !== undefined && !c.volumeTypes.some((t) => t.name === c.defaultVolumeType)) {
      ctx.addIssue({ code: "custom", path: ["defaultVolumeType"], message: `no volume type named ${c.defaultVolumeType}` });
    }
  });
/** The service configuration as written. */
export type VolumeServiceConfig = z.input<typeof VolumeServiceConfigSchema>;
/** The service configuration, parsed (defaults applied). */
export type ParsedVolumeServiceConfig = z.output<typeof VolumeServiceConfigSchema>;
