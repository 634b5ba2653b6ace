import type { Result } from "neverthrow";
import type { VolkitError } from "../core/errors.js";
import { IOTUNE_FIELDS, type DiskAddress } from "./libvirt-options.js";
import type { DiskDefinition, DiskSource } from "./libvirt-types.js";
import { writeXml, xmlElement, xmlTextElement, type XmlElement } from "./libvirt-xml-writer.js";

/**
 * {@link DiskDefinition} → `<disk>` XML, elements in the order `virsh dumpxml` prints them. No
 * combination checks happen here: this writes exactly what it is given (the host tests use it to
 * force refused combinations through libvirt).
 */

const hex = (value: number | undefined, width: number): string | undefined =>
  value === undefined ? undefined : `0x${value.toString(16).padStart(width, "0")}`;

function addressElement(address: DiskAddress): XmlElement {
  if (address.type === "pci") {
    return xmlElement("address", [
      ["type", "pci"],
      ["domain", hex(address.domain, 4)],
      ["bus", hex(address.bus, 2)],
      ["slot", hex(address.slot, 2)],
      ["function", hex(address.function, 1)],
    ]);
  }
  return xmlElement("address", [
    ["type", "drive"],
    ["controller", address.controller],
    ["bus", address.bus],
    ["target", address.target],
    ["unit", address.unit],
  ]);
}

function sourceElement(source: DiskSource): XmlElement {
  switch (source.kind) {
    case "block":
      return xmlElement("source", [["dev", source.dev]]);
    case "file":
      return xmlElement("source", [["file", source.file]]);
    case "network":
      return xmlElement(
        "source",
        [
          ["protocol", source.protocol],
          ["name", source.name],
        ],
        [
          ...source.hosts.map((h) => xmlElement("host", [["name", h.name], ["port", h.port]])),
          source.initiatorIqn === undefined ? undefined : xmlElement("initiator", [], [xmlElement("iqn", [["name", source.initiatorIqn]])]),
          source.auth &&
            xmlElement(
              "auth",
              [["username", source.auth.username]],
              [xmlElement("secret", [["type", source.auth.secretType], ["uuid", source.auth.uuid], ["usage", source.auth.usage]])],
            ),
        ],
      );
  }
}

/**
 * The `<disk>` element tree of `disk` (for embedding in a larger document).
 *
 * @example
 * ```ts
 * const tree = diskElement(resolveDisk(input)._unsafeUnwrap());
 * ```
 */
export function diskElement(disk: DiskDefinition): XmlElement {
  const d = disk.driver;
  const iotune = disk.iotune;
  const iotuneChildren = iotune
    ? IOTUNE_FIELDS.flatMap(([field, name]) => {
        const value = iotune[field];
        return value === undefined ? [] : [xmlTextElement(name, String(value))];
      })
    : [];
  const enc = disk.encryption;
  return xmlElement(
    "disk",
    [
      ["type", disk.type],
      ["device", disk.device],
      ["model", disk.model],
    ],
    [
      d &&
        xmlElement("driver", [
          ["name", d.name],
          ["type", d.type],
          ["cache", d.cache],
          ["io", d.io],
          ["discard", d.discard],
          ["iommu", d.iommu === undefined ? undefined : d.iommu ? "on" : "off"],
        ]),
      disk.source && sourceElement(disk.source),
      disk.blockio && xmlElement("blockio", [["logical_block_size", disk.blockio.logicalBlockSize], ["physical_block_size", disk.blockio.physicalBlockSize]]),
      xmlElement("target", [["dev", disk.target.dev], ["bus", disk.target.bus]]),
      iotuneChildren.length > 0 ? xmlElement("iotune", [], iotuneChildren) : undefined,
      disk.readonly ? xmlElement("readonly") : undefined,
      disk.shareable ? xmlElement("shareable") : undefined,
      disk.serial === undefined ? undefined : xmlTextElement("serial", disk.serial),
      enc &&
        xmlElement(
          "encryption",
          [["format", enc.format]],
          [enc.secretType === undefined ? undefined : xmlElement("secret", [["type", enc.secretType], ["uuid", enc.secretUuid], ["usage", enc.secretUsage]])],
        ),
      disk.bootOrder === undefined ? undefined : xmlElement("boot", [["order", disk.bootOrder]]),
      disk.address && addressElement(disk.address),
    ],
  );
}

/**
 * Writes `disk` as a `<disk>` XML fragment, every value escaped. Performs no combination checks:
 * use {@link buildDiskXml} to go from connection info to checked XML.
 *
 * @example
 * ```ts
 * const xml = renderDiskXml(parseDiskXml(existingXml)._unsafeUnwrap())._unsafeUnwrap();
 * ```
 */
export function renderDiskXml(disk: DiskDefinition): Result<string, VolkitError> {
  return writeXml(diskElement(disk));
}
