import { ResultAsync, errAsync } from "neverthrow";
import { VolkitError } from "../core/errors.js";
import type { ConnectionInfoInput, Protocol } from "../core/records.js";
import type { IscsiConnectorConfig, IscsiConnectorDeps } from "./iscsi/index.js";
import type { LocalConnectorConfig } from "./local/index.js";
import type { NfsConnectorConfig, NfsConnectorDeps } from "./nfs/index.js";
import type { RbdConnectorConfig } from "./rbd/index.js";
import type { Connector, ConnectorDeps } from "./connector.js";

/**
 * One way to build any connector: `createConnector(protocol, config, deps)` (each connector's code
 * loads only when first asked for) and `connectorFor(connection)`, which picks the connector a
 * driver's connection info needs.
 */

/** Config of each protocol's connector. */
export interface ConnectorConfigs {
  /** See `IscsiConnectorConfigSchema` (`volkit/connectors/iscsi`). */
  readonly iscsi?: IscsiConnectorConfig;
  /** See `NfsConnectorConfigSchema` (`volkit/connectors/nfs`). */
  readonly nfs?: NfsConnectorConfig;
  /** See `LocalConnectorConfigSchema` (`volkit/connectors/local`). */
  readonly local?: LocalConnectorConfig;
  /** See `RbdConnectorConfigSchema` (`volkit/connectors/rbd`). */
  readonly rbd?: RbdConnectorConfig;
}

/** Collaborators for any connector (the NFS connector also takes a shared mount manager). */
export type AnyConnectorDeps = ConnectorDeps & Pick<NfsConnectorDeps, "mounts"> & Pick<IscsiConnectorDeps, "resolveHost">;

function load<M>(what: string, importer: () => Promise<M>): ResultAsync<M, VolkitError> {
  return ResultAsync.fromPromise(importer(), (e) => new VolkitError("INTERNAL", `cannot load the ${what} connector`, { source: "connectors", cause: e }));
}

/** The config type of `protocol`'s connector. */
export type ConnectorConfigFor<P extends Protocol> = P extends keyof ConnectorConfigs ? NonNullable<ConnectorConfigs[P]> : Record<string, never>;

/**
 * Builds the connector for `protocol` with its config (validated: `INVALID_CONFIG` naming each bad
 * field) and collaborators. `NOT_SUPPORTED` for a protocol volkit has no connector for yet.
 *
 * @example
 * ```ts
 * const iscsi = await createConnector("iscsi", { multipath: true, enforceMultipath: true });
 * ```
 */
export function createConnector<P extends Protocol>(protocol: P, config?: ConnectorConfigFor<P>, deps: AnyConnectorDeps = {}): ResultAsync<Connector, VolkitError> {
  const configs = { [protocol]: config } as ConnectorConfigs;
  switch (protocol) {
    case "iscsi":
      return load("iSCSI", () => import("./iscsi/index.js")).andThen((m) => m.createIscsiConnector(configs.iscsi ?? {}, deps));
    case "nfs":
      return load("NFS", () => import("./nfs/index.js")).andThen((m) => m.createNfsConnector(configs.nfs ?? {}, deps));
    case "local":
      return load("local", () => import("./local/index.js")).andThen((m) => m.createLocalConnector(configs.local ?? {}, deps));
    case "rbd":
      return load("RBD", () => import("./rbd/index.js")).andThen((m) => m.createRbdConnector(configs.rbd ?? {}, deps));
    case "nvmeof":
      return errAsync(new VolkitError("NOT_SUPPORTED", `volkit has no ${protocol} connector yet`, { source: "connectors", details: { protocol } }));
  }
}

/** The connector a connection needs (by its `type`), with that protocol's config from `configs`. */
export function connectorFor(connection: ConnectionInfoInput, configs: ConnectorConfigs = {}, deps: AnyConnectorDeps = {}): ResultAsync<Connector, VolkitError> {
  const protocol = connection.type;
  return createConnector(protocol, (configs as Record<string, never>)[protocol], deps);
}
