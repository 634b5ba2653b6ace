import type { ResultAsync } from "neverthrow";
import type { OperationOptions } from "../core/context.js";
import type { VolkitError } from "../core/errors.js";
import type { EventBus, Logger } from "../core/events.js";
import type { LockBackend } from "../core/locks.js";
import type { AttachedDevice, AttachedDeviceInput, ConnectionInfoInput, DisconnectReport, HostProperties, Protocol } from "../core/records.js";
import type { CommandRunner } from "../exec/runner.js";
import type { HostFs } from "../host/host-fs.js";

/**
 * Connectors run on the attaching host: they take the connection info a driver returned, make a
 * local block device or file appear, and undo that on disconnect (os-brick's role). One per
 * protocol; `createConnector(protocol, config, deps)` builds any of them and `createHost()` keeps
 * one of each for this machine.
 */

/** Options of {@link Connector.getHostProperties}. */
export interface HostPropertiesOptions extends OperationOptions {
  /** Ask for multipath (iSCSI); default: the connector's config. */
  readonly multipath?: boolean;
  /** Fail when multipath is unavailable (iSCSI); default: the connector's config. */
  readonly enforceMultipath?: boolean;
}

/** Options of {@link Connector.disconnectVolume}. */
export interface DisconnectOptions extends OperationOptions {
  /** Continue past a failed flush (data written but not flushed may be lost): for dead targets. */
  readonly force?: boolean;
  /** Report errors in the report instead of failing. */
  readonly ignoreErrors?: boolean;
}

/** A host-side connector for one protocol. Every method validates what it receives before any command. */
export interface Connector {
  /** Protocol served. */
  readonly protocol: Protocol;
  /** Operation start/end events with per-phase timings. */
  readonly events: EventBus;
  /** This host's properties for a driver's `initializeConnection`. */
  getHostProperties(options?: HostPropertiesOptions): ResultAsync<HostProperties, VolkitError>;
  /** Attaches the volume; on failure removes everything it created. */
  connectVolume(info: ConnectionInfoInput, options?: OperationOptions): ResultAsync<AttachedDevice, VolkitError>;
  /** Detaches: flushes, removes the paths/maps/sessions/mounts it owns, reports anything left. */
  disconnectVolume(info: ConnectionInfoInput, device: AttachedDeviceInput, options?: DisconnectOptions): ResultAsync<DisconnectReport, VolkitError>;
  /** Makes the host see a grown volume; returns the new size in bytes. */
  extendVolume(info: ConnectionInfoInput, device: AttachedDeviceInput, options?: OperationOptions): ResultAsync<number, VolkitError>;
}

/** Collaborators every connector factory accepts (all optional; defaults are the real host). */
export interface ConnectorDeps {
  /** Runs the connector's commands (default: local runner). */
  readonly runner?: CommandRunner;
  /** Host files: /sys, /etc, /dev (default: the real root). */
  readonly hostFs?: HostFs;
  /** Keyed locks (default in-process; use `FileLocks` when several processes attach on one host). */
  readonly locks?: LockBackend;
  /** pino-compatible logger. */
  readonly logger?: Logger;
  /** Event bus for operation events (default: a new one). */
  readonly events?: EventBus;
}

/** Gives the connector this host uses for a protocol (a `Host` from `createHost` is one). */
export interface ConnectorSource {
  /** The connector for `protocol`, built once and shared. */
  connector(protocol: Protocol): ResultAsync<Connector, VolkitError>;
}
