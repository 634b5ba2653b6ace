import { describe, expect, it } from "vitest";
import { checkIoTune, guestDiskByIdPath, iotuneFromQosSpecs, SERIAL_MAX_BYTES, serialFromVolumeId, SERIAL_PATTERN } from "../../../src/libvirt/index.js";

const UUID = "3e9d0a6e-8b5e-4a0e-9a0e-0b1c2d3e4f50";

describe("serialFromVolumeId", () => {
  it("cuts a UUID to its first 20 characters on virtio/ide/sata, exactly what nova guests see", () => {
    for (const bus of ["virtio", "ide", "sata"] as const) expect(serialFromVolumeId(UUID, bus)).toBe("3e9d0a6e-8b5e-4a0e-9");
    expect(serialFromVolumeId(UUID)).toBe("3e9d0a6e-8b5e-4a0e-9");
  });

  it("keeps a UUID whole on scsi and usb (36 bytes) and where QEMU does not cut", () => {
    for (const bus of ["scsi", "usb", "xen", "sd"] as const) expect(serialFromVolumeId(UUID, bus)).toBe(UUID);
  });

  it("keeps a short id; gives long non-UUID ids a hashed suffix so shared prefixes stay distinct", () => {
    expect(serialFromVolumeId("vol-1")).toBe("vol-1");
    expect(serialFromVolumeId("a".repeat(20))).toBe("a".repeat(20));
    const a = serialFromVolumeId("volume-for-the-billing-database-1");
    const b = serialFromVolumeId("volume-for-the-billing-database-2");
    expect(a).toMatch(/^volume-for-[0-9a-f]{8}$/);
    expect(a.length).toBeLessThanOrEqual(20);
    expect(serialFromVolumeId("abcdefghijklmnopqrstuvwxyz")).toMatch(/^abcdefghijk-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(serialFromVolumeId("volume-for-the-billing-database-1")).toBe(a);
    expect(serialFromVolumeId("x".repeat(40), "scsi")).toHaveLength(36);
  });

  it("replaces characters libvirt refuses in a serial", () => {
    expect(serialFromVolumeId("a/b:c")).toBe("a_b_c");
    expect(SERIAL_PATTERN.test(serialFromVolumeId("é/ü<>&'\"x"))).toBe(true);
  });

  it("knows where QEMU cuts", () => {
    expect(SERIAL_MAX_BYTES).toEqual({ virtio: 20, ide: 20, sata: 20, scsi: 36, usb: 36 });
  });
});

describe("guestDiskByIdPath", () => {
  it("gives the udev by-id link for virtio and ATA, after the bus cut, whitespace as _", () => {
    expect(guestDiskByIdPath(UUID, "virtio")).toBe("/dev/disk/by-id/virtio-3e9d0a6e-8b5e-4a0e-9");
    expect(guestDiskByIdPath("vol 42", "sata")).toBe("/dev/disk/by-id/ata-QEMU_HARDDISK_vol_42");
    expect(guestDiskByIdPath("abc", "ide")).toBe("/dev/disk/by-id/ata-QEMU_HARDDISK_abc");
  });

  it("has no predictable name on other buses", () => {
    expect(guestDiskByIdPath("abc", "scsi")).toBeUndefined();
    expect(guestDiskByIdPath("abc", "usb")).toBeUndefined();
  });
});

describe("iotuneFromQosSpecs", () => {
  it("maps every libvirt key and ignores the rest", () => {
    expect(iotuneFromQosSpecs(undefined)).toEqual({});
    expect(
      iotuneFromQosSpecs({
        total_bytes_sec: 1,
        read_iops_sec_max: 2,
        write_bytes_sec_max_length: 3,
        size_iops_sec: 4,
        total_iops_sec_per_gb: 5,
        consumer: 6,
      }),
    ).toEqual({ totalBytesSec: 1, readIopsSecMax: 2, writeBytesSecMaxLength: 3, sizeIopsSec: 4 });
  });
});

describe("checkIoTune", () => {
  it("drops zeros and returns undefined when nothing is left", () => {
    expect(checkIoTune({})._unsafeUnwrap()).toBeUndefined();
    expect(checkIoTune({ totalBytesSec: 0, readIopsSec: 0 })._unsafeUnwrap()).toBeUndefined();
    expect(checkIoTune({ totalBytesSec: 0, readBytesSec: 5 })._unsafeUnwrap()).toEqual({ readBytesSec: 5 });
  });

  it("accepts bytes totals with iops read/write (different kinds) and bursts at or above the base", () => {
    expect(checkIoTune({ totalBytesSec: 10, readIopsSec: 1, writeIopsSec: 2, totalBytesSecMax: 10, readIopsSecMax: 5, readIopsSecMaxLength: 1 })._unsafeUnwrap()).toEqual({
      totalBytesSec: 10,
      readIopsSec: 1,
      writeIopsSec: 2,
      totalBytesSecMax: 10,
      readIopsSecMax: 5,
      readIopsSecMaxLength: 1,
    });
  });

  it.each([
    [{ totalBytesSecMax: 1, readBytesSecMax: 1, totalBytesSec: 1, readBytesSec: 1 }, "iotune-total-vs-rw"],
    [{ totalIopsSecMaxLength: 2, writeIopsSecMaxLength: 2 }, "iotune-total-vs-rw"],
    [{ totalIopsSecMax: 5 }, "iotune-max-needs-base"],
    [{ readBytesSec: 10, readBytesSecMax: 9 }, "iotune-max-below-base"],
    [{ writeIopsSec: 10, writeIopsSecMaxLength: 2 }, "iotune-length-needs-max"],
    [{ sizeIopsSec: 512, readBytesSec: 1 }, "iotune-size-needs-iops"],
    [{ readBytesSec: -1 }, "iotune-value"],
    [{ readBytesSec: Number.POSITIVE_INFINITY }, "iotune-value"],
    [{ readBytesSec: 1e15 + 1 }, "iotune-value"],
  ])("refuses %o (%s)", (iotune, rule) => {
    const e = checkIoTune(iotune)._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.details.rule).toBe(rule);
  });

  it("accepts the largest value QEMU accepts", () => {
    expect(checkIoTune({ totalIopsSec: 1e15 })._unsafeUnwrap()).toEqual({ totalIopsSec: 1e15 });
  });
});
