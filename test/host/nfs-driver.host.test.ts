/**
 * The NFS driver against the real tools of this host: the real local runner, qemu-img, qemu-io,
 * truncate, du, stat, mv. This host's kernel has no NFS, so `LocalDirectoryMounts` maps each share
 * to a directory standing in for its mount. When running as root each "share" is a tmpfs of its
 * own (stable free space for the conformance suite's before/after comparisons); otherwise plain
 * temporary directories.
 *
 *   npx vitest run --project host test/host/nfs-driver.host.test.ts
 */
import { wrapDriver } from "../../src/drivers/backend.js";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, closeSync, mkdirSync, mkdtempSync, openSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResultAsync } from "neverthrow";
import type { VolkitError } from "../../src/core/errors.js";
import type { Snapshot, Volume } from "../../src/core/records.js";
import type { VolumeBackend } from "../../src/drivers/backend.js";
import { createNfsDriver, type NfsConfig } from "../../src/drivers/nfs/index.js";
import type { CommandRunner } from "../../src/exec/runner.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import { LocalDirectoryMounts } from "../../src/remotefs/local-directory-mounts.js";
import { describeVolumeDriverConformance, type ConformanceIo } from "../../src/testing/conformance.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const SHARE1 = "127.0.0.1:/srv/nfs/share1";
const SHARE2 = "127.0.0.1:/srv/nfs/share2";

const runner = createLocalRunner();
const root = mkdtempSync(join(tmpdir(), "volkit-nfs-host-"));
const dirs: Record<string, string> = { [SHARE1]: join(root, "share1"), [SHARE2]: join(root, "share2") };
const scratch = join(root, "scratch");
const tmpfsMounted: string[] = [];

function sh(file: string, args: readonly string[]): string {
  return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 26 });
}

beforeAll(() => {
  mkdirSync(scratch);
  for (const dir of Object.values(dirs)) {
    mkdirSync(dir);
    // A filesystem of its own per share when we may mount one.
    if (process.getuid?.() === 0 && spawnSync("mount", ["-t", "tmpfs", "-o", "size=8g,mode=0755", "volkit-nfs-host", dir]).status === 0) tmpfsMounted.push(dir);
  }
});

afterAll(() => {
  for (const dir of tmpfsMounted) spawnSync("umount", [dir]);
  rmSync(root, { recursive: true, force: true });
});

function backend(config: Partial<NfsConfig> = {}): VolumeBackend {
  const mounts = new LocalDirectoryMounts({ runner, directories: dirs });
  return wrapDriver(createNfsDriver({ driver: "nfs", shares: [SHARE1, SHARE2], ...config }, { runner, mounts })._unsafeUnwrap());
}

async function must<T>(pending: ResultAsync<T, VolkitError>): Promise<T> {
  const r = await pending;
  if (r.isErr()) throw new Error(`volkit error ${r.error.code}: ${r.error.message}`);
  return r.value;
}

/** The active image of a volume, as a host would attach it (from its connection info). */
async function active(b: VolumeBackend, v: Volume): Promise<{ path: string; format: "raw" | "qcow2" }> {
  const info = await must(b.initializeConnection(v, { host: "host-test" }));
  if (info.type !== "nfs") throw new Error("not nfs");
  return { path: join(dirs[info.export] as string, info.name), format: info.format };
}

/** Writes `data` at `offset` into the image with qemu-io (through the qcow2 layer when qcow2). */
function writeImage(img: { path: string; format: string }, offset: number, data: Buffer): void {
  const src = join(scratch, `w-${randomBytes(4).toString("hex")}`);
  writeFileSync(src, data);
  sh("qemu-io", ["-f", img.format, "-c", `write -q -s ${src} ${offset} ${data.length}`, img.path]);
  rmSync(src);
}

/** Flattens the image with `qemu-img convert -O raw` and returns sha256 of each region. */
function regionHashes(img: { path: string; format: string }, regions: readonly (readonly [number, number])[]): string[] {
  const raw = join(scratch, `r-${randomBytes(4).toString("hex")}.raw`);
  sh("qemu-img", ["convert", "-f", img.format, "-O", "raw", img.path, raw]);
  const fd = openSync(raw, "r");
  try {
    return regions.map(([offset, length]) => {
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, offset);
      return sha256(buf);
    });
  } finally {
    closeSync(fd);
    rmSync(raw);
  }
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

function virtualSize(img: { path: string; format: string }): number {
  return (JSON.parse(sh("qemu-img", ["info", "--output=json", "-U", "-f", img.format, img.path])) as { "virtual-size": number })["virtual-size"];
}

const A = 0; // region at the start
const B = 700 * MiB; // region in the middle
const C = 1536 * MiB; // region only a 2 GiB volume has
const LEN = MiB;
const ZERO = sha256(Buffer.alloc(LEN));

function pattern(): { data: Buffer; sha: string } {
  const data = randomBytes(LEN);
  return { data, sha: sha256(data) };
}

/** Data of a volume (its active image) at regions A and B (and C when given). */
async function dataOf(b: VolumeBackend, v: Volume, withC = false): Promise<string[]> {
  return regionHashes(await active(b, v), withC ? [[A, LEN], [B, LEN], [C, LEN]] : [[A, LEN], [B, LEN]]);
}

/** Data of a snapshot, read through a temporary volume created from it. */
async function dataOfSnapshot(b: VolumeBackend, s: Snapshot): Promise<string[]> {
  const tmp = await must(b.createVolumeFromSnapshot({ id: `t${randomBytes(4).toString("hex")}`, sizeGiB: s.volumeSizeGiB }, s));
  try {
    return await dataOf(b, tmp);
  } finally {
    await must(b.deleteVolume(tmp));
  }
}

function filesOf(dir: string, volumeId: string): string[] {
  return readdirSync(dir).filter((n) => n === `volume-${volumeId}` || n.startsWith(`volume-${volumeId}.`)).sort();
}

for (const qcow2Volumes of [false, true]) {
  describe(`NFS driver on real qemu-img (qcow2Volumes: ${qcow2Volumes})`, () => {
    let b: VolumeBackend;
    beforeAll(async () => {
      b = backend({ qcow2Volumes });
      await must(b.setup());
    });
    afterAll(async () => {
      await must(b.close());
    });

    it("creates sparse (or metadata-preallocated qcow2) files with mode 0660", async () => {
      const v = await must(b.createVolume({ id: `m${qcow2Volumes ? "q" : "r"}${randomBytes(3).toString("hex")}`, sizeGiB: 1 }));
      const img = await active(b, v);
      const st = statSync(img.path);
      expect(st.mode & 0o777).toBe(0o660);
      expect(img.format).toBe(qcow2Volumes ? "qcow2" : "raw");
      expect(virtualSize(img)).toBe(GiB);
      if (!qcow2Volumes) {
        expect(st.size).toBe(GiB);
        expect(st.blocks * 512).toBeLessThan(MiB); // sparse: nothing allocated
      }
      await must(b.deleteVolume(v));
      expect(filesOf(dirs[v.providerLocation as string] as string, v.id)).toEqual([]);
    });

    it("keeps data through snapshot, from-snapshot (grown), clone, three-snapshot deletes (middle, oldest, newest), revert and extend", async () => {
      const id = `v${randomBytes(4).toString("hex")}`;
      const v = await must(b.createVolume({ id, sizeGiB: 1 }));
      const dir = dirs[v.providerLocation as string] as string;
      const [p1, p2, p3, p4] = [pattern(), pattern(), pattern(), pattern()];
      writeImage(await active(b, v), A, p1.data);
      writeImage(await active(b, v), B, p1.data);

      const s1 = await must(b.createSnapshot({ id: "s1", volumeId: id, volumeSizeGiB: 1 }, v));
      writeImage(await active(b, v), A, p2.data); // after s1
      expect(await dataOf(b, v)).toEqual([p2.sha, p1.sha]);

      // From the snapshot, grown to 2 GiB: the snapshot's data, zeros in the new space.
      const f = await must(b.createVolumeFromSnapshot({ id: `f${id}`, sizeGiB: 2 }, s1));
      expect(virtualSize(await active(b, f))).toBe(2 * GiB);
      expect(await dataOf(b, f, true)).toEqual([p1.sha, p1.sha, ZERO]);
      // A clone has the current data.
      const c = await must(b.createClonedVolume({ id: `c${id}`, sizeGiB: 1 }, v));
      expect(await dataOf(b, c)).toEqual([p2.sha, p1.sha]);

      const s2 = await must(b.createSnapshot({ id: "s2", volumeId: id, volumeSizeGiB: 1 }, v));
      writeImage(await active(b, v), B, p3.data); // after s2
      const s3 = await must(b.createSnapshot({ id: "s3", volumeId: id, volumeSizeGiB: 1 }, v));
      writeImage(await active(b, v), A, p4.data); // after s3
      const expected = { s1: [p1.sha, p1.sha], s2: [p2.sha, p1.sha], s3: [p2.sha, p3.sha], now: [p4.sha, p3.sha] };
      expect(await dataOfSnapshot(b, s1)).toEqual(expected.s1);
      expect(await dataOfSnapshot(b, s2)).toEqual(expected.s2);
      expect(await dataOfSnapshot(b, s3)).toEqual(expected.s3);
      expect((await b.deleteVolume(v))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");

      // Middle.
      await must(b.deleteSnapshot(s2));
      expect(filesOf(dir, id)).toEqual([`volume-${id}`, `volume-${id}.info`, `volume-${id}.s1`, `volume-${id}.s3`]);
      expect(await dataOfSnapshot(b, s1)).toEqual(expected.s1);
      expect(await dataOfSnapshot(b, s3)).toEqual(expected.s3);
      expect(await dataOf(b, v)).toEqual(expected.now);
      // Oldest.
      await must(b.deleteSnapshot(s1));
      expect(await dataOfSnapshot(b, s3)).toEqual(expected.s3);
      expect(await dataOf(b, v)).toEqual(expected.now);
      expect((await b.createVolumeFromSnapshot({ id: `g${id}`, sizeGiB: 1 }, s1))._unsafeUnwrapErr().code).toBe("SNAPSHOT_NOT_FOUND");

      // Revert to s3 (the newest), then extend: data kept, new space reads zeros.
      await must(b.revertToSnapshot(v, s3));
      expect(await dataOf(b, v)).toEqual(expected.s3);
      const grown = await must(b.extendVolume(v, 2));
      expect(virtualSize(await active(b, grown))).toBe(2 * GiB);
      expect(await dataOf(b, grown, true)).toEqual([...expected.s3, ZERO]);
      writeImage(await active(b, grown), C, p4.data);

      // Newest: its overlay is committed into the (smaller) base image, which grows.
      await must(b.deleteSnapshot({ ...s3 }));
      expect(filesOf(dir, id)).toEqual([`volume-${id}`, `volume-${id}.info`]);
      const base = await active(b, grown);
      expect(base.path).toBe(join(dir, `volume-${id}`));
      expect(virtualSize(base)).toBe(2 * GiB);
      expect(await dataOf(b, grown, true)).toEqual([...expected.s3, p4.sha]);
      await must(b.deleteSnapshot(s3)); // retry-safe

      // Every file the driver made is 0660; deletes leave nothing.
      for (const n of [...filesOf(dir, id), ...filesOf(dirs[f.providerLocation as string] as string, f.id)]) {
        const d = n.startsWith(`volume-${id}`) ? dir : (dirs[f.providerLocation as string] as string);
        expect(statSync(join(d, n)).mode & 0o777, n).toBe(0o660);
      }
      for (const x of [grown, f, c]) {
        await must(b.deleteVolume(x));
        expect(filesOf(dirs[x.providerLocation as string] as string, x.id)).toEqual([]);
      }
    });

    it("deletes the oldest snapshot after the volume grew between snapshots", async () => {
      const id = `e${randomBytes(4).toString("hex")}`;
      const v = await must(b.createVolume({ id, sizeGiB: 1 }));
      const [p1, p2] = [pattern(), pattern()];
      writeImage(await active(b, v), A, p1.data);
      const s1 = await must(b.createSnapshot({ id: "s1", volumeId: id, volumeSizeGiB: 1 }, v));
      const grown = await must(b.extendVolume(v, 2));
      writeImage(await active(b, grown), C, p2.data);
      const s2 = await must(b.createSnapshot({ id: "s2", volumeId: id, volumeSizeGiB: 2 }, grown));
      await must(b.deleteSnapshot(s1)); // commits a 2 GiB overlay into the 1 GiB base
      expect(await dataOfSnapshot(b, s2)).toEqual([p1.sha, ZERO]);
      const fromS2 = await must(b.createVolumeFromSnapshot({ id: `h${id}`, sizeGiB: 2 }, s2));
      expect(await dataOf(b, fromS2, true)).toEqual([p1.sha, ZERO, p2.sha]);
      expect(await dataOf(b, grown, true)).toEqual([p1.sha, ZERO, p2.sha]);
      await must(b.deleteSnapshot(s2));
      await must(b.deleteVolume(fromS2));
      await must(b.deleteVolume(grown));
    });
  });
}

describe("NFS driver on real tools: placement, refusals, images", () => {
  let b: VolumeBackend;
  beforeAll(async () => {
    b = backend();
    await must(b.setup());
  });
  afterAll(async () => {
    await must(b.close());
  });

  it("places volumes on the least-allocated share", async () => {
    const vols = [];
    for (const i of [1, 2, 3]) vols.push(await must(b.createVolume({ id: `p${i}${randomBytes(3).toString("hex")}`, sizeGiB: i === 1 ? 3 : 1 })));
    expect(vols.map((v) => v.providerLocation)).toEqual([SHARE1, SHARE2, SHARE2]);
    const stats = await must(b.getVolumeStats());
    expect(stats.pools.map((p) => [p.poolName, p.totalVolumes])).toEqual([
      [SHARE1, 1],
      [SHARE2, 2],
    ]);
    for (const v of vols) await must(b.deleteVolume(v));
  });

  it("refuses bad input and creates no file", async () => {
    const before = Object.values(dirs).map((d) => readdirSync(d).sort());
    for (const spec of [{ id: "../x", sizeGiB: 1 }, { id: "-rf", sizeGiB: 1 }, { id: "ok", sizeGiB: 0 }, { id: "ok", sizeGiB: 1.5 }]) {
      expect((await b.createVolume(spec))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    }
    const v = await must(b.createVolume({ id: `r${randomBytes(3).toString("hex")}`, sizeGiB: 1 }));
    expect((await b.createSnapshot({ id: "info", volumeId: v.id, volumeSizeGiB: 1 }, v))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await b.extendVolume(v, 0))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    await must(b.deleteVolume(v));
    expect(Object.values(dirs).map((d) => readdirSync(d).sort())).toEqual(before);
    const bad = createNfsDriver({ driver: "nfs", shares: [{ share: SHARE1, options: "vers=3,exec" }] }, { runner });
    expect(bad._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
  });

  it("copies a qcow2 image into a volume and the volume out to an image", async () => {
    const v = await must(b.createVolume({ id: `i${randomBytes(3).toString("hex")}`, sizeGiB: 1 }));
    const image = join(scratch, "image.qcow2");
    sh("qemu-img", ["create", "-q", "-f", "qcow2", image, String(512 * MiB)]);
    const p = pattern();
    writeImage({ path: image, format: "qcow2" }, A, p.data);
    await must(b.copyImageToVolume({ path: image, format: "qcow2" }, v));
    const img = await active(b, v);
    expect(virtualSize(img)).toBe(GiB);
    expect(statSync(img.path).mode & 0o777).toBe(0o660);
    expect(regionHashes(img, [[A, LEN]])).toEqual([p.sha]);
    const out = join(scratch, "out.qcow2");
    await must(b.copyVolumeToImage(v, { path: out, format: "qcow2" }));
    expect(regionHashes({ path: out, format: "qcow2" }, [[A, LEN]])).toEqual([p.sha]);
    // An image with a backing file elsewhere is refused.
    const evil = join(scratch, "evil.qcow2");
    sh("qemu-img", ["create", "-q", "-f", "qcow2", "-u", "-o", "backing_file=/etc/hostname,backing_fmt=raw", evil, String(MiB)]);
    expect((await b.copyImageToVolume({ path: evil, format: "qcow2" }, v))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    await must(b.deleteVolume(v));
    rmSync(image);
    rmSync(out);
  });
});

describe.runIf(process.getuid?.() === 0 && spawnSync("setpriv", ["--version"]).status === 0)("NFS driver without root (secure file operations)", () => {
  // Every command of the driver and the "mounts" runs as nobody, as on a share exported with
  // root_squash to a dedicated uid: nothing needs root for file work.
  const NOBODY = 65534;
  // setpriv drops privileges: not a root helper, so it wraps the runner instead.
  const local = createLocalRunner();
  const asNobody: CommandRunner = {
    description: "local as nobody",
    run: (spec) => local.run({ ...spec, argv: ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", ...spec.argv] }),
  };
  const top = mkdtempSync(join(tmpdir(), "volkit-nfs-nobody-"));
  const owned = join(top, "owned");
  const foreign = join(top, "foreign");

  beforeAll(() => {
    chmodSync(top, 0o755);
    mkdirSync(owned, { mode: 0o750 });
    chownSync(owned, NOBODY, NOBODY);
    mkdirSync(foreign, { mode: 0o755 }); // root's, like a root_squash export not given to our uid
  });
  afterAll(() => {
    rmSync(top, { recursive: true, force: true });
  });

  it("creates 0660 files owned by the unprivileged user through snapshot, clone and delete", async () => {
    const mounts = new LocalDirectoryMounts({ runner: asNobody, directories: { [SHARE1]: owned } });
    const b = wrapDriver(createNfsDriver({ driver: "nfs", shares: [SHARE1] }, { runner: asNobody, mounts })._unsafeUnwrap());
    const v = await must(b.createVolume({ id: "nobody1", sizeGiB: 1 }));
    const s = await must(b.createSnapshot({ id: "s1", volumeId: v.id, volumeSizeGiB: 1 }, v));
    const c = await must(b.createClonedVolume({ id: "nobody2", sizeGiB: 1 }, v));
    for (const name of readdirSync(owned)) {
      const st = statSync(join(owned, name));
      expect([name, st.uid, st.gid, st.mode & 0o777]).toEqual([name, NOBODY, NOBODY, 0o660]);
    }
    expect(readdirSync(owned).sort()).toEqual(["volume-nobody1", "volume-nobody1.info", "volume-nobody1.s1", "volume-nobody2"]);
    await must(b.deleteSnapshot(s));
    await must(b.deleteVolume(v));
    await must(b.deleteVolume(c));
    expect(readdirSync(owned)).toEqual([]);
    await must(b.close());
  });

  it("refuses at setup a share the user cannot write (root_squash), naming the fix", async () => {
    const mounts = new LocalDirectoryMounts({ runner: asNobody, directories: { [SHARE1]: foreign } });
    const b = wrapDriver(createNfsDriver({ driver: "nfs", shares: [SHARE1] }, { runner: asNobody, mounts })._unsafeUnwrap());
    const e = (await b.setup())._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(e.message).toContain("not writable by the driver's user");
    expect(readdirSync(foreign)).toEqual([]);
  });
});

/** Conformance data hooks: write into the active image with qemu-io, read it flattened. */
const conformanceIo: ConformanceIo = {
  write: async (volume, data) => {
    const b = backend();
    writeImage(await active(b, volume), 0, data);
    await must(b.close());
  },
  read: async (volume, bytes) => {
    const b = backend();
    const img = await active(b, volume);
    await must(b.close());
    const raw = join(scratch, `c-${randomBytes(4).toString("hex")}.raw`);
    sh("qemu-img", ["convert", "-f", img.format, "-O", "raw", img.path, raw]);
    const out = Buffer.alloc(bytes);
    const fd = openSync(raw, "r");
    readSync(fd, out, 0, bytes, 0);
    closeSync(fd);
    rmSync(raw);
    return out;
  },
};

describeVolumeDriverConformance({ name: "nfs (sparse raw, local directories)", create: () => backend(), io: conformanceIo, timeoutMs: 120_000 });
describeVolumeDriverConformance({ name: "nfs (qcow2, local directories)", create: () => backend({ qcow2Volumes: true }), io: conformanceIo, timeoutMs: 120_000 });
