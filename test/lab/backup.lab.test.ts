/**
 * Volume backups on the real storage stack of the lab: a thin LV of the LVM driver with about 10%
 * of it written (random data at scattered offsets) is backed up with `createBackup` into a
 * repository on the lab's kernel NFS share (`createNfsBackupRepository`, mounted through the
 * mount manager), reading only what the thin pool maps (the driver's `allocationMap` of the
 * temporary snapshot), and restored with `restoreBackup` into a new thin LV that stays about 10%
 * allocated (the LV's data_percent), sha256 equal through the devices. Then an incremental after
 * a 2 MiB write, restored into the existing copy, and deleteBackup's dependency rule.
 *
 *   VOLKIT_LAB_KEEP=8 flock /tmp/volkit-lab.lock npx tsx lab/run.ts --timeout 2400 -- npx vitest run --project lab test/lab/backup.lab.test.ts
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backgroundContext } from "../../src/core/context.js";
import { EventBus } from "../../src/core/events.js";
import type { Volume } from "../../src/core/records.js";
import { wrapDriver, type VolumeBackend } from "../../src/drivers/backend.js";
import { createLvmDriver } from "../../src/drivers/lvm/index.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import { createNfsMountManager } from "../../src/remotefs/nfs-mount-manager.js";
import { createBackup, createNfsBackupRepository, deleteBackup, restoreBackup, type BackupRepository } from "../../src/backup/index.js";
import { lab, lvsRows, must, uid } from "./helpers.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const runner = createLocalRunner();
const work = mkdtempSync("/var/tmp/volkit-backup-lab-");
const vg = lab.vgThin;
const device = (v: { id: string }): string => `/dev/${vg}/volume-${v.id}`;

/** sha256 of a whole block device (read with node:fs, 4 MiB at a time). */
function deviceSha256(path: string, bytes: number): string {
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  const buf = Buffer.alloc(4 * MiB);
  try {
    for (let at = 0; at < bytes; at += buf.length) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, bytes - at), at);
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/** The LV's data_percent (share of its size mapped in the thin pool). */
function dataPercent(v: { id: string }): number {
  return Number(lvsRows(vg).get(`volume-${v.id}`)?.data_percent);
}

describe("volume backup of a thin LV to an NFS share, restored into a new thin LV", () => {
  let backend: VolumeBackend;
  let repo: BackupRepository;
  let source: Volume;
  const made: Volume[] = [];
  const events = new EventBus();
  events.on((e) => {
    if (e.type === "operation:end" && (e.operation === "createBackup" || e.operation === "restoreBackup")) {
      console.info(`[lab] ${e.operation} ${e.ok ? "ok" : e.errorCode} in ${Math.round(e.durationMs)} ms: ${e.phases.map((p) => `${p.name} ${Math.round(p.durationMs)} ms`).join(", ")}`);
    }
  });

  beforeAll(async () => {
    const share = lab.nfsShares[0];
    if (share === undefined) throw new Error("VOLKIT_LAB_NFS_SHARES is empty");
    backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: vg, lvmType: "thin" })._unsafeUnwrap(), { events });
    await must(backend.setup());
    const mounts = createNfsMountManager(runner, { mountPointBase: join(work, "mnt"), mountTimeoutMs: 30_000 })._unsafeUnwrap();
    repo = await must(createNfsBackupRepository({ share, directory: `volkit-backups-${uid("r")}` }, mounts));
    source = await must(backend.createVolume({ id: uid("src"), sizeGiB: 1 }));
    made.push(source);
    // About 10%: 52 extents of 2 MiB of random data at scattered, 2 MiB-aligned offsets.
    const fd = openSync(device(source), "r+");
    try {
      for (let i = 0; i < 52; i++) writeSync(fd, randomBytes(2 * MiB), 0, 2 * MiB, ((i * 97) % 512) * 2 * MiB);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  });

  afterAll(async () => {
    for (const v of made) void (await backend.deleteVolume(v));
    if (repo !== undefined) void (await repo.close(backgroundContext()));
    rmSync(work, { recursive: true, force: true });
  });

  let sourceSha = "";
  let sourcePercent = 0;
  let copy: Volume;

  it("backs up through a thin snapshot reading only what the thin pool maps, and restores into a new thin LV that stays sparse, sha256 equal", async () => {
    sourcePercent = dataPercent(source);
    console.info(`[lab] source LV data_percent ${sourcePercent}`);
    expect(sourcePercent).toBeGreaterThan(9);
    expect(sourcePercent).toBeLessThan(12);
    sourceSha = deviceSha256(device(source), GiB);

    const backup = await must(createBackup(backend, source, repo, { id: "lab-full" }));
    const stats = backup.manifest.stats;
    console.info(`[lab] full: read ${(stats.bytesRead / MiB).toFixed(1)} MiB, stored ${(stats.storedBytes / MiB).toFixed(1)} MiB, ${stats.chunksStored} chunks stored, ${stats.chunksHoles} holes, allocation map: ${backup.allocation}, ${stats.durationMs} ms`);
    expect(backup.record).toMatchObject({ pointInTime: true, volumeId: source.id, sizeBytes: GiB, incremental: false });
    expect(backup.leftBehind).toEqual([]);
    // The thin pool's mapping of the temporary snapshot told the engine what to read: ~104 MiB, not 1 GiB.
    expect(backup.allocation).toBe("driver");
    expect(stats.bytesRead).toBeGreaterThanOrEqual(104 * MiB);
    expect(stats.bytesRead).toBeLessThan(130 * MiB);
    // Random data does not compress: about the data, holes not stored.
    expect(stats.dataBytes).toBeGreaterThanOrEqual(104 * MiB);
    expect(stats.storedBytes).toBeLessThan(130 * MiB);
    // The temporary snapshot and volume are gone.
    expect([...lvsRows(vg).keys()].filter((n) => n.includes("backup-"))).toEqual([]);

    const restored = await must(restoreBackup(repo, "lab-full", backend, { newVolume: { id: uid("dst") } }));
    made.push(restored.volume);
    copy = restored.volume;
    expect(restored).toMatchObject({ created: true, report: { holes: "assume-zero" } });
    const after = dataPercent(restored.volume);
    console.info(`[lab] restored LV data_percent ${after} (source ${sourcePercent})`);
    expect(after).toBeLessThanOrEqual(sourcePercent + 1);
    expect(deviceSha256(device(restored.volume), GiB)).toBe(sourceSha);
  });

  it("an incremental after a 2 MiB change stores about 2 MiB and restores into the existing copy, sha256 equal", async () => {
    const fd = openSync(device(source), "r+");
    try {
      writeSync(fd, randomBytes(2 * MiB), 0, 2 * MiB, 700 * MiB + 64 * 1024);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const changedSha = deviceSha256(device(source), GiB);
    expect(changedSha).not.toBe(sourceSha);

    const incr = await must(createBackup(backend, source, repo, { id: "lab-incr", incremental: true }));
    const stats = incr.manifest.stats;
    console.info(`[lab] incremental: read ${(stats.bytesRead / MiB).toFixed(1)} MiB, stored ${(stats.storedBytes / MiB).toFixed(2)} MiB, ${stats.chunksStored} stored, ${stats.chunksReused} reused, ${stats.durationMs} ms`);
    expect(incr.record).toMatchObject({ incremental: true, parentId: "lab-full", chain: ["lab-full"] });
    expect(incr.allocation).toBe("driver");
    expect(stats.storedBytes).toBeGreaterThanOrEqual(2 * MiB);
    expect(stats.storedBytes).toBeLessThan(5 * MiB);

    // Into the existing copy (which holds the full backup's data): holes discarded, data written.
    const into = await must(restoreBackup(repo, "lab-incr", backend, { volume: copy }));
    expect(into).toMatchObject({ created: false, volume: { id: copy.id }, report: { holes: "discard" } });
    expect(deviceSha256(device(copy), GiB)).toBe(changedSha);
    expect(dataPercent(copy)).toBeLessThanOrEqual(dataPercent(source) + 1);
  });

  it("deleteBackup refuses the full backup while the incremental depends on it, and cascades when asked", async () => {
    const refused = await deleteBackup(repo, "lab-full");
    expect(refused.isErr() && refused.error.code).toBe("BACKUP_IN_USE");
    const deleted = await must(deleteBackup(repo, "lab-full", { cascade: true }));
    expect([...deleted.deleted].sort()).toEqual(["lab-full", "lab-incr"]);
  });
});
