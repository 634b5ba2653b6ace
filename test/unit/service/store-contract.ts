import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ServiceStore, Transition } from "../../../src/service/index.js";
import { ALL_TABLES } from "../../../src/service/store/table-specs.js";

/**
 * The store contract: every implementation (memory, SQLite file, PostgreSQL) must pass the same
 * tests. `corrupt` writes a raw value into a stored row through another connection, for the
 * read-back validation tests.
 */
export interface StoreHarness {
  /** A new, empty store. */
  readonly open: () => Promise<ServiceStore>;
  /** Writes `value` (SQL text, or JSON text for JSON columns) into `table.column` of row `id`. */
  readonly corrupt?: (table: string, id: string, column: string, value: string) => Promise<void>;
  /** Whether JSON columns are text (SQLite) so unparsable JSON can be stored. */
  readonly jsonIsText: boolean;
}

function unwrapWon<T>(t: Transition<T>): T {
  if (!t.won) throw new Error(`expected to win: ${t.reason}`);
  return t.record;
}

function lostReason<T>(t: Transition<T>): string {
  if (t.won) throw new Error("expected to lose");
  return t.reason;
}

export function describeStoreContract(name: string, harness: StoreHarness): void {
  describe(`service store contract: ${name}`, () => {
    let store: ServiceStore;
    beforeEach(async () => {
      store = await harness.open();
    });
    afterEach(async () => {
      (await store.close())._unsafeUnwrap();
    });

    const volume = (id: string, extra: Record<string, unknown> = {}) => store.volumes.insert({ id, sizeGiB: 10, status: "available", ...extra });

    it("applies the versioned migrations on open", async () => {
      expect((await store.migrations())._unsafeUnwrap()).toEqual(["0001_initial", "0002_operation_tasks", "0003_backup_tasks"]);
    });

    it("round-trips every field of every record, with the types the schemas promise", async () => {
      (await store.qosSpecs.insert({ id: "q1", name: "gold", consumer: "both", specs: { total_iops_sec: 500, vendor_key: "x" } }))._unsafeUnwrap();
      (await store.volumeTypes.insert({ id: "t1", name: "ssd", description: "fast", extraSpecs: { disk_type: "<in> ssd" }, qosSpecsId: "q1", isPublic: false }))._unsafeUnwrap();
      const created = new Date("2026-01-02T03:04:05.678Z");
      const full = {
        id: "v-full",
        name: "data disk",
        sizeGiB: 42,
        status: "available" as const,
        previousStatus: "extending" as const,
        attachStatus: "detached" as const,
        backend: "lvm-a",
        pool: "thin",
        availabilityZone: "az1",
        volumeTypeId: "t1",
        bootable: true,
        multiattach: true,
        metadata: { owner: "ops", tier: "gold" },
        providerLocation: "/dev/vg/volume-v-full",
        providerAuth: "CHAP user Secret123456789",
        providerId: "lun-7",
        source: { kind: "image" as const, imageId: "debian-12" },
        migrationStatus: "success" as const,
        statusReason: "none",
        task: { op: "extend", owner: "node-1:42:abc", startedAt: created, newSizeGiB: 50 },
        createdAt: created,
        updatedAt: created,
        revision: 3,
      };
      const inserted = (await store.volumes.insert(full))._unsafeUnwrap();
      expect(inserted).toEqual(full);
      expect((await store.volumes.get("v-full"))._unsafeUnwrap()).toEqual(full);
      const att = {
        id: "a-full",
        volumeId: "v-full",
        host: "node-1",
        hostProperties: { host: "node-1", initiator: "iqn.2004-10.com.ubuntu:01:abc", multipath: true },
        backend: "lvm-a",
        connectionInfo: {
          type: "iscsi" as const,
          volumeId: "v-full",
          accessMode: "ro" as const,
          encrypted: false,
          targetDiscovered: false,
          targetIqn: "iqn.2010-10.org.openstack:volume-v-full",
          targetPortal: "127.0.0.1:3260",
          targetLun: 1,
          authMethod: "CHAP" as const,
          authUsername: "user",
          authPassword: "ChapSecret-123456",
        },
        device: { type: "block" as const, path: "/dev/dm-3", paths: ["/dev/sdb", "/dev/sdc"] },
        exportCreated: true,
        xml: "<disk type='block'/>",
        purpose: "instance" as const,
        instanceId: "vm-1",
        mountpoint: "vdb",
        attachMode: "ro" as const,
        attachStatus: "attached" as const,
        attachedAt: created,
        createdAt: created,
        updatedAt: created,
        revision: 1,
      };
      expect((await store.attachments.insert(att))._unsafeUnwrap()).toEqual(att);
      const snap = (await store.snapshots.insert({ id: "s-full", volumeId: "v-full", sizeGiB: 42, name: "s", providerLocation: "x", providerId: "y", metadata: { a: "b" } }))._unsafeUnwrap();
      expect(snap).toMatchObject({ status: "creating", revision: 1, metadata: { a: "b" } });
      const backend = { name: "lvm-a", driver: "lvm", configHash: "sha256:abcd", availabilityZone: "az1", lastStats: { pools: [{ poolName: "thin", free: 1.5 }] }, statsUpdatedAt: created, state: "down" as const, createdAt: created, updatedAt: created, revision: 1 };
      expect((await store.backends.insert(backend))._unsafeUnwrap()).toEqual(backend);
      expect((await store.backups.insert({ id: "b1", volumeId: "gone", repository: "posix:/srv/b", sizeGiB: 42, manifestLocation: "b1/manifest" }))._unsafeUnwrap()).toMatchObject({ status: "creating" });
      const entry = (await store.imageCache.insert({ id: "c1", imageId: "debian-12", imageChecksum: "sha256:0123456789abcdef", backend: "lvm-a", pool: "thin", volumeId: "v-full", sizeGiB: 2 }))._unsafeUnwrap();
      expect(entry).toMatchObject({ hits: 0, revision: 1 });
      expect((await store.volumeTypes.get("t1"))._unsafeUnwrap()).toMatchObject({ extraSpecs: { disk_type: "<in> ssd" }, isPublic: false, qosSpecsId: "q1" });
      expect((await store.qosSpecs.get("q1"))._unsafeUnwrap().specs).toEqual({ total_iops_sec: 500, vendor_key: "x" });
      // Every column of the table specs exists in the migrated schema (inserts above touched them all).
      expect(ALL_TABLES.map((t) => t.table).sort()).toEqual(["attachments", "backends", "backups", "image_cache", "qos_specs", "snapshots", "volume_types", "volumes"]);
    });

    it("detects duplicate keys with the record's own code and leaves the first record alone", async () => {
      (await volume("v1"))._unsafeUnwrap();
      const dup = await store.volumes.insert({ id: "v1", sizeGiB: 99 });
      expect(dup._unsafeUnwrapErr().code).toBe("VOLUME_EXISTS");
      expect((await store.volumes.get("v1"))._unsafeUnwrap().sizeGiB).toBe(10);
      (await store.volumeTypes.insert({ id: "t1", name: "ssd" }))._unsafeUnwrap();
      expect((await store.volumeTypes.insert({ id: "t2", name: "ssd" }))._unsafeUnwrapErr().code).toBe("CONFLICT");
    });

    it("reports missing records with typed codes", async () => {
      expect((await store.volumes.get("nope"))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
      expect((await store.snapshots.get("nope"))._unsafeUnwrapErr().code).toBe("SNAPSHOT_NOT_FOUND");
      expect((await store.attachments.get("nope"))._unsafeUnwrapErr().code).toBe("NOT_FOUND");
      expect((await store.volumes.find("nope"))._unsafeUnwrap()).toBeUndefined();
    });

    it("refuses invalid records and patches before writing anything", async () => {
      expect((await store.volumes.insert({ id: "-bad", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
      expect((await store.volumes.find("-bad"))._unsafeUnwrap()).toBeUndefined();
      (await volume("v1"))._unsafeUnwrap();
      const badSize = await store.volumes.update("v1", { sizeGiB: 0 });
      expect(badSize._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
      const status = await store.volumes.update("v1", { status: "deleting" } as never);
      expect(status._unsafeUnwrapErr().message).toMatch(/status: cannot be changed by a patch/);
      const after = (await store.volumes.get("v1"))._unsafeUnwrap();
      expect(after).toMatchObject({ sizeGiB: 10, status: "available", revision: 1 });
    });

    it("updates conditionally on the revision: a stale writer loses and changes nothing", async () => {
      (await volume("v1"))._unsafeUnwrap();
      const first = unwrapWon((await store.volumes.update("v1", { metadata: { a: "1" } }, { revision: 1 }))._unsafeUnwrap());
      expect(first.revision).toBe(2);
      const stale = (await store.volumes.update("v1", { metadata: { a: "stale" } }, { revision: 1 }))._unsafeUnwrap();
      expect(lostReason(stale)).toMatch(/revision 2, expected 1/);
      expect((await store.volumes.get("v1"))._unsafeUnwrap().metadata).toEqual({ a: "1" });
      const clear = unwrapWon((await store.volumes.update("v1", { name: "n" }))._unsafeUnwrap());
      expect(clear.name).toBe("n");
      expect(unwrapWon((await store.volumes.update("v1", { name: undefined }))._unsafeUnwrap()).name).toBeUndefined();
      const missing = (await store.volumes.update("nope", { name: "x" }))._unsafeUnwrap();
      expect(missing.won ? undefined : missing.current).toBeUndefined();
    });

    it("starts an operation only from its allowed statuses, once", async () => {
      (await volume("v1"))._unsafeUnwrap();
      const begun = unwrapWon((await store.volumes.begin("v1", "attach"))._unsafeUnwrap());
      expect(begun).toMatchObject({ status: "attaching", previousStatus: "available", attachStatus: "attaching", revision: 2 });
      const again = (await store.volumes.begin("v1", "attach"))._unsafeUnwrap();
      expect(lostReason(again)).toMatch(/cannot attach a volume in status attaching/);
      const del = (await store.volumes.begin("v1", "delete"))._unsafeUnwrap();
      expect(lostReason(del)).toMatch(/status attaching/);
      expect(del.won ? undefined : del.current?.status).toBe("attaching");
      const missing = (await store.volumes.begin("nope", "extend"))._unsafeUnwrap();
      expect(lostReason(missing)).toMatch(/does not exist/);
    });

    it("attaches with the attachment in the same transaction and resolves in-use / available from attachments", async () => {
      (await volume("v1"))._unsafeUnwrap();
      const props = { host: "node-1" };
      unwrapWon((await store.volumes.begin("v1", "attach", { attachment: { insert: { id: "a1", volumeId: "v1", host: "node-1", hostProperties: props, attachStatus: "attaching" } } }))._unsafeUnwrap());
      expect((await store.attachments.get("a1"))._unsafeUnwrap().attachStatus).toBe("attaching");
      const done = unwrapWon((await store.volumes.finish("v1", "attach", "success", { attachment: { update: "a1", attachStatus: "attached" } }))._unsafeUnwrap());
      expect(done).toMatchObject({ status: "in-use", attachStatus: "attached" });
      expect(done.previousStatus).toBeUndefined();
      expect((await store.attachments.get("a1"))._unsafeUnwrap().attachedAt).toBeInstanceOf(Date);
      // Not multiattach: a second attach is refused.
      expect(lostReason((await store.volumes.begin("v1", "attach"))._unsafeUnwrap())).toMatch(/in-use/);
      // Delete is refused while attached.
      expect((await store.volumes.begin("v1", "delete"))._unsafeUnwrap().won).toBe(false);
      unwrapWon((await store.volumes.begin("v1", "detach", { attachment: { update: "a1", attachStatus: "detaching" } }))._unsafeUnwrap());
      const detached = unwrapWon((await store.volumes.finish("v1", "detach", "success", { attachment: { update: "a1", attachStatus: "detached" } }))._unsafeUnwrap());
      expect(detached).toMatchObject({ status: "available", attachStatus: "detached" });
      expect((await store.attachments.get("a1"))._unsafeUnwrap().detachedAt).toBeInstanceOf(Date);
    });

    it("rolls a failed attach back to what the attachments say and keeps the attachment change atomic", async () => {
      (await volume("v1"))._unsafeUnwrap();
      unwrapWon((await store.volumes.begin("v1", "attach"))._unsafeUnwrap());
      const failed = unwrapWon((await store.volumes.finish("v1", "attach", "failure", { statusReason: "LOGIN_FAILED: chap refused" }))._unsafeUnwrap());
      expect(failed).toMatchObject({ status: "available", attachStatus: "detached", statusReason: "LOGIN_FAILED: chap refused" });
      // An attachment change that cannot apply rolls the volume transition back too.
      unwrapWon((await store.volumes.begin("v1", "attach"))._unsafeUnwrap());
      const broken = await store.volumes.finish("v1", "attach", "success", { attachment: { update: "no-such-attachment", attachStatus: "attached" } });
      expect(broken._unsafeUnwrapErr().code).toBe("NOT_FOUND");
      expect((await store.volumes.get("v1"))._unsafeUnwrap().status).toBe("attaching");
    });

    it("lets a multiattach volume be attached again while in-use, and only then", async () => {
      (await volume("m1", { multiattach: true }))._unsafeUnwrap();
      for (const id of ["a1", "a2"]) {
        unwrapWon((await store.volumes.begin("m1", "attach", { attachment: { insert: { id, volumeId: "m1", host: id, hostProperties: { host: id }, attachStatus: "attaching" } } }))._unsafeUnwrap());
        unwrapWon((await store.volumes.finish("m1", "attach", "success", { attachment: { update: id, attachStatus: "attached" } }))._unsafeUnwrap());
      }
      unwrapWon((await store.volumes.begin("m1", "detach"))._unsafeUnwrap());
      const one = unwrapWon((await store.volumes.finish("m1", "detach", "success", { attachment: { update: "a1", attachStatus: "detached" } }))._unsafeUnwrap());
      expect(one).toMatchObject({ status: "in-use", attachStatus: "attached" });
    });

    it("refuses delete with snapshots unless cascading deletable ones, and removes the record on success", async () => {
      (await volume("v1"))._unsafeUnwrap();
      (await store.snapshots.insert({ id: "s1", volumeId: "v1", sizeGiB: 10 }))._unsafeUnwrap();
      expect(lostReason((await store.volumes.begin("v1", "delete"))._unsafeUnwrap())).toMatch(/has snapshots/);
      // Cascade: a snapshot still creating cannot go with it.
      expect(lostReason((await store.volumes.begin("v1", "delete", { cascade: true }))._unsafeUnwrap())).toMatch(/cannot be deleted now/);
      unwrapWon((await store.snapshots.finish("s1", "create", "success"))._unsafeUnwrap());
      unwrapWon((await store.volumes.begin("v1", "delete", { cascade: true }))._unsafeUnwrap());
      // The volume row cannot go while a snapshot row references it.
      expect((await store.volumes.finish("v1", "delete", "success"))._unsafeUnwrapErr().code).toBe("CONFLICT");
      unwrapWon((await store.snapshots.begin("s1", "delete"))._unsafeUnwrap());
      unwrapWon((await store.snapshots.finish("s1", "delete", "success"))._unsafeUnwrap());
      const removed = unwrapWon((await store.volumes.finish("v1", "delete", "success"))._unsafeUnwrap());
      expect(removed.status).toBe("deleting");
      expect((await store.volumes.find("v1"))._unsafeUnwrap()).toBeUndefined();
      // A failed delete ends in error_deleting, and retrying needs no force.
      (await volume("v2"))._unsafeUnwrap();
      unwrapWon((await store.volumes.begin("v2", "delete"))._unsafeUnwrap());
      expect(unwrapWon((await store.volumes.finish("v2", "delete", "failure"))._unsafeUnwrap()).status).toBe("error_deleting");
      expect((await store.volumes.begin("v2", "delete"))._unsafeUnwrap().won).toBe(true);
    });

    it("guards snapshot creation on the volume, atomically", async () => {
      (await volume("v1"))._unsafeUnwrap();
      unwrapWon((await store.volumes.begin("v1", "extend"))._unsafeUnwrap());
      const refused = await store.snapshots.insert({ id: "s1", volumeId: "v1", sizeGiB: 10 });
      expect(refused._unsafeUnwrapErr().code).toBe("INVALID_STATE");
      expect(refused._unsafeUnwrapErr().message).toMatch(/extending/);
      expect((await store.snapshots.find("s1"))._unsafeUnwrap()).toBeUndefined();
      expect((await store.snapshots.insert({ id: "s1", volumeId: "missing", sizeGiB: 10 }))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
      const extended = unwrapWon((await store.volumes.finish("v1", "extend", "success", { patch: { sizeGiB: 20 } }))._unsafeUnwrap());
      expect(extended).toMatchObject({ status: "available", sizeGiB: 20 });
    });

    it("returns to the previous status for previous-status operations and resets status on demand", async () => {
      (await volume("v1", { status: "in-use", attachStatus: "attached" }))._unsafeUnwrap();
      unwrapWon((await store.volumes.begin("v1", "retype"))._unsafeUnwrap());
      expect(unwrapWon((await store.volumes.finish("v1", "retype", "failure"))._unsafeUnwrap()).status).toBe("in-use");
      unwrapWon((await store.volumes.begin("v1", "extend"))._unsafeUnwrap());
      expect(unwrapWon((await store.volumes.finish("v1", "extend", "failure"))._unsafeUnwrap()).status).toBe("error_extending");
      const reset = unwrapWon((await store.volumes.resetStatus("v1", "available", { attachStatus: "detached", expect: { status: ["error_extending"] } }))._unsafeUnwrap());
      expect(reset).toMatchObject({ status: "available", attachStatus: "detached" });
      expect((await store.volumes.resetStatus("v1", "error", { expect: { status: ["deleting"] } }))._unsafeUnwrap().won).toBe(false);
      expect(lostReason((await store.volumes.finish("v1", "extend", "success"))._unsafeUnwrap())).toMatch(/only finish while the volume is extending/);
    });

    it("moves snapshots, attachments and backups through their own tables", async () => {
      (await volume("v1"))._unsafeUnwrap();
      (await store.snapshots.insert({ id: "s1", volumeId: "v1", sizeGiB: 10 }))._unsafeUnwrap();
      expect(lostReason((await store.snapshots.begin("s1", "delete"))._unsafeUnwrap())).toMatch(/status creating, expected available or error or error_deleting/);
      unwrapWon((await store.snapshots.finish("s1", "create", "failure"))._unsafeUnwrap());
      unwrapWon((await store.snapshots.begin("s1", "delete"))._unsafeUnwrap());
      expect(unwrapWon((await store.snapshots.finish("s1", "delete", "failure"))._unsafeUnwrap()).status).toBe("error_deleting");
      (await store.backups.insert({ id: "b1", volumeId: "v1", repository: "posix:/b", sizeGiB: 10 }))._unsafeUnwrap();
      unwrapWon((await store.backups.finish("b1", "create", "success"))._unsafeUnwrap());
      (await store.backups.insert({ id: "b2", volumeId: "v1", repository: "posix:/b", sizeGiB: 10, parentId: "b1", status: "available" }))._unsafeUnwrap();
      // The parent of an incremental cannot be removed while its child exists.
      unwrapWon((await store.backups.begin("b1", "delete"))._unsafeUnwrap());
      expect((await store.backups.finish("b1", "delete", "success"))._unsafeUnwrapErr().code).toBe("CONFLICT");
      const removedMissing = (await store.backups.remove("never-existed"))._unsafeUnwrap();
      expect(removedMissing).toEqual({ won: true, record: undefined });
    });

    it("records an operation's task with its start and clears it when it finishes or is reset", async () => {
      (await volume("v1"))._unsafeUnwrap();
      const task = { op: "extend", owner: "node-1:42:abc", startedAt: new Date(), newSizeGiB: 20 };
      const begun = unwrapWon((await store.volumes.begin("v1", "extend", { patch: { task } }))._unsafeUnwrap());
      expect(begun.task).toMatchObject({ op: "extend", newSizeGiB: 20 });
      const done = unwrapWon((await store.volumes.finish("v1", "extend", "success", { patch: { sizeGiB: 20 } }))._unsafeUnwrap());
      expect(done).toMatchObject({ status: "available", sizeGiB: 20 });
      expect(done.task).toBeUndefined();
      unwrapWon((await store.volumes.begin("v1", "extend", { patch: { task } }))._unsafeUnwrap());
      expect(unwrapWon((await store.volumes.resetStatus("v1", "error"))._unsafeUnwrap()).task).toBeUndefined();
      // Snapshots carry theirs the same way.
      (await store.volumes.resetStatus("v1", "available"))._unsafeUnwrap();
      (await store.snapshots.insert({ id: "s1", volumeId: "v1", sizeGiB: 10, status: "available" }))._unsafeUnwrap();
      expect(unwrapWon((await store.snapshots.begin("s1", "delete", { task: { ...task, op: "delete" } }))._unsafeUnwrap()).task?.op).toBe("delete");
      expect(unwrapWon((await store.snapshots.finish("s1", "delete", "failure"))._unsafeUnwrap())).toMatchObject({ status: "error_deleting" });
      expect((await store.snapshots.get("s1"))._unsafeUnwrap().task).toBeUndefined();
    });

    it("swaps a migrating volume's location with its temporary target in one step", async () => {
      (await volume("src", { backend: "lvm-a", pool: "thin", providerLocation: "/dev/vg/volume-src", providerAuth: "CHAP u Swap-Secret-123456" }))._unsafeUnwrap();
      (await volume("tmp", { status: "creating", backend: "nfs", pool: "127.0.0.1:/srv/nfs/share1", providerLocation: "127.0.0.1:/srv/nfs/share1", migrationStatus: "target:src" }))._unsafeUnwrap();
      // Not in maintenance yet: refused, nothing changes.
      expect((await store.volumes.swapLocation("src", "tmp"))._unsafeUnwrapErr().code).toBe("INVALID_STATE");
      unwrapWon((await store.volumes.begin("src", "migrate", { patch: { migrationStatus: "migrating" } }))._unsafeUnwrap());
      const { source, target } = (await store.volumes.swapLocation("src", "tmp", { volumeTypeId: undefined, metadata: { moved: "yes" } }))._unsafeUnwrap();
      expect(source).toMatchObject({ id: "src", status: "maintenance", backend: "nfs", pool: "127.0.0.1:/srv/nfs/share1", providerLocation: "127.0.0.1:/srv/nfs/share1", metadata: { moved: "yes" } });
      expect(source.providerAuth).toBeUndefined();
      expect(target).toMatchObject({ id: "tmp", backend: "lvm-a", pool: "thin", providerLocation: "/dev/vg/volume-src", providerAuth: "CHAP u Swap-Secret-123456", migrationStatus: "target:src" });
      expect((await store.volumes.swapLocation("src", "missing"))._unsafeUnwrapErr().message).toMatch(/missing does not exist/);
    });

    it("lists with filters and order, and keeps the image cache's LRU facts", async () => {
      for (const [id, status] of [["v1", "available"], ["v2", "error"], ["v3", "available"]] as const) (await volume(id, { status, backend: "lvm-a" }))._unsafeUnwrap();
      expect((await store.volumes.list({ status: "available" }))._unsafeUnwrap().map((v) => v.id)).toEqual(["v1", "v3"]);
      expect((await store.volumes.list({ status: ["error", "available"] }, { orderBy: "id", direction: "desc", limit: 2 }))._unsafeUnwrap().map((v) => v.id)).toEqual(["v3", "v2"]);
      expect((await store.volumes.list({ status: [] }))._unsafeUnwrap()).toEqual([]);
      (await store.imageCache.insert({ id: "c1", imageId: "img", imageChecksum: "sha256:0123456789abcdef", backend: "lvm-a", pool: "thin", volumeId: "v1", sizeGiB: 1 }))._unsafeUnwrap();
      const dup = await store.imageCache.insert({ id: "c2", imageId: "img", imageChecksum: "sha256:0123456789abcdef", backend: "lvm-a", pool: "thin", volumeId: "v3", sizeGiB: 1 });
      expect(dup._unsafeUnwrapErr().code).toBe("CONFLICT");
      const hit = (await store.imageCache.lookup("img", "sha256:0123456789abcdef", "lvm-a", "thin"))._unsafeUnwrap();
      expect(hit?.id).toBe("c1");
      expect((await store.imageCache.lookup("img", "sha256:ffffffffffffffff", "lvm-a", "thin"))._unsafeUnwrap()).toBeUndefined();
      const before = hit?.lastUsedAt.getTime() ?? 0;
      const touched = (await store.imageCache.touch("c1"))._unsafeUnwrap();
      expect(touched.hits).toBe(1);
      expect(touched.lastUsedAt.getTime()).toBeGreaterThanOrEqual(before);
      expect((await store.imageCache.touch("nope"))._unsafeUnwrapErr().code).toBe("NOT_FOUND");
      // Removing the cached volume removes its entry.
      (await store.volumes.remove("v1"))._unsafeUnwrap();
      expect((await store.imageCache.find("c1"))._unsafeUnwrap()).toBeUndefined();
    });

    if (harness.corrupt !== undefined) {
      const corrupt = harness.corrupt;
      it("turns a corrupt row into a typed PARSE_ERROR naming the row and field, never the stored secret", async () => {
        (await volume("v1"))._unsafeUnwrap();
        (await volume("v2"))._unsafeUnwrap();
        await corrupt("volumes", "v2", "status", "'bogus'");
        const got = await store.volumes.get("v2");
        expect(got._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
        expect(got._unsafeUnwrapErr().message).toMatch(/stored volume v2 is corrupt \(status\)/);
        const listed = await store.volumes.list();
        expect(listed._unsafeUnwrapErr().details).toMatchObject({ table: "volumes", key: "v2" });
        // The healthy row is still readable.
        expect((await store.volumes.get("v1"))._unsafeUnwrap().status).toBe("available");
        const secret = "ChapSecret-corrupt-9876";
        (await store.attachments.insert({ id: "a1", volumeId: "v1", host: "h", hostProperties: { host: "h" }, connectionInfo: { type: "iscsi", volumeId: "v1", targetIqn: "iqn.2010-10.org.openstack:v1", targetPortal: "127.0.0.1", targetLun: 0, authMethod: "CHAP", authUsername: "u", authPassword: secret } }))._unsafeUnwrap();
        await corrupt("attachments", "a1", "host_properties", `'{"nohost": "${secret}"}'`);
        const att = await store.attachments.get("a1");
        expect(att._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
        expect(att._unsafeUnwrapErr().message).toMatch(/hostProperties/);
        expect(JSON.stringify(att._unsafeUnwrapErr().toJSON())).not.toContain(secret);
        if (harness.jsonIsText) {
          await corrupt("attachments", "a1", "connection_info", `'{"authPassword": "${secret}"'`);
          const unreadable = await store.attachments.get("a1");
          expect(unreadable._unsafeUnwrapErr().message).toMatch(/connectionInfo: stored JSON is unreadable/);
          expect(JSON.stringify(unreadable._unsafeUnwrapErr().toJSON())).not.toContain(secret);
        }
      });
    }
  });
}
