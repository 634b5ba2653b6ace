import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { VOLUME_RULES, openStore, type StoreConfigInput, type VolumeOperation } from "../../src/service/index.js";
import { freshDatabase } from "./postgres-fixture.js";
import type { FromWorker, ToWorker } from "./service-race-worker.js";

/**
 * Separate processes race to start operations on the same volume; every state change is a
 * conditional update, so in every round exactly one wins and the record says which.
 */

const WORKERS = 8;
const ROUNDS = 25;
/** Each racer starts one of these from `available`; they exclude each other. */
const OPS: readonly VolumeOperation[] = ["attach", "extend", "delete"];
const WORKER_FILE = join(import.meta.dirname, "service-race-worker.ts");

const dir = mkdtempSync(join(tmpdir(), "volkit-race-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Racer {
  readonly name: string;
  readonly child: ChildProcess;
  readonly next: () => Promise<FromWorker>;
}

/** Starts a racer and returns a reader of its messages in order. */
function startRacer(name: string, config: StoreConfigInput): Racer {
  const child = fork(WORKER_FILE, [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, VOLKIT_RACE_WORKER: name, VOLKIT_RACE_STORE: JSON.stringify(config) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const queue: FromWorker[] = [];
  const waiting: ((m: FromWorker) => void)[] = [];
  child.on("message", (m: FromWorker) => {
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const next = (): Promise<FromWorker> =>
    new Promise((resolve, reject) => {
      const m = queue.shift();
      if (m) return resolve(m);
      const onExit = (code: number | null): void => reject(new Error(`racer ${name} exited with ${String(code)}`));
      child.once("exit", onExit);
      waiting.push((msg) => {
        child.off("exit", onExit);
        resolve(msg);
      });
    });
  return { name, child, next };
}

async function race(config: StoreConfigInput): Promise<Map<string, number>> {
  // The racers open the (new) store first, all at once: the schema is migrated exactly once.
  const racers = Array.from({ length: WORKERS }, (_, i) => startRacer(`w${i}`, config));
  const wins = new Map<string, number>();
  try {
    for (const r of racers) expect(await r.next()).toEqual({ type: "ready", worker: r.name });
    const store = (await openStore(config))._unsafeUnwrap();
    expect((await store.migrations())._unsafeUnwrap()).toEqual(["0001_initial", "0002_operation_tasks", "0003_backup_tasks"]);
    (await store.volumes.insert({ id: "race-vol", sizeGiB: 10, status: "available" }))._unsafeUnwrap();
    for (let round = 0; round < ROUNDS; round++) {
      const startAt = Date.now() + 50;
      const ops = new Map<string, VolumeOperation>();
      racers.forEach((r, i) => {
        const op = OPS[(i + round) % OPS.length] ?? "attach";
        ops.set(r.name, op);
        const m: ToWorker = { type: "race", round, volumeId: "race-vol", op, startAt };
        r.child.send(m);
      });
      const results = await Promise.all(racers.map((r) => r.next()));
      const outcomes = results.map((m) => (m.type === "result" ? m : undefined));
      for (const o of outcomes) expect(o?.error, `round ${round}`).toBeUndefined();
      const winners = outcomes.filter((o) => o?.won === true);
      expect(winners, `round ${round}: ${JSON.stringify(outcomes)}`).toHaveLength(1);
      const winner = winners[0]?.worker ?? "";
      const op = ops.get(winner) ?? "attach";
      const v = (await store.volumes.get("race-vol"))._unsafeUnwrap();
      expect(v.status).toBe(VOLUME_RULES[op].transient);
      expect(v.previousStatus).toBe("available");
      expect(v.metadata).toEqual({ winner, round: String(round) });
      // Every loser saw the winner's change, not an error.
      for (const o of outcomes) if (o?.won === false) expect(o.status).toBe(v.status);
      wins.set(winner, (wins.get(winner) ?? 0) + 1);
      expect((await store.volumes.resetStatus("race-vol", "available", { attachStatus: "detached" }))._unsafeUnwrap().won).toBe(true);
    }
    (await store.close())._unsafeUnwrap();
  } finally {
    for (const r of racers) if (r.child.connected) r.child.send({ type: "exit" } satisfies ToWorker);
    await Promise.all(racers.map((r) => (r.child.exitCode === null ? new Promise((resolve) => r.child.once("exit", resolve)) : Promise.resolve())));
  }
  return wins;
}

describe("conditional transitions under racing processes", () => {
  it(`SQLite file: exactly one of ${WORKERS} processes wins each of ${ROUNDS} rounds`, { timeout: 120_000 }, async () => {
    const wins = await race({ kind: "sqlite", path: join(dir, "race.db") });
    expect([...wins.values()].reduce((a, b) => a + b, 0)).toBe(ROUNDS);
    console.log(`SQLite winners per racer: ${JSON.stringify(Object.fromEntries(wins))}`);
  });

  it(`PostgreSQL: exactly one of ${WORKERS} processes wins each of ${ROUNDS} rounds`, { timeout: 120_000 }, async () => {
    const server = inject("postgres");
    const database = await freshDatabase(server, "race");
    const wins = await race({ kind: "postgres", host: server.host, port: server.port, user: server.user, database, maxConnections: 2 });
    expect([...wins.values()].reduce((a, b) => a + b, 0)).toBe(ROUNDS);
    console.log(`PostgreSQL winners per racer: ${JSON.stringify(Object.fromEntries(wins))}`);
  });
});
