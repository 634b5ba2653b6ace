import { z } from "zod";
import type { RbdConnectionInfo, RbdConnectionInfoSchema } from "../core/records.js";
import { HostSchema, PortSchema } from "../core/validation.js";
import type { ReadonlyDeep } from "./libvirt-disk.js";
import type { NetworkDiskSource } from "./libvirt-types.js";

/**
 * RBD (Ceph block device) volumes as nova attaches them: QEMU opens the image itself through
 * librbd (`<disk type='network'>`, `<source protocol='rbd' name='pool/image'>`, one `<host>` per
 * monitor, the cephx user and a libvirt secret of type `ceph`). No host connector is involved; an
 * image mapped with the kernel's `rbd` driver is a plain block device (a `local` connection).
 *
 * The connection info is the core's `rbd` ConnectionInfo (the fields Cinder's RBD driver returns,
 * renamed like the others); with cephx the XML needs the libvirt secret (`secretUuid` or
 * `secretUsage`), which the builder requires.
 */

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

/** RBD connection info as the builder takes it (the core's `rbd` ConnectionInfo, read-only arrays accepted). */
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
  const auth = c.authEnabled && c.clientId !== undefined
    ? { username: c.clientId, secretType: "ceph", ...(c.secretUuid === undefined ? {} : { uuid: c.secretUuid }), ...(c.secretUsage === undefined ? {} : { usage: c.secretUsage }) }
    : undefined;
  return { kind: "network", protocol: "rbd", name: `${c.pool}/${c.image}`, hosts, ...(auth === undefined ? {} : { auth }) };
}
