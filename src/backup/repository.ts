import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import type { VolkitError } from "../core/errors.js";

/** What a repository knows about one stored object. */
export interface ObjectInfo {
  /** The object's key. */
  readonly key: string;
  /** Size in bytes. */
  readonly size: number;
  /** Last modification (epoch ms); garbage collection spares recent objects of unfinished backups. */
  readonly modifiedAt: number;
}

/** Options of {@link BackupRepository.list}. */
export interface ListOptions {
  /**
   * With `"/"`, keys below the next `/` after the prefix are rolled up into
   * {@link ListPage.prefixes} (S3's `CommonPrefixes`), as a directory listing would show them.
   */
  readonly delimiter?: "/";
  /** Continue after this cursor (the {@link ListPage.next} of the previous page). */
  readonly cursor?: string;
  /** Most entries per page (keys plus prefixes), default and maximum 1000 (S3's page size). */
  readonly limit?: number;
}

/** One page of a listing, in ascending key order. */
export interface ListPage {
  /** Objects whose key starts with the prefix (and, with a delimiter, has no further `/`). */
  readonly objects: readonly ObjectInfo[];
  /** With a delimiter: the rolled-up prefixes, each ending with `/`. */
  readonly prefixes: readonly string[];
  /** Cursor of the next page, absent on the last one. */
  readonly next?: string;
}

/** The body of {@link BackupRepository.put}: bytes at hand, or a stream of them of unknown length. */
export type ObjectBody = Uint8Array | AsyncIterable<Uint8Array>;

/**
 * Where a repository is, without credentials: what a volume service stores with each backup to
 * open the repository again (adding the credentials from its own configuration).
 */
export type RepositoryDescriptor =
  | { readonly type: "directory"; readonly directory: string }
  | { readonly type: "nfs"; readonly share: string; readonly directory: string }
  | { readonly type: "s3"; readonly endpoint?: string; readonly region: string; readonly bucket: string; readonly prefix: string }
  | { readonly type: "custom"; readonly name: string };

/**
 * Where backups are kept: a flat store of immutable objects addressed by key (see `backup-keys.ts`
 * for the layout), shaped after what an S3 bucket offers so that a local directory, an NFS share
 * and an object store implement it alike:
 *
 * - {@link BackupRepository.put} makes an object visible only once complete (a directory: temp
 *   file, rename; S3: a single PUT or a completed multipart upload), and
 *   {@link BackupRepository.flush} makes what was put durable. There is no rename between keys: a
 *   backup is published by flushing its objects, then writing its manifest LAST, so a reader
 *   either sees the whole backup or none of it, also after a crash.
 * - Bodies are bounded by the chunk size except streamed ones (multipart on S3), so memory stays
 *   bounded whatever the volume size.
 * - Deleting a missing key succeeds (retries are safe); reading one fails with `BACKUP_NOT_FOUND`
 *   naming the key in `details.key`.
 *
 * Every method honours `ctx.signal`. Keys are validated by the implementation (`INVALID_ARGUMENT`).
 */
export interface BackupRepository {
  /** Human-readable description for logs (`directory /srv/backups`, `nfs 10.0.0.5:/backups`). */
  readonly description: string;
  /** Where the repository is, without credentials (see {@link RepositoryDescriptor}). */
  readonly descriptor: RepositoryDescriptor;
  /** Stores an object, replacing any object with the same key; readers never see it partial. */
  put(key: string, body: ObjectBody, ctx: OperationContext): ResultAsync<ObjectInfo, VolkitError>;
  /** Reads a whole object (chunks, manifests). */
  get(key: string, ctx: OperationContext): ResultAsync<Uint8Array, VolkitError>;
  /**
   * Reads an object piece by piece; `onData` is awaited before the next piece is read (back
   * pressure), so memory stays bounded for objects of any size.
   */
  read(key: string, onData: (piece: Uint8Array) => void | Promise<void>, ctx: OperationContext): ResultAsync<ObjectInfo, VolkitError>;
  /** Information about an object, or `undefined` when it does not exist. */
  head(key: string, ctx: OperationContext): ResultAsync<ObjectInfo | undefined, VolkitError>;
  /** One page of the objects under `prefix` (`""` for all). */
  list(prefix: string, options: ListOptions, ctx: OperationContext): ResultAsync<ListPage, VolkitError>;
  /**
   * Makes every object put so far durable (a directory: fsync of the files and directories a
   * batched `put` left to it; S3: nothing, a PUT is durable when it returns). The engine calls it
   * before publishing a manifest, so a manifest never outlives a crash without its objects.
   */
  flush(ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Deletes objects; keys that do not exist are ignored. */
  delete(keys: readonly string[], ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Releases what the repository holds (a mount lease, an HTTP agent). Idempotent. */
  close(ctx: OperationContext): ResultAsync<void, VolkitError>;
}

/**
 * Every object under `prefix`, page by page, handed to `onPage` (awaited before the next page is
 * fetched). Used to delete or garbage-collect a backup's objects with bounded memory.
 *
 * @example
 * ```ts
 * await forEachPage(repo, "backups/b1/", {}, ctx, (page) => void keys.push(...page.objects.map((o) => o.key)));
 * ```
 */
export function forEachPage(
  repo: BackupRepository,
  prefix: string,
  options: Omit<ListOptions, "cursor">,
  ctx: OperationContext,
  onPage: (page: ListPage) => ResultAsync<void, VolkitError> | void,
  cursor?: string,
): ResultAsync<void, VolkitError> {
  return repo.list(prefix, { ...options, ...(cursor === undefined ? {} : { cursor }) }, ctx).andThen((page) => {
    const handled = onPage(page) ?? okAsync(undefined);
    return handled.andThen(() => {
      if (page.next === undefined) return okAsync(undefined);
      const aborted = ctx.abortError();
      return aborted ? errAsync(aborted) : forEachPage(repo, prefix, options, ctx, onPage, page.next);
    });
  });
}
