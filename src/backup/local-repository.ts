import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rmdir, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ResultAsync, errAsync, okAsync, type Result } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { AbsolutePathSchema, validate } from "../core/validation.js";
import { ObjectKeySchema, ObjectPrefixSchema } from "./backup-keys.js";
import { DeferredSync, syncPath, type SyncMode } from "./deferred-sync.js";
import type { BackupRepository, ListOptions, ListPage, ObjectBody, ObjectInfo, RepositoryDescriptor } from "./repository.js";

/** `fsync` option: a {@link SyncMode}, or `true` (batched) / `false` (off). */
export const SyncModeSchema = z
  .union([z.boolean(), z.enum(["batched", "each", "off"])])
  .default("batched")
  .transform((v): SyncMode => (v === true ? "batched" : v === false ? "off" : v));

/** Options of {@link createLocalDirectoryRepository}. */
export const LocalDirectoryRepositoryOptionsSchema = z.object({
  /** Directory holding the repository (created with its parents when missing). */
  directory: AbsolutePathSchema,
  /**
   * How objects are made durable (see `SyncMode`): `"batched"` (default, also `true`): fsynced in
   * the background and by `flush`, before a manifest is published; `"each"`: before every `put`
   * returns; `"off"` (also `false`): never — only for a test on a throw-away directory.
   */
  fsync: SyncModeSchema,
});
/** Options of {@link createLocalDirectoryRepository} (input form). */
export type LocalDirectoryRepositoryOptions = z.input<typeof LocalDirectoryRepositoryOptionsSchema>;

const READ_PIECE = 1024 * 1024;
const PAGE_MAX = 1000;

/**
 * A {@link BackupRepository} in a directory of this host (a local disk, or an NFS share mounted
 * by `createNfsBackupRepository`). Each key is a file under the directory.
 *
 * Durability: `put` writes a hidden temporary file (`.<name>.tmp-<random>`) in the object's
 * directory and renames it over the key, so readers never see a partial object; the file and the
 * directories it changed are fsynced as the `fsync` mode says — by default in the background and
 * by {@link BackupRepository.flush}, which the engine calls before publishing a manifest, so a
 * durable manifest always names durable objects. Listing skips hidden names; `delete` removes
 * directories it left empty.
 *
 * @example
 * ```ts
 * const repo = createLocalDirectoryRepository({ directory: "/srv/backups" })._unsafeUnwrap();
 * ```
 */
export function createLocalDirectoryRepository(options: LocalDirectoryRepositoryOptions): Result<BackupRepository, VolkitError> {
  return validate(LocalDirectoryRepositoryOptionsSchema, options, "local backup repository options", "INVALID_CONFIG").map(
    (o) => new LocalDirectoryRepository(o.directory, o.fsync),
  );
}

/** The directory repository; build it with {@link createLocalDirectoryRepository}. */
export class LocalDirectoryRepository implements BackupRepository {
  /** {@inheritDoc BackupRepository.description} */
  readonly description: string;
  /** {@inheritDoc BackupRepository.descriptor} */
  readonly descriptor: RepositoryDescriptor;
  readonly #root: string;
  readonly #mode: SyncMode;
  readonly #pending = new DeferredSync();

  /** Prefer {@link createLocalDirectoryRepository}, which validates the options. */
  constructor(root: string, fsync: SyncMode = "batched") {
    this.#root = root.length > 1 ? root.replace(/\/+$/, "") : root;
    this.#mode = fsync;
    this.description = `directory ${this.#root}`;
    this.descriptor = { type: "directory", directory: this.#root };
  }

  /** {@inheritDoc BackupRepository.put} */
  put(key: string, body: ObjectBody, ctx: OperationContext): ResultAsync<ObjectInfo, VolkitError> {
    return this.#op(key, "write", ctx, async (path) => {
      const dir = dirname(path);
      const created = await this.#ensureDirectory(dir);
      const temp = join(dir, `.${path.slice(dir.length + 1)}.tmp-${randomBytes(6).toString("hex")}`);
      const handle = await open(temp, "wx", 0o640);
      try {
        await writeBody(handle, body, ctx.signal);
        if (this.#mode === "each") await handle.sync();
      } catch (e) {
        await handle.close().catch(() => undefined);
        await unlink(temp).catch(() => undefined);
        throw e;
      }
      await handle.close();
      try {
        await rename(temp, path);
      } catch (e) {
        await unlink(temp).catch(() => undefined);
        throw e;
      }
      const dirs = [dir, ...created.map((c) => dirname(c))];
      if (this.#mode === "each") for (const d of dirs) await syncPath(d, "r");
      if (this.#mode === "batched") this.#pending.add(path, dirs);
      return infoOf(key, await stat(path));
    });
  }

  /** {@inheritDoc BackupRepository.flush} */
  flush(ctx: OperationContext): ResultAsync<void, VolkitError> {
    return wrapFs("flush", "", ctx, () => this.#pending.flush());
  }

  /** {@inheritDoc BackupRepository.get} */
  get(key: string, ctx: OperationContext): ResultAsync<Uint8Array, VolkitError> {
    return this.#op(key, "read", ctx, (path) => readFile(path, { signal: ctx.signal }));
  }

  /** {@inheritDoc BackupRepository.read} */
  read(key: string, onData: (piece: Uint8Array) => void | Promise<void>, ctx: OperationContext): ResultAsync<ObjectInfo, VolkitError> {
    return this.#op(key, "read", ctx, async (path) => {
      const handle = await open(path, "r");
      try {
        const info = infoOf(key, await handle.stat());
        for (let position = 0; position < info.size; ) {
          ctx.signal.throwIfAborted();
          const piece = Buffer.allocUnsafe(Math.min(READ_PIECE, info.size - position));
          const { bytesRead } = await handle.read(piece, 0, piece.length, position);
          if (bytesRead === 0) break;
          await onData(piece.subarray(0, bytesRead));
          position += bytesRead;
        }
        return info;
      } finally {
        await handle.close();
      }
    });
  }

  /** {@inheritDoc BackupRepository.head} */
  head(key: string, ctx: OperationContext): ResultAsync<ObjectInfo | undefined, VolkitError> {
    return this.#op(key, "stat", ctx, async (path) => {
      try {
        const s = await stat(path);
        return s.isFile() ? infoOf(key, s) : undefined;
      } catch (e) {
        if (isMissing(e)) return undefined;
        throw e;
      }
    });
  }

  /** {@inheritDoc BackupRepository.list} */
  list(prefix: string, options: ListOptions, ctx: OperationContext): ResultAsync<ListPage, VolkitError> {
    const limit = Math.min(options.limit ?? PAGE_MAX, PAGE_MAX);
    return validate(ObjectPrefixSchema, prefix, "object prefix").asyncAndThen(() =>
      wrapFs("list", prefix, ctx, async () => {
        const objects: ObjectInfo[] = [];
        const prefixes: string[] = [];
        let last: string | undefined;
        const full = (): boolean => objects.length + prefixes.length >= limit;
        for await (const entry of walk(this.#root, prefix, options.delimiter === "/", options.cursor)) {
          ctx.signal.throwIfAborted();
          if (full()) return { objects, prefixes, ...(last === undefined ? {} : { next: last }) };
          if (entry.kind === "prefix") prefixes.push(entry.key);
          else objects.push(infoOf(entry.key, await stat(join(this.#root, entry.key))));
          last = entry.key;
        }
        return { objects, prefixes };
      }),
    );
  }

  /** {@inheritDoc BackupRepository.delete} */
  delete(keys: readonly string[], ctx: OperationContext): ResultAsync<void, VolkitError> {
    for (const key of keys) {
      const checked = validate(ObjectKeySchema, key, "object key");
      if (checked.isErr()) return errAsync(checked.error);
    }
    return wrapFs("delete", keys[0] ?? "", ctx, async () => {
      const dirs = new Set<string>();
      for (const key of keys) {
        ctx.signal.throwIfAborted();
        const path = join(this.#root, key);
        await unlink(path).catch((e: unknown) => {
          if (!isMissing(e)) throw e;
        });
        dirs.add(dirname(path));
      }
      // Remove the directories the deletes emptied (deepest first), never the root itself.
      for (const dir of [...dirs].sort((a, b) => b.length - a.length)) await this.#pruneEmpty(dir);
    });
  }

  /** {@inheritDoc BackupRepository.close} */
  close(_ctx: OperationContext): ResultAsync<void, VolkitError> {
    return okAsync(undefined);
  }

  #op<T>(key: string, op: string, ctx: OperationContext, fn: (path: string) => Promise<T>): ResultAsync<T, VolkitError> {
    return validate(ObjectKeySchema, key, "object key").asyncAndThen((k) => wrapFs(op, k, ctx, () => fn(join(this.#root, k))));
  }

  /** `mkdir -p`, returning the directories it created (their parents need an fsync too). */
  async #ensureDirectory(dir: string): Promise<string[]> {
    const first = await mkdir(dir, { recursive: true, mode: 0o750 });
    if (first === undefined) return [];
    const created: string[] = [];
    for (let d = dir; d.length >= first.length; d = dirname(d)) created.push(d);
    return created;
  }

  async #pruneEmpty(dir: string): Promise<void> {
    for (let d = dir; d.length > this.#root.length && d.startsWith(`${this.#root}/`); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return; // not empty (or already gone): stop climbing
      }
    }
  }
}

async function writeBody(handle: FileHandle, body: ObjectBody, signal: AbortSignal): Promise<void> {
  if (body instanceof Uint8Array) {
    await handle.writeFile(body, { signal });
    return;
  }
  for await (const piece of body) {
    signal.throwIfAborted();
    await handle.writeFile(piece, { signal });
  }
}

function infoOf(key: string, s: { size: number; mtimeMs: number }): ObjectInfo {
  return { key, size: s.size, modifiedAt: Math.floor(s.mtimeMs) };
}

interface WalkEntry {
  readonly kind: "object" | "prefix";
  readonly key: string;
}

/**
 * Keys under `prefix` in S3 order (byte order of the full key). Names are sorted with a `/`
 * appended to directories, which is how their keys compare; subtrees entirely before `cursor` are
 * skipped without being read.
 */
async function* walk(root: string, prefix: string, delimited: boolean, cursor: string | undefined): AsyncGenerator<WalkEntry> {
  let names: { name: string; dir: boolean }[];
  try {
    const entries = await readdir(join(root, prefix), { withFileTypes: true });
    names = entries
      .filter((e) => !e.name.startsWith(".") && (e.isFile() || e.isDirectory()))
      .map((e) => ({ name: e.name, dir: e.isDirectory() }))
      .sort((a, b) => compareBytes(a.dir ? `${a.name}/` : a.name, b.dir ? `${b.name}/` : b.name));
  } catch (e) {
    if (isMissing(e)) return;
    throw e;
  }
  for (const { name, dir } of names) {
    const key = dir ? `${prefix}${name}/` : `${prefix}${name}`;
    if (dir) {
      const before = cursor !== undefined && compareBytes(key, cursor) <= 0;
      if (delimited) {
        if (!before) yield { kind: "prefix", key };
      } else if (!before || cursor?.startsWith(key)) {
        yield* walk(root, key, false, cursor);
      }
    } else if (cursor === undefined || compareBytes(key, cursor) > 0) {
      yield { kind: "object", key };
    }
  }
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function isMissing(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** Runs a file-system operation and maps what it throws to a typed error naming the key. */
export function wrapFs<T>(op: string, key: string, ctx: OperationContext, fn: () => Promise<T>): ResultAsync<T, VolkitError> {
  const aborted = ctx.abortError();
  if (aborted) return errAsync(aborted);
  return ResultAsync.fromPromise((async () => fn())(), (e) => fsError(e, op, key, ctx));
}

function fsError(e: unknown, op: string, key: string, ctx: OperationContext): VolkitError {
  if (e instanceof VolkitError) return e;
  const aborted = ctx.abortError();
  if (aborted) return aborted;
  const code = (e as { code?: unknown } | null)?.code;
  const errno = typeof code === "string" ? code : undefined;
  const message = e instanceof Error ? e.message : String(e);
  const opts = { source: "backup-repository", cause: e, details: { key, op, ...(errno === undefined ? {} : { errno }) } };
  if (errno === "ENOENT" || errno === "ENOTDIR") return new VolkitError("BACKUP_NOT_FOUND", `object ${key} does not exist`, opts);
  if (errno === "ENOSPC" || errno === "EDQUOT") return new VolkitError("INSUFFICIENT_CAPACITY", `no space left to ${op} ${key}: ${message}`, opts);
  if (errno === "EIO" || errno === "ESTALE" || errno === "ETIMEDOUT") return new VolkitError("BACKEND_UNAVAILABLE", `${op} ${key} failed: ${message}`, { ...opts, transient: true });
  if (errno === "EACCES" || errno === "EPERM" || errno === "EROFS") return new VolkitError("BACKEND_UNAVAILABLE", `${op} ${key} refused: ${message}`, opts);
  return new VolkitError("INTERNAL", `${op} ${key} failed: ${message}`, opts);
}
