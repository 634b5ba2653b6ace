/**
 * `volkit/drivers/ipsan`: the volume driver for OceanStor-style IP-SAN arrays (the REST dialect
 * Cinder's Huawei driver and its vendor forks speak) and its typed REST client. Most callers only
 * need `createBackend({ driver: "ipsan", … })` from `volkit`; this entry point is for custom wiring
 * (your own lock backend or runner), the client, and the config schema.
 *
 * @example
 * ```ts
 * import { wrapDriver } from "volkit";
 * import { createIpsanDriver } from "volkit/drivers/ipsan";
 * const driver = await createIpsanDriver({ driver: "ipsan", restUrls: [url], user: "admin", password, storagePools: ["StoragePool001"] });
 * const backend = wrapDriver(driver._unsafeUnwrap());
 * ```
 *
 * @packageDocumentation
 */
import { errAsync, type ResultAsync } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import { IpsanConfigSchema, type IpsanConfig } from "./ipsan-config.js";
import type { IpsanDriver } from "./ipsan-driver.js";
import { buildIpsanDriver, type IpsanFactoryDeps } from "./ipsan-factory.js";

export { IpsanConfigSchema, IpsanChapSchema, IpsanInitiatorSchema, IpsanIscsiSchema, COPY_METHODS, connectionOf, type IpsanConfig, type ParsedIpsanConfig, type IpsanInitiatorConfig } from "./ipsan-config.js";
export { IpsanDriver, type IpsanDriverDeps } from "./ipsan-driver.js";
export { type IpsanFactoryDeps } from "./ipsan-factory.js";
export { hostLockKey } from "./ipsan-mapping.js";
export { POOL_METADATA_KEY } from "./ipsan-luns.js";
export { CLONE_SNAPSHOT_DESCRIPTION } from "./ipsan-copies.js";
export { locationOf, volumeRecordOf, snapshotRecordOf } from "./ipsan-records.js";
export { parseProductVersion, supportsClonePairs } from "./ipsan-array.js";
export { ipsanDriverDefinition } from "../builtin-drivers.js";
export * from "./ipsan-client.js";
export * from "./ipsan-connection.js";
export * from "./ipsan-constants.js";
export * from "./ipsan-copy-api.js";
export * from "./ipsan-errors.js";
export * from "./ipsan-group-api.js";
export * from "./ipsan-host-api.js";
export * from "./ipsan-lun-api.js";
export * from "./ipsan-mapping-types.js";
export * from "./ipsan-names.js";
export * from "./ipsan-port-api.js";
export * from "./ipsan-qos-api.js";
export * from "./ipsan-rest.js";
export * from "./ipsan-session.js";
export * from "./ipsan-snapshot-api.js";
export * from "./ipsan-types.js";
export type { HttpMethod } from "./ipsan-http.js";

/**
 * Validates `config` (`INVALID_CONFIG` naming every bad field; the password and CHAP secrets are
 * registered as secrets) and builds the IP-SAN driver; wrap it with `wrapDriver` (or use
 * `createBackend`, which does both).
 */
export function createIpsanDriver(config: IpsanConfig, deps: IpsanFactoryDeps = {}): ResultAsync<IpsanDriver, VolkitError> {
  const parsed = validate(IpsanConfigSchema, config, "IP-SAN driver config", "INVALID_CONFIG");
  return parsed.isErr() ? errAsync(parsed.error) : buildIpsanDriver(parsed.value, deps);
}
