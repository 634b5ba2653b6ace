/**
 * volkit's main demo: one volume's whole life on real components, printing each step and its
 * duration. Runs inside the storage lab (`npm run demo:lifecycle` boots it): real LVM, tgt, LIO, open-iscsi.
 *
 *   create → write data → snapshot → clone → attach over iSCSI through tgt (one call: export,
 *   connection, login), verify → detach (one call) → attach through LIO on two portals with
 *   multipath and the libvirt disk XML, verify → extend while attached → detach (report) →
 *   delete (thin: discarded; thick: zeroed)
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { ResultAsync, type Result } from "neverthrow";
import { attachVolume, createBackend, createHost, detachVolume, extendAttachedVolume, volkitError, type VolkitError, type Volume, type VolumeBackend } from "../src/index.js";

const env = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set: run the demo with 'npm run demo:lifecycle' (it boots the storage lab)`);
  return v;
};
const vg = env("VOLKIT_LAB_VG_THIN");
const vgThick = env("VOLKIT_LAB_VG_THICK");
const portalIps = env("VOLKIT_LAB_PORTALS", "127.0.0.1,127.0.0.2").split(",");
const tgtPort = env("VOLKIT_LAB_TGT_PORT", "3261");
const lioPort = env("VOLKIT_LAB_LIO_PORT", "3260");
const MiB = 1024 * 1024;

let stepNo = 0;
/** Runs one volkit operation as a numbered step, prints its duration, stops the demo on failure. */
async function step<T>(title: string, run: () => ResultAsync<T, VolkitError> | Result<T, VolkitError>): Promise<T> {
  stepNo++;
  const started = performance.now();
  process.stdout.write(`${String(stepNo).padStart(2)}. ${title.padEnd(56)}`);
  const out = await run();
  const ms = (performance.now() - started).toFixed(0);
  if (out.isErr()) {
    console.log(`FAILED after ${ms} ms\n    ${out.error.code}: ${out.error.message}`);
    process.exit(1);
  }
  console.log(`${ms.padStart(7)} ms`);
  return out.value;
}

/** A step that is plain host work (dd, iscsiadm) rather than a volkit call. */
function task<T>(title: string, fn: () => T | Promise<T>): Promise<T> {
  return step(title, () => ResultAsync.fromPromise(Promise.resolve().then(fn), (e) => volkitError("INTERNAL", e instanceof Error ? e.message : String(e))));
}

function run(argv: string[], input?: Buffer): Buffer {
  return execFileSync(argv[0] as string, argv.slice(1), { ...(input ? { input } : {}), maxBuffer: 1 << 30 });
}
const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex").slice(0, 16);
const readDevice = (dev: string, bytes: number): Buffer => run(["dd", `if=${dev}`, "bs=1M", `count=${bytes}`, "iflag=count_bytes,direct", "status=none"]);

async function main(): Promise<void> {
  console.log(`volkit lifecycle demo: LVM thin volumes in ${vg}, tgt on :${tgtPort}, LIO on ${portalIps.map((p) => `${p}:${lioPort}`).join(" + ")}\n`);
  const tgtBackend: VolumeBackend = await step("LVM backend with tgt export", () =>
    createBackend({ driver: "lvm", volumeGroup: vg, lvmType: "thin", target: { helper: "tgt", portals: [`127.0.0.1:${tgtPort}`], chap: true } }),
  );
  await step("  thin pool ready (setup)", () => tgtBackend.setup());
  const lioBackend: VolumeBackend = await step("LVM backend with LIO export (2 portals)", () =>
    createBackend({ driver: "lvm", volumeGroup: vg, lvmType: "thin", target: { helper: "lio", portals: portalIps.map((ip) => `${ip}:${lioPort}`), chap: true } }),
  );
  // This machine, twice: one path only, and multipath over every portal (never a single path).
  const singlePath = createHost({ connectors: { iscsi: { multipath: false } } });
  const multipath = createHost({ connectors: { iscsi: { multipath: true, enforceMultipath: true } } });

  const volume: Volume = await step("create volume (1 GiB)", () => tgtBackend.createVolume({ id: randomUUID(), sizeGiB: 1 }));
  const data = randomBytes(16 * MiB);
  await task(`write 16 MiB of data (sha256 ${sha(data)})`, () => run(["dd", `of=/dev/${vg}/volume-${volume.id}`, "bs=1M", "oflag=direct", "conv=fsync", "status=none"], data));
  const snapshot = await step("snapshot", () => tgtBackend.createSnapshot({ id: randomUUID(), volumeId: volume.id, volumeSizeGiB: 1 }, volume));
  const clone: Volume = await step("clone the volume (thin, shares blocks)", () => tgtBackend.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, volume));

  // tgt: one call exports the clone (CHAP), grants this host, logs in and finds the disk.
  const viaTgt = await step("attach over iSCSI through tgt (single path)", () => attachVolume(tgtBackend, clone, { host: singlePath }));
  const tgtSha = await task(`read the clone through ${viaTgt.device.path} and compare`, () => sha(readDevice(viaTgt.device.path, 16 * MiB)));
  check(tgtSha === sha(data), `tgt data ${tgtSha} != ${sha(data)}`);
  const tgtReport = await step("detach (flush, delete device, logout, unexport)", () => detachVolume(viaTgt));
  check(tgtReport.disconnect.leftBehind.length === 0 && tgtReport.exportRemoved, `detach left ${JSON.stringify(tgtReport)}`);

  // LIO: the same call with multipath over two portals and the libvirt <disk> for a hypervisor.
  const viaLio = await step("attach through LIO with multipath + libvirt XML", () =>
    attachVolume(lioBackend, clone, { host: multipath, disk: { target: { dev: "vdb", bus: "virtio" } } }),
  );
  console.log(`    ${viaLio.device.path} = map ${viaLio.device.multipathId} over ${viaLio.device.paths.join(" + ")}`);
  const mpSha = await task("read the clone through the multipath map", () => sha(readDevice(viaLio.device.path, 16 * MiB)));
  check(mpSha === sha(data), `multipath data ${mpSha} != ${sha(data)}`);
  console.log((viaLio.xml ?? "").replace(/^/gm, "    "));

  const grown = await step("extend the attached clone to 2 GiB (host sees it)", () => extendAttachedVolume(viaLio, 2));
  check(grown.device.sizeBytes === 2 * 1024 * MiB, `host sees ${grown.device.sizeBytes} bytes after extend`);
  const mpReport = await step("detach (flush map, multipath -f, paths, logout, unexport)", () => detachVolume(grown));
  console.log(`    removed: ${mpReport.disconnect.removed.join(", ")}`);
  check(mpReport.disconnect.leftBehind.length === 0 && mpReport.exportRemoved, `detach left ${JSON.stringify(mpReport)}`);

  await step("delete snapshot", () => tgtBackend.deleteSnapshot(snapshot));
  await step("delete clone (discarded: thin)", () => tgtBackend.deleteVolume(grown.volume));
  await step("delete volume (discarded: thin)", () => tgtBackend.deleteVolume(volume));

  // Thick volumes are zero-filled on delete so the next tenant never reads this data.
  const thick: VolumeBackend = await step(`LVM backend on ${vgThick} (thick, volumeClear zero)`, () =>
    createBackend({ driver: "lvm", volumeGroup: vgThick, lvmType: "default", volumeClear: "zero" }),
  );
  let deletePhases = "";
  thick.events.on((e) => {
    if (e.type === "operation:end" && e.operation === "deleteVolume") deletePhases = e.phases.map((p) => `${p.name} ${Math.round(p.durationMs)} ms`).join(", ");
  });
  const tv: Volume = await step("create thick volume (1 GiB)", () => thick.createVolume({ id: randomUUID(), sizeGiB: 1 }));
  await task("write 16 MiB of data", () => run(["dd", `of=/dev/${vgThick}/volume-${tv.id}`, "bs=1M", "oflag=direct", "conv=fsync", "status=none"], data));
  await step("delete thick volume (zero every byte, then lvremove)", () => thick.deleteVolume(tv));
  console.log(`    phases: ${deletePhases}`);
  const stats = await step("stats after cleanup", () => tgtBackend.getVolumeStats());
  console.log(`\npool ${stats.pools[0]?.poolName}: ${stats.freeCapacityGiB} of ${stats.totalCapacityGiB} GiB free, ${stats.pools[0]?.totalVolumes} volumes`);
  console.log("demo complete: every step passed");
}

function check(ok: boolean, message: string): void {
  if (!ok) {
    console.error(`DATA MISMATCH: ${message}`);
    process.exit(1);
  }
}

await main();
