import { type ResultAsync, errAsync, okAsync, type Result } from "neverthrow";
import { z } from "zod";
import { RootHelperSchema, elevatedRunner } from "../exec/root-helper.js";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { InProcessLocks, withLock } from "../core/locks.js";
import { withRetry } from "../core/retry.js";
import { AbsolutePathSchema, validate } from "../core/validation.js";
import type { Argv, CommandRunner } from "../exec/runner.js";
import { runBounded } from "./bounded-run.js";
import type { MountLease, MountManager, ReleaseReport, ShareStatus } from "./mount-manager.js";
import {
  DEFAULT_MOUNT_POINT_BASE,
  NFS_VERSIONS,
  MountOptionsSchema,
  ShareSpecSchema,
  buildMountOptions,
  mountPointFor,
  parseMountOptions,
  pinnedVersion,
  type MountOption,
  type NfsVersion,
  type ShareSpec,
} from "./nfs-share.js";
import { classifyMountError, isBusy, isNotMounted, isStaleHandle, parseFindmnt, parseStatfs, type FsCapacity, type MountEntry } from "./remotefs-parsers.js";

/** Options of {@link createNfsMountManager}. */
export const NfsMountManagerOptionsSchema = z.object({
  /** Directory holding one mount point per share (`<base>/<md5(share)>`); must be canonical (no symlinks). */
  mountPointBase: AbsolutePathSchema.default(DEFAULT_MOUNT_POINT_BASE),
  /** Argv prefix for `mkdir`/`mount`/`umount` only, e.g. `["sudo", "-n"]`; everything else runs unprivileged. */
  rootHelper: RootHelperSchema.optional(),
  /** Options for every mount (Cinder's `nfs_mount_options`), merged under each share's own. */
  mountOptions: MountOptionsSchema.optional(),
  /** Mount attempts before giving up on a share that does not answer (Cinder's `nfs_mount_attempts`). */
  mountAttempts: z.number().int().min(1).max(20).default(3),
  /** Bound on one `mount` command; the child is killed past it. */
  mountTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
  /** Bound on the `statfs` health probe of a mounted share. */
  probeTimeoutMs: z.number().int().min(100).max(600_000).default(15_000),
  /** Bound on `findmnt`, `mkdir`, `umount`. */
  commandTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  /** First back-off delay between mount attempts (ms). */
  retryMinDelayMs: z.number().int().min(0).max(600_000).default(1000),
  /** Largest back-off delay between mount attempts (ms). */
  retryMaxDelayMs: z.number().int().min(0).max(600_000).default(10_000),
  /** Versions tried in order when the options pin none. */
  versions: z.array(z.enum(NFS_VERSIONS)).min(1).default([...NFS_VERSIONS]),
});
/** Options of {@link createNfsMountManager} (input form). */
export type NfsMountManagerOptions = z.input<typeof NfsMountManagerOptionsSchema>;
type ParsedOptions = z.output<typeof NfsMountManagerOptionsSchema>;

interface Entry {
  readonly share: string;
  readonly mountPoint: string;
  options: string | undefined;
  refs: number;
  ours: boolean;
  version: string | undefined;
}

const LC = { LC_ALL: "C" } as const;

/**
 * Validates `options` and builds an {@link NfsMountManager}. `INVALID_CONFIG` names each bad field.
 *
 * @example
 * ```ts
 * const mounts = createNfsMountManager(runner, { mountPointBase: "/var/lib/volkit/mnt", rootHelper: ["sudo", "-n"] })._unsafeUnwrap();
 * const lease = await mounts.acquire({ share: "10.0.0.5:/export" }, ctx);
 * ```
 */
export function createNfsMountManager(runner: CommandRunner, options: NfsMountManagerOptions = {}): Result<NfsMountManager, VolkitError> {
  return validate(NfsMountManagerOptionsSchema, options, "NFS mount manager options", "INVALID_CONFIG").map((o) => new NfsMountManager(runner, o));
}

/**
 * Mounts NFS shares at `<base>/<md5(share)>` (the Cinder/nova rule), reference-counted per share.
 *
 * - Mounted-ness is read from the kernel table (`findmnt -J -l -k`), never by touching the mount.
 * - `mount -t nfs -o <validated options>,vers=4.2` first, then 4.1, 4 and 3 (see `NFS_VERSIONS`),
 *   unless the options pin a version; each `mount` is bounded by `mountTimeoutMs` and killed past it; whole
 *   sweeps are retried with back-off (`mountAttempts`) while the server is unreachable.
 * - Mounts are hard (NFS's default): `soft` is refused because it corrupts VM disks. A dead server
 *   therefore blocks I/O, so every command that touches the mount is bounded (`statfs` probe,
 *   `umount`), and a hung `umount` falls back to a lazy one.
 * - A stale handle (`ESTALE`) or a vanished mount found by a probe is repaired: `umount -l`, then
 *   mount again.
 * - Only `mkdir`, `mount` and `umount` use the root helper.
 *
 * References live in this object: share one manager between the driver and the connector of a
 * process. A mount this manager did not make is never unmounted by it.
 */
export class NfsMountManager implements MountManager {
  /** {@inheritDoc MountManager.description} */
  readonly description: string;
  readonly #runner: CommandRunner;
  readonly #options: ParsedOptions;
  readonly #global: readonly MountOption[];
  readonly #entries = new Map<string, Entry>();
  readonly #locks = new InProcessLocks();
  #baseChecked = false;

  /** Prefer {@link createNfsMountManager}, which validates the options. */
  constructor(runner: CommandRunner, options: ParsedOptions) {
    this.#runner = runner;
    this.#options = options;
    this.#global = parseMountOptions(options.mountOptions ?? "").unwrapOr([]);
    this.description = `nfs mounts under ${options.mountPointBase}`;
  }

  /** {@inheritDoc MountManager.mountPointOf} */
  mountPointOf(share: string): string {
    return mountPointFor(this.#options.mountPointBase, share);
  }

  /** {@inheritDoc MountManager.references} */
  references(share: string): number {
    return this.#entries.get(this.mountPointOf(share))?.refs ?? 0;
  }

  /** {@inheritDoc MountManager.acquire} */
  acquire(share: ShareSpec, ctx: OperationContext): ResultAsync<MountLease, VolkitError> {
    return validate(ShareSpecSchema, share, "NFS share").asyncAndThen((s) => {
      const mp = this.mountPointOf(s.share);
      return this.#checkBase(ctx).andThen(() =>
        withLock(this.#locks, `mount:${mp}`, ctx.signal, () => {
          const held = this.#entries.get(mp);
          const ready = held && held.refs > 0 ? this.#ensure(held, ctx).map(() => held) : this.#adopt(s, mp, ctx);
          return ready.map((entry): MountLease => {
            entry.refs++;
            return {
              share: entry.share,
              mountPoint: mp,
              mountedByManager: entry.ours,
              references: entry.refs,
              ...(entry.version === undefined ? {} : { version: entry.version }),
            };
          });
        }),
      );
    });
  }

  /** {@inheritDoc MountManager.release} */
  release(share: string, ctx: OperationContext): ResultAsync<ReleaseReport, VolkitError> {
    const mp = this.mountPointOf(share);
    return withLock(this.#locks, `mount:${mp}`, ctx.signal, () => {
      const entry = this.#entries.get(mp);
      const base = { share, mountPoint: mp };
      if (!entry || (entry.refs === 0 && !entry.ours)) return okAsync({ ...base, references: 0, unmounted: false, stillMountedReason: "not acquired through this manager" });
      // refs === 0 here: an earlier unmount of ours failed or found the mount busy; try again.
      if (entry.refs > 0) entry.refs--;
      if (entry.refs > 0) return okAsync({ ...base, references: entry.refs, unmounted: false, stillMountedReason: `still used by ${entry.refs} other user(s)` });
      if (!entry.ours) {
        this.#entries.delete(mp);
        return okAsync({ ...base, references: 0, unmounted: false, stillMountedReason: "mounted outside this manager; left as found" });
      }
      return this.#unmount(mp, ctx).map((outcome): ReleaseReport => {
        if (outcome === "busy") return { ...base, references: 0, unmounted: false, stillMountedReason: "target is busy (files still open)" };
        this.#entries.delete(mp);
        return { ...base, references: 0, unmounted: true, unmountMode: outcome };
      });
    });
  }

  /** {@inheritDoc MountManager.probe} */
  probe(share: string, ctx: OperationContext): ResultAsync<ShareStatus, VolkitError> {
    const mp = this.mountPointOf(share);
    const entry = this.#entries.get(mp);
    if (!entry || entry.refs === 0) return errAsync(new VolkitError("INVALID_STATE", `share ${share} is not acquired`, { source: "remotefs", details: { share } }));
    return withLock(this.#locks, `mount:${mp}`, ctx.signal, () => this.#ensure(entry, ctx)).map(({ capacity, remounted }) => ({ ...capacity, share, mountPoint: mp, remounted }));
  }

  /** The base must be canonical: mount points are compared with the kernel's (canonical) table. */
  #checkBase(ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (this.#baseChecked) return okAsync(undefined);
    const base = this.#options.mountPointBase;
    return runBounded(this.#runner, { argv: ["realpath", "-m", "--", base], env: LC }, ctx, this.#options.commandTimeoutMs).andThen((out) => {
      const real = out.stdout.trim();
      const wanted = base.length > 1 ? base.replace(/\/+$/, "") : base;
      if (real !== wanted) {
        return errAsync(new VolkitError("INVALID_CONFIG", `mountPointBase ${base} resolves to ${real}; configure the canonical path`, { source: "remotefs" }));
      }
      this.#baseChecked = true;
      return okAsync(undefined);
    });
  }

  /** First user: reuse a mount that exists (repairing it when stale) or mount the share. */
  #adopt(s: ShareSpec, mp: string, ctx: OperationContext): ResultAsync<Entry, VolkitError> {
    const previous = this.#entries.get(mp);
    const entry: Entry = previous ?? { share: s.share, mountPoint: mp, options: s.options, refs: 0, ours: false, version: undefined };
    entry.options = s.options;
    return this.#findMount(mp, ctx).andThen((found) => {
      if (!found) return this.#mount(entry, ctx).map(() => entry);
      const wrong = this.#mismatch(found, s.share);
      if (wrong) return errAsync(wrong);
      this.#entries.set(mp, entry);
      return this.#statfs(mp, ctx)
        .map(() => entry)
        .orElse((e) => (isStale(e) ? this.#remount(entry, ctx).map(() => entry) : errAsync(e)));
    });
  }

  /** Held share: still in the kernel table and answering? Repair if not. */
  #ensure(entry: Entry, ctx: OperationContext): ResultAsync<{ capacity: FsCapacity; remounted: boolean }, VolkitError> {
    return this.#findMount(entry.mountPoint, ctx).andThen((found) => {
      if (!found) {
        ctx.logger.warn({ share: entry.share, mountPoint: entry.mountPoint }, "NFS share vanished from the mount table; mounting it again");
        return this.#mount(entry, ctx).andThen(() => this.#statfs(entry.mountPoint, ctx)).map((capacity) => ({ capacity, remounted: true }));
      }
      const wrong = this.#mismatch(found, entry.share);
      if (wrong) return errAsync(wrong);
      return this.#statfs(entry.mountPoint, ctx)
        .map((capacity) => ({ capacity, remounted: false }))
        .orElse((e) =>
          isStale(e)
            ? this.#remount(entry, ctx).andThen(() => this.#statfs(entry.mountPoint, ctx)).map((capacity) => ({ capacity, remounted: true }))
            : errAsync(e),
        );
    });
  }

  #mismatch(found: MountEntry, share: string): VolkitError | undefined {
    if (found.source === share && /^nfs4?$/.test(found.fstype)) return undefined;
    return new VolkitError("INVALID_STATE", `${found.target} holds ${found.fstype} ${found.source}, not NFS share ${share}`, {
      source: "remotefs",
      details: { mountPoint: found.target, mounted: found.source, fstype: found.fstype, share },
    });
  }

  /** Stale handle: detach the dead mount lazily (never blocks), then mount afresh. */
  #remount(entry: Entry, ctx: OperationContext): ResultAsync<void, VolkitError> {
    ctx.logger.warn({ share: entry.share, mountPoint: entry.mountPoint }, "stale NFS handle; lazily unmounting and mounting again");
    return this.#privileged(["umount", "-l", "-c", entry.mountPoint], ctx, this.#options.commandTimeoutMs)
      .map(() => undefined)
      .orElse((e) => (isCommandFailure(e, isNotMounted) ? okAsync(undefined) : errAsync(e)))
      .andThen(() => this.#mount(entry, ctx));
  }

  /** mkdir, then version sweeps retried with back-off while the server is unreachable. */
  #mount(entry: Entry, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const user = parseMountOptions(entry.options ?? "").unwrapOr([]);
    const pinned = pinnedVersion([...this.#global, ...user]);
    const versions: readonly (NfsVersion | undefined)[] = pinned === undefined ? this.#options.versions : [undefined];
    const o = this.#options;
    return this.#privileged(["mkdir", "-p", "-m", "0755", "--", entry.mountPoint], ctx, o.commandTimeoutMs)
      .andThen(() =>
        withRetry(() => this.#attempt(entry, user, versions, ctx), {
          retries: o.mountAttempts - 1,
          minTimeoutMs: o.retryMinDelayMs,
          maxTimeoutMs: o.retryMaxDelayMs,
          signal: ctx.signal,
          onRetry: (e, n) => ctx.logger.warn({ share: entry.share, attempt: n, code: e.code, error: e.message }, "NFS mount failed; retrying"),
        }),
      )
      .andThen((version) =>
        this.#findMount(entry.mountPoint, ctx).andThen((found) => {
          if (!found || this.#mismatch(found, entry.share)) {
            return errAsync(new VolkitError("BACKEND_UNAVAILABLE", `mount of ${entry.share} reported success but ${entry.mountPoint} is not an NFS mount of it`, { source: "remotefs" }));
          }
          entry.ours = true;
          entry.version = version ?? pinned;
          this.#entries.set(entry.mountPoint, entry);
          ctx.logger.info({ share: entry.share, mountPoint: entry.mountPoint, version: entry.version }, "NFS share mounted");
          return okAsync(undefined);
        }),
      )
      .mapErr((e) => (ctx.signal.aborted ? (ctx.abortError() ?? e) : e));
  }

  /** One attempt: accept a mount that appeared meanwhile, else try each version in turn. */
  #attempt(entry: Entry, user: readonly MountOption[], versions: readonly (NfsVersion | undefined)[], ctx: OperationContext): ResultAsync<string | undefined, VolkitError> {
    const failures: { version: string; error: string }[] = [];
    const sweep = (i: number): ResultAsync<string | undefined, VolkitError> => {
      if (i >= versions.length) {
        return errAsync(
          new VolkitError("BACKEND_UNAVAILABLE", `cannot mount ${entry.share}: ${failures.map((f) => `${f.version}: ${f.error}`).join("; ")}`, {
            source: "remotefs",
            details: { share: entry.share, failures },
          }),
        );
      }
      const version = versions[i];
      const options = buildMountOptions([this.#global, user], version);
      return this.#privileged(["mount", "-t", "nfs", "-o", options, entry.share, entry.mountPoint], ctx, this.#options.mountTimeoutMs)
        .map(() => version)
        .orElse((e) => {
          if (ctx.signal.aborted) return errAsync(e);
          const label = version ?? "pinned";
          if (e.code === "TIMEOUT") {
            return errAsync(new VolkitError("BACKEND_UNAVAILABLE", `NFS server of ${entry.share} did not answer the mount within ${String(e.details.timeoutMs)} ms`, {
              source: "remotefs",
              transient: true,
              cause: e,
              details: { share: entry.share, version: label, timeoutMs: e.details.timeoutMs },
            }));
          }
          if (e.code === "COMMAND_NOT_FOUND") return errAsync(new VolkitError("BACKEND_UNAVAILABLE", "mount is not installed", { source: "remotefs", cause: e }));
          if (e.code !== "COMMAND_FAILED") return errAsync(e);
          const stderr = String(e.details.stderr ?? "");
          const fail = (message: string, transient: boolean): ResultAsync<never, VolkitError> =>
            errAsync(new VolkitError("BACKEND_UNAVAILABLE", message, { source: "remotefs", transient, cause: e, details: { share: entry.share, version: label, stderr } }));
          switch (classifyMountError(stderr)) {
            case "no-helper":
              return fail("mount.nfs is not installed on this host (Debian/Ubuntu: nfs-common)", false);
            case "permission":
              return fail(`mounting ${entry.share} needs root: configure a root helper (e.g. ["sudo", "-n"])`, false);
            case "unreachable":
              return fail(`NFS server of ${entry.share} is unreachable: ${lastLine(stderr)}`, true);
            case "busy":
              return this.#findMount(entry.mountPoint, ctx).andThen((found) =>
                found && !this.#mismatch(found, entry.share) ? okAsync(version) : fail(`${entry.mountPoint} is busy: ${lastLine(stderr)}`, false),
              );
            case "version":
            case "refused":
              failures.push({ version: label, error: lastLine(stderr) });
              return sweep(i + 1);
          }
        });
    };
    return this.#findMount(entry.mountPoint, ctx).andThen((found) => (found && !this.#mismatch(found, entry.share) ? okAsync(undefined) : sweep(0)));
  }

  /** umount; lazily when the server does not answer; `busy` when files are open. */
  #unmount(mp: string, ctx: OperationContext): ResultAsync<"normal" | "lazy" | "busy", VolkitError> {
    const t = this.#options.commandTimeoutMs;
    return this.#privileged(["umount", "-c", mp], ctx, t)
      .map(() => "normal" as const)
      .orElse((e) => {
        if (isCommandFailure(e, isNotMounted)) return okAsync("normal" as const);
        if (isCommandFailure(e, isBusy)) return okAsync("busy" as const);
        if (e.code === "TIMEOUT" && !ctx.signal.aborted) {
          ctx.logger.warn({ mountPoint: mp }, "umount hung (server not answering); detaching lazily");
          return this.#privileged(["umount", "-l", "-c", mp], ctx, t).map(() => "lazy" as const);
        }
        return errAsync(e);
      });
  }

  #findMount(mp: string, ctx: OperationContext): ResultAsync<MountEntry | undefined, VolkitError> {
    return runBounded(this.#runner, { argv: ["findmnt", "-J", "-l", "-k", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"], env: LC, okExitCodes: [0, 1] }, ctx, this.#options.commandTimeoutMs)
      .andThen((out) => parseFindmnt(out.stdout))
      .map((mounts) => mounts.filter((m) => m.target === mp).at(-1));
  }

  /** Bounded statfs: a stale handle is flagged, a hang becomes `BACKEND_UNAVAILABLE`. */
  #statfs(mp: string, ctx: OperationContext): ResultAsync<FsCapacity, VolkitError> {
    return runBounded(this.#runner, { argv: ["stat", "-f", "-c", "%S %b %a", mp], env: LC }, ctx, this.#options.probeTimeoutMs)
      .mapErr((e) => {
        if (isCommandFailure(e, isStaleHandle)) return new VolkitError("BACKEND_UNAVAILABLE", `stale NFS file handle at ${mp}`, { source: "remotefs", transient: true, cause: e, details: { mountPoint: mp, stale: true } });
        if (e.code === "COMMAND_FAILED") {
          // e.g. "Permission denied" once the server withdrew the export (exportfs -u).
          return new VolkitError("BACKEND_UNAVAILABLE", `NFS mount ${mp} is not usable: ${lastLine(String(e.details.stderr ?? e.message))}`, {
            source: "remotefs",
            cause: e,
            details: { mountPoint: mp, stderr: String(e.details.stderr ?? "") },
          });
        }
        if (e.code === "TIMEOUT" && !ctx.signal.aborted) {
          return new VolkitError("BACKEND_UNAVAILABLE", `NFS mount ${mp} did not answer statfs within ${String(e.details.timeoutMs)} ms (server down or unreachable)`, {
            source: "remotefs",
            transient: true,
            cause: e,
            details: { mountPoint: mp, timeoutMs: e.details.timeoutMs, hung: true },
          });
        }
        return e;
      })
      .andThen((out) => parseStatfs(out.stdout));
  }

  #privileged(argv: Argv, ctx: OperationContext, timeoutMs: number) {
    return runBounded(elevatedRunner(this.#runner, this.#options.rootHelper ?? []), { argv, env: LC }, ctx, timeoutMs);
  }
}

function isStale(e: VolkitError): boolean {
  return e.details.stale === true;
}

function isCommandFailure(e: VolkitError, test: (stderr: string) => boolean): boolean {
  return e.code === "COMMAND_FAILED" && test(String(e.details.stderr ?? ""));
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).pop() ?? "failed";
}
