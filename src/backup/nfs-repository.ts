import { join } from "node:path";
import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import type { VolkitError } from "../core/errors.js";
import { validate } from "../core/validation.js";
import type { MountManager } from "../remotefs/mount-manager.js";
import { ShareSpecSchema } from "../remotefs/nfs-share.js";
import { backupContext, type BackupRunOptions } from "./backup-options.js";
import { LocalDirectoryRepository, SyncModeSchema } from "./local-repository.js";
import type { BackupRepository } from "./repository.js";

/** Options of {@link createNfsBackupRepository}. */
export const NfsBackupRepositoryOptionsSchema = ShareSpecSchema.extend({
  /** Directory inside the share holding the repository (relative, no `..`; default `volkit-backups`). */
  directory: z
    .string()
    .max(1024)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/, "must be a relative path of letters, digits, '._-' segments")
    .default("volkit-backups"),
  /** How objects are made durable (default batched; an fsync is an NFS COMMIT to the server). See the directory repository. */
  fsync: SyncModeSchema,
});
/** Options of {@link createNfsBackupRepository} (input form). */
export type NfsBackupRepositoryOptions = z.input<typeof NfsBackupRepositoryOptionsSchema>;

/**
 * A repository in a directory of an NFS share, mounted through the shared mount manager (so a
 * share also used by the NFS driver or connector is mounted once, reference-counted, with its
 * version fallback and stale-handle repair). The objects are files as in
 * `createLocalDirectoryRepository`: on NFS, `rename` within a directory is atomic and
 * `fsync` commits to the server, so publish-by-manifest holds. {@link BackupRepository.close}
 * releases the mount reference.
 *
 * @example
 * ```ts
 * const mounts = createNfsMountManager(runner)._unsafeUnwrap();
 * const repo = (await createNfsBackupRepository({ share: "10.0.0.5:/backups" }, mounts))._unsafeUnwrap();
 * // …back up, restore…
 * await repo.close(ctx);
 * ```
 */
export function createNfsBackupRepository(options: NfsBackupRepositoryOptions, mounts: MountManager, run: BackupRunOptions = {}): ResultAsync<BackupRepository, VolkitError> {
  const checked = validate(NfsBackupRepositoryOptionsSchema, options, "NFS backup repository options", "INVALID_CONFIG");
  if (checked.isErr()) return errAsync(checked.error);
  const o = checked.value;
  const ctx = backupContext("openRepository", run);
  return mounts.acquire({ share: o.share, ...(o.options === undefined ? {} : { options: o.options }) }, ctx).map((lease) => {
    const inner = new LocalDirectoryRepository(join(lease.mountPoint, o.directory), o.fsync);
    let released = false;
    const repo: BackupRepository = {
      description: `nfs ${o.share}/${o.directory}`,
      descriptor: { type: "nfs", share: o.share, directory: o.directory },
      put: (key, body, c) => inner.put(key, body, c),
      get: (key, c) => inner.get(key, c),
      read: (key, onData, c) => inner.read(key, onData, c),
      head: (key, c) => inner.head(key, c),
      list: (prefix, opts, c) => inner.list(prefix, opts, c),
      flush: (c) => inner.flush(c),
      delete: (keys, c) => inner.delete(keys, c),
      close: (c) => {
        if (released) return okAsync(undefined);
        released = true;
        return mounts.release(o.share, c).map(() => undefined);
      },
    };
    return repo;
  });
}

