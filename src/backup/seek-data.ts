import { type Result, type ResultAsync, err, ok } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type { CommandRunner } from "../exec/runner.js";
import type { ByteExtent } from "./block-source.js";

/**
 * The data extents of a (sparse) file, from SEEK_DATA/SEEK_HOLE. Node has no `lseek` binding, so
 * the walk is done by `xfs_io -r -c "seek -a -r 0" <file>` (xfsprogs): it calls lseek with
 * SEEK_DATA and SEEK_HOLE from offset 0 to the end and prints where each region starts. It works
 * on any Linux file system (ext4, xfs, btrfs, tmpfs, NFS 4.2); one that does not track holes
 * answers "all data", which is still correct (zero chunks are then found by reading).
 *
 * Why not FIEMAP (`filefrag -v`): it reports unwritten (preallocated) extents as allocated, is
 * missing on tmpfs and some NFS versions, and its output is per-filesystem-block; SEEK_DATA is
 * what `cp --sparse`, `qemu-img` and `tar` use.
 */

/** Argv of the SEEK_DATA walk of `path`. The `-c` string is parsed by xfs_io itself, not a shell. */
export function seekDataArgv(path: string): [string, ...string[]] {
  return ["xfs_io", "-r", "-c", "seek -a -r 0", path];
}

/**
 * Parses `xfs_io seek -a -r` output (`Whence\tResult` then `DATA\t<offset>` / `HOLE\t<offset>`
 * lines, the last may say `EOF`) into the data extents within the first `sizeBytes` of the file.
 */
export function parseSeekData(stdout: string, sizeBytes: number): Result<ByteExtent[], VolkitError> {
  const lines = stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (lines[0] !== undefined && /^Whence\s+Result$/.test(lines[0])) lines.shift();
  const marks: { kind: "DATA" | "HOLE"; offset: number }[] = [];
  for (const line of lines) {
    const m = /^(DATA|HOLE)\s+(\d+|EOF)$/.exec(line);
    if (!m) return err(new VolkitError("PARSE_ERROR", `unexpected xfs_io seek line: ${JSON.stringify(line.slice(0, 80))}`, { source: "backup" }));
    marks.push({ kind: m[1] as "DATA" | "HOLE", offset: m[2] === "EOF" ? Number.MAX_SAFE_INTEGER : Number(m[2]) });
  }
  const extents: ByteExtent[] = [];
  for (const [i, mark] of marks.entries()) {
    const next = marks[i + 1]?.offset ?? Math.max(mark.offset, sizeBytes);
    if (next < mark.offset) return err(new VolkitError("PARSE_ERROR", "xfs_io seek offsets are not increasing", { source: "backup" }));
    // Clipped to sizeBytes: the caller may back up less than the whole file.
    const start = Math.min(mark.offset, sizeBytes);
    const end = Math.min(next, sizeBytes);
    if (mark.kind === "DATA" && end > start) extents.push({ offset: start, length: end - start });
  }
  return ok(extents);
}

/** Data extents of a regular file, through the runner (see module doc). */
export function seekDataExtents(runner: CommandRunner, path: string, sizeBytes: number, ctx: OperationContext): ResultAsync<ByteExtent[], VolkitError> {
  return runner
    .run({ argv: seekDataArgv(path), signal: ctx.signal, env: { LC_ALL: "C" } })
    .andThen((out) => parseSeekData(out.stdout, sizeBytes));
}
