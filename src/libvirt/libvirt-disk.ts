import { err, ok, type Result } from "neverthrow";
import type { z } from "zod";
import type { AttachedDevice } from "../core/records.js";
import type { VolkitError } from "../core/errors.js";
import type { ConnectionInfo, ConnectionInfoSchema } from "../core/records.js";
import { validate } from "../core/validation.js";
import { checkAddress, checkTarget } from "./libvirt-address.js";
import {
  DiskXmlInputSchema,
  type CacheMode,
  type DiscardMode,
  type DiskBus,
  type DiskFormat,
  type DiskOptions,
  type IoMode,
  type ParsedDiskOptions,
} from "./libvirt-options.js";
import { checkIoTune, iotuneFromQosSpecs } from "./libvirt-qos.js";
import type { RbdConnectionInput } from "./libvirt-rbd.js";
import { renderDiskXml } from "./libvirt-render.js";
import { ruleError } from "./libvirt-rules.js";
import { SERIAL_MAX_BYTES, serialFromVolumeId } from "./libvirt-serial.js";
import { hostSource, networkSource, type DiskConnection } from "./libvirt-source.js";
import type { DiskBlockIo, DiskDefinition } from "./libvirt-types.js";

/** `T` with every property and array read-only (the builder only reads its input). */
export type ReadonlyDeep<T> = T extends readonly (infer U)[] ? readonly ReadonlyDeep<U>[] : T extends object ? { readonly [K in keyof T]: ReadonlyDeep<T[K]> } : T;

/** Connection info as a driver returns it, or in its input form (defaults not yet applied). */
export type ConnectionInfoInput = ConnectionInfo | ReadonlyDeep<z.input<typeof ConnectionInfoSchema>>;

/**
 * Input of {@link buildDiskXml}: the connection a driver returned, the device the host connector
 * attached (host mode) and the disk options.
 */
export interface DiskXmlInput {
  /** From the driver's `initializeConnection` (RBD: see {@link RbdConnectionInput}). */
  readonly connection: ConnectionInfoInput | RbdConnectionInput;
  /** From the connector's `connectVolume`; required in host mode, ignored in network mode. */
  readonly device?: AttachedDevice | undefined;
  /** Guest-side options. */
  readonly options: DiskOptions;
}

/**
 * Buses whose guest device can carry discard requests (virtio-blk since QEMU 4.0, scsi-hd,
 * ide/ahci TRIM). usb-storage, sd and xen guests never see them.
 *
 * @example
 * ```ts
 * DISCARD_BUSES.includes("usb"); // false
 * ```
 */
export const DISCARD_BUSES: readonly DiskBus[] = ["virtio", "scsi", "sata", "ide"];
/** Buses that offer ejectable media for a CD-ROM. */
export const CDROM_BUSES: readonly DiskBus[] = ["ide", "sata", "scsi", "usb"];
/**
 * Buses libvirt's QEMU driver can start an x86 guest with: `xen` is the Xen hypervisor's
 * paravirtual bus (libvirt refuses it when a QEMU guest starts), `sd` an SD card slot QEMU's x86
 * machines do not have, `fdc` floppies only.
 */
export const QEMU_DISK_BUSES: readonly DiskBus[] = ["virtio", "scsi", "sata", "ide", "usb"];

const DIRECT_CACHE_MODES: readonly CacheMode[] = ["none", "directsync"];

type Parsed = z.output<typeof DiskXmlInputSchema>;

function isPowerOfTwoBlockSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 512 && n <= 2 * 1024 * 1024 && (n & (n - 1)) === 0;
}

function resolveBlockIo(c: DiskConnection, o: ParsedDiskOptions, bus: DiskBus): Result<DiskBlockIo | undefined, VolkitError> {
  const hints = c.type === "iscsi" ? { logical: c.logicalBlockSize, physical: c.physicalBlockSize } : { logical: undefined, physical: undefined };
  const logical = o.blockio ? o.blockio.logicalBlockSize : hints.logical;
  // QEMU assumes 512 for a physical block size it cannot probe (an image file) and then refuses
  // a larger logical one: a logical size alone also sets the physical one.
  const givenPhysical = o.blockio ? o.blockio.physicalBlockSize : hints.physical;
  const physical = givenPhysical ?? (logical !== undefined && logical > 512 ? logical : undefined);
  for (const [name, value] of [
    ["logical", logical],
    ["physical", physical],
  ] as const) {
    if (value !== undefined && !isPowerOfTwoBlockSize(value)) {
      return err(ruleError("blockio-size", `${name} block size ${value} must be a power of two from 512 to 2 MiB (QEMU's rule)`, { [name]: value }));
    }
  }
  if (logical !== undefined && physical !== undefined && logical > physical) {
    return err(ruleError("blockio-order", `logical block size ${logical} is larger than physical block size ${physical}; QEMU refuses that`, { logical, physical }));
  }
  if (logical !== undefined && logical !== 512 && (bus === "ide" || bus === "sata")) {
    return err(
      ruleError("blockio-bus", `bus ${bus} needs a logical block size of 512, not ${logical}: QEMU's IDE/AHCI drives discard in 512-byte units ("discard_granularity must be a multiple of logical_block_size")`, {
        bus,
        logical,
      }),
    );
  }
  if (logical === undefined && physical === undefined) return ok(undefined);
  return ok({ ...(logical === undefined ? {} : { logicalBlockSize: logical }), ...(physical === undefined ? {} : { physicalBlockSize: physical }) });
}

function resolveParsed({ connection: c, device, options: o }: Parsed): Result<DiskDefinition, VolkitError> {
  const bus = o.target.bus;
  if (bus === "fdc") return err(ruleError("fdc-bus", "bus fdc is for floppy drives; libvirt refuses it for a disk, LUN or CD-ROM", { bus }));
  if (!QEMU_DISK_BUSES.includes(bus)) {
    return err(
      ruleError(
        "bus-unsupported",
        bus === "xen"
          ? "bus xen is the Xen hypervisor's paravirtual bus: libvirt's QEMU driver refuses it when the guest starts; use virtio"
          : "bus sd is an SD card slot, which QEMU's x86 machines (pc, q35) do not have; use virtio",
        { bus },
      ),
    );
  }
  const target = checkTarget(o.target.dev, bus, o.device, o.address);
  if (target.isErr()) return err(target.error);
  const placed = checkAddress(o.address, bus, o.scsiController);
  if (placed.isErr()) return err(placed.error);

  const mode = o.mode ?? (c.type === "rbd" ? "network" : "host");
  const resolved = mode === "host" ? hostSource(c, device, o) : networkSource(c, o);
  if (resolved.isErr()) return err(resolved.error);
  const { type, source, knownFormat } = resolved.value;

  // Guest device kind.
  if (o.device === "lun") {
    if (bus !== "scsi") return err(ruleError("lun-bus", `device 'lun' (SCSI passthrough) needs bus scsi, not ${bus}; QEMU no longer passes SCSI commands through virtio-blk`, { bus }));
    if (type === "file" || (source.kind === "network" && source.protocol !== "iscsi")) {
      return err(ruleError("lun-source", `device 'lun' needs a block device or an iSCSI network source; ${type === "file" ? "an NFS file" : `a ${source.kind === "network" ? source.protocol : type} source`} cannot take SCSI commands`));
    }
    if (typeof o.serial === "string") return err(ruleError("lun-serial", "device 'lun' reports the LUN's own serial; libvirt refuses a <serial> on it"));
    if (o.encryption?.format === "luks") return err(ruleError("lun-encryption", "device 'lun' bypasses QEMU's block layer, so QEMU cannot decrypt LUKS: use device 'disk' or decrypt on the host"));
  }
  if (o.device === "cdrom") {
    if (!CDROM_BUSES.includes(bus)) return err(ruleError("cdrom-bus", `a cdrom needs a bus with ejectable media (${CDROM_BUSES.join(", ")}), not ${bus}`, { bus }));
    if (o.readonly === false) return err(ruleError("cdrom-readonly", "a cdrom is always read-only: readonly cannot be false"));
  }

  // Format.
  const explicitFormat = o.driver?.type;
  if (explicitFormat !== undefined && knownFormat !== undefined && explicitFormat !== knownFormat) {
    return err(ruleError("format-mismatch", `driver.type ${explicitFormat} contradicts the volume's format ${knownFormat}`, { explicit: explicitFormat, known: knownFormat }));
  }
  const format: DiskFormat = explicitFormat ?? knownFormat ?? "raw";
  if (o.device === "lun" && format !== "raw") return err(ruleError("lun-format", `device 'lun' must use format raw, not ${format}`, { format }));

  // Read-only and shared.
  if (c.accessMode === "ro" && o.readonly === false) {
    return err(ruleError("readonly-access-mode", "the connection is read-only (accessMode 'ro'); options.readonly cannot be false"));
  }
  const readonly = o.device === "cdrom" || (o.readonly ?? c.accessMode === "ro");
  if (readonly && o.device === "disk" && (bus === "ide" || bus === "sata")) {
    return err(ruleError("readonly-bus", `a read-only disk cannot sit on bus ${bus} (QEMU's ${bus === "ide" ? "ide" : "ahci"} disks have no read-only mode): use virtio or scsi`, { bus }));
  }
  const shareable = o.shareable ?? false;
  const cache: CacheMode = o.driver?.cache ?? "none";
  if (shareable && cache !== "none") {
    return err(ruleError("shareable-cache", `a shareable disk must use cache none, not ${cache}: a host cache hides other hosts' writes`, { cache }));
  }
  if (shareable && !readonly && format !== "raw") {
    return err(ruleError("shareable-format", `a writable shareable disk must be raw, not ${format}: two writers would corrupt the ${format} metadata`, { format }));
  }

  // I/O mode and discard.
  const explicitIo = o.driver?.io;
  if (explicitIo === "native" && !DIRECT_CACHE_MODES.includes(cache)) {
    return err(ruleError("io-native-cache", `io native needs cache none or directsync (O_DIRECT), not ${cache}`, { io: explicitIo, cache }));
  }
  const io: IoMode | undefined = explicitIo ?? (type === "block" ? (DIRECT_CACHE_MODES.includes(cache) ? "native" : "threads") : type === "file" ? "threads" : undefined);
  const explicitDiscard = o.driver?.discard;
  const discardBus = DISCARD_BUSES.includes(bus);
  if (explicitDiscard === "unmap" && !discardBus) {
    return err(ruleError("discard-bus", `discard unmap never reaches the guest on bus ${bus}; use ${DISCARD_BUSES.join(", ")}`, { bus }));
  }
  const discard: DiscardMode | undefined = explicitDiscard ?? (c.discard === true && o.device !== "cdrom" && discardBus ? "unmap" : undefined);
  const iommu = o.driver?.iommu;
  if (iommu !== undefined && bus !== "virtio") {
    return err(ruleError("iommu-bus", `driver.iommu is a virtio device option; bus ${bus} has none`, { bus }));
  }

  // Serial.
  let serial: string | undefined;
  if (typeof o.serial === "string") {
    const max = SERIAL_MAX_BYTES[bus];
    if (max !== undefined && o.serial.length > max) {
      return err(
        ruleError(
          "serial-length",
          `serial '${o.serial}' is ${o.serial.length} bytes; bus ${bus} keeps only ${max}, so /dev/disk/by-id lookups would miss it: use serialFromVolumeId() or a serial of at most ${max} bytes`,
          { bus, length: o.serial.length, max },
        ),
      );
    }
    serial = o.serial;
  } else if (o.serial === undefined && o.device === "disk") {
    serial = serialFromVolumeId(c.volumeId, bus);
  }

  // Limits and block sizes.
  const iotune = checkIoTune(o.iotune ?? iotuneFromQosSpecs(c.qosSpecs));
  if (iotune.isErr()) return err(iotune.error);
  const blockio = resolveBlockIo(c, o, bus);
  if (blockio.isErr()) return err(blockio.error);

  // Encryption.
  if (c.encrypted && o.encryption === undefined) {
    return err(
      ruleError(
        "encryption-required",
        "the connection is encrypted: pass options.encryption { format: 'luks', secretUuid } (QEMU decrypts) or { format: 'host-decrypted' } (the device is already opened with cryptsetup)",
      ),
    );
  }
  if (!c.encrypted && o.encryption !== undefined) {
    return err(ruleError("encryption-unexpected", `options.encryption (${o.encryption.format}) was given but the connection is not encrypted`));
  }
  if (o.encryption?.format === "host-decrypted" && type === "network") {
    return err(ruleError("host-decrypted-network", "encryption 'host-decrypted' needs a device the host opened with cryptsetup; in mode 'network' QEMU reads the volume itself: use format 'luks'"));
  }
  const encryption = o.encryption?.format === "luks" ? { format: "luks", secretType: "passphrase", secretUuid: o.encryption.secretUuid } : undefined;

  return ok({
    type,
    device: o.device,
    ...(iommu === true ? { model: "virtio-non-transitional" as const } : {}),
    // cache 'default' is libvirt's absent attribute (what dumpxml gives back).
    driver: { name: "qemu", type: format, ...(cache === "default" ? {} : { cache }), ...(io === undefined ? {} : { io }), ...(discard === undefined ? {} : { discard }), ...(iommu === undefined ? {} : { iommu }) },
    source,
    target: { dev: o.target.dev, bus },
    ...(serial === undefined ? {} : { serial }),
    ...(iotune.value === undefined ? {} : { iotune: iotune.value }),
    readonly,
    shareable,
    ...(blockio.value === undefined ? {} : { blockio: blockio.value }),
    ...(o.bootOrder === undefined ? {} : { bootOrder: o.bootOrder }),
    ...(o.address === undefined ? {} : { address: o.address }),
    ...(encryption === undefined ? {} : { encryption }),
  });
}

/**
 * Validates `input` and works out the disk: every default applied, every refused combination
 * reported as `INVALID_ARGUMENT` with `details.rule` (the rules are listed in `DISK_RULES` of `volkit/libvirt`). The rules follow
 * libvirt 9.0's QEMU driver and QEMU 7.2 on an x86_64 `pc` (i440FX) guest, libvirt's default
 * machine; a `q35` guest has no IDE and another PCI layout.
 *
 * Defaults (nova's, unless noted):
 * - mode `host` (mode `network` for an RBD connection, which QEMU always opens itself).
 * - host mode: iSCSI and local → `type='block'` on `device.path`; NFS → `type='file'`.
 * - network mode: iSCSI → `<source protocol='iscsi'>` on one portal; RBD → `<source
 *   protocol='rbd' name='pool/image'>` with every monitor and the `ceph` secret.
 * - `cache='none'` everywhere (O_DIRECT: safe for live migration and for shared disks); an
 *   explicit `default` is written as no cache attribute, as libvirt does.
 * - `io='native'` for block devices when the cache is none/directsync, else `threads`;
 *   `io='threads'` for files: volkit's choice, because Linux AIO on a sparse or qcow2 file blocks
 *   while the file system allocates, stalling the guest; network sources get no io attribute.
 * - `discard='unmap'` when the connection says `discard: true` and the bus carries discards
 *   (virtio, scsi, sata, ide); on other buses it is left out (an explicit `unmap` there is refused).
 * - `serial` = {@link serialFromVolumeId} of the volume id for `device: "disk"`.
 * - `<iotune>` from the connection's `qosSpecs` unless `iotune` is given; zeros are left out.
 * - `<blockio>` from the iSCSI connection's block size hints unless `blockio` is given; a
 *   logical size above 512 without a physical one also sets the physical one (volkit's choice:
 *   QEMU assumes 512 where it cannot probe and refuses a logical size above the physical one).
 * - `driver.iommu: true` also writes `model='virtio-non-transitional'` (QEMU refuses the
 *   feature on the transitional virtio device of a `pc` machine's PCI bus).
 * - `<readonly/>` from `accessMode: "ro"`; always for a cdrom.
 * - format: the NFS connection's or the device's, else `raw`.
 *
 * @example
 * ```ts
 * const disk = resolveDisk({ connection, device, options: { target: { dev: "vdb", bus: "virtio" } } });
 * if (disk.isOk()) console.log(disk.value.driver); // { name: "qemu", type: "raw", cache: "none", io: "native" }
 * ```
 */
export function resolveDisk(input: DiskXmlInput): Result<DiskDefinition, VolkitError> {
  return validate(DiskXmlInputSchema, input, "libvirt disk input").andThen(resolveParsed);
}

/**
 * Builds the libvirt `<disk>` XML for a volume, as nova's libvirt volume drivers would, with every
 * combination libvirt or QEMU refuses (or silently mishandles) rejected up front. The CHAP
 * password is never written: network mode references a libvirt secret instead.
 *
 * @example
 * ```ts
 * const xml = buildDiskXml({
 *   connection: info,                    // from driver.initializeConnection
 *   device,                              // from connector.connectVolume
 *   options: { target: { dev: "vdb", bus: "virtio" } },
 * });
 * if (xml.isErr()) throw xml.error;               // INVALID_ARGUMENT, details.rule names the conflict
 * await writeFile("/run/volkit/vm1-vdb.xml", xml.value);
 * // then: virsh attach-device vm1 /run/volkit/vm1-vdb.xml --live --config
 * ```
 */
export function buildDiskXml(input: DiskXmlInput): Result<string, VolkitError> {
  return resolveDisk(input).andThen(renderDiskXml);
}
