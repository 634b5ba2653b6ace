/**
 * The RBD driver on the REAL single-node Ceph cluster shared by the host tests, as a restricted
 * `profile rbd` client confined to its own pool. Every data check reads the bytes back through
 * librbd (qemu-io/qemu-img on `rbd:` filenames) and compares sha256:
 *
 *   npx vitest run --project host test/host/rbd-driver.host.test.ts
 *
 * Needs root and ceph-mon, ceph-mgr, ceph-osd, ceph-common, qemu-utils, qemu-block-extra.
 */
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Volume } from "../../src/core/records.js";
import type { VolumeBackend } from "../../src/drivers/backend.js";
import type { CephCluster } from "../../src/testing/ceph-cluster.js";
import { sharedCephCluster } from "./ceph-shared.js";
import { RbdPoolFixture, sha256 } from "./rbd-helpers.js";

const run = promisify(execFile);
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const POOL = `rbddrv${process.pid}`;
const DATA_POOL = `rbddata${process.pid}`;
const shared = sharedCephCluster();

interface RbdInfo {
  readonly size: number;
  readonly data_pool?: string;
  readonly parent?: { readonly image: string; readonly snapshot: string };
}
interface DuRow {
  readonly name: string;
  readonly snapshot?: string;
  readonly used_size: number;
  readonly provisioned_size: number;
}

describe("RBD driver on a real Ceph cluster", () => {
  it("has its prerequisites (root, Ceph packages, qemu-utils; the shared cluster started)", () => {
    expect(shared instanceof Error ? shared.message : undefined).toBeUndefined();
  });
  if (shared instanceof Error) return;
  const cluster: CephCluster = shared;
  let fx: RbdPoolFixture;
  let backend: VolumeBackend;
  let dir = "";
  const info = (id: string): Promise<RbdInfo> => fx.json<RbdInfo>(["info", `${POOL}/volume-${id}`]);
  const read = (v: Volume, bytes: number, offset = 0): Promise<string> => fx.read(`volume-${v.id}`, bytes, offset).then(sha256);
  const create = async (b: VolumeBackend, sizeGiB = 1, extra: { volumeType?: string } = {}): Promise<Volume> => (await b.createVolume({ id: randomUUID(), sizeGiB, ...extra }))._unsafeUnwrap();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "volkit-rbd-driver-"));
    await cluster.createPool(POOL);
    await cluster.createPool(DATA_POOL);
    const user = await cluster.createClient(`volkitdrv${process.pid}`, { mon: "profile rbd", osd: `profile rbd pool=${POOL}, profile rbd pool=${DATA_POOL}`, mgr: `profile rbd pool=${POOL}` });
    fx = new RbdPoolFixture(cluster, POOL, user);
    backend = await fx.backend();
  });

  afterAll(async () => {
    if (fx) expect(await fx.closeAll()).toBe(true);
    for (const pool of [POOL, DATA_POOL]) await cluster.ceph(["osd", "pool", "rm", pool, pool, "--yes-i-really-really-mean-it"]).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the data through snapshot, volume from snapshot, clone, extend and revert (sha256 through librbd)", async () => {
    const v = await create(backend);
    const original = randomBytes(4 * MiB);
    const tail = randomBytes(MiB);
    await fx.write(`volume-${v.id}`, original);
    await fx.write(`volume-${v.id}`, tail, 512 * MiB);
    const snap = (await backend.createSnapshot({ id: randomUUID(), volumeId: v.id, volumeSizeGiB: 1 }, v))._unsafeUnwrap();
    const changed = randomBytes(4 * MiB);
    await fx.write(`volume-${v.id}`, changed);

    const fromSnap = (await backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: 2 }, snap))._unsafeUnwrap();
    expect(await read(fromSnap, 4 * MiB)).toBe(sha256(original));
    expect(await read(fromSnap, MiB, 512 * MiB)).toBe(sha256(tail));
    expect(await info(fromSnap.id)).toMatchObject({ size: 2 * GiB, parent: { image: `volume-${v.id}`, snapshot: `snapshot-${snap.id}` } });

    const clone = (await backend.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, v))._unsafeUnwrap();
    expect(await read(clone, 4 * MiB)).toBe(sha256(changed));
    expect((await info(clone.id)).parent).toMatchObject({ image: `volume-${v.id}`, snapshot: `volume-${clone.id}.clone_snap` });

    const extended = (await backend.extendVolume(clone, 3))._unsafeUnwrap();
    expect((await info(clone.id)).size).toBe(3 * GiB);
    expect(await read(extended, 4 * MiB)).toBe(sha256(changed));
    expect(await read(extended, MiB, 512 * MiB)).toBe(sha256(tail));

    // Extended after the snapshot: rollback would shrink it to the snapshot's size; the driver grows it back.
    const bigger = (await backend.extendVolume(v, 2))._unsafeUnwrap();
    expect((await backend.revertToSnapshot(bigger, snap)).isOk()).toBe(true);
    expect(await read(bigger, 4 * MiB)).toBe(sha256(original));
    expect((await info(v.id)).size).toBe(2 * GiB);
    // The clone and the volume from the snapshot did not change.
    expect(await read(clone, 4 * MiB)).toBe(sha256(changed));
    expect(await read(fromSnap, 4 * MiB)).toBe(sha256(original));

    for (const x of [clone, fromSnap]) expect((await backend.deleteVolume(x)).isOk()).toBe(true);
    expect((await backend.deleteSnapshot(snap)).isOk()).toBe(true);
    expect((await backend.deleteVolume(bigger)).isOk()).toBe(true);
    expect(await fx.json<string[]>(["ls", POOL])).toEqual([]);
  });

  it("flattens clones past maxCloneDepth (same data, no parent) and keeps shallower ones as clones", async () => {
    const b = await fx.backend({ maxCloneDepth: 2 });
    const base = await create(b);
    const data = randomBytes(2 * MiB);
    await fx.write(`volume-${base.id}`, data);
    const c1 = (await b.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, base))._unsafeUnwrap();
    const c2 = (await b.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, c1))._unsafeUnwrap();
    const c3 = (await b.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, c2))._unsafeUnwrap();
    expect((await info(c1.id)).parent?.image).toBe(`volume-${base.id}`);
    expect((await info(c2.id)).parent?.image).toBe(`volume-${c1.id}`);
    expect((await info(c3.id)).parent).toBeUndefined();
    // Its clone snapshot was removed once the flatten cut the dependency.
    expect((await fx.json<{ name: string }[]>(["snap", "ls", `${POOL}/volume-${c2.id}`])).map((s) => s.name)).toEqual([]);
    for (const c of [c1, c2, c3]) expect(await read(c, 2 * MiB)).toBe(sha256(data));

    const flat = await fx.backend({ maxCloneDepth: 0 });
    const c4 = (await flat.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, base))._unsafeUnwrap();
    expect((await info(c4.id)).parent).toBeUndefined();
    expect(await read(c4, 2 * MiB)).toBe(sha256(data));
    const snap = (await b.createSnapshot({ id: randomUUID(), volumeId: base.id, volumeSizeGiB: 1 }, base))._unsafeUnwrap();
    const fromSnap = (await (await fx.backend({ flattenVolumeFromSnapshot: true })).createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: 1 }, snap))._unsafeUnwrap();
    expect((await info(fromSnap.id)).parent).toBeUndefined();
    expect(await read(fromSnap, 2 * MiB)).toBe(sha256(data));
    // Nothing depends on the snapshot: it goes at once.
    expect((await b.deleteSnapshot(snap)).isOk()).toBe(true);
    for (const v of [fromSnap, c4, c3, c2, c1, base]) expect((await b.deleteVolume(v)).isOk()).toBe(true);
    expect(await fx.json<string[]>(["ls", POOL])).toEqual([]);
    expect(await fx.json<unknown[]>(["trash", "ls", POOL])).toEqual([]);
  });

  it("deleteWithClones trash: a source with clones waits in the trash, a snapshot with clones is hidden; both go with the last clone", async () => {
    const source = await create(backend);
    const data = randomBytes(MiB);
    await fx.write(`volume-${source.id}`, data);
    const clone = (await backend.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, source))._unsafeUnwrap();
    const snap = (await backend.createSnapshot({ id: randomUUID(), volumeId: source.id, volumeSizeGiB: 1 }, source))._unsafeUnwrap();
    const fromSnap = (await backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: 1 }, snap))._unsafeUnwrap();

    // A snapshot of its own keeps the volume (Cinder's rule)…
    expect((await backend.deleteVolume(source))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
    // …a snapshot with a clone is hidden, not refused.
    expect((await backend.deleteSnapshot(snap)).isOk()).toBe(true);
    expect((await fx.json<{ name: string }[]>(["snap", "ls", `${POOL}/volume-${source.id}`])).map((s) => s.name).sort()).toEqual([`snapshot-${snap.id}.deleted`, `volume-${clone.id}.clone_snap`]);
    expect((await backend.deleteSnapshot(snap)).isOk()).toBe(true);
    // Now only clones depend on it: the source goes to the trash.
    expect((await backend.deleteVolume(source)).isOk()).toBe(true);
    expect(await fx.json<string[]>(["ls", POOL])).not.toContain(`volume-${source.id}`);
    expect((await fx.json<{ name: string }[]>(["trash", "ls", POOL])).map((t) => t.name)).toEqual([`volume-${source.id}`]);
    expect(await read(clone, MiB)).toBe(sha256(data));
    expect(await read(fromSnap, MiB)).toBe(sha256(data));
    expect((await backend.deleteVolume(source)).isOk()).toBe(true);
    // The first clone gone: its snapshot goes, the source stays for the other.
    expect((await backend.deleteVolume(clone)).isOk()).toBe(true);
    expect((await fx.json<unknown[]>(["trash", "ls", POOL])).length).toBe(1);
    // The last clone gone: the source leaves the trash.
    expect((await backend.deleteVolume(fromSnap)).isOk()).toBe(true);
    expect(await fx.json<unknown[]>(["trash", "ls", POOL])).toEqual([]);
    expect(await fx.json<string[]>(["ls", POOL])).toEqual([]);
  });

  it("deleteWithClones flatten: the clones get the data, the source and its snapshot are removed at once", async () => {
    const b = await fx.backend({ deleteWithClones: "flatten" });
    const source = await create(b);
    const data = randomBytes(MiB);
    await fx.write(`volume-${source.id}`, data);
    const clone = (await b.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, source))._unsafeUnwrap();
    const snap = (await b.createSnapshot({ id: randomUUID(), volumeId: source.id, volumeSizeGiB: 1 }, source))._unsafeUnwrap();
    const fromSnap = (await b.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: 1 }, snap))._unsafeUnwrap();
    expect((await b.deleteSnapshot(snap)).isOk()).toBe(true);
    expect((await info(fromSnap.id)).parent).toBeUndefined();
    expect((await b.deleteVolume(source)).isOk()).toBe(true);
    expect((await info(clone.id)).parent).toBeUndefined();
    expect(await fx.json<unknown[]>(["trash", "ls", POOL])).toEqual([]);
    expect(await read(clone, MiB)).toBe(sha256(data));
    expect(await read(fromSnap, MiB)).toBe(sha256(data));
    for (const v of [clone, fromSnap]) expect((await b.deleteVolume(v)).isOk()).toBe(true);
    expect(await fx.json<string[]>(["ls", POOL])).toEqual([]);
  });

  it("refuses to delete or revert a volume someone has open (a librbd watcher), and reports the watcher in describeExport", async () => {
    const v = await create(backend);
    const snap = (await backend.createSnapshot({ id: randomUUID(), volumeId: v.id, volumeSizeGiB: 1 }, v))._unsafeUnwrap();
    expect((await backend.describeExport(v))._unsafeUnwrap()).toEqual({ exported: true, hosts: [] });
    const { spawn } = await import("node:child_process");
    // qemu-io holds the image open for 10 s, then closes it cleanly (a killed client's watch lingers ~30 s).
    const holder = spawn("qemu-io", ["-f", "raw", "-c", "sleep 10000", fx.filename(`volume-${v.id}`)], { stdio: "ignore" });
    const exited = new Promise((r) => holder.once("exit", r));
    try {
      let hosts: readonly string[] = [];
      for (let i = 0; i < 100 && hosts.length === 0; i++) {
        hosts = (await backend.describeExport(v))._unsafeUnwrap().hosts;
        if (hosts.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(hosts).toHaveLength(1);
      expect(hosts[0]).toMatch(/^127\.0\.0\.1:0\/\d+$/);
      expect((await backend.revertToSnapshot(v, snap))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
      expect((await backend.deleteSnapshot(snap)).isOk()).toBe(true);
      expect((await backend.deleteVolume(v))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
    } finally {
      await exited;
    }
    expect((await backend.describeExport(v))._unsafeUnwrap().hosts).toEqual([]);
    expect((await backend.deleteVolume(v)).isOk()).toBe(true);
  });

  it("hands out rbd connection info: the monitors' v1 addresses, the client, the libvirt secret, the key only with exposeKey", async () => {
    const secretUuid = randomUUID();
    const b = await fx.backend({ libvirtSecretUuid: secretUuid, hostKeyringPath: "/etc/ceph/ceph.client.nova.keyring" });
    const v = await create(b);
    const conn = (await b.initializeConnection(v, { host: "compute-1", multipath: false }))._unsafeUnwrap();
    expect(conn).toMatchObject({ type: "rbd", volumeId: v.id, pool: POOL, image: `volume-${v.id}`, monitors: [cluster.monV1], clusterName: "ceph", authEnabled: true, clientId: fx.user.id, secretUuid, keyringPath: "/etc/ceph/ceph.client.nova.keyring", accessMode: "rw", discard: true });
    expect(conn).not.toHaveProperty("key");
    expect(JSON.stringify(conn)).not.toContain(fx.user.key);
    const ro = (await b.initializeConnection(v, { host: "compute-1", multipath: false, readOnly: true }))._unsafeUnwrap();
    expect(ro.accessMode).toBe("ro");
    const exposing = await fx.backend({ exposeKey: true });
    const withKey = (await exposing.initializeConnection(v, { host: "compute-1", multipath: false }))._unsafeUnwrap();
    expect(withKey).toMatchObject({ type: "rbd", key: fx.user.key });
    // QEMU's librbd reaches the image with exactly these monitors (qemu-img info through them).
    const monHost = conn.type === "rbd" ? conn.monitors.map((m) => m.replace(/:/g, "\\:")).join("\\;") : "";
    const viaMonitors = `rbd:${POOL}/volume-${v.id}:mon_host=${monHost}:id=${fx.user.id}:keyring=${fx.user.keyringPath}`;
    expect((JSON.parse((await run("qemu-img", ["info", "--output=json", viaMonitors])).stdout) as { "virtual-size": number })["virtual-size"]).toBe(GiB);
    expect((await b.initializeConnection({ id: randomUUID(), sizeGiB: 1 }, { host: "h", multipath: false }))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
    expect((await b.deleteVolume(v)).isOk()).toBe(true);
  });

  it("reports provisioned vs used from rbd du and capacity from ceph df (a pool quota becomes the total)", async () => {
    await cluster.waitForStats();
    const before = (await backend.getVolumeStats())._unsafeUnwrap();
    const pool = before.pools[0];
    expect(pool).toMatchObject({ poolName: POOL, thinProvisioningSupport: true, thickProvisioningSupport: false, qosSupport: true, maxOverSubscriptionRatio: 20 });
    expect(before).toMatchObject({ storageProtocol: "rbd", vendorName: "Open Source", qosSupport: true, onlineExtendSupport: true });
    const v = await create(backend, 3);
    await fx.write(`volume-${v.id}`, randomBytes(8 * MiB));
    const after = (await backend.getVolumeStats())._unsafeUnwrap().pools[0];
    expect((after?.provisionedCapacityGiB ?? 0) - (pool?.provisionedCapacityGiB ?? 0)).toBe(3);
    expect(after?.totalVolumes).toBe((pool?.totalVolumes ?? 0) + 1);
    const du = (await fx.json<{ images: DuRow[] }>(["du", "--pool", POOL])).images.find((i) => i.name === `volume-${v.id}`);
    expect(du?.used_size).toBe(8 * MiB);
    expect(after?.allocatedCapacityGiB).toBeGreaterThanOrEqual(0.01);
    expect(typeof after?.freeCapacityGiB).toBe("number");
    await cluster.ceph(["osd", "pool", "set-quota", POOL, "max_bytes", String(5 * GiB)]);
    try {
      await cluster.waitForStats();
      let quoted = (await backend.getVolumeStats())._unsafeUnwrap().pools[0];
      for (let i = 0; i < 50 && quoted?.totalCapacityGiB !== 5; i++) {
        await new Promise((r) => setTimeout(r, 200));
        quoted = (await backend.getVolumeStats())._unsafeUnwrap().pools[0];
      }
      expect(quoted?.totalCapacityGiB).toBe(5);
      expect(quoted?.freeCapacityGiB).toBeLessThanOrEqual(5);
    } finally {
      await cluster.ceph(["osd", "pool", "set-quota", POOL, "max_bytes", "0"]);
    }
    expect((await backend.deleteVolume(v)).isOk()).toBe(true);
  });

  it("puts the data objects in the data pool when one is configured", async () => {
    const b = await fx.backend({ dataPool: DATA_POOL, imageFeatures: ["layering", "exclusive-lock", "object-map", "fast-diff", "deep-flatten"] });
    const v = await create(b);
    expect(await info(v.id)).toMatchObject({ data_pool: DATA_POOL });
    const data = randomBytes(MiB);
    await fx.write(`volume-${v.id}`, data);
    expect(await read(v, MiB)).toBe(sha256(data));
    const clone = (await b.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, v))._unsafeUnwrap();
    expect(await info(clone.id)).toMatchObject({ data_pool: DATA_POOL });
    for (const x of [clone, v]) expect((await b.deleteVolume(x)).isOk()).toBe(true);
  });

  it("sets the volume type's QoS on new, cloned and managed images, and removes what a clone inherited", async () => {
    const b = await fx.backend({ qosSpecs: { gold: { iopsLimit: 500, writeBpsLimit: 50 * MiB } } });
    const qos = async (id: string): Promise<Record<string, string>> =>
      Object.fromEntries((await fx.json<{ name: string; value: string; source: string }[]>(["config", "image", "list", `${POOL}/volume-${id}`])).filter((e) => e.source === "image").map((e) => [e.name, e.value]));
    const gold = await create(b, 1, { volumeType: "gold" });
    expect(await qos(gold.id)).toEqual({ rbd_qos_iops_limit: "500", rbd_qos_write_bps_limit: String(50 * MiB) });
    const plain = (await b.createClonedVolume({ id: randomUUID(), sizeGiB: 1, volumeType: "silver" }, gold))._unsafeUnwrap();
    expect(await qos(plain.id)).toEqual({});
    const goldClone = (await b.createClonedVolume({ id: randomUUID(), sizeGiB: 1, volumeType: "gold" }, plain))._unsafeUnwrap();
    expect(await qos(goldClone.id)).toEqual({ rbd_qos_iops_limit: "500", rbd_qos_write_bps_limit: String(50 * MiB) });
    for (const v of [goldClone, plain, gold]) expect((await b.deleteVolume(v)).isOk()).toBe(true);
  });

  it("copies an image file into a volume and a volume into an image with qemu-img on rbd: names (no attach), staying thin", async () => {
    const raw = join(dir, "source.raw");
    const qcow = join(dir, "source.qcow2");
    const data = randomBytes(3 * MiB);
    await run("qemu-img", ["create", "-f", "raw", raw, String(64 * MiB)]);
    await run("qemu-io", ["-f", "raw", "-c", `write -P 0x5c 0 ${MiB}`, raw]);
    await run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, qcow]);
    const v = await create(backend);
    await fx.write(`volume-${v.id}`, data, 32 * MiB); // overwritten by the copy's zeros
    expect((await backend.copyImageToVolume({ path: qcow }, v)).isOk()).toBe(true);
    const expected = Buffer.alloc(64 * MiB);
    expected.fill(0x5c, 0, MiB);
    expect(await read(v, 64 * MiB)).toBe(sha256(expected));
    const used = (await fx.json<{ images: DuRow[] }>(["du", `${POOL}/volume-${v.id}`])).images[0]?.used_size ?? -1;
    console.log(`[rbd] 64 MiB image with 1 MiB of data copied in: ${used / MiB} MiB used in the pool`);
    expect(used).toBeLessThanOrEqual(8 * MiB);

    const out = join(dir, "out.qcow2");
    expect((await backend.copyVolumeToImage(v, { path: out, format: "qcow2" })).isOk()).toBe(true);
    const head = join(dir, "head.raw");
    await run("qemu-img", ["dd", "-f", "qcow2", "-O", "raw", "bs=1M", "count=64", `if=${out}`, `of=${head}`]);
    await run("qemu-img", ["compare", "-f", "raw", "-F", "raw", head, raw]);
    const big = join(dir, "big.raw");
    await run("qemu-img", ["create", "-f", "raw", big, String(2 * GiB)]);
    expect((await backend.copyImageToVolume({ path: big, format: "raw" }, v))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await backend.copyImageToVolume({ path: raw }, { id: randomUUID(), sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
    expect((await backend.deleteVolume(v)).isOk()).toBe(true);
  });

  it("manages an image made outside volkit (grown to whole GiB, renamed), lists what can be managed, unmanages", async () => {
    await cluster.rbd(["create", "--size", `${1536 * MiB}B`, `${POOL}/legacy-disk`]);
    const data = randomBytes(MiB);
    await fx.write("legacy-disk", data);
    const volkit = await create(backend);
    const listed = (await backend.listManageable())._unsafeUnwrap();
    expect(listed).toContainEqual({ reference: { sourceName: "legacy-disk" }, sizeGiB: 2, safeToManage: true });
    expect(listed).toContainEqual({ reference: { sourceName: `volume-${volkit.id}` }, sizeGiB: 1, safeToManage: false, reasonNotSafe: "already managed by volkit", volkitId: volkit.id });
    expect((await backend.manageExistingGetSize({ sourceName: "legacy-disk" }))._unsafeUnwrap()).toBe(2);
    expect((await backend.manageExistingGetSize({ sourceName: "no-such-disk" }))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
    expect((await backend.manageExistingGetSize({ sourceId: "abc" }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    const id = randomUUID();
    const managed = (await backend.manageExisting({ id, sizeGiB: 1 }, { sourceName: "legacy-disk" }))._unsafeUnwrap();
    expect(managed).toMatchObject({ id, sizeGiB: 2, providerLocation: `${POOL}/volume-${id}` });
    expect((await info(id)).size).toBe(2 * GiB);
    expect(await read(managed, MiB)).toBe(sha256(data));
    expect((await backend.unmanage(managed)).isOk()).toBe(true);
    expect(await fx.json<string[]>(["ls", POOL])).toContain(`volume-${id}`);
    for (const v of [managed, volkit]) expect((await backend.deleteVolume(v)).isOk()).toBe(true);
  });

  it("makes 20 volumes from one snapshot of an image in seconds, copying no data (rbd du), timing printed", async () => {
    const image = await create(backend, 2);
    const data = randomBytes(32 * MiB);
    await fx.write(`volume-${image.id}`, data);
    const snap = (await backend.createSnapshot({ id: randomUUID(), volumeId: image.id, volumeSizeGiB: 2 }, image))._unsafeUnwrap();
    const started = performance.now();
    const clones: Volume[] = [];
    for (let i = 0; i < 20; i++) clones.push((await backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: 2 }, snap))._unsafeUnwrap());
    const ms = performance.now() - started;
    console.log(`[rbd] 20 volumes from one snapshot (2 GiB, 32 MiB of data) through the driver in ${Math.round(ms)} ms (${Math.round(ms / 20)} ms each)`);
    const du = (await fx.json<{ images: DuRow[] }>(["du", "--pool", POOL])).images;
    const used = clones.map((c) => du.find((r) => r.name === `volume-${c.id}` && r.snapshot === undefined)?.used_size);
    expect(used).toEqual(clones.map(() => 0));
    expect(await read(clones[0] as Volume, 32 * MiB)).toBe(sha256(data));
    expect(await read(clones[19] as Volume, 32 * MiB)).toBe(sha256(data));
    const removing = performance.now();
    for (const c of clones) expect((await backend.deleteVolume(c)).isOk()).toBe(true);
    console.log(`[rbd] deleted the 20 volumes in ${Math.round(performance.now() - removing)} ms`);
    expect((await backend.deleteSnapshot(snap)).isOk()).toBe(true);
    expect((await backend.deleteVolume(image)).isOk()).toBe(true);
  });

  it("fails fast with AUTH_FAILED on a wrong key, without showing it", async () => {
    const wrongKey = (await run("ceph-authtool", ["--gen-print-key"])).stdout.trim();
    const wrong = await fx.backend({ key: wrongKey, connectTimeoutSec: 30 });
    const started = performance.now();
    const e = (await wrong.createVolume({ id: randomUUID(), sizeGiB: 1 }))._unsafeUnwrapErr();
    const ms = performance.now() - started;
    console.log(`[rbd] wrong key: ${e.code} after ${Math.round(ms)} ms (connect timeout 30 s)`);
    expect(e.code).toBe("AUTH_FAILED");
    expect(ms).toBeLessThan(2000);
    expect(JSON.stringify(e.toJSON())).not.toContain(wrongKey);
    expect(e.message).not.toContain(wrongKey);
    expect((await wrong.close()).isOk()).toBe(true);
  });

  it("gives BACKEND_UNAVAILABLE (transient) within the connect timeout when the monitor is down, and works again when it is back", async () => {
    const quick = await fx.backend({ connectTimeoutSec: 3 });
    const v = await create(quick);
    await cluster.stopMonitor();
    try {
      const started = performance.now();
      const e = (await quick.extendVolume(v, 2))._unsafeUnwrapErr();
      const ms = performance.now() - started;
      console.log(`[rbd] no monitor: ${e.code} after ${Math.round(ms)} ms (connect timeout 3 s)`);
      expect([e.code, e.transient]).toEqual(["BACKEND_UNAVAILABLE", true]);
      expect(ms).toBeGreaterThanOrEqual(2500);
      expect(ms).toBeLessThan(3000 + 5000);
      const stats = (await quick.getVolumeStats())._unsafeUnwrapErr();
      expect([stats.code, stats.transient]).toEqual(["BACKEND_UNAVAILABLE", true]);
    } finally {
      await cluster.startMonitor();
    }
    expect((await quick.extendVolume(v, 2))._unsafeUnwrap().sizeGiB).toBe(2);
    expect((await quick.deleteVolume(v)).isOk()).toBe(true);
    expect((await quick.close()).isOk()).toBe(true);
  });
});
