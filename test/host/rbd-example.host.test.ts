/**
 * examples/rbd-cached-image.ts on the REAL shared Ceph cluster: a bootable image (an MBR with the
 * boot signature, and data) cached once, then boot volumes cloned from it in about a second each,
 * holding exactly the image's bytes and sharing its data (rbd du):
 *
 *   npx vitest run --project host test/host/rbd-example.host.test.ts
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootVolume, cacheImage, dropCache } from "../../examples/rbd-cached-image.js";
import type { Volume } from "../../src/core/records.js";
import { rbdProfileCaps, type CephCluster } from "../../src/testing/ceph-cluster.js";
import { sharedCephCluster } from "./ceph-shared.js";
import { RbdPoolFixture, sha256 } from "./rbd-helpers.js";

const run = promisify(execFile);
const MiB = 1024 ** 2;
const POOL = `rbdex${process.pid}`;
const shared = sharedCephCluster();

describe("examples/rbd-cached-image.ts on a real Ceph cluster", () => {
  it("has its prerequisites (root, Ceph packages, qemu-utils; the shared cluster started)", () => {
    expect(shared instanceof Error ? shared.message : undefined).toBeUndefined();
  });
  if (shared instanceof Error) return;
  const cluster: CephCluster = shared;
  let fx: RbdPoolFixture;
  let dir = "";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "volkit-rbd-example-"));
    await cluster.createPool(POOL);
    fx = new RbdPoolFixture(cluster, POOL, await cluster.createClient(`volkitex${process.pid}`, rbdProfileCaps(POOL)));
  });

  afterAll(async () => {
    if (fx) expect(await fx.closeAll()).toBe(true);
    await cluster.ceph(["osd", "pool", "rm", POOL, POOL, "--yes-i-really-really-mean-it"]).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("caches a bootable image once, then clones boot volumes from it in about a second each, sharing its data", async () => {
    // A 1 GiB disk image: an MBR boot sector (signature 0x55AA) and 24 MiB of "system" data, as qcow2.
    const raw = join(dir, "boot.raw");
    const qcow = join(dir, "boot.qcow2");
    const system = randomBytes(24 * MiB);
    const mbr = Buffer.alloc(512);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    writeFileSync(raw, Buffer.concat([mbr, Buffer.alloc(MiB - 512), system]));
    await run("qemu-img", ["resize", "-f", "raw", raw, "1G"]);
    await run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, qcow]);
    const backend = await fx.backend();

    const cached = await cacheImage(backend, qcow, 1);
    const boots: Volume[] = [];
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { volume, ms } = await bootVolume(backend, cached, 10);
      boots.push(volume);
      times.push(ms);
    }
    console.log(`[rbd-example] boot volumes of 10 GiB cloned from the cached image in ${times.map((t) => `${Math.round(t)} ms`).join(", ")}`);
    // "About a second": each clone is a few rbd metadata calls, whatever the image size.
    expect(Math.min(...times)).toBeLessThan(5000);
    for (const v of boots) {
      expect(v.sizeGiB).toBe(10);
      const head = await fx.read(`volume-${v.id}`, MiB + 24 * MiB);
      expect(head.readUInt16BE(510)).toBe(0x55aa);
      expect(sha256(head.subarray(MiB))).toBe(sha256(system));
    }
    const du = (await fx.json<{ images: { name: string; snapshot?: string; used_size: number }[] }>(["du", "--pool", POOL])).images;
    expect(boots.map((v) => du.find((r) => r.name === `volume-${v.id}` && r.snapshot === undefined)?.used_size)).toEqual([0, 0, 0]);
    const info = await fx.json<{ parent?: { image: string; snapshot: string } }>(["info", `${POOL}/volume-${boots[0]?.id ?? ""}`]);
    expect(info.parent).toEqual(expect.objectContaining({ image: `volume-${cached.volume.id}`, snapshot: `snapshot-${cached.snapshot.id}` }));

    await dropCache(backend, cached, boots);
    expect(await fx.json<string[]>(["ls", POOL])).toEqual([]);
    expect(await fx.json<unknown[]>(["trash", "ls", POOL])).toEqual([]);
  });
});
