import { ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type { Argv, CommandRunner } from "../exec/runner.js";

/**
 * How the copy engine runs `dd` (internal to src/data): one process for the whole range, or one
 * per chunk with a pause between chunks when a bandwidth limit is set.
 */

/** Time source and sleeper used for bandwidth pacing (see `CopyClock` in copy.ts). */
export interface DdClock {
  /** Monotonic time in milliseconds. */
  now(): number;
  /** Resolves after `ms` milliseconds; rejects when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** One dd job: `argvFor(offset, length)` is the dd argv (without `status=`) for a byte range. */
export interface DdPlan {
  /** Total bytes. */
  readonly bytes: number;
  /** Progress phase name (`copy`, `wipe`). */
  readonly phase: string;
  /** Whether O_DIRECT was asked for (to explain EINVAL). */
  readonly direct: boolean;
  /** Bytes per second cap (0 = none). */
  readonly limit: number;
  /** Bytes per dd run; undefined = one dd for everything. */
  readonly chunk: number | undefined;
  /** Pacing clock. */
  readonly clock: DdClock;
  /** Prefix such as `["ionice", "-c3"]`. */
  readonly prefix: readonly string[];
  /** Added to every reported `bytesDone` (a later batch of a multi-part copy). */
  readonly progressBase?: number;
  /** `bytesTotal` of the progress events (default `bytes`). */
  readonly progressTotal?: number;
  /** dd argv for one range, without the `status=` operand. */
  argvFor(offset: number, length: number): Argv;
}

/** What a run did. */
export interface DdOutcome {
  /** dd processes run. */
  readonly runs: number;
}

/**
 * Runs a plan: one dd with `status=progress` when `chunk` is undefined (progress parsed from its
 * stderr about once a second; cancelling kills it), else one dd per chunk, paced by `limit`.
 */
export function runDd(runner: CommandRunner, plan: DdPlan, ctx: OperationContext): ResultAsync<DdOutcome, VolkitError> {
  if (plan.bytes === 0) return okAsync({ runs: 0 });
  const aborted = ctx.abortError();
  if (aborted) return errAsync(aborted);
  return plan.chunk === undefined ? runStream(runner, plan, ctx) : runChunks(runner, plan, plan.chunk, ctx);
}

/** `prefix` (ionice), then dd's argv, then its `status=` operand. */
function withStatus(prefix: readonly string[], argv: Argv, status: string): Argv {
  const [program, ...args] = [...prefix, ...argv];
  return [program ?? argv[0], ...args, status];
}

function report(plan: DdPlan, ctx: OperationContext, done: number): void {
  ctx.progress(plan.phase, (plan.progressBase ?? 0) + done, plan.progressTotal ?? plan.bytes);
}

/** One long-lived dd: the devices are opened and closed once (one udev change event, not one per chunk). */
function runStream(runner: CommandRunner, plan: DdPlan, ctx: OperationContext): ResultAsync<DdOutcome, VolkitError> {
  let reported = 0;
  const meter = new DdProgressMeter((bytes) => {
    const done = Math.min(bytes, plan.bytes);
    if (done > reported && done < plan.bytes) {
      reported = done;
      report(plan, ctx, done);
    }
  });
  const argv = withStatus(plan.prefix, plan.argvFor(0, plan.bytes), "status=progress");
  return runner
    .run({ argv, signal: ctx.signal, onStderr: (chunk) => meter.push(chunk) })
    .mapErr((e) => explainDirectFailure(e, plan.direct))
    .map(() => {
      report(plan, ctx, plan.bytes);
      return { runs: 1 };
    });
}

function runChunks(runner: CommandRunner, plan: DdPlan, chunk: number, ctx: OperationContext): ResultAsync<DdOutcome, VolkitError> {
  const started = plan.clock.now();
  let runs = 0;
  const step = (offset: number): ResultAsync<DdOutcome, VolkitError> => {
    if (offset >= plan.bytes) return okAsync({ runs });
    const aborted = ctx.abortError();
    if (aborted) return errAsync(aborted);
    const length = Math.min(chunk, plan.bytes - offset);
    const argv = withStatus(plan.prefix, plan.argvFor(offset, length), "status=none");
    return runner
      .run({ argv, signal: ctx.signal })
      .mapErr((e) => explainDirectFailure(e, plan.direct))
      .andThen(() => {
        runs++;
        const done = offset + length;
        report(plan, ctx, done);
        // No pause after the last chunk: it would delay the result without throttling any I/O.
        return (done < plan.bytes ? pace(plan.clock, plan.limit, done, started, ctx) : okAsync(undefined)).map(() => done);
      })
      .andThen(step);
  };
  return step(0);
}

/** Sleeps just long enough that `done` bytes took at least `done / limit` seconds. */
function pace(clock: DdClock, limit: number, done: number, started: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
  if (limit <= 0) return okAsync(undefined);
  const ahead = (done / limit) * 1000 - (clock.now() - started);
  if (ahead <= 0) return okAsync(undefined);
  return ResultAsync.fromPromise(clock.sleep(ahead, ctx.signal), () => ctx.abortError() ?? new VolkitError("ABORTED", "aborted", { source: "copy" }));
}

const DD_EINVAL = /dd: (failed to open|error reading|error writing) '(.*)': Invalid argument/;

/**
 * Turns dd's EINVAL under O_DIRECT into a typed, actionable error: `NOT_SUPPORTED` when the path
 * refuses O_DIRECT at open, `INVALID_ARGUMENT` when an I/O was not aligned to the logical block size.
 */
export function explainDirectFailure(error: VolkitError, direct: boolean): VolkitError {
  if (!direct || error.code !== "COMMAND_FAILED") return error;
  const match = DD_EINVAL.exec(typeof error.details.stderr === "string" ? error.details.stderr : "");
  if (!match) return error;
  const [line, what, path] = match;
  if (what === "failed to open") {
    return new VolkitError("NOT_SUPPORTED", `O_DIRECT is not supported by '${path}' (${line}); retry with direct: false`, {
      source: "copy",
      cause: error,
      details: { ...error.details, directIo: "refused", path },
    });
  }
  return new VolkitError("INVALID_ARGUMENT", `direct I/O on '${path}' is not aligned to its logical block size (${line}); use aligned sizes or direct: false`, {
    source: "copy",
    cause: error,
    details: { ...error.details, directIo: "misaligned", path },
  });
}

/** A progress line of GNU dd's `status=progress` (and its final summary): `123456 bytes (123 kB, 121 KiB) copied, 1 s, …`. */
const DD_PROGRESS = /^(\d+) bytes\b/;

/**
 * Reads GNU dd's `status=progress` output as it streams in: lines end in `\r` (progress, about once
 * a second) or `\n` (the summary), and a chunk may end mid-line. Calls `onBytes` with each count.
 */
export class DdProgressMeter {
  #partial = "";

  /** @param onBytes - called with the byte count of each complete progress line. */
  constructor(private readonly onBytes: (bytes: number) => void) {}

  /** Feeds one chunk of dd's stderr. */
  push(chunk: string): void {
    const lines = (this.#partial + chunk).split(/[\r\n]/);
    this.#partial = lines.pop() ?? "";
    for (const line of lines) {
      const match = DD_PROGRESS.exec(line.trim());
      if (match?.[1]) this.onBytes(Number(match[1]));
    }
  }
}
