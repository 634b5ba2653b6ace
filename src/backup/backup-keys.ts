import { z } from "zod";
import { IdSchema } from "../core/validation.js";

/**
 * Where a backup's objects live in a repository. One prefix per backup, so a backup is listed,
 * garbage-collected and deleted by prefix, and every layout works on a flat object store (S3 has
 * no directories and no rename):
 *
 * ```
 * backups/<id>/manifest.json          written LAST: its presence is what makes the backup exist
 * backups/<id>/chunks/<index>.full    a whole chunk (compressed, maybe encrypted)
 * backups/<id>/chunks/<index>.delta   only the 32 KiB blocks that changed since the parent
 * backups/<id>/hashes/<segment>.bin   32 KiB block digests of a run of chunks (binary)
 * backups/<id>/children/<child-id>    marker written by an incremental before it publishes
 * volumes/<volume-id>/<ms>-<id>        index entry of a backup of a volume (written before the
 *                                      manifest; `<ms>` its start time, 15 digits): finds a
 *                                      volume's backups, newest last, without reading manifests
 * ```
 */

/** The prefix under which every backup lives. */
export const BACKUPS_PREFIX = "backups/";

/**
 * An object key: `/`-separated segments of letters, digits, `.`, `_`, `-`, each starting with a
 * letter or digit (no `..`, no hidden names, no leading `/`), at most 512 characters. The same
 * keys are valid file paths under a directory and S3 object keys.
 */
export const ObjectKeySchema = z
  .string()
  .max(512)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/, "must be '/'-separated segments of letters, digits, '._-', each starting with a letter or digit");

/** A listing prefix: empty, or an object key followed by `/`. */
export const ObjectPrefixSchema = z.union([z.literal(""), z.string().max(512).regex(/^([A-Za-z0-9][A-Za-z0-9._-]*\/)+$/, "must be '' or key segments ending with '/'")]);

/** A backup id (the same rule as volume ids: 1-64 letters, digits, `_`, `-`). */
export const BackupIdSchema = IdSchema;

/** The prefix holding everything of one backup. */
export function backupPrefix(backupId: string): string {
  return `${BACKUPS_PREFIX}${backupId}/`;
}

/** The manifest of a backup. */
export function manifestKey(backupId: string): string {
  return `${backupPrefix(backupId)}manifest.json`;
}

/** The object holding chunk `index` of a backup, whole or as a delta. */
export function chunkKey(backupId: string, index: number, kind: "full" | "delta"): string {
  return `${backupPrefix(backupId)}chunks/${String(index).padStart(8, "0")}.${kind}`;
}

/** The object holding block digests of segment `segment`. */
export function hashSegmentKey(backupId: string, segment: number): string {
  return `${backupPrefix(backupId)}hashes/${String(segment).padStart(6, "0")}.bin`;
}

/** The prefix of the markers incrementals leave in their parent. */
export function childrenPrefix(backupId: string): string {
  return `${backupPrefix(backupId)}children/`;
}

/** The marker an incremental `childId` leaves in its parent `parentId`. */
export function childMarkerKey(parentId: string, childId: string): string {
  return `${childrenPrefix(parentId)}${childId}`;
}

/** The prefix of the volume index. */
export const VOLUMES_PREFIX = "volumes/";

/** The prefix of the index entries of one volume's backups (in start order). */
export function volumeIndexPrefix(volumeId: string): string {
  return `${VOLUMES_PREFIX}${volumeId}/`;
}

/** The index entry of backup `backupId` of volume `volumeId`, started at `startedAtMs`. */
export function volumeIndexKey(volumeId: string, startedAtMs: number, backupId: string): string {
  return `${volumeIndexPrefix(volumeId)}${String(startedAtMs).padStart(15, "0")}-${backupId}`;
}

/** The backup id and start time an index entry names (`undefined` for a foreign key). */
export function parseVolumeIndexKey(key: string): { readonly volumeId: string; readonly startedAtMs: number; readonly backupId: string } | undefined {
  const m = /^volumes\/([^/]+)\/(\d{15})-([^/]+)$/.exec(key);
  if (!m || !BackupIdSchema.safeParse(m[3]).success) return undefined;
  return { volumeId: m[1] as string, startedAtMs: Number(m[2]), backupId: m[3] as string };
}

/** The backup id a key belongs to, if it is under {@link BACKUPS_PREFIX}. */
export function backupIdOfKey(key: string): string | undefined {
  if (!key.startsWith(BACKUPS_PREFIX)) return undefined;
  const id = key.slice(BACKUPS_PREFIX.length).split("/")[0];
  return id === undefined || id === "" ? undefined : id;
}
