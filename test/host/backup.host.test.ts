/**
 * The backup engine against the real tools and file system of this host: a 1 GiB sparse
 * file-backed volume (about 10% data at scattered offsets, half random, half log-like text),
 * SEEK_DATA through the real xfs_io, worker threads, hole punching through the real fallocate.
 *
 *   npx vitest run --project host test/host/backup.host.test.ts
 */
import { spawnSync } from "node:child_process";
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backgroundContext } from "../../src/core/context.js";
import { EventBus } from "../../src/core/events.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import { LocalDirectoryMounts } from "../../src/remotefs/local-directory-mounts.js";
import {
  backupFromSource,
  createLocalDirectoryRepository,
  createNfsBackupRepository,
  forEachPage,
  listBackups,
  readBackupManifest,
  restoreToTarget,
  verifyBackup,
  type BackupManifest,
  type BackupRepository,
} from "../../src/backup/index.js";
import { allocatedBytes, must, rewriteFraction, sha256File, writeSparseVolume, type VolumeLayout } from "./backup-fixture.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const root = mkdtempSync(join(tmpdir(), "volkit-backup-host-"));
const volume = join(root, "volume.raw");
const repoDir = join(root, "repo");
let layout: VolumeLayout;
let repo: BackupRepository;
let full: BackupManifest;

/** Missing tools fail the suite, naming the Debian package. */
function requireTool(argv: [string, ...string[]], pkg: string): void {
  const r = spawnSync(argv[0], argv.slice(1), { stdio: "ignore" });
  if (r.error !== undefined || r.status !== 0) throw new Error(`${argv[0]} is missing: apt-get install ${pkg}`);
}

beforeAll(() => {
  requireTool(["xfs_io", "-V"], "xfsprogs");
  requireTool(["fallocate", "--version"], "util-linux");
  layout = writeSparseVolume(volume, GiB, 0.1);
  repo = createLocalDirectoryRepository({ directory: repoDir })._unsafeUnwrap();
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("backup of a 1 GiB sparse file-backed volume to a directory", () => {
  it("reads only the data (SEEK_DATA), stores it compressed, and restores it bit-identical and sparse", async () => {
    const sourceSha = await sha256File(volume);
    full = await must(backupFromSource(repo, { path: volume }, { backupId: "full", volumeId: "vol-1" }));
    expect(full.sizeBytes).toBe(GiB);
    expect(full.stats.bytesRead).toBeLessThanOrEqual(allocatedBytes(volume));
    expect(full.stats.bytesRead).toBeGreaterThanOrEqual(layout.dataBytes);
    // Half the data is text: the stored size is well under the data size, and holes cost nothing.
    expect(full.stats.storedBytes).toBeLessThan(layout.dataBytes * 0.8);
    expect(full.stats.chunksHoles).toBeGreaterThan(0);

    const out = join(root, "restored.raw");
    const report = await must(restoreToTarget(repo, "full", { path: out }));
    expect(report.created).toBe(true);
    expect(statSync(out).size).toBe(GiB);
    expect(await sha256File(out)).toBe(sourceSha);
    // Sparse stays sparse: the restored file allocates what the source does (4 KiB granularity).
    expect(allocatedBytes(out)).toBeLessThanOrEqual(allocatedBytes(volume) + MiB);
    expect(allocatedBytes(out)).toBeGreaterThanOrEqual(layout.dataBytes * 0.9);

    const verified = await must(verifyBackup(repo, "full"));
    expect(verified).toMatchObject({ level: "content", chunksChecked: 256 });
    rmSync(out);
  }, 300_000);

  it("restores over an existing fully written file, punching it back to sparse", async () => {
    const target = join(root, "existing.raw");
    const fd = openSync(target, "w");
    const pattern = Buffer.alloc(16 * MiB, 0xee);
    for (let at = 0; at < GiB; at += pattern.length) writeSync(fd, pattern, 0, pattern.length, at);
    closeSync(fd);
    expect(allocatedBytes(target)).toBeGreaterThanOrEqual(GiB);
    const report = await must(restoreToTarget(repo, "full", { path: target }));
    expect(report).toMatchObject({ created: false, holes: "punch" });
    expect(await sha256File(target)).toBe(await sha256File(volume));
    expect(allocatedBytes(target)).toBeLessThanOrEqual(allocatedBytes(volume) + MiB);
    rmSync(target);
  }, 300_000);

  it("stores about 1% for an incremental after 1% of the volume changed, and restores it", async () => {
    const changed = rewriteFraction(volume, GiB, 0.01);
    const incr = await must(backupFromSource(repo, { path: volume }, { backupId: "incr", parent: "full", volumeId: "vol-1" }));
    const share = incr.stats.storedBytes / GiB;
    console.info(`incremental: ${changed} bytes changed (${((changed / GiB) * 100).toFixed(2)}%), ${incr.stats.storedBytes} bytes stored (${(share * 100).toFixed(2)}%), ${incr.stats.chunksStored} chunks stored, ${incr.stats.chunksReused} reused`);
    // 64 KiB random writes at 4 KiB alignment touch two or three 32 KiB blocks each: at most ~1.5x.
    expect(incr.stats.storedBytes).toBeGreaterThanOrEqual(changed);
    expect(share).toBeLessThan(0.02);
    expect(incr.chunks.filter((c) => c.kind === "delta").length).toBeGreaterThan(0);
    const out = join(root, "incr.raw");
    await must(restoreToTarget(repo, "incr", { path: out }));
    expect(await sha256File(out)).toBe(await sha256File(volume));
    rmSync(out);
  }, 300_000);

  it("leaves no manifest and no objects when aborted mid-backup", async () => {
    const ac = new AbortController();
    const events = new EventBus();
    let progress = 0;
    events.on((e) => {
      if (e.type === "progress" && ++progress === 20) ac.abort();
    });
    const r = await backupFromSource(repo, { path: volume }, { backupId: "aborted", parent: "incr", signal: ac.signal, events });
    expect(r.isErr() && r.error.code).toBe("ABORTED");
    expect(progress).toBeLessThan(256);
    const manifest = await readBackupManifest(repo, "aborted");
    expect(manifest.isErr() && manifest.error.code).toBe("BACKUP_NOT_FOUND");
    const left: string[] = [];
    await must(forEachPage(repo, "backups/aborted/", {}, backgroundContext(), (page) => void left.push(...page.objects.map((o) => o.key))));
    expect(left).toEqual([]);
    const markers: string[] = [];
    await must(forEachPage(repo, "backups/incr/children/", {}, backgroundContext(), (page) => void markers.push(...page.objects.map((o) => o.key))));
    expect(markers).toEqual([]);
    expect((await must(listBackups(repo))).backups.map((b) => b.backupId)).toEqual(["full", "incr"]);
  }, 300_000);
});

describe("block devices (loop devices over sparse files)", () => {
  const loops: string[] = [];
  afterAll(() => {
    for (const dev of loops) spawnSync("losetup", ["-d", dev]);
  });

  function attach(file: string): string {
    const r = spawnSync("losetup", ["-f", "--show", file], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`losetup failed (needs root and the loop module): ${r.stderr}`);
    const dev = r.stdout.trim();
    loops.push(dev);
    return dev;
  }

  it("backs up a device (size from sysfs) and restores into another, discarding holes so its backing file stays sparse", async () => {
    requireTool(["losetup", "--version"], "mount");
    requireTool(["blkdiscard", "--version"], "util-linux");
    const sourceFile = join(root, "loop-source.raw");
    writeSparseVolume(sourceFile, 128 * MiB, 0.1, 7);
    const sourceDev = attach(sourceFile);
    const m = await must(backupFromSource(repo, { path: sourceDev }, { backupId: "device" }));
    expect(m.sizeBytes).toBe(128 * MiB);
    // No allocation map for a device: every byte is read, zero chunks still become holes.
    expect(m.stats.bytesRead).toBe(128 * MiB);
    expect(m.stats.chunksHoles).toBeGreaterThan(0);

    // The target's backing file holds old data everywhere: discard must make the holes read as zeros.
    const targetFile = join(root, "loop-target.raw");
    const fd = openSync(targetFile, "w");
    for (let at = 0; at < 128 * MiB; at += 16 * MiB) writeSync(fd, Buffer.alloc(16 * MiB, 0x5c), 0, 16 * MiB, at);
    closeSync(fd);
    const targetDev = attach(targetFile);
    const report = await must(restoreToTarget(repo, "device", { path: targetDev, holes: "discard" }));
    expect(report).toMatchObject({ created: false, holes: "discard" });
    expect(await sha256File(targetDev)).toBe(await sha256File(sourceDev));
    expect(allocatedBytes(targetFile)).toBeLessThanOrEqual(allocatedBytes(sourceFile) + MiB);

    const refused = await restoreToTarget(repo, "device", { path: targetDev, holes: "punch" });
    expect(refused.isErr() && refused.error.code).toBe("INVALID_ARGUMENT");
  }, 300_000);

  it("restores with zeroout into a device another holder opened exclusively (as a dm-multipath map holds its path disk)", async () => {
    requireTool(["losetup", "--version"], "mount");
    requireTool(["fallocate", "--version"], "util-linux");
    const sourceFile = join(root, "loop-held-source.raw");
    writeSparseVolume(sourceFile, 32 * MiB, 0.2, 11);
    const sourceDev = attach(sourceFile);
    await must(backupFromSource(repo, { path: sourceDev }, { backupId: "held" }));
    const targetFile = join(root, "loop-held-target.raw");
    const fd = openSync(targetFile, "w");
    writeSync(fd, Buffer.alloc(32 * MiB, 0x6d), 0, 32 * MiB, 0);
    closeSync(fd);
    const targetDev = attach(targetFile);
    // O_EXCL without O_CREAT on a block device is the kernel's exclusive claim (what a holder has).
    const held = openSync(targetDev, constants.O_RDONLY | constants.O_EXCL);
    try {
      expect(() => closeSync(openSync(targetDev, constants.O_RDONLY | constants.O_EXCL)), "the device is held").toThrow(/EBUSY/);
      const report = await must(restoreToTarget(repo, "held", { path: targetDev, holes: "zeroout" }));
      expect(report).toMatchObject({ created: false, holes: "zeroout" });
    } finally {
      closeSync(held);
    }
    expect(await sha256File(targetDev)).toBe(await sha256File(sourceDev));
  }, 300_000);
});

describe("backup to an NFS share repository (the share mapped to a directory: this host's kernel has no NFS)", () => {
  it("backs up and restores through the mount manager, releasing the share on close", async () => {
    const share = "127.0.0.1:/srv/backups";
    const shareDir = join(root, "share");
    mkdirSync(shareDir);
    const mounts = new LocalDirectoryMounts({ runner: createLocalRunner(), directories: { [share]: shareDir } });
    const nfsRepo = await must(createNfsBackupRepository({ share, directory: "cluster-a/backups" }, mounts));
    expect(mounts.references(share)).toBe(1);
    const small = join(root, "small.raw");
    writeSparseVolume(small, 64 * MiB, 0.2, 5);
    const m = await must(backupFromSource(nfsRepo, { path: small }, { backupId: "nfs-full" }));
    expect(statSync(join(shareDir, "cluster-a/backups/backups/nfs-full/manifest.json")).isFile()).toBe(true);
    const out = join(root, "small-restored.raw");
    await must(restoreToTarget(nfsRepo, m.backupId, { path: out }));
    expect(await sha256File(out)).toBe(await sha256File(small));
    await must(nfsRepo.close(backgroundContext()));
    expect(mounts.references(share)).toBe(0);
  }, 120_000);
});
