import { type FSWatcher, watch } from "node:fs";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { abortReasonToError } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { withRetry } from "../core/retry.js";
import { hostPath, type HostFs } from "./host-fs.js";

/** The transient "not there yet" outcome of a probe (internal to {@link waitFor}). */
const NOT_YET = new VolkitError("DEVICE_NOT_FOUND", "not there yet", { source: "wait", transient: true });

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this many milliseconds (the caller's signal may end the wait sooner). */
  readonly timeoutMs: number;
  /** The operation's signal (caller cancel or deadline): ends the wait with `ABORTED`/`TIMEOUT`. */
  readonly signal: AbortSignal;
  /** First delay between probes (default 50 ms); grows by `factor` up to `maxDelayMs`. */
  readonly minDelayMs?: number;
  /** Largest delay between probes (default 1000 ms). */
  readonly maxDelayMs?: number;
  /** Growth of the delay (default 1.6). */
  readonly factor?: number;
  /** The error returned when `timeoutMs` passes (e.g. `DEVICE_NOT_FOUND` naming the LUN). */
  readonly onTimeout: () => VolkitError;
}

/**
 * Polls `probe` with exponential back-off until it yields a value (not `undefined`), within
 * `timeoutMs`. A probe error ends the wait at once unless it is transient. No fixed sleeps: the
 * delays grow from `minDelayMs`, and the wait stops the moment the signal fires.
 *
 * @example
 * ```ts
 * const dev = await waitFor(() => findLunDevice(fs, session, 1), {
 *   timeoutMs: 30_000, signal: ctx.signal,
 *   onTimeout: () => volkitError("DEVICE_NOT_FOUND", "LUN 1 did not appear"),
 * });
 * ```
 */
export function waitFor<T>(probe: (attempt: number) => ResultAsync<T | undefined, VolkitError>, options: WaitOptions): ResultAsync<T, VolkitError> {
  const limit = AbortSignal.timeout(Math.max(1, options.timeoutMs));
  const signal = AbortSignal.any([options.signal, limit]);
  let attempt = 0;
  // p-retry drops a successful attempt when the signal fired meanwhile; a value found wins anyway.
  let found: { value: T } | undefined;
  return withRetry(
    () => {
      attempt++;
      return probe(attempt).andThen((value) => {
        if (value === undefined) return errAsync(NOT_YET);
        found = { value };
        return okAsync(value);
      });
    },
    {
      retries: Number.POSITIVE_INFINITY,
      minTimeoutMs: options.minDelayMs ?? 50,
      maxTimeoutMs: options.maxDelayMs ?? 1000,
      factor: options.factor ?? 1.6,
      signal,
    },
  ).orElse((e) => {
    if (found) return okAsync(found.value);
    if (options.signal.aborted) return errAsync(abortReasonToError(options.signal.reason));
    if (e === NOT_YET || limit.aborted) return errAsync(options.onTimeout());
    return errAsync(e);
  });
}

/** Options of {@link PollGroup}. */
export interface PollGroupOptions {
  /** Time between two rounds of probes (ms). */
  readonly intervalMs: number;
  /**
   * Host directories whose changes start a round at once (inotify through `fs.watch`), e.g.
   * `/dev`, where devtmpfs adds a node the moment the kernel makes a disk or a map. Directories
   * that cannot be watched are skipped: the rounds go on at `intervalMs` anyway.
   */
  readonly wakeOn?: readonly string[];
}

/** Options of one {@link PollGroup.wait}. */
export interface GroupWaitOptions {
  /** Give up after this many milliseconds. */
  readonly timeoutMs: number;
  /** The operation's signal: ends the wait with `ABORTED`/`TIMEOUT`. */
  readonly signal: AbortSignal;
  /** The error returned when `timeoutMs` passes. */
  readonly onTimeout: () => VolkitError;
}

interface Waiter {
  readonly probe: (fs: HostFs, round: number) => ResultAsync<unknown, VolkitError>;
  rounds: number;
  /** A probe of this waiter has completed. */
  looked: boolean;
  /** The time is up but the probe has not run yet (a loaded host): it ends after its first probe. */
  expired: (() => VolkitError) | undefined;
  settle(outcome: { value: unknown } | { error: VolkitError }): void;
}

/**
 * Waits of many callers served by one polling loop. Every round runs all pending probes against
 * one snapshot of the host's files — each file, directory or link read at most once per round
 * however many probes ask for it — so sixteen attaches waiting at once cost one walk of sysfs per
 * round, not sixteen, and the rounds can be close together (tens of ms) without loading the host.
 * A round starts at once when a waiter joins and when a watched directory changes.
 *
 * @example
 * ```ts
 * const waits = new PollGroup(fs, { intervalMs: 20, wakeOn: ["/dev"] });
 * const disk = await waits.wait((snap) => findSessionLun(snap, session, 3).map((l) => l?.disk), {
 *   timeoutMs: 30_000, signal: ctx.signal, onTimeout: () => new VolkitError("DEVICE_NOT_FOUND", "LUN 3 did not appear"),
 * });
 * ```
 */
export class PollGroup {
  readonly #fs: HostFs;
  readonly #options: PollGroupOptions;
  readonly #waiters = new Set<Waiter>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #again = false;
  #watchers: FSWatcher[] = [];

  /** @param fs - the host's files the probes read (through a per-round snapshot). */
  constructor(fs: HostFs, options: PollGroupOptions) {
    this.#fs = fs;
    this.#options = options;
  }

  /** Rounds completed so far (for tests and diagnostics). */
  rounds = 0;

  /**
   * Resolves with the first value (not `undefined`) `probe` yields, probing once per round; a
   * probe error ends the wait with that error. `probe` gets the round's snapshot of the files.
   */
  wait<T>(probe: (fs: HostFs, round: number) => ResultAsync<T | undefined, VolkitError>, options: GroupWaitOptions): ResultAsync<T, VolkitError> {
    if (options.signal.aborted) return errAsync(abortReasonToError(options.signal.reason));
    return ResultAsync.fromPromise(
      new Promise<T>((resolve, reject) => {
        // A wait never times out without having looked once.
        const limit = setTimeout(() => {
          if (waiter.looked) waiter.settle({ error: options.onTimeout() });
          else waiter.expired = options.onTimeout;
        }, Math.max(1, options.timeoutMs));
        const onAbort = (): void => waiter.settle({ error: abortReasonToError(options.signal.reason) });
        const waiter: Waiter = {
          probe,
          rounds: 0,
          looked: false,
          expired: undefined,
          settle: (outcome) => {
            if (!this.#waiters.delete(waiter)) return;
            clearTimeout(limit);
            options.signal.removeEventListener("abort", onAbort);
            if (this.#waiters.size === 0) this.#idle();
            if ("value" in outcome) resolve(outcome.value as T);
            else reject(outcome.error);
          },
        };
        options.signal.addEventListener("abort", onAbort, { once: true });
        this.#waiters.add(waiter);
        this.#watch();
        this.#kick();
      }),
      (e) => (e instanceof VolkitError ? e : new VolkitError("INTERNAL", String(e), { source: "wait", cause: e })),
    );
  }

  /** Starts a round as soon as possible (coalesced with one in flight). */
  #kick(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#round(), 0);
  }

  async #round(): Promise<void> {
    this.#timer = undefined;
    this.#running = true;
    this.#again = false;
    const snapshot = snapshotFs(this.#fs);
    const batch = [...this.#waiters];
    await Promise.all(
      batch.map(async (w) => {
        w.rounds++;
        try {
          const r = await w.probe(snapshot, w.rounds);
          w.looked = true;
          if (r.isErr()) w.settle({ error: r.error });
          else if (r.value !== undefined) w.settle({ value: r.value });
          else if (w.expired) w.settle({ error: w.expired() });
        } catch (e) {
          w.settle({ error: new VolkitError("INTERNAL", `a probe threw: ${e instanceof Error ? e.message : String(e)}`, { source: "wait", cause: e }) });
        }
      }),
    );
    this.#running = false;
    this.rounds++;
    if (this.#waiters.size === 0) return;
    if (this.#again) this.#kick();
    else this.#timer = setTimeout(() => void this.#round(), this.#options.intervalMs);
  }

  #watch(): void {
    if (this.#watchers.length > 0 || !this.#options.wakeOn) return;
    for (const dir of this.#options.wakeOn) {
      try {
        const w = watch(hostPath(this.#fs.root, dir), { persistent: false }, () => this.#kick());
        w.on("error", () => w.close());
        this.#watchers.push(w);
      } catch {
        // Not watchable here (missing, no inotify): the timed rounds cover it.
      }
    }
  }

  #idle(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }
}

/**
 * A view of `fs` for one round: each path is read (or checked) at most once, results and errors
 * shared; writes go through.
 */
export function snapshotFs(fs: HostFs): HostFs {
  const memo = new Map<string, ResultAsync<unknown, VolkitError>>();
  const present = new Map<string, ResultAsync<boolean, never>>();
  const once = <T>(op: string, path: string, read: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> => {
    const key = `${op}\0${path}`;
    let r = memo.get(key) as ResultAsync<T, VolkitError> | undefined;
    if (!r) {
      r = read();
      memo.set(key, r);
    }
    return r;
  };
  return {
    root: fs.root,
    readFile: (p) => once("readFile", p, () => fs.readFile(p)),
    readdir: (p) => once("readdir", p, () => fs.readdir(p)),
    readlink: (p) => once("readlink", p, () => fs.readlink(p)),
    realpath: (p) => once("realpath", p, () => fs.realpath(p)),
    exists: (p) => {
      let r = present.get(p);
      if (!r) {
        r = fs.exists(p);
        present.set(p, r);
      }
      return r;
    },
    writeFile: (p, d) => fs.writeFile(p, d),
  };
}
