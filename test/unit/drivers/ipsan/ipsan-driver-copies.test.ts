/**
 * Volumes from snapshots and clones on the array simulator: LUN copy, clone pair, linked clone
 * LUNs within maxCloneDepth, flattening, growth, progress, and a failed copy leaving nothing.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { VolkitEvent } from "../../../../src/core/events.js";
import type { Snapshot, Volume } from "../../../../src/core/records.js";
import type { VolumeBackend } from "../../../../src/drivers/backend.js";
import type { ArraySimulator } from "../../../../src/testing/array-simulator/index.js";
import { opCtx, unitSimulator } from "./helpers.js";
import { ipsanOn, noise, objectCounts, orphans, readVolume, sha, writeVolume } from "./ipsan-driver-helpers.js";

const MiB = 1024 * 1024;
const SECTORS_PER_GIB = 2 * 1024 * 1024;

let sim: ArraySimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

/** A 1 GiB volume holding `data`, and a snapshot of it taken before `later` overwrote it. */
async function sourceWithSnapshot(s: ArraySimulator, backend: VolumeBackend, data: Buffer, later: Buffer): Promise<{ volume: Volume; snapshot: Snapshot }> {
  const volume = (await backend.createVolume({ id: "src", sizeGiB: 1 }))._unsafeUnwrap();
  await writeVolume(s, volume, data);
  const snapshot = (await backend.createSnapshot({ id: "src-snap", volumeId: volume.id, volumeSizeGiB: 1 }, volume))._unsafeUnwrap();
  await writeVolume(s, volume, later);
  return { volume, snapshot };
}

describe("IP-SAN driver: copies", () => {
  for (const [method, version] of [
    ["lun-copy", "V500R007C60"],
    ["clone-pair", "V600R003C00"],
  ] as const) {
    it(`copyMethod auto on ${version} = ${method}: from snapshot (grown) and clone carry the data, report progress, leave no task or temporary snapshot`, async () => {
      sim = await unitSimulator({ productVersion: version, copyDurationMs: 150 });
      const { backend } = await ipsanOn(sim);
      const original = noise(MiB);
      const later = noise(MiB);
      const { volume, snapshot } = await sourceWithSnapshot(sim, backend, original, later);
      const events: VolkitEvent[] = [];
      backend.events.on((e) => void events.push(e));
      const fromSnap = (await backend.createVolumeFromSnapshot({ id: "from-snap", sizeGiB: 2 }, snapshot))._unsafeUnwrap();
      expect(sha(await readVolume(sim, fromSnap, MiB))).toBe(sha(original));
      const clone = (await backend.createClonedVolume({ id: "clone", sizeGiB: 1 }, volume))._unsafeUnwrap();
      expect(sha(await readVolume(sim, clone, MiB))).toBe(sha(later));
      const luns = sim.snapshot().luns;
      expect(luns.find((l) => l.id === fromSnap.providerId)).toMatchObject({ capacitySectors: 2 * SECTORS_PER_GIB, description: "volkit:from-snap", isClone: false });
      expect(luns.find((l) => l.id === clone.providerId)).toMatchObject({ capacitySectors: SECTORS_PER_GIB, description: "volkit:clone", isClone: false });
      const requests = sim.requests.map((r) => `${r.method} ${r.path.split("?")[0] ?? ""}`);
      expect(requests.some((r) => r === (method === "lun-copy" ? "POST /luncopy" : "POST /clonepair/relation"))).toBe(true);
      expect(requests.some((r) => r === (method === "lun-copy" ? "POST /clonepair/relation" : "POST /luncopy"))).toBe(false);
      const copyProgress = events.filter((e): e is Extract<VolkitEvent, { type: "progress" }> => e.type === "progress" && e.phase === "copy");
      expect(copyProgress.length).toBeGreaterThan(1);
      expect(copyProgress.filter((e) => e.operation === "createVolumeFromSnapshot").at(-1)).toMatchObject({ bytesDone: 1024 ** 3, bytesTotal: 1024 ** 3 });
      // Only the user's snapshot is left: the clone's temporary one and every copy task are gone.
      expect(sim.snapshot().snapshots.map((s) => s.description)).toEqual(["volkit:src-snap"]);
      expect(orphans(sim)).toEqual([]);
      for (const v of [clone, fromSnap]) (await backend.deleteVolume(v))._unsafeUnwrap();
      (await backend.deleteSnapshot(snapshot))._unsafeUnwrap();
      (await backend.deleteVolume(volume))._unsafeUnwrap();
      expect(objectCounts(sim).luns).toBe(0);
    });
  }

  it("a retried create-from-snapshot after success returns the same volume without copying again", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim);
    const { snapshot } = await sourceWithSnapshot(sim, backend, noise(MiB), noise(MiB));
    const first = (await backend.createVolumeFromSnapshot({ id: "again", sizeGiB: 1 }, snapshot))._unsafeUnwrap();
    const mark = sim.requests.length;
    const second = (await backend.createVolumeFromSnapshot({ id: "again", sizeGiB: 1 }, snapshot))._unsafeUnwrap();
    expect(second).toEqual(first);
    expect(sim.requests.slice(mark).some((r) => r.path.startsWith("/luncopy"))).toBe(false);
    expect((await backend.createVolumeFromSnapshot({ id: "again", sizeGiB: 2 }, snapshot))._unsafeUnwrapErr().code).toBe("VOLUME_EXISTS");
  });

  it("a copy that breaks on the array deletes the half-made LUN and reports COMMAND_FAILED", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim);
    const { volume, snapshot } = await sourceWithSnapshot(sim, backend, noise(MiB), noise(MiB));
    const before = objectCounts(sim);
    sim.faults.breakNextCopy();
    const e = (await backend.createVolumeFromSnapshot({ id: "broken", sizeGiB: 1 }, snapshot))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    expect(e.message).toMatch(/LUN copy \d+ failed on the array/);
    expect(objectCounts(sim)).toEqual(before);
    sim.faults.breakNextCopy();
    expect((await backend.createClonedVolume({ id: "broken-clone", sizeGiB: 1 }, volume))._unsafeUnwrapErr().code).toBe("COMMAND_FAILED");
    expect(objectCounts(sim)).toEqual(before);
    expect(orphans(sim)).toEqual([]);
  });

  it("missing sources: SNAPSHOT_NOT_FOUND and VOLUME_NOT_FOUND, nothing allocated", async () => {
    sim = await unitSimulator();
    const { backend } = await ipsanOn(sim);
    const before = objectCounts(sim);
    expect((await backend.createVolumeFromSnapshot({ id: "x1", sizeGiB: 1 }, { id: "no-snap", volumeId: "no-vol", volumeSizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("SNAPSHOT_NOT_FOUND");
    expect((await backend.createClonedVolume({ id: "x2", sizeGiB: 1 }, { id: "no-vol", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
    expect(objectCounts(sim)).toEqual(before);
  });

  it("maxCloneDepth 2: clones are linked clone LUNs until the chain would be 3 deep, then a full copy; each holds its source's data", async () => {
    sim = await unitSimulator({ maxCloneDepth: 8 });
    const { backend, driver } = await ipsanOn(sim, { maxCloneDepth: 2 });
    const data = noise(MiB);
    const base = (await backend.createVolume({ id: "base", sizeGiB: 1 }))._unsafeUnwrap();
    await writeVolume(sim, base, data);
    const c1 = (await backend.createClonedVolume({ id: "c1", sizeGiB: 1 }, base))._unsafeUnwrap();
    const c2 = (await backend.createClonedVolume({ id: "c2", sizeGiB: 2 }, c1))._unsafeUnwrap();
    const c3 = (await backend.createClonedVolume({ id: "c3", sizeGiB: 2 }, c2))._unsafeUnwrap();
    const depth = async (v: Volume): Promise<number> => (await driver.cloneDepth(v, opCtx()))._unsafeUnwrap();
    expect([await depth(base), await depth(c1), await depth(c2), await depth(c3)]).toEqual([0, 1, 2, 0]);
    const byId = new Map(sim.snapshot().luns.map((l) => [l.id, l]));
    expect(byId.get(c1.providerId ?? "")).toMatchObject({ isClone: true, cloneSourceId: base.providerId });
    expect(byId.get(c2.providerId ?? "")).toMatchObject({ isClone: true, cloneSourceId: c1.providerId, capacitySectors: 2 * SECTORS_PER_GIB });
    for (const v of [c1, c2, c3]) expect(sha(await readVolume(sim, v, MiB))).toBe(sha(data));
    // Deleting the source of linked clones splits them off first; they keep their data.
    (await backend.deleteVolume(base))._unsafeUnwrap();
    expect(await depth(c2)).toBe(1);
    (await backend.deleteVolume(c1))._unsafeUnwrap();
    expect(await depth(c2)).toBe(0);
    expect(sha(await readVolume(sim, c2, MiB))).toBe(sha(data));
  });

  it("volumes from snapshots are linked clones of the snapshot unless flattenFromSnapshot; deleting the snapshot splits its clones", async () => {
    sim = await unitSimulator();
    const linked = await ipsanOn(sim, { maxCloneDepth: 3 });
    const original = noise(MiB);
    const { snapshot } = await sourceWithSnapshot(sim, linked.backend, original, noise(MiB));
    const a = (await linked.backend.createVolumeFromSnapshot({ id: "linked", sizeGiB: 1 }, snapshot))._unsafeUnwrap();
    const flat = await ipsanOn(sim, { maxCloneDepth: 3, flattenFromSnapshot: true });
    const b = (await flat.backend.createVolumeFromSnapshot({ id: "flat", sizeGiB: 1 }, snapshot))._unsafeUnwrap();
    const luns = new Map(sim.snapshot().luns.map((l) => [l.id, l]));
    expect(luns.get(a.providerId ?? "")).toMatchObject({ isClone: true, cloneSourceId: snapshot.providerId });
    expect(luns.get(b.providerId ?? "")).toMatchObject({ isClone: false });
    for (const v of [a, b]) expect(sha(await readVolume(sim, v, MiB))).toBe(sha(original));
    (await linked.backend.deleteSnapshot(snapshot))._unsafeUnwrap();
    expect(sim.snapshot().snapshots).toEqual([]);
    expect(sim.snapshot().luns.find((l) => l.id === a.providerId)?.isClone).toBe(false);
    expect(sha(await readVolume(sim, a, MiB))).toBe(sha(original));
  });

  it("an array refusing a deeper linked clone (CLONE_DEPTH_EXCEEDED) gets a full copy instead", async () => {
    sim = await unitSimulator({ maxCloneDepth: 1 });
    const { backend, driver } = await ipsanOn(sim, { maxCloneDepth: 4 });
    const data = noise(MiB);
    const base = (await backend.createVolume({ id: "b", sizeGiB: 1 }))._unsafeUnwrap();
    await writeVolume(sim, base, data);
    const c1 = (await backend.createClonedVolume({ id: "d1", sizeGiB: 1 }, base))._unsafeUnwrap();
    const c2 = (await backend.createClonedVolume({ id: "d2", sizeGiB: 1 }, c1))._unsafeUnwrap();
    expect((await driver.cloneDepth(c1, opCtx()))._unsafeUnwrap()).toBe(1);
    expect((await driver.cloneDepth(c2, opCtx()))._unsafeUnwrap()).toBe(0);
    expect(sim.requests.some((r) => r.code === 1073798190)).toBe(true);
    expect(sha(await readVolume(sim, c2, MiB))).toBe(sha(data));
    expect(orphans(sim)).toEqual([]);
  });
});
