import { type ResultAsync, errAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import type { Logger } from "../../core/events.js";
import { validate } from "../../core/validation.js";
import { IpsanConnectionSchema, type IpsanConnection, type IpsanConnectionInput } from "./ipsan-connection.js";
import { ClonePairApi, LunCopyApi } from "./ipsan-copy-api.js";
import { LunGroupApi, MappingViewApi, PortGroupApi } from "./ipsan-group-api.js";
import { HostApi, HostGroupApi, InitiatorApi } from "./ipsan-host-api.js";
import { LunApi, PoolApi, SystemApi } from "./ipsan-lun-api.js";
import { PortApi } from "./ipsan-port-api.js";
import { QosApi } from "./ipsan-qos-api.js";
import { IpsanSession, type RestCall } from "./ipsan-session.js";
import { SnapshotApi } from "./ipsan-snapshot-api.js";

/** Options of {@link createIpsanClient}. */
export interface IpsanClientOptions {
  /** Logger (never receives the password, the session token or CHAP secrets). */
  readonly logger?: Logger;
}

/**
 * A typed client of an OceanStor-style IP-SAN array's REST API (the dialect Cinder's Huawei
 * driver speaks), grouped by object kind. Every method validates its input before any request
 * (`INVALID_ARGUMENT`, nothing sent), takes the operation context (its signal and deadline bound
 * every request), and returns a `ResultAsync` whose errors carry the array's code and description
 * in `details`. Deletes of missing objects and associations that already exist succeed; creates
 * of an identical existing object return it with `created: false`.
 *
 * @example
 * ```ts
 * const client = (await createIpsanClient({ restUrls: [url], user: "admin", password }))._unsafeUnwrap();
 * const pool = (await client.pools.findByName("StoragePool001", ctx))._unsafeUnwrap();
 * const lun = await client.luns.create({ name: "vol-1", poolId: pool!.id, capacitySectors: gibToSectors(10), allocType: "thin" }, ctx);
 * ```
 */
export class IpsanClient {
  /** LUNs, clone LUNs, readiness. */
  readonly luns: LunApi;
  /** Snapshots and rollback. */
  readonly snapshots: SnapshotApi;
  /** LUN copy tasks. */
  readonly lunCopies: LunCopyApi;
  /** Clone pairs (Dorado V6+). */
  readonly clonePairs: ClonePairApi;
  /** Storage pools. */
  readonly pools: PoolApi;
  /** The array itself. */
  readonly system: SystemApi;
  /** Hosts. */
  readonly hosts: HostApi;
  /** Host groups. */
  readonly hostGroups: HostGroupApi;
  /** iSCSI initiators and CHAP. */
  readonly initiators: InitiatorApi;
  /** LUN groups. */
  readonly lunGroups: LunGroupApi;
  /** Port groups. */
  readonly portGroups: PortGroupApi;
  /** Mapping views and host LUN ids. */
  readonly mappingViews: MappingViewApi;
  /** Front-end ports and iSCSI portals. */
  readonly ports: PortApi;
  /** QoS policies. */
  readonly qos: QosApi;
  readonly #session: IpsanSession;

  /** Use {@link createIpsanClient}. */
  constructor(session: IpsanSession) {
    this.#session = session;
    this.luns = new LunApi(session);
    this.snapshots = new SnapshotApi(session);
    this.lunCopies = new LunCopyApi(session);
    this.clonePairs = new ClonePairApi(session);
    this.pools = new PoolApi(session);
    this.system = new SystemApi(session);
    this.hosts = new HostApi(session);
    this.hostGroups = new HostGroupApi(session);
    this.initiators = new InitiatorApi(session);
    this.lunGroups = new LunGroupApi(session);
    this.portGroups = new PortGroupApi(session);
    this.mappingViews = new MappingViewApi(session);
    this.ports = new PortApi(session);
    this.qos = new QosApi(session);
  }

  /** The array's device id (serial) once logged in. */
  get deviceId(): string | undefined {
    return this.#session.deviceId;
  }

  /** Logs in now (otherwise the first call does); returns the device id and the URL that answered. */
  login(ctx: OperationContext): ResultAsync<{ deviceId: string; url: string }, VolkitError> {
    return this.#session.login(ctx);
  }

  /** A raw call of the dialect for what the typed methods do not cover; returns `data`. */
  call(call: RestCall, ctx: OperationContext): ResultAsync<unknown, VolkitError> {
    return this.#session.call(call, ctx);
  }

  /** Logs out (best effort) and closes the HTTP connections. */
  close(ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#session.close(ctx);
  }
}

/**
 * Validates the connection settings (`INVALID_CONFIG`; the password is registered as a secret)
 * and builds a client. Nothing is sent until the first call or {@link IpsanClient.login}.
 */
export function createIpsanClient(connection: IpsanConnectionInput, options: IpsanClientOptions = {}): ResultAsync<IpsanClient, VolkitError> {
  const conn = validate(IpsanConnectionSchema, connection, "ipsan connection", "INVALID_CONFIG");
  if (conn.isErr()) return errAsync(conn.error);
  const parsed: IpsanConnection = conn.value;
  return IpsanSession.create(parsed, options.logger === undefined ? {} : { logger: options.logger }).map((session) => new IpsanClient(session));
}
