/**
 * `volkit/remotefs`: the NFS mount manager shared by the NFS driver and the NFS connector —
 * mount points `<base>/<md5(share)>` (as Cinder and nova), reference counts per share, NFS 4.2 →
 * 4.1 → 4 → 3 fallback, bounded mount/statfs/umount commands, stale-handle repair — plus
 * {@link LocalDirectoryMounts}, a stand-in that maps shares to local directories for hosts
 * without NFS.
 *
 * @example
 * ```ts
 * import { createNfsMountManager } from "volkit/remotefs";
 * const mounts = createNfsMountManager(runner, { rootHelper: ["sudo", "-n"] })._unsafeUnwrap();
 * const lease = await mounts.acquire({ share: "10.0.0.5:/export", options: "vers=4.1" }, ctx);
 * ```
 *
 * @packageDocumentation
 */
export * from "./mount-manager.js";
export * from "./nfs-mount-manager.js";
export * from "./local-directory-mounts.js";
export * from "./nfs-share.js";
export * from "./remotefs-parsers.js";
export * from "./bounded-run.js";
