/**
 * Entry point of a backup worker thread: receives {@link Job}s, answers {@link JobResult}s.
 * Started by `worker-pool.ts`; built as its own file (`dist/backup/chunk-worker.js`).
 *
 * @internal
 * @packageDocumentation
 */
import { parentPort, workerData } from "node:worker_threads";
import { createJobEnv, runJob, type Job, type JobConfig } from "./chunk-jobs.js";
import { transferablesOf } from "./transfer.js";

if (parentPort !== null) {
  const port = parentPort;
  const env = createJobEnv(workerData as JobConfig);
  port.on("message", (message: { readonly id: number; readonly job: Job }) => {
    void runJob(env, message.job).then((result) => {
      try {
        port.postMessage({ id: message.id, result }, transferablesOf(result));
      } catch {
        // A buffer owned by a native addon (zstd's output) cannot be moved: copy it instead.
        port.postMessage({ id: message.id, result });
      }
    });
  });
}
