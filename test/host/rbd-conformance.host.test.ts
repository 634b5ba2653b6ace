/**
 * The exported driver conformance suite (volkit/testing) against the RBD driver on the REAL
 * single-node Ceph cluster shared by the host tests (test/host/ceph.global-setup.ts), as a
 * restricted `profile rbd` client on a pool of its own; the data of clones, volumes from snapshots,
 * extends and reverts is checked through librbd (qemu-io/qemu-img on `rbd:` filenames):
 *
 *   npx vitest run --project host test/host/rbd-conformance.host.test.ts
 *
 * Needs root and ceph-mon, ceph-mgr, ceph-osd, ceph-common, qemu-utils, qemu-block-extra.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rbdProfileCaps, type CephCluster } from "../../src/testing/ceph-cluster.js";
import { describeVolumeDriverConformance } from "../../src/testing/conformance.js";
import { sharedCephCluster } from "./ceph-shared.js";
import { RbdPoolFixture } from "./rbd-helpers.js";

const POOL = `rbdconf${process.pid}`;
const shared = sharedCephCluster();

describe("RBD driver conformance prerequisites", () => {
  it("has root, the Ceph packages, qemu-utils, and the shared cluster started", () => {
    expect(shared instanceof Error ? shared.message : undefined).toBeUndefined();
  });
});

if (!(shared instanceof Error)) {
  const cluster: CephCluster = shared;
  let fixture: RbdPoolFixture | undefined;
  let started = 0;

  beforeAll(async () => {
    await cluster.createPool(POOL);
    fixture = new RbdPoolFixture(cluster, POOL, await cluster.createClient(`volkitconf${process.pid}`, rbdProfileCaps(POOL)));
    // Capacity is read from `ceph df`, which lists a new pool once the manager has reported it.
    await cluster.waitForStats();
    started = performance.now();
  });

  afterAll(async () => {
    console.log(`[rbd] conformance suite on the real cluster: ${Math.round((performance.now() - started) / 1000)} s`);
    // Nothing may be left: no image, and nothing parked in the trash.
    expect(await fixture?.json<string[]>(["ls", POOL])).toEqual([]);
    expect(await fixture?.json<unknown[]>(["trash", "ls", POOL])).toEqual([]);
    await cluster.ceph(["osd", "pool", "rm", POOL, POOL, "--yes-i-really-really-mean-it"]);
  });

  const ready = (): RbdPoolFixture => {
    if (!fixture) throw new Error("the pool fixture did not start");
    return fixture;
  };

  describeVolumeDriverConformance({
    name: "RBD driver on a real Ceph cluster (restricted client, data through librbd)",
    create: () => ready().backend(),
    host: { host: "rbd-host", multipath: false },
    io: { write: (v, data) => ready().volumeIo().write(v, data), read: (v, bytes) => ready().volumeIo().read(v, bytes) },
    // Each check's backend wrote a key file; closing it removes the file.
    cleanup: async (backend) => {
      expect((await backend.close()).isOk()).toBe(true);
    },
    timeoutMs: 180_000,
  });
}
