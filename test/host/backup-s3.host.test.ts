/**
 * Volume backups to an S3 store: a 1 GiB file-backed volume of the real NFS driver (qemu-img
 * snapshots and copies; this host's kernel has no NFS, so `LocalDirectoryMounts` maps the share
 * to a directory) backed up with `createBackup` into radosgw on the shared single-node Ceph
 * cluster (test/host/ceph.global-setup.ts) through the AWS SDK, and restored with
 * `restoreBackup`. Needs root, the Ceph packages with radosgw, qemu-utils and xfsprogs.
 *
 *   npx vitest run --project host test/host/backup-s3.host.test.ts
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHost, type Host } from "../../src/attach/host.js";
import { backgroundContext, createOperationContext } from "../../src/core/context.js";
import { EventBus } from "../../src/core/events.js";
import type { Volume } from "../../src/core/records.js";
import { wrapDriver, type VolumeBackend } from "../../src/drivers/backend.js";
import { createNfsDriver } from "../../src/drivers/nfs/index.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import { LocalDirectoryMounts } from "../../src/remotefs/local-directory-mounts.js";
import type { CephCluster, S3User } from "../../src/testing/ceph-cluster.js";
import { createBackup, createS3BackupRepository, deleteBackup, listBackups, readBackupManifest, restoreBackup, verifyBackup, type BackupRepository } from "../../src/backup/index.js";
import { allocatedBytes, must, rewriteFraction, sha256File, writeSparseVolume, type VolumeLayout } from "./backup-fixture.js";
import { sharedCephCluster } from "./ceph-shared.js";
import { startRadosgwS3 } from "./s3-fixture.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const SHARE = "127.0.0.1:/srv/backup-s3";
const BUCKET = `volkit-backup-${process.pid}`;
const root = mkdtempSync(join(tmpdir(), "volkit-backup-s3-"));
const shareDir = join(root, "share");
const runner = createLocalRunner();

/** The file of an NFS-driver volume (raw, in the share directory). */
const fileOf = (v: { id: string }): string => join(shareDir, `volume-${v.id}`);

const shared = sharedCephCluster();

describe("volume backups to S3 (radosgw) with the AWS SDK", () => {
  it("has its prerequisites (root, Ceph packages, radosgw; the shared cluster started)", () => {
    expect(shared instanceof Error ? shared.message : undefined).toBeUndefined();
  });
  if (shared instanceof Error) return;
  const cluster: CephCluster = shared;

  let endpoint = "";
  let user: S3User;
  let s3: S3Client;
  let repo: BackupRepository;
  let backend: VolumeBackend;
  let host: Host;
  let volume: Volume;
  let layout: VolumeLayout;
  const events = new EventBus();
  // Where the time goes: the phases of each volume-level operation.
  events.on((e) => {
    if (e.type === "operation:end" && (e.operation === "createBackup" || e.operation === "restoreBackup")) console.info(`[s3] ${e.operation} phases: ${e.phases.map((p) => `${p.name} ${Math.round(p.durationMs)} ms`).join(", ")}`);
  });
  const keys = async (prefix: string): Promise<string[]> =>
    ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `cluster-a/${prefix}` }))).Contents ?? []).map((o) => o.Key ?? "");

  beforeAll(async () => {
    mkdirSync(shareDir);
    ({ endpoint, user, s3 } = await startRadosgwS3(cluster, `volkit-backup-${process.pid}`));
    repo = await must(createS3BackupRepository({ endpoint, bucket: BUCKET, prefix: "cluster-a/", accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey, createBucket: true }));
    const mounts = new LocalDirectoryMounts({ runner, directories: { [SHARE]: shareDir } });
    backend = wrapDriver(createNfsDriver({ driver: "nfs", shares: [SHARE] }, { runner, mounts })._unsafeUnwrap(), { events });
    host = createHost({ mounts });
    volume = await must(backend.createVolume({ id: "vol-s3", sizeGiB: 1 }));
    // The guest's data: about 10% of the volume at scattered offsets, half random, half text.
    layout = writeSparseVolume(fileOf(volume), GiB, 0.1);
  }, 120_000);

  afterAll(async () => {
    if (repo !== undefined) void (await repo.close(backgroundContext()));
    s3?.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  it("backs up the volume through a snapshot, storing only its data compressed, and restores it into a new volume (sha256 equal, sparse)", async () => {
    const sourceSha = await sha256File(fileOf(volume));
    let progress = 0;
    const off = events.on((e) => void (e.type === "progress" && e.phase === "backup" && progress++));
    const started = performance.now();
    const full = await must(createBackup(backend, volume, repo, { id: "s3-full", host }));
    const backupMs = performance.now() - started;
    off();
    console.info(`[s3] full backup of 1 GiB (${(layout.dataBytes / MiB).toFixed(0)} MiB data): ${(backupMs / 1000).toFixed(2)} s, ${(full.manifest.stats.storedBytes / MiB).toFixed(1)} MiB stored, ${full.manifest.stats.chunksStored} chunks`);
    expect(full.record).toMatchObject({ backupId: "s3-full", volumeId: "vol-s3", sizeBytes: GiB, pointInTime: true, incremental: false, repository: { type: "s3", bucket: BUCKET, prefix: "cluster-a/" } });
    expect(full.leftBehind).toEqual([]);
    expect(progress).toBeGreaterThan(0);
    // Read through SEEK_DATA of the temporary volume: the data, not the holes.
    expect(full.manifest.stats.bytesRead).toBeGreaterThanOrEqual(layout.dataBytes);
    expect(full.manifest.stats.bytesRead).toBeLessThan(layout.dataBytes * 1.2);
    expect(full.manifest.stats.storedBytes).toBeLessThan(layout.dataBytes * 0.8);
    const stored = await keys("backups/s3-full/chunks/");
    expect(stored.length).toBe(full.manifest.stats.chunksStored);
    // The temporary snapshot and volume are gone: only the volume's own files remain on the share.
    expect(readdirSync(shareDir).filter((f) => f.includes("backup-"))).toEqual([]);

    const started2 = performance.now();
    const restored = await must(restoreBackup(repo, "s3-full", backend, { newVolume: { id: "vol-s3-copy" } }, { host }));
    console.info(`[s3] restore into a new volume: ${((performance.now() - started2) / 1000).toFixed(2)} s, ${(restored.report.bytesWritten / MiB).toFixed(1)} MiB written`);
    expect(restored).toMatchObject({ created: true, volume: { id: "vol-s3-copy", sizeGiB: 1 }, report: { holes: "assume-zero" } });
    expect(await sha256File(fileOf(restored.volume))).toBe(sourceSha);
    expect(allocatedBytes(fileOf(restored.volume))).toBeLessThanOrEqual(allocatedBytes(fileOf(volume)) + MiB);
    expect((await must(verifyBackup(repo, "s3-full"))).chunksChecked).toBe(256);
  }, 300_000);

  it("stores about 1% for an incremental after 1% of the volume changed, and restores it over the earlier copy", async () => {
    const changed = rewriteFraction(fileOf(volume), GiB, 0.01);
    const incr = await must(createBackup(backend, volume, repo, { id: "s3-incr", incremental: true, host }));
    const share = incr.manifest.stats.storedBytes / GiB;
    console.info(`[s3] incremental: ${(changed / MiB).toFixed(1)} MiB changed, ${(incr.manifest.stats.storedBytes / MiB).toFixed(1)} MiB stored (${(share * 100).toFixed(2)}%)`);
    expect(incr.record).toMatchObject({ incremental: true, parentId: "s3-full", chain: ["s3-full"] });
    expect(incr.manifest.stats.storedBytes).toBeGreaterThanOrEqual(changed);
    expect(share).toBeLessThan(0.02);
    const copy = await must(backend.createVolume({ id: "vol-s3-copy2", sizeGiB: 1 }));
    writeSparseVolume(fileOf(copy), GiB, 0.3, 99); // an existing volume with other data: punched, then written
    const r = await must(restoreBackup(repo, "s3-incr", backend, { volume: copy }, { host }));
    expect(r).toMatchObject({ created: false, report: { holes: "punch" } });
    expect(await sha256File(fileOf(copy))).toBe(await sha256File(fileOf(volume)));
    expect((await must(listBackups(repo, { volumeId: "vol-s3" }))).backups.map((b) => b.backupId)).toEqual(["s3-full", "s3-incr"]);
  }, 300_000);

  it("leaves no manifest, no objects, no upload in progress and no temporary volume when aborted mid-backup", async () => {
    rewriteFraction(fileOf(volume), GiB, 0.05, 31);
    const ac = new AbortController();
    let chunks = 0;
    const off = events.on((e) => {
      if (e.type === "progress" && e.phase === "backup" && ++chunks === 40) ac.abort();
    });
    const r = await createBackup(backend, volume, repo, { id: "s3-aborted", incremental: true, host, signal: ac.signal });
    off();
    expect(r.isErr() && r.error.code).toBe("ABORTED");
    expect(chunks).toBeLessThan(256);
    expect((await readBackupManifest(repo, "s3-aborted"))._unsafeUnwrapErr().code).toBe("BACKUP_NOT_FOUND");
    expect(await keys("backups/s3-aborted/")).toEqual([]);
    expect(await keys("backups/s3-incr/children/")).toEqual([]);
    expect((await keys("volumes/vol-s3/")).filter((k) => k.endsWith("-s3-aborted"))).toEqual([]);
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads ?? []).toEqual([]);
    expect(readdirSync(shareDir).filter((f) => f.includes("backup-"))).toEqual([]);
  }, 300_000);

  it("uploads a large streamed object in parts (multipart), reads it back piece by piece, and aborts an interrupted upload on the store", async () => {
    const parts = await must(createS3BackupRepository({ endpoint, bucket: BUCKET, prefix: "multipart/", accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey, partSizeBytes: 5 * MiB }));
    try {
      const data = randomBytes(37 * MiB + 123);
      async function* pieces(): AsyncGenerator<Uint8Array> {
        for (let at = 0; at < data.length; at += 3 * MiB) yield await Promise.resolve(data.subarray(at, at + 3 * MiB));
      }
      const ctx = backgroundContext();
      expect(await must(parts.put("backups/big/manifest.json", pieces(), ctx))).toMatchObject({ size: data.length });
      const head = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "multipart/backups/big/" }));
      expect(head.Contents?.map((o) => [o.Key, o.Size])).toEqual([["multipart/backups/big/manifest.json", data.length]]);
      const hash = createHash("sha256");
      let pieceCount = 0;
      await must(parts.read("backups/big/manifest.json", (p) => void (hash.update(p), pieceCount++), ctx));
      expect(hash.digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
      expect(pieceCount).toBeGreaterThan(1);

      const ac = new AbortController();
      async function* slow(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 8; i++) {
          if (i === 3) ac.abort();
          yield await Promise.resolve(randomBytes(3 * MiB));
        }
      }
      const aborted = await parts.put("backups/cut/manifest.json", slow(), createOperationContext({ operation: "t", source: "t", signal: ac.signal }));
      expect(aborted.isErr() && aborted.error.code).toBe("ABORTED");
      expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads ?? []).toEqual([]);
      expect(await must(parts.head("backups/cut/manifest.json", ctx))).toBeUndefined();
      await must(parts.delete(["backups/big/manifest.json"], ctx));
    } finally {
      void (await parts.close(backgroundContext()));
    }
  }, 120_000);

  it("refuses wrong credentials with AUTH_FAILED and an unreachable store as transient BACKEND_UNAVAILABLE, never showing the secret", async () => {
    const secret = randomBytes(30).toString("base64url");
    const wrong = await createS3BackupRepository({ endpoint, bucket: BUCKET, accessKeyId: user.accessKeyId, secretAccessKey: secret });
    expect(wrong.isErr() && wrong.error.code).toBe("AUTH_FAILED");
    expect(JSON.stringify(wrong._unsafeUnwrapErr().toJSON())).not.toContain(secret);
    const down = await createS3BackupRepository({ endpoint: "http://127.0.0.1:9", bucket: BUCKET, accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey, maxAttempts: 1 });
    expect(down.isErr() && [down.error.code, down.error.transient]).toEqual(["BACKEND_UNAVAILABLE", true]);
    expect(JSON.stringify(down._unsafeUnwrapErr().toJSON())).not.toContain(user.secretAccessKey);
  });

  it("deletes the chain (cascade) and leaves the bucket prefix empty", async () => {
    expect(await must(deleteBackup(repo, "s3-full", { cascade: true }))).toEqual({ deleted: ["s3-incr", "s3-full"] });
    expect(await keys("")).toEqual([]);
  }, 120_000);
});
