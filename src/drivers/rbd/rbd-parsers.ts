import { err, ok, type Result } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";

/**
 * Pure parsers of the `rbd … --format json` and `ceph df --format json` output the RBD client
 * reads, tested against output captured from Ceph Pacific 16.2.15 (test/fixtures/rbd). Quirks:
 * most booleans arrive as the strings `"true"`/`"false"` (`protected`, `exists`) while a few are
 * real booleans (`parent.trash`); timestamps are ctime text (`"Tue Dec  1 16:15:08 2026"`), in
 * the time zone of the host that ran the CLI (UTC on volkit's hosts: parsed as UTC).
 */

/** `true`, `false`, `"true"` or `"false"`. */
const Boolish = z.union([z.boolean(), z.enum(["true", "false"])]).transform((v) => v === true || v === "true");

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * Parses ctime text (`Tue Dec  1 16:15:08 2026`) as UTC; ISO-8601 text is accepted too.
 * Undefined when it is neither.
 *
 * @example
 * ```ts
 * parseCtime("Tue Dec  1 16:15:08 2026")?.toISOString(); // "2026-12-01T16:15:08.000Z"
 * ```
 */
export function parseCtime(text: string): Date | undefined {
  const m = /^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})$/.exec(text.trim());
  if (m) {
    const month = MONTHS.indexOf(m[1] ?? "");
    if (month < 0) return undefined;
    return new Date(Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
  }
  if (/^\d{4}-\d\d-\d\dT/.test(text)) {
    const d = new Date(text);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

const Ctime = z.string().transform((text, ctx) => {
  const date = parseCtime(text);
  if (date === undefined) {
    ctx.addIssue({ code: "custom", message: "is not a ctime or ISO timestamp" });
    return z.NEVER;
  }
  return date;
});

const Count = z.number().int().min(0);

/** Parses `stdout` as JSON and validates it with `schema`; `PARSE_ERROR` names the command and the bad fields. */
function parseJson<S extends z.ZodType>(schema: S, stdout: string, what: string): Result<z.output<S>, VolkitError> {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    // Not the native message: it quotes the input.
    return err(new VolkitError("PARSE_ERROR", `${what} did not print JSON`, { source: "rbd" }));
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return ok(parsed.data);
  const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  return err(new VolkitError("PARSE_ERROR", `unexpected ${what} JSON: ${issues.slice(0, 5).join("; ")}`, { source: "rbd" }));
}

// `rbd info` ---------------------------------------------------------------------------------

/** Schema of a clone's `parent` in `rbd info` JSON. */
export const RbdParentSchema = z
  .object({
    pool: z.string(),
    pool_namespace: z.string().default(""),
    image: z.string(),
    id: z.string().optional(),
    snapshot: z.string(),
    trash: Boolish.default(false),
    overlap: Count,
  })
  .transform((p) => ({
    pool: p.pool,
    namespace: p.pool_namespace,
    image: p.image,
    ...(p.id === undefined ? {} : { id: p.id }),
    snapshot: p.snapshot,
    inTrash: p.trash,
    overlapBytes: p.overlap,
  }));

/** The parent of a clone, as `rbd info` reports it. */
export type RbdParent = z.output<typeof RbdParentSchema>;

/** Schema of `rbd info --format json`. */
export const RbdInfoSchema = z
  .object({
    name: z.string(),
    id: z.string().default(""),
    size: Count,
    objects: Count,
    order: Count,
    object_size: Count,
    snapshot_count: Count.optional(),
    block_name_prefix: z.string(),
    format: z.number().int(),
    features: z.array(z.string()).default([]),
    op_features: z.array(z.string()).default([]),
    flags: z.array(z.string()).default([]),
    data_pool: z.string().optional(),
    protected: Boolish.optional(),
    create_timestamp: Ctime.optional(),
    access_timestamp: Ctime.optional(),
    modify_timestamp: Ctime.optional(),
    parent: RbdParentSchema.optional(),
  })
  .transform((i) => ({
    name: i.name,
    id: i.id,
    sizeBytes: i.size,
    objectCount: i.objects,
    order: i.order,
    objectSizeBytes: i.object_size,
    snapshotCount: i.snapshot_count ?? 0,
    blockNamePrefix: i.block_name_prefix,
    format: i.format,
    features: i.features,
    opFeatures: i.op_features,
    flags: i.flags,
    ...(i.data_pool === undefined ? {} : { dataPool: i.data_pool }),
    ...(i.protected === undefined ? {} : { protected: i.protected }),
    ...(i.create_timestamp === undefined ? {} : { createdAt: i.create_timestamp }),
    ...(i.modify_timestamp === undefined ? {} : { modifiedAt: i.modify_timestamp }),
    ...(i.parent === undefined ? {} : { parent: i.parent }),
  }));

/** An image (or, with `protected` set, a snapshot) as `rbd info` reports it. */
export type RbdImageInfo = z.output<typeof RbdInfoSchema>;

/**
 * Parses `rbd info <pool>/<image>[@snap] --format json`.
 *
 * @example
 * ```ts
 * const info = parseRbdInfo(out.stdout)._unsafeUnwrap();
 * info.parent?.snapshot; // "s1" for a clone of volumes/base@s1
 * ```
 */
export function parseRbdInfo(stdout: string): Result<RbdImageInfo, VolkitError> {
  return parseJson(RbdInfoSchema, stdout, "rbd info");
}

// `rbd ls` / `rbd ls -l` ---------------------------------------------------------------------

/** Parses `rbd ls <pool> --format json` (image names). */
export function parseRbdNames(stdout: string): Result<string[], VolkitError> {
  return parseJson(z.array(z.string()), stdout, "rbd ls");
}

/** Schema of one row of `rbd ls -l --format json`. */
export const RbdListEntrySchema = z
  .object({
    image: z.string(),
    id: z.string().optional(),
    size: Count,
    format: z.number().int(),
    snapshot: z.string().optional(),
    snapshot_id: Count.optional(),
    protected: Boolish.optional(),
    lock_type: z.string().optional(),
    parent: z.object({ pool: z.string(), pool_namespace: z.string().default(""), image: z.string(), snapshot: z.string() }).optional(),
  })
  .transform((e) => ({
    image: e.image,
    ...(e.id === undefined ? {} : { id: e.id }),
    sizeBytes: e.size,
    format: e.format,
    ...(e.snapshot === undefined ? {} : { snapshot: e.snapshot }),
    ...(e.snapshot_id === undefined ? {} : { snapshotId: e.snapshot_id }),
    ...(e.protected === undefined ? {} : { protected: e.protected }),
    ...(e.lock_type === undefined ? {} : { lockType: e.lock_type }),
    ...(e.parent === undefined ? {} : { parent: { pool: e.parent.pool, namespace: e.parent.pool_namespace, image: e.parent.image, snapshot: e.parent.snapshot } }),
  }));

/** One row of `rbd ls -l`: an image, or one of its snapshots (`snapshot` set). */
export type RbdListEntry = z.output<typeof RbdListEntrySchema>;

/** Parses `rbd ls -l <pool> --format json`: images and snapshots, clones with their parent. */
export function parseRbdLongList(stdout: string): Result<RbdListEntry[], VolkitError> {
  return parseJson(z.array(RbdListEntrySchema), stdout, "rbd ls -l");
}

// `rbd du` -----------------------------------------------------------------------------------

/** Schema of `rbd du --format json`. */
export const RbdDuSchema = z
  .object({
    images: z.array(
      z.object({ name: z.string(), id: z.string().optional(), snapshot: z.string().optional(), snapshot_id: Count.optional(), provisioned_size: Count, used_size: Count }),
    ),
    total_provisioned_size: Count.optional(),
    total_used_size: Count.optional(),
  })
  .transform((d) => ({
    images: d.images.map((i) => ({
      name: i.name,
      ...(i.id === undefined ? {} : { id: i.id }),
      ...(i.snapshot === undefined ? {} : { snapshot: i.snapshot }),
      provisionedBytes: i.provisioned_size,
      usedBytes: i.used_size,
    })),
    ...(d.total_provisioned_size === undefined ? {} : { totalProvisionedBytes: d.total_provisioned_size }),
    ...(d.total_used_size === undefined ? {} : { totalUsedBytes: d.total_used_size }),
  }));

/** `rbd du`: provisioned vs used bytes per image and per snapshot (`snapshot` set). */
export type RbdDiskUsage = z.output<typeof RbdDuSchema>;

/** Parses `rbd du [-p <pool> | <pool>/<image>] --format json`. Totals come with a pool (or several images). */
export function parseRbdDu(stdout: string): Result<RbdDiskUsage, VolkitError> {
  return parseJson(RbdDuSchema, stdout, "rbd du");
}

// `rbd snap ls` ------------------------------------------------------------------------------

/** Schema of one row of `rbd snap ls --format json`. */
export const RbdSnapshotSchema = z
  .object({ id: Count, name: z.string(), size: Count, protected: Boolish.default(false), timestamp: Ctime.optional() })
  .transform((s) => ({ id: s.id, name: s.name, sizeBytes: s.size, protected: s.protected, ...(s.timestamp === undefined ? {} : { createdAt: s.timestamp }) }));

/** A snapshot as `rbd snap ls` reports it. */
export type RbdSnapshot = z.output<typeof RbdSnapshotSchema>;

/** Parses `rbd snap ls <pool>/<image> --format json`. */
export function parseRbdSnapshots(stdout: string): Result<RbdSnapshot[], VolkitError> {
  return parseJson(z.array(RbdSnapshotSchema), stdout, "rbd snap ls");
}

// `rbd children` -----------------------------------------------------------------------------

/** Schema of one row of `rbd children --format json`. */
export const RbdChildSchema = z
  .object({ pool: z.string(), pool_namespace: z.string().default(""), image: z.string(), id: z.string().optional(), trash: Boolish.default(false) })
  .transform((c) => ({ pool: c.pool, namespace: c.pool_namespace, image: c.image, ...(c.id === undefined ? {} : { id: c.id }), inTrash: c.trash }));

/** A clone of a snapshot, as `rbd children` reports it. */
export type RbdChild = z.output<typeof RbdChildSchema>;

/** Parses `rbd children [--all] <pool>/<image>@<snap> --format json`. */
export function parseRbdChildren(stdout: string): Result<RbdChild[], VolkitError> {
  return parseJson(z.array(RbdChildSchema), stdout, "rbd children");
}

// `rbd trash ls` -----------------------------------------------------------------------------

/** Schema of one row of `rbd trash ls -l --format json`. */
export const RbdTrashEntrySchema = z
  .object({ id: z.string(), name: z.string(), source: z.string().optional(), deleted_at: Ctime.optional(), status: z.string().optional() })
  .transform((t) => ({
    id: t.id,
    name: t.name,
    ...(t.source === undefined ? {} : { source: t.source }),
    ...(t.deleted_at === undefined ? {} : { deletedAt: t.deleted_at }),
    ...(t.status === undefined ? {} : { status: t.status }),
  }));

/** An image in the trash (`source`, `deletedAt`, `status` with `-l`). */
export type RbdTrashEntry = z.output<typeof RbdTrashEntrySchema>;

/** Parses `rbd trash ls [-l] <pool> --format json`. */
export function parseRbdTrash(stdout: string): Result<RbdTrashEntry[], VolkitError> {
  return parseJson(z.array(RbdTrashEntrySchema), stdout, "rbd trash ls");
}

// `rbd status` -------------------------------------------------------------------------------

/** Schema of `rbd status --format json`. */
export const RbdStatusSchema = z
  // The watch cookie is left out: a kernel client's is a 64-bit handle beyond Number.MAX_SAFE_INTEGER
  // (capture kernel-status-mapped) that JSON.parse cannot hold exactly, and nothing needs it.
  .object({ watchers: z.array(z.object({ address: z.string(), client: Count })).default([]) })
  .transform((s) => ({ watchers: s.watchers.map((w) => ({ address: w.address, clientId: w.client })) }));

/** Who has an image open (`watchers`: one per open librbd/krbd client). */
export type RbdStatus = z.output<typeof RbdStatusSchema>;

/** Parses `rbd status <pool>/<image> --format json`. */
export function parseRbdStatus(stdout: string): Result<RbdStatus, VolkitError> {
  return parseJson(RbdStatusSchema, stdout, "rbd status");
}

// `rbd device list` --------------------------------------------------------------------------

/** Schema of one row of `rbd device list --format json`. */
export const RbdMappedSchema = z
  .object({ id: z.union([z.string(), z.number()]), pool: z.string(), namespace: z.string().default(""), name: z.string(), snap: z.string(), device: z.string() })
  .transform((m) => ({
    id: String(m.id),
    pool: m.pool,
    namespace: m.namespace,
    image: m.name,
    ...(m.snap === "-" || m.snap === "" ? {} : { snapshot: m.snap }),
    device: m.device,
  }));

/** An image mapped by the kernel client (`rbd device map`). */
export type RbdMappedDevice = z.output<typeof RbdMappedSchema>;

/**
 * Parses `rbd device list --format json` (`rbd showmapped`): krbd mappings
 * (`{id, pool, namespace, name, snap: "-", device: "/dev/rbd0"}`).
 */
export function parseRbdDeviceList(stdout: string): Result<RbdMappedDevice[], VolkitError> {
  return parseJson(z.array(RbdMappedSchema), stdout, "rbd device list");
}

// `rbd diff` ---------------------------------------------------------------------------------

/** Schema of one extent of `rbd diff --format json`. */
export const RbdExtentSchema = z.object({ offset: Count, length: Count, exists: Boolish });

/** A changed extent (`exists: false` = discarded/zeroed since the base). */
export type RbdExtent = z.output<typeof RbdExtentSchema>;

/** Parses `rbd diff [--from-snap <s>] [--whole-object] <pool>/<image>[@snap] --format json`. */
export function parseRbdDiff(stdout: string): Result<RbdExtent[], VolkitError> {
  return parseJson(z.array(RbdExtentSchema), stdout, "rbd diff");
}

// `rbd config image list` --------------------------------------------------------------------

/** Schema of one row of `rbd config image list --format json`. */
export const RbdConfigEntrySchema = z.object({ name: z.string(), value: z.string(), source: z.string() });

/** One configuration value of an image and where it comes from (`config`, `image`, `pool`…). */
export type RbdConfigEntry = z.output<typeof RbdConfigEntrySchema>;

/** Parses `rbd config image list <pool>/<image> --format json`. */
export function parseRbdConfig(stdout: string): Result<RbdConfigEntry[], VolkitError> {
  return parseJson(z.array(RbdConfigEntrySchema), stdout, "rbd config image list");
}

// `ceph df` ----------------------------------------------------------------------------------

/** Schema of `ceph df [detail] --format json`. */
export const CephDfSchema = z
  .object({
    stats: z.object({ total_bytes: Count, total_avail_bytes: Count, total_used_bytes: Count, total_used_raw_bytes: Count.optional() }),
    pools: z.array(
      z.object({
        name: z.string(),
        id: Count,
        stats: z.object({
          stored: Count,
          objects: Count,
          bytes_used: Count,
          max_avail: Count,
          percent_used: z.number().min(0),
          // `ceph df detail` only; 0 = no quota.
          quota_bytes: Count.optional(),
          quota_objects: Count.optional(),
        }),
      }),
    ),
  })
  .transform((d) => ({
    totalBytes: d.stats.total_bytes,
    totalAvailBytes: d.stats.total_avail_bytes,
    totalUsedBytes: d.stats.total_used_bytes,
    ...(d.stats.total_used_raw_bytes === undefined ? {} : { totalUsedRawBytes: d.stats.total_used_raw_bytes }),
    pools: d.pools.map((p) => ({
      name: p.name,
      id: p.id,
      storedBytes: p.stats.stored,
      objects: p.stats.objects,
      usedBytes: p.stats.bytes_used,
      maxAvailBytes: p.stats.max_avail,
      percentUsed: p.stats.percent_used,
      ...(p.stats.quota_bytes === undefined ? {} : { quotaBytes: p.stats.quota_bytes }),
      ...(p.stats.quota_objects === undefined ? {} : { quotaObjects: p.stats.quota_objects }),
    })),
  }));

/**
 * Cluster and per-pool capacity from `ceph df` (`maxAvailBytes` accounts for replication); with
 * `ceph df detail`, each pool's quota too (`quotaBytes`, `quotaObjects`: 0 = none).
 */
export type CephDf = z.output<typeof CephDfSchema>;

/** Parses `ceph df [detail] --format json`. */
export function parseCephDf(stdout: string): Result<CephDf, VolkitError> {
  return parseJson(CephDfSchema, stdout, "ceph df");
}

// `ceph mon dump` ----------------------------------------------------------------------------

const AddrSchema = z.object({ type: z.string(), addr: z.string(), nonce: z.number().int().optional() });

/** Schema of `ceph mon dump --format json`. */
export const CephMonDumpSchema = z
  .object({
    epoch: Count,
    fsid: z.string().regex(/^[0-9a-f-]{36}$/),
    mons: z.array(
      z.object({
        rank: Count,
        name: z.string(),
        public_addrs: z.object({ addrvec: z.array(AddrSchema) }),
      }),
    ),
  })
  .transform((d) => ({
    epoch: d.epoch,
    fsid: d.fsid,
    monitors: d.mons.map((m) => {
      const v2 = m.public_addrs.addrvec.find((a) => a.type === "v2")?.addr;
      const v1 = m.public_addrs.addrvec.find((a) => a.type === "v1")?.addr;
      return { rank: m.rank, name: m.name, ...(v2 === undefined ? {} : { v2 }), ...(v1 === undefined ? {} : { v1 }) };
    }),
  }));

/**
 * The monitor map: the cluster's fsid and each monitor's msgr2 (`v2`) and legacy (`v1`)
 * address as `ip:port`.
 */
export type CephMonMap = z.output<typeof CephMonDumpSchema>;

/** Parses `ceph mon dump --format json` (readable with `profile rbd` caps). */
export function parseCephMonDump(stdout: string): Result<CephMonMap, VolkitError> {
  return parseJson(CephMonDumpSchema, stdout, "ceph mon dump");
}

// `rbd namespace ls` -------------------------------------------------------------------------

/** Parses `rbd namespace ls <pool> --format json` (namespace names). */
export function parseRbdNamespaces(stdout: string): Result<string[], VolkitError> {
  return parseJson(z.array(z.object({ name: z.string() })).transform((l) => l.map((n) => n.name)), stdout, "rbd namespace ls");
}
