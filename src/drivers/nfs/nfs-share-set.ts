import { ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { MountManager, ShareStatus } from "../../remotefs/mount-manager.js";
import { formatMountOptions, mergeMountOptions, parseMountOptions, type MountOption, type ShareSpec } from "../../remotefs/nfs-share.js";
import { pickShare, shareIneligibility, type CapacityPolicy, type ShareCapacity } from "./nfs-capacity.js";
import type { ShareFiles } from "./nfs-files.js";
import { infoFileName, volumeFileName, volumeIdOfFile } from "./nfs-names.js";

/** A share in use: where its files are. */
export interface Located {
  /** The share, `host:/export`. */
  readonly share: string;
  /** Its mount point (the directory holding the volume files). */
  readonly dir: string;
}

/** Capacity of a share plus its volume count. */
export interface ShareUsage extends ShareCapacity {
  /** Base images (`volume-<id>`) on the share. */
  readonly volumes: number;
}

/** Options of {@link ShareSet}. */
export interface ShareSetOptions {
  /** Require shares to be writable by the runner's user (secure file operations). */
  readonly requireWritable: boolean;
  /** Eligibility rule for placement and extends. */
  readonly policy: CapacityPolicy;
  /** Options for every share (the driver's `mountOptions`). */
  readonly mountOptions: string | undefined;
}

/**
 * The driver's shares: holds one mount reference per share for the driver's lifetime, checks a
 * share answers (bounded probe) before every use, finds a volume's share, and places new volumes
 * on the least-allocated eligible share.
 */
export class ShareSet {
  readonly #leased = new Map<string, string>();
  readonly #probed = new WeakMap<OperationContext, Map<string, ShareStatus>>();
  readonly #global: readonly MountOption[];

  /** @param shares - configured shares; @param mounts - mount manager; @param files - file commands. */
  constructor(
    readonly shares: readonly ShareSpec[],
    private readonly mounts: MountManager,
    private readonly files: ShareFiles,
    private readonly options: ShareSetOptions,
  ) {
    this.#global = parseMountOptions(options.mountOptions ?? "").unwrapOr([]);
  }

  /** Shares currently mounted for the driver. */
  get mounted(): string[] {
    return [...this.#leased.keys()];
  }

  /** Acquires every share not held yet; fails only when none can be used. */
  acquireAll(ctx: OperationContext): ResultAsync<void, VolkitError> {
    const pending = this.shares.filter((s) => !this.#leased.has(s.share));
    return ResultAsync.fromSafePromise(
      (async () => {
        const failures: { share: string; code: string; message: string }[] = [];
        for (const s of pending) {
          const r = await this.#acquire(s, ctx);
          if (r.isErr()) {
            if (ctx.signal.aborted) return ctx.abortError();
            failures.push({ share: s.share, code: r.error.code, message: r.error.message });
            ctx.logger.warn({ share: s.share, code: r.error.code, error: r.error.message }, "NFS share unavailable");
          }
        }
        if (this.#leased.size > 0) return undefined;
        return new VolkitError("BACKEND_UNAVAILABLE", `no NFS share could be used: ${failures.map((f) => `${f.share}: ${f.message}`).join("; ")}`, {
          source: "nfs",
          details: { failures },
        });
      })(),
    ).andThen((e) => (e ? errAsync(e) : okAsync(undefined)));
  }

  /** Releases every share the driver holds. */
  releaseAll(ctx: OperationContext): ResultAsync<void, VolkitError> {
    return ResultAsync.fromSafePromise(
      (async () => {
        let first: VolkitError | undefined;
        for (const share of [...this.#leased.keys()]) {
          const r = await this.mounts.release(share, ctx);
          this.#leased.delete(share);
          if (r.isErr()) first ??= r.error;
        }
        return first;
      })(),
    ).andThen((e) => (e ? errAsync(e) : okAsync(undefined)));
  }

  /** A held share, probed (mounted, answering, not stale); acquired first when not held. */
  dir(share: string, ctx: OperationContext): ResultAsync<Located, VolkitError> {
    return this.#probe(share, ctx).map((s) => ({ share, dir: s.mountPoint }));
  }

  /** Acquire when not held, then probe — once per share and operation (the answer is cached on `ctx`). */
  #probe(share: string, ctx: OperationContext): ResultAsync<ShareStatus, VolkitError> {
    const spec = this.shares.find((s) => s.share === share);
    if (!spec) return errAsync(new VolkitError("INVALID_ARGUMENT", `share ${share} is not configured`, { source: "nfs" }));
    let cache = this.#probed.get(ctx);
    if (!cache) {
      cache = new Map();
      this.#probed.set(ctx, cache);
    }
    const seen = cache.get(share);
    if (seen) return okAsync(seen);
    const held = this.#leased.has(share) ? okAsync<void, VolkitError>(undefined) : this.#acquire(spec, ctx);
    return held.andThen(() => this.mounts.probe(share, ctx)).map((status) => {
      cache.set(share, status);
      return status;
    });
  }

  /**
   * The share holding volume `volumeId` (its base image or `.info`), trying `hint` (the volume's
   * providerLocation) first. Undefined when no share has it. If a share that could hold it cannot
   * be checked, that error is returned instead (a volume on a dead share is not "missing"), unless
   * `lenient` (a create only needs to know the id is not taken where it could be placed).
   */
  locate(volumeId: string, hint: string | undefined, ctx: OperationContext, lenient = false): ResultAsync<Located | undefined, VolkitError> {
    const order = [...this.shares.map((s) => s.share)].sort((a, b) => (a === hint ? -1 : b === hint ? 1 : 0));
    let unreachable: VolkitError | undefined;
    const step = (i: number): ResultAsync<Located | undefined, VolkitError> => {
      const share = order[i];
      if (share === undefined) return unreachable && !lenient ? errAsync(unreachable) : okAsync(undefined);
      return this.dir(share, ctx)
        .andThen((loc) => this.#holds(loc, volumeId, ctx))
        .orElse((e) => {
          if (ctx.signal.aborted) return errAsync(e);
          unreachable ??= e;
          return okAsync(undefined);
        })
        .andThen((loc) => (loc ? okAsync(loc) : step(i + 1)));
    };
    return step(0);
  }

  #holds(loc: Located, volumeId: string, ctx: OperationContext): ResultAsync<Located | undefined, VolkitError> {
    return this.files.list(loc.dir, [volumeFileName(volumeId), infoFileName(volumeId)], ctx).map((names) => (names.length > 0 ? loc : undefined));
  }

  /** Capacity of a share: bounded statfs, `du --apparent-size`, and a count of volumes. */
  usage(share: string, ctx: OperationContext): ResultAsync<ShareUsage & Located, VolkitError> {
    return this.#capacity(share, ctx).andThen((c) =>
      this.files.list(c.dir, ["volume-*"], ctx).map((names) => ({ ...c, volumes: names.filter((n) => volumeIdOfFile(n) !== undefined).length })),
    );
  }

  /** Bounded statfs (cached per operation) and `du --apparent-size`. */
  #capacity(share: string, ctx: OperationContext): ResultAsync<ShareCapacity & Located, VolkitError> {
    return this.#probe(share, ctx).andThen((fs) =>
      this.files.allocatedBytes(fs.mountPoint, ctx).map((allocatedBytes) => ({
        share,
        dir: fs.mountPoint,
        totalBytes: fs.totalBytes,
        availableBytes: fs.availableBytes,
        allocatedBytes,
      })),
    );
  }

  /** The least-allocated eligible share for `bytes`, or `INSUFFICIENT_CAPACITY` with each share's reason. */
  place(bytes: number, ctx: OperationContext): ResultAsync<Located, VolkitError> {
    return ResultAsync.fromSafePromise(
      (async () => {
        const usable: (ShareCapacity & Located)[] = [];
        const down: { share: string; reason: string }[] = [];
        for (const s of this.shares) {
          const r = await this.#capacity(s.share, ctx);
          if (r.isOk()) usable.push(r.value);
          else down.push({ share: s.share, reason: `${r.error.code}: ${r.error.message}` });
        }
        return { usable, down };
      })(),
    ).andThen(({ usable, down }) => {
      if (ctx.signal.aborted) return errAsync(ctx.abortError() as VolkitError);
      const pick = pickShare(usable, bytes, this.options.policy);
      if ("share" in pick) {
        const chosen = usable.find((u) => u.share === pick.share.share) as Located;
        return okAsync({ share: chosen.share, dir: chosen.dir });
      }
      const refused = [...pick.refused, ...down];
      const code = usable.length === 0 ? "BACKEND_UNAVAILABLE" : "INSUFFICIENT_CAPACITY";
      return errAsync(
        new VolkitError(code, `no NFS share can hold ${(bytes / 1024 ** 3).toFixed(2)} GiB: ${refused.map((r) => `${r.share}: ${r.reason}`).join("; ")}`, {
          source: "nfs",
          details: { requestedBytes: bytes, refused },
        }),
      );
    });
  }

  /** `INSUFFICIENT_CAPACITY` unless `share` can take `bytes` more (extends). */
  checkRoom(share: string, bytes: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#capacity(share, ctx).andThen((u) => {
      const reason = shareIneligibility(u, bytes, this.options.policy);
      return reason === undefined
        ? okAsync(undefined)
        : errAsync(new VolkitError("INSUFFICIENT_CAPACITY", `share ${share} cannot grow a volume by ${(bytes / 1024 ** 3).toFixed(2)} GiB: ${reason}`, { source: "nfs", details: { share, requestedBytes: bytes } }));
    });
  }

  /** Mount options a host should use for `share` (the driver's and the share's, merged), if any. */
  connectionOptions(share: string): string | undefined {
    const own = parseMountOptions(this.shares.find((s) => s.share === share)?.options ?? "").unwrapOr([]);
    const merged = mergeMountOptions([this.#global, own]);
    return merged.length > 0 ? formatMountOptions(merged) : undefined;
  }

  #acquire(spec: ShareSpec, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.mounts.acquire(spec, ctx).andThen((lease) => {
      this.#leased.set(spec.share, lease.mountPoint);
      if (!this.options.requireWritable) return okAsync(undefined);
      return this.files.writable(lease.mountPoint, ctx).andThen((ok) => {
        if (ok) return okAsync(undefined);
        this.#leased.delete(spec.share);
        return this.mounts.release(spec.share, ctx).andThen(() =>
          errAsync(
            new VolkitError("BACKEND_UNAVAILABLE", `share ${spec.share} is not writable by the driver's user (secure file operations): export it with that user's uid/gid, without root_squash surprises, or set secureFileOperations: false`, {
              source: "nfs",
              details: { share: spec.share, mountPoint: lease.mountPoint },
            }),
          ),
        );
      });
    });
  }
}
