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

/** Parses `vgs --reportformat json --units b --nosuffix -o vg_name,vg_size,vg_free,lv_count,vg_uuid,vg_extent_size`. */
export function parseVgs(stdout: string): Result<VgInfo[], VolkitError> {
  return parseReport(stdout, "vg").andThen((rows) =>
    Result.combine(
      rows.map((row) =>
        Result.combine([num(row, "vg_size"), num(row, "vg_free"), num(row, "lv_count"), num(row, "vg_extent_size")]).map(
          ([sizeBytes, freeBytes, lvCount, extentBytes]): VgInfo => ({ name: str(row, "vg_name"), sizeBytes, freeBytes, lvCount, uuid: str(row, "vg_uuid"), extentBytes }),
        ),
      ),
    ),
  );
}

/** Parses `lvs --reportformat json --units b --nosuffix -o vg_name,lv_name,lv_size,lv_attr,origin,pool_lv,data_percent,lv_tags,lv_uuid`. */
export function parseLvs(stdout: string): Result<LvInfo[], VolkitError> {
  return parseReport(stdout, "lv").andThen((rows) =>
    Result.combine(
      rows.map((row) =>
        num(row, "lv_size").map((sizeBytes): LvInfo => {
          const pct = str(row, "data_percent");
          const tags = str(row, "lv_tags");
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
          };
        }),
      ),
    ),
  );
}

/** The fields the driver asks `vgs` for. */
export const VGS_FIELDS = "vg_name,vg_size,vg_free,lv_count,vg_uuid,vg_extent_size";
/** The fields the driver asks `lvs` for. */
export const LVS_FIELDS = "vg_name,lv_name,lv_size,lv_attr,origin,pool_lv,data_percent,lv_tags,lv_uuid";

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

/** A byte range of a thin device that the pool has mapped. */
export interface MappedRange {
  /** First byte. */
  readonly offset: number;
  /** Length in bytes. */
  readonly length: number;
}

/** Bytes in a device-mapper sector (thin_dump's `data_block_size` is in sectors). */
const SECTOR_BYTES = 512;

const attr = (tag: string, name: string): number | undefined => {
  const m = new RegExp(`\\s${name}="(\\d+)"`).exec(tag);
  return m?.[1] === undefined ? undefined : Number(m[1]);
};

/**
 * Parses `thin_dump --metadata-snap --dev-id <id> <tmeta>` (thin-provisioning-tools' XML): the
 * byte ranges of thin device `devId` that are mapped in the pool, sorted and merged. Each
 * `range_mapping` (`origin_begin`, `length`) and `single_mapping` (`origin_block`) counts pool
 * blocks of `data_block_size` sectors. A device with no mappings yields no ranges; a dump without
 * the device or the block size is a `PARSE_ERROR`.
 */
export function parseThinDump(xml: string, devId: number): Result<MappedRange[], VolkitError> {
  const superblock = /<superblock\b[^>]*>/.exec(xml)?.[0];
  const blockSectors = superblock === undefined ? undefined : attr(superblock, "data_block_size");
  if (blockSectors === undefined || blockSectors <= 0) return err(new VolkitError("PARSE_ERROR", "thin_dump output has no superblock with a data_block_size", { source: "lvm" }));
  const block = blockSectors * SECTOR_BYTES;
  const device = new RegExp(`<device\\b[^>]*\\sdev_id="${devId}"[^>]*?(?:/>|>([\\s\\S]*?)</device>)`).exec(xml);
  if (device === null) return err(new VolkitError("PARSE_ERROR", `thin_dump output has no device ${devId}`, { source: "lvm", details: { devId } }));
  const blocks: { begin: number; length: number }[] = [];
  for (const m of (device[1] ?? "").matchAll(/<(range_mapping|single_mapping)\b[^>]*>/g)) {
    const tag = m[0];
    const begin = m[1] === "range_mapping" ? attr(tag, "origin_begin") : attr(tag, "origin_block");
    const length = m[1] === "range_mapping" ? attr(tag, "length") : 1;
    if (begin === undefined || length === undefined) return err(new VolkitError("PARSE_ERROR", `thin_dump mapping without its block numbers: ${tag.slice(0, 120)}`, { source: "lvm" }));
    blocks.push({ begin, length });
  }
  blocks.sort((a, b) => a.begin - b.begin);
  const ranges: { offset: number; length: number }[] = [];
  for (const b of blocks) {
    const last = ranges.at(-1);
    const offset = b.begin * block;
    if (last !== undefined && last.offset + last.length >= offset) last.length = Math.max(last.length, offset + b.length * block - last.offset);
    else ranges.push({ offset, length: b.length * block });
  }
  return ok(ranges);
}
