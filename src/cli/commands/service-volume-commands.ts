import { resolve } from "node:path";
import type { Command } from "commander";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { ExistingRefSchema } from "../../core/records.js";
import { FilePathSchema, validate } from "../../core/validation.js";
import { BackendNameSchema, DisplayNameSchema, PoolNameSchema } from "../../service/records/record-fields.js";
import { AttachStatusSchema, MigrationStatusSchema, VOLUME_STATUSES, VolumeStatusSchema } from "../../service/state-machine.js";
import { group, leaf, type CliRun } from "../command-kit.js";
import { fields, table } from "../output.js";
import type { CreateVolumeRequest, VolumeSourceRequest } from "../service-like.js";
import { check, collect, defined, done, idArg, optionalId, keyValues, sizeArg, volumeFields, volumeTable, withService } from "./service-args.js";
import { SERVICE_OUTPUT_SCHEMAS as S, attachmentOut } from "./service-schemas.js";

/** `volume …`: the volume lifecycle through the service (see {@link ServiceLike}). */

const TypeRefSchema = DisplayNameSchema.min(1);
const ZoneSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an availability zone name");
const MetaKey = z.string().min(1).max(255);
const MetaValue = z.string().max(1024);
const DestinationSchema = z.string().refine((s) => {
  const [backend, pool, ...rest] = s.split("#");
  return rest.length === 0 && BackendNameSchema.safeParse(backend).success && (pool === undefined || PoolNameSchema.safeParse(pool).success);
}, "must be backend or backend#pool");
const Sha256Schema = z.string().regex(/^[A-Fa-f0-9]{64}$/, "must be 64 hex digits");
const DiskDevSchema = z.string().regex(/^(vd|sd|hd|xvd)[a-z]{1,3}$/, "must be a disk target like vdb or sdc");

/** The source of `volume create` from its three exclusive options. */
function sourceOf(options: Readonly<Record<string, unknown>>, cwd: string) {
  const given = (["snapshot", "sourceVolume", "image"] as const).filter((k) => options[k] !== undefined);
  if (given.length > 1) return errAsync(new VolkitError("INVALID_ARGUMENT", "give at most one of --snapshot, --source-volume, --image", { source: "cli" }));
  if (options.snapshot !== undefined) return check(idArg(options.snapshot, "--snapshot").map((snapshotId): VolumeSourceRequest => ({ kind: "snapshot", snapshotId })));
  if (options.sourceVolume !== undefined) return check(idArg(options.sourceVolume, "--source-volume").map((volumeId): VolumeSourceRequest => ({ kind: "volume", volumeId })));
  if (options.image !== undefined) {
    if (options.imageFile === undefined || options.imageSha256 === undefined) return errAsync(new VolkitError("INVALID_ARGUMENT", "--image needs --image-file <path> and --image-sha256 <hex>", { source: "cli" }));
    return check(
      validate(ZoneSchema, options.image, "--image").andThen((imageId) =>
        validate(FilePathSchema, typeof options.imageFile === "string" ? resolve(cwd, options.imageFile) : options.imageFile, "--image-file").andThen((path) =>
          validate(Sha256Schema, options.imageSha256, "--image-sha256").andThen((sha256) =>
            validate(z.enum(["raw", "qcow2"]).optional(), options.imageFormat, "--image-format").map((format): VolumeSourceRequest => ({ kind: "image", imageId, path, sha256, ...(format === undefined ? {} : { format }) })),
          ),
        ),
      ),
    );
  }
  if (options.imageFile !== undefined || options.imageSha256 !== undefined || options.imageFormat !== undefined) {
    return errAsync(new VolkitError("INVALID_ARGUMENT", "--image-file, --image-sha256 and --image-format go with --image", { source: "cli" }));
  }
  return okAsync<VolumeSourceRequest | undefined, VolkitError>(undefined);
}

/** Registers `volkit volume …`. */
export function registerVolumeCommands(program: Command, run: CliRun): void {
  const volume = group(program, "volume", "volumes through the service: create, attach, extend, snapshot, migrate, repair");
  const one = (name: string, description: string) => ({ name: `${name} <id>`, description });

  leaf(volume, run, {
    name: "create",
    description: "schedule and create a volume (blank, or from a snapshot, a volume or an image)",
    examples: ["volume create --size 10 --type fast --name db1", "volume create --size 20 --snapshot snap-1 --json", "volume create --size 8 --image debian-12 --image-file /srv/images/debian-12.qcow2 --image-sha256 <hex> --metadata owner=ops", "volume create --size 10 --type shared --multiattach"],
    configure: (c) =>
      c
        .requiredOption("-s, --size <GiB>", "size in GiB")
        .option("--name <name>", "display name")
        .option("--id <id>", "volume id (default: a new UUID); repeating an identical create is not an error")
        .option("--type <type>", "volume type (name or id)")
        .option("--availability-zone <zone>", "availability zone")
        .option("--snapshot <id>", "create from this snapshot")
        .option("--source-volume <id>", "clone this volume")
        .option("--image <id>", "create from this image (cached per pool; with --image-file and --image-sha256)")
        .option("--image-file <path>", "the image file of --image on this host")
        .option("--image-sha256 <hex>", "its sha256, checked before use")
        .option("--image-format <format>", "raw or qcow2 (default: probed)")
        .option("--multiattach", "several hosts may attach it (the --type must have extra spec multiattach='<is> True')")
        .option("--metadata <key=value>", "metadata (repeatable)", collect),
    output: { schema: S["volume create"], human: (out, paint) => volumeFields(out.volume, paint) },
    run: (ctx, _a, o) =>
      ResultAsync.combine([
        check(sizeArg(o.size, "--size")),
        optionalId(o.id, "--id"),
        check(validate(DisplayNameSchema.optional(), o.name, "--name")),
        check(validate(TypeRefSchema.optional(), o.type, "--type")),
        check(validate(ZoneSchema.optional(), o.availabilityZone, "--availability-zone")),
        sourceOf(o, ctx.env.cwd),
        check(keyValues(o.metadata, "--metadata", MetaKey, MetaValue)),
      ] as const).andThen(([sizeGiB, id, name, type, availabilityZone, source, metadata]) => {
        const request: CreateVolumeRequest = defined({ sizeGiB, id, name, type, availabilityZone, source, multiattach: o.multiattach === true ? true : undefined, metadata: Object.keys(metadata).length ? metadata : undefined });
        return withService(ctx, (s, opts) => s.createVolume(request, opts), "volume").map((v) => ({ data: { volume: v } }));
      }),
  });

  leaf(volume, run, {
    name: "list",
    description: "list volumes (oldest first)",
    examples: ["volume list", "volume list --status error,error_deleting --json", "volume list --backend lvm-a --limit 50"],
    configure: (c) => c.option("--status <statuses>", `comma-separated statuses (${VOLUME_STATUSES.slice(0, 4).join(", ")}…)`).option("--backend <name>", "only this backend").option("--limit <n>", "at most n volumes"),
    output: { schema: S["volume list"], human: (out, paint) => volumeTable(out.volumes, paint) },
    run: (ctx, _a, o) =>
      ResultAsync.combine([
        check(validate(z.string().transform((s) => s.split(",").filter((x) => x !== "")).pipe(z.array(VolumeStatusSchema)).optional(), o.status, "--status")),
        check(validate(BackendNameSchema.optional(), o.backend, "--backend")),
        check(validate(z.string().regex(/^\d+$/, "must be a number").transform(Number).pipe(z.number().int().min(1).max(100_000)).optional(), o.limit, "--limit")),
      ] as const).andThen(([status, backend, limit]) => withService(ctx, (s, opts) => s.listVolumes(defined({ status, backend, limit }), opts)).map((volumes) => ({ data: { volumes } }))),
  });

  leaf(volume, run, {
    ...one("show", "show a volume with its attachments and snapshots"),
    examples: ["volume show vol-1", "volume show vol-1 --json"],
    output: {
      schema: S["volume show"],
      human: (out, paint) =>
        [
          volumeFields(out.volume, paint),
          "",
          paint.paint("bold", "Attachments"),
          table(["id", "host", "status", "mode", "device", "instance"], out.attachments.map((a) => [String(a.id), String(a.host), String(a.attachStatus), String(a.attachMode), String(a.devicePath ?? ""), String(a.instanceId ?? "")]), paint),
          "",
          paint.paint("bold", "Snapshots"),
          table(["id", "name", "size", "status"], out.snapshots.map((sn) => [sn.id, sn.name ?? "", `${sn.sizeGiB} GiB`, sn.status]), paint),
        ].join("\n"),
    },
    run: (ctx, a) =>
      check(idArg(a[0], "volume id")).andThen((id) =>
        withService(ctx, (s, opts) => s.getVolume(id, opts)).map((d) => ({ data: { volume: d.volume, attachments: d.attachments.map(attachmentOut), snapshots: d.snapshots } })),
      ),
  });

  leaf(volume, run, {
    ...one("delete", "delete a volume (available or in an error status, no snapshots unless --cascade, not attached)"),
    examples: ["volume delete vol-1", "volume delete vol-1 --cascade"],
    configure: (c) => c.option("--cascade", "delete its snapshots with it"),
    output: { schema: S["volume delete"], human: (out, paint) => done(paint, `deleted volume ${out.volumeId}`) },
    run: (ctx, a, o) =>
      check(idArg(a[0], "volume id")).andThen((id) => withService(ctx, (s, opts) => s.deleteVolume(id, { cascade: o.cascade === true }, opts), "wipe").map(() => ({ data: { volumeId: id, deleted: true as const } }))),
  });

  leaf(volume, run, {
    ...one("extend", "grow a volume (online when attached and the backend supports it)"),
    examples: ["volume extend vol-1 --size 20"],
    configure: (c) => c.requiredOption("-s, --size <GiB>", "new size in GiB"),
    output: { schema: S["volume extend"], human: (out, paint) => done(paint, `volume ${out.volume.id} is ${out.volume.sizeGiB} GiB`) },
    run: (ctx, a, o) =>
      ResultAsync.combine([check(idArg(a[0], "volume id")), check(sizeArg(o.size, "--size"))] as const).andThen(([id, size]) =>
        withService(ctx, (s, opts) => s.extendVolume(id, size, opts), "extend").map((v) => ({ data: { volume: v } })),
      ),
  });

  leaf(volume, run, {
    ...one("snapshot", "take a snapshot of a volume"),
    examples: ["volume snapshot vol-1 --name before-upgrade", "volume snapshot vol-1 --force --json"],
    configure: (c) => c.option("--name <name>", "display name").option("--id <id>", "snapshot id (default: a new UUID)").option("--force", "snapshot an in-use volume"),
    output: { schema: S["volume snapshot"], human: (out, paint) => done(paint, `snapshot ${out.snapshot.id} of volume ${out.snapshot.volumeId} (${out.snapshot.status})`) },
    run: (ctx, a, o) =>
      ResultAsync.combine([
        check(idArg(a[0], "volume id")),
        optionalId(o.id, "--id"),
        check(validate(DisplayNameSchema.optional(), o.name, "--name")),
      ] as const).andThen(([id, snapId, name]) =>
        withService(ctx, (s, opts) => s.snapshotVolume(id, defined({ id: snapId, name, force: o.force === true ? true : undefined }), opts)).map((snapshot) => ({ data: { snapshot } })),
      ),
  });

  leaf(volume, run, {
    ...one("revert", "revert a volume to its latest snapshot"),
    examples: ["volume revert vol-1 --snapshot snap-1"],
    configure: (c) => c.requiredOption("--snapshot <id>", "the snapshot (must be the volume's latest)"),
    output: { schema: S["volume revert"], human: (out, paint) => done(paint, `volume ${out.volume.id} reverted (${out.volume.status})`) },
    run: (ctx, a, o) =>
      ResultAsync.combine([check(idArg(a[0], "volume id")), check(idArg(o.snapshot, "--snapshot"))] as const).andThen(([id, snap]) =>
        withService(ctx, (s, opts) => s.revertVolume(id, snap, opts), "revert").map((v) => ({ data: { volume: v } })),
      ),
  });

  leaf(volume, run, {
    ...one("attach", "attach a volume on this host (export, connect, libvirt XML); a failure undoes every step"),
    examples: ["volume attach vol-1", "volume attach vol-1 --instance vm-7 --disk-dev vdb --disk-bus virtio --json"],
    configure: (c) =>
      c
        .option("--instance <id>", "the instance (VM) using it")
        .option("--mountpoint <path>", "where the instance sees it (/dev/vdb)")
        .option("--read-only", "attach read-only")
        .option("--disk-dev <dev>", "libvirt target dev (vdb, sdc): prints the <disk> XML")
        .option("--disk-bus <bus>", "libvirt bus (virtio, scsi, sata, ide)", "virtio"),
    output: {
      schema: S["volume attach"],
      human: (out, paint) => [done(paint, `volume ${out.volume.id} attached at ${out.devicePath} (attachment ${String(out.attachment.id)})`), ...(out.xml ? ["", out.xml] : [])].join("\n"),
    },
    run: (ctx, a, o) =>
      ResultAsync.combine([
        check(idArg(a[0], "volume id")),
        check(validate(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/, "must be an instance id").optional(), o.instance, "--instance")),
        check(validate(z.string().regex(/^\/dev\/[A-Za-z0-9/_-]{1,64}$/, "must be a device path like /dev/vdb").optional(), o.mountpoint, "--mountpoint")),
        check(validate(DiskDevSchema.optional(), o.diskDev, "--disk-dev")),
        check(validate(z.enum(["virtio", "scsi", "sata", "ide"]), o.diskBus, "--disk-bus")),
      ] as const).andThen(([id, instanceId, mountpoint, dev, bus]) =>
        withService(ctx, (s, opts) => s.attachVolume(id, defined({ instanceId, mountpoint, mode: o.readOnly === true ? ("ro" as const) : undefined, disk: dev === undefined ? undefined : { dev, bus } }), opts)).map(
          (r) => ({ data: { volume: r.volume, attachment: attachmentOut(r.attachment), devicePath: r.devicePath, ...(r.xml === undefined ? {} : { xml: r.xml }) } }),
        ),
      ),
  });

  leaf(volume, run, {
    ...one("detach", "detach a volume from this host; reports anything left behind"),
    examples: ["volume detach vol-1", "volume detach vol-1 --attachment att-3 --force"],
    configure: (c) => c.option("--attachment <id>", "the attachment (default: the only one on this host)").option("--force", "continue past a failed flush (dead target)"),
    output: {
      schema: S["volume detach"],
      human: (out, paint) =>
        [
          done(paint, `volume ${out.volume.id} detached (${out.volume.status})`),
          ...out.report.removed.map((r) => `  removed ${r}`),
          ...out.report.leftBehind.map((l) => `  ${paint.paint(l.expected ? "dim" : "bad", `left ${l.kind} ${l.name}: ${l.reason}`)}`),
        ].join("\n"),
    },
    run: (ctx, a, o) =>
      ResultAsync.combine([check(idArg(a[0], "volume id")), optionalId(o.attachment, "--attachment")] as const).andThen(
        ([id, attachmentId]) => withService(ctx, (s, opts) => s.detachVolume(id, defined({ attachmentId, force: o.force === true ? true : undefined }), opts)).map((r) => ({ data: { volume: r.volume, report: r.report } })),
      ),
  });

  leaf(volume, run, {
    ...one("migrate", "move a volume to another backend or pool"),
    examples: ["volume migrate vol-1 --to lvm-b", "volume migrate vol-1 --to nfs-a#share1 --force-host-copy"],
    configure: (c) => c.requiredOption("--to <backend[#pool]>", "destination").option("--force-host-copy", "copy through this host even when the driver could move it"),
    output: { schema: S["volume migrate"], human: (out, paint) => done(paint, `volume ${out.volume.id} is on ${out.volume.backend ?? "?"}${out.volume.pool ? `#${out.volume.pool}` : ""}`) },
    run: (ctx, a, o) =>
      ResultAsync.combine([check(idArg(a[0], "volume id")), check(validate(DestinationSchema, o.to, "--to"))] as const).andThen(([id, destination]) =>
        withService(ctx, (s, opts) => s.migrateVolume(id, defined({ destination, forceHostCopy: o.forceHostCopy === true ? true : undefined }), opts), "migrate").map((v) => ({ data: { volume: v } })),
      ),
  });

  leaf(volume, run, {
    ...one("retype", "change a volume's type (migrating it when --migration-policy on-demand allows)"),
    examples: ["volume retype vol-1 --type gold", "volume retype vol-1 --type gold --migration-policy on-demand"],
    configure: (c) => c.requiredOption("--type <type>", "new type (name or id)").option("--migration-policy <policy>", "never (default) or on-demand", "never"),
    output: { schema: S["volume retype"], human: (out, paint) => done(paint, `volume ${out.volume.id} has type ${out.volume.volumeTypeId ?? "none"}`) },
    run: (ctx, a, o) =>
      ResultAsync.combine([check(idArg(a[0], "volume id")), check(validate(TypeRefSchema, o.type, "--type")), check(validate(z.enum(["never", "on-demand"]), o.migrationPolicy, "--migration-policy"))] as const).andThen(
        ([id, type, migrationPolicy]) => withService(ctx, (s, opts) => s.retypeVolume(id, { type, migrationPolicy }, opts), "migrate").map((v) => ({ data: { volume: v } })),
      ),
  });

  leaf(volume, run, {
    name: "manage",
    description: "take an existing backend object (an LV, a file, an RBD image) under management as a volume",
    examples: ["volume manage --backend lvm-a --source-name legacy-lv --name legacy", "volume manage --backend ipsan-a --source-id 42 --type gold"],
    configure: (c) =>
      c
        .requiredOption("--backend <backend[#pool]>", "backend holding the object")
        .option("--source-name <name>", "the object's name on the backend")
        .option("--source-id <id>", "the object's id on the backend")
        .option("--id <id>", "volume id (default: a new UUID)")
        .option("--name <name>", "display name")
        .option("--type <type>", "volume type"),
    output: { schema: S["volume manage"], human: (out, paint) => volumeFields(out.volume, paint) },
    run: (ctx, _a, o) =>
      ResultAsync.combine([
        check(validate(DestinationSchema, o.backend, "--backend")),
        check(validate(ExistingRefSchema, o.sourceName !== undefined ? { sourceName: o.sourceName } : o.sourceId !== undefined ? { sourceId: o.sourceId } : {}, "--source-name/--source-id")),
        optionalId(o.id, "--id"),
        check(validate(DisplayNameSchema.optional(), o.name, "--name")),
        check(validate(TypeRefSchema.optional(), o.type, "--type")),
      ] as const).andThen(([backend, ref, id, name, type]) =>
        o.sourceName !== undefined && o.sourceId !== undefined
          ? errAsync(new VolkitError("INVALID_ARGUMENT", "give --source-name or --source-id, not both", { source: "cli" }))
          : withService(ctx, (s, opts) => s.manageVolume(defined({ backend, ref, id, name, type }), opts)).map((v) => ({ data: { volume: v } })),
      ),
  });

  leaf(volume, run, {
    ...one("unmanage", "forget a volume: its record goes, its backend object stays"),
    examples: ["volume unmanage vol-1"],
    output: { schema: S["volume unmanage"], human: (out, paint) => done(paint, `volume ${out.volumeId} unmanaged (the backend object is kept)`) },
    run: (ctx, a) => check(idArg(a[0], "volume id")).andThen((id) => withService(ctx, (s, opts) => s.unmanageVolume(id, opts)).map(() => ({ data: { volumeId: id, unmanaged: true as const } }))),
  });

  leaf(volume, run, {
    ...one("reset-status", "admin: set a volume's statuses without touching the backend (Cinder's reset-state)"),
    examples: ["volume reset-status vol-1 --status available", "volume reset-status vol-1 --status available --attach-status detached", "volume reset-status vol-1 --migration-status none"],
    configure: (c) =>
      c
        .option("--status <status>", "volume status")
        .option("--attach-status <status>", "attach status (of the volume and its unfinished attachments)")
        .option("--migration-status <status>", "migration status (`none` clears it)"),
    output: { schema: S["volume reset-status"], human: (out, paint) => volumeFields(out.volume, paint) },
    run: (ctx, a, o) =>
      ResultAsync.combine([
        check(idArg(a[0], "volume id")),
        check(validate(VolumeStatusSchema.optional(), o.status, "--status")),
        check(validate(AttachStatusSchema.optional(), o.attachStatus, "--attach-status")),
        check(validate(z.union([MigrationStatusSchema, z.literal("none")]).optional(), o.migrationStatus, "--migration-status")),
      ] as const).andThen(([id, status, attachStatus, migrationStatus]) =>
        status === undefined && attachStatus === undefined && migrationStatus === undefined
          ? errAsync(new VolkitError("INVALID_ARGUMENT", "give at least one of --status, --attach-status, --migration-status", { source: "cli" }))
          : withService(ctx, (s, opts) => s.resetVolumeStatus(id, defined({ status, attachStatus, migrationStatus }), opts)).map((v) => ({ data: { volume: v } })),
      ),
  });

  leaf(volume, run, {
    ...one("force-delete", "admin: delete a volume in any status (detaching it on this host first)"),
    examples: ["volume force-delete vol-1"],
    output: { schema: S["volume force-delete"], human: (out, paint) => fields([["force-deleted", out.volumeId]], paint) },
    run: (ctx, a) => check(idArg(a[0], "volume id")).andThen((id) => withService(ctx, (s, opts) => s.forceDeleteVolume(id, opts), "wipe").map(() => ({ data: { volumeId: id, deleted: true as const } }))),
  });
}
