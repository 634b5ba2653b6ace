/**
 * The volume service's image cache on the NFS driver with the real qemu-img, qemu-io, find and
 * grep of this host: a directory stands in for the mounted share (`LocalDirectoryMounts`; this
 * host's kernel has no NFS). The first volume from an image fills the cache; the second is a qcow2
 * overlay on the cache volume's file (a linked clone). Guest writes to the overlay leave the cached
 * base bit for bit unchanged; the overlay's guest view is the image plus the write; the cache entry
 * outlives a purge while a clone reads it; a clone of the overlay is a flattened independent copy.
 * Timings of the miss and the hit are printed, not asserted.
 *
 *   npx vitest run --project host test/host/nfs-image-cache.host.test.ts
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ok, type Result } from "neverthrow";
import type { VolkitError } from "../../src/core/errors.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineDriver } from "../../src/drivers/driver-definition.js";
import { createNfsDriver } from "../../src/drivers/nfs/index.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import { LocalDirectoryMounts } from "../../src/remotefs/local-directory-mounts.js";
import { createVolumeService, openMemoryStore, type ServiceStore, type VolumeService } from "../../src/service/index.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const SHARE = "127.0.0.1:/srv/nfs/cache";
const root = mkdtempSync(join(tmpdir(), "volkit-nfs-cache-host-"));
const shareDir = join(root, "share");
const scratch = join(root, "scratch");
const runner = createLocalRunner();
const timings: string[] = [];

/** The NFS driver on a local directory as a registered driver (`{ driver: "nfs-local" }`). */
const nfsLocal = defineDriver({
  name: "nfs-local",
  title: "NFS driver on a local directory (test)",
  description: "The NFS driver with a directory standing in for the mounted share",
  configSchema: z.object({ driver: z.literal("nfs-local"), backendName: z.string().optional() }),
  create: () => ok(createNfsDriver({ driver: "nfs", shares: [SHARE] }, { runner, mounts: new LocalDirectoryMounts({ runner, directories: { [SHARE]: shareDir } }) })._unsafeUnwrap()),
});

function sh(file: string, args: readonly string[]): string {
  return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 26 });
}
const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");
const fileSha = (path: string): string => sh("sha256sum", [path]).split(" ")[0] ?? "";
function readHead(path: string, bytes: number): Buffer {
  const buf = Buffer.alloc(bytes);
  const fd = openSync(path, "r");
  try {
    readSync(fd, buf, 0, bytes, 0);
  } finally {
    closeSync(fd);
  }
  return buf;
}
/** What a guest reads from an image chain: its first `bytes` (whole MiB), through `qemu-img dd` to raw. */
function guestView(path: string, bytes: number): Buffer {
  const out = join(scratch, `view-${Math.random().toString(16).slice(2)}.raw`);
  sh("qemu-img", ["dd", "-f", "qcow2", "-O", "raw", "bs=1M", `count=${bytes / MiB}`, `if=${path}`, `of=${out}`]);
  const head = readHead(out, bytes);
  rmSync(out);
  return head;
}
const info = (path: string): { format: string; "virtual-size": number; "backing-filename"?: string; "backing-filename-format"?: string } =>
  JSON.parse(sh("qemu-img", ["info", "--output=json", "-U", path])) as { format: string; "virtual-size": number; "backing-filename"?: string };

let store: ServiceStore;
let service: VolumeService;

beforeAll(async () => {
  mkdirSync(shareDir);
  mkdirSync(scratch);
  store = (await openMemoryStore())._unsafeUnwrap();
  service = (
    await createVolumeService(
      {
        backends: [{ name: "nfs", availabilityZone: "az1", config: { driver: "nfs-local" } }],
        volumeTypes: [{ name: "files", extraSpecs: { volume_backend_name: "nfs" } }],
        store: { kind: "memory" },
        host: { hostName: "host-test" },
        statsIntervalMs: 3_600_000,
        imageCache: { enabled: true, maxCount: 1 },
      },
      { runner, store, drivers: [nfsLocal] },
    )
  )._unsafeUnwrap();
});

afterAll(async () => {
  if (service !== undefined) (await service.close()).match(() => undefined, (e) => console.error(`close: ${e.message}`));
  if (store !== undefined) (await store.close()).match(() => undefined, () => undefined);
  rmSync(root, { recursive: true, force: true });
  console.log(`\n==== NFS image cache (host, real qemu-img) ====\n${timings.join("\n")}\n`);
});

async function must<T>(pending: PromiseLike<Result<T, VolkitError>>): Promise<T> {
  const r = await pending;
  if (r.isErr()) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

describe("image cache on the NFS driver (real qemu-img)", () => {
  it("the second volume from an image is a qcow2 overlay on the cached base; writes leave the base unchanged; the guest view is the image plus the write", async () => {
    // A 64 MiB qcow2 image with data at two offsets.
    const image = join(scratch, "os.qcow2");
    sh("qemu-img", ["create", "-q", "-f", "qcow2", image, String(64 * MiB)]);
    sh("qemu-io", ["-f", "qcow2", "-c", `write -q -P 0x5a 0 ${8 * MiB}`, "-c", `write -q -P 0xa5 ${40 * MiB} ${4 * MiB}`, image]);
    const imageView = guestView(image, 64 * MiB);
    const source = { kind: "image" as const, imageId: "os", path: image, sha256: fileSha(image), format: "qcow2" as const };

    let t0 = performance.now();
    const started = t0;
    const first = await must(service.createVolume({ id: "vm1", sizeGiB: 1, volumeType: "files", source }));
    timings.push(`1 GiB from a 64 MiB qcow2 image, cache miss (verify, convert, overlay): ${(performance.now() - t0).toFixed(0)} ms`);
    t0 = performance.now();
    const second = await must(service.createVolume({ id: "vm2", sizeGiB: 2, volumeType: "files", source }));
    timings.push(`2 GiB from the same image, cache hit (qcow2 overlay):                ${(performance.now() - t0).toFixed(0)} ms`);

    const [entry] = await must(service.listImageCache());
    const cacheId = entry?.volumeId ?? "";
    expect(entry).toMatchObject({ imageId: "os", backend: "nfs", hits: 2 });
    expect(second.source).toEqual({ kind: "image", imageId: "os", cacheVolumeId: cacheId });
    const base = join(shareDir, `volume-${cacheId}`);
    const overlay = join(shareDir, "volume-vm2");
    expect(info(overlay)).toMatchObject({ format: "qcow2", "virtual-size": 2 * GiB, "backing-filename": `volume-${cacheId}`, "backing-filename-format": "raw" });
    expect(info(join(shareDir, "volume-vm1"))).toMatchObject({ format: "qcow2", "backing-filename": `volume-${cacheId}` });
    expect(first.bootable && second.bootable).toBe(true);
    // The overlay holds only metadata: the data stays in the base.
    expect(Number(sh("du", ["-B1", "--", overlay]).split("\t")[0])).toBeLessThan(2 * MiB);

    const baseSha = fileSha(base);
    // A guest write through the overlay (qemu-io opens the chain as a VM would).
    sh("qemu-io", ["-f", "qcow2", "-c", `write -q -P 0x77 ${1 * MiB} ${1 * MiB}`, overlay]);
    expect(fileSha(base), "the cached base is never written").toBe(baseSha);
    const expected = Buffer.from(imageView);
    expected.fill(0x77, 1 * MiB, 2 * MiB);
    expect(sha256(guestView(overlay, 64 * MiB)), "overlay = image + the write").toBe(sha256(expected));
    expect(sha256(guestView(join(shareDir, "volume-vm1"), 64 * MiB)), "the other clone still reads the image").toBe(sha256(imageView));

    // Extend the overlay through the service: qemu-img resize of the overlay, base untouched.
    await must(service.extendVolume("vm2", 3));
    expect(info(overlay)).toMatchObject({ "virtual-size": 3 * GiB, "backing-filename": `volume-${cacheId}` });

    // An independent copy of the overlay (a clone): flattened, no backing file, same guest view.
    t0 = performance.now();
    await must(service.createVolume({ id: "copy", volumeType: "files", source: { kind: "volume", volumeId: "vm2" } }));
    timings.push(`3 GiB independent clone of the overlay (qemu-img convert, flattened): ${(performance.now() - t0).toFixed(0)} ms`);
    expect(info(join(shareDir, "volume-copy"))).not.toHaveProperty("backing-filename");
    expect(sha256(readHead(join(shareDir, "volume-copy"), 64 * MiB))).toBe(sha256(expected));

    // The entry outlives a purge while clones read it; the base is unchanged and still serves them.
    const purge = await must(service.purgeImageCache({ all: true }));
    expect(purge.failed.map((f) => f.error.code)).toEqual(["VOLUME_BUSY"]);
    expect(fileSha(base), "the base after extend, clone and a refused purge").toBe(baseSha);
    for (const id of ["vm1", "vm2", "copy"]) await must(service.deleteVolume(id));
    const purged = await must(service.purgeImageCache({ all: true }));
    expect(purged.removed.map((e) => e.imageId)).toEqual(["os"]);
    expect(readdirSync(shareDir)).toEqual([]);
    timings.push(`whole flow: ${(performance.now() - started).toFixed(0)} ms`);
  });
});
