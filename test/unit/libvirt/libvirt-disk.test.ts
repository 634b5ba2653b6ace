import { describe, expect, it } from "vitest";
import {
  buildDiskXml,
  DISK_RULES,
  parseDiskXml,
  resolveDisk,
  type DiskXmlInput,
} from "../../../src/libvirt/index.js";
import {
  CHAP_PASSWORD,
  IQN,
  iscsiMultipath,
  iscsiSingle,
  localLv,
  lvDevice,
  multipathDevice,
  nfsDevice,
  nfsQcow2,
  nfsRaw,
  SECRET_UUID,
  singlePathDevice,
  variants,
  VOLUME_ID,
} from "../../fixtures/libvirt/variants.js";
import { RULE_CASES } from "./rule-cases.js";

const MNT = "/var/lib/nova/mnt/0c5a1c6e2f9c4a7f8f1b0d3e2a4c6b8d";
const vdb = { dev: "vdb", bus: "virtio" } as const;
const xml = (input: DiskXmlInput): string => buildDiskXml(input)._unsafeUnwrap();
const disk = (input: DiskXmlInput) => resolveDisk(input)._unsafeUnwrap();

describe("buildDiskXml: the XML nova would write", () => {
  it("iSCSI multipath in host mode: the dm device, block, cache none, io native, discard, QoS, 20-byte serial", () => {
    expect(xml({ connection: iscsiMultipath, device: multipathDevice, options: { target: vdb } })).toBe(
      [
        "<disk type='block' device='disk'>",
        "  <driver name='qemu' type='raw' cache='none' io='native' discard='unmap'/>",
        "  <source dev='/dev/dm-3'/>",
        "  <target dev='vdb' bus='virtio'/>",
        "  <iotune>",
        "    <total_bytes_sec>104857600</total_bytes_sec>",
        "    <read_iops_sec>2000</read_iops_sec>",
        "    <write_iops_sec>1000</write_iops_sec>",
        "  </iotune>",
        "  <serial>3e9d0a6e-8b5e-4a0e-9</serial>",
        "</disk>",
        "",
      ].join("\n"),
    );
  });

  it("NFS qcow2 in host mode: the file, type qcow2, io threads", () => {
    expect(xml({ connection: nfsQcow2, device: nfsDevice(MNT, "qcow2"), options: { target: vdb } })).toBe(
      [
        "<disk type='file' device='disk'>",
        "  <driver name='qemu' type='qcow2' cache='none' io='threads'/>",
        `  <source file='${MNT}/volume-${VOLUME_ID}'/>`,
        "  <target dev='vdb' bus='virtio'/>",
        "  <serial>3e9d0a6e-8b5e-4a0e-9</serial>",
        "</disk>",
        "",
      ].join("\n"),
    );
  });

  it("iSCSI in network mode with CHAP: one host, a secret reference, no password, no io", () => {
    const out = xml({ connection: iscsiMultipath, options: { mode: "network", portal: 1, chapSecret: { uuid: SECRET_UUID }, initiatorIqn: "iqn.2026-11.io.volkit:compute-1", target: vdb, iotune: {} } });
    expect(out).toBe(
      [
        "<disk type='network' device='disk'>",
        "  <driver name='qemu' type='raw' cache='none' discard='unmap'/>",
        `  <source protocol='iscsi' name='${IQN}/1'>`,
        "    <host name='127.0.0.2' port='3260'/>",
        "    <initiator>",
        "      <iqn name='iqn.2026-11.io.volkit:compute-1'/>",
        "    </initiator>",
        "    <auth username='volkit-user'>",
        `      <secret type='iscsi' uuid='${SECRET_UUID}'/>`,
        "    </auth>",
        "  </source>",
        "  <target dev='vdb' bus='virtio'/>",
        "  <serial>3e9d0a6e-8b5e-4a0e-9</serial>",
        "</disk>",
        "",
      ].join("\n"),
    );
    expect(out).not.toContain(CHAP_PASSWORD);
  });

  it("never writes the CHAP password, in any variant", () => {
    for (const v of variants()) expect(xml(v.input)).not.toContain(CHAP_PASSWORD);
  });

  it.each(variants().map((v) => [v.name, v] as const))("round-trips variant %s through parseDiskXml", (_name, v) => {
    const built = resolveDisk(v.input)._unsafeUnwrap();
    expect(parseDiskXml(xml(v.input))._unsafeUnwrap()).toEqual(built);
  });

  it("accepts parsed (output) connection info as well as input-form objects", () => {
    const parsedForm = { ...iscsiSingle, accessMode: "rw", encrypted: false, targetDiscovered: false } as const;
    expect(xml({ connection: parsedForm, device: singlePathDevice, options: { target: vdb } })).toBe(xml({ connection: iscsiSingle, device: singlePathDevice, options: { target: vdb } }));
  });
});

describe("defaults", () => {
  it("block: cache none + io native; a non-direct cache falls back to io threads (nova's rule)", () => {
    expect(disk({ connection: localLv, device: lvDevice, options: { target: vdb } }).driver).toEqual({ name: "qemu", type: "raw", cache: "none", io: "native" });
    expect(disk({ connection: localLv, device: lvDevice, options: { target: vdb, driver: { cache: "writeback" } } }).driver).toEqual({ name: "qemu", type: "raw", cache: "writeback", io: "threads" });
    expect(disk({ connection: localLv, device: lvDevice, options: { target: vdb, driver: { cache: "directsync" } } }).driver?.io).toBe("native");
  });

  it("file: io threads (Linux AIO blocks on sparse/qcow2 allocation); explicit io wins", () => {
    expect(disk({ connection: nfsRaw, device: nfsDevice(MNT, "raw"), options: { target: vdb } }).driver).toEqual({ name: "qemu", type: "raw", cache: "none", io: "threads" });
    expect(disk({ connection: nfsRaw, device: nfsDevice(MNT, "raw"), options: { target: vdb, driver: { io: "native" } } }).driver?.io).toBe("native");
    expect(disk({ connection: nfsRaw, device: nfsDevice(MNT, "raw"), options: { target: vdb, driver: { io: "io_uring", cache: "writeback" } } }).driver).toMatchObject({ io: "io_uring", cache: "writeback" });
  });

  it("network: no io attribute unless asked", () => {
    expect(disk({ connection: iscsiSingle, options: { mode: "network", target: vdb } }).driver).toEqual({ name: "qemu", type: "raw", cache: "none" });
  });

  it("discard: unmap when the connection allows it and the bus carries it, else left out", () => {
    const c = { ...localLv, discard: true } as const;
    for (const bus of ["virtio", "scsi", "sata", "ide"] as const) {
      expect(disk({ connection: c, device: lvDevice, options: { target: { dev: "sdb", bus } } }).driver?.discard).toBe("unmap");
    }
    expect(disk({ connection: c, device: lvDevice, options: { target: { dev: "sdb", bus: "usb" } } }).driver?.discard).toBeUndefined();
    expect(disk({ connection: localLv, device: lvDevice, options: { target: vdb } }).driver?.discard).toBeUndefined();
    expect(disk({ connection: c, device: lvDevice, options: { target: vdb, driver: { discard: "ignore" } } }).driver?.discard).toBe("ignore");
    expect(disk({ connection: { ...nfsRaw, discard: true }, device: nfsDevice(MNT, "raw"), options: { device: "cdrom", target: { dev: "sdc", bus: "sata" } } }).driver?.discard).toBeUndefined();
    expect(disk({ connection: localLv, device: lvDevice, options: { target: { dev: "sdb", bus: "usb" }, driver: { discard: "ignore" } } }).driver?.discard).toBe("ignore");
  });

  it("serial: fits the bus by default, can be set or left out; none for lun and cdrom", () => {
    expect(disk({ connection: localLv, device: lvDevice, options: { target: vdb } }).serial).toBe("3e9d0a6e-8b5e-4a0e-9");
    expect(disk({ connection: localLv, device: lvDevice, options: { target: { dev: "hdb", bus: "ide" } } }).serial).toBe("3e9d0a6e-8b5e-4a0e-9");
    expect(disk({ connection: localLv, device: lvDevice, options: { target: { dev: "sdb", bus: "scsi" } } }).serial).toBe(VOLUME_ID);
    expect(disk({ connection: localLv, device: lvDevice, options: { target: vdb, serial: "my disk 1" } }).serial).toBe("my disk 1");
    expect(disk({ connection: localLv, device: lvDevice, options: { target: vdb, serial: false } }).serial).toBeUndefined();
    expect(disk({ connection: iscsiSingle, device: singlePathDevice, options: { device: "lun", target: { dev: "sda", bus: "scsi" } } }).serial).toBeUndefined();
    expect(disk({ connection: nfsRaw, device: nfsDevice(MNT, "raw"), options: { device: "cdrom", target: { dev: "sdc", bus: "sata" } } }).serial).toBeUndefined();
    expect(disk({ connection: localLv, device: lvDevice, options: { target: vdb, serial: "12345678901234567890" } }).serial).toHaveLength(20);
  });

  it("readonly: from accessMode ro, from the option, always for a cdrom", () => {
    expect(disk({ connection: { ...localLv, accessMode: "ro" }, device: lvDevice, options: { target: vdb } }).readonly).toBe(true);
    expect(disk({ connection: { ...localLv, accessMode: "ro" }, device: lvDevice, options: { target: vdb, readonly: true } }).readonly).toBe(true);
    expect(disk({ connection: localLv, device: lvDevice, options: { target: vdb, readonly: true } }).readonly).toBe(true);
    expect(disk({ connection: localLv, device: lvDevice, options: { target: vdb } }).readonly).toBe(false);
    expect(disk({ connection: nfsRaw, device: nfsDevice(MNT, "raw"), options: { device: "cdrom", target: { dev: "hdc", bus: "ide" } } }).readonly).toBe(true);
    expect(xml({ connection: { ...localLv, accessMode: "ro" }, device: lvDevice, options: { target: vdb } })).toContain("  <readonly/>\n");
  });

  it("shareable: <shareable/>, cache none; a read-only qcow2 may be shared", () => {
    expect(xml({ connection: iscsiSingle, device: singlePathDevice, options: { target: vdb, shareable: true } })).toContain("  <shareable/>\n");
    expect(disk({ connection: iscsiSingle, device: singlePathDevice, options: { target: vdb, shareable: true } }).driver?.cache).toBe("none");
    expect(disk({ connection: { ...nfsQcow2, accessMode: "ro" }, device: nfsDevice(MNT, "qcow2"), options: { target: vdb, shareable: true } })).toMatchObject({ shareable: true, readonly: true });
  });

  it("format: from the NFS connection, else the device, else raw; an explicit type that agrees is fine", () => {
    const { format: _format, ...withoutFormat } = nfsDevice(MNT, "qcow2");
    expect(disk({ connection: nfsQcow2, device: withoutFormat, options: { target: vdb } }).driver?.type).toBe("qcow2");
    expect(disk({ connection: localLv, device: { ...lvDevice, format: "qcow2" }, options: { target: vdb } }).driver?.type).toBe("qcow2");
    expect(disk({ connection: localLv, device: lvDevice, options: { target: vdb, driver: { type: "qcow2" } } }).driver?.type).toBe("qcow2");
    expect(disk({ connection: nfsQcow2, device: nfsDevice(MNT, "qcow2"), options: { target: vdb, driver: { type: "qcow2" } } }).driver?.type).toBe("qcow2");
  });

  it("iotune: derived from Cinder's front-end QoS keys (unknown keys and zeros dropped); explicit iotune replaces them", () => {
    const c = { ...localLv, qosSpecs: { total_bytes_sec: 0, read_bytes_sec: 1000, write_bytes_sec: 2000, total_iops_sec: 300, total_iops_sec_max: 600, total_iops_sec_max_length: 10, size_iops_sec: 4096, vendor_key: 9 } };
    expect(disk({ connection: c, device: lvDevice, options: { target: vdb } }).iotune).toEqual({
      readBytesSec: 1000,
      writeBytesSec: 2000,
      totalIopsSec: 300,
      totalIopsSecMax: 600,
      totalIopsSecMaxLength: 10,
      sizeIopsSec: 4096,
    });
    expect(disk({ connection: c, device: lvDevice, options: { target: vdb, iotune: { writeIopsSec: 5 } } }).iotune).toEqual({ writeIopsSec: 5 });
    expect(disk({ connection: c, device: lvDevice, options: { target: vdb, iotune: {} } }).iotune).toBeUndefined();
    expect(disk({ connection: { ...localLv, qosSpecs: { total_bytes_sec: 0 } }, device: lvDevice, options: { target: vdb } }).iotune).toBeUndefined();
  });

  it("writes every iotune field under its libvirt name", () => {
    const all = {
      readBytesSec: 1,
      writeBytesSec: 2,
      readIopsSec: 3,
      writeIopsSec: 4,
      readBytesSecMax: 5,
      writeBytesSecMax: 6,
      readIopsSecMax: 7,
      writeIopsSecMax: 8,
      sizeIopsSec: 9,
      readBytesSecMaxLength: 10,
      writeBytesSecMaxLength: 11,
      readIopsSecMaxLength: 12,
      writeIopsSecMaxLength: 13,
    };
    const out = xml({ connection: localLv, device: lvDevice, options: { target: vdb, iotune: all } });
    for (const [name, value] of [
      ["read_bytes_sec", 1],
      ["write_iops_sec_max", 8],
      ["size_iops_sec", 9],
      ["write_iops_sec_max_length", 13],
    ] as const) {
      expect(out).toContain(`<${name}>${value}</${name}>`);
    }
    expect(parseDiskXml(out)._unsafeUnwrap().iotune).toEqual(all);
    const totals = { totalBytesSec: 10, totalIopsSec: 20, totalBytesSecMax: 30, totalIopsSecMax: 40, totalBytesSecMaxLength: 2, totalIopsSecMaxLength: 3 };
    expect(parseDiskXml(xml({ connection: localLv, device: lvDevice, options: { target: vdb, iotune: totals } }))._unsafeUnwrap().iotune).toEqual(totals);
  });

  it("blockio: from the iSCSI hints unless given; either size alone is fine", () => {
    const hinted = { ...iscsiSingle, logicalBlockSize: 512, physicalBlockSize: 4096 };
    expect(disk({ connection: hinted, device: singlePathDevice, options: { target: vdb } }).blockio).toEqual({ logicalBlockSize: 512, physicalBlockSize: 4096 });
    expect(disk({ connection: hinted, device: singlePathDevice, options: { target: vdb, blockio: { logicalBlockSize: 4096, physicalBlockSize: 4096 } } }).blockio).toEqual({
      logicalBlockSize: 4096,
      physicalBlockSize: 4096,
    });
    expect(disk({ connection: hinted, device: singlePathDevice, options: { target: vdb, blockio: {} } }).blockio).toBeUndefined();
    expect(disk({ connection: localLv, device: lvDevice, options: { target: vdb, blockio: { physicalBlockSize: 4096 } } }).blockio).toEqual({ physicalBlockSize: 4096 });
    expect(xml({ connection: hinted, device: singlePathDevice, options: { target: vdb } })).toContain("<blockio logical_block_size='512' physical_block_size='4096'/>");
  });

  it("boot order, pci address (hex like libvirt), drive address", () => {
    const pci = xml({ connection: localLv, device: lvDevice, options: { target: vdb, bootOrder: 2, address: { type: "pci", domain: 0, bus: 0, slot: 10, function: 1 } } });
    expect(pci).toContain("<boot order='2'/>");
    expect(pci).toContain("<address type='pci' domain='0x0000' bus='0x00' slot='0x0a' function='0x1'/>");
    expect(xml({ connection: localLv, device: lvDevice, options: { target: vdb, address: { type: "pci", slot: 7 } } })).toContain("<address type='pci' slot='0x07'/>");
    const drive = xml({ connection: localLv, device: lvDevice, options: { target: { dev: "sdb", bus: "scsi" }, scsiController: "virtio-scsi", address: { type: "drive", controller: 1, bus: 0, target: 2, unit: 5 } } });
    expect(drive).toContain("<address type='drive' controller='1' bus='0' target='2' unit='5'/>");
    expect(xml({ connection: localLv, device: lvDevice, options: { target: { dev: "sdb", bus: "scsi" }, address: { type: "drive", controller: 3, target: 0, unit: 7 } } })).toContain(
      "<address type='drive' controller='3' target='0' unit='7'/>",
    );
    expect(xml({ connection: localLv, device: lvDevice, options: { target: { dev: "hdb", bus: "ide" }, address: { type: "drive", bus: 1, unit: 0 } } })).toContain("<address type='drive' bus='1' unit='0'/>");
  });

  it("encryption: luks element with the passphrase secret; host-decrypted writes none", () => {
    const enc = { ...iscsiSingle, encrypted: true } as const;
    const luks = xml({ connection: enc, device: singlePathDevice, options: { target: vdb, encryption: { format: "luks", secretUuid: SECRET_UUID } } });
    expect(luks).toContain(`  <encryption format='luks'>\n    <secret type='passphrase' uuid='${SECRET_UUID}'/>\n  </encryption>\n`);
    expect(xml({ connection: enc, device: singlePathDevice, options: { target: vdb, encryption: { format: "host-decrypted" } } })).not.toContain("encryption");
  });

  it("network mode: host and port split from the portal, path chosen by index, IQN/LUN filled from the primary path", () => {
    const named = { ...iscsiSingle, targetPortal: "localhost:3261" };
    expect(disk({ connection: named, options: { mode: "network", target: vdb } }).source).toEqual({ kind: "network", protocol: "iscsi", name: `${IQN}/1`, hosts: [{ name: "localhost", port: 3261 }] });
    const portalsOnly = { ...iscsiSingle, targetPortals: ["127.0.0.1:3260", "127.0.0.2"] };
    expect(disk({ connection: portalsOnly, options: { mode: "network", portal: 1, target: vdb } }).source).toEqual({
      kind: "network",
      protocol: "iscsi",
      name: `${IQN}/1`,
      hosts: [{ name: "127.0.0.2", port: 3260 }],
    });
    const twoTargets = { ...iscsiSingle, targetPortals: ["127.0.0.1:3260", "127.0.0.2:3260"], targetIqns: [IQN, `${IQN}-b`], targetLuns: [1, 7] };
    expect(disk({ connection: twoTargets, options: { mode: "network", portal: 1, target: vdb } }).source).toMatchObject({ name: `${IQN}-b/7` });
    expect(disk({ connection: iscsiMultipath, options: { mode: "network", portal: 0, chapSecret: { usage: "volkit" }, target: vdb } }).source).toMatchObject({
      auth: { username: "volkit-user", secretType: "iscsi", usage: "volkit" },
    });
  });

  it("network mode ignores a device handed in", () => {
    expect(disk({ connection: iscsiSingle, device: singlePathDevice, options: { mode: "network", target: vdb } }).type).toBe("network");
  });
});

describe("every refused combination is INVALID_ARGUMENT with its rule", () => {

  it.each(RULE_CASES.map(([r, input, message], i) => [`${r} #${i}`, r, input, message] as const))("%s", (_label, r, input, message) => {
    const e = buildDiskXml(input)._unsafeUnwrapErr();
    expect(e).toMatchObject({ code: "INVALID_ARGUMENT", source: "libvirt" });
    expect(e.details.rule).toBe(r);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain(CHAP_PASSWORD);
  });

  it("covers every rule of DISK_RULES", () => {
    expect(new Set(RULE_CASES.map(([r]) => r))).toEqual(new Set(Object.keys(DISK_RULES)));
  });

  it("documents who else enforces each rule", () => {
    for (const info of Object.values(DISK_RULES)) {
      expect(info.enforcedBy.length).toBeGreaterThan(0);
      expect(info.summary.length).toBeGreaterThan(10);
    }
    expect(DISK_RULES["io-native-cache"].enforcedBy).toEqual(["libvirt-qemu", "qemu"]);
    expect(DISK_RULES["serial-length"].enforcedBy).toEqual(["nobody"]);
  });
});

describe("field checks (zod): INVALID_ARGUMENT naming the field", () => {
  const base = { connection: localLv, device: lvDevice } as const;
  const cases: ReadonlyArray<readonly [string, DiskXmlInput, RegExp]> = [
    ["target dev pattern", { ...base, options: { target: { dev: "disk1", bus: "virtio" } } }, /options\.target\.dev: must match libvirt's \(fd\|hd\|sd\|vd\|xvd\|ubd\)/],
    ["CHAP without a user", { connection: { ...iscsiMultipath, authUsername: undefined }, options: { mode: "network", portal: 0, chapSecret: { usage: "x" }, target: vdb } }, /authMethod CHAP needs authUsername/],
    ["target dev with a quote", { ...base, options: { target: { dev: "vd'b", bus: "virtio" } } }, /options\.target\.dev/],
    ["bus", { ...base, options: { target: { dev: "vdb", bus: "nvme" as string as "virtio" } } }, /options\.target\.bus/],
    ["serial characters", { ...base, options: { target: vdb, serial: "vol/1" } }, /options\.serial: must match libvirt's/],
    ["serial with '<'", { ...base, options: { target: vdb, serial: "a<b" } }, /options\.serial/],
    ["empty serial", { ...base, options: { target: vdb, serial: "" } }, /options\.serial/],
    ["boot order 0", { ...base, options: { target: vdb, bootOrder: 0 } }, /options\.bootOrder/],
    ["block size not a power of two", { ...base, options: { target: vdb, blockio: { logicalBlockSize: 1000 } } }, /options\.blockio\.logicalBlockSize: QEMU needs a power of two/],
    ["block size too small", { ...base, options: { target: vdb, blockio: { physicalBlockSize: 256 } } }, /QEMU needs at least 512/],
    ["iotune negative", { ...base, options: { target: vdb, iotune: { totalBytesSec: -1 } } }, /options\.iotune\.totalBytesSec/],
    ["iotune fraction", { ...base, options: { target: vdb, iotune: { totalBytesSec: 1.5 } } }, /must be a whole number/],
    ["iotune above 1e15", { ...base, options: { target: vdb, iotune: { totalBytesSec: 2e15 } } }, /QEMU refuses throttle values above 1e15/],
    ["iotune unknown field", { ...base, options: { target: vdb, iotune: { total_bytes_sec: 1 } as never } }, /options\.iotune/],
    ["unknown option (typo)", { ...base, options: { target: vdb, shareble: true } as never }, /options/],
    ["cache value", { ...base, options: { target: vdb, driver: { cache: "none " as string as "none" } } }, /options\.driver\.cache/],
    ["secret uuid", { connection: iscsiMultipath, options: { mode: "network", portal: 0, chapSecret: { uuid: "not-a-uuid" }, target: vdb } }, /options\.chapSecret\.uuid/],
    ["secret usage with '/'", { connection: iscsiMultipath, options: { mode: "network", portal: 0, chapSecret: { usage: "a/b" }, target: vdb } }, /options\.chapSecret\.usage/],
    ["encryption secret", { connection: { ...localLv, encrypted: true }, device: lvDevice, options: { target: vdb, encryption: { format: "luks", secretUuid: "x" } } }, /options\.encryption\.secretUuid/],
    ["device path relative", { connection: localLv, device: { ...lvDevice, path: "dev/sdb" }, options: { target: vdb } }, /device\.path: must be an absolute path/],
    ["device path with a control character", { connection: localLv, device: { ...lvDevice, path: "/dev/sd\u0001b" }, options: { target: vdb } }, /device\.path: must not hold control characters/],
    ["pci slot", { ...base, options: { target: vdb, address: { type: "pci", slot: 32 } } }, /options\.address\.slot/],
    ["connection", { connection: { ...iscsiSingle, targetPortal: "not a portal" }, options: { mode: "network", target: vdb } }, /connection\.targetPortal/],
  ];
  it.each(cases)("%s", (_what, input, message) => {
    const e = buildDiskXml(input)._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.message).toMatch(message);
  });
});

describe("escaping", () => {
  it("a path and a secret usage full of ' \" < > & give well-formed XML that reads back exactly", () => {
    const path = `${MNT}/it's "a" <vol> & co.img`;
    const out = xml({ connection: nfsRaw, device: nfsDevice(MNT, "raw", `it's "a" <vol> & co.img`), options: { target: vdb } });
    expect(out).toContain(`<source file='${MNT}/it&apos;s &quot;a&quot; &lt;vol&gt; &amp; co.img'/>`);
    expect(parseDiskXml(out)._unsafeUnwrap().source).toEqual({ kind: "file", file: path });
    const usage = `chap 'vol' "1" <&>`;
    const net = xml({ connection: iscsiMultipath, options: { mode: "network", portal: 0, chapSecret: { usage }, target: vdb } });
    expect(net).toContain("usage='chap &apos;vol&apos; &quot;1&quot; &lt;&amp;&gt;'");
    expect(parseDiskXml(net)._unsafeUnwrap().source).toMatchObject({ auth: { usage } });
  });

  it("a serial with spaces and + . _ - is written as text", () => {
    const out = xml({ connection: localLv, device: lvDevice, options: { target: vdb, serial: " a+b.c_d-e " } });
    expect(out).toContain("<serial> a+b.c_d-e </serial>");
    expect(parseDiskXml(out)._unsafeUnwrap().serial).toBe(" a+b.c_d-e ");
  });
});
