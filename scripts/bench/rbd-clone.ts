/**
 * RBD clone vs full copy (issue 15), on the host: a private single-node Ceph cluster
 * (`startCephCluster`, bluestore on a sparse file, loopback ports), the RBD driver as a restricted
 * `profile rbd` client. A 1 GiB volume is filled with `--mib` MiB of data; then, taking turns in
 * every round, `backend.createClonedVolume` (a snapshot of the source and a copy-on-write clone of
 * it) against a full copy of the image (`rbd cp`, what a backend without clones, or a flatten,
 * does). Each copy is deleted after it is timed. Figures only; nothing asserts.
 *
 *   npx tsx scripts/bench/rbd-clone.ts [--rounds 3] [--mib 1024]
 *
 * Needs root and ceph-mon, ceph-mgr, ceph-osd, ceph-common.
 */
import { parseArgs } from "node:util";
import { createBackend } from "../../src/drivers/registry.js";
import { rbdProfileCaps, startCephCluster } from "../../src/testing/ceph-cluster.js";
import { Results, alternate, machine, must, time } from "./measure.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    mib: { type: "string", default: "1024" },
  },
});
const rounds = Number(values.rounds);
const mib = Number(values.mib);
const POOL = "volumes";

console.log(`machine: ${JSON.stringify(machine())}`);
const started = performance.now();
const cluster = await startCephCluster({ pools: [POOL], log: (line) => console.log(`[ceph] ${line}`) });
const results = new Results();
try {
  results.note(`cluster started in ${Math.round(cluster.startMs / 1000)} s`);
  const user = await cluster.createClient("volkitbench", rbdProfileCaps(POOL));
  const backend = await must(createBackend({ driver: "rbd", monitors: [`v2:${cluster.monV2}`], clientId: user.id, key: user.key, pool: POOL, connectTimeoutSec: 5 }));
  const source = await must(backend.createVolume({ id: "bench-src", sizeGiB: 1 }));
  const fill = await time(() => cluster.rbd(["bench", "--io-type", "write", "--io-size", "4M", "--io-threads", "4", "--io-total", `${mib}M`, "--io-pattern", "seq", `${POOL}/volume-${source.id}`]));
  results.note(`source: 1 GiB image with ${mib} MiB written in ${Math.round(fill.ms)} ms`);
  const bench = `8 RBD copy of a 1 GiB volume (${mib} MiB data)`;
  for (let round = 1; round <= rounds; round++) {
    for (const who of alternate(round, "volkit", "rbd cp")) {
      if (who === "volkit") {
        const r = await time(() => must(backend.createClonedVolume({ id: `bench-clone-${round}`, sizeGiB: 1 }, source)));
        results.add(bench, "volkit", r.ms);
        await must(backend.deleteVolume(r.value));
      } else {
        const r = await time(() => cluster.rbd(["cp", "--no-progress", `${POOL}/volume-${source.id}`, `${POOL}/bench-copy-${round}`]));
        results.add(bench, "rbd cp (full copy)", r.ms);
        await cluster.rbd(["rm", "--no-progress", `${POOL}/bench-copy-${round}`]);
      }
    }
    console.log(`rbd: round ${round}/${rounds}`);
  }
  await must(backend.deleteVolume(source));
  await must(backend.close());
} finally {
  const stop = await cluster.stop();
  results.note(`run took ${Math.round((performance.now() - started) / 1000)} s; cluster stopped in ${Math.round(stop.stopMs)} ms; machine at the end: ${JSON.stringify(machine())}`);
  results.print("RBD clone vs full copy");
}
