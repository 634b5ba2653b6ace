import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { VolkitError } from "../core/errors.js";
import { isNotFound, type HostFs } from "./host-fs.js";

/**
 * Small readers of the kernel's block, SCSI and device-mapper sysfs attributes, shared by the
 * connectors. Every function takes a {@link HostFs}, so tests run them against a fake tree.
 */

/** A device-mapper device as sysfs shows it. */
export interface DmDevice {
  /** Kernel name, `dm-3`. */
  readonly dm: string;
  /** Map name (`/dev/mapper/<name>`), e.g. the WWID for multipath without friendly names. */
  readonly name: string;
  /** DM uuid: `mpath-<wwid>` for multipath maps. */
  readonly uuid: string;
}

const SECTOR = 512;
const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** Keeps sysfs paths built from names we read or were given free of `/` and `..`. */
export function checkDeviceName(name: string): ResultAsync<string, VolkitError> {
  return DEVICE_NAME.test(name) && name !== ".." ? okAsync(name) : errAsync(new VolkitError("INVALID_ARGUMENT", `not a kernel device name: ${name}`, { source: "host" }));
}

/** `undefined` instead of a "does not exist" error. */
export function orMissing<T>(r: ResultAsync<T, VolkitError>): ResultAsync<T | undefined, VolkitError> {
  return r.orElse((e) => (isNotFound(e) ? okAsync(undefined) : errAsync(e)));
}

/** Size of a block device (`sdb`, `dm-3`, `sda1`) in bytes, from `/sys/class/block/<name>/size`. */
export function blockDeviceSize(fs: HostFs, name: string): ResultAsync<number, VolkitError> {
  return checkDeviceName(name)
    .andThen(() => fs.readFile(`/sys/class/block/${name}/size`))
    .andThen((text) => {
      const sectors = Number(text.trim());
      return Number.isSafeInteger(sectors) && sectors >= 0
        ? okAsync(sectors * SECTOR)
        : errAsync(new VolkitError("PARSE_ERROR", `unexpected size of ${name}: ${JSON.stringify(text)}`, { source: "host" }));
    });
}

/** Whether `/sys/block/<name>` exists (the disk is present). */
export function blockDeviceExists(fs: HostFs, name: string): ResultAsync<boolean, VolkitError> {
  return checkDeviceName(name).andThen(() => fs.exists(`/sys/block/${name}`));
}

/**
 * Converts a sysfs `device/wwid` (`naa.6001405…`, `t10.IET     00010001`, `eui.…`) to the form
 * udev and multipath use (`36001405…`, `1IET     00010001`, `2…`): the designator type as its
 * numeric code (t10 → 1, eui → 2, naa → 3) followed by the value; anything else is a SCSI name
 * string, `8` + the whole text.
 */
export function sysfsWwidToUdev(wwid: string): string {
  const trimmed = wwid.replace(/\0/g, "").trim();
  const prefix = trimmed.slice(0, 4);
  const code = prefix === "t10." ? "1" : prefix === "eui." ? "2" : prefix === "naa." ? "3" : undefined;
  // Without a known prefix the attribute is a SCSI name string (designator type 8), kept whole.
  return code === undefined ? `8${trimmed}` : code + trimmed.slice(4);
}

/** Compares WWIDs loosely: multipath may write `_` where sysfs has runs of spaces (T10 ids). */
export function sameWwid(a: string, b: string): boolean {
  const norm = (w: string): string => w.replace(/[\s_]+/g, "").toLowerCase();
  return norm(a) === norm(b);
}

/** The udev-style WWID of a SCSI disk (`sdb`), or undefined when the attribute is absent. */
export function scsiWwid(fs: HostFs, name: string): ResultAsync<string | undefined, VolkitError> {
  return checkDeviceName(name).andThen(() => orMissing(fs.readFile(`/sys/block/${name}/device/wwid`))).map((w) => (w === undefined || !w.trim() ? undefined : sysfsWwidToUdev(w)));
}

/** `H:C:T:L` of a SCSI disk: the name of the directory its `device` link resolves to. */
export function scsiHctl(fs: HostFs, name: string): ResultAsync<string, VolkitError> {
  return checkDeviceName(name)
    .andThen(() => fs.realpath(`/sys/block/${name}/device`))
    .andThen((dir) => {
      const hctl = dir.split("/").pop() ?? "";
      return /^\d+:\d+:\d+:\d+$/.test(hctl) ? okAsync(hctl) : errAsync(new VolkitError("PARSE_ERROR", `${name}/device resolves to ${dir}, not an H:C:T:L`, { source: "host" }));
    });
}

/** Names in `/sys/block/<name>/holders` (e.g. `["dm-3"]`); empty when the disk is gone. */
export function blockHolders(fs: HostFs, name: string): ResultAsync<string[], VolkitError> {
  return checkDeviceName(name).andThen(() => orMissing(fs.readdir(`/sys/block/${name}/holders`))).map((h) => h ?? []);
}

/** Names in `/sys/block/<dm>/slaves`; empty when the map is gone. */
export function dmSlaves(fs: HostFs, dm: string): ResultAsync<string[], VolkitError> {
  return checkDeviceName(dm).andThen(() => orMissing(fs.readdir(`/sys/block/${dm}/slaves`))).map((s) => s ?? []);
}

/** Name and uuid of a device-mapper device, or undefined when it is gone. */
export function dmDevice(fs: HostFs, dm: string): ResultAsync<DmDevice | undefined, VolkitError> {
  return checkDeviceName(dm).andThen(() =>
    orMissing(fs.readFile(`/sys/block/${dm}/dm/name`)).andThen((name) =>
      name === undefined
        ? okAsync(undefined)
        : orMissing(fs.readFile(`/sys/block/${dm}/dm/uuid`)).map((uuid) => (uuid === undefined ? undefined : { dm, name: name.trim(), uuid: uuid.trim() })),
    ),
  );
}

/** Whether a device-mapper device is suspended (`dm/suspended` = 1: a table load in progress). */
export function dmSuspended(fs: HostFs, dm: string): ResultAsync<boolean, VolkitError> {
  return checkDeviceName(dm).andThen(() => orMissing(fs.readFile(`/sys/block/${dm}/dm/suspended`))).map((v) => v?.trim() === "1");
}

/** The SCSI state of a disk (`running`, `blocked`, `offline`, `transport-offline`…), undefined when gone. */
export function scsiDeviceState(fs: HostFs, name: string): ResultAsync<string | undefined, VolkitError> {
  return checkDeviceName(name).andThen(() => orMissing(fs.readFile(`/sys/block/${name}/device/state`))).map((v) => v?.trim());
}

/** The multipath map (dm uuid `mpath-…`) holding a path device, if any. */
export function multipathHolder(fs: HostFs, name: string): ResultAsync<DmDevice | undefined, VolkitError> {
  return blockHolders(fs, name).andThen((holders) =>
    ResultAsync.combine(holders.filter((h) => h.startsWith("dm-")).map((h) => dmDevice(fs, h))).map((maps) => maps.find((m) => m?.uuid.startsWith("mpath-"))),
  );
}

/** Every device-mapper device on the host. */
export function listDmDevices(fs: HostFs): ResultAsync<DmDevice[], VolkitError> {
  return orMissing(fs.readdir("/sys/block"))
    .andThen((names) => ResultAsync.combine((names ?? []).filter((n) => n.startsWith("dm-")).map((dm) => dmDevice(fs, dm))))
    .map((all) => all.filter((d): d is DmDevice => d !== undefined));
}

/**
 * Processes holding a device open, as `pid (comm)`: a scan of every `/proc/<pid>/fd` link for one
 * of `paths` (e.g. `/dev/dm-3` and `/dev/mapper/<name>`). Costly on a busy host: for diagnostics
 * after a failure, not for polling. Unreadable processes are skipped.
 */
export function deviceOpeners(fs: HostFs, paths: readonly string[]): ResultAsync<string[], never> {
  const none = (): ResultAsync<undefined, never> => okAsync(undefined);
  return orMissing(fs.readdir("/proc"))
    .andThen((entries) =>
      ResultAsync.combine(
        (entries ?? [])
          .filter((e) => /^\d+$/.test(e))
          .map((pid) =>
            orMissing(fs.readdir(`/proc/${pid}/fd`))
              .andThen((fds) => ResultAsync.combine((fds ?? []).map((fd) => orMissing(fs.readlink(`/proc/${pid}/fd/${fd}`)).orElse(none))))
              .andThen((targets) =>
                targets.some((t) => t !== undefined && paths.includes(t))
                  ? orMissing(fs.readFile(`/proc/${pid}/comm`)).map((comm) => `${pid} (${comm?.trim() ?? "?"})`)
                  : okAsync(undefined),
              )
              .orElse(none),
          ),
      ),
    )
    .map((found) => found.filter((x): x is string => x !== undefined))
    .orElse(() => okAsync([]));
}

/**
 * The kernel name behind a device path: `/dev/sdb` → `sdb`, `/dev/mapper/3600…` or
 * `/dev/vg/lv` → `dm-3` (links resolved). Undefined when the path does not exist.
 */
export function kernelNameOf(fs: HostFs, devicePath: string): ResultAsync<string | undefined, VolkitError> {
  return orMissing(fs.realpath(devicePath)).map((p) => (p === undefined || !p.startsWith("/dev/") ? undefined : p.slice("/dev/".length).split("/").pop()));
}

/** Asks the kernel to remove a SCSI disk (`echo 1 > /sys/block/<name>/device/delete`). */
export function deleteScsiDisk(fs: HostFs, name: string): ResultAsync<void, VolkitError> {
  return checkDeviceName(name).andThen(() => fs.writeFile(`/sys/block/${name}/device/delete`, "1"));
}

/** Makes the kernel re-read a SCSI disk's capacity (`echo 1 > /sys/bus/scsi/drivers/sd/<hctl>/rescan`). */
export function rescanScsiDisk(fs: HostFs, hctl: string): ResultAsync<void, VolkitError> {
  return checkDeviceName(hctl).andThen(() => fs.writeFile(`/sys/bus/scsi/drivers/sd/${hctl}/rescan`, "1"));
}
