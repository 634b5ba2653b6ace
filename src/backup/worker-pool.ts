import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { type Result, err, ok } from "neverthrow";
import { VolkitError, toVolkitError } from "../core/errors.js";
import { createJobEnv, runJob, type Job, type JobConfig, type JobResult } from "./chunk-jobs.js";
import { transferablesOf } from "./transfer.js";

/**
 * Runs hashing, compression and encryption of chunks on worker threads, so a backup uses every
 * core (Cinder's chunked driver does all of it on one). Each worker takes one job at a time from a
 * FIFO queue; buffers are moved between threads, not copied, when they own their memory. How many
 * chunks are in flight is bounded by the caller (the engines), not here.
 */
export interface JobRunner {
  /** Threads used (0 = jobs run on the calling thread). */
  readonly threads: number;
  /** Runs a job; a crashed worker yields an `INTERNAL` error for its pending jobs. */
  run<J extends Job>(job: J): Promise<JobResult<J>>;
  /** Stops the workers (pending jobs fail). */
  close(): Promise<void>;
}

/** Default thread count: one per core, at most 8. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

/**
 * Starts `threads` workers (0 runs jobs on this thread: for tiny volumes and tests of the
 * pipeline itself).
 */
export function startJobRunner(config: JobConfig, threads: number): Result<JobRunner, VolkitError> {
  if (threads <= 0) return ok(inlineRunner(config));
  try {
    return ok(new WorkerRunner(config, threads));
  } catch (e) {
    return err(toVolkitError(e, "INTERNAL", "backup"));
  }
}

function inlineRunner(config: JobConfig): JobRunner {
  const env = createJobEnv(config);
  return { threads: 0, run: (job) => runJob(env, job), close: () => Promise.resolve() };
}

interface Pending {
  readonly id: number;
  readonly job: Job;
  readonly resolve: (result: JobResult<Job>) => void;
}

class WorkerRunner implements JobRunner {
  readonly threads: number;
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Pending>();
  readonly #queue: Pending[] = [];
  readonly #workers: Worker[] = [];
  #nextId = 0;
  #failure: string | undefined;

  constructor(config: JobConfig, threads: number) {
    this.threads = threads;
    const entry = workerEntry();
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(entry.script, { workerData: config, eval: entry.eval });
      worker.on("message", (message: { readonly id: number; readonly result: JobResult<Job> }) => this.#done(worker, message.result));
      worker.on("error", (e) => this.#crash(worker, e instanceof Error ? e.message : String(e)));
      worker.on("exit", (code) => this.#crash(worker, `worker exited with code ${code}`));
      this.#workers.push(worker);
      this.#idle.push(worker);
    }
  }

  run<J extends Job>(job: J): Promise<JobResult<J>> {
    if (this.#failure !== undefined) return Promise.resolve(crashed(this.#failure) as JobResult<J>);
    return new Promise<JobResult<J>>((resolve) => {
      this.#queue.push({ id: this.#nextId++, job, resolve: resolve as (r: JobResult<Job>) => void });
      this.#dispatch();
    });
  }

  async close(): Promise<void> {
    this.#failure ??= "worker pool closed";
    for (const p of this.#queue.splice(0)) p.resolve(crashed(this.#failure));
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }

  #dispatch(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const worker = this.#idle.pop() as Worker;
      const pending = this.#queue.shift() as Pending;
      this.#busy.set(worker, pending);
      worker.postMessage({ id: pending.id, job: pending.job }, transferablesOf(pending.job));
    }
  }

  #done(worker: Worker, result: JobResult<Job>): void {
    const pending = this.#busy.get(worker);
    this.#busy.delete(worker);
    this.#idle.push(worker);
    pending?.resolve(result);
    this.#dispatch();
  }

  #crash(worker: Worker, message: string): void {
    if (this.#failure === undefined) this.#failure = message;
    const pending = this.#busy.get(worker);
    this.#busy.delete(worker);
    pending?.resolve(crashed(message));
    for (const p of this.#queue.splice(0)) p.resolve(crashed(message));
  }
}

function crashed(message: string): JobResult<Job> {
  return { ok: false, reason: "internal", message: `backup worker failed: ${message}` };
}

/**
 * Where the worker's code is. Built: `chunk-worker.js` next to this module (inlined in
 * `backup/index.js`), under `backup/` (when bundled into a shared chunk at the root of dist) or
 * at `../backup/` (inlined in the CLI bundle, `dist/cli/main.js`).
 * From TypeScript sources (tests, tsx scripts): `chunk-worker.ts`, loaded through tsx.
 */
function workerEntry(): { script: string | URL; eval: boolean } {
  const here = import.meta.url;
  if (here.endsWith(".ts")) {
    // Node 20 does not apply `--import` loaders to a worker's entry module: register tsx inside
    // the worker first, then import the TypeScript entry.
    // tsx's ESM API ("tsx/esm/api" under the import condition; require.resolve would give the CJS one).
    const api = pathToFileURL(join(dirname(createRequire(here).resolve("tsx/package.json")), "dist/esm/api/index.mjs")).href;
    const entry = new URL("./chunk-worker.ts", here).href;
    return { script: `import(${JSON.stringify(api)}).then((m) => m.register()).then(() => import(${JSON.stringify(entry)}));`, eval: true };
  }
  for (const candidate of ["./chunk-worker.js", "./backup/chunk-worker.js", "../backup/chunk-worker.js"]) {
    const url = new URL(candidate, here);
    if (existsSync(fileURLToPath(url))) return { script: url, eval: false };
  }
  throw new VolkitError("INTERNAL", "the backup worker script (chunk-worker.js) is missing from this build", { source: "backup" });
}
