/**
 * The NFS connector (`volkit/connectors/nfs`): attaches volumes of the NFS driver (or any Cinder
 * NFS-style connection info) as files on a reference-counted mount of their share.
 *
 * @example
 * ```ts
 * import { createNfsConnector } from "volkit/connectors/nfs";
 * const nfs = createNfsConnector({ mount: { rootHelper: ["sudo", "-n"] } })._unsafeUnwrap();
 * const device = (await nfs.connectVolume(info))._unsafeUnwrap();
 * // … give device.path (format device.format) to the VM …
 * const report = (await nfs.disconnectVolume(info, device))._unsafeUnwrap();
 * ```
 *
 * @packageDocumentation
 */
export * from "./nfs-connector.js";
