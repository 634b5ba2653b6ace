import { err, ok, type Result } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../core/errors.js";
import { parseJsonWith } from "../core/parse-json.js";

/**
 * Pure parsers for the tools the mount manager runs, tested against captured output
 * (test/fixtures/nfs): `findmnt -J`, `stat -f -c '%S %b %a'`, and the error text of `stat`,
 * `mount.nfs` and `umount`.
 */

/** One mounted filesystem as findmnt reports it. */
export interface MountEntry {
  /** Mount point. */
  readonly target: string;
  /** Source (`host:/export` for NFS). */
  readonly source: string;
  /** Filesystem type (`nfs`, `nfs4`, `tmpfs`…). */
  readonly fstype: string;
  /** Mount options as the kernel reports them. */
  readonly options: string;
}

interface FindmntNode {
  target?: string | null | undefined;
  source?: string | null | undefined;
  fstype?: string | null | undefined;
  options?: string | null | undefined;
  children?: FindmntNode[] | undefined;
}

const FindmntNodeSchema: z.ZodType<FindmntNode> = z.lazy(() =>
  z.object({
    target: z.string().nullish(),
    source: z.string().nullish(),
    fstype: z.string().nullish(),
    options: z.string().nullish(),
    children: z.array(FindmntNodeSchema).optional(),
  }),
);

const FindmntSchema = z.object({ filesystems: z.array(FindmntNodeSchema) });

/**
 * Parses `findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS` (list `-l` or tree form; nested `children`
 * are flattened). Empty output (findmnt exits 1 when nothing matches) is an empty list.
 *
 * @example
 * ```ts
 * parseFindmnt(stdout); // ok([{ target: "/mnt/x", source: "10.0.0.5:/export", fstype: "nfs4", options: "rw,…" }])
 * ```
 */
export function parseFindmnt(stdout: string): Result<MountEntry[], VolkitError> {
  if (stdout.trim() === "") return ok([]);
  const parsed = parseJsonWith(FindmntSchema, stdout, { what: "findmnt output", source: "remotefs" });
  if (parsed.isErr()) return err(parsed.error);
  const out: MountEntry[] = [];
  const walk = (nodes: readonly FindmntNode[]): void => {
    for (const n of nodes) {
      if (n.target) out.push({ target: n.target, source: n.source ?? "", fstype: n.fstype ?? "", options: n.options ?? "" });
      if (n.children) walk(n.children);
    }
  };
  walk(parsed.value.filesystems);
  return ok(out);
}

/** Filesystem capacity from `statfs`. */
export interface FsCapacity {
  /** Fundamental block size in bytes (`%S`). */
  readonly blockSize: number;
  /** Total bytes (`%S × %b`). */
  readonly totalBytes: number;
  /** Bytes available to unprivileged users (`%S × %a`). */
  readonly availableBytes: number;
}

/**
 * Parses `stat -f -c '%S %b %a' <path>` (Cinder's capacity query).
 *
 * @example
 * ```ts
 * parseStatfs("4096 262144 200000\n"); // ok({ blockSize: 4096, totalBytes: 1073741824, availableBytes: 819200000 })
 * ```
 */
export function parseStatfs(stdout: string): Result<FsCapacity, VolkitError> {
  const m = /^(\d+) (\d+) (\d+)\s*$/.exec(stdout.trim());
  if (!m) return err(new VolkitError("PARSE_ERROR", `unexpected stat -f output: ${stdout.trim().slice(0, 200)}`, { source: "remotefs" }));
  const blockSize = Number(m[1]);
  return ok({ blockSize, totalBytes: blockSize * Number(m[2]), availableBytes: blockSize * Number(m[3]) });
}

/**
 * True when a command's error text says the NFS handle went stale (the export was removed or
 * replaced on the server, or the server lost its state): the mount must be lazily unmounted and
 * mounted again. `Transport endpoint is not connected` (a dead FUSE or rdma mount) is treated alike.
 */
export function isStaleHandle(stderr: string): boolean {
  return /Stale (NFS )?file handle|ESTALE|Transport endpoint is not connected/i.test(stderr);
}

/** How `mount -t nfs` failed, from its exit code and standard error. */
export type MountFailure =
  /** This protocol version is not offered: try the next one. */
  | "version"
  /** The server could not be reached or did not answer: retry later. */
  | "unreachable"
  /** Something is already mounted there. */
  | "busy"
  /** `mount.nfs` is not installed. */
  | "no-helper"
  /** Not allowed to mount (needs root). */
  | "permission"
  /** The server refused the export (access denied, no such export): permanent for this version. */
  | "refused";

/**
 * Classifies `mount -t nfs` stderr (util-linux mount + nfs-utils mount.nfs messages, LC_ALL=C).
 *
 * @example
 * ```ts
 * classifyMountError("mount.nfs: Protocol not supported"); // "version"
 * ```
 */
export function classifyMountError(stderr: string): MountFailure {
  if (/you might need a \/sbin\/mount\.<type> helper|mount\.nfs: not found|unknown filesystem type 'nfs/i.test(stderr)) return "no-helper";
  if (/only root can|must be superuser|Operation not permitted|failed to apply fstab options|permission denied(?! by server)/i.test(stderr) && !/access denied by server/i.test(stderr)) return "permission";
  if (/already mounted|is busy|mount point busy/i.test(stderr)) return "busy";
  if (/Protocol not supported|version .*not supported|requested NFS version or transport protocol is not supported|incorrect mount option|Invalid argument/i.test(stderr)) return "version";
  if (/Connection refused|timed out|No route to host|Network is unreachable|Connection reset|Temporary failure in name resolution|Resource temporarily unavailable|Program not registered|RPC: Remote system error|Unable to receive|Input\/output error/i.test(stderr)) return "unreachable";
  return "refused";
}

/** True when `umount` says the target is not mounted (nothing to do). */
export function isNotMounted(stderr: string): boolean {
  return /not mounted|no mount point specified|not found/i.test(stderr);
}

/** True when `umount` says the mount is in use. */
export function isBusy(stderr: string): boolean {
  return /target is busy|device is busy|Device or resource busy/i.test(stderr);
}
