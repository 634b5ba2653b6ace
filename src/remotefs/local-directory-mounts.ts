import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { validate } from "../core/validation.js";
import type { CommandRunner } from "../exec/runner.js";
import { runBounded } from "./bounded-run.js";
import type { MountLease, MountManager, ReleaseReport, ShareStatus } from "./mount-manager.js";
import { ShareSpecSchema, type ShareSpec } from "./nfs-share.js";
import { parseStatfs } from "./remotefs-parsers.js";

/** Options of {@link LocalDirectoryMounts}. */
export interface LocalDirectoryMountsOptions {
  /** Runner for `test -d` and `stat -f` (the same runner the driver uses for files). */
  readonly runner: CommandRunner;
  /** Each share (`host:/export`) and the existing directory standing in for its mount. */
  readonly directories: Readonly<Record<string, string>>;
  /** Bound on `stat -f` (default 15 s). */
  readonly probeTimeoutMs?: number;
}

/**
 * A {@link MountManager} that never mounts: each share maps to an existing local directory, as if
 * the share were already mounted there. Use it to run the real NFS driver (or the connector) on a
 * host without NFS — with the real runner, `qemu-img`, `truncate`, `du` and `stat` — in tests or a
 * single-host setup where the "share" is a local filesystem. Reference counts behave like the
 * real manager's, and `probe` runs a real bounded `statfs` of the directory.
 *
 * @example
 * ```ts
 * const mounts = new LocalDirectoryMounts({ runner, directories: { "10.0.0.5:/export": "/srv/fake-share" } });
 * const backend = createNfsDriver({ driver: "nfs", shares: ["10.0.0.5:/export"] }, { runner, mounts })._unsafeUnwrap();
 * ```
 */
export class LocalDirectoryMounts implements MountManager {
  /** {@inheritDoc MountManager.description} */
  readonly description = "local directories standing in for NFS mounts";
  readonly #options: LocalDirectoryMountsOptions;
  readonly #refs = new Map<string, number>();

  /** @param options - runner and the share → directory map. */
  constructor(options: LocalDirectoryMountsOptions) {
    this.#options = options;
  }

  /** {@inheritDoc MountManager.mountPointOf} */
  mountPointOf(share: string): string {
    return this.#options.directories[share] ?? `/nonexistent/volkit-unmapped-share`;
  }

  /** {@inheritDoc MountManager.references} */
  references(share: string): number {
    return this.#refs.get(share) ?? 0;
  }

  /** Checks the mapped directory exists, then counts a reference. */
  acquire(share: ShareSpec, ctx: OperationContext): ResultAsync<MountLease, VolkitError> {
    return validate(ShareSpecSchema, share, "NFS share").asyncAndThen((s) => {
      const dir = this.#options.directories[s.share];
      if (dir === undefined) {
        return errAsync(new VolkitError("BACKEND_UNAVAILABLE", `no local directory is mapped for share ${s.share}`, { source: "remotefs", details: { share: s.share } }));
      }
      return runBounded(this.#options.runner, { argv: ["test", "-d", dir], okExitCodes: [0, 1] }, ctx, this.#options.probeTimeoutMs ?? 15_000).andThen((out) => {
        if (out.exitCode !== 0) return errAsync(new VolkitError("BACKEND_UNAVAILABLE", `directory ${dir} for share ${s.share} does not exist`, { source: "remotefs" }));
        const refs = (this.#refs.get(s.share) ?? 0) + 1;
        this.#refs.set(s.share, refs);
        return okAsync<MountLease, VolkitError>({ share: s.share, mountPoint: dir, mountedByManager: false, references: refs });
      });
    });
  }

  /** Drops a reference (there is never anything to unmount). */
  release(share: string, _ctx: OperationContext): ResultAsync<ReleaseReport, VolkitError> {
    const refs = Math.max(0, (this.#refs.get(share) ?? 0) - 1);
    if (refs === 0) this.#refs.delete(share);
    else this.#refs.set(share, refs);
    return okAsync({ share, mountPoint: this.mountPointOf(share), references: refs, unmounted: false, ...(refs > 0 ? { stillMountedReason: `still used by ${refs} other user(s)` } : {}) });
  }

  /** A real bounded `stat -f` of the directory. */
  probe(share: string, ctx: OperationContext): ResultAsync<ShareStatus, VolkitError> {
    if (this.references(share) === 0) return errAsync(new VolkitError("INVALID_STATE", `share ${share} is not acquired`, { source: "remotefs" }));
    const dir = this.mountPointOf(share);
    return runBounded(this.#options.runner, { argv: ["stat", "-f", "-c", "%S %b %a", dir], env: { LC_ALL: "C" } }, ctx, this.#options.probeTimeoutMs ?? 15_000)
      .andThen((out) => parseStatfs(out.stdout))
      .map((capacity) => ({ ...capacity, share, mountPoint: dir, remounted: false }));
  }
}
