/**
 * The NFS volume driver (`volkit/drivers/nfs`): Cinder-compatible volume files on NFS shares —
 * sparse raw, thick raw or qcow2 — with qcow2 overlay snapshots (`.info` chain files), clones and
 * volumes from snapshots by `qemu-img convert`, extend, revert to the newest snapshot, and NFS
 * connection info for the NFS connector.
 *
 * @example
 * ```ts
 * import { createNfsDriver } from "volkit/drivers/nfs";
 * const backend = createNfsDriver({ driver: "nfs", shares: ["10.0.0.5:/export"], rootHelper: ["sudo", "-n"] })._unsafeUnwrap();
 * const vol = await backend.createVolume({ id: "vol-1", sizeGiB: 10 });
 * ```
 *
 * @packageDocumentation
 */
import { ok, type Result } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import { createLocalRunner } from "../../exec/local-runner.js";
import type { Argv, CommandRunner } from "../../exec/runner.js";
import type { MountManager } from "../../remotefs/mount-manager.js";
import { createNfsMountManager } from "../../remotefs/nfs-mount-manager.js";
import { VolumeBackend, type BackendOptions } from "../backend.js";
import { NfsConfigSchema, resolveShares, type NfsConfig } from "./nfs-config.js";
import { NfsDriver } from "./nfs-driver.js";

export { NfsConfigSchema, NfsShareEntrySchema, resolveShares, type NfsConfig, type ParsedNfsConfig } from "./nfs-config.js";
export { NfsDriver, type NfsDriverDeps } from "./nfs-driver.js";
export { ShareFiles, type ShareFilesOptions } from "./nfs-files.js";
export { ShareSet, type Located, type ShareSetOptions, type ShareUsage } from "./nfs-share-set.js";
export * from "./nfs-capacity.js";
export * from "./nfs-chain.js";
export * from "./nfs-names.js";
export * from "./nfs-parsers.js";

/** Options for {@link createNfsDriver}. */
export interface CreateNfsDriverOptions extends BackendOptions {
  /** Runner for file commands and probes (default: local, unprivileged). */
  readonly runner?: CommandRunner;
  /**
   * Mount manager (default: an `NfsMountManager` from the config's mount settings, using
   * `rootHelper` for mount/umount). Pass the one your NFS connector uses so both count references
   * on the same mounts, or a `LocalDirectoryMounts` on a host without NFS.
   */
  readonly mounts?: MountManager;
}

/**
 * Validates `config` and builds the NFS driver inside the volkit runtime. Fails with
 * `INVALID_CONFIG` naming every bad field (a share that is not `host:/path`, mount options that
 * try to smuggle arguments, an invalid shares file…) before anything runs.
 */
export function createNfsDriver(config: NfsConfig, options: CreateNfsDriverOptions = {}): Result<VolumeBackend, VolkitError> {
  return validate(NfsConfigSchema, config, "NFS driver config", "INVALID_CONFIG").andThen((parsed) =>
    resolveShares(parsed).andThen((shares) => {
      const runner = options.runner ?? createLocalRunner();
      const fileRunner = !parsed.secureFileOperations && parsed.rootHelper?.length ? prefixedRunner(runner, parsed.rootHelper) : runner;
      const mounts: Result<MountManager, VolkitError> = options.mounts
        ? ok(options.mounts)
        : createNfsMountManager(runner, {
            mountPointBase: parsed.mountPointBase,
            mountAttempts: parsed.mountAttempts,
            mountTimeoutMs: parsed.mountTimeoutMs,
            probeTimeoutMs: parsed.probeTimeoutMs,
            ...(parsed.rootHelper ? { rootHelper: parsed.rootHelper } : {}),
            ...(parsed.nfsVersions ? { versions: parsed.nfsVersions } : {}),
            ...(parsed.mountOptions === undefined ? {} : { mountOptions: parsed.mountOptions }),
          });
      return mounts.map(
        (m) => new VolumeBackend(new NfsDriver(parsed, shares, { runner: fileRunner, mounts: m }), { name: parsed.backendName ?? "nfs", ...options }),
      );
    }),
  );
}

/** A runner that prepends `prefix` (a root helper) to every command. */
function prefixedRunner(runner: CommandRunner, prefix: readonly string[]): CommandRunner {
  return {
    description: `${runner.description} via ${prefix.join(" ")}`,
    run: (spec) => runner.run({ ...spec, argv: [...prefix, ...spec.argv] as unknown as Argv }),
  };
}
