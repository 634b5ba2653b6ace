import { err, ok, type Result } from "neverthrow";
import type { VolkitError } from "../core/errors.js";
import { QEMU_TARGET_DEV_PATTERN, type DiskAddress, type DiskBus, type DiskDevice, type ScsiControllerModel } from "./libvirt-options.js";
import { ruleError } from "./libvirt-rules.js";

/**
 * Where the guest device sits: the target name and the `<address>`, checked the way libvirt's
 * QEMU driver (at define) and QEMU (at start) check them on an x86 `pc` (i440FX) guest: one IDE
 * controller with two buses of two drives, AHCI controllers with six ports, SCSI controllers with
 * one bus, and PCI slot 1 of bus 0 taken by the PIIX3 chipset.
 */

/** Buses whose devices take a `drive` address. */
export const DRIVE_ADDRESS_BUSES: readonly DiskBus[] = ["ide", "sata", "scsi"];

/**
 * Highest disk index (`…zz`) volkit writes without an explicit address on the buses where libvirt
 * derives the controller from the name: past it libvirt adds controllers until PCI slots run out
 * (measured from about index 1600 on sata and scsi), and from four letters on `virsh define`
 * spends minutes adding controllers before it gives up.
 */
export const MAX_DERIVED_DISK_INDEX = 701;
/** Highest IDE disk index (`hdd`): the `pc` machine has one IDE controller with 2 × 2 drives. */
export const MAX_IDE_DISK_INDEX = 3;

/** Drive address limits per controller: [highest bus, highest target, highest unit]. */
const DRIVE_LIMITS = {
  ide: { bus: 1, target: 0, unit: 1 },
  sata: { bus: 0, target: 0, unit: 5 },
  lsilogic: { bus: 0, target: 0, unit: 7 },
  // Targets stop at 99 in libvirt's schema (QEMU would take 255), LUNs at 16383 in QEMU.
  "virtio-scsi": { bus: 0, target: 99, unit: 16_383 },
} as const;

/**
 * The disk index libvirt reads from a target name (`vda` = 0, `vdz` = 25, `vdaa` = 26), or
 * undefined when the name is not `<prefix><lower-case letters>`.
 *
 * @example
 * ```ts
 * diskIndex("sdab"); // 27
 * diskIndex("vda1"); // undefined: a partition
 * ```
 */
export function diskIndex(dev: string): number | undefined {
  const letters = QEMU_TARGET_DEV_PATTERN.exec(dev)?.[2];
  if (letters === undefined) return undefined;
  let index = -1;
  for (const ch of letters) index = (index + 1) * 26 + (ch.charCodeAt(0) - 97);
  return index;
}

/**
 * Checks the target name against the bus, the device kind and (when there is none) the address
 * libvirt would derive from it.
 */
export function checkTarget(dev: string, bus: DiskBus, device: DiskDevice, address: DiskAddress | undefined): Result<void, VolkitError> {
  const index = diskIndex(dev);
  if (index === undefined) {
    const why = /[0-9]$/.test(dev) ? "ends in a partition number" : "is not a prefix followed by lower-case letters";
    return err(ruleError("target-name", `target ${dev} ${why}: libvirt's QEMU driver only takes whole-disk names such as vdb or sdc`, { dev }));
  }
  if (dev.startsWith("fd") && device !== "cdrom") {
    return err(ruleError("target-prefix", `target ${dev} is a floppy name: libvirt's QEMU driver refuses it for a ${device}; use hd, sd or vd`, { dev, device }));
  }
  if (address !== undefined) return ok(undefined);
  if (bus === "ide" && index > MAX_IDE_DISK_INDEX) {
    return err(ruleError("target-index", `target ${dev} would need a second IDE controller (hda-hdd fit the one the pc machine has): use hda-hdd or another bus`, { dev, index }));
  }
  if ((bus === "sata" || bus === "scsi" || bus === "usb") && index > MAX_DERIVED_DISK_INDEX) {
    return err(
      ruleError("target-index", `target ${dev} has more than two letters: libvirt derives a controller from it that does not fit (give an explicit drive address, or a name up to ${bus === "usb" ? "sd" : dev.slice(0, 2)}zz)`, {
        dev,
        index,
      }),
    );
  }
  return ok(undefined);
}

/**
 * Checks an explicit `<address>` against the bus and, on scsi, the controller model.
 */
export function checkAddress(address: DiskAddress | undefined, bus: DiskBus, scsiController: ScsiControllerModel | undefined): Result<void, VolkitError> {
  if (scsiController !== undefined && bus !== "scsi") {
    return err(ruleError("scsi-controller-bus", `options.scsiController describes the SCSI controller of a scsi disk; this disk is on bus ${bus}`, { bus }));
  }
  if (address === undefined) return ok(undefined);
  if (address.type === "pci") {
    if (bus !== "virtio") return err(ruleError("address-pci-bus", `a pci address only fits bus virtio, not ${bus}`, { bus }));
    return checkPciAddress(address);
  }
  if (!DRIVE_ADDRESS_BUSES.includes(bus)) {
    return err(ruleError("address-drive-bus", `a drive address only fits ${DRIVE_ADDRESS_BUSES.join(", ")}, not ${bus}`, { bus }));
  }
  const { controller = 0, bus: addressBus = 0, target = 0, unit = 0 } = address;
  if (bus === "scsi" && addressBus !== 0) {
    return err(ruleError("scsi-address-bus", `a SCSI controller has a single bus: address bus must be 0, not ${addressBus} (use another controller)`, { addressBus }));
  }
  const model = bus === "scsi" ? (scsiController ?? "lsilogic") : bus;
  const limits = DRIVE_LIMITS[model as keyof typeof DRIVE_LIMITS];
  const rule = bus === "ide" ? "ide-address" : bus === "sata" ? "sata-address" : "scsi-address";
  const where = bus === "scsi" ? `a ${model} SCSI controller` : bus === "ide" ? "the pc machine's IDE controller" : "an AHCI (sata) controller";
  if (bus === "ide" && controller !== 0) {
    return err(ruleError(rule, `the pc machine has one IDE controller: address controller must be 0, not ${controller}`, { controller }));
  }
  for (const [field, value, max] of [
    ["bus", addressBus, limits.bus],
    ["target", target, limits.target],
    ["unit", unit, limits.unit],
  ] as const) {
    if (value > max) {
      return err(ruleError(rule, `${where} takes address ${field} 0${max > 0 ? `-${max}` : ""}, not ${value}`, { [field]: value, max, ...(bus === "scsi" ? { scsiController: model } : {}) }));
    }
  }
  return ok(undefined);
}

function checkPciAddress(address: Extract<DiskAddress, { type: "pci" }>): Result<void, VolkitError> {
  const { domain = 0, bus = 0, slot, function: fn = 0 } = address;
  if (domain !== 0) return err(ruleError("pci-address-domain", `the pc machine has PCI domain 0 only, not ${domain}`, { domain }));
  if (bus > 0 && (slot === undefined || slot === 0)) {
    return err(ruleError("pci-address-slot", `a device behind a PCI bridge (bus ${bus}) needs a slot from 1 to 31: slot 0 of a bridge is not usable`, { bus }));
  }
  if (slot === undefined || slot === 0) {
    return err(
      ruleError("pci-address-no-slot", "a PCI address on bus 0 needs a slot from 2 to 31: libvirt takes one without a slot (or with slot 0) as no address and picks its own slot and function; leave the address out instead", {
        ...(slot === undefined ? {} : { slot }),
        function: fn,
      }),
    );
  }
  if (bus === 0 && slot === 1 && fn <= 3) {
    return err(ruleError("pci-address-reserved", `PCI slot 1 function ${fn} of bus 0 is the pc machine's PIIX3 chipset (ISA bridge, IDE, USB, power management): pick another slot`, { slot, function: fn }));
  }
  return ok(undefined);
}
