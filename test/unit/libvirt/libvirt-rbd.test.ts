import { describe, expect, it } from "vitest";
import { RbdConnectionInfoSchema } from "../../../src/core/records.js";
import { buildDiskXml, parseDiskXml, resolveDisk, type DiskXmlInput, type RbdConnectionInput } from "../../../src/libvirt/index.js";
import { CEPH_SECRET_UUID, rbdAuthUsage, rbdAuthUuid, rbdNoAuth, VOLUME_ID } from "../../fixtures/libvirt/variants.js";

const vdb = { dev: "vdb", bus: "virtio" } as const;
const xml = (input: DiskXmlInput): string => buildDiskXml(input)._unsafeUnwrap();

describe("RBD network disks, as nova writes them", () => {
  it("cephx with a secret UUID: every monitor as a <host>, the ceph secret, discard, QoS, no io attribute", () => {
    expect(xml({ connection: rbdAuthUuid, options: { target: vdb } })).toBe(
      [
        "<disk type='network' device='disk'>",
        "  <driver name='qemu' type='raw' cache='none' discard='unmap'/>",
        `  <source protocol='rbd' name='volumes/volume-${VOLUME_ID}'>`,
        "    <host name='127.0.0.1' port='6789'/>",
        "    <host name='::1' port='3300'/>",
        "    <host name='localhost' port='6789'/>",
        "    <auth username='cinder'>",
        `      <secret type='ceph' uuid='${CEPH_SECRET_UUID}'/>`,
        "    </auth>",
        "  </source>",
        "  <target dev='vdb' bus='virtio'/>",
        "  <iotune>",
        "    <total_bytes_sec>209715200</total_bytes_sec>",
        "    <total_iops_sec>5000</total_iops_sec>",
        "    <total_iops_sec_max>10000</total_iops_sec_max>",
        "  </iotune>",
        "  <serial>3e9d0a6e-8b5e-4a0e-9</serial>",
        "</disk>",
        "",
      ].join("\n"),
    );
  });

  it("a secret by usage is escaped and reads back; mode network is the default and may be given", () => {
    const out = xml({ connection: rbdAuthUsage, options: { target: vdb } });
    expect(out).toContain("<secret type='ceph' usage='client.nova-compute_1 &apos;secret&apos; &lt;&amp;&gt;'/>");
    expect(out).toBe(xml({ connection: rbdAuthUsage, options: { mode: "network", target: vdb } }));
    expect(parseDiskXml(out)._unsafeUnwrap().source).toEqual({
      kind: "network",
      protocol: "rbd",
      name: `volumes/volume-${VOLUME_ID}`,
      hosts: [{ name: "127.0.0.1", port: 6789 }],
      auth: { username: "nova-compute_1", secretType: "ceph", usage: rbdAuthUsage.secretUsage },
    });
  });

  it("without cephx: no <auth>; accessMode ro gives <readonly/>", () => {
    const disk = resolveDisk({ connection: rbdNoAuth, options: { target: vdb } })._unsafeUnwrap();
    expect(disk.source).toEqual({ kind: "network", protocol: "rbd", name: "rbd/image.v2_1", hosts: [{ name: "127.0.0.2", port: 6789 }, { name: "127.0.0.1", port: 6789 }] });
    expect(disk.readonly).toBe(true);
    expect(xml({ connection: rbdNoAuth, options: { target: vdb } })).not.toContain("<auth");
  });

  it("LUKS on RBD: QEMU decrypts with the passphrase secret, as for any other disk", () => {
    const out = xml({ connection: { ...rbdAuthUuid, encrypted: true }, options: { target: vdb, encryption: { format: "luks", secretUuid: "0f1e2d3c-4b5a-4968-8776-655443322110" } } });
    expect(out).toContain("  <encryption format='luks'>\n    <secret type='passphrase' uuid='0f1e2d3c-4b5a-4968-8776-655443322110'/>\n  </encryption>\n");
  });

  it("normalizes monitors (an IPv6 address keeps its brackets in the record, loses them in <host>) and applies defaults", () => {
    const parsed = RbdConnectionInfoSchema.parse({ ...rbdAuthUuid, monitors: ["[2001:db8::1]:6789", "ceph-mon-1.example.org:3300"] });
    expect(parsed).toMatchObject({ monitors: ["[2001:db8::1]:6789", "ceph-mon-1.example.org:3300"], accessMode: "rw", encrypted: false });
    expect(resolveDisk({ connection: parsed, options: { target: vdb } })._unsafeUnwrap().source).toMatchObject({
      hosts: [
        { name: "2001:db8::1", port: 6789 },
        { name: "ceph-mon-1.example.org", port: 3300 },
      ],
    });
  });
});

describe("RBD connection fields (zod): INVALID_ARGUMENT naming the field", () => {
  const cases: ReadonlyArray<readonly [string, RbdConnectionInput, RegExp]> = [
    ["client. prefix", { ...rbdAuthUuid, clientId: "client.cinder" }, /connection\.clientId: is the cephx user without 'client\.'/],
    ["auth without a secret", { ...rbdAuthUuid, secretUuid: undefined }, /connection\.secretUuid: authEnabled needs exactly one of secretUuid and secretUsage/],
    ["auth with both secrets", { ...rbdAuthUuid, secretUsage: "client.cinder" }, /exactly one of secretUuid and secretUsage/],
    ["a secret without auth", { ...rbdNoAuth, secretUsage: "client.admin" }, /connection\.secretUsage: is only used when authEnabled is true/],
    ["secret UUID", { ...rbdAuthUuid, secretUuid: "not-a-uuid" }, /connection\.secretUuid: must be a libvirt secret UUID/],
    ["monitor without a port", { ...rbdAuthUuid, monitors: ["127.0.0.1"] }, /connection\.monitors\.0: must be host:port/],
    ["bracketed IPv6 monitor without a port", { ...rbdAuthUuid, monitors: ["[::1]"] }, /connection\.monitors\.0/],
    ["IPv6 monitor without brackets", { ...rbdAuthUuid, monitors: ["::1:6789"] }, /connection\.monitors\.0/],
    ["invalid IPv4 monitor", { ...rbdAuthUuid, monitors: ["127.0.0.1:6789", "256.1.1.1:6789"] }, /connection\.monitors\.1/],
    ["monitor port 0", { ...rbdAuthUuid, monitors: ["127.0.0.1:0"] }, /connection\.monitors\.0/],
    ["monitor with an option", { ...rbdAuthUuid, monitors: ["127.0.0.1:6789:auth_supported=none"] }, /connection\.monitors\.0/],
    ["no monitors", { ...rbdAuthUuid, monitors: [] }, /connection\.monitors/],
    ["pool with a slash", { ...rbdAuthUuid, pool: "a/b" }, /connection\.pool/],
    ["image with a snapshot", { ...rbdAuthUuid, image: "volume-1@snap" }, /connection\.image/],
    ["image with a leading dash", { ...rbdAuthUuid, image: "-volume" }, /connection\.image/],
    ["image with a colon (QEMU's option separator)", { ...rbdAuthUuid, image: "volume:conf=/tmp/x" }, /connection\.image/],
    ["secret usage with a tab", { ...rbdAuthUsage, secretUsage: "client\tcinder" }, /connection\.secretUsage: must not hold control characters/],
    ["cluster name", { ...rbdAuthUsage, clusterName: "../ceph" }, /connection\.clusterName/],
  ];
  it.each(cases)("%s", (_what, connection, message) => {
    const e = buildDiskXml({ connection, options: { target: vdb } })._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.message).toMatch(message);
  });
});
