import type { Result } from "neverthrow";
import { z } from "zod";
import type { VolkitError } from "../../core/errors.js";
import { Boolish, Count, parseJson } from "./rbd-json.js";

/** Parsers of what `rbd` says about an image's usage and state: `du`, `status`, mapped devices, `diff`, its configuration. */

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
