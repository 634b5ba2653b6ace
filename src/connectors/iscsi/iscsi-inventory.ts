import { ResultAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import { blockDeviceExists, dmDevice, dmSlaves, kernelNameOf, listDmDevices, multipathHolder, sameWwid, scsiWwid, type DmDevice } from "../../host/block-sysfs.js";
import type { AttachedDevice } from "../../core/records.js";
import type { PlannedPath } from "./iscsi-plan.js";
import { findSessionLun, listIscsiSessions, sessionMatches } from "./iscsi-sysfs.js";
import type { IscsiTools } from "./iscsi-tools.js";

/**
 * What of an attached volume is on the host now: the starting point of the disconnect and extend
 * flows (which then undo or grow what it found).
 */

/** What of a volume is present on the host now. */
export interface VolumeInventory {
  /** SCSI disks of the volume (`sdb`), verified by session/LUN or WWID. */
  readonly disks: string[];
  /** Multipath maps over them. */
  readonly maps: DmDevice[];
  /** The WWID used to verify, when known. */
  readonly wwid: string | undefined;
  /** Kernel name of the device that was handed out (`dm-3`, `sdb`), if it still exists. */
  readonly handedOut: string | undefined;
}

const SCSI_DISK = /^\/dev\/(sd[a-z]+)$/;

/**
 * Finds every object of an attached volume from sysfs, not from the (possibly stale) names in
 * `device`: the disk of each path's LUN under its session, the maps holding them, the map named
 * in `device.multipathId` and its other paths. Names from `device.paths` are accepted only when
 * their WWID matches, so a reused `sdX` name or LUN id of another volume is never touched
 * (OSSA-2023-003): a disk whose WWID differs from the volume's is skipped with a warning.
 */
export function volumeInventory(tools: IscsiTools, paths: readonly PlannedPath[], device: AttachedDevice, ctx: OperationContext): ResultAsync<VolumeInventory, VolkitError> {
  const fs = tools.fs;
  const viaSessions = listIscsiSessions(fs).andThen((sessions) =>
    ResultAsync.combine(
      paths.map((t) => {
        const s = sessions.find((x) => sessionMatches(x, t.iqn, t.addresses, t.port));
        return s ? findSessionLun(fs, s, t.lun).map((l) => l?.disk) : okAsync(undefined);
      }),
    ).map((ds) => ds.filter((d): d is string => d !== undefined)),
  );
  const handedOut = kernelNameOf(fs, device.path);
  const named = device.multipathId === undefined ? okAsync(undefined) : listDmDevices(fs).map((all) => all.find((d) => d.name === device.multipathId && d.uuid.startsWith("mpath-")));
  return ResultAsync.combine([viaSessions, handedOut, named] as const).andThen(([sessionDisks, handed, namedMap]) => {
    const handedMap = handed?.startsWith("dm-") ? dmDevice(fs, handed) : okAsync(undefined);
    const listed = device.paths.map((p) => SCSI_DISK.exec(p)?.[1]).filter((d): d is string => d !== undefined);
    const handedDisk = handed !== undefined && /^sd[a-z]+$/.test(handed) ? [handed] : [];
    return ResultAsync.combine([handedMap, ResultAsync.combine(sessionDisks.map((d) => multipathHolder(fs, d)))] as const).andThen(([hm, holders]) => {
      const maps = dedupeMaps([namedMap, hm, ...holders].filter((m): m is DmDevice => m?.uuid.startsWith("mpath-") === true));
      const wwid = device.scsiWwn ?? maps[0]?.uuid.slice("mpath-".length);
      const okMaps = wwid === undefined ? maps : maps.filter((m) => keep(ctx, `map ${m.name}`, m.uuid.slice("mpath-".length), wwid));
      return ResultAsync.combine(okMaps.map((m) => dmSlaves(fs, m.dm))).andThen((slaves) => {
        const trusted = new Set([...sessionDisks, ...slaves.flat()]);
        const maybe = [...new Set([...listed, ...handedDisk])].filter((d) => !trusted.has(d));
        const all = [...trusted, ...maybe];
        return ResultAsync.combine(all.map((d) => ResultAsync.combine([blockDeviceExists(fs, d), scsiWwid(fs, d)] as const))).map((facts) => {
          const disks = all.filter((d, i) => {
            const [present, w] = facts[i] ?? [false, undefined];
            if (!present) return false;
            if (wwid !== undefined && w !== undefined) return keep(ctx, `/dev/${d}`, w, wwid);
            return trusted.has(d); // an unverifiable name from `device` alone is not trusted
          });
          return { disks, maps: okMaps, wwid, handedOut: handed };
        });
      });
    });
  });
}

function keep(ctx: OperationContext, what: string, actual: string, expected: string): boolean {
  if (sameWwid(actual, expected)) return true;
  ctx.logger.warn({ what, actual, expected }, "skipping an object that belongs to another volume (WWID differs)");
  return false;
}

function dedupeMaps(maps: readonly DmDevice[]): DmDevice[] {
  return [...new Map(maps.map((m) => [m.dm, m])).values()];
}
