import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildDiskXml, parseDiskXml, parseDomainDisks, renderDiskXml, resolveDisk, type DiskDefinition } from "../../../src/libvirt/index.js";
import { variants } from "../../fixtures/libvirt/variants.js";

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/libvirt/${name}`, import.meta.url), "utf8");

/** The `<disk>…</disk>` blocks of a domain document, addresses removed. */
function diskBlocks(domain: string): string[] {
  return [...domain.matchAll(/^ *<disk [\s\S]*?<\/disk>$/gm)].map((m) => m[0].replace(/^ *<address [^\n]*\n/gm, ""));
}

describe("parseDomainDisks on libvirt 9.0 dumpxml (captured)", () => {
  const input = parseDomainDisks(fixture("domain-input.xml"))._unsafeUnwrap();

  it("reads the 17 disks volkit wrote", () => {
    expect(input.map((d) => d.target.dev)).toEqual(["vda", "vdb", "vdc", "vdd", "vde", "vdf", "vdg", "vdh", "vdi", "vdj", "vdk", "vdl", "sda", "sdb", "sdc", "sdd", "hdb"]);
  });

  it("the test driver gives every disk back unchanged, line for line", () => {
    expect(diskBlocks(fixture("dumpxml-test-driver.xml"))).toEqual(diskBlocks(fixture("domain-input.xml")));
    const dumped = parseDomainDisks(fixture("dumpxml-test-driver.xml"))._unsafeUnwrap();
    expect(dumped.map(({ address: _a, ...d }) => d)).toEqual(input.map(({ address: _a, ...d }) => d));
  });

  it("the QEMU driver adds addresses and engine='qemu' but keeps every modelled field", () => {
    const dumped = parseDomainDisks(fixture("dumpxml-qemu-embed.xml"))._unsafeUnwrap();
    const strip = (d: DiskDefinition, keepAddress: boolean): DiskDefinition => {
      if (keepAddress || d.address === undefined) return d;
      const { address: _a, ...rest } = d;
      return rest;
    };
    dumped.forEach((d, i) => {
      const mine = input[i];
      if (mine === undefined) throw new Error("disk count differs");
      expect(strip(d, mine.address !== undefined)).toEqual(mine);
    });
    expect(dumped.find((d) => d.target.dev === "vda")?.address).toEqual({ type: "pci", domain: 0, bus: 0, slot: 4, function: 0 });
    expect(dumped.find((d) => d.target.dev === "sdd")?.address).toEqual({ type: "drive", controller: 0, bus: 0, target: 0, unit: 3 });
    expect(dumped.find((d) => d.target.dev === "vdj")?.source).toEqual({ kind: "file", file: `/var/lib/nova/mnt/0c5a1c6e2f9c4a7f8f1b0d3e2a4c6b8d/it's "a" <vol> & co.img` });
    expect(dumped.find((d) => d.target.dev === "vdi")?.encryption).toEqual({ format: "luks", secretType: "passphrase", secretUuid: "0f1e2d3c-4b5a-4968-8776-655443322110" });
    expect(dumped.find((d) => d.target.dev === "vdk")?.source).toMatchObject({
      protocol: "rbd",
      hosts: [{ name: "127.0.0.1", port: 6789 }, { name: "::1", port: 3300 }, { name: "localhost", port: 6789 }],
      auth: { username: "cinder", secretType: "ceph", uuid: "457eb676-33da-42ec-9a8c-9293d545c337" },
    });
    expect(dumped.find((d) => d.target.dev === "vdl")).toMatchObject({ model: "virtio-non-transitional", driver: { iommu: true } });
  });

  it("refuses a document that is not a domain, and disk types it does not model", () => {
    expect(parseDomainDisks("<disk type='file'><target dev='vda'/></disk>")._unsafeUnwrapErr().message).toMatch(/expected <domain>, found <disk>/);
    expect(parseDomainDisks("<domain><devices><disk type='dir'><target dev='vda'/></disk></devices></domain>")._unsafeUnwrapErr().message).toMatch(/disk type 'dir' is not one of block, file, network/);
    expect(parseDomainDisks("<domain/>")._unsafeUnwrap()).toEqual([]);
  });
});

describe("parseDiskXml", () => {
  it("round-trips every variant: resolve → render → parse gives the same definition, and render is stable", () => {
    for (const v of variants()) {
      const def = resolveDisk(v.input)._unsafeUnwrap();
      const xml = renderDiskXml(def)._unsafeUnwrap();
      const back = parseDiskXml(xml)._unsafeUnwrap();
      expect(back).toEqual(def);
      expect(renderDiskXml(back)._unsafeUnwrap()).toBe(xml);
    }
  });

  it("reads nova-style documents: auth directly in <disk>, encryption inside <source>, defaults for type and device", () => {
    const legacy = `<disk type='network'>
      <auth username='u1'><secret type='iscsi' usage='s1'/></auth>
      <source protocol='iscsi' name='iqn.2010-10.org.example:t/0'><host name='127.0.0.1'/></source>
      <target dev='vdb' bus='virtio'/>
    </disk>`;
    expect(parseDiskXml(legacy)._unsafeUnwrap()).toEqual({
      type: "network",
      device: "disk",
      source: { kind: "network", protocol: "iscsi", name: "iqn.2010-10.org.example:t/0", hosts: [{ name: "127.0.0.1" }], auth: { username: "u1", secretType: "iscsi", usage: "s1" } },
      target: { dev: "vdb", bus: "virtio" },
      readonly: false,
      shareable: false,
    });
    const inSource = `<disk><source file='/x'><encryption format='luks' engine='qemu'><secret type='passphrase' usage='k'/></encryption></source><target dev='vdc'/></disk>`;
    expect(parseDiskXml(inSource)._unsafeUnwrap()).toEqual({
      type: "file",
      device: "disk",
      source: { kind: "file", file: "/x" },
      target: { dev: "vdc" },
      readonly: false,
      shareable: false,
      encryption: { format: "luks", secretType: "passphrase", secretUsage: "k" },
    });
  });

  it("reads an empty cdrom, a floppy, zero iotune values as unlimited, hex and decimal addresses, and ignores unknown elements", () => {
    const cd = parseDiskXml("<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/><alias name='ide0-1-0'/></disk>")._unsafeUnwrap();
    expect(cd).toEqual({ type: "file", device: "cdrom", target: { dev: "hdc", bus: "ide" }, readonly: true, shareable: false });
    expect(parseDiskXml("<disk type='block' device='floppy'><source/><target dev='fda' bus='fdc'/></disk>")._unsafeUnwrap()).toMatchObject({ device: "floppy", target: { bus: "fdc" } });
    expect(parseDiskXml("<disk type='block'><source dev='/d'/><target dev='vdb'/><iotune><total_bytes_sec>0</total_bytes_sec><group_name>g</group_name></iotune></disk>")._unsafeUnwrap().iotune).toBeUndefined();
    expect(parseDiskXml("<disk type='block'><source dev='/d'/><target dev='vdb'/><address type='pci' domain='0' bus='0x01' slot='31' function='0x7'/></disk>")._unsafeUnwrap().address).toEqual({
      type: "pci",
      domain: 0,
      bus: 1,
      slot: 31,
      function: 7,
    });
    expect(parseDiskXml("<disk type='block'><source dev='/d'/><target dev='vdb'/><address type='ccw' cssid='0xfe'/></disk>")._unsafeUnwrap().address).toBeUndefined();
    expect(parseDiskXml("<disk type='block'><source dev='/d'/><target dev='vdb'/><backingStore/><wwn>5000c50015ea71ac</wwn></disk>").isOk()).toBe(true);
  });

  it.each([
    ["another root", "<domain/>", /expected <disk>, found <domain>/],
    ["no target", "<disk type='block'><source dev='/d'/></disk>", /<target dev> is missing/],
    ["a target without dev", "<disk type='block'><target bus='virtio'/></disk>", /<target dev> is missing/],
    ["an unknown bus", "<disk type='block'><target dev='vdb' bus='nvme'/></disk>", /target bus 'nvme' is not one of/],
    ["an unknown cache", "<disk type='block'><driver cache='fast'/><target dev='vdb'/></disk>", /driver cache 'fast'/],
    ["an unknown io", "<disk type='block'><driver io='aio'/><target dev='vdb'/></disk>", /driver io 'aio'/],
    ["an unknown discard", "<disk type='block'><driver discard='yes'/><target dev='vdb'/></disk>", /driver discard 'yes'/],
    ["an unknown device", "<disk type='block' device='tape'><target dev='vdb'/></disk>", /disk device 'tape'/],
    ["a network source without name", "<disk type='network'><source protocol='iscsi'/><target dev='vdb'/></disk>", /needs protocol and name/],
    ["a host without name", "<disk type='network'><source protocol='iscsi' name='x/0'><host port='1'/></source><target dev='vdb'/></disk>", /<host> needs a name/],
    ["a bad port", "<disk type='network'><source protocol='iscsi' name='x/0'><host name='h' port='x'/></source><target dev='vdb'/></disk>", /host port 'x' is not a whole number/],
    ["auth without secret", "<disk type='network'><source protocol='iscsi' name='x/0'><auth username='u'/></source><target dev='vdb'/></disk>", /<auth> needs a username and a <secret>/],
    ["auth secret without type", "<disk type='network'><source protocol='iscsi' name='x/0'><auth username='u'><secret uuid='x'/></auth></source><target dev='vdb'/></disk>", /needs a type/],
    ["encryption without format", "<disk type='file'><target dev='vdb'/><encryption/></disk>", /<encryption> needs a format/],
    ["a bad iotune value", "<disk type='file'><target dev='vdb'/><iotune><read_iops_sec>-1</read_iops_sec></iotune></disk>", /read_iops_sec '-1' is not a whole number/],
    ["a bad block size", "<disk type='file'><target dev='vdb'/><blockio logical_block_size='big'/></disk>", /logical_block_size 'big'/],
    ["a bad physical block size", "<disk type='file'><target dev='vdb'/><blockio physical_block_size='1.5'/></disk>", /physical_block_size/],
    ["a bad boot order", "<disk type='file'><target dev='vdb'/><boot order='first'/></disk>", /boot order 'first'/],
    ["a bad address", "<disk type='file'><target dev='vdb'/><address type='drive' unit='0x'/></disk>", /address unit '0x'/],
    ["malformed XML", "<disk type='file'>", /is not closed/],
  ])("refuses %s with PARSE_ERROR", (_what, xml, message) => {
    const e = parseDiskXml(xml)._unsafeUnwrapErr();
    expect(e.code).toBe("PARSE_ERROR");
    expect(e.message).toMatch(message);
  });

  it("parses what buildDiskXml writes for the network CHAP variant, secret by usage", () => {
    const v = variants().find((x) => x.name === "network-chap-usage");
    if (!v) throw new Error("variant missing");
    expect(parseDiskXml(buildDiskXml(v.input)._unsafeUnwrap())._unsafeUnwrap().source).toEqual({
      kind: "network",
      protocol: "iscsi",
      name: "iqn.2010-10.org.openstack:volume-3e9d0a6e-8b5e-4a0e-9a0e-0b1c2d3e4f50/1",
      hosts: [{ name: "127.0.0.2", port: 3260 }],
      auth: { username: "volkit-user", secretType: "iscsi", usage: "volkit chap 'vol' <1> & more" },
    });
  });
});
