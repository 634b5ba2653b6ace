import type { CacheMode, DiscardMode, DiskAddress, DiskBus, DiskDevice, IoMode, IoTune, VirtioModel } from "./libvirt-options.js";

/**
 * The disk model shared by the builder and the parser: {@link resolveDisk} produces it,
 * {@link renderDiskXml} writes it, {@link parseDiskXml} reads it back, so a round trip compares
 * two plain values.
 */

/** `<driver>` attributes. */
export interface DiskDriver {
  /** Always `qemu` for what volkit writes. */
  readonly name?: string;
  /** Image format (`raw`, `qcow2`; the parser passes other libvirt formats through). */
  readonly type?: string;
  /** Host cache mode. */
  readonly cache?: CacheMode;
  /** I/O submission mode. */
  readonly io?: IoMode;
  /** Discard handling. */
  readonly discard?: DiscardMode;
  /** virtio `iommu='on'` (true) or `'off'` (false): the device goes through the guest's IOMMU / DMA API. */
  readonly iommu?: boolean;
}

/** `<host>` of a network source. */
export interface NetworkHost {
  /** Host name or IP address (IPv6 without brackets). */
  readonly name: string;
  /** TCP port. */
  readonly port?: number;
}

/** `<auth>` of a network source: the user and the libvirt secret holding the password. */
export interface DiskAuth {
  /** CHAP user name, or the cephx user without `client.`. */
  readonly username: string;
  /** Secret usage type, `iscsi` for CHAP, `ceph` for cephx. */
  readonly secretType: string;
  /** Secret by UUID (exactly one of `uuid`/`usage`). */
  readonly uuid?: string;
  /** Secret by usage name. */
  readonly usage?: string;
}

/** A block device on the host: `<source dev=…/>`. */
export interface BlockDiskSource {
  readonly kind: "block";
  /** Device path. */
  readonly dev: string;
}

/** An image file on the host: `<source file=…/>`. */
export interface FileDiskSource {
  readonly kind: "file";
  /** File path. */
  readonly file: string;
}

/** A network source QEMU connects to itself: `<source protocol=… name=…>`. */
export interface NetworkDiskSource {
  readonly kind: "network";
  /** `iscsi` or `rbd` for what volkit writes. */
  readonly protocol: string;
  /** For iSCSI `<target iqn>/<lun>`, for RBD `<pool>/<image>`. */
  readonly name: string;
  /** Servers, in order (the iSCSI portal; every Ceph monitor). */
  readonly hosts: readonly NetworkHost[];
  /** Authentication, when the target needs CHAP. */
  readonly auth?: DiskAuth;
  /** Initiator IQN QEMU presents. */
  readonly initiatorIqn?: string;
}

/** Where the data comes from. */
export type DiskSource = BlockDiskSource | FileDiskSource | NetworkDiskSource;

/** `<encryption>`. */
export interface DiskEncryptionDefinition {
  /** `luks` for what volkit writes. */
  readonly format: string;
  /** Secret usage type, `passphrase` for LUKS. */
  readonly secretType?: string;
  /** Secret UUID. */
  readonly secretUuid?: string;
  /** Secret usage name. */
  readonly secretUsage?: string;
}

/** `<blockio>`. */
export interface DiskBlockIo {
  /** Logical block size in bytes. */
  readonly logicalBlockSize?: number;
  /** Physical block size in bytes. */
  readonly physicalBlockSize?: number;
}

/**
 * One libvirt `<disk>` element as a plain value.
 *
 * @example
 * ```ts
 * const disk: DiskDefinition = {
 *   type: "block", device: "disk", driver: { name: "qemu", type: "raw", cache: "none", io: "native" },
 *   source: { kind: "block", dev: "/dev/dm-3" }, target: { dev: "vdb", bus: "virtio" },
 *   readonly: false, shareable: false,
 * };
 * ```
 */
export interface DiskDefinition {
  /** Source kind. */
  readonly type: "block" | "file" | "network";
  /** Guest device kind (`floppy` only when parsed). */
  readonly device: DiskDevice | "floppy";
  /** virtio device model (`virtio-non-transitional` with `iommu`). */
  readonly model?: VirtioModel;
  /** Driver settings. */
  readonly driver?: DiskDriver;
  /** Source; absent for an empty CD-ROM drive. */
  readonly source?: DiskSource;
  /** Guest device name and bus. */
  readonly target: { readonly dev: string; readonly bus?: DiskBus };
  /** Guest-visible serial. */
  readonly serial?: string;
  /** I/O limits (only non-zero fields). */
  readonly iotune?: IoTune;
  /** `<readonly/>` present. */
  readonly readonly: boolean;
  /** `<shareable/>` present. */
  readonly shareable: boolean;
  /** Guest block sizes. */
  readonly blockio?: DiskBlockIo;
  /** `<boot order>`. */
  readonly bootOrder?: number;
  /** Guest address (`drive` or `pci`; other address types are not read). */
  readonly address?: DiskAddress;
  /** Encryption. */
  readonly encryption?: DiskEncryptionDefinition;
}
