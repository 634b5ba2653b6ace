/**
 * libvirt disk XML for volkit attachments (`volkit/libvirt`): builds the `<disk>` element nova's
 * libvirt volume drivers would write for an iSCSI, NFS, local or RBD attachment, refuses every
 * combination libvirt or QEMU rejects (or silently mishandles) with a typed `INVALID_ARGUMENT`
 * naming the rule, and parses `<disk>` XML back for checks and round trips. No XML dependency.
 * The rules are measured against libvirt 9.0's QEMU driver and QEMU 7.2 on an x86_64 `pc` guest.
 *
 * @example
 * ```ts
 * import { buildDiskXml, parseDiskXml } from "volkit/libvirt";
 * const xml = buildDiskXml({
 *   connection: info,                                  // from driver.initializeConnection
 *   device,                                            // from connector.connectVolume
 *   options: { target: { dev: "vdb", bus: "virtio" } },
 * });
 * if (xml.isErr()) console.error(xml.error.code, xml.error.details.rule, xml.error.message);
 * else console.log(parseDiskXml(xml.value)._unsafeUnwrap().source);
 * ```
 *
 * @packageDocumentation
 */
export { buildDiskXml, resolveDisk, CDROM_BUSES, DISCARD_BUSES, QEMU_DISK_BUSES, type ConnectionInfoInput, type DiskXmlInput, type ReadonlyDeep } from "./libvirt-disk.js";
export { DRIVE_ADDRESS_BUSES, MAX_DERIVED_DISK_INDEX, MAX_IDE_DISK_INDEX, diskIndex } from "./libvirt-address.js";
export * from "./libvirt-options.js";
export { CephMonitorSchema, parseMonitor, rbdSource, type RbdConnectionInput } from "./libvirt-rbd.js";
export type { DiskConnection } from "./libvirt-source.js";
export { DiskSourcePathSchema, SecretUsageSchema, UUID_PATTERN, isPlainText } from "./libvirt-text.js";
export { checkIoTune, iotuneFromQosSpecs } from "./libvirt-qos.js";
export { diskElement, renderDiskXml } from "./libvirt-render.js";
export { DISK_RULES, RULES, type DiskRule, type DiskRuleInfo, type RuleEnforcer } from "./libvirt-rules.js";
export { SERIAL_MAX_BYTES, guestDiskByIdPath, serialFromVolumeId } from "./libvirt-serial.js";
export type * from "./libvirt-types.js";
export { diskFromXmlNode, parseDiskXml, parseDomainDisks } from "./libvirt-parse.js";
export { childNamed, childrenNamed, parseXml, MAX_XML_BYTES, MAX_XML_DEPTH, type XmlNode } from "./libvirt-xml-reader.js";
export {
  escapeXmlAttribute,
  escapeXmlText,
  findInvalidXmlChar,
  isXmlSafe,
  writeXml,
  xmlElement,
  xmlTextElement,
  type XmlAttribute,
  type XmlElement,
} from "./libvirt-xml-writer.js";
