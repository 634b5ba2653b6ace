import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { ConnectionInfoSchema, VolumeSchema, type Snapshot, type Volume } from "../core/records.js";
import type { CheckParams } from "./conformance-options.js";
import { describeError, expectData, pattern, type Session } from "./conformance-session.js";
import { checkProvisionedGrowth, checkStatsShape, provisioned, totalVolumes } from "./conformance-stats.js";

/**
 * The conformance checks of what must work: the lifecycle with its data, stats, retry safety of
 * creates and deletes, export and connection, concurrent creates.
 */

/** create → stats → snapshot → volume from snapshot (bigger) → clone → extend → revert → delete, with the data checked at each step when `io` is given. */
export async function lifecycleCheck(s: Session, p: CheckParams): Promise<void> {
  const { size, ioBytes } = p;
  const caps = s.caps;
  const io = p.io;
  const stats0 = await s.ok("getVolumeStats", s.backend.getVolumeStats());
  const id = randomUUID();
  const a = await s.track(s.ok("createVolume", s.backend.createVolume({ id, sizeGiB: size, displayName: "volkit conformance" })));
  expect(a.id, "createVolume returns the requested id").toBe(id);
  expect(a.sizeGiB, "createVolume returns the requested size").toBe(size);
  expect(VolumeSchema.safeParse(a).success, "createVolume returns a valid Volume").toBe(true);
  const stats1 = await s.ok("getVolumeStats", s.backend.getVolumeStats());
  checkStatsShape(stats1, s.backend.name);
  checkProvisionedGrowth(stats0, stats1, size);

  const original = io ? pattern(ioBytes) : undefined;
  if (io && original) await io.write(a, original);

  let snapshot: Snapshot | undefined;
  let changed: Buffer | undefined;
  let extendTarget: Volume | undefined;
  if (caps.snapshots) {
    snapshot = await s.createSnapshot(a);
    expect(snapshot.volumeId, "snapshot names its volume").toBe(a.id);
    expect(snapshot.volumeSizeGiB, "snapshot records the volume size").toBe(size);
    if (io) {
      changed = pattern(ioBytes);
      await io.write(a, changed); // the snapshot must not see this
    }
    const fromSnap = await s.track(
      s.ok("createVolumeFromSnapshot", s.backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: size + 1 }, snapshot)),
    );
    expect(fromSnap.sizeGiB, "a volume from a snapshot has the requested (bigger) size").toBe(size + 1);
    if (io && original) await expectData(io, fromSnap, original, "volume created from the snapshot");
    extendTarget = fromSnap;
  }

  const clone = await s.track(s.ok("createClonedVolume", s.backend.createClonedVolume({ id: randomUUID(), sizeGiB: size }, a)));
  expect(clone.sizeGiB, "clone has the requested size").toBe(size);
  if (io && original) await expectData(io, clone, changed ?? original, "clone");
  extendTarget ??= clone;

  const before = extendTarget.sizeGiB;
  const extended = await s.ok("extendVolume", s.backend.extendVolume(extendTarget, before + 1));
  expect(extended.id).toBe(extendTarget.id);
  expect(extended.sizeGiB, "extendVolume returns the new size").toBe(before + 1);
  s.replace(extended);
  if (io && original) await expectData(io, extended, extendTarget === clone ? (changed ?? original) : original, "extended volume");

  if (caps.snapshots && caps.revertToSnapshot && snapshot) {
    await s.ok("revertToSnapshot", s.backend.revertToSnapshot(a, snapshot));
    if (io && original) await expectData(io, a, original, "reverted volume");
  }

  if (snapshot) {
    await s.ok("deleteSnapshot", s.backend.deleteSnapshot(snapshot));
    s.forgetSnapshot(snapshot);
  }
  for (const v of s.liveVolumes()) {
    await s.ok("deleteVolume", s.backend.deleteVolume(v));
    s.forgetVolume(v);
  }
}

/** Stats have the required keys, valid capacities and pools, and provisioned capacity grows with a create. */
export async function statsShapeCheck(s: Session, p: CheckParams): Promise<void> {
  const { size } = p;
  const before = await s.ok("getVolumeStats", s.backend.getVolumeStats());
  checkStatsShape(before, s.backend.name);
  const again = await s.ok("getVolumeStats(cached)", s.backend.getVolumeStats({ maxAgeMs: 60_000 }));
  checkStatsShape(again, s.backend.name);
  await s.createVolume(size + 1);
  const after = await s.ok("getVolumeStats", s.backend.getVolumeStats());
  checkStatsShape(after, s.backend.name);
  checkProvisionedGrowth(before, after, size + 1);
}

/** Deleting twice, or deleting a volume or snapshot that never existed, succeeds. */
export async function deleteIsIdempotentCheck(s: Session, p: CheckParams): Promise<void> {
  const { size } = p;
  const v = await s.createVolume(size);
  await s.ok("deleteVolume", s.backend.deleteVolume(v));
  await s.ok("deleteVolume (second time)", s.backend.deleteVolume(v));
  s.forgetVolume(v);
  await s.ok("deleteVolume (never existed)", s.backend.deleteVolume({ id: randomUUID(), sizeGiB: size }));
  if (s.caps.snapshots) {
    const w = await s.createVolume(size);
    const snap = await s.createSnapshot(w);
    await s.ok("deleteSnapshot", s.backend.deleteSnapshot(snap));
    await s.ok("deleteSnapshot (second time)", s.backend.deleteSnapshot(snap));
    s.forgetSnapshot(snap);
    await s.ok("deleteSnapshot (never existed)", s.backend.deleteSnapshot({ id: randomUUID(), volumeId: w.id, volumeSizeGiB: size }));
    await s.ok("deleteVolume after its snapshot was deleted", s.backend.deleteVolume(w));
    s.forgetVolume(w);
  }
}

/** Creating the same id twice never makes a second object; after a delete the id is free again. */
export async function createTwiceCheck(s: Session, p: CheckParams): Promise<void> {
  const { size } = p;
  const id = randomUUID();
  const first = await s.track(s.ok("createVolume", s.backend.createVolume({ id, sizeGiB: size })));
  const afterFirst = await s.ok("getVolumeStats", s.backend.getVolumeStats());
  const second = await s.call("createVolume (same id)", s.backend.createVolume({ id, sizeGiB: size }));
  if (second.isOk()) {
    expect(second.value.id, "a repeated create returns the same volume").toBe(first.id);
    expect(second.value.sizeGiB, "a repeated create returns the same volume").toBe(first.sizeGiB);
  } else {
    expect(second.error.code, `a repeated create fails with VOLUME_EXISTS (got ${describeError(second.error)})`).toBe("VOLUME_EXISTS");
  }
  const afterSecond = await s.ok("getVolumeStats", s.backend.getVolumeStats());
  const p1 = provisioned(afterFirst);
  const p2 = provisioned(afterSecond);
  if (p1 !== undefined && p2 !== undefined) expect(p2, "a repeated create must not allocate again").toBe(p1);
  const t1 = totalVolumes(afterFirst);
  const t2 = totalVolumes(afterSecond);
  if (t1 !== undefined && t2 !== undefined) expect(t2, "a repeated create must not add a volume").toBe(t1);

  const bigger = await s.call("createVolume (same id, other size)", s.backend.createVolume({ id, sizeGiB: size + 1 }));
  expect(bigger.isErr() ? bigger.error.code : "ok", "creating an existing id with another size fails with VOLUME_EXISTS").toBe("VOLUME_EXISTS");

  await s.ok("deleteVolume", s.backend.deleteVolume(first));
  s.forgetVolume(first);
  // One delete removed it completely: the id is free again, even for another size.
  const recreated = await s.track(s.ok("createVolume after delete", s.backend.createVolume({ id, sizeGiB: size + 1 })));
  expect(recreated.sizeGiB).toBe(size + 1);
}

/** Export and connection: valid ConnectionInfo, repeatable, terminate/remove twice. */
export async function exportAndConnectionCheck(s: Session, p: CheckParams): Promise<void> {
  const { size, host } = p;
  const created = await s.createVolume(size);
  const v = await s.ok("createExport", s.backend.createExport(created, host));
  expect(v.id, "createExport returns the whole volume record").toBe(created.id);
  expect(v.sizeGiB, "createExport keeps the volume's size").toBe(created.sizeGiB);
  expect(VolumeSchema.safeParse(v).success, "createExport returns a valid Volume").toBe(true);
  s.replace(v);
  const again = await s.ok("createExport (again)", s.backend.createExport(v, host));
  expect(again.providerLocation, "a repeated createExport keeps the export where it is").toBe(v.providerLocation);
  const state = await s.ok("describeExport", s.backend.describeExport(v));
  expect(typeof state.exported, "describeExport says whether the volume is exported").toBe("boolean");
  const first = await s.ok("initializeConnection", s.backend.initializeConnection(v, host));
  const parsed = ConnectionInfoSchema.safeParse(first);
  expect(parsed.success, `initializeConnection returns valid ConnectionInfo: ${parsed.success ? "" : parsed.error.message}`).toBe(true);
  expect(first.volumeId, "connection info names the volume").toBe(v.id);
  const second = await s.ok("initializeConnection (again)", s.backend.initializeConnection(v, host));
  expect(ConnectionInfoSchema.safeParse(second).success, "a repeated initializeConnection returns valid ConnectionInfo").toBe(true);
  expect(second.type, "a repeated initializeConnection returns the same transport").toBe(first.type);
  const ensured = await s.ok("ensureExport", s.backend.ensureExport(v));
  expect(ensured.id, "ensureExport returns the volume record").toBe(v.id);
  await s.ok("terminateConnection", s.backend.terminateConnection(v, host));
  await s.ok("terminateConnection (again)", s.backend.terminateConnection(v, host));
  await s.ok("terminateConnection (all hosts)", s.backend.terminateConnection(v));
  await s.ok("removeExport", s.backend.removeExport(v));
  await s.ok("removeExport (again)", s.backend.removeExport(v));
  await s.ok("deleteVolume after detach", s.backend.deleteVolume(v));
  s.forgetVolume(v);
}

/** Volumes created concurrently all exist and are distinct. */
export async function concurrentCreatesCheck(s: Session, p: CheckParams): Promise<void> {
  const { size } = p;
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  const made = await Promise.all(ids.map((id) => s.track(s.ok("createVolume (concurrent)", s.backend.createVolume({ id, sizeGiB: size })))));
  expect(made.map((v) => v.id), "every concurrent create returns its own volume").toEqual(ids);
  await Promise.all(made.map((v) => s.ok("deleteVolume (concurrent)", s.backend.deleteVolume(v))));
  for (const v of made) s.forgetVolume(v);
}
