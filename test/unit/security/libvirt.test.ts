/**
 * Hostile input to the libvirt builder (`buildDiskXml`: every string and number of the options,
 * the connection and the device) and to the parser (`parseDiskXml`: documents built to expand,
 * nest or smuggle). The builder refuses with `INVALID_ARGUMENT`; the parser with `PARSE_ERROR`;
 * neither throws, and no refusal repeats the hostile text.
 */
import { describe, expect, it } from "vitest";
import { buildDiskXml, parseDiskXml } from "../../../src/libvirt/index.js";
import { HOSTILE_IQNS, HOSTILE_NAMES, HOSTILE_PATHS, HOSTILE_PORTALS, HOSTILE_XML, expectRefusal, withField, type Hostile } from "./hostile.js";

const IQN = "iqn.2010-10.org.openstack:volume-aaaa";
const ISCSI = { type: "iscsi", volumeId: "aaaa", targetIqn: IQN, targetPortal: "127.0.0.1:3260", targetLun: 0, authMethod: "CHAP", authUsername: "user-aaaa", authPassword: "Zq7Xk2Pw9Mt4Vb8N" };
const DEVICE = { type: "block", path: "/dev/dm-3", paths: ["/dev/sdb", "/dev/sdc"] };
const HOST_INPUT = { connection: ISCSI, device: DEVICE, options: { target: { dev: "vdb", bus: "virtio" } } };
const NETWORK_INPUT = { connection: ISCSI, options: { mode: "network", target: { dev: "vdb", bus: "virtio" }, chapSecret: { usage: "volkit-aaaa" } } };
const UUID = "0f1e2d3c-4b5a-4968-8776-655443322110";

const NUMBERS: readonly Hostile[] = [
  ["fraction", 1.5],
  ["negative", -1],
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["huge", 2 ** 60],
  ["a string", "1"],
];

const FIELDS: readonly (readonly [base: Record<string, unknown>, path: string, values: readonly Hostile[]])[] = [
  [HOST_INPUT, "options.target.dev", [...HOSTILE_NAMES, ...HOSTILE_XML, ["a partition", "vda1"]]],
  [HOST_INPUT, "options.target.bus", HOSTILE_NAMES],
  [HOST_INPUT, "options.serial", HOSTILE_XML],
  [HOST_INPUT, "options.driver.cache", HOSTILE_XML],
  [HOST_INPUT, "options.iotune.total_bytes_sec", NUMBERS],
  [HOST_INPUT, "options.bootOrder", NUMBERS],
  [HOST_INPUT, "options.blockio.logicalBlockSize", [...NUMBERS, ["not a power of two", 1000]]],
  [HOST_INPUT, "options.address", [["pci without a slot", { type: "pci", bus: 0 }], ["a slot past 31", { type: "pci", slot: 32 }], ["a hostile type", { type: "pci;x" }]]],
  [HOST_INPUT, "options.encryption", [["a hostile secret uuid", { format: "luks", secretUuid: "x'/><disk" }], ["another format", { format: "plain" }]]],
  [HOST_INPUT, "options.onload", [["an unknown option", "x"]]],
  [HOST_INPUT, "device.path", HOSTILE_PATHS],
  [HOST_INPUT, "device.paths.0", HOSTILE_PATHS],
  [HOST_INPUT, "connection.targetIqn", HOSTILE_IQNS],
  [HOST_INPUT, "connection.volumeId", HOSTILE_NAMES],
  [NETWORK_INPUT, "connection.targetPortal", HOSTILE_PORTALS],
  [NETWORK_INPUT, "connection.authUsername", [...HOSTILE_XML, ["a quote", "user'"]]],
  [NETWORK_INPUT, "options.chapSecret.usage", [...HOSTILE_XML.filter(([label]) => label !== "markup" && label !== "entity" && label !== "attribute break" && label !== "CDATA end"), ["a slash", "a/b"]]],
  [NETWORK_INPUT, "options.chapSecret.uuid", [...HOSTILE_NAMES, ["a uuid with markup", `${UUID}'/>`]]],
  [NETWORK_INPUT, "options.initiatorIqn", HOSTILE_IQNS],
];

describe("buildDiskXml refuses hostile options, connections and devices", () => {
  it("accepts the valid inputs the cases start from", () => {
    expect(buildDiskXml(HOST_INPUT as never).isOk()).toBe(true);
    expect(buildDiskXml(NETWORK_INPUT as never).isOk()).toBe(true);
  });

  for (const [base, path, values] of FIELDS) {
    it(`refuses a hostile ${path}${base === NETWORK_INPUT ? " (network mode)" : ""}`, () => {
      for (const [label, value] of values) {
        const input = path === "options.chapSecret.uuid" ? withField(withField(base, "options.chapSecret", {}), path, value) : withField(base, path, value);
        const r = buildDiskXml(input as never);
        expect(r.isErr(), `${path} = ${label} was accepted: ${r.isOk() ? r.value : ""}`).toBe(true);
        if (r.isErr()) expectRefusal(r.error, ["INVALID_ARGUMENT"]);
      }
    });
  }

  it("never writes the CHAP password, whatever mode", () => {
    for (const input of [HOST_INPUT, NETWORK_INPUT]) expect(buildDiskXml(input as never)._unsafeUnwrap()).not.toContain("Zq7Xk2Pw9Mt4Vb8N");
  });
});

describe("parseDiskXml refuses documents built to expand, nest or smuggle", () => {
  const disk = buildDiskXml(HOST_INPUT as never)._unsafeUnwrap();
  it.each([
    ["a DOCTYPE with entities (billion laughs)", `<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><disk type='block'><source dev='&b;'/><target dev='vdb'/></disk>`],
    ["an external entity", `<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/shadow">]><disk type='file'><source file='&x;'/><target dev='vdb'/></disk>`],
    ["deep nesting", `${"<a>".repeat(10_000)}${"</a>".repeat(10_000)}`],
    ["a 20 MB document", `<disk type='block'><source dev='/dev/sdb'/><target dev='vdb'/>${"<x/>".repeat(5_000_000)}</disk>`],
    ["a NUL", disk.replace("vdb", "vd\u0000b")],
    ["two root elements", `${disk}${disk}`],
    ["text before the root", `junk${disk}`],
    ["an unclosed element", disk.slice(0, -8)],
  ])("%s", (_label, xml) => {
    const r = parseDiskXml(xml);
    expect(r.isErr()).toBe(true);
    if (r.isErr()) {
      expectRefusal(r.error, ["PARSE_ERROR", "INVALID_ARGUMENT"]);
      expect(r.error.message).not.toContain("/etc/shadow");
    }
  });
});
