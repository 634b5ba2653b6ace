import type { ResultAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import type { VolkitError } from "../core/errors.js";
import type { ShareSpec } from "./nfs-share.js";
import type { FsCapacity } from "./remotefs-parsers.js";

/**
 * The contract between NFS users (the NFS driver, the NFS connector) and whatever makes a share
 * available as a directory. {@link NfsMountManager} mounts real NFS exports; the
 * {@link LocalDirectoryMounts} double maps each share to an existing directory so drivers can be
 * exercised on a host without NFS.
 *
 * Mounts are reference-counted per share: every successful {@link MountManager.acquire} must be
 * paired with one {@link MountManager.release}; the share is unmounted when the last user releases
 * it, and only when this manager mounted it.
 */
export interface MountManager {
  /** Human-readable description for logs (`nfs mounts under /var/lib/volkit/mnt`). */
  readonly description: string;

  /**
   * Makes `share` available and takes one reference on it: mounts it when needed (trying NFS 4.2,
   * 4.1, 4, 3 unless the options pin a version, with retries and a bounded mount command), reuses an
   * existing mount, and replaces a stale one (lazy unmount, then mount). Invalid shares or options
   * fail with `INVALID_ARGUMENT` before any command runs.
   */
  acquire(share: ShareSpec, ctx: OperationContext): ResultAsync<MountLease, VolkitError>;

  /** Drops one reference; unmounts when none remain and this manager made the mount. */
  release(share: string, ctx: OperationContext): ResultAsync<ReleaseReport, VolkitError>;

  /**
   * Checks that an acquired share is still mounted and answering, with a bounded `statfs` (never an
   * unbounded stat on a mount that may hang), and returns its capacity. A stale handle or a
   * vanished mount is repaired (lazy unmount, mount again); a share that does not answer within
   * the probe timeout fails with `BACKEND_UNAVAILABLE`.
   */
  probe(share: string, ctx: OperationContext): ResultAsync<ShareStatus, VolkitError>;

  /** The directory a share is (or would be) available at. */
  mountPointOf(share: string): string;

  /** References currently held on a share through this manager. */
  references(share: string): number;
}

/** What {@link MountManager.acquire} hands back. */
export interface MountLease {
  /** The share, `host:/export`. */
  readonly share: string;
  /** Directory where the share's files are. */
  readonly mountPoint: string;
  /** True when this manager mounted it (and will unmount it after the last release). */
  readonly mountedByManager: boolean;
  /** References held after this acquire. */
  readonly references: number;
  /** Protocol version used when this manager mounted it (`4.1`, `3`…). */
  readonly version?: string;
}

/** Health and capacity of an acquired share. */
export interface ShareStatus extends FsCapacity {
  /** The share. */
  readonly share: string;
  /** Where it is mounted. */
  readonly mountPoint: string;
  /** True when the probe found a stale or vanished mount and mounted it again. */
  readonly remounted: boolean;
}

/** What {@link MountManager.release} did. */
export interface ReleaseReport {
  /** The share. */
  readonly share: string;
  /** Its mount point. */
  readonly mountPoint: string;
  /** References still held (by other users of this manager). */
  readonly references: number;
  /** True when the share was unmounted by this release. */
  readonly unmounted: boolean;
  /** How it was unmounted: normally, or lazily because the server did not answer. */
  readonly unmountMode?: "normal" | "lazy";
  /** Why the share is still mounted although no references remain (busy, pre-existing…). */
  readonly stillMountedReason?: string;
}
