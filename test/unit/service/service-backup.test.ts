import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SPAN, backupWorld } from "./backup-world.js";
import { must } from "./service-harness.js";

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

async function withData() {
  const w = await backupWorld();
  const vol = await must(w.service.createVolume({ id: "vol1", sizeGiB: 1 }));
  const data = Buffer.concat([randomBytes(SPAN / 2), Buffer.alloc(SPAN / 4), randomBytes(SPAN / 4)]);
  await w.driver.io.write({ id: vol.id, sizeGiB: 1 }, data);
  return { ...w, vol, data };
}

describe("VolumeService backups (memory store, memory driver, directory repository)", { timeout: 60_000 }, () => {
  it("backs a volume up and restores it into a new volume with the same sha256; statuses through the rules", async () => {
    const w = await withData();
    const b = await must(w.service.createBackup("vol1", { id: "b1", name: "nightly" }));
    expect(b).toMatchObject({ id: "b1", volumeId: "vol1", status: "available", repository: "local", sizeGiB: 1, name: "nightly" });
    expect(b.parentId).toBeUndefined();
    expect((await must(w.service.getVolume("vol1"))).status).toBe("available");
    // The temporary snapshot and volume are gone; nothing is left attached.
    expect(w.driver.snapshotIds()).toEqual([]);
    expect(w.driver.volumeIds()).toEqual(["vol1"]);
    expect(w.connector.attached.size).toBe(0);
    const phases = w.events.filter((e) => e.resource === "backup").map((e) => e.type);
    expect(phases).toEqual(["backup.create.start", "backup.create.progress", "backup.create.end"]);

    const r = await must(w.service.restoreBackup("b1", { newVolume: { id: "copy" } }));
    expect(r).toMatchObject({ created: true, volume: { id: "copy", status: "available", sizeGiB: 1 } });
    expect(sha(await w.driver.io.read({ id: "copy", sizeGiB: 1 }, SPAN))).toBe(sha(w.data));
    expect((await must(w.service.listBackups("vol1"))).map((x) => x.status)).toEqual(["available"]);
  });

  it("restores into an existing available volume, overwriting its data", async () => {
    const w = await withData();
    await must(w.service.createBackup("vol1", { id: "b1" }));
    await must(w.service.createVolume({ id: "target", sizeGiB: 1 }));
    await w.driver.io.write({ id: "target", sizeGiB: 1 }, randomBytes(SPAN));
    const r = await must(w.service.restoreBackup("b1", { volumeId: "target" }));
    expect(r).toMatchObject({ created: false, volume: { id: "target", status: "available" } });
    expect(sha(await w.driver.io.read({ id: "target", sizeGiB: 1 }, SPAN))).toBe(sha(w.data));
  });

  it("makes an incremental on the newest backup; restoring it gives the changed data; delete refuses the parent with CONFLICT", async () => {
    const w = await withData();
    await must(w.service.createBackup("vol1", { id: "full" }));
    const changed = Buffer.from(w.data);
    randomBytes(4096).copy(changed, 1024 * 1024);
    await w.driver.io.write({ id: "vol1", sizeGiB: 1 }, changed);
    const inc = await must(w.service.createBackup("vol1", { id: "inc", incremental: true }));
    expect(inc).toMatchObject({ status: "available", parentId: "full" });
    await must(w.service.restoreBackup("inc", { newVolume: { id: "copy" } }));
    expect(sha(await w.driver.io.read({ id: "copy", sizeGiB: 1 }, SPAN))).toBe(sha(changed));

    const refused = await w.service.deleteBackup("full");
    expect(refused._unsafeUnwrapErr().code).toBe("CONFLICT");
    expect((await must(w.service.listBackups())).map((b) => [b.id, b.status])).toEqual([
      ["full", "available"],
      ["inc", "available"],
    ]);
    expect(await must(w.service.deleteBackup("inc"))).toEqual(["inc"]);
    expect(await must(w.service.deleteBackup("full"))).toEqual(["full"]);
    expect(await must(w.service.listBackups())).toEqual([]);
    expect(existsSync(join(w.repoDir, "backups")) ? readdirSync(join(w.repoDir, "backups")) : []).toEqual([]);
    // Deleting again succeeds (retry-safe).
    expect(await must(w.service.deleteBackup("full"))).toEqual([]);
  });

  it("verifies a backup, and reports a corrupted chunk", async () => {
    const w = await withData();
    await must(w.service.createBackup("vol1", { id: "b1" }));
    const ok = await must(w.service.verifyBackup("b1"));
    expect(ok).toMatchObject({ backupId: "b1", level: "content" });
    expect(ok.chunksChecked).toBeGreaterThan(0);
    const chunkDir = join(w.repoDir, "backups", "b1");
    const chunks = readdirSync(join(chunkDir, "chunks"), { withFileTypes: true }).filter((d) => d.isFile());
    expect(chunks.length).toBeGreaterThan(0);
    const first = chunks[0];
    if (first === undefined) throw new Error("no chunk");
    writeFileSync(join(first.parentPath, first.name), randomBytes(64));
    const bad = await w.service.verifyBackup("b1");
    expect(bad._unsafeUnwrapErr().code).toBe("BACKUP_CORRUPT");
  });

  it("exports a record and imports it into a fresh service on the same repository", async () => {
    const w = await withData();
    await must(w.service.createBackup("vol1", { id: "b1" }));
    const record = await must(w.service.exportBackupRecord("b1"));
    expect(JSON.parse(record)).toMatchObject({ format: "volkit-backup-record", backupId: "b1" });
    // Another service, with its own (empty) store and driver, over the same repository directory.
    const other = await backupWorld({ repoDir: w.repoDir });
    expect((await other.service.restoreBackup("b1", { newVolume: {} }))._unsafeUnwrapErr().code).toBe("NOT_FOUND");
    const imported = await must(other.service.importBackupRecord(record));
    expect(imported).toMatchObject({ id: "b1", volumeId: "vol1", status: "available", repository: "local", sizeGiB: 1 });
    const r = await must(other.service.restoreBackup("b1", { newVolume: { id: "dr-copy" } }));
    expect(r.volume.status).toBe("available");
    expect(sha(await other.driver.io.read({ id: "dr-copy", sizeGiB: 1 }, SPAN))).toBe(sha(w.data));
    // Importing it again is a no-op that returns the record.
    expect((await must(other.service.importBackupRecord(record))).id).toBe("b1");
  });

  it("a failed backup leaves the record error and the volume available; a failed restore leaves the volume error_restoring", async () => {
    const w = await withData();
    const aborted = new AbortController();
    aborted.abort();
    const failed = await w.service.createBackup("vol1", { id: "b-abort" }, { signal: aborted.signal });
    expect(failed.isErr()).toBe(true);
    const rec = (await must(w.service.listBackups())).find((b) => b.id === "b-abort");
    expect(rec).toMatchObject({ status: "error" });
    expect(rec?.statusReason).toMatch(/backup failed/);
    expect((await must(w.service.getVolume("vol1"))).status).toBe("available");
    expect(w.driver.snapshotIds()).toEqual([]);
    expect(w.connector.attached.size).toBe(0);

    await must(w.service.createBackup("vol1", { id: "b1" }));
    // Remove the data objects: the restore fails part way.
    rmSync(join(w.repoDir, "backups", "b1"), { recursive: true });
    await must(w.service.createVolume({ id: "target", sizeGiB: 1 }));
    const r = await w.service.restoreBackup("b1", { volumeId: "target" });
    expect(r.isErr()).toBe(true);
    const target = await must(w.service.getVolume("target"));
    expect(target.status).toBe("error_restoring");
    expect((await must(w.service.listBackups())).find((b) => b.id === "b1")?.status).toBe("available");
  });

  it("refuses bad input before anything runs: unknown repository, in-use without force, a restore into a busy volume", async () => {
    const w = await withData();
    expect((await w.service.createBackup("vol1", { repository: "nope" }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await w.service.createBackup("vol1", { id: "../x" }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(await must(w.service.listBackups())).toEqual([]);
    expect((await w.service.restoreBackup("missing", { volumeId: "vol1" })).isErr()).toBe(true);
    expect(w.driver.snapshotIds()).toEqual([]);
  });
});

describe("VolumeService backups to an S3 repository that does not answer", { timeout: 60_000 }, () => {
  it("records only the repository's name: the secret key is in no record, reason or event", async () => {
    const secret = "s3cr3t-Key-never-printed-42";
    const w = await backupWorld({
      repositories: [
        {
          name: "offsite",
          type: "s3",
          default: true,
          // Port 9 on loopback: nothing listens, the first request fails at once.
          options: { endpoint: "http://127.0.0.1:9", region: "us-east-1", bucket: "vols", accessKeyId: "AKIATEST", secretAccessKey: secret, forcePathStyle: true, maxAttempts: 1, connectTimeoutMs: 500, requestTimeoutMs: 1000 },
        },
      ],
    });
    await must(w.service.createVolume({ id: "vol1", sizeGiB: 1 }));
    const r = await w.service.createBackup("vol1", { id: "b1" });
    expect(r.isErr()).toBe(true);
    const records = await must(w.service.listBackups());
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ id: "b1", status: "error", repository: "offsite" });
    expect(JSON.stringify(records)).not.toContain(secret);
    expect(JSON.stringify(w.events)).not.toContain(secret);
    expect(JSON.stringify(r._unsafeUnwrapErr().toJSON())).not.toContain(secret);
    expect((await must(w.service.getVolume("vol1"))).status).toBe("available");
    expect(w.driver.snapshotIds()).toEqual([]);
  });
});
