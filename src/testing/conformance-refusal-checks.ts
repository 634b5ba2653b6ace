import { randomUUID } from "node:crypto";
import type { ResultAsync } from "neverthrow";
import { expect } from "vitest";
import type { VolkitError } from "../core/errors.js";
import type { Volume } from "../core/records.js";
import type { CheckParams } from "./conformance-options.js";
import type { Session } from "./conformance-session.js";
import { capacitySummary } from "./conformance-stats.js";

/**
 * The conformance checks of what must be refused, changing nothing: busy deletes, invalid input,
 * missing sources, unsupported operations, aborted and late operations.
 */

/** Deleting a volume that has snapshots fails with VOLUME_BUSY and keeps both. */
export async function deleteBusyCheck(s: Session, p: CheckParams): Promise<void> {
  const { size } = p;
  if (!s.caps.snapshots) return;
  const v = await s.createVolume(size);
  const snap = await s.createSnapshot(v);
  const busy = await s.call("deleteVolume (has a snapshot)", s.backend.deleteVolume(v));
  expect(busy.isErr() ? busy.error.code : "ok", "deleting a volume with snapshots fails with VOLUME_BUSY").toBe("VOLUME_BUSY");
  // Both survived: the snapshot still yields a volume, and the volume can still be snapshotted.
  await s.track(s.ok("createVolumeFromSnapshot after VOLUME_BUSY", s.backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: size }, snap)));
  await s.createSnapshot(v);
}

/** Invalid specs and shrinking fail with INVALID_ARGUMENT and change nothing. */
export async function invalidInputCheck(s: Session, p: CheckParams): Promise<void> {
  const { size } = p;
  const v = await s.ok("extendVolume", s.backend.extendVolume(await s.createVolume(size), size + 1));
  s.replace(v);
  const before = await s.ok("getVolumeStats", s.backend.getVolumeStats());
  const bad: Array<[string, { id: string; sizeGiB: number }]> = [
    ["sizeGiB 0", { id: randomUUID(), sizeGiB: 0 }],
    ["sizeGiB -1", { id: randomUUID(), sizeGiB: -1 }],
    ["sizeGiB 1.5", { id: randomUUID(), sizeGiB: 1.5 }],
    ['id "../x"', { id: "../x", sizeGiB: size }],
    ['id "-rf"', { id: "-rf", sizeGiB: size }],
    ['id ""', { id: "", sizeGiB: size }],
    ['id "a b"', { id: "a b", sizeGiB: size }],
    ["id with a newline", { id: "a\nb", sizeGiB: size }],
  ];
  for (const [label, spec] of bad) {
    const r = await s.call(`createVolume(${label})`, s.backend.createVolume(spec));
    expect(r.isErr() ? r.error.code : "ok", `createVolume with ${label} fails with INVALID_ARGUMENT`).toBe("INVALID_ARGUMENT");
    const c = await s.call(`createClonedVolume(${label})`, s.backend.createClonedVolume(spec, v));
    expect(c.isErr() ? c.error.code : "ok", `createClonedVolume with ${label} fails with INVALID_ARGUMENT`).toBe("INVALID_ARGUMENT");
  }
  const shrink = await s.call("extendVolume (shrink)", s.backend.extendVolume(v, size));
  expect(shrink.isErr() ? shrink.error.code : "ok", "shrinking fails with INVALID_ARGUMENT").toBe("INVALID_ARGUMENT");
  const after = await s.ok("getVolumeStats", s.backend.getVolumeStats());
  expect(capacitySummary(after), "stats are unchanged after refused requests").toEqual(capacitySummary(before));
}

/** Operations on a missing volume or snapshot fail with *_NOT_FOUND and create nothing. */
export async function missingSourcesCheck(s: Session, p: CheckParams): Promise<void> {
  const { size } = p;
  const before = await s.ok("getVolumeStats", s.backend.getVolumeStats());
  const ghost: Volume = { id: randomUUID(), sizeGiB: size };
  const clone = await s.call("createClonedVolume (missing source)", s.backend.createClonedVolume({ id: randomUUID(), sizeGiB: size }, ghost));
  expect(clone.isErr() ? clone.error.code : "ok", "cloning a missing volume fails with VOLUME_NOT_FOUND").toBe("VOLUME_NOT_FOUND");
  if (clone.isOk()) s.remember(clone.value);
  const ext = await s.call("extendVolume (missing)", s.backend.extendVolume(ghost, size + 1));
  expect(ext.isErr() ? ext.error.code : "ok", "extending a missing volume fails with VOLUME_NOT_FOUND").toBe("VOLUME_NOT_FOUND");
  if (s.caps.snapshots) {
    const snap = await s.call("createSnapshot (missing volume)", s.backend.createSnapshot({ id: randomUUID(), volumeId: ghost.id, volumeSizeGiB: size }, ghost));
    expect(snap.isErr() ? snap.error.code : "ok", "snapshotting a missing volume fails with VOLUME_NOT_FOUND").toBe("VOLUME_NOT_FOUND");
    const from = await s.call(
      "createVolumeFromSnapshot (missing snapshot)",
      s.backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: size }, { id: randomUUID(), volumeId: ghost.id, volumeSizeGiB: size }),
    );
    expect(from.isErr() ? from.error.code : "ok", "a volume from a missing snapshot fails with SNAPSHOT_NOT_FOUND").toBe("SNAPSHOT_NOT_FOUND");
    if (from.isOk()) s.remember(from.value);
  }
  const after = await s.ok("getVolumeStats", s.backend.getVolumeStats());
  expect(capacitySummary(after), "nothing was allocated").toEqual(capacitySummary(before));
}

/** What the driver declares unsupported returns NOT_SUPPORTED instead of throwing. */
export async function notSupportedCheck(s: Session, p: CheckParams): Promise<void> {
  const { size } = p;
  const declared = s.backend.capabilities;
  const v = await s.createVolume(size);
  const snapSpec = { id: randomUUID(), volumeId: v.id, volumeSizeGiB: size };
  const expectNotSupported = async (label: string, r: ResultAsync<unknown, VolkitError>): Promise<void> => {
    const result = await s.call(label, r);
    expect(result.isErr() ? result.error.code : "ok", `${label} is declared unsupported and must return NOT_SUPPORTED`).toBe("NOT_SUPPORTED");
  };
  if (!declared.snapshots && s.caps.snapshots === false) {
    await expectNotSupported("createSnapshot", s.backend.createSnapshot(snapSpec, v));
    await expectNotSupported("createVolumeFromSnapshot", s.backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: size }, snapSpec));
  }
  if (declared.snapshots && !declared.revertToSnapshot && s.caps.revertToSnapshot === false) {
    const snap = await s.createSnapshot(v);
    await expectNotSupported("revertToSnapshot", s.backend.revertToSnapshot(v, snap));
  }
  if (!declared.manageExisting && s.caps.manageExisting === false) {
    await expectNotSupported("manageExisting", s.backend.manageExisting({ id: randomUUID(), sizeGiB: size }, { sourceName: "volkit-conformance-absent" }));
    await expectNotSupported("manageExistingGetSize", s.backend.manageExistingGetSize({ sourceName: "volkit-conformance-absent" }));
    await expectNotSupported("unmanage", s.backend.unmanage(v));
    await expectNotSupported("listManageable", s.backend.listManageable());
  }
}

/** An aborted signal or a past deadline fails with ABORTED/TIMEOUT and creates nothing. */
export async function abortCheck(s: Session, p: CheckParams): Promise<void> {
  const { size } = p;
  const before = await s.ok("getVolumeStats", s.backend.getVolumeStats());
  const id = randomUUID();
  const aborted = await s.call("createVolume (aborted)", s.backend.createVolume({ id, sizeGiB: size }, { signal: AbortSignal.abort() }));
  expect(aborted.isErr() ? aborted.error.code : "ok", "an aborted signal fails with ABORTED").toBe("ABORTED");
  if (aborted.isOk()) s.remember(aborted.value);
  const late = await s.call("createVolume (past deadline)", s.backend.createVolume({ id, sizeGiB: size }, { deadline: Date.now() - 1 }));
  expect(late.isErr() ? late.error.code : "ok", "a past deadline fails with TIMEOUT").toBe("TIMEOUT");
  if (late.isOk()) s.remember(late.value);
  const after = await s.ok("getVolumeStats", s.backend.getVolumeStats());
  expect(capacitySummary(after), "an aborted create allocates nothing").toEqual(capacitySummary(before));
  // Nothing exists under that id: creating it with another size must succeed (no VOLUME_EXISTS).
  const fresh = await s.track(s.ok("createVolume after the aborted attempts", s.backend.createVolume({ id, sizeGiB: size + 1 })));
  expect(fresh.sizeGiB).toBe(size + 1);
  if (s.caps.snapshots) {
    const snap = await s.call(
      "createSnapshot (aborted)",
      s.backend.createSnapshot({ id: randomUUID(), volumeId: fresh.id, volumeSizeGiB: fresh.sizeGiB }, fresh, { signal: AbortSignal.abort() }),
    );
    expect(snap.isErr() ? snap.error.code : "ok", "an aborted createSnapshot fails with ABORTED").toBe("ABORTED");
    if (snap.isOk()) s.rememberSnapshot(snap.value);
    // No snapshot was made, so the volume is not busy.
    await s.ok("deleteVolume (no snapshot was created)", s.backend.deleteVolume(fresh));
    s.forgetVolume(fresh);
  }
}
