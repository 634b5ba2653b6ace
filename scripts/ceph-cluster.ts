/**
 * Starts a private single-node Ceph cluster (the test fixture, src/testing/ceph-cluster.ts) and
 * prints how to reach it, for humans poking at RBD or S3 by hand. As root:
 *
 *   npx tsx scripts/ceph-cluster.ts               # runs until Ctrl-C, then stops and cleans up
 *   npx tsx scripts/ceph-cluster.ts --radosgw     # with an S3 gateway and a user
 *   npx tsx scripts/ceph-cluster.ts --measure 3   # start+stop 3 times, print the timings
 */
import { parseArgs } from "node:util";
import { rbdProfileCaps, startCephCluster, type CephCluster } from "../src/testing/ceph-cluster.js";

const { values } = parseArgs({
  options: {
    radosgw: { type: "boolean", default: false },
    measure: { type: "string" },
    pool: { type: "string", default: "volumes" },
    quiet: { type: "boolean", default: false },
  },
});
const log = values.quiet ? undefined : (line: string): void => console.error(`ceph: ${line}`);

async function describe(cluster: CephCluster): Promise<void> {
  const client = await cluster.createClient("volkit", rbdProfileCaps(values.pool));
  const facts: Record<string, unknown> = { ...cluster.facts, pool: values.pool, restrictedClient: { id: client.id, keyring: client.keyringPath } };
  if (values.radosgw) {
    const endpoint = await cluster.startRadosgw();
    const user = await cluster.createS3User("volkit");
    facts.s3 = { endpoint, accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey, forcePathStyle: true };
  }
  console.log(JSON.stringify(facts, null, 2));
  console.log(`
Try:
  ceph --conf ${cluster.confPath} -s
  rbd --conf ${cluster.confPath} --id ${client.id} --keyring ${client.keyringPath} create --size 1G ${values.pool}/demo
  qemu-img info 'rbd:${values.pool}/demo:conf=${cluster.confPath}:id=${client.id}:keyring=${client.keyringPath}'
Ctrl-C stops the cluster and removes ${cluster.dir}.`);
}

async function measure(rounds: number): Promise<void> {
  const rows: { startMs: number; stopMs: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    const cluster = await startCephCluster({ pools: [values.pool], radosgw: values.radosgw, ...(log ? { log } : {}) });
    const { stopMs } = await cluster.stop();
    rows.push({ startMs: cluster.startMs, stopMs });
  }
  console.table(rows);
}

if (values.measure !== undefined) {
  await measure(Number(values.measure));
} else {
  const cluster = await startCephCluster({ pools: [values.pool], ...(log ? { log } : {}) });
  // Nothing else keeps this process alive, and its exit would take the cluster with it.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(keepAlive);
    cluster.stop().then(
      (r) => console.error(`ceph: stopped in ${r.stopMs} ms`),
      (e: unknown) => {
        console.error(e);
        process.exitCode = 1;
      },
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await describe(cluster);
  } catch (e) {
    console.error(e);
    process.exitCode = 1;
    stop();
  }
}
