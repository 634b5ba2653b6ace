import { err, ok, type Result } from "neverthrow";
import type { z } from "zod";
import type { VolkitError } from "../core/errors.js";
import type { ConnectionInfo, IscsiConnectionInfo } from "../core/records.js";
import { parsePortal } from "../core/validation.js";
import { AUTH_USERNAME_PATTERN, type DiskFormat, type DiskXmlInputSchema, type ParsedDiskOptions } from "./libvirt-options.js";
import { rbdSource } from "./libvirt-rbd.js";
import { ruleError } from "./libvirt-rules.js";
import type { DiskAuth, DiskDefinition, DiskSource, NetworkDiskSource } from "./libvirt-types.js";

/**
 * Where the guest's data comes from: the device a host connector attached (host mode) or the
 * server QEMU connects to itself (network mode: libiscsi for iSCSI, librbd for RBD).
 */

/** Connection info the builder accepts (parsed form). */
export type DiskConnection = ConnectionInfo;

type ParsedDevice = NonNullable<z.output<typeof DiskXmlInputSchema>["device"]>;

/** The `<disk type>`, its `<source>` and the image format the source is known to have. */
export interface ResolvedSource {
  readonly type: DiskDefinition["type"];
  readonly source: DiskSource;
  readonly knownFormat: DiskFormat | undefined;
}

const ISCSI_ONLY_OPTIONS = ["portal", "initiatorIqn", "chapSecret"] as const;

/** Host mode: the block device or file the connector attached. */
export function hostSource(c: DiskConnection, device: ParsedDevice | undefined, o: ParsedDiskOptions): Result<ResolvedSource, VolkitError> {
  if (c.type === "rbd") {
    return err(
      ruleError("host-protocol", "an RBD connection is opened by QEMU's librbd: use mode 'network' (an image mapped with the kernel's rbd driver is a plain block device: describe it with a local connection)", {
        protocol: c.type,
      }),
    );
  }
  const networkOnly = ISCSI_ONLY_OPTIONS.find((k) => o[k] !== undefined);
  if (networkOnly !== undefined) {
    return err(ruleError("network-only-option", `option ${networkOnly} only applies to mode 'network'; in mode 'host' the connector already logged in`, { option: networkOnly }));
  }
  if (device === undefined) {
    return err(ruleError("device-required", `mode 'host' needs the AttachedDevice connectVolume returned for this ${c.type} connection`));
  }
  const expected = c.type === "nfs" ? "file" : "block";
  if (device.type !== expected) {
    return err(ruleError("device-type", `a ${c.type} connection attaches a ${expected} device, but the device is a ${device.type} (${device.path})`, { expected, actual: device.type }));
  }
  if (expected === "block" && device.paths.length > 1 && device.paths.includes(device.path)) {
    return err(
      ruleError("multipath-single-path", `device ${device.path} is one path of a ${device.paths.length}-path attachment: give the guest the multipath device, never a member path`, {
        path: device.path,
        paths: device.paths,
      }),
    );
  }
  if (c.type === "nfs") {
    if (device.format !== undefined && device.format !== c.format) {
      return err(ruleError("format-mismatch", `the NFS connection says format ${c.format} but the attached file says ${device.format}`, { connection: c.format, device: device.format }));
    }
    return ok({ type: "file", source: { kind: "file", file: device.path }, knownFormat: c.format });
  }
  return ok({ type: "block", source: { kind: "block", dev: device.path }, knownFormat: device.format });
}

interface IscsiPath {
  readonly portal: string;
  readonly iqn: string;
  readonly lun: number;
}

/** Every path of an iSCSI connection (os-brick's `_get_all_targets`). */
function iscsiPaths(c: IscsiConnectionInfo): IscsiPath[] {
  const portals = c.targetPortals ?? [c.targetPortal];
  return portals.map((portal, i) => ({ portal, iqn: c.targetIqns?.[i] ?? c.targetIqn, lun: c.targetLuns?.[i] ?? c.targetLun }));
}

function checkAuthUsername(username: string | undefined, what: string): Result<string, VolkitError> {
  if (username === undefined || !AUTH_USERNAME_PATTERN.test(username)) {
    return err(
      ruleError("auth-username", `${what} ${username === undefined ? "is missing" : `'${username}' has characters`} libvirt's schema refuses in <auth username> (allowed: [A-Za-z0-9_+-])`, {
        username,
      }),
    );
  }
  return ok(username);
}

function iscsiNetworkSource(c: IscsiConnectionInfo, o: ParsedDiskOptions): Result<ResolvedSource, VolkitError> {
  const paths = iscsiPaths(c);
  if (o.portal === undefined && paths.length > 1) {
    return err(
      ruleError(
        "network-portal",
        `the connection has ${paths.length} portals (${paths.map((p) => p.portal).join(", ")}) but libvirt accepts one <host> for protocol iscsi and QEMU's initiator has no multipath: set options.portal to pick one, or use mode 'host' with the multipath device`,
        { portals: paths.map((p) => p.portal) },
      ),
    );
  }
  const index = o.portal ?? 0;
  const path = paths[index];
  if (path === undefined) {
    return err(ruleError("network-portal", `options.portal ${index} is out of range: the connection has ${paths.length} portal(s)`, { portal: index }));
  }
  const hostPort = parsePortal(path.portal);
  if (hostPort === undefined) {
    return err(ruleError("network-portal", `portal ${path.portal} is not host:port`, { portal: path.portal }));
  }
  let auth: DiskAuth | undefined;
  if (c.authMethod === "CHAP") {
    const secret = o.chapSecret;
    if (secret === undefined) {
      return err(
        ruleError("chap-secret-required", "the connection uses CHAP: pass options.chapSecret { uuid } or { usage } naming the libvirt secret (type iscsi) that holds the password"),
      );
    }
    const username = checkAuthUsername(c.authUsername, "CHAP user");
    if (username.isErr()) return err(username.error);
    if ((secret.uuid === undefined) === (secret.usage === undefined)) {
      return err(ruleError("secret-uuid-xor-usage", "options.chapSecret needs exactly one of uuid and usage", { given: Object.keys(secret) }));
    }
    auth = { username: username.value, secretType: "iscsi", ...(secret.uuid === undefined ? {} : { uuid: secret.uuid }), ...(secret.usage === undefined ? {} : { usage: secret.usage }) };
  } else if (o.chapSecret !== undefined) {
    return err(ruleError("chap-secret-unused", "options.chapSecret was given but the connection does not use CHAP"));
  }
  const source: NetworkDiskSource = {
    kind: "network",
    protocol: "iscsi",
    name: `${path.iqn}/${path.lun}`,
    hosts: [{ name: hostPort.host, port: hostPort.port }],
    ...(auth === undefined ? {} : { auth }),
    ...(o.initiatorIqn === undefined ? {} : { initiatorIqn: o.initiatorIqn }),
  };
  return ok({ type: "network", source, knownFormat: undefined });
}

/** Network mode: QEMU connects to the iSCSI portal or the Ceph monitors itself. */
export function networkSource(c: DiskConnection, o: ParsedDiskOptions): Result<ResolvedSource, VolkitError> {
  if (c.type === "iscsi") return iscsiNetworkSource(c, o);
  if (c.type !== "rbd") {
    return err(ruleError("network-protocol", `mode 'network' uses QEMU's own iSCSI initiator or librbd; a ${c.type} connection needs mode 'host'`, { protocol: c.type }));
  }
  const iscsiOnly = ISCSI_ONLY_OPTIONS.find((k) => o[k] !== undefined);
  if (iscsiOnly !== undefined) {
    return err(ruleError("iscsi-only-option", `option ${iscsiOnly} only applies to iSCSI; an RBD connection names its monitors and its libvirt secret itself`, { option: iscsiOnly }));
  }
  if (c.authEnabled) {
    const username = checkAuthUsername(c.clientId, "cephx user");
    if (username.isErr()) return err(username.error);
  }
  // RBD images are raw to QEMU (a format on top would be a qcow2 inside RBD, which Cinder never makes).
  return ok({ type: "network", source: rbdSource(c), knownFormat: "raw" });
}
