import { describe, expect, it } from "vitest";
import { buildDiskXml, isPlainText, type DiskXmlInput } from "../../../src/libvirt/index.js";
import { iscsiMultipath, localLv, lvDevice, multipathDevice, nfsDevice, nfsRaw, rbdAuthUsage } from "../../fixtures/libvirt/variants.js";

/**
 * Every string that reaches the XML is refused when it holds a control character, a bidirectional
 * override or names a directory: typed INVALID_ARGUMENT naming the field, before anything is written.
 */

const MNT = "/var/lib/nova/mnt/0c5a1c6e2f9c4a7f8f1b0d3e2a4c6b8d";
const vdb = { dev: "vdb", bus: "virtio" } as const;

const HOSTILE: ReadonlyArray<readonly [string, string]> = [
  ["tab", "\t"],
  ["newline", "\n"],
  ["carriage return", "\r"],
  ["NUL", "\u0000"],
  ["escape", "\u001b"],
  ["DEL", "\u007f"],
  ["C1 next line", "\u0085"],
  ["right-to-left override", "\u202e"],
  ["first strong isolate", "\u2068"],
];

function refused(input: DiskXmlInput, field: RegExp): void {
  const e = buildDiskXml(input)._unsafeUnwrapErr();
  expect(e.code).toBe("INVALID_ARGUMENT");
  expect(e.message).toMatch(field);
  expect(e.details.issues).toBeDefined();
}

describe("control characters and bidirectional overrides", () => {
  it.each(HOSTILE)("%s in an NFS file path, a block device path, a member path, a CHAP and a Ceph secret usage", (_what, ch) => {
    refused({ connection: nfsRaw, device: nfsDevice(MNT, "raw", `volume${ch}x`), options: { target: vdb } }, /device\.path: must not hold control characters/);
    refused({ connection: localLv, device: { ...lvDevice, path: `/dev/vg/lv${ch}` }, options: { target: vdb } }, /device\.path/);
    refused({ connection: iscsiMultipath, device: { ...multipathDevice, paths: ["/dev/sdb", `/dev/sd${ch}c`] }, options: { target: vdb } }, /device\.paths\.1/);
    refused({ connection: iscsiMultipath, options: { mode: "network", portal: 0, chapSecret: { usage: `chap${ch}secret` }, target: vdb } }, /options\.chapSecret\.usage: must not hold control characters/);
    refused({ connection: { ...rbdAuthUsage, secretUsage: `client.cinder${ch}` }, options: { target: vdb } }, /connection\.secretUsage/);
    expect(isPlainText(`a${ch}b`)).toBe(false);
  });

  it("leaves printable non-ASCII, spaces and XML specials alone", () => {
    for (const s of ["/srv/nfs/volume é ü 卷", `it's "a" <vol> & co`, "tab-less name"]) expect(isPlainText(s)).toBe(true);
    expect(buildDiskXml({ connection: nfsRaw, device: nfsDevice(MNT, "raw", "卷 é \"q\" & <x>"), options: { target: vdb } })._unsafeUnwrap()).toContain(
      `<source file='${MNT}/卷 é &quot;q&quot; &amp; &lt;x&gt;'/>`,
    );
  });
});

describe("a directory is never a disk", () => {
  it.each([
    ["/ as an NFS file", { connection: nfsRaw, device: { ...nfsDevice(MNT, "raw"), path: "/" }, options: { target: vdb } }],
    ["the mount point (trailing slash)", { connection: nfsRaw, device: { ...nfsDevice(MNT, "raw"), path: `${MNT}/` }, options: { target: vdb } }],
    ["/ as a block device", { connection: localLv, device: { ...lvDevice, path: "/" }, options: { target: vdb } }],
  ] as const)("%s", (_what, input) => {
    refused(input, /device\.path: must name a device or file, not a directory/);
  });

  it("still accepts the NFS file and block device paths connectors return", () => {
    expect(buildDiskXml({ connection: nfsRaw, device: nfsDevice(MNT, "raw"), options: { target: vdb } }).isOk()).toBe(true);
    expect(buildDiskXml({ connection: localLv, device: lvDevice, options: { target: vdb } }).isOk()).toBe(true);
  });
});
