/**
 * The Ceph RBD volume driver (`volkit/drivers/rbd`): thin images in a pool, snapshots,
 * copy-on-write clones with flattening by depth, revert by rollback, online extend, stats from
 * `ceph df` and `rbd du`, image copies and manage through librbd, back-end QoS per volume type,
 * and `rbd` connection info for QEMU or the kernel connector (`volkit/connectors/rbd`). Most
 * callers only need `createBackend({ driver: "rbd", … })` from `volkit`; this entry point is for
 * tests, custom wiring (your own runner), the CLI client and the parsers.
 *
 * @example
 * ```ts
 * import { wrapDriver } from "volkit";
 * import { createRbdDriver } from "volkit/drivers/rbd";
 * const backend = wrapDriver(createRbdDriver({ driver: "rbd", clientId: "cinder", pool: "volumes" })._unsafeUnwrap());
 * const vol = await backend.createVolume({ id: "vol-1", sizeGiB: 10 });
 * ```
 *
 * @packageDocumentation
 */
import type { Result } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import type { DriverDeps } from "../driver-definition.js";
import { RbdConfigSchema, type RbdConfig } from "./rbd-config.js";
import type { RbdDriver } from "./rbd-driver.js";
import { buildRbdDriver } from "./rbd-factory.js";

export { RbdConfigSchema, type RbdConfig, type ParsedRbdConfig } from "./rbd-config.js";
export { RbdDriver, type RbdDriverDeps } from "./rbd-driver.js";
export { RbdClient, type ImageIdRef, type RbdCreateOptions, type RbdRunOptions } from "./rbd-client.js";
export { RbdCli } from "./rbd-cli.js";
export { RbdQueries } from "./rbd-queries.js";
export { CephClientIdSchema, CephClusterNameSchema, CephKeySchema, CephKeyfile, MonitorAddressSchema, RbdConnectionSchema, connectionArgs, qemuRbdFilename, type RbdConnection, type RbdConnectionInput } from "./rbd-connection.js";
export { RBD_EXIT, classifyRbdError, errnoOf, type RbdErrorSubject } from "./rbd-errors.js";
export { monitorsForClients, rbdConnectionInfo } from "./rbd-connection-info.js";
export { poolStatsOf } from "./rbd-stats.js";
export { rbdDriverDefinition } from "../builtin-drivers.js";
export * from "./rbd-parsers.js";
export * from "./rbd-names.js";

/**
 * Validates `config` (`INVALID_CONFIG` naming every bad field) and builds the RBD driver; wrap it
 * with `wrapDriver` (or use `createBackend`, which does both).
 */
export function createRbdDriver(config: RbdConfig, deps: DriverDeps = {}): Result<RbdDriver, VolkitError> {
  return validate(RbdConfigSchema, config, "RBD driver config", "INVALID_CONFIG").andThen((parsed) => buildRbdDriver(parsed, deps));
}
