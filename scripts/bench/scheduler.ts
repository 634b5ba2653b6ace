/**
 * Placement throughput of the volume service's scheduler (volkit/service), on the host:
 *
 *   npx tsx scripts/bench/scheduler.ts [--backends 32] [--pools 4] [--placements 5000] [--rounds 5]
 *
 * `--backends` backends of `--pools` pools each (thin and thick, three zones, capabilities for
 * extra-spec matching), then `--placements` placements of 1–100 GiB with a volume type's extra
 * specs (`provisioning:type`, a capability, an availability zone), each committed as the volume
 * service does, with fresh stats for every backend every 500 placements. Reports placements per
 * second and the time of one placement. Cinder's FilterScheduler is the natural peer, but it needs
 * its database and RPC stack (not on this host): no peer yet.
 */
import { parseArgs } from "node:util";
import { Scheduler } from "../../src/service/index.js";
import { Results, must } from "./measure.js";

const { values } = parseArgs({ options: { backends: { type: "string", default: "32" }, pools: { type: "string", default: "4" }, placements: { type: "string", default: "5000" }, rounds: { type: "string", default: "5" } } });
const BACKENDS = Number(values.backends);
const POOLS = Number(values.pools);
const PLACEMENTS = Number(values.placements);
const ROUNDS = Number(values.rounds);
const ZONES = ["az1", "az2", "az3"];

function stats(b: number) {
  return {
    backendName: `backend-${b}`,
    availabilityZone: ZONES[b % ZONES.length],
    driver: "lvm",
    storageProtocol: "iscsi",
    pools: Array.from({ length: POOLS }, (_, p) => ({
      poolName: `pool-${p}`,
      totalCapacityGiB: 100_000,
      freeCapacityGiB: 100_000 - ((b * 7 + p * 13) % 50) * 1000,
      provisionedCapacityGiB: ((b * 11 + p * 3) % 40) * 1000,
      reservedPercentage: 5,
      maxOverSubscriptionRatio: 20,
      thinProvisioningSupport: p % 2 === 0,
      thickProvisioningSupport: p % 2 === 1,
      totalVolumes: (b + p) * 10,
      capabilities: { tier: p % 3 === 0 ? "gold" : "silver", compression: (b + p) % 2 === 0 },
    })),
  };
}

const results = new Results();
for (let round = 1; round <= ROUNDS; round++) {
  const scheduler = new Scheduler({ defaultAvailabilityZone: "az1" });
  for (let b = 0; b < BACKENDS; b++) scheduler.updateBackend(stats(b))._unsafeUnwrap();
  const t0 = performance.now();
  for (let i = 0; i < PLACEMENTS; i++) {
    const placement = await must(
      scheduler.place({
        sizeGiB: 1 + (i % 100),
        availabilityZone: ZONES[i % ZONES.length] ?? "az1",
        extraSpecs: { "provisioning:type": i % 2 === 0 ? "thin" : "thick", "capabilities:tier": i % 5 === 0 ? "gold" : "<in> silver gold" },
        volumeId: `v${i}`,
      }),
    );
    scheduler.commit(placement);
    if (i % 500 === 499) for (let b = 0; b < BACKENDS; b++) scheduler.updateBackend(stats(b))._unsafeUnwrap();
  }
  const ms = performance.now() - t0;
  results.add(`scheduler: ${PLACEMENTS} placements over ${BACKENDS}×${POOLS} pools`, "volkit", PLACEMENTS / (ms / 1000), "place/s", "higher");
  results.add(`scheduler: one placement over ${BACKENDS}×${POOLS} pools`, "volkit", ms / PLACEMENTS, "ms");
}
results.print("volume service scheduler placement throughput");
