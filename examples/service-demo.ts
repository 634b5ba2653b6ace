/**
 * volkit's main demo (`npm run demo`): the volume service running an orchestrator's day on real
 * components in the storage lab, checking the data at every step and printing each step's time.
 *
 *   open the service (LVM thin over LIO with multipath, NFS, thick LVM that zeroes on delete)
 *   → two 10 GiB boot volumes from one image (the second a thin clone of the cached one)
 *   → attach for a VM with its libvirt XML, write data, extend online, snapshot
 *   → restart the service, detach from the stored record (nothing left on the host)
 *   → a volume from the snapshot; a data volume migrated to NFS (data checked on each side)
 *   → a thick volume zeroed on delete → delete everything; no session, map or target left
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createVolumeService, type VolumeService, type VolumeServiceConfig } from "../src/service/index.js";
import { dayConfig, makeImage, step } from "./service.js";

const MiB = 1024 * 1024;
const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set: run the demo with 'npm run demo' (it boots the storage lab)`);
  return v;
};
const vgThin = env("VOLKIT_LAB_VG_THIN");
const vgThick = env("VOLKIT_LAB_VG_THICK");
const shareDir = (env("VOLKIT_LAB_NFS_SHARES").split(",")[0] ?? "").replace(/^[^:]*:/, "");

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex").slice(0, 16);
const read = (path: string, bytes: number): Buffer => execFileSync("dd", [`if=${path}`, "bs=1M", `count=${bytes}`, "iflag=count_bytes,direct", "status=none"], { maxBuffer: bytes + MiB });
function write(path: string, data: Buffer, dir: string): void {
  const file = join(dir, "payload");
  writeFileSync(file, data);
  execFileSync("dd", [`if=${file}`, `of=${path}`, "bs=1M", "oflag=direct", "conv=notrunc,fsync", "status=none"]);
}
function check(ok: boolean, message: string): void {
  if (!ok) {
    console.error(`CHECK FAILED: ${message}`);
    process.exit(1);
  }
  console.log(`    ✓ ${message}`);
}
/** iSCSI sessions, multipath maps and LIO targets on this host. */
function hostObjects(): string[] {
  const sessions = existsSync("/sys/class/iscsi_session") ? readdirSync("/sys/class/iscsi_session") : [];
  const maps = execFileSync("dmsetup", ["ls", "--target", "multipath"], { encoding: "utf8" }).trim();
  const targets = existsSync("/sys/kernel/config/target/iscsi") ? readdirSync("/sys/kernel/config/target/iscsi").filter((t) => t.startsWith("iqn.")) : [];
  return [...sessions.map((s) => `session ${s}`), ...(maps === "" || maps.startsWith("No devices") ? [] : maps.split("\n").map((m) => `map ${m}`)), ...targets.map((t) => `target ${t}`)];
}

function demoConfig(storePath: string): VolumeServiceConfig {
  const day = dayConfig(storePath);
  return {
    ...day,
    backends: [...day.backends, { name: "secure", availabilityZone: "az1", config: { driver: "lvm", volumeGroup: vgThick, lvmType: "default", volumeClear: "zero" } }],
    volumeTypes: [...(day.volumeTypes ?? []), { name: "secure", description: "thick, zeroed on delete", extraSpecs: { volume_backend_name: "secure" } }],
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync("/var/tmp/volkit-demo-");
  const config = demoConfig(join(dir, "service.db"));
  console.log(`volkit volume service demo: LVM thin in ${vgThin} over LIO (multipath), NFS in ${shareDir}, thick LVM in ${vgThick}\n`);
  let service: VolumeService = await step("open the service (3 backends, 3 types, SQLite store)", () => createVolumeService(config));
  let wipePhases = "";
  // Each opened service has its own operation bus: listen again after the restart below.
  const watchWipes = (s: VolumeService): void => {
    s.operations.on((e) => {
      if (e.type === "operation:end" && e.source === "secure" && e.operation === "deleteVolume") wipePhases = e.phases.map((p) => `${p.name} ${Math.round(p.durationMs)} ms`).join(", ");
    });
  };
  watchWipes(service);

  const image = makeImage(dir);
  const source = { kind: "image" as const, imageId: "debian-12", path: image.path, sha256: image.sha256, format: "qcow2" as const };
  const boot1 = await step("10 GiB boot volume from the image (miss: verify, convert, clone)", () => service.createVolume({ name: "vm-1 boot", sizeGiB: 10, volumeType: "fast", source }));
  const boot2 = await step("10 GiB boot volume from the image (hit: thin clone of the cache)", () => service.createVolume({ name: "vm-2 boot", sizeGiB: 10, volumeType: "fast", source }));
  const imageSha = sha(Buffer.alloc(32 * MiB, 0x5a));
  check(sha(read(`/dev/${vgThin}/volume-${boot2.id}`, 32 * MiB)) === imageSha, `the clone holds the image's data (sha256 ${imageSha})`);

  const att = await step("attach boot volume 1 for vm-1 (LIO, 2 portals, multipath, XML)", () =>
    service.attachVolume({ volumeId: boot1.id, instanceId: "vm-1", disk: { target: { dev: "vda", bus: "virtio" } } }),
  );
  console.log(`    ${att.device.path} = map ${att.device.multipathId ?? "?"} over ${att.device.paths.join(" + ")}\n${(att.xml ?? "").replace(/^/gm, "    ")}`);
  check((att.xml ?? "").includes("<boot order='1'/>") && (att.xml ?? "").includes("<total_iops_sec>5000</total_iops_sec>"), "bootable volume: boot order 1; QoS 500 IOPS/GiB x 10 GiB in <iotune>");
  const data = randomBytes(16 * MiB);
  write(att.device.path, data, dir);
  check(sha(read(att.device.path, 16 * MiB)) === sha(data), `16 MiB written through the map read back (sha256 ${sha(data)})`);
  const grown = await step("extend online to 12 GiB (backend, rescan, map resize)", () => service.extendVolume(boot1.id, 12));
  check(grown.rescanned.length === 1 && Number(execFileSync("blockdev", ["--getsize64", att.device.path], { encoding: "utf8" }).trim()) === 12 * 1024 * MiB, "the host sees 12 GiB");
  const snap = await step("snapshot while attached", () => service.createSnapshot(boot1.id, { name: "after write", force: true }));

  await step("restart the service (close, reopen, reconcile)", () => service.close());
  service = await step("  reopened", () => createVolumeService(config));
  watchWipes(service);
  const detached = await step("detach from the stored attachment record", () => service.detachVolume({ attachmentId: att.attachment.id }));
  console.log(`    removed: ${detached.report.disconnect.removed.join(", ")}`);
  check(detached.report.disconnect.leftBehind.length === 0 && detached.report.exportRemoved, "detach report: nothing left behind, export removed");

  const restored = await step("12 GiB volume from the snapshot (thin)", () => service.createVolume({ name: "restored", source: { kind: "snapshot", snapshotId: snap.id } }));
  check(sha(read(`/dev/${vgThin}/volume-${restored.id}`, 16 * MiB)) === sha(data), "it holds the snapshot's data");

  const db = await step("1 GiB data volume (fast type: LVM thin)", () => service.createVolume({ name: "db", sizeGiB: 1 }));
  const rows = randomBytes(16 * MiB);
  write(`/dev/${vgThin}/volume-${db.id}`, rows, dir);
  const moved = await step("migrate it to NFS (attach both here, copy, swap, delete the old)", () => service.migrateVolume(db.id, { backend: "nfs" }));
  check(moved.backend === "nfs" && sha(read(join(shareDir, `volume-${db.id}`), 16 * MiB)) === sha(rows), `the NFS file holds the same data (sha256 ${sha(rows)}); the LV is gone: ${String(!existsSync(`/dev/${vgThin}/volume-${db.id}`))}`);

  const secret = await step("1 GiB on the secure type (thick LVM)", () => service.createVolume({ name: "secret", sizeGiB: 1, volumeType: "secure" }));
  write(`/dev/${vgThick}/volume-${secret.id}`, randomBytes(16 * MiB), dir);
  await step("delete it (every byte zeroed, then lvremove)", () => service.deleteVolume(secret.id));
  console.log(`    phases: ${wipePhases}`);
  check(wipePhases.includes("wipe"), "the thick volume was wiped before removal");

  await step("delete the snapshot", () => service.deleteSnapshot(snap.id));
  for (const v of [boot1, boot2, restored, db]) await step(`delete ${v.name ?? v.id}`, () => service.deleteVolume(v.id));
  const cache = await step("list the image cache", () => service.listImageCache());
  for (const e of cache) await step(`evict cached image ${e.imageId} (hits ${e.hits})`, () => service.deleteVolume(e.volumeId));
  check(hostObjects().length === 0, "no iSCSI session, multipath map or LIO target left on this host");
  const left = await step("volumes left in the store", () => service.listVolumes({ includeInternal: true }));
  check(left.length === 0, "the store is empty");
  await step("close", () => service.close());
  rmSync(dir, { recursive: true, force: true });
  console.log("\ndemo complete: every step passed");
}

await main();
