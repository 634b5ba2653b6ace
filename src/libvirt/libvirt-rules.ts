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
 * - `qemu`: QEMU itself, when the VM starts or the disk is hot-plugged;
 * - `nobody`: everything accepts it and the guest silently gets less than asked for;
 * - `input`: a contradiction in the caller's input with no XML equivalent.
 *
 * The host test suite checks every entry against libvirt 9.0 and QEMU 7.2.
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
  "network-protocol": { enforcedBy: ["input"], summary: "network mode is QEMU's iSCSI initiator: only iSCSI connections" },
  "network-only-option": { enforcedBy: ["input"], summary: "portal, initiatorIqn and chapSecret only apply to network mode" },
  "network-portal": { enforcedBy: ["libvirt-schema"], summary: "libvirt accepts exactly one <host> for protocol iscsi and libiscsi has no multipath: pick one path with `portal`" },
  "chap-secret-required": { enforcedBy: ["input"], summary: "the connection uses CHAP: pass the libvirt secret holding the password" },
  "chap-secret-unused": { enforcedBy: ["input"], summary: "a CHAP secret was given but the connection has no CHAP" },
  "secret-uuid-xor-usage": { enforcedBy: ["libvirt-schema", "libvirt"], summary: "a libvirt secret reference needs exactly one of uuid and usage" },
  "auth-username": { enforcedBy: ["libvirt-schema"], summary: "libvirt's schema only accepts [A-Za-z0-9_+-] in <auth username>" },
  "fdc-bus": { enforcedBy: ["libvirt"], summary: "the fdc bus is for floppies only" },
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
  "address-pci-bus": { enforcedBy: ["libvirt"], summary: "a pci address only fits a virtio disk" },
  "address-drive-bus": { enforcedBy: ["libvirt-qemu"], summary: "a drive address only fits ide, sata and scsi disks" },
  "scsi-address-bus": { enforcedBy: ["libvirt-qemu"], summary: "a SCSI controller has one bus: address bus must be 0" },
  "encryption-required": { enforcedBy: ["input"], summary: "the connection is encrypted: say how (luks secret or host-decrypted)" },
  "encryption-unexpected": { enforcedBy: ["input"], summary: "encryption was given but the connection is not encrypted" },
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
