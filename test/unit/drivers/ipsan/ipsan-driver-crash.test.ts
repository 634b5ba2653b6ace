/**
 * Retry convergence: each flow is cut after its k-th REST request for every k (the simulator then
 * fails every request, so the driver's own clean-up fails too: what a crash of the caller leaves),
 * then run again with the array healthy. The retry must succeed and leave exactly one of everything
 * it makes, no half-made LUN, copy task, temporary snapshot, QoS policy or host object, and the
 * right data. Deletes and terminates are cut the same way and must converge to nothing left.
 */
import type { ResultAsync } from "neverthrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VolkitError } from "../../../../src/core/errors.js";
import type { HostPropertiesInput, Snapshot, Volume } from "../../../../src/core/records.js";
import type { VolumeBackend } from "../../../../src/drivers/backend.js";
import { lunNameOf } from "../../../../src/drivers/ipsan/ipsan-names.js";
import type { ArraySimulator } from "../../../../src/testing/array-simulator/index.js";
import { unitSimulator } from "./helpers.js";
import { ipsanOn, noise, objectCounts, orphans, readVolume, sha, writeVolume } from "./ipsan-driver-helpers.js";

const MiB = 1024 * 1024;

/**
 * Runs `op` once cut after its k-th request for k = 0…(requests of a clean run + 2), then again
 * healthy, and checks with `after`; `before` prepares each round outside the cut. Returns how many
 * requests a clean run made.
 */
async function everyCut(
  sim: ArraySimulator,
  op: (k: number) => ResultAsync<unknown, VolkitError>,
  after: (k: number, firstFailed: boolean) => Promise<void>,
  before: (k: number) => Promise<void> = () => Promise.resolve(),
): Promise<number> {
  await before(-1);
  const mark = sim.requests.length;
  (await op(-1))._unsafeUnwrap();
  const steps = sim.requests.length - mark;
  await after(-1, false);
  for (let k = 0; k <= steps + 2; k++) {
    await before(k);
    sim.faults.cutAfter({ after: k });
    const first = await op(k);
    await sim.faults.clear();
    const retry = await op(k);
    if (retry.isErr()) throw new Error(`retry after a cut at request ${k} failed: ${retry.error.code} ${retry.error.message}`);
    await after(k, first.isErr());
  }
  return steps;
}

const lunsNamed = (sim: ArraySimulator, volumeId: string): number => sim.snapshot().luns.filter((l) => l.name === lunNameOf(volumeId)).length;

let sim: ArraySimulator;
let backend: VolumeBackend;
let source: Volume;
let snapshot: Snapshot;
const original = noise(MiB);
const QOS = { qosSpecs: { gold: { maxIops: 1000 } } };

beforeAll(async () => {
  sim = await unitSimulator({ copyDurationMs: 10 });
  backend = (await ipsanOn(sim, { ...QOS, iscsi: { targetPortals: ["127.0.0.1", "127.0.0.2"], initiators: [] } })).backend;
  source = (await backend.createVolume({ id: "source", sizeGiB: 1 }))._unsafeUnwrap();
  await writeVolume(sim, source, original);
  snapshot = (await backend.createSnapshot({ id: "source-snap", volumeId: source.id, volumeSizeGiB: 1 }, source))._unsafeUnwrap();
});

afterAll(async () => {
  await sim.stop();
});

/** After each successful retry: one LUN, complete, with the data; then it is deleted and the array is back where it was. */
async function checkCopy(id: string, baseline: Record<string, number>): Promise<void> {
  expect(lunsNamed(sim, id), `LUNs of ${id}`).toBe(1);
  expect(orphans(sim), `orphans after ${id}`).toEqual([]);
  const lun = sim.snapshot().luns.find((l) => l.name === lunNameOf(id));
  expect(lun?.description).toBe(`volkit:${id}`);
  const volume: Volume = { id, sizeGiB: 2, providerId: lun?.id ?? "" };
  expect(sha(await readVolume(sim, volume, MiB)), `data of ${id}`).toBe(sha(original));
  (await backend.deleteVolume(volume))._unsafeUnwrap();
  expect(objectCounts(sim), `after deleting ${id}`).toEqual(baseline);
}

describe("IP-SAN driver: a retry after a crash at any step converges", { timeout: 180_000 }, () => {
  it("createVolume with QoS", async () => {
    const baseline = objectCounts(sim);
    const steps = await everyCut(
      sim,
      (k) => backend.createVolume({ id: `cv-${k}`, sizeGiB: 1, volumeType: "gold" }),
      async (k) => {
        expect(lunsNamed(sim, `cv-${k}`)).toBe(1);
        expect(sim.snapshot().qos.filter((q) => q.lunIds.includes(sim.snapshot().luns.find((l) => l.name === lunNameOf(`cv-${k}`))?.id ?? "-"))).toHaveLength(1);
        expect(orphans(sim)).toEqual([]);
        (await backend.deleteVolume({ id: `cv-${k}`, sizeGiB: 1 }))._unsafeUnwrap();
        expect(objectCounts(sim)).toEqual(baseline);
      },
    );
    expect(steps).toBeGreaterThanOrEqual(5);
  });

  it("createVolumeFromSnapshot (LUN copy, grown, QoS)", async () => {
    const baseline = objectCounts(sim);
    const steps = await everyCut(
      sim,
      (k) => backend.createVolumeFromSnapshot({ id: `fs-${k}`, sizeGiB: 2, volumeType: "gold" }, snapshot),
      (k) => checkCopy(`fs-${k}`, baseline),
    );
    expect(steps).toBeGreaterThanOrEqual(10);
  });

  it("createClonedVolume (temporary snapshot, LUN copy)", async () => {
    const baseline = objectCounts(sim);
    const steps = await everyCut(
      sim,
      (k) => backend.createClonedVolume({ id: `cl-${k}`, sizeGiB: 2 }, source),
      (k) => checkCopy(`cl-${k}`, baseline),
    );
    expect(steps).toBeGreaterThanOrEqual(12);
  });

  it("createClonedVolume as a linked clone (maxCloneDepth 2)", async () => {
    const linked = (await ipsanOn(sim, { maxCloneDepth: 2 })).backend;
    const baseline = objectCounts(sim);
    await everyCut(
      sim,
      (k) => linked.createClonedVolume({ id: `lk-${k}`, sizeGiB: 2 }, source),
      (k) => checkCopy(`lk-${k}`, baseline),
    );
  });

  it("createSnapshot", async () => {
    const baseline = objectCounts(sim);
    await everyCut(
      sim,
      (k) => backend.createSnapshot({ id: `sn-${k}`, volumeId: source.id, volumeSizeGiB: 1 }, source),
      async (k) => {
        const mine = sim.snapshot().snapshots.filter((s) => s.description === `volkit:sn-${k}`);
        expect(mine.map((s) => s.runningStatus)).toEqual(["43"]);
        (await backend.deleteSnapshot({ id: `sn-${k}`, volumeId: source.id, volumeSizeGiB: 1 }))._unsafeUnwrap();
        expect(objectCounts(sim)).toEqual(baseline);
      },
    );
  });

  it("initializeConnection (host, initiator, groups, per-host port group, view) and terminateConnection", async () => {
    const baseline = objectCounts(sim);
    const host = (k: number): HostPropertiesInput => ({ host: `crash-host-${k + 1}`, initiator: `iqn.2024-01.org.volkit:crash-${k + 1}` });
    const vol = (await backend.createVolume({ id: "mapped", sizeGiB: 1 }))._unsafeUnwrap();
    const withVolume = objectCounts(sim);
    await everyCut(
      sim,
      (k) => backend.initializeConnection(vol, host(k)),
      async (k) => {
        expect(objectCounts(sim)).toMatchObject({ hosts: 1, hostGroups: 1, lunGroups: 1, portGroups: 1, views: 1, initiators: 1 });
        expect(sim.snapshot().hosts[0]?.name).toBe(`crash-host-${k + 1}`);
        expect(Object.keys(sim.snapshot().hostLunIds)).toHaveLength(1);
        expect(orphans(sim)).toEqual([]);
        (await backend.terminateConnection(vol, host(k)))._unsafeUnwrap();
        expect(objectCounts(sim)).toEqual(withVolume);
      },
    );
    // The terminate itself, cut at every step.
    const terminateSteps = await everyCut(
      sim,
      () => backend.terminateConnection(vol, host(100)),
      () => {
        expect(objectCounts(sim)).toEqual(withVolume);
        return Promise.resolve();
      },
      async () => void (await backend.initializeConnection(vol, host(100)))._unsafeUnwrap(),
    );
    expect(terminateSteps).toBeGreaterThanOrEqual(15);
    (await backend.deleteVolume(vol))._unsafeUnwrap();
    expect(objectCounts(sim)).toEqual(baseline);
  });

  it("deleteVolume of a mapped volume with QoS", async () => {
    const baseline = objectCounts(sim);
    const make = async (id: string): Promise<Volume> => {
      const v = (await backend.createVolume({ id, sizeGiB: 1, volumeType: "gold" }))._unsafeUnwrap();
      (await backend.initializeConnection(v, { host: `del-host-${id}`, initiator: `iqn.2024-01.org.volkit:del-${id}` }))._unsafeUnwrap();
      return v;
    };
    const volumes = new Map<number, Volume>();
    const vol = async (k: number): Promise<Volume> => {
      const known = volumes.get(k);
      if (known) return known;
      const made = await make(`dv-${k + 1}`);
      volumes.set(k, made);
      return made;
    };
    for (let k = -1; k <= 40; k++) await vol(k);
    const steps = await everyCut(
      sim,
      (k) => backend.deleteVolume(volumes.get(k) ?? { id: "none", sizeGiB: 1 }),
      (k) => {
        expect(lunsNamed(sim, `dv-${k + 1}`)).toBe(0);
        expect(sim.snapshot().hosts.some((h) => h.name === `del-host-dv-${k + 1}`)).toBe(false);
        return Promise.resolve();
      },
    );
    for (const [k, v] of volumes) if (k > steps + 2) (await backend.deleteVolume(v))._unsafeUnwrap();
    expect(orphans(sim)).toEqual([]);
    // The one window left: a crash between taking an initiator out of its host and deleting it
    // leaves it free (what Cinder always leaves); it grants nothing and the host's next mapping reuses it.
    const { initiators, ...rest } = objectCounts(sim);
    const { initiators: _base, ...baseRest } = baseline;
    expect(rest).toEqual(baseRest);
    expect(initiators).toBeLessThan(steps);
    expect(sim.snapshot().initiators.every((i) => i.hostId === "" && !i.useChap)).toBe(true);
  });
});
