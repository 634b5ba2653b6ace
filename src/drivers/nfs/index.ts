/**
 * The NFS volume driver (`volkit/drivers/nfs`): Cinder-compatible volume files on NFS shares —
 * sparse raw, thick raw or qcow2 — with qcow2 overlay snapshots (`.info` chain files), clones and
 * volumes from snapshots by `qemu-img convert`, extend, revert to the newest snapshot, and NFS
 * connection info for the NFS connector.
 *
 * @example
 * ```ts
 * import { createBackend } from "volkit";
 * const backend = (await createBackend({ driver: "nfs", shares: ["10.0.0.5:/export"], rootHelper: ["sudo", "-n"] }))._unsafeUnwrap();
 * const vol = await backend.createVolume({ id: "vol-1", sizeGiB: 10 });
 * ```
 *
 * @packageDocumentation
 */
import type { Result } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import type { DriverDeps } from "../driver-definition.js";
import { NfsConfigSchema, type NfsConfig } from "./nfs-config.js";
import type { NfsDriver } from "./nfs-driver.js";
import { buildNfsDriver } from "./nfs-factory.js";

export { NfsConfigSchema, NfsShareEntrySchema, resolveShares, type NfsConfig, type ParsedNfsConfig } from "./nfs-config.js";
export { NfsDriver, type NfsDriverDeps } from "./nfs-driver.js";
export { ShareFiles, type ShareFilesOptions } from "./nfs-files.js";
export { ShareSet, type Located, type ShareSetOptions, type ShareUsage } from "./nfs-share-set.js";
export { nfsDriverDefinition } from "../builtin-drivers.js";
export * from "./nfs-capacity.js";
export * from "./nfs-chain.js";
export * from "./nfs-names.js";
export * from "./nfs-parsers.js";

/**
 * Validates `config` and builds the NFS driver; wrap it with `wrapDriver` (or use `createBackend`,
 * which does both). Fails with `INVALID_CONFIG` naming every bad field (a share that is not
 * `host:/path`, mount options that try to smuggle arguments, an invalid shares file…) before
 * anything runs. Pass `deps.mounts` (the mount manager your NFS connector uses) so both count
 * references on the same mounts, or a `LocalDirectoryMounts` on a host without NFS.
 */
export function createNfsDriver(config: NfsConfig, deps: DriverDeps = {}): Result<NfsDriver, VolkitError> {
  return validate(NfsConfigSchema, config, "NFS driver config", "INVALID_CONFIG").andThen((parsed) => buildNfsDriver(parsed, deps));
}
