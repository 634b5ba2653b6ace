import { Result, err, ok } from "neverthrow";
import { VolkitError } from "../../core/errors.js";
import { parseJson } from "../../core/parse-json.js";

/**
 * Pure parsers of lvm2's JSON reports (`--reportformat json --units b --nosuffix`), tested against
 * output captured from lvm2 2.03 (test/fixtures/lvm).
 */

/** A volume group as `vgs` reports it. */
export interface VgInfo {
  /** VG name. */
  readonly name: string;
  /** Size in bytes. */
  readonly sizeBytes: number;
  /** Free bytes. */
  readonly freeBytes: number;
  /** Number of LVs. */
  readonly lvCount: number;
  /** VG UUID. */
  readonly uuid: string;
  /** Extent size in bytes. */
  readonly extentBytes: number;
}

/** A logical volume as `lvs` reports it. */
export interface LvInfo {
  /** VG name. */
  readonly vg: string;
  /** LV name. */
  readonly name: string;
  /** Size in bytes. */
  readonly sizeBytes: number;
  /** The 10-character attribute string. */
  readonly attr: string;
  /** Origin LV for snapshots ("" otherwise). */
  readonly origin: string;
  /** Thin pool for thin LVs ("" otherwise). */
  readonly pool: string;
  /** Data usage percent (thin pools, thin LVs, snapshots); undefined when not reported. */
  readonly dataPercent: number | undefined;
  /** LV tags. */
  readonly tags: readonly string[];
  /** LV UUID. */
  readonly uuid: string;
  /** Device id inside the thin pool (thin volumes only). */
  readonly thinId: number | undefined;
}

/** Volume type (attr[0]): `o` origin, `O` origin merging, `s` snapshot, `t` thin pool, `V` thin volume, `-` plain… */
export function lvType(lv: LvInfo): string {
  return lv.attr[0] ?? "-";
}

/** True when the LV is a thick (old-style) snapshot. */
export function isThickSnapshot(lv: LvInfo): boolean {
  return lvType(lv) === "s" || lvType(lv) === "S";
}

/** True when the LV is a thin pool. */
export function isThinPool(lv: LvInfo): boolean {
  return lvType(lv) === "t";
}

/** True when the LV is a thin volume (including thin snapshots). */
export function isThinVolume(lv: LvInfo): boolean {
  return lvType(lv) === "V";
}

/** True when the LV's device is open (attr[5] `o`): attached, exported or mounted. */
export function isOpen(lv: LvInfo): boolean {
  return lv.attr[5] === "o";
}

/** True when the LV is active (attr[4] `a`). */
export function isActive(lv: LvInfo): boolean {
  return lv.attr[4] === "a";
}

/** True when an old-style snapshot of it exists (origin `o`/`O`). */
export function hasThickSnapshots(lv: LvInfo): boolean {
  return lvType(lv) === "o" || lvType(lv) === "O";
}

type Row = Record<string, unknown>;

function parseReport(stdout: string, section: "vg" | "lv"): Result<Row[], VolkitError> {
  const parsed = parseJson(stdout, { what: "lvm report", source: "lvm" });
  if (parsed.isErr()) return err(parsed.error);
  const json = parsed.value;
  if (json === null || typeof json !== "object") return err(new VolkitError("PARSE_ERROR", "lvm report is not a JSON object", { source: "lvm" }));
  const report = (json as { report?: unknown }).report;
  if (!Array.isArray(report)) return err(new VolkitError("PARSE_ERROR", "lvm report lacks a 'report' array", { source: "lvm" }));
  const rows: Row[] = [];
  for (const part of report) {
    const list = (part as Record<string, unknown>)[section];
    if (Array.isArray(list)) rows.push(...(list as Row[]));
  }
  return ok(rows);
}

function str(row: Row, key: string): string {
  const v = row[key];
  return typeof v === "string" ? v.trim() : "";
}

function num(row: Row, key: string): Result<number, VolkitError> {
  const raw = str(row, key).replace(/B$/, "");
  const n = Number(raw);
  return raw !== "" && Number.isFinite(n) ? ok(n) : err(new VolkitError("PARSE_ERROR", `lvm report field ${key} is not a number: '${raw}'`, { source: "lvm" }));
}

/** Parses `vgs --reportformat json --units b --nosuffix -o <VGS_FIELDS>`. */
export function parseVgs(stdout: string): Result<VgInfo[], VolkitError> {
  return parseReport(stdout, "vg").andThen((rows) => Result.combine(rows.map(vgOf)));
}

function vgOf(row: Row): Result<VgInfo, VolkitError> {
  return Result.combine([num(row, "vg_size"), num(row, "vg_free"), num(row, "lv_count"), num(row, "vg_extent_size")]).map(
    ([sizeBytes, freeBytes, lvCount, extentBytes]): VgInfo => ({ name: str(row, "vg_name"), sizeBytes, freeBytes, lvCount, uuid: str(row, "vg_uuid"), extentBytes }),
  );
}

function lvOf(row: Row): Result<LvInfo, VolkitError> {
  return num(row, "lv_size").map((sizeBytes): LvInfo => {
    const pct = str(row, "data_percent");
    const tags = str(row, "lv_tags");
    const thinId = str(row, "thin_id");
    return {
      vg: str(row, "vg_name"),
      name: str(row, "lv_name"),
      sizeBytes,
      attr: str(row, "lv_attr"),
      origin: str(row, "origin"),
      pool: str(row, "pool_lv"),
      dataPercent: pct === "" ? undefined : Number(pct),
      tags: tags === "" ? [] : tags.split(","),
      uuid: str(row, "lv_uuid"),
      thinId: thinId === "" ? undefined : Number(thinId),
    };
  });
}

/** Parses `lvs --reportformat json --units b --nosuffix -o <LVS_FIELDS>`. */
export function parseLvs(stdout: string): Result<LvInfo[], VolkitError> {
  return parseReport(stdout, "lv").andThen((rows) => Result.combine(rows.map(lvOf)));
}

/** A volume group and its LVs from one report. */
export interface VgReport {
  /** The VG; undefined when the report has no rows (a VG without LVs reports none). */
  readonly vg: VgInfo | undefined;
  /** Its LVs. */
  readonly lvs: LvInfo[];
}

/**
 * Parses `vgs --reportformat json --units b --nosuffix -o <VG_LV_FIELDS> <vg>`: with LV fields, vgs
 * prints one row per LV carrying the VG's fields too, so one command reports both; a VG without
 * LVs prints no row at all (`vg` is then undefined).
 */
export function parseVgsWithLvs(stdout: string): Result<VgReport, VolkitError> {
  return parseReport(stdout, "vg").andThen((rows) => {
    const first = rows[0];
    if (!first) return ok({ vg: undefined, lvs: [] });
    return vgOf(first).andThen((vg) => Result.combine(rows.filter((r) => str(r, "lv_name") !== "").map(lvOf)).map((lvs): VgReport => ({ vg, lvs })));
  });
}

/** The fields the driver asks `vgs` for. */
export const VGS_FIELDS = "vg_name,vg_size,vg_free,lv_count,vg_uuid,vg_extent_size";
/** The fields the driver asks `lvs` for. */
export const LVS_FIELDS = "vg_name,lv_name,lv_size,lv_attr,origin,pool_lv,data_percent,lv_tags,lv_uuid,thin_id";
/** The fields of the one-command VG and LV report (`vgs` with LV fields). */
export const VG_LV_FIELDS = `${VGS_FIELDS},${LVS_FIELDS.replace("vg_name,", "")}`;

/** Maps lvm2's stderr to a volkit error code for the common failures. */
export function classifyLvmError(stderr: string): "VOLUME_NOT_FOUND" | "INSUFFICIENT_CAPACITY" | "VOLUME_EXISTS" | "VOLUME_BUSY" | "BACKEND_UNAVAILABLE" | undefined {
  if (/Volume group "[^"]*" not found|Cannot process volume group/i.test(stderr)) return "BACKEND_UNAVAILABLE";
  if (/Failed to find logical volume|not found|does not exist/i.test(stderr)) return "VOLUME_NOT_FOUND";
  if (/[Ii]nsufficient (free )?(space|extents)|Insufficient suitable allocatable extents|would exceed|is full|Cannot create new thin volume/i.test(stderr)) return "INSUFFICIENT_CAPACITY";
  if (/already exists/i.test(stderr)) return "VOLUME_EXISTS";
  if (/in use|is busy|used by another device|contains a filesystem in use|Can't remove open logical volume/i.test(stderr)) return "VOLUME_BUSY";
  return undefined;
}

/** The fields of a thin LV the allocation map needs from `lvs`. */
export const THIN_LV_FIELDS = "lv_name,lv_size,thin_id,pool_lv";

/** A thin LV's id in its pool's metadata, and its size. */
export interface ThinLvInfo {
  /** LV name. */
  readonly name: string;
  /** Size in bytes. */
  readonly sizeBytes: number;
  /** The thin device id (`thin_id`); `undefined` when the LV is not a thin volume or snapshot. */
  readonly thinId: number | undefined;
  /** Its thin pool ("" when not thin). */
  readonly pool: string;
}

/** Parses `lvs --reportformat json --units b --nosuffix -o lv_name,lv_size,thin_id,pool_lv <vg>/<lv>` (one LV). */
export function parseThinLv(stdout: string): Result<ThinLvInfo, VolkitError> {
  return parseReport(stdout, "lv").andThen((rows) => {
    const row = rows[0];
    if (row === undefined) return err(new VolkitError("PARSE_ERROR", "lvs reported no LV", { source: "lvm" }));
    const id = str(row, "thin_id");
    return num(row, "lv_size").andThen((sizeBytes) => {
      const thinId = id === "" ? undefined : Number(id);
      if (thinId !== undefined && !Number.isSafeInteger(thinId)) return err(new VolkitError("PARSE_ERROR", `lvm report field thin_id is not an integer: '${id}'`, { source: "lvm" }));
      return ok({ name: str(row, "lv_name"), sizeBytes, thinId, pool: str(row, "pool_lv") });
    });
  });
}
