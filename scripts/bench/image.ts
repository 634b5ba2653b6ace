/**
 * Benchmark 7 (inside the storage lab): a bootable volume from an image through the volume
 * service, with the image-volume cache (a hit: one thin snapshot clone of the cache volume)
 * against a full convert of the image every time (the cache disabled: verify the checksum, probe,
 * `qemu-img convert` into the new volume), on one LVM thin backend. The image is a qcow2 of 1 GiB
 * virtual size with `imageMiB` MiB of data; the volumes are 10 GiB. The first, filling create of
 * the cache is reported as its own row.
 */
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createVolumeService, type VolumeService, type VolumeServiceConfig } from "../../src/service/index.js";
import { alternate, must, run, time, type Results } from "./measure.js";

const VG = process.env.VOLKIT_LAB_VG_THIN ?? "volkit-thin";

/** Options of the image benchmark. */
export interface ImageOptions {
  /** Rounds (one cache hit and one full convert each). */
  readonly rounds: number;
  /** MiB of data written into the 1 GiB qcow2 image. */
  readonly imageMiB: number;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (d) => hash.update(d))
      .on("end", () => resolve(hash.digest("hex")))
      .on("error", reject);
  });
}

function serviceConfig(cache: boolean): VolumeServiceConfig {
  return {
    backends: [{ name: "lvm-thin", availabilityZone: "lab", config: { driver: "lvm", volumeGroup: VG, lvmType: "thin" } }],
    volumeTypes: [{ name: "thin", extraSpecs: { volume_backend_name: "lvm-thin" } }],
    store: { kind: "memory" },
    imageCache: { enabled: cache, maxCount: 4 },
  };
}

/** Runs benchmark 7 into `results`. */
export async function imageBenchmarks(results: Results, options: ImageOptions): Promise<void> {
  const work = mkdtempSync("/var/tmp/volkit-bench-image-");
  const services: VolumeService[] = [];
  try {
    const path = join(work, "image.qcow2");
    await run(["qemu-img", "create", "-q", "-f", "qcow2", path, "1G"]);
    await run(["qemu-io", "-f", "qcow2", "-c", `write -q -P 0x5a 0 ${options.imageMiB}M`, path]);
    const source = { kind: "image" as const, imageId: "bench-image", path, sha256: await sha256File(path), format: "qcow2" as const };
    const cached = await must(createVolumeService(serviceConfig(true)));
    services.push(cached);
    const plain = await must(createVolumeService(serviceConfig(false)));
    services.push(plain);
    const bench = `7 bootable 10 GiB volume from a 1 GiB qcow2 (${options.imageMiB} MiB data)`;
    const fill = await time(() => must(cached.createVolume({ id: "img-fill", sizeGiB: 10, volumeType: "thin", source })));
    results.add(bench, "cache miss (fill the cache, then clone)", fill.ms);
    await must(cached.deleteVolume(fill.value.id));
    for (let round = 1; round <= options.rounds; round++) {
      for (const who of alternate(round, "volkit", "convert")) {
        const service = who === "volkit" ? cached : plain;
        const r = await time(() => must(service.createVolume({ id: `img-${who}-${round}`, sizeGiB: 10, volumeType: "thin", source })));
        results.add(bench, who === "volkit" ? "volkit" : "full convert (cache disabled)", r.ms);
        await must(service.deleteVolume(r.value.id));
      }
      console.log(`image: round ${round}/${options.rounds}`);
    }
  } finally {
    for (const s of services) {
      const left = await s.listVolumes({ includeInternal: true });
      if (left.isOk()) for (const v of left.value) (await s.forceDelete(v.id)).match(() => undefined, (e) => console.error(`cleanup of ${v.id}: ${e.message}`));
      (await s.close()).match(() => undefined, (e) => console.error(`close: ${e.message}`));
    }
    rmSync(work, { recursive: true, force: true });
  }
}
