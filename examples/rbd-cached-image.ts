/**
 * Boot volumes from a cached image on Ceph RBD, the way clouds on Ceph create VMs in seconds:
 * the image is written ONCE into an image volume and snapshotted (the cache); every boot volume
 * is then a copy-on-write clone of that snapshot (protected on first use), made in about a second
 * whatever the image's size, sharing its data until the guest writes.
 *
 *   CEPH_CONF=/etc/ceph/ceph.conf CEPH_CLIENT=cinder CEPH_POOL=volumes \
 *     npx tsx examples/rbd-cached-image.ts ./cirros.qcow2
 *
 * (the client's keyring from /etc/ceph, or CEPH_KEYRING). test/host/rbd-example.host.test.ts runs
 * these functions on a real cluster, so what this file claims stays true.
 */
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import type { ResultAsync } from "neverthrow";
import { createBackend, type Snapshot, type VolkitError, type Volume, type VolumeBackend } from "../src/index.js";

/** A cached image: the volume holding it and the snapshot boot volumes are cloned from. */
export interface CachedImage {
  /** The image volume (written once). */
  readonly volume: Volume;
  /** Its snapshot, the parent of every boot volume. */
  readonly snapshot: Snapshot;
}

/** Throws the error of a failed step (examples keep error handling short; real code switches on `code`). */
async function must<T>(pending: ResultAsync<T, VolkitError>): Promise<T> {
  const r = await pending;
  if (r.isErr()) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

/**
 * Writes an image file (qcow2, raw… as qemu-img reads it) into a new image volume of `sizeGiB`
 * through librbd (no attach) and snapshots it: the cache entry.
 */
export async function cacheImage(backend: VolumeBackend, imagePath: string, sizeGiB: number): Promise<CachedImage> {
  const volume = await must(backend.createVolume({ id: `image-${randomUUID()}`, sizeGiB, displayName: "cached image" }));
  await must(backend.copyImageToVolume({ path: imagePath }, volume));
  const snapshot = await must(backend.createSnapshot({ id: randomUUID(), volumeId: volume.id, volumeSizeGiB: sizeGiB }, volume));
  return { volume, snapshot };
}

/** A bootable volume cloned from the cache (copy-on-write), and how long it took. */
export async function bootVolume(backend: VolumeBackend, cached: CachedImage, sizeGiB: number): Promise<{ readonly volume: Volume; readonly ms: number }> {
  const started = performance.now();
  const volume = await must(backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: Math.max(sizeGiB, cached.snapshot.volumeSizeGiB), displayName: "boot volume" }, cached.snapshot));
  return { volume, ms: performance.now() - started };
}

/** Deletes boot volumes, then the cache entry (snapshot, then image volume). */
export async function dropCache(backend: VolumeBackend, cached: CachedImage, bootVolumes: readonly Volume[]): Promise<void> {
  for (const v of bootVolumes) await must(backend.deleteVolume(v));
  await must(backend.deleteSnapshot(cached.snapshot));
  await must(backend.deleteVolume(cached.volume));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const image = process.argv[2];
  if (image === undefined) throw new Error("usage: npx tsx examples/rbd-cached-image.ts <image file>");
  const backend = await must(
    createBackend({
      driver: "rbd",
      clientId: process.env.CEPH_CLIENT ?? "cinder",
      pool: process.env.CEPH_POOL ?? "volumes",
      ...(process.env.CEPH_CONF ? { confPath: process.env.CEPH_CONF } : {}),
      ...(process.env.CEPH_KEYRING ? { keyringPath: process.env.CEPH_KEYRING } : {}),
    }),
  );
  const cached = await cacheImage(backend, image, 2);
  console.log(`cached ${image} as volume ${cached.volume.id}, snapshot ${cached.snapshot.id}`);
  const boots: Volume[] = [];
  for (let i = 0; i < 3; i++) {
    const { volume, ms } = await bootVolume(backend, cached, 10);
    boots.push(volume);
    console.log(`boot volume ${volume.id} (${volume.sizeGiB} GiB) cloned in ${Math.round(ms)} ms`);
  }
  await dropCache(backend, cached, boots);
  await must(backend.close());
}
