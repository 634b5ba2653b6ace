/**
 * The local connector (`volkit/connectors/local`): for `type: "local"` connections, where the
 * volume is a block device on the attaching host itself (an LVM driver without an iSCSI target).
 *
 * @example
 * ```ts
 * import { LocalConnector } from "volkit/connectors/local";
 * const local = new LocalConnector();
 * const dev = await local.connectVolume(info); // { type: "block", path: "/dev/vg/volume-…", sizeBytes }
 * ```
 *
 * @packageDocumentation
 */
export { LocalConnector, type LocalConnectorOptions } from "./local-connector.js";
export type { AttachedDevice, Connector, DisconnectOptions, DisconnectReport, LeftBehind } from "../connector.js";
