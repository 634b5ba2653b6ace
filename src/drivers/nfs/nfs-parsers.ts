import { err, ok, type Result } from "neverthrow";
import { VolkitError } from "../../core/errors.js";
import { parseJson } from "../../core/parse-json.js";
import { IdSchema } from "../../core/validation.js";
import { parseImageInfo } from "../../data/qemu-img.js";
import { isChainFile, volumeFileName, volumeIdOfFile } from "./nfs-names.js";

/**
 * Pure parsers of what the NFS driver reads from a share, tested against captured output
 * (test/fixtures/nfs). Nothing read from a share is trusted: `.info` files and qemu-img backing
 * pointers must name files of the same volume in the same directory.
 */

/** Image formats a volume file may have. */
export type VolumeFormat = "raw" | "qcow2";

/** A volume's `.info` file: which file is active, and each snapshot's overlay. */
export interface InfoFile {
  /** File the volume's current data is read from and written to. */
  readonly active: string;
  /** Snapshot id → the overlay created when it was taken (its data is that file's backing). */
  readonly snapshots: Readonly<Record<string, string>>;
  /**
   * Linked clone (volkit's key `backing`): the volume's base image is a qcow2 overlay on this
   * other volume's base image (`volume-<id>`, same directory), which it reads unchanged data from.
   */
  readonly backing?: string;
  /**
   * Linked-clone base (volkit's key `frozen`, value `"true"`): linked clones may read this volume's
   * base image, so it is never written again and cannot be deleted while one exists.
   */
  readonly frozen?: boolean;
}

/**
 * Parses a Cinder-format `.info` file: `{"active": "<file>", "<snapshot id>": "<file>", …}`.
 * Every file must be an image of `volumeId` (see `isChainFile`), so a tampered file cannot
 * point the driver elsewhere.
 *
 * @example
 * ```ts
 * parseInfoFile('{"active": "volume-a.s1", "s1": "volume-a.s1"}', "a"); // ok({ active: "volume-a.s1", snapshots: { s1: "volume-a.s1" } })
 * ```
 */
export function parseInfoFile(text: string, volumeId: string): Result<InfoFile, VolkitError> {
  const bad = (why: string): Result<never, VolkitError> =>
    err(new VolkitError("INVALID_STATE", `snapshot info of volume ${volumeId} is invalid: ${why}`, { source: "nfs", details: { volumeId } }));
  const json = parseJson(text, { what: `snapshot info of volume ${volumeId}`, source: "nfs", code: "INVALID_STATE", secretFields: false });
  if (json.isErr()) return err(json.error);
  const raw = json.value;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return bad("not a JSON object");
  const snapshots: Record<string, string> = {};
  let active: string | undefined;
  let backing: string | undefined;
  let frozen = false;
  for (const [key, value] of Object.entries(raw)) {
    if (key === "backing") {
      // Another volume's base image, never one of this volume's files or anything else.
      if (typeof value !== "string" || volumeIdOfFile(value) === undefined || value === volumeFileName(volumeId)) return bad("entry 'backing' does not name another volume's base image");
      backing = value;
      continue;
    }
    if (key === "frozen") {
      if (value !== "true") return bad("entry 'frozen' is not \"true\"");
      frozen = true;
      continue;
    }
    // Keys are shown only when they are ids: the file is read from a share, not trusted.
    const shown = key === "active" || IdSchema.safeParse(key).success ? `'${key}'` : "a key that is not a snapshot id";
    if (typeof value !== "string" || !isChainFile(volumeId, value)) return bad(`entry ${shown} does not name a file of this volume`);
    if (key === "active") active = value;
    else if (IdSchema.safeParse(key).success) snapshots[key] = value;
    else return bad(`${shown} is not allowed`);
  }
  if (active === undefined) return bad("no 'active' entry");
  return ok({ active, snapshots, ...(backing === undefined ? {} : { backing }), ...(frozen ? { frozen } : {}) });
}

/** Serializes an `.info` file the way Cinder writes it (sorted keys, one-space indent). */
export function formatInfoFile(info: InfoFile): string {
  const entries: [string, string][] = [["active", info.active], ...Object.entries(info.snapshots)];
  if (info.backing !== undefined) entries.push(["backing", info.backing]);
  if (info.frozen === true) entries.push(["frozen", "true"]);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${JSON.stringify(Object.fromEntries(entries), null, 1)}\n`;
}

/**
 * Parses `du -sb --apparent-size --exclude=*snapshot* <dir>` (Cinder's allocated bytes).
 *
 * @example
 * ```ts
 * parseDu("1073741824\t/var/lib/volkit/mnt/abc\n"); // ok(1073741824)
 * ```
 */
export function parseDu(stdout: string): Result<number, VolkitError> {
  const m = /^(\d+)\s/.exec(stdout.trim() + " ");
  return m ? ok(Number(m[1])) : err(new VolkitError("PARSE_ERROR", `unexpected du output: ${stdout.trim().slice(0, 200)}`, { source: "nfs" }));
}

/**
 * Volume ids of the `.info` files a search printed (one path per line, `…/volume-<id>.info`, from
 * `find … -name 'volume-*.info' -exec grep -l …`); other lines are ignored.
 *
 * @example
 * ```ts
 * parseInfoFilePaths("/mnt/s/volume-aaaa.info\n/mnt/s/volume-cccc.info\n"); // ["aaaa", "cccc"]
 * ```
 */
export function parseInfoFilePaths(stdout: string): string[] {
  return parseNameList(stdout)
    .map((path) => /\/volume-([A-Za-z0-9][A-Za-z0-9_-]{0,63})\.info$/.exec(path)?.[1])
    .filter((id): id is string => id !== undefined);
}

/** Parses one file name per line (`find … -printf '%f\n'`). */
export function parseNameList(stdout: string): string[] {
  return stdout.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
}

/** What the driver needs to know about one image file, after validation. */
export interface VolumeImage {
  /** Format (only raw and qcow2 are accepted). */
  readonly format: VolumeFormat;
  /** Virtual size in bytes. */
  readonly virtualSize: number;
  /** Backing file as stored in the header (a plain file name in the same directory). */
  readonly backing?: string;
  /** Backing file format. */
  readonly backingFormat?: VolumeFormat;
}

/** What {@link parseVolumeImage} requires of the image. */
export interface ImageExpectations {
  /** The file's name (for messages). */
  readonly name: string;
  /** Volume whose chain it belongs to: the backing pointer must name one of its files. */
  readonly volumeId: string;
  /** Whether a backing file is required (`true`), forbidden (`false`) or either (undefined). */
  readonly backing?: boolean;
  /**
   * The base image of a linked clone: its backing file must be exactly this other volume's base
   * image (what the clone's `.info` names), instead of a file of its own chain.
   */
  readonly linkedTo?: string;
}

/**
 * Parses `qemu-img info --output=json` of a volume image and refuses anything the driver did not
 * create: formats other than raw/qcow2, an external qcow2 data file, or a backing pointer that is
 * not a plain file name of the same volume (a guest cannot redirect reads to other files).
 *
 * @example
 * ```ts
 * parseVolumeImage(stdout, { name: "volume-a.s1", volumeId: "a", backing: true });
 * // ok({ format: "qcow2", virtualSize: 1073741824, backing: "volume-a", backingFormat: "raw" })
 * ```
 */
export function parseVolumeImage(stdout: string, expect: ImageExpectations): Result<VolumeImage, VolkitError> {
  return parseImageInfo(stdout).andThen((info): Result<VolumeImage, VolkitError> => {
    const unsafe = (why: string): Result<never, VolkitError> =>
      err(new VolkitError("INVALID_STATE", `image ${expect.name} is not usable: ${why}`, { source: "nfs", details: { file: expect.name, volumeId: expect.volumeId } }));
    const format = info.format;
    if (format !== "raw" && format !== "qcow2") return unsafe(`format ${format} (expected raw or qcow2)`);
    const dataFile = qcow2DataFile(stdout);
    if (dataFile !== undefined) return unsafe(`it has an external data file (${dataFile})`);
    const backing = info.backingFilename;
    if (backing === undefined) {
      return expect.backing === true ? unsafe("a snapshot overlay without a backing file") : ok({ format, virtualSize: info.virtualSize });
    }
    if (expect.backing === false) return unsafe(`unexpected backing file ${backing}`);
    if (expect.linkedTo !== undefined) {
      if (backing !== expect.linkedTo) return unsafe(`backing file ${backing} is not ${expect.linkedTo}, the base its .info names`);
    } else if (!isChainFile(expect.volumeId, backing) || backing === expect.name) return unsafe(`backing file ${backing} is not an image of volume ${expect.volumeId}`);
    const fmt = info.backingFormat;
    if (fmt !== "raw" && fmt !== "qcow2") return unsafe(`backing format ${fmt ?? "(none)"} (expected raw or qcow2)`);
    return ok({ format, virtualSize: info.virtualSize, backing, backingFormat: fmt });
  });
}

/** The `data-file` of a qcow2 image's format-specific info, if any. */
export function qcow2DataFile(stdout: string): string | undefined {
  const raw = parseJson(stdout, { what: "qemu-img info", source: "nfs" }).unwrapOr(undefined) as { "format-specific"?: { data?: { "data-file"?: unknown } } } | null | undefined;
  const dataFile = raw?.["format-specific"]?.data?.["data-file"];
  return typeof dataFile === "string" ? dataFile : undefined;
}

/** Files of an image's extents (vmdk), if qemu-img lists them. */
export function imageExtentFiles(stdout: string): string[] {
  const raw = parseJson(stdout, { what: "qemu-img info", source: "nfs" }).unwrapOr(undefined) as { "format-specific"?: { data?: { extents?: unknown } } } | null | undefined;
  const extents = raw?.["format-specific"]?.data?.extents;
  if (!Array.isArray(extents)) return [];
  return extents.map((e: { filename?: unknown } | null) => (typeof e?.filename === "string" ? e.filename : "")).filter(Boolean);
}

/** True when qemu-img failed because another process (a running VM) holds the image's lock. */
export function isImageLocked(stderr: string): boolean {
  return /Failed to get "?(shared )?"?\w+"? lock|Is another process using the image/i.test(stderr);
}
