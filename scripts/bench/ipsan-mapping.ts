/**
 * IP-SAN mapping benchmark (issue 15): N hosts call `initializeConnection` at once (each its own
 * volume), then `terminateConnection`, against the array simulator, with the driver's per-host
 * locks (what it ships) and with every mapping section behind ONE global lock (what a driver with a
 * single mapping mutex does). Medians of R rounds; a fresh simulator per round.
 *
 * volkit's rows are the per-host locks; the peer is the global lock; the two alternate in every
 * round (`alternate()`). Each REST request is held back by `--latency-ms` in the simulator (a real array answers a
 * mapping call in a few to tens of ms), so the figures show what the locking costs when the array,
 * not this process, is the slow side. `--data-plane` also runs the simulator's tgtd (root), whose
 * reconciles are serialized inside the simulator and then dominate both modes.
 *
 *   npx tsx scripts/bench/ipsan-mapping.ts [--hosts 32] [--rounds 3] [--latency-ms 10] [--data-plane]
 *
 * It prints figures; it asserts nothing.
 */
import { parseArgs } from "node:util";
import { InProcessLocks, type LockBackend } from "../../src/core/locks.js";
import { wrapDriver } from "../../src/drivers/backend.js";
import { createIpsanDriver } from "../../src/drivers/ipsan/index.js";
import { startArraySimulator } from "../../src/testing/array-simulator/index.js";
import { Results, alternate, machine } from "./measure.js";

const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "32" },
    rounds: { type: "string", default: "3" },
    "latency-ms": { type: "string", default: "10" },
    "data-plane": { type: "boolean", default: false },
  },
});
const hosts = Number(values.hosts);
const rounds = Number(values.rounds);
const latencyMs = Number(values["latency-ms"]);

/** Every key is the same key: one global mapping lock. */
function globalLock(): LockBackend {
  const inner = new InProcessLocks();
  return { acquire: (_key, signal) => inner.acquire("ipsan-global-mapping", signal) };
}

interface Round {
  readonly mapMs: number;
  readonly unmapMs: number;
  readonly requests: number;
}

async function round(mode: "per-host" | "global"): Promise<Round> {
  const sim = await startArraySimulator({ protocol: "http", iscsi: values["data-plane"] });
  try {
    const driver = (
      await createIpsanDriver({ driver: "ipsan", ...sim.connection(), storagePools: ["StoragePool001"], maxConcurrentRequests: 128 }, mode === "global" ? { locks: globalLock() } : {})
    )._unsafeUnwrap();
    const backend = wrapDriver(driver);
    const volumes = await Promise.all(Array.from({ length: hosts }, async (_v, i) => (await backend.createVolume({ id: `bench-${i}`, sizeGiB: 1 }))._unsafeUnwrap()));
    const host = (i: number) => ({ host: `bench-host-${i}`, initiator: `iqn.2024-01.org.volkit:bench-${i}`, multipath: true });
    sim.faults.delay({ ms: latencyMs });
    const mark = sim.requests.length;
    const t0 = performance.now();
    const infos = await Promise.all(volumes.map(async (v, i) => (await backend.initializeConnection(v, host(i)))._unsafeUnwrap()));
    const mapMs = performance.now() - t0;
    const luns = new Set(infos.map((info) => (info.type === "iscsi" ? info.targetLun : -1)));
    if (luns.size !== hosts || sim.snapshot().views.length !== hosts) throw new Error(`lost or duplicated mappings: ${luns.size} LUN ids, ${sim.snapshot().views.length} views`);
    const t1 = performance.now();
    await Promise.all(volumes.map(async (v, i) => (await backend.terminateConnection(v, host(i)))._unsafeUnwrap()));
    const unmapMs = performance.now() - t1;
    if (sim.snapshot().hosts.length !== 0) throw new Error("hosts left after terminate");
    const requests = sim.requests.length - mark;
    await sim.faults.clear();
    (await backend.close())._unsafeUnwrap();
    return { mapMs, unmapMs, requests };
  } finally {
    await sim.stop();
  }
}

console.log(`machine: ${JSON.stringify(machine())}`);
console.log(`ipsan mapping: ${hosts} hosts at once, ${latencyMs} ms per REST request, ${rounds} rounds, data plane ${values["data-plane"] ? "on (tgtd)" : "off"}`);
const results = new Results();
const label = (mode: "per-host" | "global"): string => (mode === "per-host" ? "volkit" : "one global mapping lock");
for (let r = 1; r <= rounds; r++) {
  for (const mode of alternate<"per-host" | "global">(r, "per-host", "global")) {
    const one = await round(mode);
    results.add(`${hosts} hosts map at once`, label(mode), one.mapMs);
    results.add(`${hosts} hosts unmap at once`, label(mode), one.unmapMs);
    results.add("REST requests per round", label(mode), one.requests, "req");
  }
}
results.note(`machine at the end: ${JSON.stringify(machine())}`);
results.print(`IP-SAN mapping, ${hosts} hosts, ${latencyMs} ms per request`);
