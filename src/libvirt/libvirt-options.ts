import { z } from "zod";
import { ConnectionInfoSchema } from "../core/records.js";
import { IqnSchema } from "../core/validation.js";
import { DiskSourcePathSchema, SecretUsageSchema, UUID_PATTERN } from "./libvirt-text.js";

/**
 * Options of the libvirt disk builder, validated with zod at the boundary. Single-field rules
 * (patterns, ranges, enumerations of libvirt 9.0's domain schema) live here; rules that involve
 * several fields live in `libvirt-rules.ts`.
 */

/** Disk buses of libvirt's domain schema (`<target bus=…>`). `fdc` is accepted here and refused for disks later. */
export const DISK_BUSES = ["ide", "fdc", "scsi", "virtio", "xen", "usb", "sata", "sd"] as const;
/** A disk bus. */
export type DiskBus = (typeof DISK_BUSES)[number];

/** Host cache modes (`<driver cache=…>`). */
export const CACHE_MODES = ["default", "none", "writeback", "writethrough", "directsync", "unsafe"] as const;
/** A host cache mode. */
export type CacheMode = (typeof CACHE_MODES)[number];

/** I/O submission modes (`<driver io=…>`). */
export const IO_MODES = ["threads", "native", "io_uring"] as const;
/** An I/O mode. */
export type IoMode = (typeof IO_MODES)[number];

/** Discard handling (`<driver discard=…>`). */
export const DISCARD_MODES = ["unmap", "ignore"] as const;
/** A discard mode. */
export type DiscardMode = (typeof DISCARD_MODES)[number];

/** Guest device kinds volkit emits (`<disk device=…>`). */
export const DISK_DEVICES = ["disk", "lun", "cdrom"] as const;
/** A guest device kind. */
export type DiskDevice = (typeof DISK_DEVICES)[number];

/**
 * SCSI controller models volkit checks drive addresses against (`<controller type='scsi'
 * model=…>` of the domain): `lsilogic` is what libvirt adds to an x86 guest that declares none,
 * `virtio-scsi` what nova declares.
 */
export const SCSI_CONTROLLER_MODELS = ["lsilogic", "virtio-scsi"] as const;
/** A SCSI controller model. */
export type ScsiControllerModel = (typeof SCSI_CONTROLLER_MODELS)[number];

/**
 * virtio device models (`<disk model=…>`): `virtio-non-transitional` is a virtio 1.0-only device,
 * which `iommu='on'` needs on a conventional PCI bus (machine `pc`); `virtio` lets QEMU pick.
 */
export const VIRTIO_MODELS = ["virtio", "virtio-transitional", "virtio-non-transitional"] as const;
/** A virtio device model. */
export type VirtioModel = (typeof VIRTIO_MODELS)[number];

/** Image formats volkit emits (`<driver type=…>`). */
export const DISK_FORMATS = ["raw", "qcow2"] as const;
/** An image format. */
export type DiskFormat = (typeof DISK_FORMATS)[number];

/** libvirt's `diskTargetDev` pattern (without the obsolete `ioemu:` prefix). */
export const TARGET_DEV_PATTERN = /^(fd|hd|sd|vd|xvd|ubd)[a-zA-Z0-9_]+$/;
/**
 * The target names libvirt's QEMU driver accepts: a prefix and lower-case letters, which libvirt
 * reads as a disk index (`a` = 0 … `z` = 25, `aa` = 26 …). Digits are a partition (`vda1`), and
 * upper case or `_` is no disk name at all; `target-name` refuses them.
 */
export const QEMU_TARGET_DEV_PATTERN = /^(fd|hd|sd|vd|xvd|ubd)([a-z]+)$/;
/** libvirt's `diskSerial` pattern. */
export const SERIAL_PATTERN = /^[A-Za-z0-9_.+\- ]+$/;
/** libvirt's `genericName` pattern, which `<auth username>` must match. */
export const AUTH_USERNAME_PATTERN = /^[a-zA-Z0-9_+-]+$/;
/** Highest throttle value QEMU accepts (`bps/iops/max values must be within [0, 1e15]`). */
export const IOTUNE_MAX_VALUE = 1_000_000_000_000_000;

/**
 * Every `<iotune>` field: the camelCase option name, the element (and Cinder QoS key) name, in
 * the order libvirt writes them. Cinder's front-end QoS keys are exactly the element names.
 */
export const IOTUNE_FIELDS = [
  ["totalBytesSec", "total_bytes_sec"],
  ["readBytesSec", "read_bytes_sec"],
  ["writeBytesSec", "write_bytes_sec"],
  ["totalIopsSec", "total_iops_sec"],
  ["readIopsSec", "read_iops_sec"],
  ["writeIopsSec", "write_iops_sec"],
  ["totalBytesSecMax", "total_bytes_sec_max"],
  ["readBytesSecMax", "read_bytes_sec_max"],
  ["writeBytesSecMax", "write_bytes_sec_max"],
  ["totalIopsSecMax", "total_iops_sec_max"],
  ["readIopsSecMax", "read_iops_sec_max"],
  ["writeIopsSecMax", "write_iops_sec_max"],
  ["sizeIopsSec", "size_iops_sec"],
  ["totalBytesSecMaxLength", "total_bytes_sec_max_length"],
  ["readBytesSecMaxLength", "read_bytes_sec_max_length"],
  ["writeBytesSecMaxLength", "write_bytes_sec_max_length"],
  ["totalIopsSecMaxLength", "total_iops_sec_max_length"],
  ["readIopsSecMaxLength", "read_iops_sec_max_length"],
  ["writeIopsSecMaxLength", "write_iops_sec_max_length"],
] as const;

/** A camelCase `<iotune>` field name. */
export type IoTuneField = (typeof IOTUNE_FIELDS)[number][0];

const IoTuneValue = z
  .number()
  .int("must be a whole number")
  .nonnegative()
  .max(IOTUNE_MAX_VALUE, "QEMU refuses throttle values above 1e15");

/**
 * Explicit I/O limits (`<iotune>`), bytes or operations per second; `0` means unlimited and is left
 * out. `*Max` is the burst rate, `*MaxLength` the burst duration in seconds, `sizeIopsSec` the
 * size one I/O counts as.
 *
 * @example
 * ```ts
 * const iotune = { totalBytesSec: 100 * 1024 * 1024, readIopsSec: 500, writeIopsSec: 200 };
 * ```
 */
export const IoTuneSchema = z.strictObject(
  Object.fromEntries(IOTUNE_FIELDS.map(([field]) => [field, IoTuneValue.optional()])) as Record<IoTuneField, z.ZodOptional<typeof IoTuneValue>>,
);
/** I/O limits. */
export type IoTune = Partial<Record<IoTuneField, number>>;


/** A block size QEMU accepts: a power of two from 512 bytes to 2 MiB. */
const BlockSizeSchema = z
  .number()
  .int()
  .min(512, "QEMU needs at least 512")
  .max(2 * 1024 * 1024, "QEMU accepts at most 2 MiB")
  .refine((n) => (n & (n - 1)) === 0, "QEMU needs a power of two");

/** A `<address type='drive'>` (ide, sata, scsi). */
export const DriveAddressSchema = z.strictObject({
  type: z.literal("drive"),
  /** Controller index. */
  controller: z.number().int().min(0).max(99).optional(),
  /** Bus on the controller (must be 0 on scsi). */
  bus: z.number().int().min(0).max(99).optional(),
  /** SCSI target (0-99 on virtio-scsi: libvirt's schema stops there, QEMU at 255; 0 everywhere else). */
  target: z.number().int().min(0).max(99).optional(),
  /** Unit: the drive on ide (0-1) and sata (0-5), the SCSI id on lsilogic (0-7), the LUN on virtio-scsi (0-16383). */
  unit: z.number().int().min(0).max(16_383).optional(),
});

/** A `<address type='pci'>` (virtio). */
export const PciAddressSchema = z.strictObject({
  type: z.literal("pci"),
  /** PCI domain. */
  domain: z.number().int().min(0).max(0xffff_ffff).optional(),
  /** PCI bus. */
  bus: z.number().int().min(0).max(0xff).optional(),
  /** Slot 0-31. */
  slot: z.number().int().min(0).max(31).optional(),
  /** Function 0-7. */
  function: z.number().int().min(0).max(7).optional(),
});

/**
 * Where the guest device sits.
 *
 * @example
 * ```ts
 * const pci: DiskAddress = { type: "pci", slot: 7 };
 * const drive: DiskAddress = { type: "drive", controller: 0, bus: 0, target: 0, unit: 3 };
 * ```
 */
export const DiskAddressSchema = z.discriminatedUnion("type", [DriveAddressSchema, PciAddressSchema]);
/** A guest device address. */
export type DiskAddress = z.infer<typeof DiskAddressSchema>;

/**
 * How an encrypted volume reaches the guest: `luks` lets QEMU open the LUKS header with the
 * passphrase in libvirt secret `secretUuid` (`<encryption format='luks'>`); `host-decrypted` means
 * the host already opened it (os-brick's cryptsetup encryptors) and the device is plaintext.
 *
 * @example
 * ```ts
 * const encryption: DiskEncryption = { format: "luks", secretUuid: "0f1e2d3c-4b5a-4968-8776-655443322110" };
 * ```
 */
export const DiskEncryptionSchema = z.discriminatedUnion("format", [
  z.strictObject({ format: z.literal("luks"), secretUuid: z.string().regex(UUID_PATTERN, "must be a libvirt secret UUID") }),
  z.strictObject({ format: z.literal("host-decrypted") }),
]);
/** Encryption handling. */
export type DiskEncryption = z.infer<typeof DiskEncryptionSchema>;

/**
 * Options of {@link buildDiskXml}. Only `target` is required.
 *
 * @example
 * ```ts
 * const options: DiskOptions = { target: { dev: "vdb", bus: "virtio" }, shareable: true };
 * ```
 */
export const DiskOptionsSchema = z.strictObject({
  /**
   * `host` (default): the guest uses the device the host connector attached (`type='block'` for
   * iSCSI and local, `type='file'` for NFS). `network`: QEMU's own iSCSI initiator (libiscsi)
   * logs in to one portal itself (`type='network'`); no host device, no multipath. An RBD
   * connection is always `network` (QEMU's librbd), which is then the default.
   */
  mode: z.enum(["host", "network"]).optional(),
  /** Guest device kind (default `disk`). `lun` passes SCSI commands through (scsi bus, raw). */
  device: z.enum(DISK_DEVICES).default("disk"),
  /** `<driver>` settings; defaults are described on {@link resolveDisk}. */
  driver: z
    .strictObject({
      cache: z.enum(CACHE_MODES).optional(),
      io: z.enum(IO_MODES).optional(),
      discard: z.enum(DISCARD_MODES).optional(),
      type: z.enum(DISK_FORMATS).optional(),
      /**
       * virtio only: `true` writes `iommu='on'`, so the device uses the guest's DMA API (what nova
       * sets for AMD SEV guests, whose memory the host cannot read directly), and
       * `model='virtio-non-transitional'`: QEMU refuses the feature on the transitional device it
       * puts on a `pc` machine's PCI bus ("VIRTIO_F_IOMMU_PLATFORM was supported by neither legacy
       * nor transitional device"). `false` writes `iommu='off'`.
       */
      iommu: z.boolean().optional(),
    })
    .optional(),
  /** Guest device name and bus. The name is a hint: the guest kernel picks its own. */
  target: z.strictObject({
    dev: z.string().regex(TARGET_DEV_PATTERN, "must match libvirt's (fd|hd|sd|vd|xvd|ubd)[a-zA-Z0-9_]+"),
    bus: z.enum(DISK_BUSES),
  }),
  /**
   * Guest-visible serial. Default for `device: "disk"`: {@link serialFromVolumeId} of the volume id
   * (fits the bus). `false` leaves it out.
   */
  serial: z
    .union([z.string().max(255).regex(SERIAL_PATTERN, "must match libvirt's [A-Za-z0-9_.+\\- ]+"), z.literal(false)])
    .optional(),
  /** Explicit limits; replace any derived from the connection's `qosSpecs`. */
  iotune: IoTuneSchema.optional(),
  /** Read-only guest device (default: from the connection's `accessMode`). */
  readonly: z.boolean().optional(),
  /** Several guests may attach it (multiattach): `<shareable/>`, cache forced to `none`. */
  shareable: z.boolean().optional(),
  /** Block sizes the guest sees (default: the iSCSI connection's hints, if any). */
  blockio: z.strictObject({ logicalBlockSize: BlockSizeSchema.optional(), physicalBlockSize: BlockSizeSchema.optional() }).optional(),
  /** Per-device boot order (1 first). Incompatible with `<os><boot dev>` in the same domain. */
  bootOrder: z.number().int().min(1).max(65_535).optional(),
  /** Guest address: `pci` for virtio, `drive` for ide/sata/scsi. */
  address: DiskAddressSchema.optional(),
  /**
   * bus scsi: the model of the domain's SCSI controller the disk sits on, which sets the drive
   * address limits (default `lsilogic`, libvirt's choice for an x86 guest without a declared one).
   */
  scsiController: z.enum(SCSI_CONTROLLER_MODELS).optional(),
  /** Required when the connection says `encrypted: true`. */
  encryption: DiskEncryptionSchema.optional(),
  /**
   * Network mode with CHAP: the libvirt secret (type `iscsi`) holding the CHAP password, by
   * exactly one of `uuid` or `usage`. The password itself never appears in the XML.
   */
  chapSecret: z
    .strictObject({
      uuid: z.string().regex(UUID_PATTERN, "must be a UUID").optional(),
      usage: SecretUsageSchema.optional(),
    })
    .optional(),
  /** Network mode: which path of a multipath connection QEMU logs in to (index into `targetPortals`). */
  portal: z.number().int().min(0).optional(),
  /** Network mode: the initiator IQN QEMU presents (the one the target's ACL allows). */
  initiatorIqn: IqnSchema.optional(),
});
/** Disk options (input form). */
export type DiskOptions = z.input<typeof DiskOptionsSchema>;
/** Disk options (parsed form, defaults applied). */
export type ParsedDiskOptions = z.output<typeof DiskOptionsSchema>;

/**
 * What a host connector attached (the `AttachedDevice` contract), validated for use in XML: an
 * absolute path without characters XML cannot carry.
 *
 * @example
 * ```ts
 * AttachedDeviceSchema.parse({ type: "block", path: "/dev/dm-3", paths: ["/dev/sdb", "/dev/sdc"] });
 * ```
 */
export const AttachedDeviceSchema = z.object({
  type: z.enum(["block", "file"]),
  path: DiskSourcePathSchema,
  scsiWwn: z.string().optional(),
  multipathId: z.string().optional(),
  paths: z.array(DiskSourcePathSchema),
  format: z.enum(DISK_FORMATS).optional(),
  sizeBytes: z.number().nonnegative().optional(),
});

/**
 * Everything {@link buildDiskXml} validates at once (connection, device, options).
 *
 * @example
 * ```ts
 * const ok = DiskXmlInputSchema.safeParse({ connection, device, options: { target: { dev: "vdb", bus: "virtio" } } }).success;
 * ```
 */
export const DiskXmlInputSchema = z
  .object({
    connection: ConnectionInfoSchema,
    device: AttachedDeviceSchema.optional(),
    options: DiskOptionsSchema,
  })
  .superRefine((input, ctx) => {
    // QEMU opens an RBD image with cephx through a libvirt secret: the XML must name one.
    const c = input.connection;
    if (c.type === "rbd" && c.authEnabled && c.secretUuid === undefined && c.secretUsage === undefined) {
      ctx.addIssue({ code: "custom", path: ["connection", "secretUuid"], message: "authEnabled needs exactly one of secretUuid and secretUsage (the libvirt secret of type ceph)" });
    }
  });
