import { wrapDriver } from "../../../../src/drivers/backend.js";
import { describe, expect, it } from "vitest";
import { createNfsDriver, type NfsConfig } from "../../../../src/drivers/nfs/index.js";
import type { VolumeBackend } from "../../../../src/drivers/backend.js";
import { LocalDirectoryMounts } from "../../../../src/remotefs/local-directory-mounts.js";
import { FakeRunner } from "../../../../src/testing/fake-runner.js";
import { FakeShares } from "./fake-share.js";

const GiB = 1024 ** 3;
const S1 = "10.0.0.5:/export/a";
const S2 = "10.0.0.6:/export/b";
const D1 = "/mnt/s1";
const D2 = "/mnt/s2";

async function setup(config: Partial<NfsConfig> = {}, shares = new FakeShares([D1, D2])): Promise<{ backend: VolumeBackend; fs: FakeShares }> {
  const mounts = new LocalDirectoryMounts({ runner: shares.runner, directories: { [S1]: D1, [S2]: D2 } });
  const backend = wrapDriver(createNfsDriver({ driver: "nfs", shares: [S1, S2], ...config }, { runner: shares.runner, mounts })._unsafeUnwrap());
  (await backend.setup())._unsafeUnwrap();
  shares.runner.clearCalls();
  return { backend, fs: shares };
}

describe("NFS driver config", () => {
  it.each([
    ["no shares", {}, "no NFS shares"],
    ["a share that is not host:/path", { shares: ["nfs-server"] }, "shares"],
    ["smuggled mount options", { shares: [{ share: S1, options: "vers=3 -o exec" }] }, "shares"],
    ["exec after a comma", { shares: [S1], mountOptions: "vers=3,exec" }, "mountOptions"],
    ["soft mounts", { shares: [S1], mountOptions: "soft" }, "corrupt"],
    ["a bad shares file", { sharesConfig: "10.0.0.5:/a\nbad share line\n" }, "line 2"],
    ["a duplicate share", { shares: [S1], sharesConfig: `${S1}\n` }, "twice"],
    ["a relative mount point base", { shares: [S1], mountPointBase: "mnt" }, "mountPointBase"],
    ["a root helper with a space", { shares: [S1], rootHelper: ["sudo -n"] }, "rootHelper"],
  ])("refuses %s with INVALID_CONFIG before running anything", (_label, config, message) => {
    const runner = new FakeRunner();
    const r = createNfsDriver({ driver: "nfs", ...config }, { runner });
    const e = r._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_CONFIG");
    expect(e.message).toContain(message);
    expect(runner.calls).toEqual([]);
  });

  it("accepts Cinder's shares file text next to listed shares", async () => {
    const fs = new FakeShares([D1, D2]);
    const mounts = new LocalDirectoryMounts({ runner: fs.runner, directories: { [S1]: D1, [S2]: D2 } });
    const backend = wrapDriver(createNfsDriver({ driver: "nfs", shares: [S1], sharesConfig: `# cinder\n${S2} -o vers=3\n` }, { runner: fs.runner, mounts })._unsafeUnwrap());
    const stats = (await backend.getVolumeStats())._unsafeUnwrap();
    expect(stats.pools.map((p) => p.poolName)).toEqual([S1, S2]);
  });

  it("setup fails with BACKEND_UNAVAILABLE when no share is writable in secure mode (root_squash)", async () => {
    const fs = new FakeShares([D1, D2]);
    fs.readOnly.add(D1).add(D2);
    const mounts = new LocalDirectoryMounts({ runner: fs.runner, directories: { [S1]: D1, [S2]: D2 } });
    const backend = wrapDriver(createNfsDriver({ driver: "nfs", shares: [S1, S2] }, { runner: fs.runner, mounts })._unsafeUnwrap());
    const e = (await backend.setup())._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(e.message).toContain("not writable");
    expect(mounts.references(S1)).toBe(0);
  });

  it("a share that cannot be used is skipped; the others serve", async () => {
    const fs = new FakeShares([D1, D2]);
    fs.readOnly.add(D1);
    const { backend } = await setup({}, fs);
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    expect(v.providerLocation).toBe(S2);
  });
});

describe("NFS driver volumes", () => {
  it("creates a sparse raw volume: truncate a temporary, chmod 0660, rename into place", async () => {
    const { backend, fs } = await setup();
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 2 }))._unsafeUnwrap();
    expect(v).toEqual({ id: "v1", sizeGiB: 2, providerLocation: S1 });
    const tmp = `${D1}/volume-v1.new.tmp`;
    expect(fs.calls("truncate")).toEqual([["truncate", "-s", String(2 * GiB), "--", tmp]]);
    expect(fs.calls("chmod")).toEqual([["chmod", "0660", "--", tmp]]);
    expect(fs.calls("mv")).toEqual([["mv", "-f", "-T", "--", tmp, `${D1}/volume-v1`]]);
    expect(fs.get(`${D1}/volume-v1`)).toMatchObject({ format: "raw", size: 2 * GiB, mode: "0660" });
    expect(fs.names(D1)).toEqual(["volume-v1"]);
  });

  it("creates qcow2 volumes with preallocated metadata, thick raw fully allocated, 0666 when not secure", async () => {
    const q = await setup({ qcow2Volumes: true, secureFilePermissions: false });
    (await q.backend.createVolume({ id: "q1", sizeGiB: 1 }))._unsafeUnwrap();
    expect(q.fs.calls("qemu-img", "create")).toEqual([["qemu-img", "create", "-q", "-f", "qcow2", "-o", "preallocation=metadata", `${D1}/volume-q1.new.tmp`, String(GiB)]]);
    expect(q.fs.get(`${D1}/volume-q1`)).toMatchObject({ format: "qcow2", mode: "0666" });
    const t = await setup({ sparsedVolumes: false });
    (await t.backend.createVolume({ id: "t1", sizeGiB: 1 }))._unsafeUnwrap();
    expect(t.fs.calls("qemu-img", "create")).toEqual([["qemu-img", "create", "-q", "-f", "raw", "-o", "preallocation=full", `${D1}/volume-t1.new.tmp`, String(GiB)]]);
  });

  it("places each volume on the least-allocated eligible share", async () => {
    const { backend, fs } = await setup();
    const a = (await backend.createVolume({ id: "a", sizeGiB: 5 }))._unsafeUnwrap();
    const b = (await backend.createVolume({ id: "b", sizeGiB: 1 }))._unsafeUnwrap();
    const c = (await backend.createVolume({ id: "c", sizeGiB: 1 }))._unsafeUnwrap();
    expect([a.providerLocation, b.providerLocation, c.providerLocation]).toEqual([S1, S2, S2]);
    expect(fs.calls("du")[0]).toEqual(["du", "-sb", "--apparent-size", "--exclude=*snapshot*", D1]);
  });

  it("fails with INSUFFICIENT_CAPACITY naming each share's reason, creating nothing", async () => {
    const fs = new FakeShares([D1, D2]);
    fs.capacity.set(D1, { total: 10 * GiB, available: 9 * GiB });
    fs.capacity.set(D2, { total: 10 * GiB, available: 0 });
    const { backend } = await setup({ sparsedVolumes: false, reservedPercentage: 5 }, fs);
    const e = (await backend.createVolume({ id: "big", sizeGiB: 20 }))._unsafeUnwrapErr();
    expect(e.code).toBe("INSUFFICIENT_CAPACITY");
    expect(e.message).toContain(S1);
    expect(e.message).toContain(S2);
    expect(fs.names(D1)).toEqual([]);
    expect(fs.names(D2)).toEqual([]);
  });

  it("refuses a second volume with the same id on any share", async () => {
    const { backend, fs } = await setup();
    fs.put(`${D2}/volume-dup`, { kind: "image", format: "raw", size: GiB });
    expect((await backend.createVolume({ id: "dup", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("VOLUME_EXISTS");
  });

  it("removes the temporary when creation fails", async () => {
    const { backend, fs } = await setup();
    fs.runner.once(["chmod"], { exitCode: 1, stderr: "chmod: Operation not permitted" });
    expect((await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("COMMAND_FAILED");
    expect(fs.names(D1)).toEqual([]);
  });

  it("deletes every file of the volume (leftovers included), .info last; missing is success", async () => {
    const { backend, fs } = await setup();
    for (const n of ["volume-v1", "volume-v1.new.tmp", "volume-v10"]) fs.put(`${D2}/${n}`, { kind: "image", format: "raw", size: GiB });
    fs.put(`${D2}/volume-v1.info`, { kind: "text", text: '{"active": "volume-v1"}' });
    (await backend.deleteVolume({ id: "v1", sizeGiB: 1, providerLocation: S2 }))._unsafeUnwrap();
    expect(fs.calls("rm").at(-1)).toEqual(["rm", "-f", "--", `${D2}/volume-v1`, `${D2}/volume-v1.new.tmp`, `${D2}/volume-v1.info`]);
    expect(fs.names(D2)).toEqual(["volume-v10"]);
    (await backend.deleteVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
  });

  it("extends the active image after checking the share has room; a retry is a no-op", async () => {
    const { backend, fs } = await setup();
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    fs.runner.clearCalls();
    expect((await backend.extendVolume(v, 3))._unsafeUnwrap().sizeGiB).toBe(3);
    expect(fs.calls("qemu-img", "resize")).toEqual([["qemu-img", "resize", "-q", "-f", "raw", `${D1}/volume-v1`, String(3 * GiB)]]);
    (await backend.extendVolume({ ...v, sizeGiB: 3 }, 3))._unsafeUnwrap();
    expect(fs.calls("qemu-img", "resize")).toHaveLength(1);
  });

  it("initializeConnection returns NFS connection info once qemu-img confirms format and size", async () => {
    const { backend } = await setup({ mountOptions: "timeo=600", shares: [{ share: S1, options: "vers=3" }, S2] });
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    const info = (await backend.initializeConnection(v, { host: "compute-1" }))._unsafeUnwrap();
    expect(info).toEqual({
      type: "nfs",
      volumeId: "v1",
      accessMode: "rw",
      encrypted: false,
      discard: true,
      export: S1,
      name: "volume-v1",
      options: "timeo=600,vers=3",
      format: "raw",
      mountPointBase: "/var/lib/volkit/mnt",
    });
    const e = (await backend.initializeConnection({ ...v, sizeGiB: 2 }, { host: "compute-1" }))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_STATE");
  });

  it("clones and makes volumes from snapshots with qemu-img convert, growing when asked", async () => {
    const { backend, fs } = await setup();
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    const s = (await backend.createSnapshot({ id: "s1", volumeId: "v1", volumeSizeGiB: 1 }, v))._unsafeUnwrap();
    fs.runner.clearCalls();
    const c = (await backend.createClonedVolume({ id: "c1", sizeGiB: 2 }, v))._unsafeUnwrap();
    // The clone lands on the other (less allocated) share; the source is the active overlay.
    expect(c.providerLocation).toBe(S2);
    expect(fs.calls("qemu-img", "convert")).toEqual([["qemu-img", "convert", "-p", "-f", "qcow2", "-O", "raw", `${D1}/volume-v1.s1`, `${D2}/volume-c1.new.tmp`]]);
    expect(fs.calls("qemu-img", "resize")).toEqual([["qemu-img", "resize", "-q", "-f", "raw", `${D2}/volume-c1.new.tmp`, String(2 * GiB)]]);
    fs.runner.clearCalls();
    (await backend.createVolumeFromSnapshot({ id: "f1", sizeGiB: 1 }, s))._unsafeUnwrap();
    // A snapshot's data is its overlay's backing file.
    expect(fs.calls("qemu-img", "convert")[0]?.slice(-3)).toEqual(["raw", `${D1}/volume-v1`, `${D1}/volume-f1.new.tmp`]);
    const missing = await backend.createVolumeFromSnapshot({ id: "f2", sizeGiB: 1 }, { id: "nope", volumeId: "v1", volumeSizeGiB: 1 });
    expect(missing._unsafeUnwrapErr().code).toBe("SNAPSHOT_NOT_FOUND");
  });

  it("a failed convert leaves no file behind", async () => {
    const { backend, fs } = await setup();
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    fs.runner.once(["qemu-img", "convert"], { exitCode: 1, stderr: "qemu-img: error while writing at byte 0: No space left on device" });
    expect((await backend.createClonedVolume({ id: "c1", sizeGiB: 1 }, v))._unsafeUnwrapErr().code).toBe("COMMAND_FAILED");
    expect(fs.names(D2)).toEqual([]);
  });

  it("an image locked by a running VM is VOLUME_BUSY", async () => {
    const { backend, fs } = await setup();
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    fs.runner.once(["qemu-img", "resize"], { exitCode: 1, stderr: `qemu-img: Could not open '${D1}/volume-v1': Failed to get "write" lock\nIs another process using the image [${D1}/volume-v1]?` });
    expect((await backend.extendVolume(v, 2))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
  });
});

describe("NFS driver snapshots", () => {
  async function threeSnapshots() {
    const ctx = await setup();
    const v = (await ctx.backend.createVolume({ id: "v", sizeGiB: 1 }))._unsafeUnwrap();
    const snaps = [];
    for (const id of ["s1", "s2", "s3"]) snaps.push((await ctx.backend.createSnapshot({ id, volumeId: "v", volumeSizeGiB: 1 }, v))._unsafeUnwrap());
    ctx.fs.runner.clearCalls();
    return { ...ctx, v, snaps: snaps as [typeof snaps[0], typeof snaps[0], typeof snaps[0]] };
  }
  const info = (fs: FakeShares): unknown => JSON.parse((fs.get(`${D1}/volume-v.info`) as { text: string }).text);

  it("creates overlays with relative backing files; .info is written atomically (temp + rename)", async () => {
    const { fs } = await threeSnapshots();
    expect(fs.get(`${D1}/volume-v.s1`)).toMatchObject({ format: "qcow2", backing: "volume-v", backingFormat: "raw", mode: "0660" });
    expect(fs.get(`${D1}/volume-v.s2`)).toMatchObject({ backing: "volume-v.s1", backingFormat: "qcow2" });
    expect(info(fs)).toEqual({ active: "volume-v.s3", s1: "volume-v.s1", s2: "volume-v.s2", s3: "volume-v.s3" });
    expect(fs.get(`${D1}/volume-v.info`)).toMatchObject({ mode: "0660" });
  });

  it("creating a snapshot again returns it without a new overlay", async () => {
    const { backend, fs, v } = await threeSnapshots();
    (await backend.createSnapshot({ id: "s2", volumeId: "v", volumeSizeGiB: 1 }, v))._unsafeUnwrap();
    expect(fs.calls("qemu-img", "create")).toEqual([]);
  });

  it("refuses reserved snapshot ids", async () => {
    const { backend, v } = await threeSnapshots();
    expect((await backend.createSnapshot({ id: "info", volumeId: "v", volumeSizeGiB: 1 }, v))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
  });

  it("deleting the middle snapshot commits it into its backing and rebases the next overlay (unsafe)", async () => {
    const { backend, fs, snaps } = await threeSnapshots();
    (await backend.deleteSnapshot(snaps[1]))._unsafeUnwrap();
    expect(fs.calls("qemu-img", "commit")).toEqual([["qemu-img", "commit", "-q", "-f", "qcow2", `${D1}/volume-v.s2`]]);
    expect(fs.calls("qemu-img", "rebase")).toEqual([["qemu-img", "rebase", "-q", "-f", "qcow2", "-u", "-b", "volume-v.s1", "-F", "qcow2", `${D1}/volume-v.s3`]]);
    expect(info(fs)).toEqual({ active: "volume-v.s3", s1: "volume-v.s1", s3: "volume-v.s3" });
    expect(fs.names(D1)).toEqual(["volume-v", "volume-v.info", "volume-v.s1", "volume-v.s3"]);
  });

  it("deleting the oldest commits into the base image", async () => {
    const { backend, fs, snaps } = await threeSnapshots();
    (await backend.deleteSnapshot(snaps[0]))._unsafeUnwrap();
    expect(fs.calls("qemu-img", "rebase")[0]?.slice(-4)).toEqual(["volume-v", "-F", "raw", `${D1}/volume-v.s2`]);
    expect(fs.get(`${D1}/volume-v.s2`)).toMatchObject({ backing: "volume-v" });
  });

  it("deleting the newest commits the active overlay, whose backing becomes active", async () => {
    const { backend, fs, snaps } = await threeSnapshots();
    (await backend.deleteSnapshot(snaps[2]))._unsafeUnwrap();
    expect(fs.calls("qemu-img", "rebase")).toEqual([]);
    expect(info(fs)).toEqual({ active: "volume-v.s2", s1: "volume-v.s1", s2: "volume-v.s2" });
    // Deleting it again is a success that runs no qemu-img.
    (await backend.deleteSnapshot(snaps[2]))._unsafeUnwrap();
    expect(fs.calls("qemu-img", "commit")).toHaveLength(1);
  });

  it("deleting all three in any order ends with the base image active", async () => {
    const { backend, fs, snaps, v } = await threeSnapshots();
    for (const s of [snaps[1], snaps[0], snaps[2]]) (await backend.deleteSnapshot(s))._unsafeUnwrap();
    expect(info(fs)).toEqual({ active: "volume-v" });
    (await backend.deleteVolume(v))._unsafeUnwrap();
    expect(fs.names(D1)).toEqual([]);
  });

  it("finishes a delete interrupted after the rebase (the overlay already left the chain)", async () => {
    const { backend, fs, snaps } = await threeSnapshots();
    fs.put(`${D1}/volume-v.s3`, { ...(fs.get(`${D1}/volume-v.s3`) as object), backing: "volume-v.s1", backingFormat: "qcow2" } as never);
    (await backend.deleteSnapshot(snaps[1]))._unsafeUnwrap();
    expect(fs.calls("qemu-img", "commit")).toEqual([]);
    expect(info(fs)).toEqual({ active: "volume-v.s3", s1: "volume-v.s1", s3: "volume-v.s3" });
    expect(fs.get(`${D1}/volume-v.s2`)).toBeUndefined();
  });

  it("a volume with snapshots cannot be deleted", async () => {
    const { backend, v, fs } = await threeSnapshots();
    const e = (await backend.deleteVolume(v))._unsafeUnwrapErr();
    expect(e.code).toBe("VOLUME_BUSY");
    expect(e.details.snapshots).toEqual(["s1", "s2", "s3"]);
    expect(fs.calls("rm")).toEqual([]);
  });

  it("reverts to the newest snapshot by renaming a fresh overlay over the active one", async () => {
    const { backend, fs, v, snaps } = await threeSnapshots();
    (await backend.revertToSnapshot(v, snaps[2]))._unsafeUnwrap();
    const tmp = `${D1}/volume-v.s3.revert.tmp`;
    expect(fs.calls("qemu-img", "create")).toEqual([["qemu-img", "create", "-q", "-f", "qcow2", "-o", "backing_file=volume-v.s2,backing_fmt=qcow2", tmp, String(GiB)]]);
    expect(fs.calls("mv")).toEqual([["mv", "-f", "-T", "--", tmp, `${D1}/volume-v.s3`]]);
    const older = (await backend.revertToSnapshot(v, snaps[0]))._unsafeUnwrapErr();
    expect(older.code).toBe("INVALID_STATE");
  });

  it("refuses a .info file that points outside the volume", async () => {
    const { backend, fs, v } = await threeSnapshots();
    fs.put(`${D1}/volume-v.info`, { kind: "text", text: '{"active": "../../etc/shadow"}' });
    expect((await backend.initializeConnection(v, { host: "h" }))._unsafeUnwrapErr().code).toBe("INVALID_STATE");
  });

  it("snapshotSupport: false declares and returns NOT_SUPPORTED", async () => {
    const { backend } = await setup({ snapshotSupport: false });
    expect(backend.capabilities.snapshots).toBe(false);
    const v = (await backend.createVolume({ id: "v", sizeGiB: 1 }))._unsafeUnwrap();
    expect((await backend.createSnapshot({ id: "s", volumeId: "v", volumeSizeGiB: 1 }, v))._unsafeUnwrapErr().code).toBe("NOT_SUPPORTED");
  });
});

describe("NFS driver stats", () => {
  it("reports one pool per share and sums them", async () => {
    const { backend } = await setup();
    (await backend.createVolume({ id: "v1", sizeGiB: 2 }))._unsafeUnwrap();
    const stats = (await backend.getVolumeStats())._unsafeUnwrap();
    expect(stats.storageProtocol).toBe("nfs");
    expect(stats.totalCapacityGiB).toBe(200);
    expect(stats.freeCapacityGiB).toBe(180);
    expect(stats.pools).toHaveLength(2);
    expect(stats.pools[0]).toMatchObject({ poolName: S1, totalVolumes: 1, provisionedCapacityGiB: 2, thinProvisioningSupport: true, maxOverSubscriptionRatio: 20, backendState: "up" });
    expect(stats.pools[1]).toMatchObject({ poolName: S2, totalVolumes: 0, provisionedCapacityGiB: 0 });
  });
});
