import { ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { AttachedDevice } from "../../core/records.js";
import { blockDeviceSize, rescanScsiDisk, scsiHctl } from "../../host/block-sysfs.js";
import type { VolumeInventory } from "./iscsi-inventory.js";
import { poll, type IscsiTools } from "./iscsi-tools.js";

/**
 * The extend flow: makes the host see a grown LUN — `echo 1 > /sys/bus/scsi/drivers/sd/<H:C:T:L>/rescan`
 * on every path, waits until all paths agree on the size, then `multipathd resize map` and waits
 * for the map to match. Returns the new size in bytes.
 */
export function extend(tools: IscsiTools, inv: VolumeInventory, device: AttachedDevice, ctx: OperationContext): ResultAsync<number, VolkitError> {
  if (inv.disks.length === 0) {
    return errAsync(new VolkitError("DEVICE_NOT_FOUND", `no path of ${device.path} is present on this host`, { source: "iscsi", details: { device: device.path } }));
  }
  const rescan = (): ResultAsync<void, VolkitError> =>
    ResultAsync.combine(inv.disks.map((d) => scsiHctl(tools.fs, d).andThen((hctl) => rescanScsiDisk(tools.fs, hctl)))).map(() => undefined);
  const agreed = (): ResultAsync<number | undefined, VolkitError> =>
    ResultAsync.combine(inv.disks.map((d) => blockDeviceSize(tools.fs, d))).map((sizes) => (sizes.every((s) => s === sizes[0]) ? sizes[0] : undefined));
  const differ = (): VolkitError => new VolkitError("INVALID_STATE", `the paths of ${device.path} report different sizes after rescans`, { source: "iscsi", details: { disks: inv.disks } });
  return ctx
    .phase("rescan", () => rescan().andThen(() => poll(tools, ctx, tools.config.timeouts.deviceMs, (n) => (n > 1 ? rescan() : okAsync(undefined)).andThen(agreed), differ)))
    .andThen((size) => {
      const map = inv.maps[0];
      if (!map) return okAsync(size);
      return ctx.phase("resize-map", () =>
        tools.multipath.resizeMap(map.name, ctx).andThen(() =>
          poll(tools, ctx, tools.config.timeouts.mapMs, () => blockDeviceSize(tools.fs, map.dm).map((s) => (s === size ? s : undefined)), () =>
            new VolkitError("INVALID_STATE", `multipath map ${map.name} did not grow to ${size} bytes`, { source: "iscsi", details: { map: map.name, expectedBytes: size } }),
          ),
        ),
      );
    });
}
