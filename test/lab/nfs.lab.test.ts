/**
 * The NFS driver, the NFS connector and the mount manager against a real kernel nfsd and NFS
 * client, inside the storage lab (`VOLKIT_LAB_NFS_SHARES`, two exports of 127.0.0.1).
 *
 *   VOLKIT_LAB_DISK_GIB=10 npx tsx lab/run.ts -- npx vitest run --project lab test/lab/nfs.lab.test.ts
 */
import { wrapDriver } from "../../src/drivers/backend.js";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ResultAsync } from "neverthrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNfsConnector, type NfsConnector } from "../../src/connectors/nfs/index.js";
import type { AttachedDevice } from "../../src/core/records.js";
import { createOperationContext } from "../../src/core/context.js";
import type { VolkitError } from "../../src/core/errors.js";
import { withRetry } from "../../src/core/retry.js";
import type { Volume } from "../../src/core/records.js";
import type { VolumeBackend } from "../../src/drivers/backend.js";
import { createNfsDriver, type NfsConfig } from "../../src/drivers/nfs/index.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import { createNfsMountManager, type NfsMountManager, type NfsMountManagerOptions } from "../../src/remotefs/nfs-mount-manager.js";
import { mountPointFor } from "../../src/remotefs/nfs-share.js";
import { parseFindmnt, type MountEntry } from "../../src/remotefs/remotefs-parsers.js";
import { describeVolumeDriverConformance, type ConformanceIo } from "../../src/testing/conformance.js";
import { lab, must, sh, uid } from "./helpers.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const [S1, S2] = lab.nfsShares as [string, string];
const runner = createLocalRunner();
const work = mkdtempSync("/var/tmp/volkit-nfs-lab-");
const scratch = join(work, "scratch");
const ctx = () => createOperationContext({ operation: "lab", source: "lab" });
const host = { host: "volkit-lab" };
/** Exports on tmpfs made for the conformance suite (stable free space, see below). */
const CONF = ["127.0.0.1:/srv/nfs/conf1", "127.0.0.1:/srv/nfs/conf2"] as const;

function base(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function manager(name: string, options: NfsMountManagerOptions = {}): NfsMountManager {
  return createNfsMountManager(runner, { mountPointBase: base(name), mountTimeoutMs: 30_000, retryMinDelayMs: 200, retryMaxDelayMs: 1000, ...options })._unsafeUnwrap();
}

function driver(mounts: NfsMountManager, config: Partial<NfsConfig> = {}): VolumeBackend {
  return wrapDriver(createNfsDriver({ driver: "nfs", shares: [S1, S2], mountPointBase: "/unused", ...config }, { runner, mounts })._unsafeUnwrap());
}

function mountTable(): MountEntry[] {
  return parseFindmnt(sh(["findmnt", "-J", "-l", "-k", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"]))._unsafeUnwrap();
}

function mountsAt(target: string): MountEntry[] {
  return mountTable().filter((m) => m.target === target);
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

const A = 0;
const B = 700 * MiB;
const C = 1536 * MiB;
const LEN = MiB;
const ZERO = sha256(Buffer.alloc(LEN));

function pattern(): { data: Buffer; sha: string } {
  const data = randomBytes(LEN);
  return { data, sha: sha256(data) };
}

/** Writes through the connector's mounted file with qemu-io. */
function writeFile(dev: AttachedDevice, offset: number, data: Buffer): void {
  const src = join(scratch, `w-${randomBytes(4).toString("hex")}`);
  writeFileSync(src, data);
  sh(["qemu-io", "-f", String(dev.format), "-c", `write -q -s ${src} ${offset} ${data.length}`, dev.path]);
  rmSync(src);
}

/**
 * sha256 of each region of the attached file, read through qemu's format layer with
 * `qemu-img dd` (only the region is read; `count` counts from the start, hence skip + 1).
 */
function readRegions(dev: AttachedDevice, regions: readonly number[], length = LEN): string[] {
  return regions.map((offset) => sha256(readRegion(dev, offset, length)));
}

function readRegion(dev: AttachedDevice, offset: number, length: number): Buffer {
  const out = join(scratch, `r-${randomBytes(4).toString("hex")}.raw`);
  const skip = offset / length;
  sh(["qemu-img", "dd", "-U", "-f", String(dev.format), "-O", "raw", `bs=${length}`, `skip=${skip}`, `count=${skip + 1}`, `if=${dev.path}`, `of=${out}`]);
  const buf = Buffer.alloc(length);
  const fd = openSync(out, "r");
  readSync(fd, buf, 0, length, 0);
  closeSync(fd);
  rmSync(out);
  return buf;
}

/** Attaches `v` with the connector (from fresh connection info), runs `fn`, detaches. */
async function attached<T>(backend: VolumeBackend, nfs: NfsConnector, v: Volume, fn: (dev: AttachedDevice) => T | Promise<T>): Promise<T> {
  const info = await must(backend.initializeConnection(v, host));
  const dev = await must(nfs.connectVolume(info));
  try {
    return await fn(dev);
  } finally {
    await must(nfs.disconnectVolume(info, dev));
  }
}

beforeAll(() => {
  if (!S1 || !S2) throw new Error("VOLKIT_LAB_NFS_SHARES must list two shares");
  mkdirSync(scratch, { recursive: true });
  // The conformance suite compares free space before and after refused requests; the lab shares
  // live on the guest's ext4 root, whose delayed allocation moves free space on its own. tmpfs
  // exports have exact, quiet free space.
  CONF.forEach((share, i) => {
    const dir = share.slice(share.indexOf(":") + 1);
    mkdirSync(dir, { recursive: true });
    sh(["mount", "-t", "tmpfs", "-o", "size=4g,mode=0755", `volkit-conf${i}`, dir]);
    sh(["exportfs", "-o", `rw,sync,no_subtree_check,no_root_squash,fsid=${201 + i}`, share]);
  });
});

afterAll(() => {
  for (const share of CONF) {
    sh(["exportfs", "-u", share]);
    sh(["umount", "-l", share.slice(share.indexOf(":") + 1)]);
  }
});

describe("NFS driver on a real nfsd", () => {
  const mounts = manager("driver-mnt");
  const backend = driver(mounts);
  const nfs: NfsConnector = createNfsConnector({}, { runner, mounts: manager("connector-mnt") })._unsafeUnwrap();

  beforeAll(async () => {
    await must(backend.setup());
  });
  afterAll(async () => {
    await must(backend.close());
  });

  it("mounts both shares hard with NFS 4.2 at <base>/<md5(share)>", () => {
    for (const share of [S1, S2]) {
      const mp = mountPointFor(join(work, "driver-mnt"), share);
      const found = mountsAt(mp);
      expect(found).toHaveLength(1);
      expect(found[0]?.source).toBe(share);
      expect(found[0]?.fstype).toBe("nfs4");
      expect(found[0]?.options).toMatch(/(^|,)vers=4\.2(,|$)/);
      expect(found[0]?.options).toMatch(/(^|,)hard(,|$)/);
      expect(found[0]?.options).toContain("nosuid,nodev,noexec");
      expect(mounts.references(share)).toBe(1);
    }
  });

  it("places each volume on the least-allocated share", async () => {
    const allocated = async (): Promise<Map<string, number>> =>
      new Map((await must(backend.getVolumeStats())).pools.map((p) => [p.poolName, p.provisionedCapacityGiB ?? 0]));
    const vols: Volume[] = [];
    for (const sizeGiB of [3, 1, 1, 2]) {
      const before = await allocated();
      const least = [S1, S2].reduce((a, b) => ((before.get(b) ?? 0) < (before.get(a) ?? 0) ? b : a));
      const v = await must(backend.createVolume({ id: uid("p"), sizeGiB }));
      vols.push(v);
      expect(v.providerLocation, `${sizeGiB} GiB with ${JSON.stringify([...before])}`).toBe(least);
      const after = await allocated();
      expect((after.get(least) ?? 0) - (before.get(least) ?? 0)).toBeCloseTo(sizeGiB, 1);
    }
    console.log("placement:", JSON.stringify(vols.map((v) => [v.sizeGiB, v.providerLocation])));
    for (const v of vols) await must(backend.deleteVolume(v));
  });

  it("keeps data written through the connector across snapshot, from-snapshot, clone, revert and extend", async () => {
    const id = uid("v");
    const v = await must(backend.createVolume({ id, sizeGiB: 1 }));
    const [p1, p2] = [pattern(), pattern()];
    await attached(backend, nfs, v, (dev) => {
      expect(dev.type).toBe("file");
      expect(dev.path.startsWith(join(work, "connector-mnt"))).toBe(true);
      expect(dev.sizeBytes).toBe(GiB);
      writeFile(dev, A, p1.data);
      writeFile(dev, B, p1.data);
    });
    const s1 = await must(backend.createSnapshot({ id: uid("s"), volumeId: id, volumeSizeGiB: 1 }, v));
    await attached(backend, nfs, v, (dev) => {
      expect(dev.format).toBe("qcow2"); // the active image is now the snapshot's overlay
      expect(readRegions(dev, [A, B])).toEqual([p1.sha, p1.sha]);
      writeFile(dev, A, p2.data);
    });
    const f = await must(backend.createVolumeFromSnapshot({ id: uid("f"), sizeGiB: 2 }, s1));
    await attached(backend, nfs, f, (dev) => {
      expect(dev.sizeBytes).toBe(2 * GiB);
      expect(readRegions(dev, [A, B, C])).toEqual([p1.sha, p1.sha, ZERO]);
    });
    const c = await must(backend.createClonedVolume({ id: uid("c"), sizeGiB: 1 }, v));
    await attached(backend, nfs, c, (dev) => expect(readRegions(dev, [A, B])).toEqual([p2.sha, p1.sha]));
    await must(backend.revertToSnapshot(v, s1));
    await attached(backend, nfs, v, (dev) => expect(readRegions(dev, [A, B])).toEqual([p1.sha, p1.sha]));
    const grown = await must(backend.extendVolume(v, 2));
    await attached(backend, nfs, grown, async (dev) => {
      const info = await must(backend.initializeConnection(grown, host));
      expect(await must(nfs.extendVolume(info, dev))).toBe(2 * GiB);
      expect(readRegions(dev, [A, B, C])).toEqual([p1.sha, p1.sha, ZERO]);
    });
    await must(backend.deleteSnapshot(s1));
    await attached(backend, nfs, grown, (dev) => {
      expect(dev.format).toBe("raw"); // the overlay was committed into the base image
      expect(readRegions(dev, [A, B, C])).toEqual([p1.sha, p1.sha, ZERO]);
    });
    for (const x of [grown, f, c]) await must(backend.deleteVolume(x));
  });

  it("keeps every snapshot's data while deleting the middle, oldest and newest of three", async () => {
    const id = uid("d");
    const v = await must(backend.createVolume({ id, sizeGiB: 1 }));
    const p = [pattern(), pattern(), pattern(), pattern()] as const;
    const write = (offset: number, data: Buffer): Promise<void> => attached(backend, nfs, v, (dev) => writeFile(dev, offset, data));
    const snap = (): Promise<{ id: string; volumeId: string; volumeSizeGiB: number }> => must(backend.createSnapshot({ id: uid("s"), volumeId: id, volumeSizeGiB: 1 }, v));
    const dataOf = async (s: { id: string; volumeId: string; volumeSizeGiB: number }): Promise<string[]> => {
      const t = await must(backend.createVolumeFromSnapshot({ id: uid("t"), sizeGiB: 1 }, s));
      const got = await attached(backend, nfs, t, (dev) => readRegions(dev, [A, B]));
      await must(backend.deleteVolume(t));
      return got;
    };
    await write(A, p[0].data);
    const s1 = await snap();
    await write(B, p[1].data);
    const s2 = await snap();
    await write(A, p[2].data);
    const s3 = await snap();
    await write(B, p[3].data);
    const want = { s1: [p[0].sha, ZERO], s2: [p[0].sha, p[1].sha], s3: [p[2].sha, p[1].sha], now: [p[2].sha, p[3].sha] };
    const now = (): Promise<string[]> => attached(backend, nfs, v, (dev) => readRegions(dev, [A, B]));
    await must(backend.deleteSnapshot(s2));
    expect([await dataOf(s1), await dataOf(s3), await now()]).toEqual([want.s1, want.s3, want.now]);
    await must(backend.deleteSnapshot(s1));
    expect([await dataOf(s3), await now()]).toEqual([want.s3, want.now]);
    await must(backend.deleteSnapshot(s3));
    expect(await now()).toEqual(want.now);
    await must(backend.deleteVolume(v));
  });

  it("refcounts connector mounts: two attachments, one detach keeps the mount, the second unmounts", async () => {
    const one = driver(mounts, { shares: [S1] }); // both volumes on S1
    const own = createNfsConnector({}, { runner, mounts: manager("refcount-mnt") })._unsafeUnwrap();
    const mp = mountPointFor(join(work, "refcount-mnt"), S1);
    const v1 = await must(one.createVolume({ id: uid("r"), sizeGiB: 1 }));
    const v2 = await must(one.createVolume({ id: uid("r"), sizeGiB: 1 }));
    const i1 = await must(one.initializeConnection(v1, host));
    const i2 = await must(one.initializeConnection(v2, host));
    const d1 = await must(own.connectVolume(i1));
    const d2 = await must(own.connectVolume(i2));
    expect(mountsAt(mp)).toHaveLength(1);
    expect(own.mounts.references(S1)).toBe(2);
    const r1 = await must(own.disconnectVolume(i1, d1));
    expect(r1).toEqual({ removed: [], leftBehind: [{ kind: "mount", name: mp, reason: "still used by 1 other user(s)", expected: true }] });
    expect(mountsAt(mp)).toHaveLength(1);
    const r2 = await must(own.disconnectVolume(i2, d2));
    expect(r2).toEqual({ removed: [`mount ${mp}`], leftBehind: [] });
    expect(mountsAt(mp)).toHaveLength(0);
    for (const v of [v1, v2]) await must(one.deleteVolume(v));
    await must(one.close());
    // The driver's own reference on S1 (through the shared manager) kept its mount.
    expect(mounts.references(S1)).toBe(1);
  });

  it("repairs a stale handle: the export's directory was replaced on the server (NFSv3)", async () => {
    const dir = "/srv/nfs/stale-lab";
    const share = `127.0.0.1:${dir}`;
    const exportIt = (): string => sh(["exportfs", "-o", "rw,sync,no_subtree_check,no_root_squash", share]);
    mkdirSync(dir, { recursive: true });
    exportIt();
    const m = manager("stale-mnt", { probeTimeoutMs: 10_000 });
    try {
      await must(m.acquire({ share, options: "vers=3" }, ctx()));
      expect((await must(m.probe(share, ctx()))).remounted).toBe(false);
      sh(["exportfs", "-u", share]);
      // The new directory is made before the old one goes, so it cannot reuse the old inode
      // number: the export root's handle names the export by filesystem and inode number.
      mkdirSync(`${dir}.new`);
      rmSync(dir, { recursive: true, force: true });
      renameSync(`${dir}.new`, dir);
      sh(["exportfs", "-f"]); // drop the kernel's export caches
      exportIt();
      const status = await must(m.probe(share, ctx()));
      expect(status.remounted).toBe(true);
      const mp = mountPointFor(join(work, "stale-mnt"), share);
      expect(mountsAt(mp)).toHaveLength(1);
      expect(sh(["stat", "-f", "-c", "%S", mp]).trim()).toMatch(/^\d+$/);
      expect((await must(m.release(share, ctx()))).unmounted).toBe(true);
    } finally {
      if (m.references(share) > 0) void (await m.release(share, ctx()));
      sh(["exportfs", "-u", share]);
    }
  });
});

/** Conformance data hooks: attach with the connector, qemu-io in, qemu-img convert out. */
function conformanceIo(): ConformanceIo & { close(): ResultAsync<void, VolkitError> } {
  const mounts = manager("conformance-io-mnt");
  const nfs = createNfsConnector({}, { runner, mounts })._unsafeUnwrap();
  const b = driver(manager("conformance-io-driver-mnt"), { shares: [...CONF] });
  return {
    write: (v, data) => attached(b, nfs, v, (dev) => writeFile(dev, 0, data)),
    read: (v, bytes) => attached(b, nfs, v, (dev) => readRegion(dev, 0, bytes)),
    close: () => b.close(),
  };
}

const conformanceMounts = manager("conformance-mnt");
const io = conformanceIo();
describeVolumeDriverConformance({
  name: "nfs (real nfsd, tmpfs exports)",
  create: () => driver(conformanceMounts, { shares: [...CONF] }),
  io,
  timeoutMs: 280_000,
});
afterAll(async () => {
  await must(io.close());
});

describe("NFS with the server stopped (rpc.nfsd 0)", () => {
  it("answers with typed errors within the configured bounds instead of hanging, and recovers", async () => {
    const m = manager("dead-mnt", { probeTimeoutMs: 3000, mountTimeoutMs: 4000, mountAttempts: 2 });
    const b = driver(m, { shares: [S1], probeTimeoutMs: 3000, fileTimeoutMs: 5000 });
    await must(b.setup());
    const fresh = manager("dead-fresh-mnt", { mountTimeoutMs: 4000, mountAttempts: 2 });
    const nfs = createNfsConnector({}, { runner, mounts: manager("dead-connector-mnt", { mountTimeoutMs: 4000, mountAttempts: 2 }) })._unsafeUnwrap();
    const v = await must(b.createVolume({ id: uid("z"), sizeGiB: 1 }));
    const info = await must(b.initializeConnection(v, host));
    const timed = async <T,>(p: ResultAsync<T, VolkitError>): Promise<{ code: string; ms: number }> => {
      const t0 = performance.now();
      const r = await p;
      return { code: r.isErr() ? r.error.code : "ok", ms: Math.round(performance.now() - t0) };
    };
    sh(["rpc.nfsd", "0"]);
    // Short grace and lease so the client recovers quickly once the server is back (best effort).
    for (const [file, value] of [["/proc/fs/nfsd/nfsv4gracetime", "10"], ["/proc/fs/nfsd/nfsv4leasetime", "10"]] as const) {
      try {
        writeFileSync(file, value);
      } catch {
        /* not writable on this kernel: recovery just takes longer */
      }
    }
    const results: Record<string, { code: string; ms: number }> = {};
    try {
      results.probe = await timed(m.probe(S1, ctx()));
      results.stats = await timed(b.getVolumeStats({ deadline: Date.now() + 20_000 }));
      results.create = await timed(b.createVolume({ id: uid("z"), sizeGiB: 1 }, { deadline: Date.now() + 20_000 }));
      results.freshMount = await timed(fresh.acquire({ share: S2 }, ctx()));
      results.connect = await timed(nfs.connectVolume(info, { deadline: Date.now() + 15_000 }));
    } finally {
      sh(["rpc.nfsd", "8"]);
    }
    console.log("stopped nfsd:", JSON.stringify(results));
    expect(results.probe?.code).toBe("BACKEND_UNAVAILABLE");
    expect(results.probe?.ms).toBeLessThan(3000 + 6000);
    for (const key of ["stats", "create"] as const) {
      expect(["BACKEND_UNAVAILABLE", "TIMEOUT"], key).toContain(results[key]?.code);
      expect(results[key]?.ms, key).toBeLessThan(22_000);
    }
    expect(["BACKEND_UNAVAILABLE", "TIMEOUT"]).toContain(results.freshMount?.code);
    expect(results.freshMount?.ms).toBeLessThan(2 * (4000 + 5000) + 3000);
    expect(["BACKEND_UNAVAILABLE", "TIMEOUT"]).toContain(results.connect?.code);
    expect(results.connect?.ms).toBeLessThan(17_000);
    // The hard mount survives the outage: once nfsd is back (after its grace period) the share
    // answers again; the cleanup retries while the server still refuses changes in grace.
    const settle = { retries: 30, minTimeoutMs: 500, maxTimeoutMs: 5000, isTransient: () => true };
    await must(withRetry(() => m.probe(S1, ctx()), settle));
    await must(withRetry(() => b.deleteVolume(v), settle));
    await must(b.close());
    expect(mountsAt(mountPointFor(join(work, "dead-mnt"), S1))).toHaveLength(0);
  });
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});
