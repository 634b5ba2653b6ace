import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqliteStore, type RecoveryAction, type ServiceStore, type VolumeService } from "../../../src/service/index.js";
import { GiB, must, readVolume, settle, world, type Gate, type World } from "./service-harness.js";

/**
 * Recovery: an operation is "crashed" at a chosen driver or connector call (the call does its work
 * or not, then never returns), its service instance is closed (its operations are abandoned), and
 * a new instance on the same SQLite file reconciles on open. Each case checks the report, the
 * record, and the backend and host: nothing left behind, or the operation completed.
 */

const dir = mkdtempSync(join(tmpdir(), "volkit-reconcile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

let store: ServiceStore;
let w: World;
let first: VolumeService;
let second: VolumeService | undefined;

beforeEach(async () => {
  store = await must(openSqliteStore({ path: join(dir, `r-${++n}.db`) }));
  w = world(store);
  first = await w.open();
});
afterEach(async () => {
  await must(first.close());
  if (second) await must(second.close());
  second = undefined;
  await must(store.close());
});

/** Starts `run` with `gate` armed on the driver (`a`, `b`) or the connector, waits for it to hang, then "crashes" the instance. */
async function crash(where: "a" | "b" | "connector", gate: Gate, run: () => unknown): Promise<void> {
  (where === "connector" ? w.connector : w[where]).gate = gate;
  void run();
  await settle();
  await must(first.close());
}

/** The instance opened by {@link recover}. */
function opened(): VolumeService {
  if (second === undefined) throw new Error("recover() first");
  return second;
}

/** Opens the next instance (it reconciles on open) and returns its report's actions. */
async function recover(): Promise<readonly RecoveryAction[]> {
  second = await w.open();
  return second.openReport?.actions ?? [];
}

describe("reconcile after a crash", () => {
  it("create interrupted before the driver created anything: error, nothing on the backend", async () => {
    await crash("a", { method: "createVolume", when: "before" }, () => first.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    expect(await must(store.volumes.get("v1"))).toMatchObject({ status: "creating", backend: "mem-a", task: { op: "create" } });
    const actions = await recover();
    expect(actions).toEqual([expect.objectContaining({ kind: "volume", id: "v1", from: "creating", outcome: "rolled-back", to: "error" })]);
    expect(await must(store.volumes.get("v1"))).toMatchObject({ status: "error", statusReason: expect.stringMatching(/interrupted/) as string });
    expect(w.a.volumeIds()).toEqual([]);
  });

  it("create interrupted after the driver created the volume: the object is deleted, the record is error", async () => {
    await crash("a", { method: "createVolume", when: "after" }, () => first.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    expect(w.a.volumeIds()).toEqual(["v1"]);
    const [action] = await recover();
    expect(action).toMatchObject({ outcome: "rolled-back", to: "error", removed: ["volume v1 on mem-a"] });
    expect(w.a.volumeIds()).toEqual([]);
    // An errored volume deletes cleanly afterwards.
    await must(opened().deleteVolume("v1"));
  });

  it("create from an image interrupted at the clone: the volume is rolled back, the filled cache entry stays usable", async () => {
    const content = randomBytes(4096);
    const path = join(dir, `img-${n}.raw`);
    writeFileSync(path, content);
    const sha256 = createHash("sha256").update(content).digest("hex");
    await crash("a", { method: "createClonedVolume", when: "after" }, () => first.createVolume({ id: "vm", sizeGiB: 2, volumeType: "gold", source: { kind: "image", imageId: "os", path, sha256 } }));
    const actions = await recover();
    expect(actions).toEqual([expect.objectContaining({ id: "vm", outcome: "rolled-back", to: "error" })]);
    expect(w.a.volumeIds().filter((id) => !id.startsWith("img-"))).toEqual([]);
    const cache = await must(store.imageCache.list());
    expect(cache).toHaveLength(1);
    const again = await must(opened().createVolume({ id: "vm2", sizeGiB: 2, volumeType: "gold", source: { kind: "image", imageId: "os", path, sha256 } }));
    expect(again.status).toBe("available");
    expect((await readVolume(w.a, "vm2", 4096)).equals(content)).toBe(true);
  });

  it("delete interrupted before or after the driver deleted: completed, record removed, nothing left", async () => {
    await must(first.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    await must(first.createVolume({ id: "v2", sizeGiB: 1, volumeType: "gold" }));
    await crash("a", { method: "deleteVolume", when: "before" }, () => first.deleteVolume("v1"));
    first = await w.open({ reconcileOnOpen: false });
    await crash("a", { method: "deleteVolume", when: "after" }, () => first.deleteVolume("v2"));
    expect((await must(store.volumes.list())).map((v) => v.status)).toEqual(["deleting", "deleting"]);
    const actions = await recover();
    expect(actions.map((a) => [a.id, a.outcome, a.to])).toEqual([
      ["v1", "completed", "removed"],
      ["v2", "completed", "removed"],
    ]);
    expect(w.a.volumeIds()).toEqual([]);
    expect(await must(store.volumes.list())).toEqual([]);
  });

  it("extend interrupted after the driver grew the volume: completed to the size in the task", async () => {
    await must(first.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    await crash("a", { method: "extendVolume", when: "after" }, () => first.extendVolume("v1", 3));
    expect(await must(store.volumes.get("v1"))).toMatchObject({ status: "extending", sizeGiB: 1, task: { newSizeGiB: 3 } });
    const [action] = await recover();
    expect(action).toMatchObject({ outcome: "completed", to: "available" });
    expect(await must(store.volumes.get("v1"))).toMatchObject({ status: "available", sizeGiB: 3 });
  });

  it("attach interrupted after the connect (device not recorded yet): disconnected, unexported, available", async () => {
    await must(first.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    await crash("connector", { method: "connectVolume", when: "after" }, () => first.attachVolume({ volumeId: "v1" }));
    expect(w.connector.attached.has("v1")).toBe(true);
    const att = (await must(store.attachments.list({ volumeId: "v1" })))[0];
    expect(att).toMatchObject({ attachStatus: "attaching", exportCreated: true, connectionInfo: { type: "local" } });
    expect(att?.device).toBeUndefined();
    const [action] = await recover();
    expect(action).toMatchObject({ outcome: "rolled-back", to: "available" });
    expect(action?.removed).toEqual(expect.arrayContaining(["connection of node-1 to volume v1", "export of volume v1"]));
    expect(w.connector.attached.has("v1")).toBe(false);
    expect(w.a.isExported("v1")).toBe(false);
    expect(w.a.connectedHosts("v1")).toEqual([]);
    expect(await must(store.attachments.list())).toEqual([]);
    expect(await must(store.volumes.get("v1"))).toMatchObject({ status: "available", attachStatus: "detached" });
  });

  it("attach interrupted after the driver granted access (connection not recorded): access revoked, export removed", async () => {
    await must(first.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    await crash("a", { method: "initializeConnection", when: "after" }, () => first.attachVolume({ volumeId: "v1" }));
    expect(w.a.connectedHosts("v1")).toEqual(["node-1"]);
    const [action] = await recover();
    expect(action).toMatchObject({ outcome: "rolled-back", to: "available", removed: ["export of volume v1"] });
    expect(w.a.connectedHosts("v1")).toEqual([]);
    expect(w.a.isExported("v1")).toBe(false);
  });

  it("detach interrupted before or after the disconnect: completed from the stored attachment", async () => {
    for (const id of ["v1", "v2"]) {
      await must(first.createVolume({ id, sizeGiB: 1, volumeType: "gold" }));
      await must(first.attachVolume({ volumeId: id }));
    }
    await crash("connector", { method: "disconnectVolume", when: "before" }, () => first.detachVolume({ volumeId: "v1" }));
    first = await w.open({ reconcileOnOpen: false });
    await crash("connector", { method: "disconnectVolume", when: "after" }, () => first.detachVolume({ volumeId: "v2" }));
    expect([...w.connector.attached.keys()]).toEqual(["v1"]);
    const actions = await recover();
    expect(actions.map((a) => [a.id, a.outcome, a.to])).toEqual([
      ["v1", "completed", "available"],
      ["v2", "completed", "available"],
    ]);
    expect(actions[0]?.removed).toEqual(["device /dev/volkit-memory-a/v1", "connection of node-1 to volume v1", "export of volume v1"]);
    expect(w.connector.attached.size).toBe(0);
    expect(w.a.isExported("v1") || w.a.isExported("v2")).toBe(false);
    expect(await must(store.attachments.list())).toEqual([]);
  });

  it("migration interrupted before the swap is rolled back; after the swap, completed", async () => {
    const data = randomBytes(4096);
    for (const id of ["m1", "m2"]) {
      await must(first.createVolume({ id, sizeGiB: 1, volumeType: "gold" }));
      await w.a.io.write({ id, sizeGiB: 1 }, data);
    }
    // m1: the target was created on mem-b, then the process died.
    await crash("b", { method: "createVolume", when: "after" }, () => first.migrateVolume("m1", { backend: "mem-b" }));
    // m2: the swap committed; deleting the old copy on mem-a never returned.
    first = await w.open({ reconcileOnOpen: false });
    await crash("a", { method: "deleteVolume", when: "before" }, () => first.migrateVolume("m2", { backend: "mem-b" }));
    expect((await must(store.volumes.get("m2"))).task?.phase).toBe("swapped");
    const actions = await recover();
    const byId = new Map(actions.map((a) => [a.id, a]));
    expect(byId.get("m1")).toMatchObject({ outcome: "rolled-back", to: "available" });
    expect(byId.get("m2")).toMatchObject({ outcome: "completed", to: "available" });
    expect(await must(store.volumes.get("m1"))).toMatchObject({ backend: "mem-a", migrationStatus: "error" });
    expect(await must(store.volumes.get("m2"))).toMatchObject({ backend: "mem-b", migrationStatus: "success" });
    expect(w.a.volumeIds()).toEqual(["m1"]);
    expect(w.b.volumeIds()).toEqual(["m2"]);
    expect((await readVolume(w.b, "m2", 4096)).equals(data)).toBe(true);
    expect((await must(store.volumes.list())).map((v) => v.id).sort()).toEqual(["m1", "m2"]);
    expect(await must(store.attachments.list())).toEqual([]);
    expect(w.connector.attached.size).toBe(0);
  });

  it("snapshot create rolled back, snapshot delete completed, revert redone", async () => {
    await must(first.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    const before = randomBytes(2048);
    await w.a.io.write({ id: "v1", sizeGiB: 1 }, before);
    await must(first.createSnapshot("v1", { id: "keep" }));
    await must(first.createSnapshot("v1", { id: "gone" }));
    await w.a.io.write({ id: "v1", sizeGiB: 1 }, randomBytes(2048));
    await crash("a", { method: "createSnapshot", when: "after" }, () => first.createSnapshot("v1", { id: "half" }));
    first = await w.open({ reconcileOnOpen: false });
    await crash("a", { method: "deleteSnapshot", when: "before" }, () => first.deleteSnapshot("gone"));
    first = await w.open({ reconcileOnOpen: false });
    await crash("a", { method: "revertToSnapshot", when: "before" }, () => first.revertToSnapshot("v1", "keep"));
    const actions = await recover();
    const summary = actions.map((a) => `${a.kind} ${a.id} ${a.from} ${a.outcome} ${a.to ?? ""}`).sort();
    expect(summary).toEqual(["snapshot gone deleting completed removed", "snapshot half creating rolled-back error", "volume v1 reverting completed available"]);
    expect(w.a.snapshotIds().sort()).toEqual(["keep"]);
    expect((await readVolume(w.a, "v1", 2048)).equals(before)).toBe(true);
    expect((await must(store.snapshots.get("keep"))).status).toBe("available");
  });

  it("leaves alone what a live instance is still doing, and reports it", async () => {
    await must(first.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    w.a.gate = { method: "extendVolume", when: "before" };
    void first.extendVolume("v1", 2);
    await settle();
    second = await w.open();
    expect(second.openReport?.actions).toEqual([expect.objectContaining({ id: "v1", outcome: "skipped", reason: expect.stringMatching(/extend is still running/) as string })]);
    expect((await must(store.volumes.get("v1"))).status).toBe("extending");
  });
});

describe("reconcile on demand in a busy process", () => {
  it("skips this process's own running operations, copy attachments included", async () => {
    await must(first.createVolume({ id: "src", sizeGiB: 1, volumeType: "gold" }));
    w.runner.hangOn = "dd";
    void first.createVolume({ id: "cp", volumeType: "silver", source: { kind: "volume", volumeId: "src" } });
    await settle();
    expect(await must(store.attachments.list())).toHaveLength(2);
    const report = await must(first.reconcile());
    expect(report.actions).toEqual([expect.objectContaining({ id: "cp", outcome: "skipped" })]);
    expect(await must(store.attachments.list())).toHaveLength(2);
    expect(w.connector.attached.size).toBe(2);
    // Once that process is gone, the next instance undoes both copy attachments and the half-made clone.
    await must(first.close());
    const actions = await recover();
    expect(actions.map((a) => `${a.kind} ${a.id} ${a.outcome} ${a.to ?? ""}`).sort()).toEqual(["attachment " + actions.find((a) => a.kind === "attachment")?.id + " rolled-back removed", "volume cp rolled-back error"].sort());
    expect(await must(store.attachments.list())).toEqual([]);
    expect(w.connector.attached.size).toBe(0);
    expect(w.b.volumeIds()).toEqual([]);
  });
});

describe("admin: resetStatus, forceDelete, forceDetach clean the backend and the host", () => {
  it("resetStatus undoes a half-made attachment and reports what it removed", async () => {
    await must(first.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    w.connector.gate = { method: "connectVolume", when: "after" };
    void first.attachVolume({ volumeId: "v1" });
    await settle();
    const report = await must(first.resetStatus("v1", "available"));
    expect(report).toMatchObject({ volumeId: "v1", status: "available" });
    expect(report.removed).toEqual(expect.arrayContaining(["connection of node-1 to volume v1", "export of volume v1"]));
    expect(report.records).toHaveLength(1);
    expect(w.connector.attached.size).toBe(0);
    expect(w.a.isExported("v1")).toBe(false);
    expect(await must(store.volumes.get("v1"))).toMatchObject({ status: "available", attachStatus: "detached" });
  });

  it("forceDelete removes an attached volume with snapshots: device, access, export, snapshots, volume, records", async () => {
    await must(first.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    await must(first.createSnapshot("v1", { id: "s1" }));
    await must(first.attachVolume({ volumeId: "v1" }));
    const report = await must(first.forceDelete("v1"));
    expect(report.status).toBe("removed");
    expect(report.removed).toEqual(["device /dev/volkit-memory-a/v1", "connection of node-1 to volume v1", "export of volume v1", "snapshot s1 on mem-a", "volume v1 on mem-a"]);
    expect([...report.records].sort()).toEqual(expect.arrayContaining(["snapshot s1", "volume v1"]));
    expect(w.a.volumeIds()).toEqual([]);
    expect(w.a.snapshotIds()).toEqual([]);
    expect(w.connector.attached.size).toBe(0);
    expect(await must(store.attachments.list())).toEqual([]);
    expect(await must(store.volumes.list())).toEqual([]);
  });

  it("forceDetach removes an attachment even in a stuck state, then settles the volume", async () => {
    await must(first.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    const att = await must(first.attachVolume({ volumeId: "v1" }));
    const report = await must(first.forceDetach("v1", att.attachment.id));
    expect(report).toMatchObject({ status: "available", records: [`attachment ${att.attachment.id}`] });
    expect(report.removed[0]).toBe("device /dev/volkit-memory-a/v1");
    expect(w.connector.attached.size).toBe(0);
    expect(w.a.connectedHosts("v1")).toEqual([]);
    expect((await first.forceDetach("v1", "nope"))._unsafeUnwrapErr().code).toBe("NOT_FOUND");
    // Still a sound volume: attach again works.
    w.connector.setSize("v1", GiB);
    expect((await must(first.attachVolume({ volumeId: "v1" }))).volume.status).toBe("in-use");
  });
});
