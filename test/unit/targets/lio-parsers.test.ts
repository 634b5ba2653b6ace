import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { findLioVolume, lioPortalString, parseLioSaveConfig } from "../../../src/targets/lio/lio-parsers.js";
import { lioExportDifferences, planLioExport } from "../../../src/targets/lio/lio-script.js";

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/lio/${name}`, import.meta.url), "utf8");

describe("parseLioSaveConfig (real targetcli-fb 2.1.53 / rtslib-fb 2.1.75 saveconfig)", () => {
  const config = parseLioSaveConfig(fixture("saveconfig-acl.json"))._unsafeUnwrap();
  const IQN = "iqn.2010-10.org.openstack:volume-cap1";

  it("reads backstores, targets, TPG attributes, portals, LUNs and ACLs", () => {
    expect(config.storage_objects.map((s) => [s.plugin, s.name, s.dev]).sort()).toEqual([
      ["block", "volume-cap1", "/dev/volkit-thick/volume-cap1"],
      ["block", "volume-cap2", "/dev/volkit-thick/volume-cap2"],
    ]);
    const v = findLioVolume(config, IQN, "volume-cap1");
    expect(v.tpg?.enable).toBe(true);
    expect(v.tpg?.attributes.authentication).toBe(1);
    expect(v.tpg?.attributes.generate_node_acls).toBe(0);
    expect(v.tpg?.portals.map(lioPortalString).sort()).toEqual(["127.0.0.1:3260", "127.0.0.2:3260"]);
    expect(v.lun).toEqual({ index: 0, storage_object: "/backstores/block/volume-cap1" });
    expect(v.tpg?.node_acls).toEqual([
      { node_wwn: "iqn.2026-11.io.volkit:lab-initiator", chap_userid: "user-cap1", chap_password: "CaptureSecret01", mapped_luns: [{ index: 0, tpg_lun: 0, write_protect: false }] },
    ]);
  });

  it("finds nothing for an unknown volume, and the LUN-less second target as such", () => {
    expect(findLioVolume(config, "iqn.2010-10.org.openstack:volume-x", "volume-x")).toEqual({ storageObject: undefined, target: undefined, tpg: undefined, lun: undefined });
    const v2 = findLioVolume(config, "iqn.2010-10.org.openstack:volume-cap2", "volume-cap2");
    expect(v2.target).toBeDefined();
    expect(v2.tpg?.portals).toEqual([]);
    expect(v2.lun).toBeUndefined();
  });

  it("parses the export-only and the empty captures", () => {
    const exp = parseLioSaveConfig(fixture("saveconfig-export.json"))._unsafeUnwrap();
    expect(exp.targets.map((t) => t.wwn)).toEqual([IQN]);
    expect(exp.targets[0]?.tpgs[0]?.node_acls).toEqual([]);
    expect(parseLioSaveConfig(fixture("saveconfig-empty.json"))._unsafeUnwrap()).toEqual({ storage_objects: [], targets: [] });
  });

  it("accepts an empty configuration and rejects other shapes", () => {
    expect(parseLioSaveConfig("{}")._unsafeUnwrap()).toEqual({ storage_objects: [], targets: [] });
    expect(parseLioSaveConfig("not json")._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
    expect(parseLioSaveConfig('{"targets": [{"wwn": 5}]}')._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
  });

  it("formats IPv6 portals with brackets", () => {
    expect(lioPortalString({ ip_address: "[::1]", port: 3260 })).toBe("[::1]:3260");
    expect(lioPortalString({ ip_address: "fd00::5", port: 3261 })).toBe("[fd00::5]:3261");
  });

  it("plans nothing for the captured complete export and reports no differences", () => {
    const v = findLioVolume(parseLioSaveConfig(fixture("saveconfig-export.json"))._unsafeUnwrap(), IQN, "volume-cap1");
    const spec = {
      iqn: IQN,
      backstore: "volume-cap1",
      device: "/dev/volkit-thick/volume-cap1",
      portals: [{ ip: "127.0.0.1", port: 3260 }, { ip: "127.0.0.2", port: 3260 }],
      chap: { username: "user-cap1", password: "CaptureSecret01" },
    };
    expect(planLioExport(v, spec)).toEqual([]);
    expect(lioExportDifferences(v, spec)).toEqual([]);
    expect(lioExportDifferences(v, { ...spec, portals: [{ ip: "127.0.0.1", port: 3260 }] })).toEqual(["tpg1 portals are [127.0.0.1:3260, 127.0.0.2:3260], not [127.0.0.1:3260]"]);
  });
});
