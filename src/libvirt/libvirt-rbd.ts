import { z } from "zod";
import { QosSpecsSchema } from "../core/types.js";
import { HostSchema, IdSchema, PortSchema } from "../core/validation.js";
import type { ReadonlyDeep } from "./libvirt-disk.js";
import { SecretUsageSchema, UUID_PATTERN } from "./libvirt-text.js";
import type { NetworkDiskSource } from "./libvirt-types.js";

/**
 * RBD (Ceph block device) volumes as nova attaches them: QEMU opens the image itself through
 * librbd (`<disk type='network'>`, `<source protocol='rbd' name='pool/image'>`, one `<host>` per
 * monitor, the cephx user and a libvirt secret of type `ceph`). No host connector is involved; an
 * image mapped with the kernel's `rbd` driver is a plain block device (a `local` connection).
 *
 * The connection info is local to this module until the core's ConnectionInfo union gets its
 * `rbd` variant; the fields are those Cinder's RBD driver returns, renamed like the others.
 */

/** A Ceph pool or RBD image name as it may appear in `pool/image`: no `/`, `@` or `:` (QEMU's separators). */
const CephNameSchema = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/, "must be 1-255 letters, digits, '_', '.' or '-', not starting with '.' or '-'");

/**
 * A Ceph monitor address `host:port`: IPv4, `[IPv6]` or a DNS name, and the port (6789 for the
 * msgr v1 protocol, 3300 for v2).
 */
export const CephMonitorSchema = z.string().transform((s, ctx) => {
  const parsed = parseMonitor(s);
  if (parsed === undefined) {
    ctx.addIssue({ code: "custom", message: "must be host:port or [ipv6]:port (IPv4, IPv6 or a DNS name, port 1-65535)" });
    return z.NEVER;
  }
  return `${parsed.name.includes(":") ? `[${parsed.name}]` : parsed.name}:${parsed.port}`;
});

/** Splits a monitor address into host (IPv6 without brackets) and port; undefined when malformed. */
export function parseMonitor(monitor: string): { name: string; port: number } | undefined {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(monitor) ?? /^([^:[\]\s]+):(\d{1,5})$/.exec(monitor);
  const host = m?.[1];
  const port = Number(m?.[2]);
  if (host === undefined || !HostSchema.safeParse(host).success || !PortSchema.safeParse(port).success) return undefined;
  return { name: host, port };
}

/**
 * Connection info of an RBD volume (what Cinder's RBD driver returns from initialize_connection).
 *
 * @example
 * ```ts
 * const rbd: RbdConnectionInput = {
 *   type: "rbd", volumeId: "3e9d0a6e-8b5e-4a0e-9a0e-0b1c2d3e4f50", pool: "volumes",
 *   image: "volume-3e9d0a6e-8b5e-4a0e-9a0e-0b1c2d3e4f50", monitors: ["127.0.0.1:6789", "[::1]:3300"],
 *   clientId: "cinder", authEnabled: true, secretUuid: "457eb676-33da-42ec-9a8c-9293d545c337",
 * };
 * ```
 */
export const RbdConnectionInfoSchema = z
  .object({
    type: z.literal("rbd"),
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
    /** Pool holding the image. */
    pool: CephNameSchema,
    /** Image name (Cinder: `volume-<id>`). */
    image: CephNameSchema,
    /** Every monitor, `host:port`. */
    monitors: z.array(CephMonitorSchema).min(1).max(64),
    /** The cephx user without `client.` (Cinder's `rbd_user`, e.g. `cinder`). */
    clientId: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/, "must be 1-64 letters, digits, '_', '.' or '-'")
      .refine((id) => !id.startsWith("client."), "is the cephx user without 'client.' (e.g. 'cinder', not 'client.cinder')"),
    /** Whether the cluster requires cephx authentication. */
    authEnabled: z.boolean(),
    /** The libvirt secret (type `ceph`) holding the user's key, by UUID. */
    secretUuid: z.string().regex(UUID_PATTERN, "must be a libvirt secret UUID").optional(),
    /** The same secret by usage name. */
    secretUsage: SecretUsageSchema.optional(),
    /** Cluster name (`ceph` when absent); QEMU finds the cluster by its monitors, so the XML does not carry it. */
    clusterName: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/, "must be 1-64 letters, digits, '_' or '-'").optional(),
  })
  .superRefine((c, ctx) => {
    const given = (["secretUuid", "secretUsage"] as const).filter((k) => c[k] !== undefined);
    if (c.authEnabled && given.length !== 1) {
      ctx.addIssue({ code: "custom", path: ["secretUuid"], message: "authEnabled needs exactly one of secretUuid and secretUsage (the libvirt secret of type ceph)" });
    }
    if (!c.authEnabled && given.length > 0) {
      ctx.addIssue({ code: "custom", path: [given[0] ?? "secretUuid"], message: "is only used when authEnabled is true" });
    }
  });
/** RBD connection info (parsed form). */
export type RbdConnectionInfo = z.output<typeof RbdConnectionInfoSchema>;
/** RBD connection info as a driver returns it (input form: defaults not applied, read-only arrays accepted). */
export type RbdConnectionInput = ReadonlyDeep<z.input<typeof RbdConnectionInfoSchema>>;

/**
 * The `<source>` QEMU opens an RBD image with: `pool/image`, every monitor as a `<host>` and,
 * with cephx, the user and the libvirt secret of type `ceph` (never the key itself).
 *
 * @example
 * ```ts
 * rbdSource(RbdConnectionInfoSchema.parse(rbd));
 * // { kind: "network", protocol: "rbd", name: "volumes/volume-…", hosts: [{ name: "127.0.0.1", port: 6789 }, …], auth: {…} }
 * ```
 */
export function rbdSource(c: RbdConnectionInfo): NetworkDiskSource {
  const hosts = c.monitors.map((m) => parseMonitor(m) ?? { name: m });
  const auth = c.authEnabled
    ? { username: c.clientId, secretType: "ceph", ...(c.secretUuid === undefined ? {} : { uuid: c.secretUuid }), ...(c.secretUsage === undefined ? {} : { usage: c.secretUsage }) }
    : undefined;
  return { kind: "network", protocol: "rbd", name: `${c.pool}/${c.image}`, hosts, ...(auth === undefined ? {} : { auth }) };
}
