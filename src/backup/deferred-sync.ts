import { open } from "node:fs/promises";

/**
 * How a directory repository makes objects durable:
 * - `batched` (default): `put` writes and renames without waiting for the disk; the files and
 *   directories are fsynced in the background in batches and all of them by `flush`, which the
 *   engine calls before it publishes a manifest (and after), so a manifest is never durable before
 *   the objects it names. The pipeline no longer waits for two fsyncs per chunk, and fsyncs stop
 *   holding libuv's four pool threads that reads, writes and zstd share.
 * - `each`: every `put` fsyncs its file and directory before it returns.
 * - `off`: nothing is fsynced (throw-away repositories in tests).
 */
export type SyncMode = "batched" | "each" | "off";

/** Files pending before a background batch starts. */
const BATCH = 32;
/** fsyncs at once (each holds a libuv pool thread while it waits). */
const PARALLEL = 2;

/** The files and directories written since the last flush, synced in batches. */
export class DeferredSync {
  readonly #files = new Set<string>();
  readonly #dirs = new Set<string>();
  #background: Promise<void> = Promise.resolve();
  #failure: Error | undefined;

  /** Records a file (and the directories whose entries changed) to sync; starts a batch when enough are pending. */
  add(file: string, dirs: readonly string[]): void {
    this.#files.add(file);
    for (const d of dirs) this.#dirs.add(d);
    if (this.#files.size >= BATCH) this.#kick();
  }

  /** Syncs everything recorded so far; throws the first fsync failure (also one of a background batch). */
  async flush(): Promise<void> {
    this.#kick();
    await this.#background;
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure !== undefined) throw failure;
  }

  #kick(): void {
    const files = [...this.#files];
    const dirs = [...this.#dirs];
    this.#files.clear();
    this.#dirs.clear();
    if (files.length === 0 && dirs.length === 0) return;
    // Files before their directories: a renamed entry is durable once its directory is synced.
    this.#background = this.#background.then(() => syncAll(files, "r+").then(() => syncAll(dirs, "r"))).catch((e: unknown) => {
      this.#failure ??= e instanceof Error ? e : new Error(String(e));
    });
  }
}

async function syncAll(paths: readonly string[], flags: "r" | "r+"): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < paths.length) await syncPath(paths[next++] as string, flags);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, paths.length) }, lane));
}

/** fsync of a file or directory by path; one deleted meanwhile needs no syncing. */
export async function syncPath(path: string, flags: "r" | "r+"): Promise<void> {
  let handle;
  try {
    handle = await open(path, flags);
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return;
    throw e;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
