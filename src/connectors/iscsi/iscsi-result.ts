import type { ResultAsync } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import type { AttachedDevice } from "../../core/records.js";
import { blockDeviceSize, type DmDevice } from "../../host/block-sysfs.js";
import type { IscsiTools } from "./iscsi-tools.js";

/**
 * Stage 5, the result: the device handed out to the caller, the map (`/dev/dm-N`) or a single
 * path (`/dev/sdX`), with its size. It creates nothing, so it has no undo of its own.
 */

/** The device handed out for a map. */
export function mapDevice(tools: IscsiTools, map: DmDevice, disks: readonly string[]): ResultAsync<AttachedDevice, VolkitError> {
  return blockDeviceSize(tools.fs, map.dm).map((sizeBytes) => ({
    type: "block",
    path: `/dev/${map.dm}`,
    scsiWwn: map.uuid.replace(/^mpath-/, ""),
    multipathId: map.name,
    paths: disks.map((d) => `/dev/${d}`),
    sizeBytes,
  }));
}

/** The device handed out for a single path. */
export function diskDevice(tools: IscsiTools, disk: string, wwid: string | undefined): ResultAsync<AttachedDevice, VolkitError> {
  return blockDeviceSize(tools.fs, disk).map((sizeBytes) => ({ type: "block", path: `/dev/${disk}`, ...(wwid ? { scsiWwn: wwid } : {}), paths: [`/dev/${disk}`], sizeBytes }));
}
