import { ok, type Result } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import { createLocalRunner } from "../../exec/local-runner.js";
import { elevatedRunner } from "../../exec/root-helper.js";
import type { MountManager } from "../../remotefs/mount-manager.js";
import { createNfsMountManager } from "../../remotefs/nfs-mount-manager.js";
import type { DriverDeps } from "../driver-definition.js";
import { resolveShares, type ParsedNfsConfig } from "./nfs-config.js";
import { NfsDriver } from "./nfs-driver.js";

/**
 * Builds the NFS driver from a parsed config: the file runner (unprivileged in secure mode, else
 * through the root helper) and the mount manager (the one in `deps`, shared with the NFS connector,
 * or a new one using the root helper for mount/umount). Loaded lazily by the registry.
 */
export function buildNfsDriver(config: ParsedNfsConfig, deps: DriverDeps = {}): Result<NfsDriver, VolkitError> {
  return resolveShares(config).andThen((shares) => {
    const runner = deps.runner ?? createLocalRunner();
    const fileRunner = config.secureFileOperations ? runner : elevatedRunner(runner, config.rootHelper ?? []);
    const mounts: Result<MountManager, VolkitError> = deps.mounts
      ? ok(deps.mounts)
      : createNfsMountManager(runner, {
          mountPointBase: config.mountPointBase,
          mountAttempts: config.mountAttempts,
          mountTimeoutMs: config.mountTimeoutMs,
          probeTimeoutMs: config.probeTimeoutMs,
          ...(config.rootHelper ? { rootHelper: config.rootHelper } : {}),
          ...(config.nfsVersions ? { versions: config.nfsVersions } : {}),
          ...(config.mountOptions === undefined ? {} : { mountOptions: config.mountOptions }),
        });
    return mounts.map((m) => new NfsDriver(config, shares, { runner: fileRunner, mounts: m }));
  });
}
