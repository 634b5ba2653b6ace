import { hostname, machine } from "node:os";
import { type ResultAsync, err, errAsync, ok, okAsync, type Result } from "neverthrow";
import type { OperationOptions } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { EventBus, silentLogger } from "../../core/events.js";
import { InProcessLocks, withLock } from "../../core/locks.js";
import { runOperation, type OperationScope } from "../../core/operation.js";
import {
  HostPropertiesSchema,
  IscsiConnectionInfoSchema,
  type AttachedDevice,
  type AttachedDeviceInput,
  type ConnectionInfoInput,
  type DisconnectReport,
  type HostProperties,
  type IscsiConnectionInfo,
} from "../../core/records.js";
import { validate } from "../../core/validation.js";
import { createLocalRunner } from "../../exec/local-runner.js";
import { isNotFound, createHostFs } from "../../host/host-fs.js";
import { PollGroup } from "../../host/wait.js";
import { ScanQueue } from "./iscsi-scan-queue.js";
import type { Connector, ConnectorDeps, DisconnectOptions, HostPropertiesOptions } from "../connector.js";
import { attachedDeviceOf, connectionFor } from "../connector-input.js";
import { IscsiConnectorConfigSchema, type IscsiConnectorConfig, type ParsedIscsiConnectorConfig } from "./iscsi-config.js";
import { connectMultipath, connectSinglePath } from "./iscsi-connect-flow.js";
import { disconnect } from "./iscsi-disconnect-flow.js";
import { extend } from "./iscsi-extend-flow.js";
import { volumeInventory } from "./iscsi-inventory.js";
import { diagnoseNodeDb } from "./iscsi-node-db.js";
import { parseInitiatorName } from "./iscsi-parsers.js";
import { lunLockKey, planPaths, resolveWithSystem, type ResolveHost } from "./iscsi-plan.js";
import type { IscsiTools } from "./iscsi-tools.js";
import { Iscsiadm, type ChapSettings } from "./iscsiadm.js";
import { Multipath } from "./multipath.js";

/** Injected collaborators of {@link IscsiConnector}. */
export interface IscsiConnectorDeps extends ConnectorDeps {
  /** Portal host name resolution (default: the system resolver). */
  readonly resolveHost?: ResolveHost;
}

const INITIATOR_FILE = "/etc/iscsi/initiatorname.iscsi";

/**
 * The iSCSI connector (os-brick's `ISCSIConnector`, rebuilt): parallel logins per portal,
 * devices found through sysfs by session and a targeted LUN scan, dm-multipath assembled and
 * verified, a failed connect undone, a disconnect that reports what it left behind, and keyed
 * locks per session instead of one host-wide lock. Build it with {@link createIscsiConnector}.
 *
 * @example
 * ```ts
 * const iscsi = createIscsiConnector({ multipath: true })._unsafeUnwrap();
 * const props = (await iscsi.getHostProperties())._unsafeUnwrap();
 * const info = (await backend.initializeConnection(volume, props))._unsafeUnwrap();
 * const dev = (await iscsi.connectVolume(info, { deadline: Date.now() + 120_000 }))._unsafeUnwrap();
 * // … use dev.path (/dev/dm-N) …
 * const report = (await iscsi.disconnectVolume(info, dev))._unsafeUnwrap();
 * ```
 */
export class IscsiConnector implements Connector {
  /** {@inheritDoc index!Connector.protocol} */
  readonly protocol = "iscsi" as const;
  /** Operation start/end events (with phase timings: `login <portal>`, `device <portal>`, `multipath`, `flush`…). */
  readonly events: EventBus;
  /** The validated options. */
  readonly config: ParsedIscsiConnectorConfig;
  readonly #tools: IscsiTools;
  readonly #scope: OperationScope;

  /** Prefer {@link createIscsiConnector}, which validates `config`. */
  constructor(config: ParsedIscsiConnectorConfig, deps: IscsiConnectorDeps = {}) {
    this.config = config;
    const runner = deps.runner ?? createLocalRunner();
    const timings = { loginTimeoutMs: config.timeouts.loginMs, commandTimeoutMs: config.timeouts.commandMs, retries: config.retries, retryMinMs: Math.max(config.poll.minMs, 20) };
    const fs = deps.hostFs ?? createHostFs();
    this.#tools = {
      runner,
      fs,
      locks: deps.locks ?? new InProcessLocks(),
      iscsiadm: new Iscsiadm(runner, timings, (target, failure) => diagnoseNodeDb(fs, target, failure)),
      multipath: new Multipath(runner, { commandTimeoutMs: config.timeouts.commandMs, busyRetries: config.retries, retryMinMs: timings.retryMinMs }),
      config,
      pending: new Map(),
      resolve: deps.resolveHost ?? resolveWithSystem,
      // devtmpfs adds /dev/sdX and /dev/dm-N the moment the kernel makes them: a round starts then.
      waits: new PollGroup(fs, { intervalMs: config.poll.intervalMs, wakeOn: ["/dev"] }),
      forgottenNodes: new Set(),
      scans: new ScanQueue(),
      logins: new Map(),
    };
    this.events = deps.events ?? new EventBus();
    this.#scope = { source: "iscsi", logger: deps.logger ?? silentLogger, events: this.events };
  }

  /**
   * This host's properties: initiator IQN from `/etc/iscsi/initiatorname.iscsi`, host name, IP
   * (when configured) and `multipath` = requested and `multipathd show status` answers.
   * `BACKEND_UNAVAILABLE` when multipath is enforced but multipathd does not answer, or when the
   * initiator name file is missing.
   */
  getHostProperties(options: HostPropertiesOptions = {}): ResultAsync<HostProperties, VolkitError> {
    const requested = options.multipath ?? this.config.multipath;
    const enforce = options.enforceMultipath ?? this.config.enforceMultipath;
    return runOperation(this.#scope, "getHostProperties", undefined, options, (ctx) =>
      this.#tools.fs
        .readFile(INITIATOR_FILE)
        .mapErr((e) => (isNotFound(e) ? new VolkitError("BACKEND_UNAVAILABLE", `${INITIATOR_FILE} is missing: is open-iscsi installed?`, { source: "iscsi", cause: e }) : e))
        .andThen(parseInitiatorName)
        .andThen((initiator) =>
          (requested || enforce ? this.#tools.multipath.available(ctx) : okAsync(false)).andThen((available) => {
            if (enforce && !available) return errAsync(new VolkitError("BACKEND_UNAVAILABLE", "multipath is enforced but multipathd does not answer (multipathd show status failed)", { source: "iscsi" }));
            const props = {
              host: this.config.hostName ?? hostname(),
              initiator,
              ...(this.config.ip === undefined ? {} : { ip: this.config.ip }),
              multipath: requested && available,
              platform: machine(),
              osType: "linux2",
            };
            return validate(HostPropertiesSchema, props, "host properties");
          }),
        ),
    );
  }

  /**
   * Logs in to the volume's portals and returns its block device; see `IscsiConnectorConfig` for
   * the single-path / multipath / enforced behaviour. On failure everything this call created
   * (sessions, node records, disks, map) is removed, pre-existing ones are left alone; the error
   * carries `details.rollback`.
   */
  connectVolume(info: ConnectionInfoInput, options: OperationOptions = {}): ResultAsync<AttachedDevice, VolkitError> {
    return this.#info(info).asyncAndThen(({ parsed, chap, discoveryChap }) =>
      runOperation(this.#scope, "connectVolume", parsed.volumeId, options, (ctx) =>
        withLock(this.#tools.locks, lunLockKey(parsed), ctx.signal, () =>
          planPaths(this.#tools, parsed, discoveryChap, ctx, true).andThen((paths) =>
            this.config.multipath ? connectMultipath(this.#tools, paths, chap, ctx) : connectSinglePath(this.#tools, paths, chap, ctx),
          ),
        ),
      ),
    );
  }

  /**
   * Detaches: flushes the device handed out, removes maps and disks (verifying each is gone), logs
   * out sessions no other LUN uses, deletes their node records. A session kept for other LUNs is
   * listed in `leftBehind` with a reason starting `kept:` and is not an error.
   */
  disconnectVolume(info: ConnectionInfoInput, device: AttachedDeviceInput, options: DisconnectOptions = {}): ResultAsync<DisconnectReport, VolkitError> {
    const flags = { force: options.force ?? false, ignoreErrors: options.ignoreErrors ?? false };
    return this.#info(info).asyncAndThen(({ parsed }) =>
      attachedDeviceOf(device).asyncAndThen((dev) =>
        runOperation(this.#scope, "disconnectVolume", parsed.volumeId, options, (ctx) =>
          withLock(this.#tools.locks, lunLockKey(parsed), ctx.signal, () =>
            planPaths(this.#tools, parsed, undefined, ctx, false).andThen((paths) =>
              volumeInventory(this.#tools, paths, dev, ctx).andThen((inv) => disconnect(this.#tools, paths, inv, flags, ctx)),
            ),
          ),
        ),
      ),
    );
  }

  /** Rescans every path, resizes the map, and returns the new size in bytes. */
  extendVolume(info: ConnectionInfoInput, device: AttachedDeviceInput, options: OperationOptions = {}): ResultAsync<number, VolkitError> {
    return this.#info(info).asyncAndThen(({ parsed }) =>
      attachedDeviceOf(device).asyncAndThen((dev) =>
        runOperation(this.#scope, "extendVolume", parsed.volumeId, options, (ctx) =>
          withLock(this.#tools.locks, lunLockKey(parsed), ctx.signal, () =>
            planPaths(this.#tools, parsed, undefined, ctx, false).andThen((paths) => volumeInventory(this.#tools, paths, dev, ctx).andThen((inv) => extend(this.#tools, inv, dev, ctx))),
          ),
        ),
      ),
    );
  }

  #info(info: ConnectionInfoInput): Result<{ parsed: IscsiConnectionInfo; chap: ChapSettings | undefined; discoveryChap: ChapSettings | undefined }, VolkitError> {
    return connectionFor("iscsi", IscsiConnectionInfoSchema, info).andThen((parsed) => {
      const chap = chapOf(parsed.authMethod, parsed.authUsername, parsed.authPassword, "auth");
      const discoveryChap = chapOf(parsed.discoveryAuthMethod, parsed.discoveryAuthUsername, parsed.discoveryAuthPassword, "discoveryAuth");
      if (chap instanceof VolkitError) return err(chap);
      if (discoveryChap instanceof VolkitError) return err(discoveryChap);
      return ok({ parsed, chap, discoveryChap });
    });
  }
}

function chapOf(method: string | undefined, username: string | undefined, password: string | undefined, field: string): ChapSettings | undefined | VolkitError {
  if (method === undefined) return undefined;
  if (username === undefined || password === undefined) {
    return new VolkitError("INVALID_ARGUMENT", `${field}Method is CHAP but ${field}Username or ${field}Password is missing`, { source: "iscsi" });
  }
  return { username, password };
}

/**
 * Validates `config` and builds the connector. Fails with `INVALID_CONFIG` naming every bad field.
 *
 * @example
 * ```ts
 * const iscsi = createIscsiConnector({ multipath: true, timeouts: { deviceMs: 60_000 } }, { logger: pino() });
 * ```
 */
export function createIscsiConnector(config: IscsiConnectorConfig = {}, deps: IscsiConnectorDeps = {}): Result<IscsiConnector, VolkitError> {
  return validate(IscsiConnectorConfigSchema, config, "iSCSI connector config", "INVALID_CONFIG").map((parsed) => new IscsiConnector(parsed, deps));
}
