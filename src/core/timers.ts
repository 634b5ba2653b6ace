/**
 * Timers for deadlines and time limits of any length. Node's `setTimeout` takes at most
 * 2^31-1 ms (about 24.8 days): a longer delay, `Infinity` or `NaN` fires after 1 ms with a
 * `TimeoutOverflowWarning`, so a deadline 30 days out, or a copy bounded by the remaining time of
 * one, would fail at once. {@link setLongTimeout} waits in steps instead.
 */

/** The longest delay `setTimeout` honours (ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A cancellable timer of {@link setLongTimeout}. */
export interface LongTimer {
  /** Stops the timer; idempotent. */
  clear(): void;
}

/**
 * Calls `fn` after `ms` milliseconds (any finite length; `Infinity` never fires). The timer is
 * unref'd: it never keeps the process alive on its own.
 *
 * @example
 * ```ts
 * const timer = setLongTimeout(() => controller.abort(), 30 * 24 * 3600_000); // 30 days, not 1 ms
 * timer.clear();
 * ```
 */
export function setLongTimeout(fn: () => void, ms: number): LongTimer {
  const due = Date.now() + ms;
  let handle: NodeJS.Timeout | undefined;
  let cleared = false;
  const arm = (): void => {
    if (cleared) return;
    const left = due - Date.now();
    if (left === Number.POSITIVE_INFINITY) return;
    if (left > MAX_TIMER_MS) {
      handle = setTimeout(arm, MAX_TIMER_MS);
      handle.unref();
      return;
    }
    handle = setTimeout(() => {
      if (!cleared) fn();
    }, Math.max(0, left));
    handle.unref();
  };
  arm();
  return {
    clear: () => {
      cleared = true;
      if (handle !== undefined) clearTimeout(handle);
    },
  };
}

/** True when `ms` is a usable delay: a number, not `NaN`, not negative (`Infinity` = never). */
export function isDelay(ms: unknown): ms is number {
  return typeof ms === "number" && !Number.isNaN(ms) && ms >= 0;
}
