import { err, ok, type Result } from "neverthrow";
import { VolkitError } from "../../core/errors.js";

/**
 * File naming on a share, Cinder's: the volume's base image is `volume-<id>`, a snapshot's
 * overlay `volume-<id>.<snapshotId>`, the snapshot chain description `volume-<id>.info`.
 * Temporaries carry two dots (`volume-<id>.<purpose>.tmp`): ids never contain a dot, so a
 * temporary can never be mistaken for a snapshot file.
 */

/** Base image of a volume. */
export const volumeFileName = (volumeId: string): string => `volume-${volumeId}`;
/** Overlay created when snapshot `snapshotId` was taken (it holds the writes made after it). */
export const snapshotFileName = (volumeId: string, snapshotId: string): string => `volume-${volumeId}.${snapshotId}`;
/** The `.info` JSON file of a volume's snapshot chain. */
export const infoFileName = (volumeId: string): string => `volume-${volumeId}.info`;
/** A temporary next to `name`, renamed into place when complete. */
export const tempFileName = (name: string, purpose: string): string => `${name}.${purpose}.tmp`;

/**
 * Snapshot ids that would collide with `.info` keys or file names: Cinder's `info` and `active`,
 * and volkit's linked-clone keys `backing` and `frozen` (see nfs-linked.ts).
 */
export const RESERVED_SNAPSHOT_IDS: readonly string[] = ["info", "active", "backing", "frozen"];

/** Rejects snapshot ids whose file or `.info` key would collide with ours. */
export function checkSnapshotId(id: string): Result<string, VolkitError> {
  return RESERVED_SNAPSHOT_IDS.includes(id)
    ? err(new VolkitError("INVALID_ARGUMENT", `snapshot id '${id}' is reserved by the NFS driver's .info format`, { source: "nfs" }))
    : ok(id);
}

const ID = "[A-Za-z0-9][A-Za-z0-9_-]{0,63}";
const BASE_RE = new RegExp(`^volume-(${ID})$`);

/** The volume id of a base image file name (`volume-<id>`), or undefined. */
export function volumeIdOfFile(name: string): string | undefined {
  return BASE_RE.exec(name)?.[1];
}

/**
 * True when `name` is an image of `volumeId`'s chain: its base image or one of its snapshot
 * overlays (not the `.info` file, not a temporary). Used to refuse a `.info` file or a backing
 * pointer that names anything else.
 */
export function isChainFile(volumeId: string, name: string): boolean {
  const base = volumeFileName(volumeId);
  if (name === base) return true;
  if (!name.startsWith(`${base}.`)) return false;
  const suffix = name.slice(base.length + 1);
  return new RegExp(`^${ID}$`).test(suffix) && !RESERVED_SNAPSHOT_IDS.includes(suffix);
}

/** True for every file belonging to `volumeId` (chain files, `.info`, temporaries). */
export function isVolumeFile(volumeId: string, name: string): boolean {
  const base = volumeFileName(volumeId);
  return name === base || name.startsWith(`${base}.`);
}
