/**
 * An orchestrator's day with the volume service (`volkit/service`): one object, created from a
 * config, that places volumes on two backends by volume type, builds VMs' boot volumes from an
 * image through the image cache, attaches them for a VM with the libvirt XML, snapshots, migrates
 * between backends, detaches and deletes, while a panel would watch its events.
 *
 *   two backends: LVM thin exported by LIO (multipath over two portals) and NFS
 *   two types:    "fast" (volume_backend_name lvm-thin, front-end QoS) and "files" (storage_protocol nfs)
 *
 * Run it where lvm2, LIO, open-iscsi and an NFS server exist, e.g. inside the storage lab:
 *   npx tsx lab/run.ts -- npx tsx examples/service.ts
 * `npm run demo` runs the same day with checks of the data at each step (examples/service-demo.ts).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ResultAsync } from "neverthrow";
import type { VolkitError } from "../src/index.js";
import { createVolumeService, type VolumeService, type VolumeServiceConfig } from "../src/service/index.js";

/** The two backends and two types of the day, from the lab's environment (or your own). */
export function dayConfig(storePath: string): VolumeServiceConfig {
  const vg = process.env.VOLKIT_LAB_VG_THIN ?? "cinder-volumes";
  const portals = (process.env.VOLKIT_LAB_PORTALS ?? "127.0.0.1").split(",").map((ip) => `${ip}:${process.env.VOLKIT_LAB_LIO_PORT ?? "3260"}`);
  const share = (process.env.VOLKIT_LAB_NFS_SHARES ?? "127.0.0.1:/srv/nfs/share1").split(",")[0] ?? "";
  return {
    backends: [
      { name: "lvm-thin", availabilityZone: "az1", config: { driver: "lvm", volumeGroup: vg, lvmType: "thin", target: { helper: "lio", portals, chap: true } } },
      { name: "nfs", availabilityZone: "az1", config: { driver: "nfs", shares: [share] } },
    ],
    qosSpecs: [{ name: "fast-qos", consumer: "front-end", specs: { total_iops_sec_per_gb: 500, total_bytes_sec: 200 * 1024 * 1024 } }],
    volumeTypes: [
      { name: "fast", description: "LVM thin over iSCSI", extraSpecs: { volume_backend_name: "lvm-thin", "provisioning:type": "thin" }, qosSpecs: "fast-qos" },
      { name: "files", description: "files on NFS", extraSpecs: { storage_protocol: "nfs" } },
    ],
    defaultVolumeType: "fast",
    store: { kind: "sqlite", path: storePath },
    host: { connectors: { iscsi: { multipath: portals.length > 1, enforceMultipath: portals.length > 1 } } },
    imageCache: { enabled: true, maxCount: 8 },
  };
}

/** A boot image: a 1 GiB qcow2 with 32 MiB written (what an OS image would be), and its sha256. */
export function makeImage(dir: string): { path: string; sha256: string } {
  const path = join(dir, "debian-12.qcow2");
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", path, "1G"]);
  execFileSync("qemu-io", ["-f", "qcow2", "-c", `write -q -P 0x5a 0 ${32 * 1024 * 1024}`, path]);
  return { path, sha256: createHash("sha256").update(readFileSync(path)).digest("hex") };
}

/** Awaits a service call, printing it with its duration; throws on an error. */
export async function step<T>(title: string, run: () => ResultAsync<T, VolkitError>): Promise<T> {
  const t0 = performance.now();
  const r = await run();
  const ms = (performance.now() - t0).toFixed(0).padStart(7);
  if (r.isErr()) {
    console.log(`  ${title.padEnd(64)} FAILED after ${ms.trim()} ms\n    ${r.error.code}: ${r.error.message}`);
    throw r.error;
  }
  console.log(`  ${title.padEnd(64)} ${ms} ms`);
  return r.value;
}

/** The day itself: what an orchestrator does with the service; everything it makes is deleted at the end. */
export async function orchestratorDay(service: VolumeService, image: { path: string; sha256: string }, migrateTo = "nfs"): Promise<void> {
  const source = { kind: "image" as const, imageId: "debian-12", path: image.path, sha256: image.sha256, format: "qcow2" as const };
  // Two VMs from one image: the first converts it once into the cache, the second is a thin clone.
  const boot1 = await step("boot volume 1 from the image (cache miss: verify, convert, clone)", () => service.createVolume({ name: "vm-1 boot", sizeGiB: 10, volumeType: "fast", source }));
  const boot2 = await step("boot volume 2 from the image (cache hit: thin clone)", () => service.createVolume({ name: "vm-2 boot", sizeGiB: 10, volumeType: "fast", source }));
  const scratch = await step("scratch volume on the files type (routed to NFS)", () => service.createVolume({ name: "vm-1 scratch", sizeGiB: 1, volumeType: "files" }));
  const data = await step("data volume on the fast type", () => service.createVolume({ name: "vm-1 data", sizeGiB: 1 }));
  console.log(`    ${boot1.id} on ${boot1.backend}#${boot1.pool}, ${scratch.id} on ${scratch.backend}#${scratch.pool}`);

  // Attach for vm-1: the device on this host and the <disk> the hypervisor needs.
  const att = await step("attach boot volume 1 for vm-1 (export, login, multipath, XML)", () =>
    service.attachVolume({ volumeId: boot1.id, instanceId: "vm-1", disk: { target: { dev: "vda", bus: "virtio" } } }),
  );
  console.log(`    ${att.device.path} (${att.device.multipathId ?? "single path"})\n${(att.xml ?? "").replace(/^/gm, "    ")}`);
  const snap = await step("snapshot it while attached (force)", () => service.createSnapshot(boot1.id, { name: "before upgrade", force: true }));
  await step("detach (from the stored attachment)", () => service.detachVolume({ attachmentId: att.attachment.id }));

  // Move the data volume to NFS (host-assisted copy through this host).
  const moved = await step(`migrate the data volume to ${migrateTo}`, () => service.migrateVolume(data.id, { backend: migrateTo }));
  console.log(`    now on ${moved.backend}#${moved.pool}`);

  await step("delete the snapshot", () => service.deleteSnapshot(snap.id));
  for (const v of [boot1, boot2, scratch, data]) await step(`delete ${v.name ?? v.id}`, () => service.deleteVolume(v.id));
}

async function main(): Promise<void> {
  const dir = mkdtempSync("/var/tmp/volkit-service-example-");
  const service = await step("open the service", () => createVolumeService(dayConfig(join(dir, "service.db"))));
  service.events.on((e) => {
    if (e.phase === "error") console.log(`    event ${e.type} ${e.volumeId ?? ""}: ${e.errorCode}`);
  });
  try {
    await orchestratorDay(service, makeImage(dir));
  } finally {
    const cached = await service.listImageCache();
    if (cached.isOk()) for (const e of cached.value) (await service.deleteVolume(e.volumeId)).match(() => undefined, (err) => console.error(err.message));
    (await service.close()).match(() => undefined, (err) => console.error(err.message));
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ""}`) await main();
