import { errAsync, ok, type ResultAsync } from "neverthrow";
import { z } from "zod";
import type { VolkitError } from "../core/errors.js";
import { validate } from "../core/validation.js";
import { createLocalRunner } from "../exec/local-runner.js";
import type { CommandRunner } from "../exec/runner.js";
import { createHostFs, type HostFs } from "../host/host-fs.js";
import { backupContext, type BackupRunOptions } from "./backup-options.js";
import { BackupIdSchema } from "./backup-keys.js";
import { BlockTargetSchema, type BlockTarget, type HoleMode } from "./block-source.js";
import { deriveKeys, type EncryptionKey } from "./encryption.js";
import type { BackupRepository } from "./repository.js";
import { loadForRestore, restoreLoaded } from "./restore-writer.js";

/** The plain (validated) options of {@link restoreToTarget}. */
export const RestoreOptionsSchema = z.object({
  /** Worker threads for decryption, decompression and digests (default one per core, at most 8; 0 = this thread). */
  threads: z.number().int().min(0).max(64).optional(),
  /** Chunks being fetched and decoded ahead of the one being written (default 2 per thread + 2). */
  inFlight: z.number().int().min(1).max(256).optional(),
});

/** Options of {@link restoreToTarget}. */
export interface RestoreOptions extends BackupRunOptions, z.input<typeof RestoreOptionsSchema> {
  /** The key the backup was encrypted with. */
  readonly encryptionKey?: EncryptionKey;
  /** Runs `fallocate`/`blkdiscard` for the `punch`, `discard` and `zeroout` hole modes (default: a local runner). */
  readonly runner?: CommandRunner;
  /** Where block device sizes are read (default: this host's /sys). */
  readonly sysfs?: HostFs;
}

/** What a restore did. */
export interface RestoreReport {
  /** The backup restored. */
  readonly backupId: string;
  /** The target. */
  readonly path: string;
  /** Bytes restored (the backup's volume size). */
  readonly sizeBytes: number;
  /** Whether the restore created the target file. */
  readonly created: boolean;
  /** How holes were handled. */
  readonly holes: HoleMode;
  /** Chunks with data written. */
  readonly chunksWritten: number;
  /** Chunks that are holes. */
  readonly chunksHoles: number;
  /** Bytes written to the target. */
  readonly bytesWritten: number;
  /** Wall-clock duration. */
  readonly durationMs: number;
}

/**
 * Restores backup `backupId` (following its incremental chain) into a block device or file.
 *
 * A missing file is created sparse at the backup's size; an existing target must be at least that
 * big (`INVALID_ARGUMENT` otherwise, before anything is written). Chunks are fetched and decoded
 * on worker threads ahead of the writer, and written in order, each only after its stored sha256
 * and its rebuilt digest were checked: at the first corrupt chunk the restore stops with
 * `BACKUP_CORRUPT` naming it, and nothing from that chunk on is written. Holes are handled as
 * `target.holes` says (see `HoleModeSchema`); a file the restore created is deleted when it fails.
 *
 * @example
 * ```ts
 * const report = await restoreToTarget(repo, "b2", { path: "/var/lib/images/vol1-restored.raw" });
 * ```
 */
export function restoreToTarget(repo: BackupRepository, backupId: string, target: BlockTarget, options: RestoreOptions = {}): ResultAsync<RestoreReport, VolkitError> {
  const { encryptionKey, runner, sysfs, events: _e, logger: _l, signal: _s, deadline: _d, ...plain } = options;
  const checked = validate(BackupIdSchema, backupId, "backup id").andThen(() =>
    validate(RestoreOptionsSchema, plain, "restore options").andThen((o) =>
      validate(BlockTargetSchema, target, "restore target").andThen((t) => (encryptionKey === undefined ? ok(undefined) : deriveKeys(encryptionKey)).map((keys) => ({ o, t, keys }))),
    ),
  );
  if (checked.isErr()) return errAsync(checked.error);
  const { o, t, keys } = checked.value;
  const ctx = backupContext("restore", options);
  const started = Date.now();
  const io = { runner: runner ?? createLocalRunner(), sysfs: sysfs ?? createHostFs() };
  return loadForRestore(repo, backupId, keys, ctx).andThen((backup) => restoreLoaded(repo, backup, t, keys, o, io, ctx, started));
}
