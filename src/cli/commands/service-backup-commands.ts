import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { ResultAsync, err, errAsync, ok, okAsync } from "neverthrow";
import { type z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { FilePathSchema, validate } from "../../core/validation.js";
import { DisplayNameSchema } from "../../service/records/record-fields.js";
import type { Painter } from "../colour.js";
import { group, leaf, type CliRun, type CommandContext } from "../command-kit.js";
import { fields, table } from "../output.js";
import { formatBytes } from "../units.js";
import { check, defined, done, idArg, optionalId, volumeFields, withService } from "./service-args.js";
import { SERVICE_OUTPUT_SCHEMAS as S, type BackupOutSchema } from "./service-schemas.js";
import { parseJson } from "../../core/parse-json.js";

/** `backup …`: backups through the service (chunked, verified, incremental; see volkit/backup). */

function backupFields(b: z.output<typeof BackupOutSchema>, paint: Painter): string {
  return fields(
    [
      ["id", b.id],
      ["name", b.name],
      ["volume", b.volumeId],
      ["status", b.status],
      ["size", `${b.sizeGiB} GiB`],
      ["parent", b.parentId],
      ["repository", b.repository],
      ["status reason", b.statusReason],
      ["created", b.createdAt],
    ],
    paint,
  );
}

function fileArg(ctx: CommandContext, value: unknown, what: string): ResultAsync<string, VolkitError> {
  return check(validate(FilePathSchema, typeof value === "string" ? resolve(ctx.env.cwd, value) : value, what));
}

const io = <T>(what: string, fn: () => Promise<T>): ResultAsync<T, VolkitError> =>
  ResultAsync.fromPromise(fn(), (e) => new VolkitError("INVALID_ARGUMENT", `cannot ${what}: ${(e as NodeJS.ErrnoException).code ?? "error"}`, { source: "cli" }));

/** The record text of `import-record`: a file, or stdin for `-`. */
function readRecord(ctx: CommandContext, source: unknown): ResultAsync<string, VolkitError> {
  if (source === "-") {
    return ResultAsync.fromSafePromise(
      (async () => {
        const lines: string[] = [];
        for (let line = await ctx.env.stdin.readLine(); line !== undefined; line = await ctx.env.stdin.readLine()) lines.push(line);
        return lines.join("\n");
      })(),
    );
  }
  return fileArg(ctx, source, "record file").andThen((path) => io(`read ${path}`, () => (ctx.env.readText ?? ((p: string) => readFile(p, "utf8")))(path)));
}

/** Registers `volkit backup …`. */
export function registerBackupCommands(program: Command, run: CliRun): void {
  const backup = group(program, "backup", "backups of volumes: create, list, restore, verify, carry records between hosts");
  leaf(backup, run, {
    name: "create <volume>",
    description: "back a volume up (full, or --incremental on its latest backup); progress bar, Ctrl-C rolls back",
    examples: ["backup create vol-1 --name nightly", "backup create vol-1 --incremental --json", "backup create vol-1 --force --repository offsite"],
    configure: (c) => c.option("--name <name>", "display name").option("--id <id>", "backup id (default: a new UUID)").option("--incremental", "only what changed since the latest backup").option("--force", "back up an in-use volume").option("--repository <name>", "configured backup repository (default: the default one)"),
    output: { schema: S["backup create"], human: (out, paint) => backupFields(out.backup, paint) },
    run: (ctx, a, o) =>
      ResultAsync.combine([
        check(idArg(a[0], "volume id")),
        optionalId(o.id, "--id"),
        check(validate(DisplayNameSchema.optional(), o.name, "--name")),
        optionalId(o.repository, "--repository"),
      ] as const).andThen(([volumeId, id, name, repository]) =>
        withService(ctx, (s, opts) => s.createBackup(defined({ volumeId, id, name, repository, incremental: o.incremental === true ? true : undefined, force: o.force === true ? true : undefined }), opts), "backup").map((b) => ({
          data: { backup: b },
        })),
      ),
  });
  leaf(backup, run, {
    name: "list",
    description: "list backups (of one volume with --volume)",
    examples: ["backup list", "backup list --volume vol-1 --json"],
    configure: (c) => c.option("--volume <id>", "only this volume's backups"),
    output: {
      schema: S["backup list"],
      human: (out, paint) => table(["id", "name", "volume", "status", "size", "parent", "created"], out.backups.map((b) => [b.id, b.name ?? "", b.volumeId, b.status, `${b.sizeGiB} GiB`, b.parentId ?? "", String(b.createdAt)]), paint),
    },
    run: (ctx, _a, o) =>
      optionalId(o.volume, "--volume").andThen((volumeId) =>
        withService(ctx, (s, opts) => s.listBackups(defined({ volumeId }), opts)).map((backups) => ({ data: { backups } })),
      ),
  });
  leaf(backup, run, {
    name: "show <id>",
    description: "show a backup",
    examples: ["backup show b-1", "backup show b-1 --json"],
    output: { schema: S["backup show"], human: (out, paint) => backupFields(out.backup, paint) },
    run: (ctx, a) => check(idArg(a[0], "backup id")).andThen((id) => withService(ctx, (s, opts) => s.getBackup(id, opts)).map((b) => ({ data: { backup: b } }))),
  });
  leaf(backup, run, {
    name: "restore <id>",
    description: "restore a backup into a new volume, or into an existing one with --volume; progress bar, Ctrl-C rolls back",
    examples: ["backup restore b-1", "backup restore b-1 --volume vol-2 --json", "backup restore b-1 --name restored --type fast"],
    configure: (c) => c.option("--volume <id>", "restore into this available volume").option("--name <name>", "name of the new volume").option("--type <type>", "type of the new volume"),
    output: { schema: S["backup restore"], human: (out, paint) => [done(paint, `backup ${out.backup.id} restored into volume ${out.volume.id}`), volumeFields(out.volume, paint)].join("\n") },
    run: (ctx, a, o) =>
      ResultAsync.combine([
        check(idArg(a[0], "backup id")),
        optionalId(o.volume, "--volume"),
        check(validate(DisplayNameSchema.optional(), o.name, "--name")),
        check(validate(DisplayNameSchema.min(1).optional(), o.type, "--type")),
      ] as const).andThen(([id, volumeId, name, type]) =>
        volumeId !== undefined && (name !== undefined || type !== undefined)
          ? errAsync(new VolkitError("INVALID_ARGUMENT", "--name and --type are for a new volume; not with --volume", { source: "cli" }))
          : withService(ctx, (s, opts) => s.restoreBackup(id, defined({ volumeId, name, type }), opts), "restore").map((r) => ({ data: { backup: r.backup, volume: r.volume } })),
      ),
  });
  leaf(backup, run, {
    name: "verify <id>",
    description: "re-read a backup and check every chunk's digest (BACKUP_CORRUPT names the problems)",
    examples: ["backup verify b-1", "backup verify b-1 --json"],
    output: {
      schema: S["backup verify"],
      human: (out, paint) => done(paint, `backup ${out.backupId} verified (${out.level}): ${out.chunksChecked} chunks, ${formatBytes(out.bytesFetched)} read in ${(out.durationMs / 1000).toFixed(1)} s`),
    },
    run: (ctx, a) => check(idArg(a[0], "backup id")).andThen((id) => withService(ctx, (s, opts) => s.verifyBackup(id, opts), "verify").map((r) => ({ data: r }))),
  });
  leaf(backup, run, {
    name: "delete <id>",
    description: "delete a backup (not while an incremental depends on it, unless --cascade deletes those too)",
    examples: ["backup delete b-1", "backup delete b-1 --cascade --json"],
    configure: (c) => c.option("--cascade", "also delete the incrementals that depend on it (newest first)"),
    output: {
      schema: S["backup delete"],
      human: (out, paint) => done(paint, out.deletedIds.length > 1 ? `deleted backups ${out.deletedIds.join(", ")}` : `deleted backup ${out.backupId}`),
    },
    run: (ctx, a, o) =>
      check(idArg(a[0], "backup id")).andThen((id) =>
        withService(ctx, (s, opts) => s.deleteBackup(id, o.cascade === true ? { cascade: true } : {}, opts)).map((deletedIds) => ({ data: { backupId: id, deleted: true as const, deletedIds: [...deletedIds] } })),
      ),
  });
  leaf(backup, run, {
    name: "export-record <id>",
    description: "print (or write with --output) a backup's self-checking record, to import on another host",
    examples: ["backup export-record b-1 > b-1.record.json", "backup export-record b-1 --output /srv/records/b-1.json"],
    configure: (c) => c.option("-o, --output <file>", "write the record to this new file (mode 0600) instead of stdout"),
    output: {
      schema: S["backup export-record"],
      // Without --output the record itself is the output, so `> file` captures exactly it.
      human: (out) => (out.file === undefined ? JSON.stringify(out.record) : `wrote the record of backup ${out.backupId} to ${out.file}`),
    },
    run: (ctx, a, o) =>
      ResultAsync.combine([check(idArg(a[0], "backup id")), o.output === undefined ? okAsync(undefined) : fileArg(ctx, o.output, "--output")] as const).andThen(([id, file]) =>
        withService(ctx, (s, opts) => s.exportBackupRecord(id, opts)).andThen((text) => {
          const parsed = parseJson(text, { what: "the service's backup record", source: "cli", code: "INTERNAL" }).andThen((v) =>
            v !== null && typeof v === "object" && !Array.isArray(v) ? ok(v as Record<string, unknown>) : err(new VolkitError("INTERNAL", "the service's backup record is not a JSON object", { source: "cli" })),
          );
          return parsed.asyncAndThen((record) =>
            (file === undefined ? okAsync(undefined) : io(`write ${file}`, () => writeFile(file, `${text}\n`, { mode: 0o600, flag: "wx" }))).map(() => ({ data: { backupId: id, record, ...(file === undefined ? {} : { file }) } })),
          );
        }),
      ),
  });
  leaf(backup, run, {
    name: "import-record <file>",
    description: "import a record made by export-record (`-` reads stdin); the repository must hold the backup's objects",
    examples: ["backup import-record /srv/records/b-1.json", "backup import-record - < b-1.record.json", "backup import-record b-1.json --repository offsite --json"],
    configure: (c) => c.option("--repository <name>", "configured backup repository holding the backup's objects (default: the default one)"),
    output: { schema: S["backup import-record"], human: (out, paint) => backupFields(out.backup, paint) },
    run: (ctx, a, o) =>
      ResultAsync.combine([readRecord(ctx, a[0]), optionalId(o.repository, "--repository")] as const).andThen(([text, repository]) =>
        withService(ctx, (s, opts) => s.importBackupRecord(text, defined({ repository }), opts)).map((b) => ({ data: { backup: b } })),
      ),
  });
}
