import { utimesSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { backgroundContext } from "../../../src/core/context.js";
import {
  BackupRecordSchema,
  backupFromSource,
  collectBackupGarbage,
  deleteBackup,
  exportBackupRecord,
  importBackupRecord,
  listBackups,
  restoreToTarget,
} from "../../../src/backup/index.js";
import { KiB, allKeys, makeFile, must, mustFail, patchFile, random, sha256File, tempDir, tempRepo } from "./helpers.js";

const ctx = backgroundContext("test", "test");
const opts = { threads: 0, chunkSize: 128 * KiB } as const;

async function chain() {
  const dir = tempDir();
  const { repo, dir: repoDir } = tempRepo();
  const file = makeFile(join(dir, "vol"), 512 * KiB, [{ offset: 0, data: random(512 * KiB) }]);
  const src = { path: file, allocation: "none" as const };
  await must(backupFromSource(repo, src, { ...opts, backupId: "full", volumeId: "vol1" }));
  patchFile(file, 1000, random(10));
  await must(backupFromSource(repo, src, { ...opts, backupId: "incr1", parent: "full", volumeId: "vol1" }));
  patchFile(file, 300 * KiB, random(10));
  await must(backupFromSource(repo, src, { ...opts, backupId: "incr2", parent: "incr1", volumeId: "vol1" }));
  return { dir, repo, repoDir, file };
}

describe("listBackups", () => {
  it("lists published backups from their manifests", async () => {
    const { repo } = await chain();
    const list = await must(listBackups(repo));
    expect(list.backups.map((b) => [b.backupId, b.parentId ?? null, b.volumeId])).toEqual([
      ["full", null, "vol1"],
      ["incr1", "full", "vol1"],
      ["incr2", "incr1", "vol1"],
    ]);
    expect(list.next).toBeUndefined();
  });

  it("pages with a cursor, and lists one volume's backups in start order from the volume index", async () => {
    const { repo, file } = await chain();
    await must(backupFromSource(repo, { path: file, allocation: "none" }, { ...opts, backupId: "aaa-other", volumeId: "vol2" }));
    const first = await must(listBackups(repo, { limit: 2 }));
    expect(first.backups.map((b) => b.backupId)).toEqual(["aaa-other", "full"]);
    const second = await must(listBackups(repo, { limit: 2, ...(first.next === undefined ? {} : { cursor: first.next }) }));
    expect(second.backups.map((b) => b.backupId)).toEqual(["incr1", "incr2"]);
    const third = second.next === undefined ? { backups: [] } : await must(listBackups(repo, { limit: 2, cursor: second.next }));
    expect(third.backups).toEqual([]);
    expect((await must(listBackups(repo, { volumeId: "vol1" }))).backups.map((b) => b.backupId)).toEqual(["full", "incr1", "incr2"]);
    expect((await must(listBackups(repo, { volumeId: "vol2" }))).backups.map((b) => b.backupId)).toEqual(["aaa-other"]);
    expect((await must(listBackups(repo, { volumeId: "none" }))).backups).toEqual([]);
    expect((await mustFail(listBackups(repo, { limit: 0 }))).code).toBe("INVALID_ARGUMENT");
    expect((await mustFail(listBackups(repo, { volumeId: "../x" }))).code).toBe("INVALID_ARGUMENT");
  });

  it("drops a backup's index entry when it is deleted, and ignores the entry a crashed attempt with the same id left", async () => {
    const { repo, file } = await chain();
    await must(deleteBackup(repo, "incr2"));
    expect((await allKeys(repo)).filter((k) => k.startsWith("volumes/"))).toHaveLength(2);
    // A crashed attempt's entry (older start time, same id) next to the published one.
    await must(repo.put("volumes/vol1/000000000000001-incr1", Buffer.from("{}"), ctx));
    expect((await must(listBackups(repo, { volumeId: "vol1" }))).backups.map((b) => b.backupId)).toEqual(["full", "incr1"]);
    // A retry with that id removes the old entry.
    await must(backupFromSource(repo, { path: file, allocation: "none" }, { ...opts, backupId: "retry", volumeId: "vol1" }));
    await must(repo.put("volumes/vol1/000000000000002-retry", Buffer.from("{}"), ctx));
    await must(deleteBackup(repo, "retry"));
    await must(backupFromSource(repo, { path: file, allocation: "none" }, { ...opts, backupId: "retry", volumeId: "vol1" }));
    expect((await allKeys(repo)).filter((k) => k.startsWith("volumes/") && k.endsWith("-retry"))).toHaveLength(1);
  });
});

describe("deleteBackup", () => {
  it("refuses while incrementals depend on it, naming them", async () => {
    const { repo } = await chain();
    const e = await mustFail(deleteBackup(repo, "full"));
    expect(e.code).toBe("BACKUP_IN_USE");
    expect(e.details.dependents).toEqual(["incr1"]);
    expect((await mustFail(deleteBackup(repo, "incr1"))).details.dependents).toEqual(["incr2"]);
    expect((await must(listBackups(repo))).backups.length).toBe(3);
  });

  it("deletes the newest incremental, then its parent, leaving the rest restorable", async () => {
    const { dir, repo } = await chain();
    expect(await must(deleteBackup(repo, "incr2"))).toEqual({ deleted: ["incr2"] });
    expect((await allKeys(repo)).some((k) => k.startsWith("backups/incr2/") || k === "backups/incr1/children/incr2")).toBe(false);
    expect(await must(deleteBackup(repo, "incr1"))).toEqual({ deleted: ["incr1"] });
    const out = join(dir, "out");
    await must(restoreToTarget(repo, "full", { path: out }, { threads: 0 }));
    expect(await must(deleteBackup(repo, "full"))).toEqual({ deleted: ["full"] });
    expect(await allKeys(repo)).toEqual([]);
  });

  it("cascades to every dependent when asked, newest first", async () => {
    const { repo } = await chain();
    expect(await must(deleteBackup(repo, "full", { cascade: true }))).toEqual({ deleted: ["incr2", "incr1", "full"] });
    expect(await allKeys(repo)).toEqual([]);
  });

  it("succeeds for a backup that does not exist", async () => {
    const { repo } = tempRepo();
    expect(await must(deleteBackup(repo, "never"))).toEqual({ deleted: [] });
  });

  it("counts an incremental still being written (a recent marker) as a dependent", async () => {
    const { repo } = await chain();
    await must(repo.put("backups/incr2/children/running", Buffer.from("{}"), ctx));
    expect((await mustFail(deleteBackup(repo, "incr2"))).details.dependents).toEqual(["running"]);
    expect(await must(deleteBackup(repo, "incr2", { graceMs: 0 }))).toEqual({ deleted: ["incr2"] });
  });
});

describe("collectBackupGarbage", () => {
  it("removes old volume index entries of backups that never published, keeping the published ones", async () => {
    const { repo, repoDir } = await chain();
    await must(repo.put("volumes/vol1/000000000000005-ghost", Buffer.from("{}"), ctx));
    await must(repo.put("volumes/vol1/000000000000006-young", Buffer.from("{}"), ctx));
    const old = new Date(Date.now() - 48 * 3600_000);
    utimesSync(join(repoDir, "volumes/vol1/000000000000005-ghost"), old, old);
    for (const k of (await allKeys(repo)).filter((k) => k.startsWith("volumes/") && !k.includes("-young"))) utimesSync(join(repoDir, k), old, old);
    expect(await must(collectBackupGarbage(repo))).toEqual({ removedBackups: [], objectsDeleted: 1 });
    const entries = (await allKeys(repo)).filter((k) => k.startsWith("volumes/"));
    expect(entries).toHaveLength(4);
    expect(entries.some((k) => k.endsWith("-ghost"))).toBe(false);
  });

  it("removes old objects of unpublished backups and stale markers, sparing recent ones", async () => {
    const { repo, repoDir } = await chain();
    await must(repo.put("backups/crashed/chunks/00000000.full", Buffer.from("x"), ctx));
    await must(repo.put("backups/running/chunks/00000000.full", Buffer.from("y"), ctx));
    await must(repo.put("backups/full/children/crashed", Buffer.from("{}"), ctx));
    const old = new Date(Date.now() - 48 * 3600_000);
    utimesSync(join(repoDir, "backups/crashed/chunks/00000000.full"), old, old);
    utimesSync(join(repoDir, "backups/full/children/crashed"), old, old);
    const report = await must(collectBackupGarbage(repo));
    expect(report).toEqual({ removedBackups: ["crashed"], objectsDeleted: 2 });
    const keys = await allKeys(repo);
    expect(keys).toContain("backups/running/chunks/00000000.full");
    expect(keys).not.toContain("backups/full/children/crashed");
    expect(keys).toContain("backups/full/children/incr1");
  });
});

describe("backup records", () => {
  it("exports a record and restores from it on a repository that lost its manifests", async () => {
    const { dir, repo, file } = await chain();
    const record = await must(exportBackupRecord(repo, "incr2"));
    const parsed = BackupRecordSchema.parse(JSON.parse(record));
    expect(parsed.manifests.map((m) => m.backupId)).toEqual(["full", "incr1", "incr2"]);
    // A fresh host: no database, and here not even the manifests.
    await must(repo.delete(["backups/full/manifest.json", "backups/incr1/manifest.json", "backups/incr2/manifest.json"], ctx));
    expect((await must(listBackups(repo))).backups).toEqual([]);
    const m = await must(importBackupRecord(repo, record));
    expect(m.backupId).toBe("incr2");
    expect((await must(listBackups(repo))).backups.map((b) => b.backupId)).toEqual(["full", "incr1", "incr2"]);
    const out = join(dir, "out");
    await must(restoreToTarget(repo, "incr2", { path: out }, { threads: 0 }));
    expect(sha256File(out)).toBe(sha256File(file));
    // Importing again is a no-op; the dependency markers are back.
    await must(importBackupRecord(repo, record));
    expect((await mustFail(deleteBackup(repo, "incr1"))).code).toBe("BACKUP_IN_USE");
  });

  it("refuses a tampered record or one whose objects are missing, writing nothing", async () => {
    const { repo } = await chain();
    const record = JSON.parse(await must(exportBackupRecord(repo, "incr1"))) as { manifests: { manifest: string }[] };
    const tampered = structuredClone(record);
    const first = tampered.manifests[0] as { manifest: string };
    first.manifest = Buffer.from(Buffer.from(first.manifest, "base64").toString().replace('"vol1"', '"vol2"')).toString("base64");
    expect((await mustFail(importBackupRecord(repo, JSON.stringify(tampered)))).code).toBe("BACKUP_CORRUPT");
    expect((await mustFail(importBackupRecord(repo, "{not json"))).code).toBe("BACKUP_CORRUPT");

    const { repo: empty } = tempRepo();
    const e = await mustFail(importBackupRecord(empty, JSON.stringify(record)));
    expect(e.code).toBe("BACKUP_CORRUPT");
    expect(e.message).toContain("missing");
    expect(await allKeys(empty)).toEqual([]);
  });

  it("refuses to overwrite a different manifest with the same id", async () => {
    const { repo } = await chain();
    const record = await must(exportBackupRecord(repo, "full"));
    const { repo: other } = tempRepo();
    const file = makeFile(join(tempDir(), "v"), 128 * KiB, [{ offset: 0, data: random(10) }]);
    await must(backupFromSource(other, { path: file, allocation: "none" }, { ...opts, backupId: "full" }));
    // Give the other repository the objects the record needs, so only the manifest clash remains.
    for (const key of (await allKeys(repo)).filter((k) => k.startsWith("backups/full/") && !k.endsWith("manifest.json"))) {
      await must(other.put(key, await must(repo.get(key, ctx)), ctx));
    }
    expect((await mustFail(importBackupRecord(other, record))).code).toBe("BACKUP_EXISTS");
  });
});
