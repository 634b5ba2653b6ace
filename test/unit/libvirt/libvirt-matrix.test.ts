import { describe, expect, it } from "vitest";
import { buildDiskXml, DISK_RULES, parseDiskXml, renderDiskXml, resolveDisk, type DiskRule } from "../../../src/libvirt/index.js";
import { variantMatrix } from "../../fixtures/libvirt/matrix.js";

/**
 * The generated option matrix (the host test defines every accepted case in libvirt's QEMU driver):
 * here, every accepted case reads back unchanged, and every refusal is typed.
 */

const cases = variantMatrix();
const results = cases.map((c) => ({ c, r: resolveDisk(c.input) }));

describe("the option matrix", () => {
  it("has unique names", () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it("round-trips every accepted case: resolve → render → parse gives the same definition", () => {
    let accepted = 0;
    for (const { c, r } of results) {
      if (r.isErr()) continue;
      accepted++;
      const xml = renderDiskXml(r.value)._unsafeUnwrap();
      expect(parseDiskXml(xml)._unsafeUnwrap(), c.name).toEqual(r.value);
      expect(buildDiskXml(c.input)._unsafeUnwrap()).toBe(xml);
    }
    expect(accepted).toBeGreaterThan(3000);
  });

  it("refuses every other case with INVALID_ARGUMENT and a rule or the fields at fault", () => {
    for (const { c, r } of results) {
      if (r.isOk()) continue;
      expect(r.error.code, c.name).toBe("INVALID_ARGUMENT");
      const rule = r.error.details.rule as DiskRule | undefined;
      if (rule !== undefined) expect(DISK_RULES[rule], `${c.name}: ${rule}`).toBeDefined();
      else expect(r.error.details.issues, c.name).toBeDefined();
    }
  });

  it("reaches every rule that guards an option (the QEMU-driver classes included)", () => {
    const hit = new Set(results.flatMap(({ r }) => (r.isErr() && typeof r.error.details.rule === "string" ? [r.error.details.rule] : [])));
    const expected: DiskRule[] = [
      "bus-unsupported",
      "fdc-bus",
      "target-name",
      "target-prefix",
      "target-index",
      "address-pci-bus",
      "address-drive-bus",
      "scsi-address-bus",
      "ide-address",
      "sata-address",
      "scsi-address",
      "scsi-controller-bus",
      "pci-address-domain",
      "pci-address-slot",
      "pci-address-no-slot",
      "pci-address-reserved",
      "iommu-bus",
      "blockio-bus",
      "blockio-order",
      "lun-bus",
      "lun-source",
      "cdrom-bus",
      "readonly-bus",
      "io-native-cache",
      "discard-bus",
      "host-decrypted-network",
    ];
    expect(expected.filter((rule) => !hit.has(rule))).toEqual([]);
  });
});
