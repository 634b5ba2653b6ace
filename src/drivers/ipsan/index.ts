/**
 * `volkit/drivers/ipsan` (foundation): a typed client of OceanStor-style IP-SAN arrays' REST API,
 * the dialect Cinder's Huawei driver speaks. The volume driver built on it comes with the 0.2 API.
 *
 * @packageDocumentation
 */
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
