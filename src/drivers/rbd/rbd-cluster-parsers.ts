import type { Result } from "neverthrow";
import { z } from "zod";
import type { VolkitError } from "../../core/errors.js";
import { Count, parseJson } from "./rbd-json.js";

/** Parsers of the cluster-wide `ceph` queries the driver needs (`profile rbd` caps suffice): capacity and the monitor map. */

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
