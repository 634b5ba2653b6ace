import { type Result, err, ok } from "neverthrow";
import { VolkitError } from "../../core/errors.js";
import type { ParsedLvmConfig } from "./lvm-config.js";
import { originTag } from "./lvm-names.js";
import type { LvInfo, VgInfo } from "./lvm-parsers.js";
import { checkFits, poolStatsOf, type LvmMode } from "./lvm-pool.js";

/**
 * The checks an LVM operation makes before it changes anything, as pure functions over one report
 * (`vgs` with LV fields), so an operation reads the VG once, and the errors they return.
 */

/** `VOLUME_EXISTS` when `name` is among `lvs`. */
export function mustNotExistIn(config: ParsedLvmConfig, lvs: readonly LvInfo[], name: string): Result<void, VolkitError> {
  const lv = lvs.find((l) => l.name === name);
  return lv
    ? err(new VolkitError("VOLUME_EXISTS", `${config.volumeGroup}/${name} already exists (${lv.sizeBytes} bytes)`, { source: "lvm", details: { lv: name, sizeBytes: lv.sizeBytes } }))
    : ok(undefined);
}

/**
 * lvcreate's own "already exists" failure (a create racing another, or a thick create that read
 * nothing first) as `VOLUME_EXISTS` naming the LV; other errors unchanged.
 */
export function existsError(config: ParsedLvmConfig, error: VolkitError, name: string): VolkitError {
  if (error.code !== "VOLUME_EXISTS" || error.source !== "lvm" || error.details.lv !== undefined) return error;
  return new VolkitError("VOLUME_EXISTS", `${config.volumeGroup}/${name} already exists`, { source: "lvm", cause: error, details: { ...error.details, lv: name } });
}

/** Refuses `sizeGiB` more that the VG (thick) or the over-subscribed pool (thin) in the report cannot hold. */
export function fitsIn(config: ParsedLvmConfig, mode: LvmMode, report: { readonly vg: VgInfo; readonly lvs: readonly LvInfo[] }, sizeGiB: number): Result<void, VolkitError> {
  if (sizeGiB <= 0) return ok(undefined);
  return checkFits(config, mode, poolStatsOf(config, mode, report.vg, report.lvs, ""), sizeGiB);
}

/** Snapshots of a volume: our `_snapshot-*` LVs tagged with it or whose origin it is. */
export function snapshotsOf(lvs: readonly LvInfo[], volumeId: string, lvName: string): LvInfo[] {
  return lvs.filter((l) => l.name.startsWith("_snapshot-") && (l.tags.includes(originTag(volumeId)) || l.origin === lvName));
}

/** `VOLUME_NOT_FOUND` for a volume id. */
export function notFound(volumeId: string): VolkitError {
  return new VolkitError("VOLUME_NOT_FOUND", `volume ${volumeId} not found`, { source: "lvm", details: { volumeId } });
}

/** `VOLUME_BUSY`: the volume's device is open. */
export function openError(volumeId: string, what: string): VolkitError {
  return new VolkitError("VOLUME_BUSY", `cannot ${what} volume ${volumeId}: its device is open (exported or attached); remove the export and detach first`, {
    source: "lvm",
    details: { volumeId },
  });
}
