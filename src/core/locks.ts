import { mkdir, open, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { abortReasonToError } from "./context.js";
import { VolkitError } from "./errors.js";

/** Releases a held lock. Idempotent. */
export type Release = () => Promise<void>;

/**
 * Mutual exclusion by key (`volume:<id>`, `target:<iqn>`). Never one global lock: operations on
 * different keys run concurrently. Implementations: {@link InProcessLocks} (default),
 * {@link FileLocks} (several processes on one host); etcd/Redis backends fit the same interface.
 */
export interface LockBackend {
  /** Waits for the lock on `key`; fails with `ABORTED`/`TIMEOUT` if the signal fires first. */
  acquire(key: string, signal?: AbortSignal): ResultAsync<Release, VolkitError>;
}

/** Runs `fn` while holding `key`; the lock is released whatever `fn` returns. */
export function withLock<T>(locks: LockBackend, key: string, signal: AbortSignal | undefined, fn: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
  return locks.acquire(key, signal).andThen(
    (release) =>
      new ResultAsync<T, VolkitError>(
        (async () => {
          const result = await fn();
          await release();
          return result;
        })(),
      ),
  );
}

/** Runs `fn` holding every key, acquired in sorted order so two callers never deadlock. */
export function withLocks<T>(locks: LockBackend, keys: readonly string[], signal: AbortSignal | undefined, fn: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
  const sorted = [...new Set(keys)].sort();
  const step = (i: number): ResultAsync<T, VolkitError> => {
    const key = sorted[i];
    return key === undefined ? fn() : withLock(locks, key, signal, () => step(i + 1));
  };
  return step(0);
}

/** FIFO keyed locks inside one process. */
export class InProcessLocks implements LockBackend {
  readonly #tails = new Map<string, Promise<void>>();

  /** {@inheritDoc index!LockBackend.acquire} */
  acquire(key: string, signal?: AbortSignal): ResultAsync<Release, VolkitError> {
    if (signal?.aborted) return errAsync(abortReasonToError(signal.reason, "locks"));
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let releaseNext!: () => void;
    const mine = new Promise<void>((resolve) => (releaseNext = resolve));
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    let released = false;
    const release: Release = () => {
      if (!released) {
        released = true;
        releaseNext();
        if (this.#tails.get(key) === tail) this.#tails.delete(key);
      }
      return Promise.resolve();
    };
    const waitTurn = new Promise<Release>((resolve, reject) => {
      const onAbort = (): void => {
        // Give up our place: whoever queued behind us proceeds once `previous` settles.
        void previous.then(release);
        reject(abortReasonToError(signal?.reason, "locks"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      void previous.then(() => {
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) return;
        resolve(release);
      });
    });
    return ResultAsync.fromPromise(waitTurn, (e) => (e instanceof VolkitError ? e : new VolkitError("LOCK_FAILED", String(e), { cause: e })));
  }
}

/** Options for {@link FileLocks}. */
export interface FileLocksOptions {
  /** Directory holding lock files (created if missing), e.g. `/run/volkit/locks`. */
  readonly directory: string;
  /** Poll interval while waiting for another process (ms, default 50, grows to 500). */
  readonly pollMs?: number;
  /** A lock whose owner process is gone is broken; one older than this is also broken (ms, default 10 min). */
  readonly staleMs?: number;
}

/**
 * Keyed locks shared by the processes of one host: an exclusive-create lock file holding the
 * owner's pid, combined with {@link InProcessLocks} so callers in the same process queue fairly.
 * A lock left by a dead process (or older than `staleMs`) is taken over.
 */
export class FileLocks implements LockBackend {
  readonly #local = new InProcessLocks();
  readonly #options: Required<FileLocksOptions>;

  /** Creates a file lock backend rooted at `options.directory`. */
  constructor(options: FileLocksOptions) {
    this.#options = { pollMs: 50, staleMs: 10 * 60_000, ...options };
  }

  /** {@inheritDoc index!LockBackend.acquire} */
  acquire(key: string, signal?: AbortSignal): ResultAsync<Release, VolkitError> {
    const file = join(this.#options.directory, `${encodeURIComponent(key)}.lock`);
    return this.#local.acquire(key, signal).andThen((releaseLocal) =>
      ResultAsync.fromPromise(this.#acquireFile(file, signal), (e) =>
        e instanceof VolkitError ? e : new VolkitError("LOCK_FAILED", `cannot lock ${key}: ${String(e)}`, { source: "locks", cause: e }),
      )
        .map((releaseFile): Release => async () => {
          await releaseFile();
          await releaseLocal();
        })
        .orElse((e) => ResultAsync.fromSafePromise(releaseLocal()).andThen(() => errAsync(e))),
    );
  }

  async #acquireFile(file: string, signal?: AbortSignal): Promise<Release> {
    await mkdir(this.#options.directory, { recursive: true, mode: 0o700 });
    let delay = this.#options.pollMs;
    for (;;) {
      if (signal?.aborted) throw abortReasonToError(signal.reason, "locks");
      try {
        const handle = await open(file, "wx", 0o600);
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        let released = false;
        return async () => {
          if (released) return;
          released = true;
          await rm(file, { force: true });
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      if (await this.#isStale(file)) {
        await rm(file, { force: true });
        continue;
      }
      await sleep(delay, undefined, signal ? { signal } : {}).catch(() => undefined);
      delay = Math.min(delay * 2, 500);
    }
  }

  async #isStale(file: string): Promise<boolean> {
    try {
      const [content, info] = await Promise.all([readFile(file, "utf8"), stat(file)]);
      if (Date.now() - info.mtimeMs > this.#options.staleMs) return true;
      const pid = Number(content.trim());
      if (!Number.isInteger(pid) || pid <= 0) return Date.now() - info.mtimeMs > 1000;
      try {
        process.kill(pid, 0);
        return false;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === "ESRCH";
      }
    } catch {
      return false; // vanished meanwhile: retry the create
    }
  }
}

/** A lock backend that never blocks; for single-threaded tests only. */
export const noLocks: LockBackend = { acquire: () => okAsync(() => Promise.resolve()) };
