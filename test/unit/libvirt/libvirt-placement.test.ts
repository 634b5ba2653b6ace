import { describe, expect, it } from "vitest";
import { buildDiskXml, diskIndex, parseDiskXml, resolveDisk, type DiskOptions, type DiskXmlInput } from "../../../src/libvirt/index.js";
import { iscsiSingle, localLv, lvDevice, nfsDevice, nfsRaw, singlePathDevice } from "../../fixtures/libvirt/variants.js";

/**
 * The other side of the QEMU-driver rules: what sits right at each limit is still accepted, so the
 * rules refuse exactly what libvirt's QEMU driver or QEMU refuse (see rule-cases.ts for refusals).
 */

const MNT = "/var/lib/nova/mnt/0c5a1c6e2f9c4a7f8f1b0d3e2a4c6b8d";
const block = (options: DiskOptions): DiskXmlInput => ({ connection: localLv, device: lvDevice, options });
const file = (options: DiskOptions): DiskXmlInput => ({ connection: nfsRaw, device: nfsDevice(MNT, "raw"), options });
const accepted = (input: DiskXmlInput): void => {
  const r = buildDiskXml(input);
  expect(r.isOk(), r.isErr() ? r.error.message : "").toBe(true);
};

describe("diskIndex: libvirt's reading of a target name", () => {
  it("reads letters as a bijective base-26 number and refuses anything else", () => {
    expect([diskIndex("vda"), diskIndex("hdd"), diskIndex("sdz"), diskIndex("sdaa"), diskIndex("sdzz"), diskIndex("xvdaaa"), diskIndex("ubdb")]).toEqual([0, 3, 25, 26, 701, 702, 1]);
    for (const dev of ["vda1", "vda0", "vdA", "vd_a", "vd", "nvme0n1"]) expect(diskIndex(dev)).toBeUndefined();
  });
});

describe("limits: the last accepted value", () => {
  it("target names: hdd on ide, two letters on sata/scsi/usb, any length on virtio, any name with an address, fd names on a cdrom", () => {
    accepted(block({ target: { dev: "hdd", bus: "ide" } }));
    accepted(block({ target: { dev: "sdzz", bus: "sata" } }));
    accepted(block({ target: { dev: "sdzz", bus: "scsi" } }));
    accepted(block({ target: { dev: "sdzz", bus: "usb" } }));
    accepted(block({ target: { dev: "vdzzzz", bus: "virtio" } }));
    accepted(block({ target: { dev: "hdzzz", bus: "ide" }, address: { type: "drive", bus: 1, unit: 1 } }));
    accepted(block({ target: { dev: "sdzzzz", bus: "scsi" }, address: { type: "drive", unit: 7 } }));
    accepted(file({ device: "cdrom", target: { dev: "fdc", bus: "sata" } }));
    accepted(block({ target: { dev: "ubdb", bus: "virtio" } }));
  });

  it("drive addresses: ide 0:1:0:1, sata any controller and unit 5, lsilogic unit 7, virtio-scsi target 99 and LUN 16383", () => {
    accepted(block({ target: { dev: "hdb", bus: "ide" }, address: { type: "drive", controller: 0, bus: 1, target: 0, unit: 1 } }));
    accepted(block({ target: { dev: "sdb", bus: "sata" }, address: { type: "drive", controller: 3, bus: 0, target: 0, unit: 5 } }));
    accepted(block({ target: { dev: "sdb", bus: "scsi" }, address: { type: "drive", controller: 2, bus: 0, target: 0, unit: 7 } }));
    accepted(block({ target: { dev: "sdb", bus: "scsi" }, scsiController: "virtio-scsi", address: { type: "drive", controller: 1, bus: 0, target: 99, unit: 16_383 } }));
    const e = buildDiskXml(block({ target: { dev: "sdb", bus: "scsi" }, scsiController: "virtio-scsi", address: { type: "drive", unit: 16_384 } }))._unsafeUnwrapErr();
    expect(e.message).toMatch(/options\.address\.unit/);
  });

  it("pci addresses: bus 0 slot 2, bus 0 slot 1 function 4, a bridge's slot 1 and bus 255", () => {
    accepted(block({ target: { dev: "vdb", bus: "virtio" }, address: { type: "pci", bus: 0, slot: 2 } }));
    accepted(block({ target: { dev: "vdb", bus: "virtio" }, address: { type: "pci", slot: 1, function: 4 } }));
    accepted(block({ target: { dev: "vdb", bus: "virtio" }, address: { type: "pci", domain: 0, bus: 1, slot: 1, function: 0 } }));
    accepted(block({ target: { dev: "vdb", bus: "virtio" }, address: { type: "pci", bus: 255, slot: 31, function: 7 } }));
  });

  it("block sizes: 512 logical on ide and sata with any physical; a logical size alone also sets the physical one", () => {
    accepted(block({ target: { dev: "hdb", bus: "ide" }, blockio: { logicalBlockSize: 512, physicalBlockSize: 2_097_152 } }));
    expect(resolveDisk(file({ target: { dev: "vdb", bus: "virtio" }, blockio: { logicalBlockSize: 4096 } }))._unsafeUnwrap().blockio).toEqual({ logicalBlockSize: 4096, physicalBlockSize: 4096 });
    expect(resolveDisk(file({ target: { dev: "vdb", bus: "virtio" }, blockio: { logicalBlockSize: 512 } }))._unsafeUnwrap().blockio).toEqual({ logicalBlockSize: 512 });
    expect(resolveDisk({ connection: { ...iscsiSingle, logicalBlockSize: 4096 }, device: singlePathDevice, options: { target: { dev: "vdb", bus: "virtio" } } })._unsafeUnwrap().blockio).toEqual({
      logicalBlockSize: 4096,
      physicalBlockSize: 4096,
    });
  });
});

describe("iommu on virtio disks (SEV guests)", () => {
  it("writes iommu='on' with the virtio 1.0-only model QEMU needs for it on a pc machine, and reads both back", () => {
    const out = buildDiskXml(file({ target: { dev: "vdb", bus: "virtio" }, driver: { iommu: true } }))._unsafeUnwrap();
    expect(out).toContain("<disk type='file' device='disk' model='virtio-non-transitional'>\n  <driver name='qemu' type='raw' cache='none' io='threads' iommu='on'/>\n");
    expect(parseDiskXml(out)._unsafeUnwrap()).toMatchObject({ model: "virtio-non-transitional", driver: { iommu: true } });
  });

  it("iommu false writes iommu='off' and keeps QEMU's default model; no iommu option writes neither", () => {
    const off = buildDiskXml(file({ target: { dev: "vdb", bus: "virtio" }, driver: { iommu: false } }))._unsafeUnwrap();
    expect(off).toContain("<disk type='file' device='disk'>\n  <driver name='qemu' type='raw' cache='none' io='threads' iommu='off'/>\n");
    expect(parseDiskXml(off)._unsafeUnwrap().driver?.iommu).toBe(false);
    expect(buildDiskXml(file({ target: { dev: "vdb", bus: "virtio" } }))._unsafeUnwrap()).not.toMatch(/iommu|model=/);
  });

  it("parses a model libvirt does not document as a PARSE_ERROR", () => {
    expect(parseDiskXml("<disk type='file' device='disk' model='virtio-legacy'><target dev='vdb'/></disk>")._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
  });
});
