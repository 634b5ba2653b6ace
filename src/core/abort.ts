/**
 * The one abort race: wait for shared work, but stop waiting when the caller's signal fires. Used by
 * the runtime (a driver's shared setup), the runners (an SSH connection being opened) and anything
 * else that waits on work others may still want.
 */

/** What {@link raceAbort} resolves with. */
export type Raced<T> =
  /** The promise settled first with this value. */
  | { readonly aborted: false; readonly value: T }
  /** The signal fired first (or had already), with this reason. */
  | { readonly aborted: true; readonly reason: unknown };

/**
 * Waits for `promise`, but resolves as soon as `signal` aborts (at once if it already has). The
 * promise itself is not cancelled: it runs on and its late value is dropped, so use this for shared
 * work others may still want (a connection being opened, a lock queue). The abort listener is
 * removed when the promise settles first. A rejection of `promise` rejects the race.
 *
 * @example
 * ```ts
 * const conn = await raceAbort(connecting, ctx.signal);
 * if (conn.aborted) return err(abortReasonToError(conn.reason, "ssh"));
 * use(conn.value);
 * ```
 */
export function raceAbort<T>(promise: PromiseLike<T>, signal: AbortSignal | undefined): Promise<Raced<T>> {
  if (signal === undefined) return Promise.resolve(promise).then((value) => ({ aborted: false, value }));
  const abortedNow = (): Raced<T> => ({ aborted: true, reason: signal.reason as unknown });
  if (signal.aborted) return Promise.resolve(abortedNow());
  let onAbort!: () => void;
  const aborted = new Promise<Raced<T>>((resolve) => (onAbort = () => resolve(abortedNow())));
  signal.addEventListener("abort", onAbort, { once: true });
  const settled = Promise.resolve(promise).then(
    (value): Raced<T> => {
      signal.removeEventListener("abort", onAbort);
      return { aborted: false, value };
    },
    (error: unknown) => {
      signal.removeEventListener("abort", onAbort);
      throw error;
    },
  );
  return Promise.race([settled, aborted]);
}
