import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { openMemoryStore, type ServiceStore, type VolumeService } from "../../../src/service/index.js";
import { must, readVolume, world, type LinkedCloneDriver, type World } from "./service-harness.js";

/**
 * The image cache on a backend with linked clones (the NFS driver's qcow2 overlays, played here
 * by a memory driver that refuses to delete a linked clone's source): a hit is a linked clone, the
 * new volume's record names the cache volume it reads, and neither LRU eviction nor a purge ever
 * deletes a cache volume a volume still reads; the entry goes once its last clone is deleted.
 */

const dir = mkdtempSync(join(tmpdir(), "volkit-linked-cache-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("image cache with linked clones", () => {
  let store: ServiceStore;
  let w: World;
  let service: VolumeService;
  const image = (content: Buffer): { path: string; sha256: string } => {
    const path = join(dir, `img-${++n}.raw`);
    writeFileSync(path, content);
    return { path, sha256: createHash("sha256").update(content).digest("hex") };
  };
  const linked = (): LinkedCloneDriver => w.a as LinkedCloneDriver;
  const cacheVolumeOf = async (imageId: string): Promise<string> => (await must(service.listImageCache())).find((e) => e.imageId === imageId)?.volumeId ?? "";

  beforeEach(async () => {
    store = await must(openMemoryStore());
    w = world(store, { linkedClonesA: true });
    service = await w.open();
  });
  afterEach(async () => {
    await must(service.close());
    await must(store.close());
  });

  it("a hit is a linked clone of the cache volume; the record names the cache volume it reads", async () => {
    const content = randomBytes(8192);
    const img = image(content);
    const first = await must(service.createVolume({ id: "vm1", sizeGiB: 2, volumeType: "gold", source: { kind: "image", imageId: "debian", ...img } }));
    const second = await must(service.createVolume({ id: "vm2", sizeGiB: 3, volumeType: "gold", source: { kind: "image", imageId: "debian", ...img } }));
    const cacheId = await cacheVolumeOf("debian");
    expect(cacheId).toMatch(/^img-/);
    for (const v of [first, second]) expect(v.source).toEqual({ kind: "image", imageId: "debian", cacheVolumeId: cacheId });
    expect(Object.fromEntries(linked().links)).toEqual({ vm1: cacheId, vm2: cacheId });
    for (const id of ["vm1", "vm2"]) expect((await readVolume(w.a, id, content.length)).equals(content)).toBe(true);
    // A backend without linked clones (mem-b) makes an ordinary clone and records no link.
    const plain = await must(service.createVolume({ id: "vm3", sizeGiB: 1, volumeType: "silver", source: { kind: "image", imageId: "debian", ...img } }));
    expect(plain).toMatchObject({ backend: "mem-b", source: { kind: "image", imageId: "debian" } });
    expect(plain.source).not.toHaveProperty("cacheVolumeId");
    expect((await readVolume(w.b, "vm3", content.length)).equals(content)).toBe(true);
  });

  it("LRU eviction skips a cache volume that clones read (the entry stays over the limit) and evicts it once its last clone is gone", async () => {
    const contents = [0, 1, 2, 3].map((i) => randomBytes(1024 + i));
    const imgs = contents.map((c) => image(c));
    for (const i of [0, 1, 2]) await must(service.createVolume({ id: `vm${i}`, sizeGiB: 1, volumeType: "gold", source: { kind: "image", imageId: `os-${i}`, ...(imgs[i] as { path: string; sha256: string }) } }));
    // maxCount is 2, but every entry is read by a clone: none is evicted, no volume is in error.
    expect((await must(service.listImageCache())).map((e) => e.imageId)).toEqual(["os-0", "os-1", "os-2"]);
    const all = await must(service.listVolumes({ includeInternal: true }));
    expect(all.map((v) => v.status).every((s) => s === "available")).toBe(true);

    const os0Cache = await cacheVolumeOf("os-0");
    await must(service.deleteVolume("vm0"));
    await must(service.createVolume({ id: "vm3", sizeGiB: 1, volumeType: "gold", source: { kind: "image", imageId: "os-3", ...(imgs[3] as { path: string; sha256: string }) } }));
    // os-0's clone is gone: its entry (the least recently used) is evicted; os-1 and os-2 still have clones.
    expect((await must(service.listImageCache())).map((e) => e.imageId)).toEqual(["os-1", "os-2", "os-3"]);
    expect(w.a.volumeIds()).not.toContain(os0Cache);
    for (const i of [1, 2, 3]) expect((await readVolume(w.a, `vm${i}`, (contents[i] as Buffer).length)).equals(contents[i] as Buffer)).toBe(true);
    const after = await must(service.listVolumes({ includeInternal: true }));
    expect(after.filter((v) => v.status !== "available")).toEqual([]);
  });

  it("a purge keeps an entry that clones read (VOLUME_BUSY in failed, nothing touched) and removes it after the last clone", async () => {
    const content = randomBytes(4096);
    await must(service.createVolume({ id: "vm1", sizeGiB: 1, volumeType: "gold", source: { kind: "image", imageId: "debian", ...image(content) } }));
    const cacheId = await cacheVolumeOf("debian");
    const kept = await must(service.purgeImageCache({ all: true }));
    expect(kept.removed).toEqual([]);
    expect(kept.failed.map((f) => [f.entry.imageId, f.error.code])).toEqual([["debian", "VOLUME_BUSY"]]);
    expect(kept.failed[0]?.error.message).toContain("1 linked clone(s)");
    expect((await must(service.getVolume(cacheId))).status).toBe("available");
    expect(w.a.volumeIds()).toContain(cacheId);

    await must(service.deleteVolume("vm1"));
    const purged = await must(service.purgeImageCache({ all: true }));
    expect([purged.removed.map((e) => e.imageId), purged.failed]).toEqual([["debian"], []]);
    expect(w.a.volumeIds()).toEqual([]);
  });
});
