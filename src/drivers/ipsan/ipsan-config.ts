import { z } from "zod";
import { AbsolutePathSchema, ChapUserSchema, IqnSchema, plainTextSchema, secretString } from "../../core/validation.js";
import { RestUrlSchema, type IpsanConnectionInput } from "./ipsan-connection.js";
import { ArrayChapSecretSchema } from "./ipsan-host-api.js";
import { QosLimitsSchema } from "./ipsan-qos-api.js";
import { ArrayNameSchema } from "./ipsan-rest.js";

/** An IPv4 address of one of the array's iSCSI ports. */
const PortIpSchema = z.ipv4();

/** CHAP credentials of one initiator (the array's rule: a 12-16 character secret). */
export const IpsanChapSchema = z
  .object({
    /** CHAP user name. */
    user: ChapUserSchema.meta({ title: "CHAP user", description: "CHAP user name the initiator logs in with." }),
    /** CHAP secret (12-16 characters; a secret, never logged). */
    password: secretString(ArrayChapSecretSchema).meta({ title: "CHAP secret", description: "CHAP secret, 12-16 characters (the array's rule); never logged.", writeOnly: true }),
  })
  .strict();

/** Settings of one host initiator (Cinder's `<Initiator Name=… CHAPinfo=… TargetIP=… TargetPortGroup=…>`). */
export const IpsanInitiatorSchema = z
  .object({
    /** The initiator's IQN. */
    iqn: IqnSchema.meta({ title: "Initiator IQN", description: "The host initiator these settings apply to." }),
    /** CHAP for its sessions (omit: no CHAP). */
    chap: IpsanChapSchema.optional().meta({ title: "CHAP", description: "CHAP credentials the array requires of this initiator (omit for none)." }),
    /** Use only these iSCSI port IPs for it (overrides `iscsi.targetPortals`). */
    targetPortals: z.array(PortIpSchema).min(1).max(64).optional().meta({ title: "Target portals", description: "IPv4 addresses of the array's iSCSI ports this initiator uses (overrides iscsi.targetPortals)." }),
    /** Use this existing port group for it (overrides `iscsi.portGroup`). */
    portGroup: ArrayNameSchema.optional().meta({ title: "Port group", description: "Existing port group on the array whose ports this initiator uses (overrides iscsi.portGroup)." }),
  })
  .strict();

/** Settings of one host initiator. */
export type IpsanInitiatorConfig = z.output<typeof IpsanInitiatorSchema>;

/**
 * Which of the array's iSCSI ports a host is given. Default: every healthy port. With
 * `targetPortals`, only those ports, and each host's mapping view gets a port group of its own
 * holding them (the array then exposes the LUN on those ports only). With `portGroup`, the ports of
 * that existing group, which is associated with each host's mapping view.
 */
export const IpsanIscsiSchema = z
  .object({
    /** IPv4 addresses of the iSCSI ports to use (Cinder's `DefaultTargetIP`, several allowed). */
    targetPortals: z.array(PortIpSchema).min(1).max(64).optional().meta({ title: "Target portals", description: "IPv4 addresses of the array's iSCSI ports to use; each host's mapping view gets a port group holding them. Omit to use every healthy port." }),
    /** An existing port group whose healthy ports are used. */
    portGroup: ArrayNameSchema.optional().meta({ title: "Port group", description: "Name of an existing port group on the array; its healthy ports are used and it is associated with each host's mapping view." }),
    /** Per-initiator settings (CHAP, portals, port group). */
    initiators: z.array(IpsanInitiatorSchema).max(4096).default([]).meta({ title: "Initiators", description: "Per-initiator settings: CHAP credentials, target portals or port group." }),
  })
  .strict()
  .refine((s) => s.targetPortals === undefined || s.portGroup === undefined, "give targetPortals or portGroup, not both")
  .refine((s) => s.initiators.every((i) => i.targetPortals === undefined || i.portGroup === undefined), "an initiator gives targetPortals or portGroup, not both")
  .refine((s) => new Set(s.initiators.map((i) => i.iqn)).size === s.initiators.length, "each initiator IQN may appear once");

/** TLS of the REST API, with the titles a panel shows. */
const TlsConfigSchema = z
  .object({
    verify: z.boolean().default(true).meta({ title: "Verify TLS", description: "Verify the array's certificate (default on). Turning it off must be explicit and is logged as a warning." }),
    caFile: AbsolutePathSchema.optional().meta({ title: "CA bundle file", description: "PEM CA bundle to trust for the array's certificate (arrays ship self-signed ones)." }),
    ca: z.string().max(1024 * 1024).optional().meta({ title: "CA bundle", description: "The same CA bundle as PEM text." }),
    verifyHostname: z.boolean().default(true).meta({ title: "Verify host name", description: "Also check that the certificate names the URL's host (arrays' factory certificates rarely do; false keeps the chain check, logged)." }),
  })
  .strict();

/** Ways to make a full copy of a LUN or snapshot on the array. */
export const COPY_METHODS = ["auto", "lun-copy", "clone-pair"] as const;

/**
 * Configuration of the IP-SAN driver for OceanStor-style arrays (Cinder's Huawei options, and the
 * forks' `<vendor>_sanip`, `_storagepool`, `_max_clone_depth`, `_flatten_volume_from_snapshot`,
 * camelCased). The password and CHAP secrets are registered as secrets when the config is parsed.
 *
 * @example
 * ```ts
 * const config = {
 *   driver: "ipsan",
 *   restUrls: ["https://10.0.0.5:8088/deviceManager/rest/", "https://10.0.0.6:8088/deviceManager/rest/"],
 *   user: "volkit", password: process.env.ARRAY_PASSWORD,
 *   tls: { caFile: "/etc/volkit/array-ca.pem" },
 *   storagePools: ["StoragePool001"], lunType: "thin",
 *   iscsi: { initiators: [{ iqn: "iqn.1994-05.com.redhat:node1", chap: { user: "node1", password: "Chap-Secret-01" } }] },
 *   qosSpecs: { gold: { maxIops: 5000 } },
 * };
 * ```
 */
export const IpsanConfigSchema = z
  .object({
    /** Discriminator for `createBackend`. */
    driver: z.literal("ipsan").meta({ title: "Driver", description: "The IP-SAN driver for OceanStor-style arrays." }),
    /** Backend name reported in stats (default `ipsan-<first pool>`). */
    backendName: plainTextSchema().optional().meta({ title: "Backend name", description: "Backend name reported in stats (default `ipsan-<first pool>`)." }),
    /** REST base URLs, one per controller, tried in turn (Cinder's `RestURL`). */
    restUrls: z.array(RestUrlSchema).min(1).max(16).meta({ title: "REST URLs", description: "REST base URLs of the controllers (`https://<ip>:8088/deviceManager/rest/`), tried in turn until one answers." }),
    /** Array user. */
    user: plainTextSchema(64).regex(/^[^\s]+$/, "must not contain whitespace").meta({ title: "User", description: "Array user the driver logs in as." }),
    /** Array password (a secret: never in logs, errors or events). */
    password: secretString(z.string().min(4, "must be at least 4 characters").max(256)).meta({ title: "Password", description: "Array password; never logged.", writeOnly: true }),
    /** vStore to log in to (multi-tenant arrays). */
    vstoreName: plainTextSchema(64).optional().meta({ title: "vStore", description: "vStore to log in to on multi-tenant arrays (omit: the system vStore)." }),
    /** TLS settings of the REST API. */
    tls: TlsConfigSchema.default({ verify: true, verifyHostname: true }).meta({ title: "TLS", description: "TLS settings of the REST API: verification (default on) and CA bundle." }),
    /** Storage pools volumes are created in (Cinder's `StoragePool`, several allowed). */
    storagePools: z.array(ArrayNameSchema).min(1).max(64).meta({ title: "Storage pools", description: "Storage pools of the array volumes are created in; each is a pool in the stats. A volume goes to the pool its metadata `pool` names, else to the one with the most free space." }),
    /** Thin or thick LUNs (Cinder's `LUNType`). */
    lunType: z.enum(["thin", "thick"]).default("thin").meta({ title: "LUN type", description: "New LUNs are thin (allocated on write) or thick (fully allocated)." }),
    /** Which iSCSI ports hosts use, and per-initiator CHAP. */
    iscsi: IpsanIscsiSchema.default({ initiators: [] }).meta({ title: "iSCSI", description: "Which of the array's iSCSI ports hosts use (target portals or a port group) and per-initiator CHAP." }),
    /** How full copies are made: LUN copy, clone pair, or `auto` (clone pairs on V600R003C00 and later). */
    copyMethod: z.enum(COPY_METHODS).default("auto").meta({ title: "Copy method", description: "How volumes from snapshots and clones are copied: `lun-copy`, `clone-pair` (Dorado V6), or `auto` (clone pairs on V600R003C00 and later, else LUN copy)." }),
    /** Speed of LUN copies, clone pairs, splits and rollbacks (Cinder's `LUNcopySpeed`). */
    copySpeed: z.enum(["low", "medium", "high", "highest"]).default("medium").meta({ title: "Copy speed", description: "Priority of LUN copies, clone pair syncs, clone splits and snapshot rollbacks on the array." }),
    /** Longest wait for a new LUN to become ready (Cinder's `lun_ready_wait_interval` × 10). */
    lunReadyTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000).meta({ title: "LUN ready timeout (ms)", description: "Longest wait for a new LUN to be healthy and online before data is copied into it." }),
    /** Longest wait for one copy, clone split or rollback (Cinder's `lun_timeout`, 12 h). */
    copyTimeoutMs: z.number().int().min(1_000).max(7 * 24 * 3_600_000).default(12 * 3_600_000).meta({ title: "Copy timeout (ms)", description: "Longest wait for one LUN copy, clone pair sync, clone split or rollback (the operation's deadline may end it sooner)." }),
    /**
     * Deepest chain of linked clone LUNs (HyperClone): a clone or a volume from a snapshot is a
     * linked clone while the chain stays this short, else a full copy. 0 (default) = always a full
     * copy, as Cinder's Huawei driver does.
     */
    maxCloneDepth: z.number().int().min(0).max(16).default(0).meta({ title: "Max clone depth", description: "Deepest chain of linked clone LUNs; deeper clones are full copies. 0 = every clone is a full copy (LUN copy or clone pair)." }),
    /** Volumes from snapshots are always full copies, even when a linked clone would do. */
    flattenFromSnapshot: z.boolean().default(false).meta({ title: "Flatten volumes from snapshots", description: "Volumes created from snapshots are full copies, independent of the snapshot, even when linked clones are allowed." }),
    /** Back-end QoS per volume type (Huawei's `maxIOPS`, `maxBandWidth`, `minIOPS`, `latency`…, camelCased). */
    qosSpecs: z
      .record(z.string().min(1).max(255), QosLimitsSchema)
      .default({})
      .meta({ title: "QoS specs", description: "Back-end QoS limits by volume type name: a volume of that type is put in a QoS policy with these limits (upper and lower limits cannot be mixed)." }),
    /** Thin over-subscription ratio reported for the pools. */
    maxOverSubscriptionRatio: z.number().min(1).max(1000).default(20).meta({ title: "Max over-subscription ratio", description: "How far provisioned thin capacity may exceed a pool's size (reported to schedulers)." }),
    /** Space kept free in each pool, percent. */
    reservedPercentage: z.number().min(0).max(100).default(0).meta({ title: "Reserved percentage", description: "Space kept free in each pool, percent (reported to schedulers)." }),
    /** Bound of one REST request (default 52 s). */
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(52_000).meta({ title: "Request timeout (ms)", description: "Bound of one REST request (the operation's deadline may end it sooner)." }),
    /** Bound of one login attempt per URL (default 10 s). */
    loginTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).meta({ title: "Login timeout (ms)", description: "Bound of one login attempt on one REST URL." }),
    /** Retries of a transient REST failure. */
    retries: z.number().int().min(0).max(10).default(3).meta({ title: "Retries", description: "Retries of a transient REST failure (a write only when it never reached the array)." }),
    /** REST requests in flight at most. */
    maxConcurrentRequests: z.number().int().min(1).max(256).default(20).meta({ title: "Max concurrent requests", description: "REST requests in flight to the array at most." }),
  })
  .strict();

/** IP-SAN driver config (input form). */
export type IpsanConfig = z.input<typeof IpsanConfigSchema>;
/** IP-SAN driver config (parsed form, defaults applied). */
export type ParsedIpsanConfig = z.output<typeof IpsanConfigSchema>;

/** The REST client's connection settings of a parsed config. */
export function connectionOf(config: ParsedIpsanConfig): IpsanConnectionInput {
  return {
    restUrls: config.restUrls,
    user: config.user,
    password: config.password,
    ...(config.vstoreName === undefined ? {} : { vstoreName: config.vstoreName }),
    tls: {
      verify: config.tls.verify,
      verifyHostname: config.tls.verifyHostname,
      ...(config.tls.caFile === undefined ? {} : { caFile: config.tls.caFile }),
      ...(config.tls.ca === undefined ? {} : { ca: config.tls.ca }),
    },
    requestTimeoutMs: config.requestTimeoutMs,
    loginTimeoutMs: config.loginTimeoutMs,
    retries: config.retries,
    maxConcurrentRequests: config.maxConcurrentRequests,
  };
}
