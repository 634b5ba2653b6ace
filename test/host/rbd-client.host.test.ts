/**
 * RbdClient against a REAL single-node Ceph cluster on this host (the shared cluster of
 * test/host/ceph.global-setup.ts), as a restricted `profile rbd` client whose key reaches the CLIs
 * through a 0600 key file:
 *
 *   sudo npx vitest run --project host test/host/rbd-client.host.test.ts
 *
 * Data is written and read back through qemu-img/qemu-io on `rbd:` filenames (librbd in
 * userspace; this host's kernel has no rbd module) and compared by sha256. Needs root and
 * ceph-mon, ceph-mgr, ceph-osd, ceph-common, qemu-utils, qemu-block-extra.
 */
import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backgroundContext } from "../../src/core/context.js";
import { validate } from "../../src/core/validation.js";
import { RbdClient } from "../../src/drivers/rbd/rbd-client.js";
import { RbdConnectionSchema, type RbdConnectionInput } from "../../src/drivers/rbd/rbd-connection.js";
import type { ImageRef } from "../../src/drivers/rbd/rbd-names.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import { rbdProfileCaps, type CephClient, type CephCluster } from "../../src/testing/ceph-cluster.js";
import { sharedCephCluster } from "./ceph-shared.js";

const run = promisify(execFile);
const MiB = 1024 ** 2;
const SIZE = 64 * MiB;
const POOL = `rbdhost${process.pid}`;
const OTHER_POOL = `rbdother${process.pid}`;
const ctx = backgroundContext("host-test", "rbd");
const ref = (image: string): ImageRef => ({ pool: POOL, image });

const shared = sharedCephCluster();

describe("RbdClient on a real Ceph cluster", () => {
  it("has its prerequisites (root, Ceph packages, qemu-utils; the shared cluster started)", () => {
    expect(shared instanceof Error ? shared.message : undefined).toBeUndefined();
  });
  if (shared instanceof Error) return;
  const cluster: CephCluster = shared;

  let dir = "";
  let user: CephClient;
  let client: RbdClient;
  const connect = (input: Partial<RbdConnectionInput> = {}): RbdClient =>
    new RbdClient(
      createLocalRunner(),
      validate(RbdConnectionSchema, { monitors: [`v2:${cluster.monV2}`], clientId: user.id, key: user.key, connectTimeoutSec: 5, ...input }, "connection", "INVALID_CONFIG")._unsafeUnwrap(),
    );

  /** Runs qemu-img/qemu-io; the filename carries the key file path, never the key. */
  const qemu = async (tool: "qemu-img" | "qemu-io", args: string[]): Promise<string> => (await run(tool, args, { maxBuffer: 64 * MiB })).stdout;
  const filename = async (image: string, snapshot?: string): Promise<string> =>
    (await client.qemuFilename({ ...ref(image), ...(snapshot === undefined ? {} : { snapshot }) }, ctx))._unsafeUnwrap();
  /** sha256 of an image's (or snapshot's) whole content, read through librbd. */
  const imageSha = async (image: string, snapshot?: string): Promise<string> => {
    const out = join(dir, `read-${image}-${snapshot ?? "head"}.raw`);
    await qemu("qemu-img", ["convert", "-f", "raw", "-O", "raw", await filename(image, snapshot), out]);
    const sha = createHash("sha256").update(readFileSync(out)).digest("hex");
    rmSync(out);
    return sha;
  };
  /** Writes a local raw file over the whole image. */
  const writeImage = async (image: string, file: string): Promise<void> => {
    await qemu("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", file, await filename(image)]);
  };
  /** A local file of `size` bytes: `randomMiB` MiB of random data, then zeros. */
  const dataFile = (name: string, size: number, randomMiB: number): { file: string; sha: string } => {
    const buf = Buffer.alloc(size);
    randomBytes(randomMiB * MiB).copy(buf);
    const file = join(dir, name);
    writeFileSync(file, buf);
    return { file, sha: createHash("sha256").update(buf).digest("hex") };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "volkit-rbd-host-"));
    await cluster.createPool(POOL);
    await cluster.createPool(OTHER_POOL);
    user = await cluster.createClient(`volkit${process.pid}`, rbdProfileCaps(POOL));
    client = connect();
  });

  afterAll(async () => {
    if (client) expect((await client.close(ctx)).isOk()).toBe(true);
    for (const pool of [POOL, OTHER_POOL]) await cluster.ceph(["osd", "pool", "rm", pool, pool, "--yes-i-really-really-mean-it"]).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("creates an image, writes 16 MiB through librbd and reads the same bytes back", async () => {
    expect((await client.create(ref("base"), SIZE, ctx, { features: ["layering", "exclusive-lock", "object-map", "fast-diff", "deep-flatten"] })).isOk()).toBe(true);
    const info = (await client.info(ref("base"), ctx))._unsafeUnwrap();
    expect(info).toMatchObject({ name: "base", sizeBytes: SIZE, format: 2 });
    expect(info.features).toContain("layering");
    const data = dataFile("v1.raw", SIZE, 16);
    await writeImage("base", data.file);
    expect(await imageSha("base")).toBe(data.sha);
    const du = (await client.diskUsage(ref("base"), ctx))._unsafeUnwrap();
    expect(du.images[0]?.usedBytes).toBeGreaterThanOrEqual(16 * MiB);
    expect(du.images[0]?.usedBytes).toBeLessThan(SIZE);
    expect((await client.create(ref("base"), SIZE, ctx))._unsafeUnwrapErr().code).toBe("VOLUME_EXISTS");
  });

  it("snapshots, protects and clones: the clone and the snapshot keep the old data after the origin changes", async () => {
    const before = await imageSha("base");
    expect((await client.snapCreate({ ...ref("base"), snapshot: "s1" }, ctx)).isOk()).toBe(true);
    expect((await client.snapCreate({ ...ref("base"), snapshot: "s1" }, ctx))._unsafeUnwrapErr().code).toBe("SNAPSHOT_EXISTS");
    // Format-1 clones (this cluster's default): cloning an unprotected snapshot is refused.
    expect((await client.clone({ ...ref("base"), snapshot: "s1" }, ref("c1"), ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await client.snapProtect({ ...ref("base"), snapshot: "s1" }, ctx)).isOk()).toBe(true);
    expect((await client.snapProtect({ ...ref("base"), snapshot: "s1" }, ctx)).isOk()).toBe(true);
    expect((await client.clone({ ...ref("base"), snapshot: "s1" }, ref("c1"), ctx)).isOk()).toBe(true);
    await qemu("qemu-io", ["-f", "raw", "-c", "write -P 0x5a 0 4M", await filename("base")]);
    expect(await imageSha("base")).not.toBe(before);
    expect(await imageSha("c1")).toBe(before);
    expect(await imageSha("base", "s1")).toBe(before);
    const info = (await client.info(ref("c1"), ctx))._unsafeUnwrap();
    expect(info.parent).toMatchObject({ pool: POOL, image: "base", snapshot: "s1", inTrash: false, overlapBytes: SIZE });
    expect((await client.children({ ...ref("base"), snapshot: "s1" }, ctx))._unsafeUnwrap().map((c) => c.image)).toEqual(["c1"]);
    expect((await client.snapUnprotect({ ...ref("base"), snapshot: "s1" }, ctx))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
    expect((await client.snapRemove({ ...ref("base"), snapshot: "s1" }, ctx))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
  });

  it("flattens the clone: same data, no parent, and the snapshot can then be unprotected", async () => {
    const sha = await imageSha("c1");
    expect((await client.flatten(ref("c1"), ctx)).isOk()).toBe(true);
    expect((await client.info(ref("c1"), ctx))._unsafeUnwrap().parent).toBeUndefined();
    expect(await imageSha("c1")).toBe(sha);
    expect((await client.children({ ...ref("base"), snapshot: "s1" }, ctx))._unsafeUnwrap()).toEqual([]);
    expect((await client.flatten(ref("c1"), ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await client.snapUnprotect({ ...ref("base"), snapshot: "s1" }, ctx)).isOk()).toBe(true);
    expect((await client.snapUnprotect({ ...ref("base"), snapshot: "s1" }, ctx)).isOk()).toBe(true);
  });

  it("rolls the origin back to the snapshot", async () => {
    const snapshotSha = await imageSha("base", "s1");
    expect(await imageSha("base")).not.toBe(snapshotSha);
    expect((await client.snapRollback({ ...ref("base"), snapshot: "s1" }, ctx)).isOk()).toBe(true);
    expect(await imageSha("base")).toBe(snapshotSha);
  });

  it("extends an image keeping its data, and refuses to shrink without allowShrink", async () => {
    const data = dataFile("small.raw", 8 * MiB, 8);
    expect((await client.create(ref("grow"), 8 * MiB, ctx)).isOk()).toBe(true);
    await writeImage("grow", data.file);
    expect((await client.resize(ref("grow"), 32 * MiB, ctx)).isOk()).toBe(true);
    expect((await client.info(ref("grow"), ctx))._unsafeUnwrap().sizeBytes).toBe(32 * MiB);
    const head = join(dir, "grow-head.raw");
    await qemu("qemu-img", ["dd", "-f", "raw", "-O", "raw", "bs=1M", "count=8", `if=${await filename("grow")}`, `of=${head}`]);
    expect(createHash("sha256").update(readFileSync(head)).digest("hex")).toBe(data.sha);
    expect((await client.resize(ref("grow"), 16 * MiB, ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await client.info(ref("grow"), ctx))._unsafeUnwrap().sizeBytes).toBe(32 * MiB);
  });

  it("refuses to remove an image with snapshots; snap purge leaves a protected snapshot and says so", async () => {
    expect((await client.remove(ref("base"), ctx))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
    expect((await client.snapCreate({ ...ref("base"), snapshot: "s2" }, ctx)).isOk()).toBe(true);
    expect((await client.snapProtect({ ...ref("base"), snapshot: "s2" }, ctx)).isOk()).toBe(true);
    const busy = (await client.snapPurge(ref("base"), ctx))._unsafeUnwrapErr();
    expect(busy.code).toBe("VOLUME_BUSY");
    expect(busy.details.snapshots).toEqual(["s2"]);
    // s1 (unprotected) was purged, s2 stays.
    expect((await client.snapshots(ref("base"), ctx))._unsafeUnwrap().map((s) => [s.name, s.protected])).toEqual([["s2", true]]);
    expect((await client.snapUnprotect({ ...ref("base"), snapshot: "s2" }, ctx)).isOk()).toBe(true);
    expect((await client.snapPurge(ref("base"), ctx)).isOk()).toBe(true);
    expect((await client.snapRemove({ ...ref("base"), snapshot: "s2" }, ctx)).isOk()).toBe(true);
  });

  it("refuses to remove an image someone has open (a watcher), and removes it once closed", async () => {
    expect((await client.create(ref("watched"), 8 * MiB, ctx)).isOk()).toBe(true);
    const holder = spawn("qemu-io", ["-f", "raw", "-c", "sleep 20000", await filename("watched")], { stdio: "ignore" });
    try {
      let watchers = 0;
      for (let i = 0; i < 100 && watchers === 0; i++) {
        watchers = (await client.status(ref("watched"), ctx))._unsafeUnwrap().watchers.length;
        if (watchers === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(watchers).toBe(1);
      expect((await client.remove(ref("watched"), ctx))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
    } finally {
      holder.kill("SIGKILL");
      await new Promise((r) => holder.once("exit", r));
    }
    // A killed client's watch lingers until it times out (~30 s); blocklisting is the admin's tool.
    const [watcher] = (await client.status(ref("watched"), ctx))._unsafeUnwrap().watchers;
    if (watcher) await cluster.ceph(["osd", "blocklist", "add", watcher.address]);
    expect((await client.remove(ref("watched"), ctx)).isOk()).toBe(true);
    expect((await client.findImage(ref("watched"), ctx))._unsafeUnwrap()).toBeUndefined();
    expect((await client.remove(ref("watched"), ctx)).isOk()).toBe(true);
  });

  it("moves an image with a protected snapshot and a clone to the trash, restores it, then deletes it from the trash", async () => {
    expect((await client.create(ref("t1"), 8 * MiB, ctx)).isOk()).toBe(true);
    const snap = { ...ref("t1"), snapshot: "s" };
    expect((await client.snapCreate(snap, ctx).andThen(() => client.snapProtect(snap, ctx)).andThen(() => client.clone(snap, ref("t1-child"), ctx))).isOk()).toBe(true);
    const id = (await client.trashMove(ref("t1"), ctx))._unsafeUnwrap();
    expect((await client.listImages(POOL, ctx))._unsafeUnwrap()).not.toContain("t1");
    expect((await client.trashList(POOL, ctx))._unsafeUnwrap()).toContainEqual(expect.objectContaining({ id, name: "t1", source: "USER" }));
    expect((await client.info(ref("t1-child"), ctx))._unsafeUnwrap().parent).toMatchObject({ image: "t1", inTrash: true });
    expect((await client.trashRestore(POOL, id, ctx)).isOk()).toBe(true);
    expect((await client.info(ref("t1"), ctx))._unsafeUnwrap().id).toBe(id);
    // Cleanup in dependency order, then the trash path of a plain image.
    expect((await client.remove(ref("t1-child"), ctx).andThen(() => client.snapUnprotect(snap, ctx)).andThen(() => client.snapRemove(snap, ctx))).isOk()).toBe(true);
    const id2 = (await client.trashMove(ref("t1"), ctx, { expiresAt: new Date(Date.now() + 3_600_000) }))._unsafeUnwrap();
    expect((await client.trashRemove(POOL, id2, ctx))._unsafeUnwrapErr().code).toBe("INVALID_STATE");
    expect((await client.trashRemove(POOL, id2, ctx, { force: true })).isOk()).toBe(true);
    expect((await client.trashList(POOL, ctx))._unsafeUnwrap().map((t) => t.id)).not.toContain(id2);
    expect((await client.trashRemove(POOL, id2, ctx)).isOk()).toBe(true);
  });

  it("renames an image", async () => {
    expect((await client.rename(ref("grow"), "grown", ctx)).isOk()).toBe(true);
    expect((await client.listImages(POOL, ctx))._unsafeUnwrap()).toEqual(expect.arrayContaining(["grown"]));
    expect((await client.rename(ref("grow"), "again", ctx))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
  });

  it("sets image QoS limits that librbd enforces, and clears them", async () => {
    /** Milliseconds for 30 sequential 4 KiB writes by `rbd bench` (a librbd client opening the image). */
    const bench = async (): Promise<number> => {
      const started = performance.now();
      const out = await client.rbd(["bench", "--io-type", "write", "--io-size", "4096", "--io-threads", "1", "--io-total", String(30 * 4096), "--io-pattern", "seq", `${POOL}/c1`], ctx, { target: `${POOL}/c1` }, { long: true });
      expect(out.isOk()).toBe(true);
      return performance.now() - started;
    };
    const free = await bench();
    expect((await client.setQos(ref("c1"), { iopsLimit: 10, writeBpsLimit: 10 * MiB }, ctx)).isOk()).toBe(true);
    const set = (await client.imageConfig(ref("c1"), ctx))._unsafeUnwrap().filter((e) => e.source === "image");
    expect(set).toEqual(expect.arrayContaining([
      { name: "rbd_qos_iops_limit", value: "10", source: "image" },
      { name: "rbd_qos_write_bps_limit", value: String(10 * MiB), source: "image" },
    ]));
    const limited = await bench();
    console.log(`[rbd] 30 writes of 4 KiB: ${Math.round(free)} ms unlimited, ${Math.round(limited)} ms at rbd_qos_iops_limit=10`);
    // A lower bound only (a slow machine can only make it slower): the first second's 10 tokens
    // are a burst, the other 20 writes wait for 2 s of refills.
    expect(limited).toBeGreaterThan(1500);
    expect((await client.clearQos(ref("c1"), ctx)).isOk()).toBe(true);
    expect((await client.imageConfig(ref("c1"), ctx))._unsafeUnwrap().filter((e) => e.name.startsWith("rbd_qos_") && e.source === "image")).toEqual([]);
    expect((await client.removeImageConfig(ref("c1"), "rbd_qos_iops_limit", ctx)).isOk()).toBe(true);
  });

  it("reproduces an image byte for byte from export-diff/import-diff (full, then incremental), and diff lists what changed", async () => {
    expect((await client.create(ref("src"), 32 * MiB, ctx)).isOk()).toBe(true);
    await writeImage("src", dataFile("src1.raw", 32 * MiB, 4).file);
    expect((await client.snapCreate({ ...ref("src"), snapshot: "b1" }, ctx)).isOk()).toBe(true);
    await qemu("qemu-io", ["-f", "raw", "-c", "write -P 0x33 20M 1M", await filename("src")]);
    expect((await client.snapCreate({ ...ref("src"), snapshot: "b2" }, ctx)).isOk()).toBe(true);
    const changed = (await client.diff({ ...ref("src"), snapshot: "b2" }, ctx, { fromSnapshot: "b1" }))._unsafeUnwrap();
    expect(changed).toEqual([{ offset: 20 * MiB, length: MiB, exists: true }]);
    const full = join(dir, "b1.diff");
    const incr = join(dir, "b2.diff");
    expect((await client.exportDiff({ ...ref("src"), snapshot: "b1" }, full, ctx)).isOk()).toBe(true);
    expect((await client.exportDiff({ ...ref("src"), snapshot: "b2" }, incr, ctx, { fromSnapshot: "b1" })).isOk()).toBe(true);
    expect(readFileSync(incr).length).toBeLessThan(2 * MiB);
    expect((await client.create(ref("dst"), 32 * MiB, ctx)).isOk()).toBe(true);
    expect((await client.importDiff(full, ref("dst"), ctx).andThen(() => client.importDiff(incr, ref("dst"), ctx))).isOk()).toBe(true);
    expect(await imageSha("dst")).toBe(await imageSha("src", "b2"));
    expect((await client.snapshots(ref("dst"), ctx))._unsafeUnwrap().map((s) => s.name)).toEqual(["b1", "b2"]);
  });

  it("makes 20 clones of one protected snapshot without copying data (timing printed)", async () => {
    expect((await client.create(ref("golden"), SIZE, ctx)).isOk()).toBe(true);
    const golden = dataFile("golden.raw", SIZE, 32);
    await writeImage("golden", golden.file);
    const snap = { ...ref("golden"), snapshot: "base" };
    expect((await client.snapCreate(snap, ctx).andThen(() => client.snapProtect(snap, ctx))).isOk()).toBe(true);
    const started = performance.now();
    for (let i = 0; i < 20; i++) expect((await client.clone(snap, ref(`vm-${i}`), ctx)).isOk()).toBe(true);
    const cloneMs = performance.now() - started;
    console.log(`[rbd] 20 clones of a ${SIZE / MiB} MiB snapshot (32 MiB of data) in ${Math.round(cloneMs)} ms (${Math.round(cloneMs / 20)} ms each, one rbd process each)`);
    const du = (await client.diskUsage({ pool: POOL }, ctx))._unsafeUnwrap();
    const clones = du.images.filter((i) => i.name.startsWith("vm-") && i.snapshot === undefined);
    expect(clones).toHaveLength(20);
    // Copy-on-write: not one byte of the 32 MiB copied into any clone.
    expect(clones.every((c) => c.usedBytes === 0)).toBe(true);
    expect(await imageSha("vm-0")).toBe(golden.sha);
    expect(await imageSha("vm-19")).toBe(golden.sha);
    expect((await client.children(snap, ctx))._unsafeUnwrap()).toHaveLength(20);
    const removing = performance.now();
    for (let i = 0; i < 20; i++) expect((await client.remove(ref(`vm-${i}`), ctx)).isOk()).toBe(true);
    console.log(`[rbd] removed the 20 clones in ${Math.round(performance.now() - removing)} ms`);
  });

  it("reads pool capacity with ceph df as the restricted client", async () => {
    await cluster.waitForStats();
    const df = (await client.cephDf(ctx))._unsafeUnwrap();
    expect(df.totalBytes).toBeGreaterThan(0);
    const pool = df.pools.find((p) => p.name === POOL);
    expect(pool?.maxAvailBytes).toBeGreaterThan(0);
  });

  it("confines the restricted client to its pool: another pool is AUTH_FAILED (EPERM)", async () => {
    expect((await client.listImages(OTHER_POOL, ctx))._unsafeUnwrapErr().code).toBe("AUTH_FAILED");
    const denied = (await client.create({ pool: OTHER_POOL, image: "x" }, MiB, ctx))._unsafeUnwrapErr();
    expect([denied.code, denied.details.errno]).toEqual(["AUTH_FAILED", 1]);
    expect(await cluster.rbd(["ls", OTHER_POOL])).toBe("");
  });

  it("fails fast with AUTH_FAILED on a wrong key or a missing keyring, and never shows the key", async () => {
    const wrongKey = (await run("ceph-authtool", ["--gen-print-key"])).stdout.trim();
    const wrong = connect({ key: wrongKey, connectTimeoutSec: 30 });
    const started = performance.now();
    const e = (await wrong.listImages(POOL, ctx))._unsafeUnwrapErr();
    const ms = performance.now() - started;
    console.log(`[rbd] wrong key refused in ${Math.round(ms)} ms (connect timeout 30 s)`);
    expect(e.code).toBe("AUTH_FAILED");
    // Refused by the monitor, not left to time out.
    expect(ms).toBeLessThan(10_000);
    expect(JSON.stringify(e.toJSON())).not.toContain(wrongKey);
    expect((await wrong.close(ctx)).isOk()).toBe(true);
    const missing = connect({ key: undefined, keyringPath: join(dir, "no-such.keyring") });
    expect((await missing.listImages(POOL, ctx))._unsafeUnwrapErr().code).toBe("AUTH_FAILED");
  });

  it("writes the key file 0600 in a private directory and removes it on close", async () => {
    const other = connect();
    const keyfile = (await other.keyfilePath(ctx))._unsafeUnwrap() ?? "";
    expect(readFileSync(keyfile, "utf8").trim()).toBe(user.key);
    expect(statSync(keyfile).mode & 0o777).toBe(0o600);
    expect(statSync(join(keyfile, "..")).mode & 0o777).toBe(0o700);
    expect((await other.listImages(POOL, ctx)).isOk()).toBe(true);
    expect((await other.close(ctx)).isOk()).toBe(true);
    expect(existsSync(keyfile)).toBe(false);
  });

  it("works from the config file and a keyring as well as from monitors and a key", async () => {
    const byConf = connect({ monitors: undefined, confPath: cluster.confPath, key: undefined, keyringPath: user.keyringPath });
    expect((await byConf.listImages(POOL, ctx))._unsafeUnwrap()).toEqual(expect.arrayContaining(["base", "c1"]));
    const name = (await byConf.qemuFilename(ref("c1"), ctx))._unsafeUnwrap();
    expect(JSON.parse(await qemu("qemu-img", ["info", "--output=json", name])) as { "virtual-size": number }).toMatchObject({ "virtual-size": SIZE });
  });

  it("gives BACKEND_UNAVAILABLE (transient) within the connect timeout when the monitor is down, and recovers when it is back", async () => {
    const quick = connect({ connectTimeoutSec: 3 });
    expect((await quick.listImages(POOL, ctx)).isOk()).toBe(true);
    await cluster.stopMonitor();
    try {
      const started = performance.now();
      const e = (await quick.listImages(POOL, ctx))._unsafeUnwrapErr();
      const ms = performance.now() - started;
      console.log(`[rbd] no monitor: ${e.code} after ${Math.round(ms)} ms (connect timeout 3 s)`);
      expect([e.code, e.transient]).toEqual(["BACKEND_UNAVAILABLE", true]);
      // Bounded by the configured 3 s, not the CLI's 300 s default (slack for process start-up).
      expect(ms).toBeLessThan(3000 + 5000);
      const df = (await quick.cephDf(ctx))._unsafeUnwrapErr();
      expect([df.code, df.transient]).toEqual(["BACKEND_UNAVAILABLE", true]);
    } finally {
      await cluster.startMonitor();
    }
    expect((await quick.listImages(POOL, ctx))._unsafeUnwrap()).toEqual(expect.arrayContaining(["base"]));
    expect((await quick.close(ctx)).isOk()).toBe(true);
  });
});
