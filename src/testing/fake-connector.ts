import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationOptions } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { EventBus } from "../core/events.js";
import {
  AttachedDeviceSchema,
  ConnectionInfoSchema,
  type AttachedDevice,
  type AttachedDeviceInput,
  type ConnectionInfoInput,
  type DisconnectReport,
  type HostProperties,
  type Protocol,
} from "../core/records.js";
import { validate } from "../core/validation.js";
import type { Connector, DisconnectOptions, HostPropertiesOptions } from "../connectors/connector.js";

/** Methods of a {@link FakeConnector} a test can make fail. */
export type FakeConnectorMethod = "getHostProperties" | "connectVolume" | "disconnectVolume" | "extendVolume";

/** Options of {@link FakeConnector}. */
export interface FakeConnectorOptions {
  /** Protocol it claims to serve (default `local`, what `MemoryVolumeDriver` returns). */
  readonly protocol?: Protocol;
  /** Host properties it reports. */
  readonly host?: Partial<HostProperties>;
  /** Size in bytes of a freshly connected device (default 1 GiB). */
  readonly sizeBytes?: number;
}

/**
 * A connector that attaches nothing: it validates what it receives like a real connector, records
 * every call, keeps the devices it "attached", and fails a method on demand. For tests of attach
 * flows, the volume service and anything else that drives connectors.
 *
 * @example
 * ```ts
 * const connector = new FakeConnector();
 * connector.failNext("connectVolume", new VolkitError("LOGIN_FAILED", "portal down"));
 * const r = await attachVolume(backend, volume, { connector }); // rolled back: export removed
 * ```
 */
export class FakeConnector implements Connector {
  /** Protocol served. */
  readonly protocol: Protocol;
  /** Operation events (none are emitted; present for the interface). */
  readonly events = new EventBus();
  /** Every call, in order: method and volume id. */
  readonly calls: Array<{ readonly method: FakeConnectorMethod; readonly volumeId?: string }> = [];
  /** Devices attached now, by volume id. */
  readonly attached = new Map<string, AttachedDevice>();
  readonly #host: HostProperties;
  readonly #sizeBytes: number;
  readonly #failures = new Map<FakeConnectorMethod, VolkitError>();
  readonly #sizes = new Map<string, number>();

  /** @param options - protocol, host properties and device size. */
  constructor(options: FakeConnectorOptions = {}) {
    this.protocol = options.protocol ?? "local";
    this.#host = { host: "fake-host", multipath: false, initiator: "iqn.2026-11.io.volkit:fake-host", ...options.host };
    this.#sizeBytes = options.sizeBytes ?? 1024 ** 3;
  }

  /** Makes the next call of `method` fail with `error`. */
  failNext(method: FakeConnectorMethod, error: VolkitError): void {
    this.#failures.set(method, error);
  }

  /** Sets the size the host "sees" for a volume (what `extendVolume` reports). */
  setSize(volumeId: string, bytes: number): void {
    this.#sizes.set(volumeId, bytes);
  }

  /** Number of calls of `method`. */
  count(method: FakeConnectorMethod): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  /** {@inheritDoc index!Connector.getHostProperties} */
  getHostProperties(_options: HostPropertiesOptions = {}): ResultAsync<HostProperties, VolkitError> {
    return this.#call("getHostProperties", undefined, () => okAsync({ ...this.#host }));
  }

  /** {@inheritDoc index!Connector.connectVolume} */
  connectVolume(info: ConnectionInfoInput, _options: OperationOptions = {}): ResultAsync<AttachedDevice, VolkitError> {
    return validate(ConnectionInfoSchema, info, "connection info").asyncAndThen((i) =>
      this.#call("connectVolume", i.volumeId, () => {
        const path = i.type === "local" ? i.devicePath : `/dev/fake-${i.volumeId}`;
        const device: AttachedDevice = { type: "block", path, paths: [], sizeBytes: this.#sizes.get(i.volumeId) ?? this.#sizeBytes };
        this.attached.set(i.volumeId, device);
        return okAsync(device);
      }),
    );
  }

  /** {@inheritDoc index!Connector.disconnectVolume} */
  disconnectVolume(info: ConnectionInfoInput, device: AttachedDeviceInput, _options: DisconnectOptions = {}): ResultAsync<DisconnectReport, VolkitError> {
    return validate(ConnectionInfoSchema, info, "connection info")
      .andThen((i) => validate(AttachedDeviceSchema, device, "attached device").map((d) => ({ i, d })))
      .asyncAndThen(({ i, d }) =>
        this.#call("disconnectVolume", i.volumeId, () => {
          const had = this.attached.delete(i.volumeId);
          return okAsync({ removed: had ? [`device ${d.path}`] : [], leftBehind: [] });
        }),
      );
  }

  /** {@inheritDoc index!Connector.extendVolume} */
  extendVolume(info: ConnectionInfoInput, device: AttachedDeviceInput, _options: OperationOptions = {}): ResultAsync<number, VolkitError> {
    return validate(ConnectionInfoSchema, info, "connection info")
      .andThen((i) => validate(AttachedDeviceSchema, device, "attached device").map(() => i))
      .asyncAndThen((i) => this.#call("extendVolume", i.volumeId, () => okAsync(this.#sizes.get(i.volumeId) ?? this.#sizeBytes)));
  }

  #call<T>(method: FakeConnectorMethod, volumeId: string | undefined, run: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
    this.calls.push({ method, ...(volumeId === undefined ? {} : { volumeId }) });
    const failure = this.#failures.get(method);
    if (failure) {
      this.#failures.delete(method);
      return errAsync(failure);
    }
    return run();
  }
}

/** A typed error for {@link FakeConnector.failNext}. */
export function fakeFailure(code: VolkitError["code"], message = `simulated ${code}`): VolkitError {
  return new VolkitError(code, message, { source: "fake" });
}
