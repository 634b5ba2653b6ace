import { fork, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { openPostgresStore, type ServiceStore, type VolumeServiceConfig } from "../../src/service/index.js";
import { freshDatabase } from "./postgres-fixture.js";
import type { FromWorker, ToWorker } from "./service-worker.js";

/**
 * The volume service on a real PostgreSQL (the host project's shared server) with two service
 * processes on one store and one file backend: they race for the same volumes (one wins every
 * round, the records agree with the backend), and when one is killed mid-operation the other's
 * `reconcile()` leaves it alone while it lives and recovers its work once it is dead.
 */

const server = inject("postgres");
const WORKER = join(import.meta.dirname, "service-worker.ts");
const dir = mkdtempSync(join(tmpdir(), "volkit-service-pg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Worker {
  readonly name: string;
  readonly child: ChildProcess;
  readonly owner: string;
  call(method: string, args: unknown[], startAt?: number): Promise<Extract<FromWorker, { type: "result" }>>;
  exited(): Promise<NodeJS.Signals | number | null>;
}

const live: Worker[] = [];
afterEach(async () => {
  for (const w of live.splice(0)) {
    if (w.child.exitCode === null && w.child.signalCode === null) {
      if (w.child.connected) w.child.send({ type: "exit" } satisfies ToWorker);
      await w.exited();
    }
  }
});

/** Starts a service process; resolves once its service is open. */
async function start(name: string, config: VolumeServiceConfig, env: Record<string, string> = {}): Promise<Worker> {
  const child = fork(WORKER, [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, VOLKIT_WORKER: name, VOLKIT_WORKER_HOST: "node-1", VOLKIT_SERVICE_CONFIG: JSON.stringify(config), ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const pending = new Map<number, (m: Extract<FromWorker, { type: "result" }>) => void>();
  let ready: (owner: string) => void = () => undefined;
  let failed: (e: Error) => void = () => undefined;
  const opened = new Promise<string>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  const exit = new Promise<NodeJS.Signals | number | null>((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
  child.on("message", (m: FromWorker) => {
    if (m.type === "ready") ready(m.owner);
    else if (m.type === "fatal") failed(new Error(m.error));
    else pending.get(m.id)?.(m);
  });
  void exit.then((how) => failed(new Error(`worker ${name} ended (${String(how)}) before it was ready`)));
  const owner = await opened;
  let next = 0;
  const worker: Worker = {
    name,
    child,
    owner,
    call: (method, args, startAt) =>
      new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, resolve);
        void exit.then((how) => reject(new Error(`worker ${name} ended (${String(how)}) during ${method}`)));
        const m: ToWorker = { type: "call", id, method, args, ...(startAt === undefined ? {} : { startAt }) };
        child.send(m);
      }),
    exited: () => exit,
  };
  live.push(worker);
  return worker;
}

async function setup(prefix: string): Promise<{ config: VolumeServiceConfig; store: ServiceStore; files: string }> {
  const database = await freshDatabase(server, prefix);
  const files = mkdtempSync(join(dir, `${prefix}-`));
  const config: VolumeServiceConfig = {
    backends: [{ name: "files", config: { driver: "file-example", directory: files, capacityGiB: 1000 } }],
    volumeTypes: [{ name: "std", extraSpecs: { volume_backend_name: "files" } }],
    defaultVolumeType: "std",
    store: { kind: "postgres", host: server.host, port: server.port, user: server.user, database, maxConnections: 4 },
    host: { hostName: "node-1" },
  };
  const store = (await openPostgresStore({ host: server.host, port: server.port, user: server.user, database }))._unsafeUnwrap();
  return { config, store, files };
}

const volumeFiles = (files: string): string[] => readdirSync(files).filter((f) => f.endsWith(".img")).sort();

describe("volume service on PostgreSQL, two processes", () => {
  it("races: of two processes attaching, deleting or extending the same volume at the same instant, one wins each round", { timeout: 180_000 }, async () => {
    const { config, store, files } = await setup("race");
    const [a, b] = await Promise.all([start("a", config), start("b", config)]);
    const ROUNDS = 8;
    for (let round = 0; round < ROUNDS; round++) {
      const id = `v${round}`;
      expect((await a.call("createVolume", [{ id, sizeGiB: 1 }])).ok).toBe(true);
      // attach vs attach
      let at = Date.now() + 60;
      const attaches = await Promise.all([a.call("attachVolume", [{ volumeId: id }], at), b.call("attachVolume", [{ volumeId: id }], at)]);
      expect(attaches.filter((r) => r.ok), JSON.stringify(attaches)).toHaveLength(1);
      expect(attaches.find((r) => !r.ok)?.code).toBe("INVALID_STATE");
      expect((await store.attachments.list({ volumeId: id }))._unsafeUnwrap()).toHaveLength(1);
      const winner = attaches[0]?.ok === true ? a : b;
      expect((await winner.call("detachVolume", [{ volumeId: id }])).ok).toBe(true);
      // delete vs extend
      at = Date.now() + 60;
      const [del, ext] = await Promise.all([a.call("deleteVolume", [id], at), b.call("extendVolume", [id, 2], at)]);
      expect([del.ok, ext.ok].filter(Boolean), `${JSON.stringify(del)} ${JSON.stringify(ext)}`).toHaveLength(1);
      const record = (await store.volumes.find(id))._unsafeUnwrap();
      if (del.ok) {
        expect(record).toBeUndefined();
        expect(existsSync(join(files, `${id}.img`))).toBe(false);
      } else {
        expect(record).toMatchObject({ status: "available", sizeGiB: 2 });
        expect(existsSync(join(files, `${id}.img`))).toBe(true);
      }
      // Same id, different sizes, created at once: one volume, the other told VOLUME_EXISTS.
      at = Date.now() + 60;
      const creates = await Promise.all([a.call("createVolume", [{ id: `c${round}`, sizeGiB: 1 }], at), b.call("createVolume", [{ id: `c${round}`, sizeGiB: 2 }], at)]);
      expect(creates.filter((r) => r.ok), JSON.stringify(creates)).toHaveLength(1);
      expect(creates.find((r) => !r.ok)?.code).toBe("VOLUME_EXISTS");
    }
    // Records and files agree: every volume the store has is on the backend, and nothing else is.
    const records = (await store.volumes.list())._unsafeUnwrap();
    expect(records.every((v) => v.status === "available")).toBe(true);
    expect(volumeFiles(files)).toEqual(records.map((v) => `${v.id}.img`).sort());
    (await store.close())._unsafeUnwrap();
  });

  it("a killed process's create is left alone while it lives and rolled back by the other once it is dead", { timeout: 180_000 }, async () => {
    const { config, store, files } = await setup("crash");
    // The hung process: its create made the file, then never returns.
    const hung = await start("hung", { ...config, reconcileOnOpen: false }, { VOLKIT_HANG_AFTER: "createVolume" });
    const other = await start("other", { ...config, reconcileOnOpen: false });
    void hung.call("createVolume", [{ id: "stuck", sizeGiB: 1 }]).catch(() => undefined);
    for (let i = 0; i < 100 && volumeFiles(files).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(volumeFiles(files)).toEqual(["stuck.img"]);
    const first = await other.call("reconcile", [{}]);
    expect(first.value).toMatchObject({ actions: [{ id: "stuck", outcome: "skipped", reason: expect.stringContaining(hung.owner) as string }] });
    hung.child.kill("SIGKILL");
    expect(await hung.exited()).toBe("SIGKILL");
    const second = await other.call("reconcile", [{}]);
    expect(second.value).toMatchObject({ actions: [{ id: "stuck", from: "creating", outcome: "rolled-back", to: "error" }] });
    expect(volumeFiles(files)).toEqual([]);
    expect((await store.volumes.get("stuck"))._unsafeUnwrap()).toMatchObject({ status: "error", statusReason: expect.stringMatching(/interrupted/) as string });

    // A process killed by SIGKILL at a service step: the next service to open recovers on open.
    const killed = await start("killed", { ...config, reconcileOnOpen: false }, { VOLKIT_KILL_AT: "volume.attach.progress:connection" });
    expect((await killed.call("createVolume", [{ id: "att", sizeGiB: 1 }])).ok).toBe(true);
    await killed.call("attachVolume", [{ volumeId: "att" }]).catch(() => undefined);
    expect(await killed.exited()).toBe("SIGKILL");
    expect((await store.volumes.get("att"))._unsafeUnwrap().status).toBe("attaching");
    const opener = await start("opener", config);
    const state = await opener.call("getVolume", ["att"]);
    expect(state.value).toMatchObject({ status: "available", attachStatus: "detached" });
    expect((await store.attachments.list({ volumeId: "att" }))._unsafeUnwrap()).toEqual([]);
    (await store.close())._unsafeUnwrap();
  });
});
