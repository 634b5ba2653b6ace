import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { wrapDriver, type VolumeBackend } from "../../../../src/drivers/backend.js";
import { createNfsDriver, type NfsConfig } from "../../../../src/drivers/nfs/index.js";
import { checkSnapshotId } from "../../../../src/drivers/nfs/nfs-names.js";
import { formatInfoFile, parseInfoFile, parseInfoFilePaths, parseVolumeImage } from "../../../../src/drivers/nfs/nfs-parsers.js";
import { LocalDirectoryMounts } from "../../../../src/remotefs/local-directory-mounts.js";
import { FakeShares } from "./fake-share.js";

/**
 * Linked clones on NFS (an image-cache hit): a qcow2 overlay on another volume's base image,
 * described by the clone's `.info` (`backing`), with the source marked `frozen`. Parsers against
 * the captured fixtures (test/fixtures/nfs/capture-host.sh), flows against the FakeShares model.
 */

const GiB = 1024 ** 3;
const S1 = "10.0.0.5:/export/a";
const S2 = "10.0.0.6:/export/b";
const D1 = "/mnt/s1";
const D2 = "/mnt/s2";
const FIXTURES = join(import.meta.dirname, "../../../fixtures/nfs");
const fx = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");

async function setup(config: Partial<NfsConfig> = {}): Promise<{ backend: VolumeBackend; fs: FakeShares }> {
  const fs = new FakeShares([D1, D2]);
  const mounts = new LocalDirectoryMounts({ runner: fs.runner, directories: { [S1]: D1, [S2]: D2 } });
  const backend = wrapDriver(createNfsDriver({ driver: "nfs", shares: [S1, S2], ...config }, { runner: fs.runner, mounts })._unsafeUnwrap());
  (await backend.setup())._unsafeUnwrap();
  fs.runner.clearCalls();
  return { backend, fs };
}

/** A cache volume on share 2 (the one a clone must follow, not the least allocated) and its linked clone. */
async function withClone(config: Partial<NfsConfig> = {}): Promise<{ backend: VolumeBackend; fs: FakeShares }> {
  const { backend, fs } = await setup(config);
  fs.put(`${D2}/volume-cache`, { kind: "image", format: "raw", size: GiB, mode: "0660" });
  (await backend.createLinkedClone({ id: "vm1", sizeGiB: 2 }, { id: "cache", sizeGiB: 1, providerLocation: S2 }))._unsafeUnwrap();
  fs.runner.clearCalls();
  return { backend, fs };
}

describe("linked clone parsers (captured output)", () => {
  it("accepts the captured linked clone only as an overlay on exactly the base its .info names", () => {
    const out = fx("qemu-info-linked-clone.json");
    expect(parseVolumeImage(out, { name: "volume-cccc", volumeId: "cccc", backing: true, linkedTo: "volume-aaaa" })._unsafeUnwrap()).toEqual({
      format: "qcow2",
      virtualSize: 2 * GiB,
      backing: "volume-aaaa",
      backingFormat: "raw",
    });
    // Without the .info's word, another volume's file is not an acceptable backing.
    expect(parseVolumeImage(out, { name: "volume-cccc", volumeId: "cccc", backing: true })._unsafeUnwrapErr().message).toContain("not an image of volume cccc");
    expect(parseVolumeImage(out, { name: "volume-cccc", volumeId: "cccc", backing: true, linkedTo: "volume-bbbb" })._unsafeUnwrapErr().code).toBe("INVALID_STATE");
    // A planted absolute backing is refused even when a link is expected.
    expect(parseVolumeImage(fx("qemu-info-absolute-backing.json"), { name: "volume-evil2.s1", volumeId: "evil2", backing: true, linkedTo: "volume-aaaa" }).isErr()).toBe(true);
  });

  it("reads the volume ids of the captured .info search", () => {
    expect(parseInfoFilePaths(fx("find-linked-clones.txt"))).toEqual(["aaaa", "cccc"]);
    expect(parseInfoFilePaths("")).toEqual([]);
  });

  it("round-trips the backing and frozen keys; refuses a backing that is not another volume's base", () => {
    const clone = { active: "volume-c", snapshots: { s1: "volume-c.s1" }, backing: "volume-cache" };
    expect(formatInfoFile(clone)).toBe('{\n "active": "volume-c",\n "backing": "volume-cache",\n "s1": "volume-c.s1"\n}\n');
    expect(parseInfoFile(formatInfoFile(clone), "c")._unsafeUnwrap()).toEqual(clone);
    const base = { active: "volume-cache", snapshots: {}, frozen: true };
    expect(parseInfoFile(formatInfoFile(base), "cache")._unsafeUnwrap()).toEqual(base);
    for (const bad of ['"/etc/passwd"', '"volume-c"', '"volume-x.s1"', '"../volume-x"', "1"]) {
      expect(parseInfoFile(`{"active": "volume-c", "backing": ${bad}}`, "c")._unsafeUnwrapErr().code).toBe("INVALID_STATE");
    }
    expect(parseInfoFile('{"active": "volume-c", "frozen": "yes"}', "c").isErr()).toBe(true);
    expect(checkSnapshotId("backing").isErr()).toBe(true);
    expect(checkSnapshotId("frozen").isErr()).toBe(true);
  });
});

describe("NFS linked clones", () => {
  it("creates a qcow2 overlay with the relative backing volume-<source> on the source's share, writes .info, freezes the source", async () => {
    const { backend, fs } = await setup({ qcow2Volumes: true });
    fs.put(`${D2}/volume-cache`, { kind: "image", format: "qcow2", size: GiB, mode: "0660" });
    const v = (await backend.createLinkedClone({ id: "vm1", sizeGiB: 10 }, { id: "cache", sizeGiB: 1, providerLocation: S2 }))._unsafeUnwrap();
    expect(v).toEqual({ id: "vm1", sizeGiB: 10, providerLocation: S2 });
    const tmp = `${D2}/volume-vm1.new.tmp`;
    // No preallocation: preallocated clusters would hide the backing's data.
    expect(fs.calls("qemu-img", "create")).toEqual([["qemu-img", "create", "-q", "-f", "qcow2", "-o", "backing_file=volume-cache,backing_fmt=qcow2", tmp, String(10 * GiB)]]);
    expect(fs.calls("mv").at(-1)).toEqual(["mv", "-f", "-T", "--", tmp, `${D2}/volume-vm1`]);
    expect(fs.get(`${D2}/volume-vm1`)).toMatchObject({ kind: "image", format: "qcow2", size: 10 * GiB, backing: "volume-cache", backingFormat: "qcow2", mode: "0660" });
    expect(fs.get(`${D2}/volume-vm1.info`)).toMatchObject({ text: '{\n "active": "volume-vm1",\n "backing": "volume-cache"\n}\n' });
    expect(fs.get(`${D2}/volume-cache.info`)).toMatchObject({ text: '{\n "active": "volume-cache",\n "frozen": "true"\n}\n' });
    expect(fs.calls("qemu-img", "convert")).toEqual([]);
    expect(fs.names(D2)).toEqual(["volume-cache", "volume-cache.info", "volume-vm1", "volume-vm1.info"]);
  });

  it("connection info says qcow2 and names the overlay; the base it reads is checked against .info", async () => {
    const { backend, fs } = await withClone();
    const info = (await backend.initializeConnection({ id: "vm1", sizeGiB: 2, providerLocation: S2 }, { host: "h1" }))._unsafeUnwrap();
    expect(info).toMatchObject({ type: "nfs", export: S2, name: "volume-vm1", format: "qcow2" });
    // The clone is read as qcow2, never probed.
    expect(fs.calls("qemu-img", "info")).toEqual([["qemu-img", "info", "--output=json", "-U", "-f", "qcow2", `${D2}/volume-vm1`]]);
    // Someone re-pointed the overlay at another volume: refused.
    fs.put(`${D2}/volume-other`, { kind: "image", format: "raw", size: GiB });
    fs.put(`${D2}/volume-vm1`, { kind: "image", format: "qcow2", size: 2 * GiB, backing: "volume-other", backingFormat: "raw" });
    const e = (await backend.initializeConnection({ id: "vm1", sizeGiB: 2, providerLocation: S2 }, { host: "h1" }))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_STATE");
    expect(e.message).toContain("volume-other is not volume-cache");
  });

  it("the source refuses its delete while a clone reads it (VOLUME_BUSY naming it), and deletes after the clone is gone", async () => {
    const { backend, fs } = await withClone();
    const busy = (await backend.deleteVolume({ id: "cache", sizeGiB: 1, providerLocation: S2 }))._unsafeUnwrapErr();
    expect(busy.code).toBe("VOLUME_BUSY");
    expect(busy.details).toMatchObject({ linkedClones: ["vm1"] });
    expect(fs.calls("rm")).toEqual([]);
    expect(fs.get(`${D2}/volume-cache`)).toBeDefined();
    // The clone's delete removes its own files only.
    (await backend.deleteVolume({ id: "vm1", sizeGiB: 2, providerLocation: S2 }))._unsafeUnwrap();
    expect(fs.names(D2)).toEqual(["volume-cache", "volume-cache.info"]);
    (await backend.deleteVolume({ id: "cache", sizeGiB: 1, providerLocation: S2 }))._unsafeUnwrap();
    expect(fs.names(D2)).toEqual([]);
  });

  it("the frozen source is never written: extend, image import, snapshot and a read-write connection are refused; read-only works", async () => {
    const { backend, fs } = await withClone();
    const cache = { id: "cache", sizeGiB: 1, providerLocation: S2 };
    fs.put("/tmp/image.raw", { kind: "image", format: "raw", size: GiB });
    const refused = [
      await backend.extendVolume(cache, 2),
      await backend.copyImageToVolume({ path: "/tmp/image.raw", format: "raw" }, cache),
      await backend.createSnapshot({ id: "s1", volumeId: "cache", volumeSizeGiB: 1 }, cache),
      await backend.initializeConnection(cache, { host: "h1" }),
    ];
    for (const r of refused) {
      expect(r._unsafeUnwrapErr().code).toBe("INVALID_STATE");
      expect(r._unsafeUnwrapErr().message).toContain("never written again");
    }
    expect([...fs.calls("qemu-img", "resize"), ...fs.calls("qemu-img", "convert"), ...fs.calls("qemu-img", "create")]).toEqual([]);
    expect((await backend.initializeConnection(cache, { host: "h1", readOnly: true }))._unsafeUnwrap()).toMatchObject({ accessMode: "ro", format: "raw" });
  });

  it("extends the clone's overlay with qemu-img resize (no preallocation), the source untouched", async () => {
    const { backend, fs } = await withClone({ qcow2Volumes: true });
    (await backend.extendVolume({ id: "vm1", sizeGiB: 2, providerLocation: S2 }, 5))._unsafeUnwrap();
    expect(fs.calls("qemu-img", "resize")).toEqual([["qemu-img", "resize", "-q", "-f", "qcow2", `${D2}/volume-vm1`, String(5 * GiB)]]);
    expect(fs.get(`${D2}/volume-cache`)).toMatchObject({ size: GiB });
  });

  it("a clone of the clone and a volume from its snapshot are flattened copies (qemu-img convert of the chain, no backing)", async () => {
    const { backend, fs } = await withClone();
    const vm1 = { id: "vm1", sizeGiB: 2, providerLocation: S2 };
    (await backend.createClonedVolume({ id: "copy", sizeGiB: 2 }, vm1))._unsafeUnwrap();
    expect(fs.calls("qemu-img", "convert")[0]?.slice(-2)).toEqual([`${D2}/volume-vm1`, expect.stringMatching(/volume-copy\.new\.tmp$/)]);
    const copy = [...fs.dirs.values()].map((d) => d.get("volume-copy")).find((f) => f !== undefined);
    expect(copy).toMatchObject({ kind: "image", format: "raw" });
    expect(copy).not.toHaveProperty("backing");
    // Snapshots on the clone stack on its overlay; deleting the newest commits into the clone's overlay, .info keeps the link.
    const snap = (await backend.createSnapshot({ id: "s1", volumeId: "vm1", volumeSizeGiB: 2 }, vm1))._unsafeUnwrap();
    expect(fs.get(`${D2}/volume-vm1.s1`)).toMatchObject({ backing: "volume-vm1", backingFormat: "qcow2" });
    (await backend.createVolumeFromSnapshot({ id: "fromsnap", sizeGiB: 2 }, snap))._unsafeUnwrap();
    expect(fs.calls("qemu-img", "convert").at(-1)?.slice(-2)).toEqual([`${D2}/volume-vm1`, expect.stringMatching(/volume-fromsnap\.new\.tmp$/)]);
    (await backend.deleteSnapshot(snap))._unsafeUnwrap();
    expect(fs.calls("qemu-img", "commit").map((a) => a.at(-1))).toEqual([`${D2}/volume-vm1.s1`]);
    expect(parseInfoFile((fs.get(`${D2}/volume-vm1.info`) as { text: string }).text, "vm1")._unsafeUnwrap()).toEqual({ active: "volume-vm1", snapshots: {}, backing: "volume-cache" });
    expect((await backend.initializeConnection(vm1, { host: "h1" }))._unsafeUnwrap()).toMatchObject({ name: "volume-vm1", format: "qcow2" });
  });

  it("refuses a source with snapshots or that is itself a linked clone, and an existing id; a failed overlay leaves no file of the clone", async () => {
    const { backend, fs } = await withClone();
    const fromClone = (await backend.createLinkedClone({ id: "vm2", sizeGiB: 2 }, { id: "vm1", sizeGiB: 2, providerLocation: S2 }))._unsafeUnwrapErr();
    expect(fromClone.code).toBe("INVALID_STATE");
    const withSnapshot = { id: "snapped", sizeGiB: 1, providerLocation: S2 };
    fs.put(`${D2}/volume-snapped`, { kind: "image", format: "raw", size: GiB });
    (await backend.createSnapshot({ id: "s1", volumeId: "snapped", volumeSizeGiB: 1 }, withSnapshot))._unsafeUnwrap();
    expect((await backend.createLinkedClone({ id: "vm4", sizeGiB: 2 }, withSnapshot))._unsafeUnwrapErr().message).toContain("has snapshots");
    // The runtime checks the sizes first: nothing runs.
    fs.runner.clearCalls();
    expect((await backend.createLinkedClone({ id: "small", sizeGiB: 1 }, { id: "vm1", sizeGiB: 2, providerLocation: S2 }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(fs.runner.commands()).toEqual([]);
    const exists = (await backend.createLinkedClone({ id: "vm1", sizeGiB: 2 }, { id: "cache", sizeGiB: 1, providerLocation: S2 }))._unsafeUnwrapErr();
    expect(exists.code).toBe("VOLUME_EXISTS");
    fs.runner.once(["qemu-img", "create"], { exitCode: 1, stderr: "qemu-img: No space left on device\n" });
    const failed = (await backend.createLinkedClone({ id: "vm3", sizeGiB: 2 }, { id: "cache", sizeGiB: 1, providerLocation: S2 }))._unsafeUnwrapErr();
    expect(failed.code).toBe("COMMAND_FAILED");
    expect(fs.names(D2).filter((n) => n.startsWith("volume-vm3"))).toEqual([]);
    expect(fs.names(D1)).toEqual([]);
  });
});
