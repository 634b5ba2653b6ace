/**
 * The NFS driver's lifecycle on real NFS: a backend and this host's NFS connector sharing one
 * mount manager (so both count references on the same mounts), a volume written through its
 * attached file, a snapshot, a clone checked against the data, extend, detach, delete. Runs inside
 * the storage lab (kernel nfsd exporting the shares in VOLKIT_LAB_NFS_SHARES):
 *
 *   npx tsx lab/run.ts -- npx tsx examples/nfs-driver.ts
 *
 * Outside the lab, pass shares as arguments (`npx tsx examples/nfs-driver.ts 10.0.0.5:/export`)
 * on a host that may mount them (root, or adapt `rootHelper`).
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResultAsync } from "neverthrow";
import { attachVolume, createBackend, createHost, createLocalRunner, detachVolume, type VolkitError } from "../src/index.js";
import { createNfsMountManager } from "../src/remotefs/index.js";

const shares = process.argv.slice(2).length > 0 ? process.argv.slice(2) : (process.env.VOLKIT_LAB_NFS_SHARES ?? "").split(",").filter(Boolean);
if (shares.length === 0) throw new Error("give NFS shares as arguments, or run inside the storage lab");

/** Runs one step, prints its duration, stops on failure. */
async function step<T>(title: string, run: () => ResultAsync<T, VolkitError>): Promise<T> {
  const started = performance.now();
  const out = await run();
  const ms = (performance.now() - started).toFixed(0).padStart(6);
  if (out.isErr()) {
    console.log(`${title.padEnd(44)} FAILED after ${ms} ms: ${out.error.code}: ${out.error.message}`);
    process.exit(1);
  }
  console.log(`${title.padEnd(44)} ${ms} ms`);
  return out.value;
}

// Scratch files and mount points live apart: a recursive delete must never reach into a mount.
const work = mkdtempSync(join(tmpdir(), "volkit-nfs-example-"));
const mountBase = mkdtempSync(join(tmpdir(), "volkit-nfs-mnt-"));
const runner = createLocalRunner();
// One manager for the whole process: mounts at <base>/<md5(share)>, reference-counted.
const mounts = createNfsMountManager(runner, { mountPointBase: mountBase, mountTimeoutMs: 30_000 })._unsafeUnwrap();
const backend = await step("create the NFS backend", () => createBackend({ driver: "nfs", shares, mountPointBase: mountBase }, { runner, mounts }));
// This machine's connectors; its NFS connector counts references on the same mounts.
const host = createHost({ runner, mounts, hostName: "example-host" });
const data = randomBytes(4 * 1024 * 1024);
const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex").slice(0, 16);

try {
  await step("setup (mount the shares)", () => backend.setup());
  const vol = await step("create a 1 GiB volume", () => backend.createVolume({ id: randomUUID(), sizeGiB: 1 }));
  console.log(`  on ${vol.providerLocation}`);

  const att = await step("attach (NFS connector, libvirt XML)", () => attachVolume(backend, vol, { host, disk: { target: { dev: "vdb", bus: "virtio" } } }));
  const dev = att.device;
  console.log(`  ${dev.format} file ${dev.path}`);
  console.log(att.xml?.replace(/^/gm, "    "));
  const src = join(work, "data");
  writeFileSync(src, data);
  execFileSync("qemu-io", ["-f", String(dev.format), "-c", `write -q -s ${src} 0 ${data.length}`, dev.path]);
  console.log(`  wrote 4 MiB (sha256 ${sha(data)}) with qemu-io`);
  const report = await step("detach", () => detachVolume(att));
  console.log(`  removed ${JSON.stringify(report.disconnect.removed)}, left behind ${JSON.stringify(report.disconnect.leftBehind)}`);

  const snap = await step("snapshot (qcow2 overlay)", () => backend.createSnapshot({ id: randomUUID(), volumeId: vol.id, volumeSizeGiB: 1 }, vol));
  const clone = await step("clone from the snapshot, 2 GiB", () => backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: 2 }, snap));
  const cAtt = await step("attach the clone", () => attachVolume(backend, clone, { host }));
  const cDev = cAtt.device;
  const raw = join(work, "clone.raw");
  execFileSync("qemu-img", ["convert", "-f", String(cDev.format), "-O", "raw", cDev.path, raw]);
  const copy = Buffer.alloc(data.length);
  const fd = openSync(raw, "r");
  readSync(fd, copy, 0, data.length, 0);
  closeSync(fd);
  console.log(`  clone holds ${sha(copy)} (${sha(copy) === sha(data) ? "same data" : "DIFFERENT DATA"}), ${cDev.sizeBytes} bytes`);
  await step("detach the clone", () => detachVolume(cAtt));

  const grown = await step("extend the volume to 3 GiB", () => backend.extendVolume(vol, 3));
  await step("delete the snapshot (commit into the base)", () => backend.deleteSnapshot(snap));
  await step("delete the clone", () => backend.deleteVolume(clone));
  await step("delete the volume", () => backend.deleteVolume(grown));
  const stats = await step("stats", () => backend.getVolumeStats());
  for (const p of stats.pools) console.log(`  pool ${p.poolName}: ${String(p.freeCapacityGiB)} of ${String(p.totalCapacityGiB)} GiB free, ${p.totalVolumes} volumes`);
} finally {
  const closed = await backend.close(); // unmounts the shares (last reference)
  if (closed.isErr()) console.error(`close: ${closed.error.message}`);
  rmSync(work, { recursive: true, force: true });
  for (const share of shares) if (mounts.references(share) === 0) rmdirQuiet(mounts.mountPointOf(share));
  rmdirQuiet(mountBase);
}

/** Removes an empty directory (never recursively: it may be a mount point). */
function rmdirQuiet(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* not empty or still mounted: leave it */
  }
}
