import { ResultAsync, errAsync, okAsync, type Result } from "neverthrow";
import { VolkitError } from "../core/errors.js";
import type { ConnectionInfoInput, HostProperties, Protocol } from "../core/records.js";
import type { Connector, ConnectorSource, HostPropertiesOptions } from "../connectors/connector.js";
import { createConnector, type AnyConnectorDeps, type ConnectorConfigs } from "../connectors/registry.js";
import type { MountManager } from "../remotefs/mount-manager.js";

/** Options of {@link createHost}. */
export interface HostOptions extends AnyConnectorDeps {
  /** Host name every connector reports to drivers (default: this machine's). */
  readonly hostName?: string;
  /** Each protocol's connector config (`{ iscsi: { multipath: true, enforceMultipath: true } }`). */
  readonly connectors?: ConnectorConfigs;
  /** Ready-made connectors to use instead of building them (tests, custom transports). */
  readonly use?: Partial<Record<Protocol, Connector>>;
}

/**
 * This machine, as the attach flows see it: one connector per protocol, built on first use (each
 * connector's code loads then) and shared by every attach in the process. Sharing matters: the
 * iSCSI connector counts the connects in flight per session so a concurrent detach never logs out
 * a session another attach is about to use, and the NFS connector counts mount references.
 *
 * @example
 * ```ts
 * const host = createHost({ connectors: { iscsi: { multipath: true, enforceMultipath: true } } });
 * const attachment = await attachVolume(backend, volume, { host, disk: { target: { dev: "vdb", bus: "virtio" } } });
 * ```
 */
export class Host implements ConnectorSource {
  readonly #options: HostOptions;
  readonly #connectors = new Map<Protocol, Promise<Result<Connector, VolkitError>>>();

  /** Prefer {@link createHost}. */
  constructor(options: HostOptions = {}) {
    this.#options = options;
  }

  /** The connector for `protocol`, built once (a failed build is retried on the next call). */
  connector(protocol: Protocol): ResultAsync<Connector, VolkitError> {
    const given = this.#options.use?.[protocol];
    if (given) {
      return given.protocol === protocol
        ? okAsync(given)
        : errAsync(new VolkitError("INVALID_CONFIG", `the connector given for ${protocol} serves ${given.protocol}`, { source: "host" }));
    }
    let pending = this.#connectors.get(protocol);
    if (!pending) {
      const made: Promise<Result<Connector, VolkitError>> = Promise.resolve(createConnector(protocol, this.#configFor(protocol) as never, this.#options)).then((r) => {
        if (r.isErr() && this.#connectors.get(protocol) === made) this.#connectors.delete(protocol);
        return r;
      });
      this.#connectors.set(protocol, made);
      pending = made;
    }
    return new ResultAsync(pending);
  }

  /** The connector a connection needs (by its `type`). */
  connectorFor(connection: ConnectionInfoInput): ResultAsync<Connector, VolkitError> {
    return this.connector(connection.type);
  }

  /** This host's properties as `protocol`'s connector reports them (initiator IQN for iSCSI…). */
  hostProperties(protocol: Protocol, options: HostPropertiesOptions = {}): ResultAsync<HostProperties, VolkitError> {
    return this.connector(protocol).andThen((c) => c.getHostProperties(options));
  }

  /** The mount manager of this host's NFS connector, for an NFS driver in the same process to share. */
  mountManager(): ResultAsync<MountManager, VolkitError> {
    if (this.#options.mounts) return okAsync(this.#options.mounts);
    return this.connector("nfs").andThen((c) => {
      const mounts = (c as Connector & { readonly mounts?: MountManager }).mounts;
      return mounts ? okAsync(mounts) : errAsync(new VolkitError("INVALID_STATE", "this host's NFS connector has no mount manager", { source: "host" }));
    });
  }

  #configFor(protocol: Protocol): Record<string, unknown> {
    const configs = (this.#options.connectors ?? {}) as Record<string, Record<string, unknown> | undefined>;
    const own = configs[protocol] ?? {};
    return this.#options.hostName === undefined || "hostName" in own ? own : { ...own, hostName: this.#options.hostName };
  }
}

/** This machine's connectors (see {@link Host}). Never fails: each connector's config is validated when it is first built. */
export function createHost(options: HostOptions = {}): Host {
  return new Host(options);
}
