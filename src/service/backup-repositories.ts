import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../core/errors.js";
import type { CommandRunner } from "../exec/runner.js";
import { LocalDirectoryRepositoryOptionsSchema, createLocalDirectoryRepository } from "../backup/local-repository.js";
import { NfsBackupRepositoryOptionsSchema, createNfsBackupRepository } from "../backup/nfs-repository.js";
import type { BackupRepository } from "../backup/repository.js";
import { S3RepositoryOptionsSchema } from "../backup/s3-options.js";
import { createNfsMountManager } from "../remotefs/nfs-mount-manager.js";

/** Name of a configured repository (what backup records and callers name it by). */
export const BackupRepositoryNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit");

const Common = {
  /** Name backups records refer to (never the credentials). */
  name: BackupRepositoryNameSchema.meta({ title: "Name", description: "Repository name kept in backup records." }),
  /** The repository backups go to when the caller names none (exactly one when several are configured). */
  default: z.boolean().default(false).meta({ title: "Default", description: "Used when a backup names no repository." }),
};

/**
 * One backup repository of the service: a directory of this host, a directory on an NFS share, or
 * an S3 bucket. The S3 keys are secrets (registered when the config is validated) and never
 * reach a backup record, which holds only the repository's `name`.
 */
export const ServiceBackupRepositoryConfigSchema = z.discriminatedUnion("type", [
  z.object({ ...Common, type: z.literal("directory").meta({ title: "Type" }), options: LocalDirectoryRepositoryOptionsSchema.meta({ title: "Options", description: "Directory repository options." }) }),
  z.object({ ...Common, type: z.literal("nfs").meta({ title: "Type" }), options: NfsBackupRepositoryOptionsSchema.meta({ title: "Options", description: "NFS share and directory." }) }),
  z.object({ ...Common, type: z.literal("s3").meta({ title: "Type" }), options: S3RepositoryOptionsSchema.meta({ title: "Options", description: "S3 endpoint, bucket and credentials." }) }),
]);
/** A backup repository entry (input form). */
export type ServiceBackupRepositoryConfig = z.input<typeof ServiceBackupRepositoryConfigSchema>;
/** A backup repository entry (parsed). */
export type ParsedServiceBackupRepositoryConfig = z.output<typeof ServiceBackupRepositoryConfigSchema>;

/** The `backupRepositories` section: names unique, at most one default. */
export const ServiceBackupRepositoriesSchema = z
  .array(ServiceBackupRepositoryConfigSchema)
  .max(64)
  .default([])
  .superRefine((repos, ctx) => {
    const seen = new Set<string>();
    repos.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `${r.name} is configured twice` });
      seen.add(r.name);
    });
    if (repos.filter((r) => r.default).length > 1) ctx.addIssue({ code: "custom", path: [], message: "at most one backup repository may be the default" });
  })
  .meta({ title: "Backup repositories", description: "Where backups go: directory, nfs or s3; one default." });

/** The configured repository named `name`, or the default one (the only one when there is one). */
export function repositoryConfig(repos: readonly ParsedServiceBackupRepositoryConfig[], name: string | undefined): ParsedServiceBackupRepositoryConfig | VolkitError {
  if (name !== undefined) {
    return repos.find((r) => r.name === name) ?? new VolkitError("INVALID_ARGUMENT", `no backup repository named ${name}`, { source: "service", details: { repository: name, configured: repos.map((r) => r.name) } });
  }
  const chosen = repos.find((r) => r.default) ?? (repos.length === 1 ? repos[0] : undefined);
  if (chosen !== undefined) return chosen;
  return new VolkitError("INVALID_CONFIG", repos.length === 0 ? "no backup repository is configured (backupRepositories)" : "no default backup repository: name one or mark one default", {
    source: "service",
    details: { configured: repos.map((r) => r.name) },
  });
}

/**
 * How the service opens a configured repository: `openRepository` unless the caller hands
 * its own (a test injecting a fault after N objects, a repository wrapped with metrics).
 */
export type RepositoryOpener = (entry: ParsedServiceBackupRepositoryConfig, runner: CommandRunner) => ResultAsync<BackupRepository, VolkitError>;

/** Opens a configured repository (the caller closes it). NFS shares are mounted through a mount manager on `runner`. */
export function openRepository(entry: ParsedServiceBackupRepositoryConfig, runner: CommandRunner): ResultAsync<BackupRepository, VolkitError> {
  switch (entry.type) {
    case "directory": {
      const repo = createLocalDirectoryRepository(entry.options);
      return repo.isOk() ? okAsync(repo.value) : errAsync(repo.error);
    }
    case "nfs": {
      const mounts = createNfsMountManager(runner);
      return mounts.isOk() ? createNfsBackupRepository(entry.options, mounts.value) : errAsync(mounts.error);
    }
    case "s3":
      // The AWS SDK is loaded only by a service that opens an S3 repository (it is most of what a
      // service would load otherwise: hundreds of modules before the first command).
      return ResultAsync.fromPromise(import("../backup/s3-repository.js"), (e) => new VolkitError("INTERNAL", `cannot load the S3 backup repository: ${String(e)}`, { source: "service", cause: e })).andThen((m) =>
        m.createS3BackupRepository(entry.options),
      );
  }
}
