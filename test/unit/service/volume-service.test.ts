import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { backgroundContext } from "../../../src/core/context.js";
import { VolkitError } from "../../../src/core/errors.js";
import { openMemoryStore, openSqliteStore, type ServiceStore, type VolumeService } from "../../../src/service/index.js";
import { GiB, must, readVolume, world, type World } from "./service-harness.js";

/**
 * The volume service on in-memory parts, against both embedded stores: every operation's
 * transitions, events, data and failure paths.
 */

const dir = mkdtempSync(join(tmpdir(), "volkit-service-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const STORES: readonly [string, () => Promise<ServiceStore>][] = [
  ["memory store", async () => must(openMemoryStore())],
  ["SQLite file store", async () => must(openSqliteStore({ path: join(dir, `service-${++n}.db`) }))],
];

describe.each(STORES)("VolumeService (%s)", (_name, openStore) => {
  let store: ServiceStore;
  let w: World;
  let service: VolumeService;
  beforeEach(async () => {
    store = await openStore();
    w = world(store);
    service = await w.open();
  });
  afterEach(async () => {
    await must(service.close());
    await must(store.close());
  });

  it("opens: backends recorded up with stats, types and QoS written, pools scheduled", async () => {
    expect((await must(service.listBackends())).map((b) => [b.name, b.state, b.driver])).toEqual([
      ["mem-a", "up", "memory"],
      ["mem-b", "up", "memory"],
    ]);
    expect((await must(service.listVolumeTypes())).map((t) => t.name).sort()).toEqual(["gold", "shared", "silver"]);
    expect(service.pools().map((p) => `${p.ref} ${p.availabilityZone} ${String(p.stats.totalCapacityGiB)}`)).toEqual(["mem-a#memory az1 100", "mem-b#memory az1 50"]);
    expect(service.openReport?.actions).toEqual([]);
  });

  it("creates a blank volume through creating → available, placed by its type, with events", async () => {
    const v = await must(service.createVolume({ id: "v1", name: "data", sizeGiB: 5, volumeType: "silver", metadata: { app: "db" } }));
    expect(v).toMatchObject({ id: "v1", status: "available", backend: "mem-b", pool: "memory", availabilityZone: "az1", sizeGiB: 5, volumeTypeId: "silver", providerLocation: "memory:v1", metadata: { app: "db" } });
    expect(v.task).toBeUndefined();
    expect(w.b.volumeIds()).toEqual(["v1"]);
    const mine = w.events.filter((e) => e.volumeId === "v1" && e.action === "create");
    expect(mine.map((e) => (e.phase === "progress" ? `progress:${e.step}` : e.phase))).toEqual(["start", "progress:recorded", "progress:scheduled", "progress:created", "end"]);
    expect(new Set(mine.map((e) => e.requestId)).size).toBe(1);
    const end = mine.at(-1);
    expect(end?.type).toBe("volume.create.end");
    expect(end?.phase === "end" ? end.status : undefined).toBe("available");
    expect(end?.phase === "end" ? end.durationMs : -1).toBeGreaterThanOrEqual(0);
  });

  it("refuses a create nothing can hold, naming every pool, and records the error", async () => {
    const r = await service.createVolume({ id: "big", sizeGiB: 80, volumeType: "silver" });
    expect(r._unsafeUnwrapErr().code).toBe("NO_VALID_BACKEND");
    expect(r._unsafeUnwrapErr().message).toMatch(/mem-a#memory: CapabilitiesFilter.*mem-b#memory: CapacityFilter needs 80 GiB, has 50/);
    expect(await must(service.getVolume("big"))).toMatchObject({ status: "error", statusReason: expect.stringMatching(/^create failed: NO_VALID_BACKEND/) as string });
    const error = w.events.find((e) => e.type === "volume.create.error" && e.volumeId === "big");
    expect(error?.phase === "error" ? error.errorCode : undefined).toBe("NO_VALID_BACKEND");
    // The failed volume is deleted like any other (nothing on a backend to remove).
    await must(service.deleteVolume("big"));
    expect((await service.getVolume("big"))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
  });

  it("validates requests before anything is recorded", async () => {
    expect((await service.createVolume({ id: "../x", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await service.createVolume({ id: "x" }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await service.createVolume({ id: "x", sizeGiB: 1, volumeType: "platinum" }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await service.attachVolume({ volumeId: "x", disk: { target: { dev: "vdb;rm", bus: "virtio" } } }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(await must(service.listVolumes())).toEqual([]);
  });

  it("a retried create of the same volume returns it; a different one is VOLUME_EXISTS", async () => {
    const first = await must(service.createVolume({ id: "v1", sizeGiB: 2, volumeType: "gold" }));
    expect(await must(service.createVolume({ id: "v1", sizeGiB: 2, volumeType: "gold" }))).toEqual(first);
    expect((await service.createVolume({ id: "v1", sizeGiB: 3, volumeType: "gold" }))._unsafeUnwrapErr().code).toBe("VOLUME_EXISTS");
  });

  it("creates from a snapshot and from a volume on the source's backend, with the data", async () => {
    await must(service.createVolume({ id: "src", sizeGiB: 2 }));
    const data = randomBytes(4096);
    await w.a.io.write({ id: "src", sizeGiB: 2 }, data).catch(() => w.b.io.write({ id: "src", sizeGiB: 2 }, data));
    const src = await must(service.getVolume("src"));
    const driver = src.backend === "mem-a" ? w.a : w.b;
    const snap = await must(service.createSnapshot("src", { id: "s1", name: "before" }));
    expect(snap).toMatchObject({ id: "s1", volumeId: "src", status: "available", sizeGiB: 2, providerLocation: "memory:src@s1" });
    const fromSnap = await must(service.createVolume({ id: "fs", source: { kind: "snapshot", snapshotId: "s1" }, sizeGiB: 3 }));
    const clone = await must(service.createVolume({ id: "cl", source: { kind: "volume", volumeId: "src" } }));
    expect([fromSnap.backend, clone.backend]).toEqual([src.backend, src.backend]);
    expect(clone.sizeGiB).toBe(2);
    expect(clone.source).toEqual({ kind: "volume", volumeId: "src" });
    expect((await readVolume(driver, "fs", 4096)).equals(data)).toBe(true);
    expect((await readVolume(driver, "cl", 4096)).equals(data)).toBe(true);
    expect((await service.createVolume({ id: "tiny", source: { kind: "snapshot", snapshotId: "s1" }, sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
  });

  it("clones onto another backend when the type forbids the source's, copying the data on this host", async () => {
    await must(service.createVolume({ id: "src", sizeGiB: 1, volumeType: "gold" }));
    const data = randomBytes(8192);
    await w.a.io.write({ id: "src", sizeGiB: 1 }, data);
    const copy = await must(service.createVolume({ id: "cp", volumeType: "silver", source: { kind: "volume", volumeId: "src" } }));
    expect(copy).toMatchObject({ backend: "mem-b", status: "available" });
    expect((await readVolume(w.b, "cp", 8192)).equals(data)).toBe(true);
    expect(w.runner.commandsOf("dd").length).toBeGreaterThan(0);
    // The copy attachments are gone, the source is available again.
    expect(await must(service.listAttachments())).toEqual([]);
    expect(w.connector.attached.size).toBe(0);
    // From a snapshot: through a temporary volume on the snapshot's backend, deleted afterwards.
    await must(service.createSnapshot("src", { id: "s1" }));
    const fromSnap = await must(service.createVolume({ id: "fs", volumeType: "silver", source: { kind: "snapshot", snapshotId: "s1" } }));
    expect(fromSnap.backend).toBe("mem-b");
    expect((await readVolume(w.b, "fs", 8192)).equals(data)).toBe(true);
    expect(w.a.volumeIds().sort()).toEqual(["src"]);
    expect((await must(service.listVolumes({ includeInternal: true }))).map((v) => v.id).sort()).toEqual(["cp", "fs", "src"]);
  });

  it("deletes: refused while attached or with snapshots unless cascade; removes the backend object", async () => {
    await must(service.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    await must(service.createSnapshot("v1", { id: "s1" }));
    const refused = await service.deleteVolume("v1");
    expect(refused._unsafeUnwrapErr()).toMatchObject({ code: "INVALID_STATE" });
    expect(refused._unsafeUnwrapErr().message).toMatch(/snapshots/);
    await must(service.attachVolume({ volumeId: "v1" }));
    expect((await service.deleteVolume("v1", { cascade: true }))._unsafeUnwrapErr().message).toMatch(/attachments|in-use/);
    await must(service.detachVolume({ volumeId: "v1" }));
    await must(service.deleteVolume("v1", { cascade: true }));
    expect(w.a.volumeIds()).toEqual([]);
    expect(w.a.snapshotIds()).toEqual([]);
    expect(await must(service.listSnapshots())).toEqual([]);
    expect((await service.getVolume("v1"))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
  });

  it("a failed backend delete leaves error_deleting with the reason; a retry deletes", async () => {
    await must(service.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    await must(service.createSnapshot("v1", { id: "s1" }));
    // The driver refuses while it has a snapshot the store no longer knows of.
    await must(store.snapshots.remove("s1"));
    const failed = await service.deleteVolume("v1");
    expect(failed._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
    expect(await must(service.getVolume("v1"))).toMatchObject({ status: "error_deleting", statusReason: expect.stringMatching(/VOLUME_BUSY/) as string });
    await must(w.a.deleteSnapshot({ id: "s1", volumeId: "v1", volumeSizeGiB: 1 }, backgroundContext()));
    await must(service.deleteVolume("v1"));
    expect(w.a.volumeIds()).toEqual([]);
  });

  it("extends offline and online (through this host's attachment), keeping the status", async () => {
    await must(service.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    const offline = await must(service.extendVolume("v1", 2));
    expect(offline.volume).toMatchObject({ sizeGiB: 2, status: "available" });
    expect(offline.rescanned).toEqual([]);
    const att = await must(service.attachVolume({ volumeId: "v1" }));
    w.connector.setSize("v1", 4 * GiB);
    const online = await must(service.extendVolume("v1", 4));
    expect(online.volume).toMatchObject({ sizeGiB: 4, status: "in-use" });
    expect(online.rescanned).toEqual([att.attachment.id]);
    expect(w.connector.count("extendVolume")).toBe(1);
    expect((await must(store.attachments.get(att.attachment.id))).device?.sizeBytes).toBe(4 * GiB);
    expect((await service.extendVolume("v1", 3))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    // Growth is scheduled: more than the pool has is refused with the pool's numbers.
    const tooBig = await service.extendVolume("v1", 200);
    expect(tooBig._unsafeUnwrapErr().code).toBe("NO_VALID_BACKEND");
    expect((await must(service.getVolume("v1"))).status).toBe("in-use");
  });

  it("attaches with the libvirt XML (front-end QoS per GB as iotune, boot order when bootable) and detaches from the record", async () => {
    await must(service.createVolume({ id: "v1", sizeGiB: 10, volumeType: "gold", bootable: true }));
    const att = await must(service.attachVolume({ volumeId: "v1", instanceId: "vm-1", disk: { target: { dev: "vda", bus: "virtio" } } }));
    expect(att.volume).toMatchObject({ status: "in-use", attachStatus: "attached" });
    expect(att.attachment).toMatchObject({ volumeId: "v1", host: "node-1", backend: "mem-a", attachStatus: "attached", instanceId: "vm-1", exportCreated: true, purpose: "instance" });
    expect(att.attachment.connectionInfo).toMatchObject({ type: "local", devicePath: "/dev/volkit-memory-a/v1", qosSpecs: { total_iops_sec: 1000, read_bytes_sec: 104857600 } });
    expect(att.attachment.device?.path).toBe("/dev/volkit-memory-a/v1");
    expect(att.xml).toContain("<total_iops_sec>1000</total_iops_sec>");
    expect(att.xml).toContain("<read_bytes_sec>104857600</read_bytes_sec>");
    expect(att.xml).toContain("<boot order='1'/>");
    expect(att.attachment.xml).toBe(att.xml);
    expect(w.a.isExported("v1")).toBe(true);
    const steps = w.events.filter((e) => e.action === "attach" && e.phase === "progress").map((e) => (e.phase === "progress" ? e.step : ""));
    expect(steps).toEqual(["reserved", "exported", "connection", "connected"]);

    // Detach from the stored record in a new instance (a restart).
    await must(service.close());
    service = await w.open();
    const detached = await must(service.detachVolume({ attachmentId: att.attachment.id }));
    expect(detached.report).toEqual({ disconnect: { removed: ["device /dev/volkit-memory-a/v1"], leftBehind: [] }, connectionTerminated: true, exportRemoved: true });
    expect(detached.volume).toMatchObject({ status: "available", attachStatus: "detached" });
    expect(w.a.isExported("v1")).toBe(false);
    expect(w.a.connectedHosts("v1")).toEqual([]);
    expect(await must(service.listAttachments("v1"))).toEqual([]);
  });

  it("rolls an attach back when the connector fails: no export, no record, volume available", async () => {
    await must(service.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    w.connector.failNext("connectVolume", new VolkitError("LOGIN_FAILED", "portal down"));
    const r = await service.attachVolume({ volumeId: "v1" });
    expect(r._unsafeUnwrapErr().code).toBe("LOGIN_FAILED");
    expect(await must(service.getVolume("v1"))).toMatchObject({ status: "available", attachStatus: "detached", statusReason: expect.stringMatching(/LOGIN_FAILED/) as string });
    expect(await must(service.listAttachments("v1"))).toEqual([]);
    expect(w.a.isExported("v1")).toBe(false);
    expect(w.a.connectedHosts("v1")).toEqual([]);
  });

  it("multiattach: a second attach only when the type allows it, shareable XML, device kept until the last detach", async () => {
    await must(service.createVolume({ id: "one", sizeGiB: 1, volumeType: "gold" }));
    await must(service.attachVolume({ volumeId: "one" }));
    expect((await service.attachVolume({ volumeId: "one" }))._unsafeUnwrapErr()).toMatchObject({ code: "INVALID_STATE" });
    const shared = await must(service.createVolume({ id: "sh", sizeGiB: 1, volumeType: "shared" }));
    expect(shared.multiattach).toBe(true);
    const first = await must(service.attachVolume({ volumeId: "sh", instanceId: "vm-1", disk: { target: { dev: "vdb", bus: "virtio" } } }));
    const second = await must(service.attachVolume({ volumeId: "sh", instanceId: "vm-2", disk: { target: { dev: "vdb", bus: "virtio" } } }));
    expect(first.xml).toContain("<shareable/>");
    expect(second.volume.status).toBe("in-use");
    const d1 = await must(service.detachVolume({ attachmentId: first.attachment.id }));
    expect(d1.report.disconnect.leftBehind[0]).toMatchObject({ kind: "device", expected: true });
    expect(d1.volume.status).toBe("in-use");
    expect(w.connector.attached.has("sh")).toBe(true);
    const d2 = await must(service.detachVolume({ attachmentId: second.attachment.id }));
    expect(d2.volume.status).toBe("available");
    expect(w.connector.attached.has("sh")).toBe(false);
  });

  it("reverts to a snapshot and restores the data; the snapshot survives", async () => {
    await must(service.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    const before = randomBytes(4096);
    await w.a.io.write({ id: "v1", sizeGiB: 1 }, before);
    await must(service.createSnapshot("v1", { id: "s1" }));
    await w.a.io.write({ id: "v1", sizeGiB: 1 }, randomBytes(4096));
    const reverted = await must(service.revertToSnapshot("v1", "s1"));
    expect(reverted.status).toBe("available");
    expect((await readVolume(w.a, "v1", 4096)).equals(before)).toBe(true);
    expect((await must(store.snapshots.get("s1"))).status).toBe("available");
    await must(service.deleteSnapshot("s1"));
    expect(w.a.snapshotIds()).toEqual([]);
    expect((await service.revertToSnapshot("v1", "s1"))._unsafeUnwrapErr().code).toBe("SNAPSHOT_NOT_FOUND");
  });

  it("updates metadata, manages and unmanages", async () => {
    await must(service.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    expect(await must(service.updateVolume("v1", { name: "renamed", metadata: { k: "v" }, bootable: true }))).toMatchObject({ name: "renamed", metadata: { k: "v" }, bootable: true });
    const data = randomBytes(1024);
    w.a.shelf.set("legacy-lv", { sizeGiB: 3, data });
    const managed = await must(service.manageVolume({ id: "m1", backend: "mem-a", ref: { sourceName: "legacy-lv" }, volumeType: "gold" }));
    expect(managed).toMatchObject({ id: "m1", status: "available", sizeGiB: 3, backend: "mem-a", pool: "memory" });
    expect((await readVolume(w.a, "m1", 1024)).equals(data)).toBe(true);
    expect((await service.manageVolume({ backend: "mem-a", ref: { sourceName: "legacy-lv" }, volumeType: "silver" }))._unsafeUnwrapErr().message).toMatch(/does not fit volume type silver/);
    await must(service.unmanageVolume("m1"));
    expect((await service.getVolume("m1"))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
    expect(w.a.shelf.has("unmanaged-m1")).toBe(true);
  });

  it("migrates between backends through this host with the data, and retypes in place or by migration", async () => {
    await must(service.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    const data = randomBytes(16384);
    await w.a.io.write({ id: "v1", sizeGiB: 1 }, data);
    // forceHostCopy: the copy goes through this host (the "copy-attached" step below), as every migration does today.
    const moved = await must(service.migrateVolume("v1", { backend: "mem-b", forceHostCopy: true }));
    expect(moved).toMatchObject({ id: "v1", status: "available", backend: "mem-b", migrationStatus: "success" });
    expect((await readVolume(w.b, "v1", 16384)).equals(data)).toBe(true);
    expect(w.a.volumeIds()).toEqual([]);
    expect((await must(service.listVolumes({ includeInternal: true }))).map((v) => v.id)).toEqual(["v1"]);
    const steps = w.events.filter((e) => e.action === "migrate" && e.phase === "progress").map((e) => (e.phase === "progress" ? e.step : ""));
    expect(steps).toEqual(expect.arrayContaining(["maintenance", "target-created", "copy-attached", "copied", "swapped", "source-deleted"]));
    // mem-b satisfies silver: in place. gold pins mem-a: only with migration.
    expect(await must(service.retypeVolume("v1", "silver"))).toMatchObject({ volumeTypeId: "silver", backend: "mem-b" });
    expect((await service.retypeVolume("v1", "gold"))._unsafeUnwrapErr().message).toMatch(/on-demand/);
    const back = await must(service.retypeVolume("v1", "gold", { migrationPolicy: "on-demand" }));
    expect(back).toMatchObject({ volumeTypeId: "gold", backend: "mem-a", status: "available" });
    expect((await readVolume(w.a, "v1", 16384)).equals(data)).toBe(true);
    // A migration is refused with snapshots, and for attached volumes.
    await must(service.createSnapshot("v1", { id: "s1" }));
    expect((await service.migrateVolume("v1", { backend: "mem-b" }))._unsafeUnwrapErr().message).toMatch(/snapshots/);
  });

  it("never lets two operations start on one volume: concurrent attaches, one wins", async () => {
    await must(service.createVolume({ id: "v1", sizeGiB: 1, volumeType: "gold" }));
    const other = await w.open();
    const [x, y] = await Promise.all([service.attachVolume({ volumeId: "v1" }), other.attachVolume({ volumeId: "v1" })]);
    expect([x.isOk(), y.isOk()].filter(Boolean)).toHaveLength(1);
    const loser = x.isErr() ? x.error : y.isErr() ? y.error : undefined;
    expect(loser?.code).toBe("INVALID_STATE");
    expect(await must(service.listAttachments("v1"))).toHaveLength(1);
    expect(w.connector.count("connectVolume")).toBe(1);
    await must(other.close());
  });

  it("never overbooks a pool: 50 concurrent creates, only what fits succeeds and the rest are refused by the scheduler", async () => {
    await must(service.close());
    w = world(store, { capacityB: 20, latencyMs: 5 });
    service = await w.open();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => service.createVolume({ id: `c${i}`, sizeGiB: 1, volumeType: "silver" })));
    const ok = results.filter((r) => r.isOk()).length;
    const codes = new Set(results.flatMap((r) => (r.isErr() ? [r.error.code] : [])));
    expect(ok).toBe(20);
    expect([...codes]).toEqual(["NO_VALID_BACKEND"]);
    expect(w.b.volumeIds()).toHaveLength(20);
  });
});

describe("VolumeService images and the image cache", () => {
  let store: ServiceStore;
  let w: World;
  let service: VolumeService;
  const image = (content: Buffer, name = `img-${++n}.raw`): { path: string; sha256: string } => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return { path, sha256: createHash("sha256").update(content).digest("hex") };
  };
  beforeEach(async () => {
    store = await must(openMemoryStore());
    w = world(store);
    service = await w.open();
  });
  afterEach(async () => {
    await must(service.close());
    await must(store.close());
  });

  it("converts an image once per pool into a cache volume, then clones it; bootable; sha256 checked", async () => {
    const content = randomBytes(65536);
    const img = image(content);
    const first = await must(service.createVolume({ id: "vm1", sizeGiB: 2, volumeType: "gold", source: { kind: "image", imageId: "debian", ...img } }));
    expect(first).toMatchObject({ status: "available", bootable: true, source: { kind: "image", imageId: "debian" } });
    expect((await readVolume(w.a, "vm1", 65536)).equals(content)).toBe(true);
    const cache = await must(service.listImageCache());
    expect(cache).toHaveLength(1);
    expect(cache[0]).toMatchObject({ imageId: "debian", imageChecksum: `sha256:${img.sha256}`, backend: "mem-a", pool: "memory", sizeGiB: 1, hits: 1 });
    const convertsAfterMiss = w.runner.commandsOf("qemu-img").filter((c) => c[1] === "convert").length;
    expect(convertsAfterMiss).toBe(1);
    const second = await must(service.createVolume({ id: "vm2", sizeGiB: 10, volumeType: "gold", source: { kind: "image", imageId: "debian", ...img } }));
    expect(second.sizeGiB).toBe(10);
    expect((await readVolume(w.a, "vm2", 65536)).equals(content)).toBe(true);
    // The hit neither converted nor even read the file.
    expect(w.runner.commandsOf("qemu-img").filter((c) => c[1] === "convert").length).toBe(convertsAfterMiss);
    expect(w.runner.commandsOf("sha256sum")).toHaveLength(1);
    expect((await must(service.listImageCache()))[0]?.hits).toBe(2);
    const steps = w.events.filter((e) => e.action === "create" && e.phase === "progress").map((e) => (e.phase === "progress" ? `${e.volumeId}:${e.step}` : ""));
    expect(steps).toEqual(expect.arrayContaining(["vm1:image-verified", "vm1:cache-miss", "vm2:cache-hit"]));
    // The cache volume is internal: not listed by default, listed on request.
    expect((await must(service.listVolumes())).map((v) => v.id).sort()).toEqual(["vm1", "vm2"]);
    expect((await must(service.listVolumes({ includeInternal: true }))).length).toBe(3);
  });

  it("refuses a wrong checksum, a qcow2 with a backing file, and an image larger than the volume", async () => {
    const img = image(randomBytes(4096));
    const bad = await service.createVolume({ id: "x", sizeGiB: 1, volumeType: "gold", source: { kind: "image", imageId: "i", path: img.path, sha256: "0".repeat(64) } });
    expect(bad._unsafeUnwrapErr()).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(bad._unsafeUnwrapErr().message).toMatch(/has sha256 [0-9a-f]{64}, not the 0{64} given/);
    expect(w.a.volumeIds()).toEqual([]);
    const big = image(randomBytes(4096), "big.virtual-5g.raw");
    const tooBig = await service.createVolume({ id: "y", sizeGiB: 2, volumeType: "gold", source: { kind: "image", imageId: "big", ...big } });
    expect(tooBig._unsafeUnwrapErr().message).toMatch(/image big needs 5 GiB .*the volume has 2/);
    // Without a size, the volume takes the image's: 5 GiB.
    expect(await must(service.createVolume({ id: "z", volumeType: "gold", source: { kind: "image", imageId: "big", ...big } }))).toMatchObject({ sizeGiB: 5, status: "available" });
    const backed = image(randomBytes(4096), "evil.backing.qcow2");
    const refused = await service.createVolume({ id: "e", sizeGiB: 1, volumeType: "gold", source: { kind: "image", imageId: "evil", format: "qcow2", ...backed } });
    expect(refused._unsafeUnwrapErr().message).toMatch(/backing file is refused/);
    // Nothing was left on the backend by the refused ones: the 5 GiB volume and its cache volume only.
    expect(w.a.volumeIds().filter((id) => !id.startsWith("img-"))).toEqual(["z"]);
  });

  it("evicts the least recently used entry past maxCount, deleting its cache volume", async () => {
    const imgs = [0, 1, 2].map((i) => image(randomBytes(1024 + i)));
    for (const [i, img] of imgs.entries()) await must(service.createVolume({ id: `vm${i}`, sizeGiB: 1, volumeType: "gold", source: { kind: "image", imageId: `os-${i}`, ...img } }));
    const entries = await must(service.listImageCache());
    expect(entries.map((e) => e.imageId)).toEqual(["os-1", "os-2"]);
    // os-0's cache volume is gone from the backend; its volume vm0 stays.
    const cacheVolumes = (await must(service.listVolumes({ includeInternal: true }))).filter((v) => v.metadata["volkit:purpose"] === "image-cache");
    expect(cacheVolumes.map((v) => v.metadata["volkit:image"]).sort()).toEqual(["os-1", "os-2"]);
    expect(w.a.volumeIds().filter((id) => id.startsWith("img-"))).toHaveLength(2);
    expect(w.a.volumeIds()).toEqual(expect.arrayContaining(["vm0", "vm1", "vm2"]));
  });

  it("purges the cache by image or entirely: cache volumes deleted, clones keep their data; a bad request deletes nothing", async () => {
    const contents = [0, 1].map((i) => randomBytes(2048 + i));
    for (const [i, content] of contents.entries()) await must(service.createVolume({ id: `vm${i}`, sizeGiB: 1, volumeType: "gold", source: { kind: "image", imageId: `os-${i}`, ...image(content) } }));
    expect(w.a.volumeIds().filter((id) => id.startsWith("img-"))).toHaveLength(2);
    const refused = await service.purgeImageCache({});
    expect(refused._unsafeUnwrapErr()).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect((await service.purgeImageCache({ imageId: "../etc" }))._unsafeUnwrapErr()).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(w.a.volumeIds().filter((id) => id.startsWith("img-"))).toHaveLength(2);
    const one = await must(service.purgeImageCache({ imageId: "os-0" }));
    expect([one.removed.map((e) => e.imageId), one.failed]).toEqual([["os-0"], []]);
    expect((await must(service.listImageCache())).map((e) => e.imageId)).toEqual(["os-1"]);
    expect(w.a.volumeIds().filter((id) => id.startsWith("img-"))).toHaveLength(1);
    const rest = await must(service.purgeImageCache({ all: true }));
    expect(rest.removed.map((e) => e.imageId)).toEqual(["os-1"]);
    expect(await must(service.listImageCache())).toEqual([]);
    expect(w.a.volumeIds().sort()).toEqual(["vm0", "vm1"]);
    for (const [i, content] of contents.entries()) expect((await readVolume(w.a, `vm${i}`, content.length)).equals(content)).toBe(true);
    // The next volume from a purged image converts again.
    await must(service.createVolume({ id: "vm2", sizeGiB: 1, volumeType: "gold", source: { kind: "image", imageId: "os-0", ...image(contents[0] ?? Buffer.alloc(0)) } }));
    expect((await must(service.listImageCache())).map((e) => [e.imageId, e.hits])).toEqual([["os-0", 1]]);
  });

  it("converts directly when the cache is disabled", async () => {
    await must(service.close());
    service = await w.open({ imageCache: { enabled: false } });
    const content = randomBytes(2048);
    await must(service.createVolume({ id: "vm", sizeGiB: 1, volumeType: "gold", source: { kind: "image", imageId: "i", ...image(content) } }));
    expect((await readVolume(w.a, "vm", 2048)).equals(content)).toBe(true);
    expect(await must(service.listImageCache())).toEqual([]);
    expect(w.a.volumeIds()).toEqual(["vm"]);
  });
});
