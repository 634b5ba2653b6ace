import { z } from "zod";
import { RootHelperSchema } from "../../exec/root-helper.js";
import { FilePathSchema, LvmNameSchema, plainTextSchema } from "../../core/validation.js";
import { TargetConfigSchema } from "../../targets/target-helper.js";

/**
 * Configuration of the LVM driver (Cinder's LVM options, camelCased, validated once).
 *
 * @example
 * ```ts
 * const config = { driver: "lvm", volumeGroup: "cinder-volumes", lvmType: "auto",
 *   target: { helper: "lio", portals: ["127.0.0.1:3260", "127.0.0.2:3260"] } };
 * ```
 */
export const LvmConfigSchema = z.object({
  /** Discriminator for `createDriver`. */
  driver: z.literal("lvm"),
  /** Backend name reported in stats (default `lvm-<volumeGroup>`). */
  backendName: plainTextSchema().optional().meta({ title: "Backend name", description: "Backend name reported in stats (default `lvm-<volumeGroup>`)." }),
  /** Volume group holding the volumes. */
  volumeGroup: LvmNameSchema.default("cinder-volumes").meta({ title: "Volume group", description: "Volume group holding the volumes." }),
  /**
   * `default` = thick LVs; `thin` = thin LVs in `<vg>-pool` (created when missing);
   * `auto` = thin when the pool exists or the VG is empty, else thick (Cinder's rule).
   */
  lvmType: z.enum(["default", "thin", "auto"]).default("auto").meta({ title: "LVM type", description: "`default` = thick LVs; `thin` = thin LVs in `<vg>-pool` (created when missing); `auto` = thin when the pool exists or the VG is empty, else thick (Cinder's rule)." }),
  /** Thin pool name (default `<volumeGroup>-pool`). */
  thinPoolName: LvmNameSchema.optional().meta({ title: "Thin pool name", description: "Thin pool name (default `<volumeGroup>-pool`)." }),
  /** Share of the VG's free space a new thin pool takes, in percent (Cinder: 95). */
  thinPoolPercentOfFree: z.number().int().min(1).max(100).default(95).meta({ title: "Thin pool percent of free", description: "Share of the VG's free space a new thin pool takes, in percent (Cinder: 95)." }),
  /** Thick volumes mirrored with this many extra copies (raid1). */
  mirrors: z.number().int().min(0).max(4).default(0).meta({ title: "Mirrors", description: "Thick volumes mirrored with this many extra copies (raid1)." }),
  /** lvm.conf to use (sets LVM_SYSTEM_DIR to its directory). */
  lvmConfFile: FilePathSchema.optional().meta({ title: "LVM config file", description: "lvm.conf to use (sets LVM_SYSTEM_DIR to its directory)." }),
  /** Silence lvm's "File descriptor leaked" warnings. */
  suppressFdWarnings: z.boolean().default(true).meta({ title: "Suppress FD warnings", description: "Silence lvm's \"File descriptor leaked\" warnings." }),
  /** How deleted thick volumes are wiped: `zero` (dd from /dev/zero) or `none`. Thin volumes are discarded. */
  volumeClear: z.enum(["zero", "none"]).default("zero").meta({ title: "Volume clear", description: "How deleted thick volumes are wiped: `zero` (dd from /dev/zero) or `none`. Thin volumes are discarded." }),
  /** MiB to wipe from the start (0 = whole volume). */
  volumeClearSizeMiB: z.number().int().min(0).default(0).meta({ title: "Volume clear size (MiB)", description: "MiB to wipe from the start (0 = whole volume)." }),
  /** ionice class for wipes, e.g. `-c3` or `-c2 -n7`. */
  volumeClearIonice: z.string().regex(/^-c[1-3]( -n[0-7])?$/, "must look like -c3 or -c2 -n7").optional().meta({ title: "Volume clear ionice", description: "ionice class for wipes, e.g. `-c3` or `-c2 -n7`." }),
  /** Block size of copies and wipes in bytes (Cinder's volume_dd_blocksize, 1M). */
  copyBlockBytes: z.number().int().min(4096).max(64 * 1024 * 1024).default(1024 * 1024).meta({ title: "Copy block bytes", description: "Block size of copies and wipes in bytes (Cinder's volume_dd_blocksize, 1M)." }),
  /**
   * Bytes per dd run of copies and wipes. Unset: one dd per copy or wipe without a bandwidth limit
   * (the fastest: each device opened and closed once), about one second of data per run with one.
   */
  copyChunkBytes: z.number().int().min(4096).multipleOf(4096).optional().meta({ title: "Copy chunk bytes", description: "Bytes per dd run of copies and wipes (a multiple of 4096). Unset: one dd per copy or wipe without a bandwidth limit (each device opened and closed once), about one second of data per run with one." }),
  /**
   * Discard a thin volume before removing it (`blkdiscard`), passing the discards down to the
   * physical volume (SSD, thin LUN, sparse image). Off by default, like Cinder: removing a thin LV
   * already returns its blocks to the pool, and a pool with zeroing on (lvm's default, attr `z`) zeroes a block before it is provisioned again.
   */
  thinDiscardOnDelete: z.boolean().default(false).meta({ title: "Thin discard on delete", description: "Discard a thin volume before removing it (`blkdiscard`), passing the discards down to the physical volume. Off by default, like Cinder: removing a thin LV already returns its blocks to the pool." }),
  /** Bandwidth cap for copies and wipes in bytes/s (0 = none). */
  copyBandwidthLimitBps: z.number().int().min(0).default(0).meta({ title: "Copy bandwidth limit (bytes/s)", description: "Bandwidth cap for copies and wipes in bytes/s (0 = none)." }),
  /** Thin over-subscription ratio, or `auto` (derived from current provisioning). */
  maxOverSubscriptionRatio: z.union([z.number().min(1), z.literal("auto")]).default(20).meta({ title: "Max over-subscription ratio", description: "Thin over-subscription ratio, or `auto` (derived from current provisioning)." }),
  /** Space kept free, percent. */
  reservedPercentage: z.number().min(0).max(100).default(0).meta({ title: "Reserved percentage", description: "Space kept free, percent." }),
  /**
   * iSCSI export settings. Omit to serve only `local` connections (the LV path on this host).
   */
  target: TargetConfigSchema.optional().meta({ title: "Target", description: "iSCSI export settings. Omit to serve only `local` connections (the LV path on this host)." }),
  /** Host name reported in location info (default: the runner host's `hostname`). */
  host: plainTextSchema().optional().meta({ title: "Host", description: "Host name reported in location info (default: the runner host's `hostname`)." }),
  /** Privilege prefix for the default local runner, e.g. `["sudo", "-n"]`. */
  rootHelper: RootHelperSchema.optional(),
});

/** LVM driver config (input form). */
export type LvmConfig = z.input<typeof LvmConfigSchema>;
/** LVM driver config (parsed form, defaults applied). */
export type ParsedLvmConfig = z.output<typeof LvmConfigSchema>;
