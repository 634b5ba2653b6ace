/**
 * One racer of service-race.host.test.ts: a separate process with its own store connection. On
 * each `race` message it waits for the shared start time, then tries to start an operation on the
 * shared volume, recording itself as the winner in the same conditional update.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { openStore, type StoreConfigInput, type VolumeOperation } from "../../src/service/index.js";

/** Messages from the test. */
export type ToWorker = { type: "race"; round: number; volumeId: string; op: VolumeOperation; startAt: number } | { type: "exit" };
/** Messages to the test. */
export type FromWorker =
  | { type: "ready"; worker: string }
  | { type: "fatal"; worker: string; error: string }
  | { type: "result"; worker: string; round: number; won: boolean; status: string | undefined; error?: string };

const worker = process.env.VOLKIT_RACE_WORKER ?? "?";
const send = (m: FromWorker): void => void process.send?.(m);

const opened = await openStore(JSON.parse(process.env.VOLKIT_RACE_STORE ?? "{}") as StoreConfigInput);
if (opened.isErr()) {
  send({ type: "fatal", worker, error: `${opened.error.code}: ${opened.error.message}` });
  process.exit(1);
}
const store = opened.value;

process.on("message", (m: ToWorker) => {
  void (async () => {
    if (m.type === "exit") {
      const closed = await store.close();
      if (closed.isErr()) console.error(`racer ${worker}: close failed: ${closed.error.message}`);
      process.disconnect();
      return;
    }
    // Sleep until just before the start, then spin so every racer fires within a millisecond.
    const early = m.startAt - Date.now() - 3;
    if (early > 0) await sleep(early);
    while (Date.now() < m.startAt) {
      /* spin */
    }
    const t = await store.volumes.begin(m.volumeId, m.op, { patch: { metadata: { winner: worker, round: String(m.round) } } });
    if (t.isErr()) send({ type: "result", worker, round: m.round, won: false, status: undefined, error: `${t.error.code}: ${t.error.message}` });
    else send({ type: "result", worker, round: m.round, won: t.value.won, status: t.value.won ? t.value.record.status : t.value.current?.status });
  })();
});

send({ type: "ready", worker });
