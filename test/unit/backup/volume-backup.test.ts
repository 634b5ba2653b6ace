import { closeSync, openSync, readSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { backgroundContext } from "../../../src/core/context.js";
import { VolkitError } from "../../../src/core/errors.js";
import { EventBus, type VolkitEvent } from "../../../src/core/events.js";
import type { Volume } from "../../../src/core/records.js";
import { createHost } from "../../../src/attach/host.js";
import { GiB, NO_CAPABILITIES } from "../../../src/drivers/base.js";
import { wrapDriver, type VolumeBackend } from "../../../src/drivers/backend.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { createBackup, readBackupManifest, restoreBackup, type ChunkEntry } from "../../../src/backup/index.js";
import { defaultHoles } from "../../../src/backup/volume-restore.js";
import { FileConnector, FileVolumes, type FileVolumesOptions } from "./file-volumes.js";
import { KiB, MiB, allKeys, must, mustFail, random, tempDir, tempRepo } from "./helpers.js";

const fast = { threads: 0 } as const;

/** A backend of file volumes with one 1 GiB volume holding `writes`. */
async function setup(options: FileVolumesOptions = {}) {
  const dir = tempDir();
  const driver = new FileVolumes(dir, options);
  const connector = new FileConnector(driver);
  const events = new EventBus();
  const backend: VolumeBackend = wrapDriver(driver, { events });
  const volume: Volume = await must(backend.createVolume({ id: "vol1", sizeGiB: 1 }));
  const writes = [
    { offset: 0, data: random(256 * KiB) },
    { offset: 300 * MiB + 4 * KiB, data: random(64 * KiB) },
    { offset: GiB - 128 * KiB, data: Buffer.from("the end ".repeat(16 * KiB)) },
  ];
  for (const w of writes) driver.write(volume.id, w.offset, w.data);
  driver.calls.length = 0;
  const { repo } = tempRepo();
  return { dir, driver, connector, events, backend, volume, writes, repo, host: createHost({ use: { nfs: connector } }) };
}

function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}

describe("createBackup", () => {
  it("reads a temporary volume made from a temporary snapshot, through the driver's allocation map, and removes both", async () => {
    const s = await setup();
    const seen: VolkitEvent[] = [];
    s.events.on((e) => seen.push(e));
    const b = await must(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "b1", connector: s.connector }));
    const [snap, tmp] = [b.temporaries.snapshotId as string, b.temporaries.volumeId as string];
    expect(s.driver.calls).toEqual([
      `createSnapshot ${snap}`,
      `allocationMap snapshot-${snap}`,
      `createVolumeFromSnapshot ${tmp}`,
      `initializeConnection ${tmp}`,
      `deleteVolume ${tmp}`,
      `deleteSnapshot ${snap}`,
    ]);
    expect(s.driver.objects()).toEqual(["volume-vol1"]);
    expect(s.connector.attached.size).toBe(0);
    expect(b.allocation).toBe("driver");
    expect(b.leftBehind).toEqual([]);
    // Only the mapped extents were read.
    expect(b.manifest.stats.bytesRead).toBe(256 * KiB + 64 * KiB + 128 * KiB);
    expect(b.record).toMatchObject({ backupId: "b1", volumeId: "vol1", sizeBytes: GiB, incremental: false, chain: [], pointInTime: true, encrypted: false, dataBytes: b.manifest.stats.dataBytes });
    expect(b.record.repository).toEqual(s.repo.descriptor);
    // Operation and progress events on the backend's bus.
    expect(seen.some((e) => e.type === "operation:end" && e.operation === "createBackup" && e.ok)).toBe(true);
    expect(seen.some((e) => e.type === "progress" && e.phase === "backup" && e.bytesDone === GiB)).toBe(true);
  });

  it("restores into a new volume created at the backup's size, sparse, with the same data", async () => {
    const s = await setup();
    await must(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "b1", connector: s.connector }));
    const r = await must(restoreBackup(s.repo, "b1", s.backend, { newVolume: { id: "copy" } }, { ...fast, connector: s.connector }));
    expect(r).toMatchObject({ created: true, volume: { id: "copy", sizeGiB: 1 }, report: { holes: "assume-zero" } });
    expect(r.report.bytesWritten).toBeLessThanOrEqual(256 * KiB + 64 * KiB + 128 * KiB);
    for (const w of s.writes) expect(readAt(s.driver.pathOf("copy"), w.offset, w.data.length).equals(w.data)).toBe(true);
    expect(readAt(s.driver.pathOf("copy"), 500 * MiB, MiB).equals(Buffer.alloc(MiB))).toBe(true);
    expect(s.connector.attached.size).toBe(0);
  });

  it("makes an incremental on the volume's newest backup, and refuses one with nothing to build on", async () => {
    const s = await setup();
    const none = await mustFail(createBackup(s.backend, s.volume, s.repo, { ...fast, incremental: true, connector: s.connector }));
    expect(none.code).toBe("INVALID_STATE");
    expect(s.driver.calls).toEqual([]);
    await must(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "full", connector: s.connector }));
    s.driver.write("vol1", 300 * MiB + 4 * KiB, random(4 * KiB));
    const incr = await must(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "incr", incremental: true, connector: s.connector }));
    expect(incr.record).toMatchObject({ incremental: true, parentId: "full", chain: ["full"] });
    expect(incr.manifest.stats.chunksStored).toBe(1);
    s.driver.write("vol1", 0, random(4 * KiB));
    const incr2 = await must(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "incr2", incremental: true, connector: s.connector }));
    expect(incr2.record).toMatchObject({ parentId: "incr", chain: ["full", "incr"] });
    const r = await must(restoreBackup(s.repo, "incr2", s.backend, { newVolume: { id: "copy" } }, { ...fast, connector: s.connector }));
    expect(r.created).toBe(true);
    for (const offset of [0, 300 * MiB, GiB - 128 * KiB]) expect(readAt(s.driver.pathOf("copy"), offset, MiB / 8).equals(readAt(s.driver.pathOf("vol1"), offset, MiB / 8))).toBe(true);
  }, 30_000);

  it("refuses a taken id, a parent of another volume and bad options before making anything", async () => {
    const s = await setup();
    await must(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "b1", connector: s.connector }));
    const other = await must(s.backend.createVolume({ id: "vol2", sizeGiB: 1 }));
    s.driver.calls.length = 0;
    expect((await mustFail(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "b1", connector: s.connector }))).code).toBe("BACKUP_EXISTS");
    expect((await mustFail(createBackup(s.backend, other, s.repo, { ...fast, parent: "b1", connector: s.connector }))).code).toBe("INVALID_ARGUMENT");
    expect((await mustFail(createBackup(s.backend, s.volume, s.repo, { ...fast, parent: "nope", connector: s.connector }))).code).toBe("BACKUP_NOT_FOUND");
    expect((await mustFail(createBackup(s.backend, s.volume, s.repo, { chunkSize: 1000, connector: s.connector }))).code).toBe("INVALID_ARGUMENT");
    expect((await mustFail(createBackup(s.backend, s.volume, s.repo, { id: "../x", connector: s.connector }))).code).toBe("INVALID_ARGUMENT");
    expect((await mustFail(createBackup(s.backend, s.volume, s.repo, { encryptionKey: "short", connector: s.connector }))).code).toBe("INVALID_ARGUMENT");
    expect(s.driver.calls).toEqual([]);
  });

  it("refuses a driver without snapshots unless forced, then reads the live volume attached read-only", async () => {
    const s = await setup({ snapshots: false, allocationMap: false });
    const refused = await mustFail(createBackup(s.backend, s.volume, s.repo, { ...fast, connector: s.connector }));
    expect(refused.code).toBe("NOT_SUPPORTED");
    expect(refused.message).toContain("force");
    expect(s.driver.calls).toEqual([]);
    // No allocation map: the engine's SEEK_DATA walk of the file (through the runner).
    const runner = new FakeRunner().on(["xfs_io"], { stdout: `Whence\tResult\nDATA\t0\nHOLE\t${MiB}\nDATA\t${300 * MiB}\nHOLE\t${301 * MiB}\nDATA\t${GiB - MiB}\nHOLE\t${GiB}\n` });
    const b = await must(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "live", force: true, runner, connector: s.connector }));
    expect(b.record.pointInTime).toBe(false);
    expect(b.temporaries).toEqual({});
    expect(b.allocation).toBe("engine");
    expect(s.driver.calls).toEqual(["initializeConnection vol1"]);
    expect(s.connector.attached.size).toBe(0);
  });

  it("reads every byte, with a warning, when the driver's allocation map fails (a thin pool's metadata snapshot held elsewhere)", async () => {
    const s = await setup();
    s.driver.failNext = { method: "allocationMap", error: new VolkitError("COMMAND_FAILED", "reserve_metadata_snap on thin pool vg/pool failed: Device or resource busy", { source: "lvm" }) };
    const warnings: { obj: object; msg: string | undefined }[] = [];
    const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (obj: object, msg?: string) => void warnings.push({ obj, msg }) };
    // No SEEK_DATA help either: the engine reads the whole GiB and finds the zeros itself.
    const runner = new FakeRunner().on(["xfs_io"], { stdout: `Whence\tResult\nDATA\t0\nHOLE\t${GiB}\n` });
    const b = await must(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "whole", runner, logger, connector: s.connector }));
    expect(b.allocation).toBe("engine");
    expect(b.manifest.stats.bytesRead).toBe(GiB);
    // The three chunks with data are stored, every other chunk is a hole.
    expect(b.manifest.stats.dataBytes).toBe(3 * b.manifest.chunkSize);
    expect(b.manifest.stats.chunksHoles).toBe(GiB / b.manifest.chunkSize - 3);
    expect(warnings.map((w) => [(w.obj as { code?: string }).code, w.msg])).toEqual([["COMMAND_FAILED", "allocation map failed; reading every byte"]]);
    // The temporaries are gone, and the backup restores the same bytes.
    expect(s.driver.objects()).toEqual(["volume-vol1"]);
    const r = await must(restoreBackup(s.repo, "whole", s.backend, { newVolume: { id: "copy" } }, { connector: s.connector }));
    for (const w of s.writes) expect(readAt(s.driver.pathOf(r.volume.id), w.offset, w.data.length).equals(w.data)).toBe(true);
  }, 30_000); // reads and hashes the whole GiB

  it("takes the snapshot down when a later step fails, and reports a clean-up that fails", async () => {
    const s = await setup();
    s.driver.failNext = { method: "createVolumeFromSnapshot", error: new VolkitError("INSUFFICIENT_CAPACITY", "pool full", { source: "files" }) };
    const e = await mustFail(createBackup(s.backend, s.volume, s.repo, { ...fast, connector: s.connector }));
    expect(e.code).toBe("INSUFFICIENT_CAPACITY");
    expect(s.driver.calls.at(-1)).toMatch(/^deleteSnapshot /);
    expect(s.driver.objects()).toEqual(["volume-vol1"]);
    expect(await allKeys(s.repo)).toEqual([]);

    s.driver.failNext = { method: "deleteSnapshot", error: new VolkitError("VOLUME_BUSY", "snapshot busy", { source: "files" }) };
    const b = await must(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "b2", connector: s.connector }));
    expect(b.leftBehind).toEqual([{ step: `delete temporary snapshot ${b.temporaries.snapshotId}`, code: "VOLUME_BUSY", message: "snapshot busy" }]);
    expect((await must(readBackupManifest(s.repo, "b2"))).backupId).toBe("b2");
  });

  it("leaves no manifest, no objects, no snapshot and no attachment when aborted mid-backup", async () => {
    const s = await setup();
    // Enough data that the backup has many chunks to abort between.
    for (let i = 0; i < 64; i++) s.driver.write("vol1", i * 8 * MiB, random(64 * KiB));
    const ac = new AbortController();
    let progress = 0;
    s.events.on((e) => {
      if (e.type === "progress" && e.phase === "backup" && ++progress === 10) ac.abort();
    });
    const e = await mustFail(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "gone", signal: ac.signal, connector: s.connector }));
    expect(e.code).toBe("ABORTED");
    expect(progress).toBeLessThan(256);
    expect(await allKeys(s.repo)).toEqual([]);
    expect(s.driver.objects()).toEqual(["volume-vol1"]);
    expect(s.connector.attached.size).toBe(0);
  });
});

describe("restoreBackup", () => {
  it("checks an existing volume's size before attaching, and restores into one big enough (punching holes)", async () => {
    const s = await setup();
    await must(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "b1", connector: s.connector }));
    const big = await must(s.backend.createVolume({ id: "big", sizeGiB: 2 }));
    s.driver.write("big", 0, Buffer.alloc(512 * KiB, 0x77));
    s.driver.calls.length = 0;
    const runner = new FakeRunner().on(["fallocate"], {});
    const r = await must(restoreBackup(s.repo, "b1", s.backend, { volume: big }, { ...fast, runner, connector: s.connector }));
    expect(r).toMatchObject({ created: false, report: { holes: "punch" } });
    expect(runner.commands()).toEqual([["fallocate", "--punch-hole", "--keep-size", "--offset", "0", "--length", String(GiB), s.driver.pathOf("big")]]);
    expect(readAt(s.driver.pathOf("big"), 0, 256 * KiB).equals(s.writes[0]?.data as Buffer)).toBe(true);
    expect(s.driver.calls).toEqual(["initializeConnection big"]);

    const small = await must(s.backend.createVolume({ id: "small", sizeGiB: 1 }));
    const bigger = await must(restoreBackup(s.repo, "b1", s.backend, { newVolume: { id: "two", sizeGiB: 2 } }, { ...fast, connector: s.connector }));
    expect(bigger.volume.sizeGiB).toBe(2);
    await must(createBackup(s.backend, bigger.volume, s.repo, { ...fast, id: "b2", connector: s.connector }));
    s.driver.calls.length = 0;
    const e = await mustFail(restoreBackup(s.repo, "b2", s.backend, { volume: small }, { ...fast, connector: s.connector }));
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(s.driver.calls).toEqual([]);
    expect((await mustFail(restoreBackup(s.repo, "b2", s.backend, { newVolume: { id: "tiny", sizeGiB: 1 } }, { connector: s.connector }))).code).toBe("INVALID_ARGUMENT");
    expect(s.driver.calls).toEqual([]);
  });

  it("deletes the new volume when the restore fails, and creates nothing for a backup missing an object", async () => {
    const s = await setup();
    const b = await must(createBackup(s.backend, s.volume, s.repo, { ...fast, id: "b1", connector: s.connector }));
    const first = b.manifest.chunks.find((c): c is Extract<ChunkEntry, { kind: "full" }> => c.kind === "full");
    if (first === undefined) throw new Error("no stored chunk");
    // Corrupt (same size): found while writing; the new volume is deleted.
    const bytes = Buffer.from(await must(s.repo.get(first.object.key, backgroundContext())));
    bytes[0] = (bytes[0] as number) ^ 1;
    await must(s.repo.put(first.object.key, bytes, backgroundContext()));
    s.driver.calls.length = 0;
    const corrupt = await mustFail(restoreBackup(s.repo, "b1", s.backend, { newVolume: { id: "copy" } }, { ...fast, connector: s.connector }));
    expect(corrupt.code).toBe("BACKUP_CORRUPT");
    expect(s.driver.calls).toEqual(["createVolume copy", "initializeConnection copy", "deleteVolume copy"]);
    expect(s.driver.objects()).toEqual(["volume-vol1"]);
    // Missing: found before anything is created.
    await must(s.repo.delete([first.object.key], backgroundContext()));
    s.driver.calls.length = 0;
    expect((await mustFail(restoreBackup(s.repo, "b1", s.backend, { newVolume: { id: "copy" } }, { ...fast, connector: s.connector }))).code).toBe("BACKUP_CORRUPT");
    expect(s.driver.calls).toEqual([]);
  });
});

describe("VolumeBackend.allocationMap", () => {
  it("is NOT_SUPPORTED by default, validates its input, and refuses a driver's invalid ranges", async () => {
    const s = await setup({ allocationMap: false });
    expect((await mustFail(s.backend.allocationMap({ volume: s.volume }))).code).toBe("NOT_SUPPORTED");
    expect((await mustFail(s.backend.allocationMap({ volume: { id: "../x", sizeGiB: 1 } }))).code).toBe("INVALID_ARGUMENT");
    const t = await setup();
    expect(await must(t.backend.allocationMap({ volume: t.volume }))).toEqual(t.writes.map((w) => ({ offset: w.offset, length: w.data.length })));
    t.driver.write("vol1", 0, Buffer.alloc(0));
    expect((await mustFail(t.backend.allocationMap({ volume: t.volume }))).code).toBe("INTERNAL");
  });
});

describe("default hole handling of a restore target", () => {
  const caps = (thin: boolean, thick: boolean) => ({ ...NO_CAPABILITIES, thin, thick });
  const file = { type: "file" as const, path: "/mnt/share/volume-x", paths: [], format: "raw" as const };
  const block = { type: "block" as const, path: "/dev/vg/volume-x", paths: [] };
  it.each([
    [file, true, caps(true, false), "assume-zero"],
    [file, false, caps(false, true), "punch"],
    [block, true, caps(true, false), "assume-zero"],
    [block, true, caps(false, true), "zeroout"],
    [block, true, caps(true, true), "zeroout"],
    [block, false, caps(true, false), "discard"],
    [block, false, caps(false, true), "zeroout"],
  ] as const)("%o created=%s %o → %s", (device, created, capabilities, mode) => {
    expect(defaultHoles(device, created, capabilities)).toBe(mode);
  });
});
