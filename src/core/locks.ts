import { randomUUID } from "node:crypto";
import type { Stats } from "node:fs";
import { link, mkdir, open, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ResultAsync, err, errAsync, ok, okAsync, type Result } from "neverthrow";
import { raceAbort } from "./abort.js";
import { abortReasonToError } from "./context.js";
import { VolkitError, toVolkitError } from "./errors.js";

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

/**
 * Runs `fn` while holding `key`; the lock is released whatever `fn` does: returns Ok or Err, throws,
 * or returns a rejecting `ResultAsync`. A throw or rejection becomes an `INTERNAL` error; nothing
 * thrown escapes.
 */
export function withLock<T>(locks: LockBackend, key: string, signal: AbortSignal | undefined, fn: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
  return locks.acquire(key, signal).andThen(
    (release) =>
      new ResultAsync<T, VolkitError>(
        (async (): Promise<Result<T, VolkitError>> => {
          let result: Result<T, VolkitError>;
          try {
            result = await fn();
          } catch (e) {
            result = err(toVolkitError(e, "INTERNAL", "locks"));
          }
          try {
            await release();
          } catch (e) {
            // The work is done; a failed release only matters when there is nothing worse to report.
            if (result.isOk()) return err(toVolkitError(e, "LOCK_FAILED", "locks"));
          }
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
    const waitTurn = raceAbort(previous, signal).then((turn): Result<Release, VolkitError> => {
      if (!turn.aborted) return ok(release);
      // Give up our place: whoever queued behind us proceeds once `previous` settles.
      void previous.then(release);
      return err(abortReasonToError(turn.reason, "locks"));
    });
    return new ResultAsync(waitTurn);
  }
}

/** Options for {@link FileLocks}. */
export interface FileLocksOptions {
  /** Directory holding lock files (created if missing), e.g. `/run/volkit/locks`. */
  readonly directory: string;
  /** Poll interval while waiting for another process (ms, default 50, grows to about 100, jittered). */
  readonly pollMs?: number;
  /**
   * A lock whose owner process is gone is broken; so is one not refreshed for this long (ms, default
   * 10 min). A live holder refreshes its lock file every `staleMs / 3`, so only a hung or suspended
   * holder's lock ages out.
   */
  readonly staleMs?: number;
}

/** Longest wait between two polls of a busy lock file, before jitter. */
const MAX_POLL_MS = 100;

/**
 * What identifies one lock file. For a file we created and still hold open, its inode alone is
 * exact (an open inode is never freed, so its number cannot be reused). For another process's
 * file, judged from outside, the content (pid) and mtime are compared too.
 */
interface LockFileIdentity {
  readonly dev: number;
  readonly ino: number;
  /** Compared only when set. */
  readonly content?: string;
  /** Compared only when set: a judged-stale lock must not have been refreshed since. */
  readonly mtimeMs?: number;
}

function sameLockFile(info: Stats, content: string | undefined, expected: LockFileIdentity): boolean {
  return (
    info.dev === expected.dev &&
    info.ino === expected.ino &&
    (expected.content === undefined || content === expected.content) &&
    (expected.mtimeMs === undefined || info.mtimeMs === expected.mtimeMs)
  );
}

/** Status (and content, when `expected` compares it) of the lock file at `path`; undefined if none. */
async function describeLockFile(path: string, expected: LockFileIdentity): Promise<{ info: Stats; content: string | undefined } | undefined> {
  if (expected.content !== undefined) return readLockFile(path);
  try {
    return { info: await stat(path), content: undefined };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Creates `file` exclusively holding our pid; undefined when it exists. The handle stays open. */
async function createExclusive(file: string): Promise<{ handle: FileHandle; identity: LockFileIdentity } | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw e;
  }
  const content = `${process.pid}\n`;
  try {
    await handle.writeFile(content);
    const info = await handle.stat();
    return { handle, identity: { dev: info.dev, ino: info.ino } }; // exact while the handle is open
  } catch (e) {
    await handle.close().catch(() => undefined);
    await rm(file, { force: true });
    throw e;
  }
}

/** Reads a lock file's status and content through one handle, so both describe the same inode. */
async function readLockFile(file: string): Promise<{ info: Stats; content: string } | undefined> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const info = await handle.stat();
    const content = await handle.readFile("utf8");
    return { info, content };
  } finally {
    await handle.close();
  }
}

/**
 * Removes the lock file at `file` only if it is still `expected` (our own on release, a dead
 * waiter's breaker), not a lock created since. POSIX has no compare-and-unlink, so the file is first renamed
 * aside (atomic), then the renamed file is checked; if it turns out to be a newer lock it is linked
 * back (`link` never replaces an existing file) before our name for it is dropped.
 */
async function removeLockFileIf(file: string, expected: LockFileIdentity): Promise<void> {
  const before = await describeLockFile(file, expected);
  if (!before || !sameLockFile(before.info, before.content, expected)) return;
  const aside = `${file}.${process.pid}.${randomUUID()}.removing`;
  try {
    await rename(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // someone else removed it
    throw e;
  }
  try {
    const moved = await describeLockFile(aside, expected);
    if (moved && !sameLockFile(moved.info, moved.content, expected)) {
      // A lock created between our check and our rename: give it back untouched.
      await link(aside, file).catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      });
    }
  } finally {
    await rm(aside, { force: true });
  }
}

/**
 * Keyed locks shared by the processes of one host: an exclusive-create lock file holding the
 * owner's pid, combined with {@link InProcessLocks} so callers in the same process queue fairly.
 * A lock left by a dead process (or not refreshed for `staleMs`) is taken over; the holder
 * refreshes its file's mtime while it holds the lock, and takeovers are serialized so one never
 * deletes a lock another waiter has just created. Waiters poll with a jittered back-off capped near
 * 100 ms, so a freed lock is picked up quickly.
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
          try {
            await releaseFile();
          } finally {
            await releaseLocal();
          }
        })
        .orElse((e) => ResultAsync.fromSafePromise(releaseLocal()).andThen(() => errAsync(e))),
    );
  }

  async #acquireFile(file: string, signal?: AbortSignal): Promise<Release> {
    await mkdir(this.#options.directory, { recursive: true, mode: 0o700 });
    const maxDelay = Math.max(MAX_POLL_MS, this.#options.pollMs);
    let delay = this.#options.pollMs;
    for (;;) {
      if (signal?.aborted) throw abortReasonToError(signal.reason, "locks");
      const release = await this.#tryCreate(file);
      if (release) return release;
      if ((await this.#staleIdentity(file)) && (await this.#breakStale(file))) continue;
      // Jittered (±25 %) so contenders of several processes do not poll in lockstep.
      const wait = Math.max(1, Math.round(delay * (0.75 + Math.random() * 0.5)));
      await sleep(wait, undefined, signal ? { signal } : {}).catch(() => undefined);
      delay = Math.min(delay * 2, maxDelay);
    }
  }

  /**
   * Removes a stale lock file. Takeovers are serialized by an exclusive `<lock>.break` file: only
   * its holder deletes another process's lock, and only after judging it stale again while holding
   * it. Nothing else can replace a lock file meanwhile (creation is exclusive and only the owner or
   * the breaker deletes), so two waiters that both saw the same dead lock can never delete the
   * fresh lock the first of them created. Returns false when another waiter is breaking it.
   */
  async #breakStale(file: string): Promise<boolean> {
    const breakerFile = `${file}.break`;
    const breaker = await createExclusive(breakerFile);
    if (!breaker) {
      // Another waiter is breaking the lock, or died doing so: its breaker goes stale like a lock.
      const staleBreaker = await this.#staleIdentity(breakerFile);
      if (staleBreaker) await removeLockFileIf(breakerFile, staleBreaker);
      return false;
    }
    try {
      if (await this.#staleIdentity(file)) await rm(file, { force: true });
      return true;
    } finally {
      await removeLockFileIf(breakerFile, breaker.identity).finally(() => breaker.handle.close().catch(() => undefined));
    }
  }

  /** Creates the lock file exclusively; undefined when it exists. */
  async #tryCreate(file: string): Promise<Release | undefined> {
    const created = await createExclusive(file);
    if (!created) return undefined;
    const { handle, identity: mine } = created;
    // Keep the handle open while held: the heartbeat refreshes this very inode, so a lock that was
    // broken and replaced meanwhile is never refreshed by mistake.
    const heartbeat = setInterval(() => {
      const now = new Date();
      handle.utimes(now, now).catch(() => undefined);
    }, Math.max(1, Math.floor(this.#options.staleMs / 3)));
    heartbeat.unref();
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      try {
        await removeLockFileIf(file, mine); // never a successor's lock if ours was broken
      } finally {
        await handle.close().catch(() => undefined);
      }
    };
  }

  /** The identity of the lock file if it is stale (owner gone or not refreshed for `staleMs`). */
  async #staleIdentity(file: string): Promise<LockFileIdentity | undefined> {
    let read;
    try {
      read = await readLockFile(file);
    } catch {
      return undefined; // unreadable: keep waiting
    }
    if (!read) return undefined; // vanished meanwhile: retry the create
    const { info, content } = read;
    const identity: LockFileIdentity = { dev: info.dev, ino: info.ino, content, mtimeMs: info.mtimeMs };
    const age = Date.now() - info.mtimeMs;
    if (age > this.#options.staleMs) return identity;
    const pid = Number(content.trim());
    if (!Number.isInteger(pid) || pid <= 0) return age > 1000 ? identity : undefined; // being written, or garbage
    try {
      process.kill(pid, 0);
      return undefined;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "ESRCH" ? identity : undefined;
    }
  }
}

/** A lock backend that never blocks; for single-threaded tests only. */
export const noLocks: LockBackend = { acquire: () => okAsync(() => Promise.resolve()) };
