import type { Command } from "commander";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import { BackendNameSchema, DisplayNameSchema } from "../../service/records/record-fields.js";
import { ExtraSpecKeySchema } from "../../service/records/volume-type-record.js";
import { group, leaf, type CliRun, type CommandContext } from "../command-kit.js";
import { EXIT_CODES, EXIT_OK } from "../exit-codes.js";
import { fields, table } from "../output.js";
import type { HostResidue } from "../service-like.js";
import { registerBackupCommands } from "./service-backup-commands.js";
import { check, collect, defined, done, idArg, optionalId, keyValues, withService } from "./service-args.js";
import { SERVICE_OUTPUT_SCHEMAS as S } from "./service-schemas.js";
import { registerVolumeCommands } from "./service-volume-commands.js";

/**
 * The service-backed commands: `type`, `volume`, `snapshot`, `backup`, `image-cache`, `reconcile`
 * and `host cleanup`. Each checks its arguments (nothing reaches the service on bad input), calls
 * one {@link ServiceLike} method with Ctrl-C and progress wired in, and prints the result through
 * its schema in SERVICE_OUTPUT_SCHEMAS. The service itself is bound in main.ts.
 */

const TypeRefSchema = DisplayNameSchema.min(1);

function registerTypeCommands(program: Command, run: CliRun): void {
  const type = group(program, "type", "volume types: extra specs that route volumes to pools");
  const typeFields = (t: z.output<(typeof S)["type show"]>["type"], paint: Parameters<typeof fields>[1]): string =>
    fields(
      [
        ["id", t.id],
        ["name", t.name],
        ["description", t.description],
        ["public", t.isPublic],
        ["qos specs", t.qosSpecsId],
        ...Object.entries(t.extraSpecs).map(([k, v]) => [`spec ${k}`, v] as const),
      ],
      paint,
    );
  leaf(type, run, {
    name: "create <name>",
    description: "create a volume type",
    examples: ["type create fast --extra-spec volume_backend_name=lvm-a", "type create thin-ssd --extra-spec provisioning:type=thin --extra-spec 'capabilities:disk_type=<in> ssd'"],
    configure: (c) => c.option("--extra-spec <key=value>", "extra spec (repeatable)", collect).option("--description <text>", "description").option("--private", "not public"),
    output: { schema: S["type create"], human: (out, paint) => typeFields(out.type, paint) },
    run: (ctx, a, o) =>
      ResultAsync.combine([
        check(validate(TypeRefSchema, a[0], "type name")),
        check(keyValues(o.extraSpec, "--extra-spec", ExtraSpecKeySchema, z.string().max(1024))),
        check(validate(z.string().max(1024).optional(), o.description, "--description")),
      ] as const).andThen(([name, extraSpecs, description]) =>
        withService(ctx, (s, opts) => s.createType(defined({ name, extraSpecs, description, isPublic: o.private === true ? false : undefined }), opts)).map((t) => ({ data: { type: t } })),
      ),
  });
  leaf(type, run, {
    name: "list",
    description: "list volume types",
    examples: ["type list", "type list --json"],
    output: {
      schema: S["type list"],
      human: (out, paint) => table(["id", "name", "extra specs", "public"], out.types.map((t) => [t.id, t.name, Object.entries(t.extraSpecs).map(([k, v]) => `${k}=${v}`).join(", "), t.isPublic ? "yes" : "no"]), paint),
    },
    run: (ctx) => withService(ctx, (s, opts) => s.listTypes(opts)).map((types) => ({ data: { types } })),
  });
  leaf(type, run, {
    name: "show <type>",
    description: "show a volume type (by name or id)",
    examples: ["type show fast", "type show fast --json"],
    output: { schema: S["type show"], human: (out, paint) => typeFields(out.type, paint) },
    run: (ctx, a) => check(validate(TypeRefSchema, a[0], "type")).andThen((name) => withService(ctx, (s, opts) => s.getType(name, opts)).map((t) => ({ data: { type: t } }))),
  });
  leaf(type, run, {
    name: "delete <type>",
    description: "delete a volume type no volume uses",
    examples: ["type delete fast"],
    output: { schema: S["type delete"], human: (out, paint) => done(paint, `deleted type ${out.type}`) },
    run: (ctx, a) => check(validate(TypeRefSchema, a[0], "type")).andThen((name) => withService(ctx, (s, opts) => s.deleteType(name, opts)).map(() => ({ data: { type: name, deleted: true as const } }))),
  });
}

function registerSnapshotCommands(program: Command, run: CliRun): void {
  const snapshot = group(program, "snapshot", "snapshots (take one with `volume snapshot`)");
  leaf(snapshot, run, {
    name: "list",
    description: "list snapshots (of one volume with --volume)",
    examples: ["snapshot list", "snapshot list --volume vol-1 --json"],
    configure: (c) => c.option("--volume <id>", "only this volume's snapshots"),
    output: { schema: S["snapshot list"], human: (out, paint) => table(["id", "name", "volume", "size", "status"], out.snapshots.map((s) => [s.id, s.name ?? "", s.volumeId, `${s.sizeGiB} GiB`, s.status]), paint) },
    run: (ctx, _a, o) =>
      optionalId(o.volume, "--volume").andThen((volumeId) =>
        withService(ctx, (s, opts) => s.listSnapshots(defined({ volumeId }), opts)).map((snapshots) => ({ data: { snapshots } })),
      ),
  });
  leaf(snapshot, run, {
    name: "delete <id>",
    description: "delete a snapshot",
    examples: ["snapshot delete snap-1"],
    output: { schema: S["snapshot delete"], human: (out, paint) => done(paint, `deleted snapshot ${out.snapshotId}`) },
    run: (ctx, a) => check(idArg(a[0], "snapshot id")).andThen((id) => withService(ctx, (s, opts) => s.deleteSnapshot(id, opts)).map(() => ({ data: { snapshotId: id, deleted: true as const } }))),
  });
}

function registerImageCacheCommands(program: Command, run: CliRun): void {
  const cache = group(program, "image-cache", "the image volume cache: converted images kept per pool for fast clones");
  const cacheRows = (entries: z.output<(typeof S)["image-cache list"]>["entries"]): string[][] =>
    entries.map((e) => [e.id, e.imageId, `${e.backend}#${e.pool}`, e.volumeId, `${e.sizeGiB} GiB`, String(e.hits), String(e.lastUsedAt)]);
  const header = ["id", "image", "backend#pool", "volume", "size", "hits", "last used"];
  leaf(cache, run, {
    name: "list",
    description: "list image-cache entries (least recently used first)",
    examples: ["image-cache list", "image-cache list --json"],
    output: { schema: S["image-cache list"], human: (out, paint) => table(header, cacheRows(out.entries), paint) },
    run: (ctx) => withService(ctx, (s, opts) => s.listImageCache(opts)).map((entries) => ({ data: { entries } })),
  });
  leaf(cache, run, {
    name: "purge",
    description: "remove cache entries and their volumes (--all, or by --image / --backend)",
    examples: ["image-cache purge --image debian-12", "image-cache purge --all --json"],
    configure: (c) => c.option("--all", "every entry").option("--image <id>", "entries of this image").option("--backend <name>", "entries on this backend"),
    output: { schema: S["image-cache purge"], human: (out, paint) => [done(paint, `removed ${out.removed.length} entries`), table(header, cacheRows(out.removed), paint)].join("\n") },
    run: (ctx, _a, o) =>
      ResultAsync.combine([
        check(validate(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an image id").optional(), o.image, "--image")),
        check(validate(BackendNameSchema.optional(), o.backend, "--backend")),
      ] as const).andThen(([imageId, backend]) =>
        o.all !== true && imageId === undefined && backend === undefined
          ? errAsync(new VolkitError("INVALID_ARGUMENT", "say what to purge: --all, --image or --backend", { source: "cli" }))
          : withService(ctx, (s, opts) => s.purgeImageCache(defined({ all: o.all === true ? true : undefined, imageId, backend }), opts)).map((removed) => ({ data: { removed } })),
      ),
  });
}

function registerReconcile(program: Command, run: CliRun): void {
  leaf(program, run, {
    name: "reconcile",
    description: "repair records stuck in a transient status after a crash: complete or roll back each operation, by what the backend and this host hold",
    examples: ["reconcile --dry-run", "reconcile --volume vol-1 --json"],
    configure: (c) => c.option("--volume <id>", "only this volume").option("--dry-run", "decide and report, change nothing"),
    output: {
      schema: S.reconcile,
      human: (out, paint) =>
        [
          `${out.dryRun ? "dry run: " : ""}examined ${out.examined} records, ${out.actions.length} decisions`,
          table(["kind", "id", "operation", "from", "to", "decision", "applied", "reason"], out.actions.map((x) => [x.kind, x.id, x.operation, x.from, x.to, x.decision, x.applied ? "yes" : x.errorCode ?? "no", x.reason]), paint),
        ].join("\n"),
    },
    run: (ctx, _a, o) =>
      optionalId(o.volume, "--volume").andThen((volumeId) =>
        withService(ctx, (s, opts) => s.reconcile(defined({ volumeId, dryRun: o.dryRun === true }), opts)).map((r) => ({ data: r })),
      ),
  });
}

/** Asks on the terminal; anything but y/yes is no. */
function confirm(ctx: CommandContext, question: string): ResultAsync<boolean, never> {
  ctx.env.stderr.write(`${question} [y/N] `);
  return ResultAsync.fromSafePromise(ctx.env.stdin.readLine().then((answer) => /^(y|yes)$/i.test((answer ?? "").trim())));
}

function registerHostCleanup(host: Command, run: CliRun): void {
  const residueRows = (items: readonly { kind: string; name: string; volumeId?: string | undefined; reason: string; removal: string }[]): string[][] =>
    items.map((r) => [r.kind, r.name, r.volumeId ?? "", r.reason, r.removal]);
  const header = ["kind", "name", "volume", "why", "removed by"];
  leaf(host, run, {
    name: "cleanup",
    description: "remove what volumes left on this host that no attachment record claims: shows the list, then asks (or --yes)",
    examples: ["host cleanup", "host cleanup --yes --json", "host cleanup --dry-run"],
    configure: (c) => c.option("-y, --yes", "remove without asking").option("--dry-run", "only show what would be removed"),
    output: {
      schema: S["host cleanup"],
      human: (out, paint) =>
        [
          out.planned.length === 0 ? done(paint, "nothing to clean up: every volkit object on this host is claimed by an attachment record") : table(header, residueRows(out.planned), paint),
          ...(out.planned.length === 0
            ? []
            : [out.confirmed ? done(paint, `removed ${out.removed.length}, failed ${out.failed.length}, skipped ${out.skipped.length}`) : paint.paint("dim", "nothing removed (pass --yes, or answer y)")]),
          ...out.failed.map((f) => paint.paint("bad", `  ${f.kind} ${f.name}: ${f.errorCode}: ${f.message}`)),
        ].join("\n"),
    },
    run: (ctx, _a, o) =>
      withService(ctx, (service, opts) =>
        service.planHostCleanup(opts).andThen((planned) => {
          const nothing = { planned: [...planned], confirmed: false, removed: [] as HostResidue[], failed: [], skipped: [] as HostResidue[] };
          if (planned.length === 0 || o.dryRun === true) return okAsync(nothing);
          // Ask only a person at a terminal; --json and scripts without --yes get the plan alone.
          const ask =
            o.yes === true
              ? okAsync(true)
              : ctx.json || ctx.env.stdin.isTTY !== true
                ? okAsync(false)
                : (ctx.env.stderr.write(`${table(header, residueRows(planned), ctx.paintErr)}\n`), confirm(ctx, `Remove these ${planned.length} items?`));
          return ask.andThen((yes) => (yes ? service.hostCleanup(planned, opts).map((r) => ({ planned: [...planned], confirmed: true, removed: [...r.removed], failed: [...r.failed], skipped: [...r.skipped] })) : okAsync(nothing)));
        }),
      ).map((data) => {
        // A failed item exits with its error's code (the report is still printed in full).
        const failed = data.failed[0]?.errorCode;
        return { data, exitCode: failed === undefined ? EXIT_OK : ((EXIT_CODES as Record<string, number>)[failed] ?? EXIT_CODES.INTERNAL) };
      }),
  });
}

/** Registers every service-backed command (the `host` group from host.ts gets `cleanup`). */
export function registerServiceCommands(program: Command, run: CliRun, host: Command): void {
  registerTypeCommands(program, run);
  registerVolumeCommands(program, run);
  registerSnapshotCommands(program, run);
  registerBackupCommands(program, run);
  registerImageCacheCommands(program, run);
  registerReconcile(program, run);
  registerHostCleanup(host, run);
}
