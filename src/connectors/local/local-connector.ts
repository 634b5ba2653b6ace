import { hostname, machine } from "node:os";
import { type Result, type ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext, OperationOptions } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { EventBus, silentLogger } from "../../core/events.js";
import { runOperation, type OperationScope } from "../../core/operation.js";
import {
  HostPropertiesSchema,
  LocalConnectionInfoSchema,
  type AttachedDevice,
  type AttachedDeviceInput,
  type ConnectionInfoInput,
  type DisconnectReport,
  type HostProperties,
  type LocalConnectionInfo,
} from "../../core/records.js";
import { HostNameSchema, validate } from "../../core/validation.js";
import { createLocalRunner } from "../../exec/local-runner.js";
import type { CommandRunner } from "../../exec/runner.js";
import { blockDeviceSize, kernelNameOf } from "../../host/block-sysfs.js";
import { createHostFs, type HostFs } from "../../host/host-fs.js";
import type { Connector, ConnectorDeps, DisconnectOptions, HostPropertiesOptions } from "../connector.js";
import { attachedDeviceOf, connectionFor } from "../connector-input.js";

/** Options of the local connector (validated by {@link createLocalConnector}). */
export const LocalConnectorConfigSchema = z.object({
  /** Host name reported in host properties (default `os.hostname()`). */
  hostName: HostNameSchema.optional().meta({ title: "Host name", description: "Reported to drivers; default: this machine's host name" }),
  /** Bound on one `blockdev --flushbufs` (ms). */
  flushTimeoutMs: z.number().int().min(100).max(3_600_000).default(120_000).meta({ title: "Flush timeout (ms)" }),
});
/** Local connector options (input form). */
export type LocalConnectorConfig = z.input<typeof LocalConnectorConfigSchema>;
/** Local connector options (parsed form). */
export type ParsedLocalConnectorConfig = z.output<typeof LocalConnectorConfigSchema>;

/**
 * The connector for `type: "local"` connections: the volume is already a block device on this
 * host (an LV of the LVM driver without a target). Connect checks the device exists and is a block
 * device (its kernel name has `/sys/class/block/<name>`) and returns it with its size; disconnect
 * flushes it (nothing to remove); extend returns the size the kernel now reports.
 *
 * @example
 * ```ts
 * const local = createLocalConnector()._unsafeUnwrap();
 * const dev = await local.connectVolume({ type: "local", volumeId: "v1", devicePath: "/dev/vg/volume-v1" });
 * ```
 */
export class LocalConnector implements Connector {
  /** {@inheritDoc index!Connector.protocol} */
  readonly protocol = "local" as const;
  /** Operation start/end events. */
  readonly events: EventBus;
  /** The validated options. */
  readonly config: ParsedLocalConnectorConfig;
  readonly #runner: CommandRunner;
  readonly #fs: HostFs;
  readonly #scope: OperationScope;

  /** Prefer {@link createLocalConnector}, which validates `config`. */
  constructor(config: ParsedLocalConnectorConfig, deps: ConnectorDeps = {}) {
    this.config = config;
    this.#runner = deps.runner ?? createLocalRunner();
    this.#fs = deps.hostFs ?? createHostFs();
    this.events = deps.events ?? new EventBus();
    this.#scope = { source: "local", logger: deps.logger ?? silentLogger, events: this.events };
  }

  /** Host name and platform; local volumes need no initiator. */
  getHostProperties(options: HostPropertiesOptions = {}): ResultAsync<HostProperties, VolkitError> {
    return runOperation(this.#scope, "getHostProperties", undefined, options, () =>
      validate(HostPropertiesSchema, { host: this.config.hostName ?? hostname(), multipath: false, platform: machine(), osType: "linux2" }, "host properties").asyncAndThen((p) => okAsync(p)),
    );
  }

  /** Checks the device exists and is a block device; returns it. `DEVICE_NOT_FOUND` otherwise. */
  connectVolume(info: ConnectionInfoInput, options: OperationOptions = {}): ResultAsync<AttachedDevice, VolkitError> {
    return parseInfo(info).asyncAndThen((i) =>
      runOperation(this.#scope, "connectVolume", i.volumeId, options, () =>
        this.#device(i.devicePath).map((d): AttachedDevice => ({ type: "block", path: i.devicePath, paths: [], sizeBytes: d.sizeBytes })),
      ),
    );
  }

  /**
   * Flushes the device's buffers (`blockdev --flushbufs`). Nothing is removed: the device belongs
   * to the volume. A device already gone is reported as such, not as an error. A failed flush is
   * `DETACH_INCOMPLETE` unless `force` or `ignoreErrors`.
   */
  disconnectVolume(info: ConnectionInfoInput, device: AttachedDeviceInput, options: DisconnectOptions = {}): ResultAsync<DisconnectReport, VolkitError> {
    return parseInfo(info).andThen((i) => parseDevice(device).map(() => i)).asyncAndThen((i) =>
      runOperation(this.#scope, "disconnectVolume", i.volumeId, options, (ctx) =>
        kernelNameOf(this.#fs, i.devicePath).andThen((name) => {
          const clean: DisconnectReport = { removed: [], leftBehind: [] };
          if (name === undefined) return okAsync<DisconnectReport, VolkitError>(clean);
          return this.#flush(i.devicePath, ctx)
            .map(() => clean)
            .orElse((e) => {
              if (e.code === "ABORTED") return errAsync(e);
              const report: DisconnectReport = { removed: [], leftBehind: [{ kind: "device", name: i.devicePath, reason: `flush failed: ${e.message}`, expected: false }] };
              if (options.force) {
                ctx.logger.warn({ device: i.devicePath, err: e.toJSON() }, "flush failed; ignored because force is set");
                return okAsync<DisconnectReport, VolkitError>(clean);
              }
              if (options.ignoreErrors) return okAsync<DisconnectReport, VolkitError>(report);
              return errAsync(new VolkitError("DETACH_INCOMPLETE", `flushing ${i.devicePath} failed: ${e.message}`, { source: "local", cause: e, details: { report } }));
            });
        }),
      ),
    );
  }

  /** Returns the size the kernel reports now (the driver already grew the LV). */
  extendVolume(info: ConnectionInfoInput, device: AttachedDeviceInput, options: OperationOptions = {}): ResultAsync<number, VolkitError> {
    return parseInfo(info)
      .andThen((i) => parseDevice(device).map(() => i))
      .asyncAndThen((i) => runOperation(this.#scope, "extendVolume", i.volumeId, options, () => this.#device(i.devicePath).map((d) => d.sizeBytes)));
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
    return ctx.phase("flush", () => this.#runner.run({ argv: ["blockdev", "--flushbufs", path], signal: ctx.signal, timeoutMs: this.config.flushTimeoutMs })).map(() => undefined);
  }
}

function parseInfo(info: ConnectionInfoInput): Result<LocalConnectionInfo, VolkitError> {
  return connectionFor("local", LocalConnectionInfoSchema, info);
}

function parseDevice(device: AttachedDeviceInput): Result<AttachedDevice, VolkitError> {
  return attachedDeviceOf(device);
}

/**
 * Validates `config` and builds the local connector. Fails with `INVALID_CONFIG` naming every bad field.
 *
 * @example
 * ```ts
 * const local = createLocalConnector({ hostName: "compute-1" })._unsafeUnwrap();
 * ```
 */
export function createLocalConnector(config: LocalConnectorConfig = {}, deps: ConnectorDeps = {}): Result<LocalConnector, VolkitError> {
  return validate(LocalConnectorConfigSchema, config, "local connector config", "INVALID_CONFIG").map((parsed) => new LocalConnector(parsed, deps));
}
