import { SingleBar } from "cli-progress";
import { EventBus } from "../core/events.js";
import type { CliOutput } from "./cli-env.js";
import { formatBytes, formatSeconds } from "./units.js";

/**
 * Progress bars for long operations, fed by the library's own `progress` events (the copy engine,
 * qemu-img convert, backup, restore and verify all report bytes done and total on an `EventBus`).
 * The bar shows percent, bytes, the rate over the last few seconds and the time left, on stderr,
 * only when stderr is a terminal and `--json` is off; otherwise nothing is drawn.
 */

/** Where the rate is measured: bytes done over the last `windowMs`. */
export class RateMeter {
  readonly #samples: { readonly at: number; readonly done: number }[] = [];
  readonly #windowMs: number;
  readonly #now: () => number;

  /** @param windowMs - how far back the rate looks (default 5 s). @param now - monotonic clock in ms. */
  constructor(windowMs = 5000, now: () => number = () => performance.now()) {
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Records that `done` bytes are done now. */
  sample(done: number): void {
    const at = this.#now();
    this.#samples.push({ at, done });
    // Keep one sample older than the window, so the rate spans the whole window.
    while (this.#samples.length > 2 && (this.#samples[1]?.at ?? at) <= at - this.#windowMs) this.#samples.shift();
  }

  /** Bytes per second over the window; undefined before two samples a measurable time apart. */
  rate(): number | undefined {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last.at - first.at <= 0) return undefined;
    return ((last.done - first.done) * 1000) / (last.at - first.at);
  }

  /** Seconds until `total` at the current rate; undefined while the rate is unknown or zero. */
  eta(total: number): number | undefined {
    const rate = this.rate();
    const done = this.#samples.at(-1)?.done ?? 0;
    if (rate === undefined || rate <= 0) return undefined;
    return Math.max(0, (total - done) / rate);
  }
}

/** What the bar's text says for one update (pure, for tests and for the bar's format). */
export interface ProgressText {
  /** `12.0 MiB`. */
  readonly done: string;
  /** `64.0 MiB` or `?`. */
  readonly total: string;
  /** `8.0 MiB/s` or `-- B/s`. */
  readonly rate: string;
  /** `6s`, `1m15s` or `--`. */
  readonly eta: string;
}

/** The texts of one update. */
export function progressText(done: number, total: number | undefined, meter: RateMeter): ProgressText {
  const rate = meter.rate();
  const eta = total === undefined ? undefined : meter.eta(total);
  return {
    done: formatBytes(done),
    total: total === undefined ? "?" : formatBytes(total),
    rate: rate === undefined ? "-- B/s" : `${formatBytes(rate)}/s`,
    eta: eta === undefined ? "--" : formatSeconds(eta),
  };
}

/** A progress display. */
export interface ProgressSink {
  /** Bytes done of total, in a phase (`copy`, `convert`, `backup`…). */
  update(done: number, total: number | undefined, phase: string): void;
  /** The operation ended (successfully or not): the bar stays as last drawn, the cursor moves on. */
  finish(): void;
}

/** Draws nothing. */
export const silentProgress: ProgressSink = { update: () => undefined, finish: () => undefined };

/**
 * A cli-progress bar on a terminal stream:
 * `copy  |████████░░░░░░░░| 45% | 28.8 MiB / 64.0 MiB | 8.0 MiB/s | ETA 4s`.
 */
export function createProgressBar(stream: CliOutput, label: string, now?: () => number): ProgressSink {
  const meter = new RateMeter(5000, now);
  let bar: SingleBar | undefined;
  let lastTotal = 1;
  return {
    update: (done, total, phase) => {
      meter.sample(done);
      const text = progressText(done, total, meter);
      const payload = { label: `${label} ${phase}`, doneText: text.done, totalText: text.total, rateText: text.rate, etaText: text.eta };
      lastTotal = total ?? Math.max(lastTotal, done);
      if (!bar) {
        bar = new SingleBar(
          {
            stream: stream as unknown as NodeJS.WritableStream,
            format: "{label} |{bar}| {percentage}% | {doneText} / {totalText} | {rateText} | ETA {etaText}",
            barCompleteChar: "\u2588",
            barIncompleteChar: "\u2591",
            barsize: 24,
            hideCursor: true,
            clearOnComplete: false,
            stopOnComplete: false,
            // Redraw at most 5 times a second; every update still reaches the payload.
            fps: 5,
          },
        );
        bar.start(lastTotal, done, payload);
      } else {
        bar.setTotal(lastTotal);
        bar.update(done, payload);
      }
    },
    finish: () => {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** Feeds `sink` from the `progress` events of `events`; returns the unsubscribe function. */
export function followProgress(events: EventBus, sink: ProgressSink): () => void {
  return events.on((event) => {
    if (event.type === "progress") sink.update(event.bytesDone, event.bytesTotal, event.phase);
  });
}

/** An event bus whose progress events draw on `sink`, and how to stop drawing. */
export interface ProgressHandle {
  /** Pass it as the operation's `events`. */
  readonly events: EventBus;
  /** Stops drawing (call once the operation ended). */
  finish(): void;
}

/** A bus wired to a sink. */
export function progressHandle(sink: ProgressSink): ProgressHandle {
  const events = new EventBus();
  const off = followProgress(events, sink);
  let finished = false;
  return {
    events,
    finish: () => {
      if (finished) return;
      finished = true;
      off();
      sink.finish();
    },
  };
}
