import type { ResultAsync } from "neverthrow";
import type { OperationOptions } from "../core/context.js";
import type { VolkitError } from "../core/errors.js";
import type { ConnectionInfo, ConnectorProperties } from "../core/types.js";

/**
 * Connectors run on the compute host: they take the {@link ConnectionInfo} a driver returned,
 * make a local block device or file appear, and undo that on disconnect (os-brick's role).
 */

/** What a successful connect hands back (and what disconnect and the libvirt builder take). */
export interface AttachedDevice {
  /** `block` for a device node, `file` for an image file on a mounted share. */
  readonly type: "block" | "file";
  /** Path to use: `/dev/dm-N` (multipath), `/dev/sdX`, a local LV, or the volume file on NFS. */
  readonly path: string;
  /** SCSI WWN/WWID (iSCSI), when known. */
  readonly scsiWwn?: string;
  /** Multipath map name (the WWID with user_friendly_names off) when multipath is used. */
  readonly multipathId?: string;
  /** Every path device behind it (`/dev/sdb`, `/dev/sdc`), empty for files. */
  readonly paths: readonly string[];
  /** Image format of a file device. */
  readonly format?: "raw" | "qcow2";
  /** Size in bytes, when known. */
  readonly sizeBytes?: number;
}

/** Something a disconnect could not remove, and why. */
export interface LeftBehind {
  /** What kind of object remains. */
  readonly kind: "session" | "device" | "map" | "mount";
  /** Its name (`/dev/sdb`, a map name, `<portal>,<iqn>`, a mount point). */
  readonly name: string;
  /** Why it was left (still in use by another LUN, error…). */
  readonly reason: string;
}

/** What a disconnect removed and what it left behind (field pain point 3: never silent). */
export interface DisconnectReport {
  /** Objects removed, in order (`map 3600…`, `device /dev/sdb`, `session 127.0.0.1:3260,iqn…`). */
  readonly removed: readonly string[];
  /** Objects still present afterwards. Empty means the host is clean. */
  readonly leftBehind: readonly LeftBehind[];
}

/** Options of {@link Connector.disconnectVolume}. */
export interface DisconnectOptions extends OperationOptions {
  /** Continue past a failed flush (data written but not flushed may be lost): for dead targets. */
  readonly force?: boolean;
  /** Report errors in the report instead of failing. */
  readonly ignoreErrors?: boolean;
}

/** A host-side connector for one protocol. */
export interface Connector {
  /** Protocol served (`iscsi`, `nfs`, `local`). */
  readonly protocol: ConnectionInfo["type"];
  /** This host's properties for a driver's `initializeConnection`. */
  getConnectorProperties(options?: OperationOptions & { readonly multipath?: boolean; readonly enforceMultipath?: boolean }): ResultAsync<ConnectorProperties, VolkitError>;
  /** Attaches the volume; on failure removes everything it created. */
  connectVolume(info: ConnectionInfo, options?: OperationOptions): ResultAsync<AttachedDevice, VolkitError>;
  /** Detaches; flushes, removes paths/maps/sessions it owns, reports anything left. */
  disconnectVolume(info: ConnectionInfo, device: AttachedDevice, options?: DisconnectOptions): ResultAsync<DisconnectReport, VolkitError>;
  /** Makes the host see a grown volume; returns the new size in bytes. */
  extendVolume(info: ConnectionInfo, device: AttachedDevice, options?: OperationOptions): ResultAsync<number, VolkitError>;
}
