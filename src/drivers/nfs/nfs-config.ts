import { err, ok, type Result } from "neverthrow";
import { z } from "zod";
import { RootHelperSchema } from "../../exec/root-helper.js";
import { VolkitError } from "../../core/errors.js";
import { AbsolutePathSchema, plainTextSchema } from "../../core/validation.js";
import { DEFAULT_MOUNT_POINT_BASE, MountOptionsSchema, NFS_VERSIONS, NfsShareSchema, ShareSpecSchema, parseNfsSharesConfig, type ShareSpec } from "../../remotefs/nfs-share.js";

/** A configured share: `"host:/export"` or `{ share, options }`. */
export const NfsShareEntrySchema = z.union([NfsShareSchema, ShareSpecSchema]);

/**
 * Configuration of the NFS driver (Cinder's NFS options, camelCased, validated once).
 *
 * @example
 * ```ts
 * const config = { driver: "nfs", shares: ["10.0.0.5:/export", { share: "10.0.0.6:/data", options: "vers=3" }],
 *   qcow2Volumes: false, rootHelper: ["sudo", "-n"] };
 * ```
 */
export const NfsConfigSchema = z
  .object({
    /** Discriminator for `createDriver`. */
    driver: z.literal("nfs"),
    /** Backend name reported in stats (default `nfs`). */
    backendName: plainTextSchema().optional().meta({ title: "Backend name", description: "Backend name reported in stats (default `nfs`)." }),
    /** Shares holding volumes. */
    shares: z.array(NfsShareEntrySchema).max(256).default([]).meta({ title: "Shares", description: "Shares holding volumes." }),
    /**
     * The text of a Cinder `nfs_shares_config` file (`host:/export [-o options]` per line, `#`
     * comments); its shares are added to `shares`.
     */
    sharesConfig: z.string().max(1024 * 1024).optional().meta({ title: "Shares config", description: "The text of a Cinder `nfs_shares_config` file (`host:/export [-o options]` per line, `#` comments); its shares are added to `shares`." }),
    /** Where shares are mounted (`<base>/<md5(share)>`, as Cinder and nova). Must be canonical. */
    mountPointBase: AbsolutePathSchema.default(DEFAULT_MOUNT_POINT_BASE).meta({ title: "Mount point base", description: "Where shares are mounted (`<base>/<md5(share)>`, as Cinder and nova). Must be canonical." }),
    /** Mount options for every share (Cinder's `nfs_mount_options`); each share's own options win. */
    mountOptions: MountOptionsSchema.optional().meta({ title: "Mount options", description: "Mount options for every share (Cinder's `nfs_mount_options`); each share's own options win." }),
    /** Sparse volume files (Cinder's `nfs_sparsed_volumes`); false = fully allocated raw files. */
    sparsedVolumes: z.boolean().default(true).meta({ title: "Sparsed volumes", description: "Sparse volume files (Cinder's `nfs_sparsed_volumes`); false = fully allocated raw files." }),
    /** New volumes are qcow2 files with preallocated metadata (Cinder's `nfs_qcow2_volumes`). */
    qcow2Volumes: z.boolean().default(false).meta({ title: "Qcow2 volumes", description: "New volumes are qcow2 files with preallocated metadata (Cinder's `nfs_qcow2_volumes`)." }),
    /** qcow2 overlay snapshots (Cinder's `nfs_snapshot_support`). */
    snapshotSupport: z.boolean().default(true).meta({ title: "Snapshot support", description: "qcow2 overlay snapshots (Cinder's `nfs_snapshot_support`)." }),
    /**
     * Run file commands without the root helper (Cinder's `nas_secure_file_operations`). The share
     * must then be writable by the runner's user (checked by setup).
     */
    secureFileOperations: z.boolean().default(true).meta({ title: "Secure file operations", description: "Run file commands without the root helper (Cinder's `nas_secure_file_operations`). The share must then be writable by the runner's user (checked by setup)." }),
    /** Volume files get mode 0660 (true) or 0666 (Cinder's `nas_secure_file_permissions`). */
    secureFilePermissions: z.boolean().default(true).meta({ title: "Secure file permissions", description: "Volume files get mode 0660 (true) or 0666 (Cinder's `nas_secure_file_permissions`)." }),
    /** How far allocated sizes may exceed a share's size (sparse and qcow2 volumes). */
    maxOverSubscriptionRatio: z.number().min(1).max(1000).default(20).meta({ title: "Max over-subscription ratio", description: "How far allocated sizes may exceed a share's size (sparse and qcow2 volumes)." }),
    /** Space kept free on each share, percent. */
    reservedPercentage: z.number().min(0).max(100).default(0).meta({ title: "Reserved percentage", description: "Space kept free on each share, percent." }),
    /** Mount attempts per share (Cinder's `nfs_mount_attempts`). */
    mountAttempts: z.number().int().min(1).max(20).default(3).meta({ title: "Mount attempts", description: "Mount attempts per share (Cinder's `nfs_mount_attempts`)." }),
    /** Bound on one `mount` command (killed past it). */
    mountTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000).meta({ title: "Mount timeout (ms)", description: "Bound on one `mount` command (killed past it)." }),
    /** Bound on the `statfs` probe that checks a share answers before it is used. */
    probeTimeoutMs: z.number().int().min(100).max(600_000).default(15_000).meta({ title: "Probe timeout (ms)", description: "Bound on the `statfs` probe that checks a share answers before it is used." }),
    /** Bound on short file commands (`test`, `cat`, `mv`, `rm`, `du`, `qemu-img info`…); copies use the operation's deadline. */
    fileTimeoutMs: z.number().int().min(100).max(3_600_000).default(120_000).meta({ title: "File timeout (ms)", description: "Bound on short file commands (`test`, `cat`, `mv`, `rm`, `du`, `qemu-img info`…); copies use the operation's deadline." }),
    /** NFS versions tried in order when a share's options pin none (default 4.2, 4.1, 4, 3). */
    nfsVersions: z.array(z.enum(NFS_VERSIONS)).min(1).optional().meta({ title: "NFS versions", description: "NFS versions tried in order when a share's options pin none (default 4.2, 4.1, 4, 3)." }),
    /** Privilege prefix for mount/umount (and, with `secureFileOperations: false`, file commands), e.g. `["sudo", "-n"]`. */
    rootHelper: RootHelperSchema.optional(),
  })
  .superRefine((c, ctx) => {
    const shares = resolveShares(c);
    if (shares.isErr()) ctx.addIssue({ code: "custom", path: [c.sharesConfig === undefined ? "shares" : "sharesConfig"], message: shares.error.message });
  });

/** NFS driver config (input form). */
export type NfsConfig = z.input<typeof NfsConfigSchema>;
/** NFS driver config (parsed form, defaults applied). */
export type ParsedNfsConfig = z.output<typeof NfsConfigSchema>;

/**
 * The configured shares (`shares` then those of `sharesConfig`), each with its mount options;
 * `INVALID_CONFIG` when there are none, a share appears twice, or the shares text is invalid.
 */
export function resolveShares(config: { readonly shares?: readonly (string | ShareSpec)[] | undefined; readonly sharesConfig?: string | undefined }): Result<ShareSpec[], VolkitError> {
  const listed = (config.shares ?? []).map((s): ShareSpec => (typeof s === "string" ? { share: s } : s));
  const fromText = config.sharesConfig === undefined ? ok<ShareSpec[], VolkitError>([]) : parseNfsSharesConfig(config.sharesConfig);
  return fromText.andThen((more) => {
    const all = [...listed, ...more];
    if (all.length === 0) return err(new VolkitError("INVALID_CONFIG", "no NFS shares configured (shares or sharesConfig)", { source: "nfs" }));
    const seen = new Set<string>();
    for (const s of all) {
      if (seen.has(s.share)) return err(new VolkitError("INVALID_CONFIG", `share ${s.share} is configured twice`, { source: "nfs" }));
      seen.add(s.share);
    }
    return ok(all);
  });
}
