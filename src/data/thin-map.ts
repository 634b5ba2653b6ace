import { ResultAsync, err, ok, type Result } from "neverthrow";
import { rollbackContext, type OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { exitCodeOf, type CommandRunner } from "../exec/runner.js";

/**
 * Which blocks of a dm-thin volume hold data, read from the thin pool's own metadata: the pool
 * keeps a btree per thin device mapping its virtual blocks to data blocks, so the allocated ranges
 * are known without reading (and zero-checking) the device. Read the way the kernel documents it
 * (Documentation/admin-guide/device-mapper/thin-provisioning.rst): reserve a metadata snapshot on the
 * live pool (`dmsetup message <pool> 0 reserve_metadata_snap`, which also commits the pool's
 * pending metadata), dump one device's mappings from that snapshot with `thin_dump --metadata-snap
 * --dev-id <id>` (thin-provisioning-tools), and release the snapshot at once.
 *
 * The ranges describe the device as it was when the snapshot was reserved: copy a device nobody
 * is writing (a snapshot, or a detached volume), as for any copy.
 */

/** A byte range of a device. */
export interface ByteRange {
  /** First byte. */
  readonly offset: number;
  /** Length in bytes. */
  readonly length: number;
}

/** The mapped (allocated) ranges of one thin device. */
export interface ThinMapping {
  /** The pool's data block (chunk) size in bytes. */
  readonly blockBytes: number;
  /** Number of mapped blocks (as the metadata counts them). */
  readonly mappedBlocks: number;
  /** Mapped ranges in bytes, sorted, adjacent ranges merged. */
  readonly ranges: readonly ByteRange[];
}

/** Where a thin device's mappings live. */
export interface ThinDeviceRef {
  /** Device-mapper name of the thin-pool target (for LVM: `<vg>-<pool>-tpool`, dashes doubled). */
  readonly poolDmName: string;
  /** Path of the pool's metadata device (for LVM: `/dev/mapper/<vg>-<pool>_tmeta`). */
  readonly metadataDevice: string;
  /** The thin device's id in the pool (`lvs -o thin_id`). */
  readonly deviceId: number;
}

const SECTOR = 512;
/** dmsetup's exit code when the message ioctl fails (EBUSY: a metadata snapshot is already held). */
const DMSETUP_FAILED = 1;

/**
 * Reads the mapped ranges of a thin device (see module doc). A metadata snapshot already held on
 * the pool (another reader, or one left by an interrupted run) fails with `CONFLICT` and
 * `details.reason = "metadata-snapshot-held"`: only one can exist per pool, and releasing someone
 * else's would pull it from under them.
 *
 * @example
 * ```ts
 * const map = await readThinMapping(runner, { poolDmName: "vg-pool-tpool", metadataDevice: "/dev/mapper/vg-pool_tmeta", deviceId: 3 }, ctx);
 * ```
 */
export function readThinMapping(runner: CommandRunner, ref: ThinDeviceRef, ctx: OperationContext): ResultAsync<ThinMapping, VolkitError> {
  const message = (text: string, context: OperationContext): ResultAsync<void, VolkitError> =>
    runner.run({ argv: ["dmsetup", "message", ref.poolDmName, "0", text], signal: context.signal }).map(() => undefined);
  const reserve = message("reserve_metadata_snap", ctx).mapErr((e) =>
    exitCodeOf(e) === DMSETUP_FAILED && /busy/i.test(String(e.details.stderr ?? ""))
      ? new VolkitError("CONFLICT", `thin pool ${ref.poolDmName} already has a metadata snapshot (another reader, or a leftover: 'dmsetup message ${ref.poolDmName} 0 release_metadata_snap' drops it)`, {
          source: "thin-map",
          cause: e,
          details: { reason: "metadata-snapshot-held", pool: ref.poolDmName },
        })
      : e,
  );
  return reserve.andThen(
    () =>
      new ResultAsync(
        (async () => {
          const dumped = await runner.run({ argv: ["thin_dump", "--metadata-snap", "--dev-id", String(ref.deviceId), ref.metadataDevice], signal: ctx.signal });
          // Released whatever the dump did, even when the caller gave up: a held snapshot blocks the next reader.
          const released = await message("release_metadata_snap", rollbackContext(ctx, 60_000));
          return dumped.andThen((out) => released.andThen(() => parseThinDump(out.stdout, ref.deviceId)));
        })(),
      ),
  );
}

function attr(tag: string, name: string): number | undefined {
  const m = new RegExp(`\\b${name}="(\\d+)"`).exec(tag);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

function parseError(message: string): Result<never, VolkitError> {
  return err(new VolkitError("PARSE_ERROR", `thin_dump: ${message}`, { source: "thin-map" }));
}

/**
 * Parses `thin_dump` XML (thin-provisioning-tools 0.9 format) for device `deviceId`: the pool's
 * `data_block_size` (sectors) and the device's `range_mapping`/`single_mapping` entries, as byte
 * ranges of the thin device. The mapped block count must match the device's `mapped_blocks`
 * (a truncated dump is an error, never a short copy).
 */
export function parseThinDump(xml: string, deviceId: number): Result<ThinMapping, VolkitError> {
  const superblock = /<superblock\b[^>]*>/.exec(xml)?.[0];
  const blockSectors = superblock === undefined ? undefined : attr(superblock, "data_block_size");
  if (blockSectors === undefined || blockSectors <= 0) return parseError("no <superblock> with a data_block_size");
  const blockBytes = blockSectors * SECTOR;
  const open = new RegExp(`<device\\b[^>]*\\bdev_id="${deviceId}"[^>]*>`).exec(xml);
  if (!open) return parseError(`device ${deviceId} is not in the dump`);
  const expected = attr(open[0], "mapped_blocks");
  if (expected === undefined) return parseError(`device ${deviceId} has no mapped_blocks`);
  const bodyStart = open.index + open[0].length;
  const bodyEnd = open[0].endsWith("/>") ? bodyStart : xml.indexOf("</device>", bodyStart);
  if (bodyEnd < 0) return parseError(`device ${deviceId} is not closed (truncated dump)`);
  const blocks: [number, number][] = [];
  let counted = 0;
  for (const m of xml.slice(bodyStart, bodyEnd).matchAll(/<(range_mapping|single_mapping)\b[^>]*>/g)) {
    const tag = m[0];
    const begin = m[1] === "range_mapping" ? attr(tag, "origin_begin") : attr(tag, "origin_block");
    const length = m[1] === "range_mapping" ? attr(tag, "length") : 1;
    if (begin === undefined || length === undefined || length <= 0) return parseError(`unreadable mapping ${tag}`);
    blocks.push([begin, length]);
    counted += length;
  }
  if (counted !== expected) return parseError(`device ${deviceId} lists ${counted} mapped blocks but its header says ${expected}`);
  return ok({ blockBytes, mappedBlocks: expected, ranges: mergeRanges(blocks.map(([b, n]) => ({ offset: b * blockBytes, length: n * blockBytes }))) });
}

/** Sorts ranges and merges overlapping or touching ones. */
export function mergeRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = [...ranges].filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const merged: { offset: number; length: number }[] = [];
  for (const r of sorted) {
    const last = merged.at(-1);
    if (last && r.offset <= last.offset + last.length) last.length = Math.max(last.length, r.offset + r.length - last.offset);
    else merged.push({ offset: r.offset, length: r.length });
  }
  return merged;
}
