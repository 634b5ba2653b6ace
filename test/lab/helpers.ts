import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResultAsync } from "neverthrow";
import type { VolkitError } from "../../src/core/errors.js";

/** Lab facts exported by the guest init (see lab/README.md). */
export const lab = {
  vgThick: need("VOLKIT_LAB_VG_THICK"),
  vgThin: need("VOLKIT_LAB_VG_THIN"),
  initiator: need("VOLKIT_LAB_INITIATOR"),
  portals: need("VOLKIT_LAB_PORTALS").split(","),
  tgtPort: Number(process.env.VOLKIT_LAB_TGT_PORT ?? "3261"),
  lioPort: Number(process.env.VOLKIT_LAB_LIO_PORT ?? "3260"),
  tgtVolumesDir: process.env.VOLKIT_LAB_TGT_VOLUMES_DIR ?? "/var/lib/volkit/tgt-volumes",
  nfsShares: (process.env.VOLKIT_LAB_NFS_SHARES ?? "").split(",").filter(Boolean),
};

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: lab tests run inside the storage lab (npm run test:lab)`);
  return v;
}

/** Runs a command and returns stdout (throws with stderr on failure). Tests only. */
export function sh(argv: string[], input?: Buffer | string): string {
  return execFileSync(argv[0] as string, argv.slice(1), { encoding: "utf8", ...(input === undefined ? {} : { input }), stdio: ["pipe", "pipe", "pipe"], maxBuffer: 1 << 30 });
}

/** Writes `data` at byte `offset` of a device with O_DIRECT and fsync. */
export function writeAt(device: string, offset: number, data: Buffer): void {
  const dir = mkdtempSync(join(tmpdir(), "volkit-io-"));
  try {
    const file = join(dir, "data");
    writeFileSync(file, data);
    execFileSync("dd", [`if=${file}`, `of=${device}`, "bs=1M", `seek=${offset}`, "oflag=seek_bytes,direct", "conv=notrunc,fsync", "status=none"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads `length` bytes at `offset` of a device with O_DIRECT (never from a stale page cache). */
export function readAt(device: string, offset: number, length: number): Buffer {
  return execFileSync("dd", [`if=${device}`, "bs=1M", `skip=${offset}`, `count=${length}`, "iflag=skip_bytes,count_bytes,direct", "status=none"], { maxBuffer: length + (1 << 20) });
}

/** sha256 hex of a buffer. */
export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A random pattern of `bytes`, with its checksum. */
export function pattern(bytes: number): { data: Buffer; sha: string } {
  const data = randomBytes(bytes);
  return { data, sha: sha256(data) };
}

/** Size of a block device in bytes. */
export function deviceSize(device: string): number {
  return Number(sh(["blockdev", "--getsize64", device]).trim());
}

/** `lvs` for one VG, JSON parsed into name → row. */
export function lvsRows(vg: string): Map<string, Record<string, string>> {
  const json = JSON.parse(sh(["lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "lv_name,lv_size,lv_attr,data_percent,pool_lv,seg_pe_ranges", vg])) as { report: { lv: Record<string, string>[] }[] };
  return new Map((json.report[0]?.lv ?? []).map((row) => [row.lv_name as string, row]));
}

/** `vgs` of one VG. */
export function vgsRow(vg: string): Record<string, string> {
  const json = JSON.parse(sh(["vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "vg_name,vg_size,vg_free,lv_count,vg_extent_size", vg])) as { report: { vg: Record<string, string>[] }[] };
  const row = json.report[0]?.vg[0];
  if (!row) throw new Error(`no VG ${vg}`);
  return row;
}

/** Where byte `offset` of an LV lives: the PV device and the byte offset on it (walks every segment). */
export function lvPhysicalOffset(vg: string, lv: string, offset: number): { pv: string; offset: number } {
  const json = JSON.parse(sh(["lvs", "--segments", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "seg_start,seg_size,seg_pe_ranges", `${vg}/${lv}`])) as { report: { seg?: Record<string, string>[]; lv?: Record<string, string>[] }[] };
  const extent = Number(vgsRow(vg).vg_extent_size);
  // With --segments lvm2 reports one row per segment (under "seg" in its JSON).
  const segments = json.report[0]?.seg ?? json.report[0]?.lv ?? [];
  if (segments.length === 0) throw new Error(`lvs --segments printed no segments for ${vg}/${lv}`);
  for (const seg of segments) {
    const start = Number(seg.seg_start);
    if (offset < start || offset >= start + Number(seg.seg_size)) continue;
    const m = /^(\S+):(\d+)-\d+/.exec(seg.seg_pe_ranges ?? "");
    if (!m?.[1]) throw new Error(`no PE range in segment of ${vg}/${lv}: ${seg.seg_pe_ranges}`);
    const pvs = JSON.parse(sh(["pvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "pv_name,pe_start", m[1]])) as { report: { pv: Record<string, string>[] }[] };
    const peStart = Number(pvs.report[0]?.pv[0]?.pe_start);
    return { pv: m[1], offset: peStart + Number(m[2]) * extent + (offset - start) };
  }
  throw new Error(`offset ${offset} is outside ${vg}/${lv}`);
}

/** Unique short id for test volumes. */
export function uid(prefix = "t"): string {
  return `${prefix}${randomBytes(5).toString("hex")}`;
}

/** Awaits a volkit result and returns its value, or throws naming the error code and message. */
export async function must<T>(pending: ResultAsync<T, VolkitError>): Promise<T> {
  const r = await pending;
  if (r.isErr()) throw new Error(`volkit error ${r.error.code}: ${r.error.message}`);
  return r.value;
}
