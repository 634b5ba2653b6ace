import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { backupIdOfKey, backupPrefix } from "./backup-keys.js";
import type { BackupManifest, ChunkEntry } from "./manifest.js";
import { forEachPage, type BackupRepository } from "./repository.js";

/** An object a restore needs, and the first chunk that needs it. */
interface Needed {
  readonly size: number;
  readonly chunk: number;
  readonly backupId: string;
}

/**
 * The objects a restore of `manifest` reads: every stored chunk's object and, for deltas, the
 * objects of the chunks they are based on, down the chain.
 */
export function neededObjects(manifest: BackupManifest, chain: ReadonlyMap<string, BackupManifest>): Map<string, Needed> {
  const needed = new Map<string, Needed>();
  for (const top of manifest.chunks) {
    let entry: ChunkEntry | undefined = top;
    let owner = manifest.backupId;
    while (entry !== undefined && entry.kind !== "hole") {
      if (!needed.has(entry.object.key)) needed.set(entry.object.key, { size: entry.object.size, chunk: top.index, backupId: owner });
      if (entry.kind !== "delta") break;
      owner = entry.base;
      entry = chain.get(entry.base)?.chunks[top.index];
    }
  }
  return needed;
}

/**
 * Checks that every object a restore needs is in the repository with its recorded size, by
 * listing the prefixes of the backups that own them (1000 keys a request, not one request per
 * object). A missing or truncated object is `BACKUP_CORRUPT` naming the chunk, before anything is
 * written: a backup whose objects were lost never gets to touch a target.
 */
export function checkObjectsPresent(repo: BackupRepository, manifest: BackupManifest, chain: ReadonlyMap<string, BackupManifest>, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const needed = neededObjects(manifest, chain);
  const owners = [...new Set([...needed.keys()].map((k) => backupIdOfKey(k)).filter((id): id is string => id !== undefined))];
  const found = new Map<string, number>();
  const listOwner = (i: number): ResultAsync<void, VolkitError> => {
    const owner = owners[i];
    if (owner === undefined) return okAsync(undefined);
    return forEachPage(repo, `${backupPrefix(owner)}chunks/`, {}, ctx, (page) => {
      for (const o of page.objects) if (needed.has(o.key)) found.set(o.key, o.size);
    }).andThen(() => listOwner(i + 1));
  };
  return listOwner(0).andThen(() => {
    for (const [key, want] of needed) {
      const size = found.get(key);
      if (size === want.size) continue;
      const what = size === undefined ? "is missing from the repository" : `has ${size} bytes, the manifest records ${want.size}`;
      return errAsync(
        new VolkitError("BACKUP_CORRUPT", `chunk ${want.chunk} (object ${key}) of backup ${want.backupId} ${what}`, {
          source: "backup",
          details: { backupId: want.backupId, chunk: want.chunk, object: key, reason: size === undefined ? "missing" : "size" },
        }),
      );
    }
    return okAsync(undefined);
  });
}
