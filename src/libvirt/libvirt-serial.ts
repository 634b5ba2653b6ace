import { createHash } from "node:crypto";
import type { DiskBus } from "./libvirt-options.js";

/**
 * Disk serials the guest can actually see. QEMU keeps 20 bytes of a virtio-blk serial (the
 * VIRTIO_BLK_ID_BYTES field) and of an IDE/SATA serial (the ATA IDENTIFY field), and at most 36 on
 * SCSI (VPD page 0x80); libvirt and QEMU accept a longer one and cut it without a word, so a guest
 * looking for `/dev/disk/by-id/virtio-<full volume id>` never finds it (field pain point 14).
 */

/**
 * Bytes of the serial the guest sees on each bus; `undefined` where QEMU does not cut it.
 *
 * @example
 * ```ts
 * SERIAL_MAX_BYTES.virtio; // 20
 * ```
 */
export const SERIAL_MAX_BYTES: Readonly<Partial<Record<DiskBus, number>>> = {
  virtio: 20,
  ide: 20,
  sata: 20,
  scsi: 36,
  usb: 36,
};

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * A serial for `volumeId` that fits `bus` and survives libvirt's serial pattern.
 *
 * - An id that fits is used as is (a UUID fits scsi and usb whole).
 * - A UUID on virtio/ide/sata becomes its first 20 characters, which is exactly what guests of
 *   nova see today (nova passes the whole UUID and QEMU cuts it), so existing guest tooling keeps
 *   working: volume `3e9d0a6e-8b5e-4a0e-9a0e-0b1c2d3e4f50` appears as
 *   `/dev/disk/by-id/virtio-3e9d0a6e-8b5e-4a0e-9`.
 * - Any other long id becomes a prefix, `-` and 8 hex digits of its SHA-256, so two long ids
 *   that share a prefix still get different serials.
 *
 * Characters libvirt refuses in a serial are replaced with `_`.
 *
 * @example
 * ```ts
 * serialFromVolumeId("3e9d0a6e-8b5e-4a0e-9a0e-0b1c2d3e4f50");          // "3e9d0a6e-8b5e-4a0e-9"
 * serialFromVolumeId("3e9d0a6e-8b5e-4a0e-9a0e-0b1c2d3e4f50", "scsi");  // the whole UUID
 * serialFromVolumeId("volume-for-the-billing-database");               // "volume-for-a1b2c3d4" (hash varies)
 * ```
 */
export function serialFromVolumeId(volumeId: string, bus: DiskBus = "virtio"): string {
  const clean = volumeId.replace(/[^A-Za-z0-9_.+\- ]/g, "_");
  const max = SERIAL_MAX_BYTES[bus];
  if (max === undefined || clean.length <= max) return clean;
  if (UUID.test(volumeId)) return clean.slice(0, max);
  const hash = createHash("sha256").update(volumeId).digest("hex").slice(0, 8);
  const prefix = clean.slice(0, max - 9).replace(/[-_. +]+$/, "");
  return `${prefix}-${hash}`;
}

/**
 * The `/dev/disk/by-id` link a Linux guest's udev creates for a disk with this serial, where the
 * name follows from the serial alone (systemd's 60-persistent-storage.rules; whitespace becomes
 * `_`), after the bus has cut the serial:
 *
 * - virtio: `/dev/disk/by-id/virtio-<serial>`
 * - ide, sata: `/dev/disk/by-id/ata-QEMU_HARDDISK_<serial>`
 *
 * `undefined` for other buses: on scsi the link is built from the VPD device identification page
 * (`scsi-0QEMU_QEMU_HARDDISK_<id>`), whose id QEMU derives from the serial differently across
 * versions, so look the disk up by `lsblk -o NAME,SERIAL` there.
 *
 * @example
 * ```ts
 * guestDiskByIdPath("3e9d0a6e-8b5e-4a0e-9a0e-0b1c2d3e4f50", "virtio"); // "/dev/disk/by-id/virtio-3e9d0a6e-8b5e-4a0e-9"
 * ```
 */
export function guestDiskByIdPath(serial: string, bus: DiskBus): string | undefined {
  const max = SERIAL_MAX_BYTES[bus];
  const seen = (max === undefined ? serial : serial.slice(0, max)).trim().replace(/\s+/g, "_");
  switch (bus) {
    case "virtio":
      return `/dev/disk/by-id/virtio-${seen}`;
    case "ide":
    case "sata":
      return `/dev/disk/by-id/ata-QEMU_HARDDISK_${seen}`;
    default:
      return undefined;
  }
}
