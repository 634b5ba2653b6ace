/**
 * The local connector (`volkit/connectors/local`): for `type: "local"` connections, where the
 * volume is a block device on the attaching host itself (an LVM driver without an iSCSI target).
 * Most callers get it from `createHost()` / `attachVolume` in `volkit`.
 *
 * @example
 * ```ts
 * import { createLocalConnector } from "volkit/connectors/local";
 * const local = createLocalConnector()._unsafeUnwrap();
 * const dev = await local.connectVolume(info); // { type: "block", path: "/dev/vg/volume-…", sizeBytes }
 * ```
 *
 * @packageDocumentation
 */
export { LocalConnector, LocalConnectorConfigSchema, createLocalConnector, type LocalConnectorConfig, type ParsedLocalConnectorConfig } from "./local-connector.js";
