import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openRepository, type RepositoryOpener } from "../../../src/service/backup-repositories.js";
import { openMemoryStore, openSqliteStore, type ServiceStore, type VolumeService } from "../../../src/service/index.js";
import { SPAN, backupWorld } from "./backup-world.js";
import { FaultyRepository, type RepositoryFault } from "./faulty-repository.js";
import { must, settle } from "./service-harness.js";

/**
 * Recovery of backups: a backup, restore or delete "crashes" when its repository stops answering
 * after N objects (every later call hangs, as in a dead process); its service instance is closed
 * and a new one on the same store and repository directory reconciles on open. Each case checks
 * the report, the records, and the repository directory (no orphan object left).
 */

const dir = mkdtempSync(join(tmpdir(), "volkit-backup-reconcile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** Every file under `root`, relative (the repository's objects). */
/** The reconcile-on-open report of `s`, one line per action: `kind id [from] outcome to`. */
function actionLines(s: VolumeService, withFrom = false): string[] {
  return (s.openReport?.actions ?? []).map((a) => `${a.kind} ${a.id}${withFrom ? ` ${a.from}` : ""} ${a.outcome} ${a.to ?? ""}`);
}

function files(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(root.length + 1))
    .sort();
}

const STORES: readonly { readonly kind: string; readonly open: () => Promise<ServiceStore> }[] = [
  { kind: "memory", open: () => must(openMemoryStore()) },
  { kind: "SQLite", open: () => must(openSqliteStore({ path: join(dir, `b-${++n}.db`) })) },
];

describe.each(STORES)("reconcile of backups after a crash ($kind store)", { timeout: 60_000 }, ({ open }) => {
  /** A world whose first instance's repository faults; later instances see the plain repository. */
  async function crashWorld() {
    const store = await open();
    let fault: RepositoryFault | undefined;
    let faulty: FaultyRepository | undefined;
    const opener: RepositoryOpener = (entry, runner) =>
      openRepository(entry, runner).map((repo) => {
        if (fault === undefined) return repo;
        faulty = new FaultyRepository(repo, fault);
        fault = undefined;
        return faulty;
      });
    const w = await backupWorld({ store, openRepository: opener });
    const data = Buffer.concat([randomBytes(SPAN / 2), Buffer.alloc(SPAN / 4), randomBytes(SPAN / 4)]);
    await must(w.service.createVolume({ id: "vol1", sizeGiB: 1 }));
    await w.driver.io.write({ id: "vol1", sizeGiB: 1 }, data);
    let first: VolumeService = w.service;
    let second: VolumeService | undefined;
    return {
      ...w,
      store,
      data,
      /** Runs `run` on the current instance with `f` armed, waits for the fault, then closes ("crashes") the instance. */
      async crash(f: RepositoryFault, run: (s: VolumeService) => unknown, close = true): Promise<FaultyRepository> {
        fault = f;
        void run(first);
        const armed = (): FaultyRepository => {
          if (faulty === undefined) throw new Error("the repository was not opened");
          return faulty;
        };
        for (let i = 0; i < 200 && faulty === undefined; i++) await settle(1);
        await armed().tripped;
        await settle();
        if (close) await must(first.close());
        return armed();
      },
      /** Another instance for a further crash, without reconciling. */
      async reopenQuietly(): Promise<void> {
        first = await w.open({ reconcileOnOpen: false });
      },
      /** The next instance, reconciling on open (or not). */
      async recover(reconcileOnOpen = true): Promise<VolumeService> {
        second = await w.open({ reconcileOnOpen });
        return second;
      },
      async close(): Promise<void> {
        if (second !== undefined) await must(second.close());
        await must(store.close());
      },
    };
  }

  it("a backup interrupted before its manifest: its objects are removed, the record is error, the volume available again", async () => {
    const w = await crashWorld();
    const repo = await w.crash({ on: "put", after: 2 }, (s) => s.createBackup("vol1", { id: "b1" }));
    expect(repo.written.length).toBe(2);
    expect(files(w.repoDir).length).toBeGreaterThan(0);
    expect(await must(w.store.backups.get("b1"))).toMatchObject({ status: "creating", task: { op: "backup" } });
    expect(await must(w.store.volumes.get("vol1"))).toMatchObject({ status: "backing-up", task: { op: "backup", backupId: "b1" } });
    const s = await w.recover();
    const actions = s.openReport?.actions ?? [];
    expect(actions.map((a) => `${a.kind} ${a.id} ${a.from} ${a.outcome} ${a.to ?? ""}`)).toEqual(["volume vol1 backing-up rolled-back available", "backup b1 creating rolled-back error"]);
    expect(actions[1]?.removed).toEqual([expect.stringMatching(/^\d+ object\(s\) of unpublished backup b1 in repository local$/) as string]);
    expect(files(w.repoDir)).toEqual([]);
    expect(await must(w.store.backups.get("b1"))).toMatchObject({ status: "error", statusReason: expect.stringMatching(/interrupted/) as string });
    expect((await must(w.store.backups.get("b1"))).task).toBeUndefined();
    expect(await must(w.store.volumes.get("vol1"))).toMatchObject({ status: "available" });
    expect((await must(w.store.volumes.get("vol1"))).task).toBeUndefined();
    // The errored backup deletes cleanly, and a new backup works.
    await must(s.deleteBackup("b1"));
    await must(s.createBackup("vol1", { id: "b2" }));
    await must(s.restoreBackup("b2", { newVolume: { id: "copy" } }));
    expect(sha(await w.driver.io.read({ id: "copy", sizeGiB: 1 }, SPAN))).toBe(sha(w.data));
    await w.close();
  });

  it("a forced backup of an in-use volume interrupted: the volume goes back to in-use (its attachment is attached)", async () => {
    const w = await crashWorld();
    await must(w.service.attachVolume({ volumeId: "vol1" }));
    await w.crash({ on: "put", after: 1 }, (s) => s.createBackup("vol1", { id: "b1", force: true }));
    expect(await must(w.store.volumes.get("vol1"))).toMatchObject({ status: "backing-up", previousStatus: "in-use" });
    const s = await w.recover();
    expect(actionLines(s)).toEqual(["volume vol1 rolled-back in-use", "backup b1 rolled-back error"]);
    expect(await must(w.store.volumes.get("vol1"))).toMatchObject({ status: "in-use", attachStatus: "attached" });
    expect(files(w.repoDir)).toEqual([]);
    await must(s.detachVolume({ volumeId: "vol1" }));
    expect((await must(w.store.volumes.get("vol1"))).status).toBe("available");
    await w.close();
  });

  it("a backup interrupted after its manifest was written: completed (available) and restorable", async () => {
    const w = await crashWorld();
    await w.crash({ on: "put", afterKey: /manifest\.json$/ }, (s) => s.createBackup("vol1", { id: "b1" }));
    expect((await must(w.store.backups.get("b1"))).status).toBe("creating");
    const s = await w.recover();
    expect(actionLines(s)).toEqual(["volume vol1 rolled-back available", "backup b1 completed available"]);
    expect(await must(w.store.backups.get("b1"))).toMatchObject({ status: "available" });
    await must(s.verifyBackup("b1"));
    await must(s.restoreBackup("b1", { newVolume: { id: "copy" } }));
    expect(sha(await w.driver.io.read({ id: "copy", sizeGiB: 1 }, SPAN))).toBe(sha(w.data));
    await w.close();
  });

  it("an incremental interrupted mid-way: its objects and its marker in the parent go; the parent deletes without CONFLICT", async () => {
    const w = await crashWorld();
    await must(w.service.createBackup("vol1", { id: "full" }));
    const before = files(w.repoDir);
    await w.driver.io.write({ id: "vol1", sizeGiB: 1 }, randomBytes(SPAN));
    await w.crash({ on: "put", after: 3 }, (s) => s.createBackup("vol1", { id: "inc", incremental: true }));
    expect(files(w.repoDir).length).toBeGreaterThan(before.length);
    const s = await w.recover();
    expect(actionLines(s)).toEqual(["volume vol1 rolled-back available", "backup inc rolled-back error"]);
    expect(files(w.repoDir)).toEqual(before);
    await must(s.deleteBackup("inc"));
    expect(await must(s.deleteBackup("full"))).toEqual(["full"]);
    expect(files(w.repoDir)).toEqual([]);
    await w.close();
  });

  it("a restore interrupted mid-way: the volume goes error_restoring, the backup available", async () => {
    const w = await crashWorld();
    await must(w.service.createBackup("vol1", { id: "b1" }));
    await must(w.service.createVolume({ id: "target", sizeGiB: 1 }));
    await w.crash({ on: "get", after: 1 }, (s) => s.restoreBackup("b1", { volumeId: "target" }));
    expect(await must(w.store.volumes.get("target"))).toMatchObject({ status: "restoring-backup", task: { op: "restore-backup", backupId: "b1" } });
    expect(await must(w.store.backups.get("b1"))).toMatchObject({ status: "restoring", task: { op: "restore-backup" } });
    const s = await w.recover();
    expect(actionLines(s, true)).toEqual([
      "volume target restoring-backup rolled-back error_restoring",
      "backup b1 restoring completed available",
    ]);
    expect(await must(w.store.volumes.get("target"))).toMatchObject({ status: "error_restoring", statusReason: expect.stringMatching(/partly written/) as string });
    // The backup is intact: restoring it again into the errored volume's replacement works.
    await must(s.deleteVolume("target"));
    await must(s.restoreBackup("b1", { newVolume: { id: "copy" } }));
    expect(sha(await w.driver.io.read({ id: "copy", sizeGiB: 1 }, SPAN))).toBe(sha(w.data));
    await w.close();
  });

  it("a delete interrupted before and a cascade delete interrupted after removing the incremental: both finished", async () => {
    const w = await crashWorld();
    await must(w.service.createBackup("vol1", { id: "lone" }));
    await must(w.service.createBackup("vol1", { id: "full" }));
    await must(w.service.createBackup("vol1", { id: "inc", incremental: true }));
    await w.crash({ on: "delete", after: 0 }, (s) => s.deleteBackup("lone"));
    await w.reopenQuietly();
    // The cascade deletes the incremental's manifest, then stops.
    await w.crash({ on: "delete", after: 1 }, (s) => s.deleteBackup("full", { cascade: true }));
    expect((await must(w.store.backups.list())).map((b) => `${b.id} ${b.status}`)).toEqual(["lone deleting", "full deleting", "inc available"]);
    const s = await w.recover();
    const actions = s.openReport?.actions ?? [];
    expect(actions.map((a) => `${a.kind} ${a.id} ${a.outcome} ${a.to ?? ""}`)).toEqual(["backup lone completed removed", "backup full completed removed"]);
    expect(actions[1]?.removed).toEqual(expect.arrayContaining(["backup full in repository local", "backup inc in repository local"]));
    expect(await must(w.store.backups.list())).toEqual([]);
    expect(files(w.repoDir)).toEqual([]);
    await w.close();
  });

  it("a dry run reads the repository, reports the plan and changes nothing; the real run does it", async () => {
    const w = await crashWorld();
    await w.crash({ on: "put", after: 2 }, (s) => s.createBackup("vol1", { id: "b1" }));
    const s = await w.recover(false);
    const before = { files: files(w.repoDir), backups: await must(w.store.backups.list()), volumes: await must(w.store.volumes.list()) };
    const dry = await must(s.reconcile({ dryRun: true }));
    expect(dry.actions.map((a) => `${a.kind} ${a.id} ${a.outcome}`)).toEqual(["volume vol1 rolled-back", "backup b1 rolled-back"]);
    expect(dry.actions[1]?.reason).toMatch(/^dry run: no manifest was published: would remove its \d+ object/);
    expect(dry.actions.every((a) => a.reason?.startsWith("dry run:") === true && a.removed.length === 0)).toBe(true);
    expect({ files: files(w.repoDir), backups: await must(w.store.backups.list()), volumes: await must(w.store.volumes.list()) }).toEqual(before);
    const real = await must(s.reconcile());
    expect(real.actions.map((a) => `${a.kind} ${a.id} ${a.outcome} ${a.to ?? ""}`)).toEqual(["volume vol1 rolled-back available", "backup b1 rolled-back error"]);
    expect(files(w.repoDir)).toEqual([]);
    await w.close();
  });

  it("leaves a backup another live instance is still running alone, and reports it skipped", async () => {
    const w = await crashWorld();
    await w.crash({ on: "put", after: 1 }, (s) => s.createBackup("vol1", { id: "b1" }), false);
    const s = await w.recover(false);
    const report = await must(s.reconcile());
    expect(report.actions.map((a) => `${a.kind} ${a.id} ${a.outcome}`)).toEqual(["volume vol1 skipped", "backup b1 skipped"]);
    expect(await must(w.store.backups.get("b1"))).toMatchObject({ status: "creating" });
    expect(files(w.repoDir).length).toBeGreaterThan(0);
    await w.close();
  });
});
