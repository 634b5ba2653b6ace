import { err, ok, type Result } from "neverthrow";
import { VolkitError } from "../core/errors.js";
import { CACHE_MODES, DISCARD_MODES, DISK_BUSES, IO_MODES, IOTUNE_FIELDS, VIRTIO_MODELS, type DiskAddress, type IoTune } from "./libvirt-options.js";
import type { DiskAuth, DiskDefinition, DiskEncryptionDefinition, DiskSource, NetworkHost } from "./libvirt-types.js";
import { childNamed, childrenNamed, parseXml, type XmlNode } from "./libvirt-xml-reader.js";

/**
 * libvirt `<disk>` XML → {@link DiskDefinition}: the subset volkit writes, read back from what
 * volkit wrote or from `virsh dumpxml`. Elements the model does not cover (`<alias>`,
 * `<backingStore>`, `<address type='ccw'>`…) are ignored; values outside libvirt's enumerations
 * are a `PARSE_ERROR`.
 */

class ParseFailure {
  constructor(readonly error: VolkitError) {}
}

function fail(message: string): ParseFailure {
  return new ParseFailure(new VolkitError("PARSE_ERROR", `libvirt disk XML: ${message}`, { source: "libvirt" }));
}

function oneOf<T extends string>(values: readonly T[], value: string | undefined, what: string): T | undefined | ParseFailure {
  if (value === undefined) return undefined;
  return (values as readonly string[]).includes(value) ? (value as T) : fail(`${what} '${value}' is not one of ${values.join(", ")}`);
}

function uint(value: string | undefined, what: string): number | undefined | ParseFailure {
  if (value === undefined) return undefined;
  const v = value.trim();
  const n = /^0x[0-9a-fA-F]+$/.test(v) ? Number.parseInt(v.slice(2), 16) : /^[0-9]+$/.test(v) ? Number(v) : Number.NaN;
  return Number.isSafeInteger(n) ? n : fail(`${what} '${value}' is not a whole number`);
}

/** Copies the defined entries of `entries` into an object (exactOptionalPropertyTypes-friendly). */
function defined<T extends object>(entries: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)) as T;
}

function readAuth(node: XmlNode | undefined): DiskAuth | undefined | ParseFailure {
  if (node === undefined) return undefined;
  const username = node.attrs.username;
  const secret = childNamed(node, "secret");
  if (username === undefined || secret === undefined) return fail("<auth> needs a username and a <secret>");
  const secretType = secret.attrs.type;
  if (secretType === undefined) return fail("<auth><secret> needs a type");
  return defined<DiskAuth>({ username, secretType, uuid: secret.attrs.uuid, usage: secret.attrs.usage });
}

function readEncryption(node: XmlNode | undefined): DiskEncryptionDefinition | undefined | ParseFailure {
  if (node === undefined) return undefined;
  const format = node.attrs.format;
  if (format === undefined) return fail("<encryption> needs a format");
  const secret = childNamed(node, "secret");
  return defined<DiskEncryptionDefinition>({ format, secretType: secret?.attrs.type, secretUuid: secret?.attrs.uuid, secretUsage: secret?.attrs.usage });
}

function readSource(type: DiskDefinition["type"], disk: XmlNode): DiskSource | undefined | ParseFailure {
  const node = childNamed(disk, "source");
  if (node === undefined) return undefined;
  if (type === "block") return node.attrs.dev === undefined ? undefined : { kind: "block", dev: node.attrs.dev };
  if (type === "file") return node.attrs.file === undefined ? undefined : { kind: "file", file: node.attrs.file };
  const { protocol, name } = node.attrs;
  if (protocol === undefined || name === undefined) return fail("a network <source> needs protocol and name");
  const hosts: NetworkHost[] = [];
  for (const h of childrenNamed(node, "host")) {
    if (h.attrs.name === undefined) return fail("<host> needs a name");
    const port = uint(h.attrs.port, "host port");
    if (port instanceof ParseFailure) return port;
    hosts.push(defined<NetworkHost>({ name: h.attrs.name, port }));
  }
  // <auth> lives in <source> since libvirt 3.9; older documents put it directly in <disk>.
  const auth = readAuth(childNamed(node, "auth") ?? childNamed(disk, "auth"));
  if (auth instanceof ParseFailure) return auth;
  const initiator = childNamed(node, "initiator");
  const initiatorIqn = initiator === undefined ? undefined : childNamed(initiator, "iqn")?.attrs.name;
  return defined<DiskSource>({ kind: "network", protocol, name, hosts, auth, initiatorIqn });
}

function readIoTune(node: XmlNode | undefined): IoTune | undefined | ParseFailure {
  if (node === undefined) return undefined;
  const out: IoTune = {};
  for (const [field, name] of IOTUNE_FIELDS) {
    const child = childNamed(node, name);
    if (child === undefined) continue;
    const value = uint(child.text, name);
    if (value instanceof ParseFailure) return value;
    if (value !== undefined && value !== 0) out[field] = value;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function readAddress(node: XmlNode | undefined): DiskAddress | undefined | ParseFailure {
  if (node === undefined) return undefined;
  const type = node.attrs.type;
  const keys = type === "drive" ? (["controller", "bus", "target", "unit"] as const) : type === "pci" ? (["domain", "bus", "slot", "function"] as const) : undefined;
  if (keys === undefined) return undefined;
  const values: Record<string, number> = {};
  for (const key of keys) {
    const v = uint(node.attrs[key], `address ${key}`);
    if (v instanceof ParseFailure) return v;
    if (v !== undefined) values[key] = v;
  }
  return { type, ...values } as DiskAddress;
}

function readDisk(disk: XmlNode): DiskDefinition | ParseFailure {
  if (disk.name !== "disk") return fail(`expected <disk>, found <${disk.name}>`);
  const type = oneOf(["block", "file", "network"] as const, disk.attrs.type ?? "file", "disk type");
  if (type instanceof ParseFailure || type === undefined) return type ?? fail("no disk type");
  const device = oneOf(["disk", "lun", "cdrom", "floppy"] as const, disk.attrs.device ?? "disk", "disk device");
  if (device instanceof ParseFailure || device === undefined) return device ?? fail("no disk device");
  const model = oneOf(VIRTIO_MODELS, disk.attrs.model, "disk model");
  if (model instanceof ParseFailure) return model;

  const driverNode = childNamed(disk, "driver");
  let driver: DiskDefinition["driver"];
  if (driverNode) {
    const cache = oneOf(CACHE_MODES, driverNode.attrs.cache, "driver cache");
    const io = oneOf(IO_MODES, driverNode.attrs.io, "driver io");
    const discard = oneOf(DISCARD_MODES, driverNode.attrs.discard, "driver discard");
    const iommu = oneOf(["on", "off"] as const, driverNode.attrs.iommu, "driver iommu");
    for (const v of [cache, io, discard, iommu]) if (v instanceof ParseFailure) return v;
    driver = defined<NonNullable<DiskDefinition["driver"]>>({
      name: driverNode.attrs.name,
      type: driverNode.attrs.type,
      cache: cache as Exclude<typeof cache, ParseFailure>,
      io: io as Exclude<typeof io, ParseFailure>,
      discard: discard as Exclude<typeof discard, ParseFailure>,
      iommu: iommu === undefined ? undefined : iommu === "on",
    });
  }

  const source = readSource(type, disk);
  if (source instanceof ParseFailure) return source;

  const targetNode = childNamed(disk, "target");
  const dev = targetNode?.attrs.dev;
  if (targetNode === undefined || dev === undefined) return fail("<target dev> is missing");
  const bus = oneOf(DISK_BUSES, targetNode.attrs.bus, "target bus");
  if (bus instanceof ParseFailure) return bus;

  const iotune = readIoTune(childNamed(disk, "iotune"));
  if (iotune instanceof ParseFailure) return iotune;

  const blockioNode = childNamed(disk, "blockio");
  const logical = uint(blockioNode?.attrs.logical_block_size, "logical_block_size");
  const physical = uint(blockioNode?.attrs.physical_block_size, "physical_block_size");
  if (logical instanceof ParseFailure) return logical;
  if (physical instanceof ParseFailure) return physical;

  const bootOrder = uint(childNamed(disk, "boot")?.attrs.order, "boot order");
  if (bootOrder instanceof ParseFailure) return bootOrder;
  const address = readAddress(childNamed(disk, "address"));
  if (address instanceof ParseFailure) return address;
  // <encryption> sits in <disk> (what volkit and nova write) or, since libvirt 7.x, in <source>.
  const sourceNode = childNamed(disk, "source");
  const encryption = readEncryption(childNamed(disk, "encryption") ?? (sourceNode === undefined ? undefined : childNamed(sourceNode, "encryption")));
  if (encryption instanceof ParseFailure) return encryption;
  const serialNode = childNamed(disk, "serial");

  return defined<DiskDefinition>({
    type,
    device,
    model,
    driver,
    source,
    target: defined<DiskDefinition["target"]>({ dev, bus }),
    serial: serialNode?.text,
    iotune,
    readonly: childNamed(disk, "readonly") !== undefined,
    shareable: childNamed(disk, "shareable") !== undefined,
    blockio: blockioNode ? defined({ logicalBlockSize: logical, physicalBlockSize: physical }) : undefined,
    bootOrder,
    address,
    encryption,
  });
}

/**
 * Reads a `<disk>` element tree (e.g. from {@link parseXml}) into a {@link DiskDefinition}.
 *
 * @example
 * ```ts
 * const disk = diskFromXmlNode(parseXml(xml)._unsafeUnwrap());
 * ```
 */
export function diskFromXmlNode(node: XmlNode): Result<DiskDefinition, VolkitError> {
  const disk = readDisk(node);
  return disk instanceof ParseFailure ? err(disk.error) : ok(disk);
}

/**
 * Parses one `<disk>` element (what {@link buildDiskXml} writes, or a disk cut from
 * `virsh dumpxml`). Fails with `PARSE_ERROR`.
 *
 * @example
 * ```ts
 * const disk = parseDiskXml(buildDiskXml(input)._unsafeUnwrap())._unsafeUnwrap();
 * disk.source; // { kind: "block", dev: "/dev/dm-3" }
 * ```
 */
export function parseDiskXml(xml: string): Result<DiskDefinition, VolkitError> {
  return parseXml(xml).andThen(diskFromXmlNode);
}

/**
 * Parses a whole `<domain>` document (`virsh dumpxml`) and returns its disks in document order.
 * Fails with `PARSE_ERROR` when a disk uses a type volkit does not model (`dir`, `volume`,
 * `nvme`, `vhostuser`).
 *
 * @example
 * ```ts
 * const disks = parseDomainDisks(dumpxml)._unsafeUnwrap();
 * const vdb = disks.find((d) => d.target.dev === "vdb");
 * ```
 */
export function parseDomainDisks(xml: string): Result<DiskDefinition[], VolkitError> {
  return parseXml(xml).andThen((root) => {
    if (root.name !== "domain") return err(fail(`expected <domain>, found <${root.name}>`).error);
    const devices = childNamed(root, "devices");
    const out: DiskDefinition[] = [];
    for (const node of devices ? childrenNamed(devices, "disk") : []) {
      const disk = readDisk(node);
      if (disk instanceof ParseFailure) return err(disk.error);
      out.push(disk);
    }
    return ok(out);
  });
}
