/**
 * The RBD connector (`volkit/connectors/rbd`): attaches Ceph RBD volumes as block devices through
 * the kernel client (`rbd device map`), with the device found through sysfs, a disconnect that
 * reports what it left, and an extend that waits for the new size. QEMU guests do not need it:
 * they open RBD images through librbd (`volkit/libvirt` builds the network disk).
 *
 * Needs root (or a runner with a root helper) for `rbd device map`/`unmap`, the `rbd` kernel
 * module, and `rbd` from ceph-common on the host that attaches.
 *
 * @example
 * ```ts
 * import { createRbdConnector } from "volkit/connectors/rbd";
 * const rbd = createRbdConnector()._unsafeUnwrap();
 * const dev = (await rbd.connectVolume(info))._unsafeUnwrap();
 * // … use dev.path (/dev/rbd0) …
 * const report = (await rbd.disconnectVolume(info, dev))._unsafeUnwrap();
 * ```
 *
 * @packageDocumentation
 */
export { RbdConnector, createRbdConnector } from "./rbd-connector.js";
export { RbdConnectorConfigSchema, KrbdMapOptionSchema, type RbdConnectorConfig, type ParsedRbdConnectorConfig } from "./rbd-connector-config.js";
export { listKrbdMappings, readKrbdMapping, krbdIdOf, krbdDiskName, krbdSize, refreshKrbdMapping, type KrbdMapping } from "./rbd-sysfs.js";
