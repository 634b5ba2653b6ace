import { type ResultAsync, err, errAsync, ok, okAsync, type Result } from "neverthrow";
import { hostname, machine } from "node:os";
import type { OperationContext, OperationOptions } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { EventBus, silentLogger, type Logger } from "../../core/events.js";
import { ConnectorPropertiesSchema, LocalConnectionInfoSchema, type ConnectionInfo, type ConnectorProperties, type LocalConnectionInfo } from "../../core/types.js";
import { validate } from "../../core/validation.js";
import { createLocalRunner } from "../../exec/local-runner.js";
import type { CommandRunner } from "../../exec/runner.js";
import { blockDeviceSize, kernelNameOf } from "../../host/block-sysfs.js";
import { createHostFs, type HostFs } from "../../host/host-fs.js";
import { runHostOperation, type HostOperationScope } from "../../host/operation.js";
import type { AttachedDevice, Connector, DisconnectOptions, DisconnectReport } from "../connector.js";

/** Options of {@link LocalConnector}. */
export interface LocalConnectorOptions {
  /** Runs `blockdev --flushbufs` (default: local runner). */
  readonly runner?: CommandRunner;
  /** Host files (default: the real root). */
  readonly hostFs?: HostFs;
  /** Logger. */
  readonly logger?: Logger;
  /** Event bus for operation events (default: a new one). */
  readonly events?: EventBus;
  /** Host name reported in connector properties (default `os.hostname()`). */
  readonly hostName?: string;
  /** Timeout of one flush in ms (default 120 000). */
  readonly flushTimeoutMs?: number;
}

/**
 * The connector for `type: "local"` connections: the volume is already a block device on this
 * host (an LV of the LVM driver without a target). Connect checks the device exists and is a block
 * device (its kernel name has `/sys/class/block/<name>`) and returns it with its size; disconnect
 * flushes it (nothing to remove); extend returns the size the kernel now reports.
 *
 * @example
 * ```ts
 * const local = new LocalConnector();
 * const dev = (await local.connectVolume({ type: "local", volumeId: "v1", devicePath: "/dev/vg/volume-v1" }))._unsafeUnwrap();
 * ```
 */
export class LocalConnector implements Connector {
  /** {@inheritDoc Connector.protocol} */
  readonly protocol = "local" as const;
  /** Operation start/end events. */
  readonly events: EventBus;
  readonly #runner: CommandRunner;
  readonly #fs: HostFs;
  readonly #scope: HostOperationScope;
  readonly #host: string | undefined;
  readonly #flushTimeoutMs: number;

  /** Builds the connector; every collaborator has a default. */
  constructor(options: LocalConnectorOptions = {}) {
    this.#runner = options.runner ?? createLocalRunner();
    this.#fs = options.hostFs ?? createHostFs();
    this.events = options.events ?? new EventBus();
    this.#scope = { source: "local", logger: options.logger ?? silentLogger, events: this.events };
    this.#host = options.hostName;
    this.#flushTimeoutMs = options.flushTimeoutMs ?? 120_000;
  }

  /** Host name and platform; local volumes need no initiator. */
  getConnectorProperties(options: OperationOptions = {}): ResultAsync<ConnectorProperties, VolkitError> {
    return runHostOperation(this.#scope, "getConnectorProperties", undefined, options, () =>
      validate(ConnectorPropertiesSchema, { host: this.#host ?? hostname(), multipath: false, platform: machine(), osType: "linux2" }, "connector properties").asyncAndThen((p) => okAsync(p)),
    );
  }

  /** Checks the device exists and is a block device; returns it. `DEVICE_NOT_FOUND` otherwise. */
  connectVolume(info: ConnectionInfo, options: OperationOptions = {}): ResultAsync<AttachedDevice, VolkitError> {
    return parseInfo(info).asyncAndThen((i) =>
      runHostOperation(this.#scope, "connectVolume", i.volumeId, options, () =>
        this.#device(i.devicePath).map((d): AttachedDevice => ({ type: "block", path: i.devicePath, paths: [], sizeBytes: d.sizeBytes })),
      ),
    );
  }

  /**
   * Flushes the device's buffers (`blockdev --flushbufs`). Nothing is removed: the device belongs
   * to the volume. A device already gone is reported as such, not as an error. A failed flush is
   * `DETACH_INCOMPLETE` unless `force` or `ignoreErrors`.
   */
  disconnectVolume(info: ConnectionInfo, _device: AttachedDevice, options: DisconnectOptions = {}): ResultAsync<DisconnectReport, VolkitError> {
    return parseInfo(info).asyncAndThen((i) =>
      runHostOperation(this.#scope, "disconnectVolume", i.volumeId, options, (ctx) =>
        kernelNameOf(this.#fs, i.devicePath).andThen((name) => {
          if (name === undefined) return okAsync<DisconnectReport, VolkitError>({ removed: [], leftBehind: [] });
          return this.#flush(i.devicePath, ctx)
            .map((): DisconnectReport => ({ removed: [], leftBehind: [] }))
            .orElse((e) => {
              if (e.code === "ABORTED") return errAsync(e);
              const report: DisconnectReport = { removed: [], leftBehind: [{ kind: "device", name: i.devicePath, reason: `flush failed: ${e.message}` }] };
              if (options.force) {
                ctx.logger.warn({ device: i.devicePath, err: e.toJSON() }, "flush failed; ignored because force is set");
                return okAsync<DisconnectReport, VolkitError>({ removed: [], leftBehind: [] });
              }
              if (options.ignoreErrors) return okAsync<DisconnectReport, VolkitError>(report);
              return errAsync(new VolkitError("DETACH_INCOMPLETE", `flushing ${i.devicePath} failed: ${e.message}`, { source: "local", cause: e, details: { report } }));
            });
        }),
      ),
    );
  }

  /** Returns the size the kernel reports now (the driver already grew the LV). */
  extendVolume(info: ConnectionInfo, _device: AttachedDevice, options: OperationOptions = {}): ResultAsync<number, VolkitError> {
    return parseInfo(info).asyncAndThen((i) => runHostOperation(this.#scope, "extendVolume", i.volumeId, options, () => this.#device(i.devicePath).map((d) => d.sizeBytes)));
  }

  #device(path: string): ResultAsync<{ name: string; sizeBytes: number }, VolkitError> {
    return kernelNameOf(this.#fs, path).andThen((name) =>
      name === undefined
        ? errAsync(new VolkitError("DEVICE_NOT_FOUND", `${path} does not exist on this host`, { source: "local", details: { device: path } }))
        : this.#fs.exists(`/sys/class/block/${name}`).andThen((isBlock) =>
            isBlock
              ? blockDeviceSize(this.#fs, name).map((sizeBytes) => ({ name, sizeBytes }))
              : errAsync(new VolkitError("DEVICE_NOT_FOUND", `${path} is not a block device`, { source: "local", details: { device: path } })),
          ),
    );
  }

  #flush(path: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return ctx.phase("flush", () => this.#runner.run({ argv: ["blockdev", "--flushbufs", path], signal: ctx.signal, timeoutMs: this.#flushTimeoutMs })).map(() => undefined);
  }
}

function parseInfo(info: ConnectionInfo): Result<LocalConnectionInfo, VolkitError> {
  if (info.type !== "local") return err(new VolkitError("INVALID_ARGUMENT", `the local connector cannot attach a ${String(info.type)} connection`, { source: "local" }));
  return validate(LocalConnectionInfoSchema, info, "local connection info").andThen((i) => ok(i));
}
