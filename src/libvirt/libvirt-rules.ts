import { VolkitError } from "../core/errors.js";

/**
 * The combinations {@link buildDiskXml} refuses, each with a stable id (in `error.details.rule`)
 * and who else would refuse it. Field-level rules (target dev, bus, serial characters, block
 * sizes…) are checked by the zod schema and named in the error's `details.issues`.
 */

/**
 * Who refuses a combination when volkit lets it through:
 * - `libvirt-schema`: `virt-xml-validate` and `virsh define --validate` (libvirt's RelaxNG schema);
 * - `libvirt`: libvirt's XML parser in every driver (`virsh define`, even on `test:///default`);
 * - `libvirt-qemu`: libvirt's QEMU driver when the domain is defined;
 * - `qemu`: when the VM starts or the disk is hot-plugged: QEMU itself, or libvirt's QEMU driver
 *   building QEMU's command line;
 * - `nobody`: everything accepts it and the guest silently gets less than asked for;
 * - `input`: a contradiction in the caller's input with no XML equivalent.
 *
 * The host test suite checks every entry against libvirt 9.0 and QEMU 7.2 (x86_64, machine `pc`).
 */
export type RuleEnforcer = "libvirt-schema" | "libvirt" | "libvirt-qemu" | "qemu" | "nobody" | "input";

/** One refused combination. */
export interface DiskRuleInfo {
  /** Who refuses it besides volkit (empty for `input` rules). */
  readonly enforcedBy: readonly RuleEnforcer[];
  /** One line on what goes wrong. */
  readonly summary: string;
}

/** Every rule the disk builder enforces, with what it protects against and who else refuses it. */
export const RULES = {
  "device-required": { enforcedBy: ["input"], summary: "host mode needs the AttachedDevice the connector returned" },
  "device-type": { enforcedBy: ["input"], summary: "iSCSI and local attach block devices, NFS attaches files" },
  "multipath-single-path": { enforcedBy: ["nobody"], summary: "a multipath attachment handed out one of its member paths: the guest would bypass dm-multipath" },
  "format-mismatch": { enforcedBy: ["input"], summary: "driver.type contradicts the image format the connection or device reports" },
  "network-protocol": { enforcedBy: ["input"], summary: "network mode is QEMU's own iSCSI initiator or librbd: only iSCSI and RBD connections" },
  "network-only-option": { enforcedBy: ["input"], summary: "portal, initiatorIqn and chapSecret only apply to network mode" },
  "host-protocol": { enforcedBy: ["input"], summary: "QEMU opens an RBD image itself (mode network); a kernel-mapped /dev/rbdN is a local block device" },
  "iscsi-only-option": { enforcedBy: ["input"], summary: "portal, initiatorIqn and chapSecret only apply to iSCSI (an RBD connection names its monitors and secret itself)" },
  "network-portal": { enforcedBy: ["libvirt-schema"], summary: "libvirt accepts exactly one <host> for protocol iscsi and libiscsi has no multipath: pick one path with `portal`" },
  "chap-secret-required": { enforcedBy: ["input"], summary: "the connection uses CHAP: pass the libvirt secret holding the password" },
  "chap-secret-unused": { enforcedBy: ["input"], summary: "a CHAP secret was given but the connection has no CHAP" },
  "secret-uuid-xor-usage": { enforcedBy: ["libvirt-schema", "libvirt"], summary: "a libvirt secret reference needs exactly one of uuid and usage" },
  "auth-username": { enforcedBy: ["libvirt-schema"], summary: "libvirt's schema only accepts [A-Za-z0-9_+-] in <auth username>" },
  "fdc-bus": { enforcedBy: ["libvirt"], summary: "the fdc bus is for floppies only" },
  "bus-unsupported": {
    enforcedBy: ["qemu"],
    summary: "bus xen is the Xen hypervisor's (libvirt's QEMU driver refuses it at start) and bus sd an SD card slot QEMU's x86 machines do not have",
  },
  "target-name": { enforcedBy: ["libvirt-qemu"], summary: "a target is a prefix and lower-case letters: libvirt's QEMU driver refuses partitions (vda1), upper case and '_'" },
  "target-prefix": { enforcedBy: ["libvirt"], summary: "fd names are floppy names: libvirt refuses them for a disk or lun" },
  "target-index": {
    enforcedBy: ["libvirt-qemu"],
    summary: "without an address, libvirt derives the controller from the name: ide stops at hdd (one controller); past two letters sata and scsi run out of PCI slots, and define can take minutes",
  },
  "lun-bus": {
    enforcedBy: ["qemu"],
    summary: "device='lun' (SCSI passthrough) needs bus scsi: libvirt's QEMU driver refuses ide/sata/usb at define, and on virtio QEMU refuses at start (virtio-blk SCSI passthrough is gone)",
  },
  "lun-source": { enforcedBy: ["libvirt-schema", "libvirt"], summary: "device='lun' needs a block device or an iSCSI network source, not a file" },
  "lun-format": { enforcedBy: ["libvirt"], summary: "device='lun' must use the raw format" },
  "lun-serial": { enforcedBy: ["libvirt-qemu"], summary: "scsi-block (device='lun') has no serial property: the LUN reports its own" },
  "lun-encryption": { enforcedBy: ["libvirt"], summary: "SCSI passthrough bypasses QEMU's block layer, so QEMU cannot decrypt LUKS on a lun" },
  "cdrom-bus": { enforcedBy: ["libvirt-qemu"], summary: "a CD-ROM needs ejectable media: ide, sata, scsi or usb" },
  "cdrom-readonly": { enforcedBy: ["input"], summary: "a CD-ROM is always read-only" },
  "readonly-access-mode": { enforcedBy: ["input"], summary: "the connection is read-only (accessMode 'ro'): readonly cannot be false" },
  "readonly-bus": { enforcedBy: ["libvirt-qemu", "qemu"], summary: "ide and sata disks cannot be read-only" },
  "shareable-cache": { enforcedBy: ["nobody"], summary: "a shared disk with host caching gives each host its own stale view: cache must be none" },
  "shareable-format": { enforcedBy: ["libvirt-qemu"], summary: "a writable shared disk must be raw (qcow2 metadata cannot be shared)" },
  "io-native-cache": { enforcedBy: ["libvirt-qemu", "qemu"], summary: "io='native' needs cache none or directsync (O_DIRECT)" },
  "discard-bus": { enforcedBy: ["nobody"], summary: "discard='unmap' only reaches the guest on virtio, scsi, sata and ide" },
  "serial-length": { enforcedBy: ["nobody"], summary: "the serial is cut at 20 bytes on virtio/ide/sata and 36 on scsi/usb, so /dev/disk/by-id lookups miss" },
  "iotune-total-vs-rw": { enforcedBy: ["libvirt-schema", "libvirt", "qemu"], summary: "a total_* limit excludes read_*/write_* limits of the same kind" },
  "iotune-max-needs-base": { enforcedBy: ["qemu"], summary: "a *_max burst needs the matching base limit" },
  "iotune-max-below-base": { enforcedBy: ["qemu"], summary: "a *_max burst cannot be lower than its base limit" },
  "iotune-length-needs-max": { enforcedBy: ["qemu"], summary: "a *_max_length needs the matching *_max" },
  "iotune-size-needs-iops": { enforcedBy: ["qemu"], summary: "size_iops_sec needs an iops limit" },
  "iotune-value": { enforcedBy: ["libvirt-qemu", "qemu"], summary: "limits must be whole numbers up to 1e15" },
  "blockio-size": { enforcedBy: ["qemu"], summary: "block sizes must be powers of two from 512 bytes to 2 MiB" },
  "blockio-order": { enforcedBy: ["qemu"], summary: "the logical block size cannot exceed the physical one" },
  "blockio-bus": { enforcedBy: ["qemu"], summary: "ide and sata drives discard in 512-byte units, so QEMU needs their logical block size to be 512" },
  "address-pci-bus": { enforcedBy: ["libvirt"], summary: "a pci address only fits a virtio disk" },
  "address-drive-bus": { enforcedBy: ["libvirt-qemu"], summary: "a drive address only fits ide, sata and scsi disks" },
  "scsi-address-bus": { enforcedBy: ["libvirt-qemu"], summary: "a SCSI controller has one bus: address bus must be 0" },
  "ide-address": { enforcedBy: ["libvirt-qemu", "qemu"], summary: "the pc machine has one IDE controller (controller 0) with buses 0-1, target 0 and units 0-1" },
  "sata-address": { enforcedBy: ["libvirt-qemu", "qemu"], summary: "an AHCI (sata) controller has bus 0, target 0 and six ports (units 0-5)" },
  "scsi-address": { enforcedBy: ["libvirt-qemu", "qemu"], summary: "lsilogic takes target 0 and SCSI ids (units) 0-7; virtio-scsi LUNs (units) 0-16383 (targets: 0-99, libvirt's schema)" },
  "scsi-controller-bus": { enforcedBy: ["input"], summary: "scsiController describes the controller of a scsi disk only" },
  "pci-address-domain": { enforcedBy: ["libvirt-qemu"], summary: "the pc machine has PCI domain 0 only" },
  "pci-address-slot": { enforcedBy: ["libvirt-qemu"], summary: "a device behind a PCI bridge (bus 1 and up) needs a slot from 1 to 31" },
  "pci-address-no-slot": {
    enforcedBy: ["nobody"],
    summary: "on bus 0 libvirt takes a PCI address without a slot (or slot 0) as no address: it picks its own slot and function 0",
  },
  "pci-address-reserved": { enforcedBy: ["libvirt-qemu", "qemu"], summary: "PCI slot 1 functions 0-3 of bus 0 are the pc machine's PIIX3 chipset" },
  "iommu-bus": { enforcedBy: ["libvirt"], summary: "iommu is a virtio option: only virtio disks take it" },
  "encryption-required": { enforcedBy: ["input"], summary: "the connection is encrypted: say how (luks secret or host-decrypted)" },
  "encryption-unexpected": { enforcedBy: ["input"], summary: "encryption was given but the connection is not encrypted" },
  "host-decrypted-network": { enforcedBy: ["input"], summary: "host-decrypted means the host opened the volume with cryptsetup, but in network mode QEMU reads it directly (the guest would see ciphertext)" },
} as const satisfies Record<string, DiskRuleInfo>;

/** The id of a combination rule. */
export type DiskRule = keyof typeof RULES;

/**
 * Every combination rule, by id.
 *
 * @example
 * ```ts
 * const r = buildDiskXml(input);
 * if (r.isErr() && r.error.details.rule === "io-native-cache") console.log(DISK_RULES["io-native-cache"].enforcedBy);
 * ```
 */
export const DISK_RULES: Readonly<Record<DiskRule, DiskRuleInfo>> = RULES;

/**
 * The `INVALID_ARGUMENT` error for a broken rule; the message starts with the rule's summary
 * context and names the conflicting values.
 */
export function ruleError(rule: DiskRule, message: string, details: Readonly<Record<string, unknown>> = {}): VolkitError {
  return new VolkitError("INVALID_ARGUMENT", message, { source: "libvirt", details: { rule, ...details } });
}
