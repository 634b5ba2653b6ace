import { VolkitError } from "../core/errors.js";
import type { JobResult, Job } from "./chunk-jobs.js";

/** Where a failed job's object sits in a backup. */
export interface ChunkPlace {
  /** Backup owning the object. */
  readonly backupId: string;
  /** Chunk number, when the object is a chunk. */
  readonly chunk?: number;
  /** Object key. */
  readonly key: string;
}

/**
 * A failed job as a typed error naming the chunk and object: `BACKUP_CORRUPT` for data that does
 * not match its manifest (digest, size, authentication, decompression), `NOT_SUPPORTED` when
 * zstd cannot load here, `INTERNAL` for a crashed worker.
 */
export function jobError(result: Extract<JobResult<Job>, { ok: false }>, place: ChunkPlace): VolkitError {
  const what = place.chunk === undefined ? `object ${place.key} of backup ${place.backupId}` : `chunk ${place.chunk} of backup ${place.backupId} (object ${place.key})`;
  const details = { backupId: place.backupId, ...(place.chunk === undefined ? {} : { chunk: place.chunk }), object: place.key, reason: result.reason };
  if (result.reason === "unsupported") return new VolkitError("NOT_SUPPORTED", `${what}: ${result.message}`, { source: "backup", details });
  if (result.reason === "internal") return new VolkitError("INTERNAL", `${what}: ${result.message}`, { source: "backup", details });
  return new VolkitError("BACKUP_CORRUPT", `${what} is corrupt: ${result.message}`, { source: "backup", details });
}

/** A missing object the manifest refers to, as `BACKUP_CORRUPT`; other errors pass through. */
export function missingAsCorrupt(e: VolkitError, place: ChunkPlace): VolkitError {
  if (e.code !== "BACKUP_NOT_FOUND") return e;
  const what = place.chunk === undefined ? `object ${place.key}` : `chunk ${place.chunk} (object ${place.key})`;
  return new VolkitError("BACKUP_CORRUPT", `${what} of backup ${place.backupId} is missing from the repository`, {
    source: "backup",
    cause: e,
    details: { backupId: place.backupId, ...(place.chunk === undefined ? {} : { chunk: place.chunk }), object: place.key, reason: "missing" },
  });
}
