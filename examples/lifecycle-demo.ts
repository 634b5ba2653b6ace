/**
 * volkit's main demo: one volume's whole life on real components, printing each step and its
 * duration. Runs inside the storage lab (`npm run demo` boots it): real LVM, tgt, LIO, open-iscsi.
 *
 *   create → write data → snapshot → clone → export via tgt → attach over iSCSI, verify →
 *   export via LIO on two portals → attach with multipath, verify → libvirt disk XML →
 *   extend while attached → detach (report) → delete (thin: discarded; thick: zeroed)
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { ResultAsync, type Result } from "neverthrow";
import { createIscsiConnector } from "../src/connectors/iscsi/index.js";
import { createDriver, volkitError, type VolkitError, type Volume, type VolumeBackend } from "../src/index.js";
import { buildDiskXml } from "../src/libvirt/index.js";

const env = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set: run the demo with 'npm run demo' (it boots the storage lab)`);
  return v;
};
const vg = env("VOLKIT_LAB_VG_THIN");
const vgThick = env("VOLKIT_LAB_VG_THICK");
const portalIps = env("VOLKIT_LAB_PORTALS", "127.0.0.1,127.0.0.2").split(",");
const tgtPort = env("VOLKIT_LAB_TGT_PORT", "3261");
const lioPort = env("VOLKIT_LAB_LIO_PORT", "3260");
const initiator = env("VOLKIT_LAB_INITIATOR");
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
  const connector = { host: "lab", initiator, multipath: true };
  const tgtBackend: VolumeBackend = await step("set up LVM driver with tgt export", () =>
    createDriver({ driver: "lvm", volumeGroup: vg, lvmType: "thin", target: { helper: "tgt", portals: [`127.0.0.1:${tgtPort}`], chap: true } }),
  );
  await step("  thin pool ready (setup)", () => tgtBackend.setup());
  const lioBackend: VolumeBackend = await step("set up LVM driver with LIO export (2 portals)", () =>
    createDriver({ driver: "lvm", volumeGroup: vg, lvmType: "thin", target: { helper: "lio", portals: portalIps.map((ip) => `${ip}:${lioPort}`), chap: true } }),
  );

  const volume: Volume = await step("create volume (1 GiB)", () => tgtBackend.createVolume({ id: randomUUID(), sizeGiB: 1 }));
  const data = randomBytes(16 * MiB);
  await task(`write 16 MiB of data (sha256 ${sha(data)})`, () => (run(["dd", `of=/dev/${vg}/volume-${volume.id}`, "bs=1M", "oflag=direct", "conv=fsync", "status=none"], data)));
  const snapshot = await step("snapshot", () => tgtBackend.createSnapshot({ id: randomUUID(), volumeId: volume.id, volumeSizeGiB: 1 }, volume));
  const clone: Volume = await step("clone the volume (thin, shares blocks)", () => tgtBackend.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, volume));

  // tgt: export, attach over one path with the iSCSI connector, verify, detach, unexport.
  const single = await step("iSCSI connector (single path)", () => createIscsiConnector({ multipath: false }));
  const viaTgt = { ...clone, ...(await step("export clone through tgt (CHAP)", () => tgtBackend.createExport(clone))) };
  const tgtInfo = await step("initialize connection (tgt)", () => tgtBackend.initializeConnection(viaTgt, connector));
  const tgtDev = await step("attach over iSCSI (tgt)", () => single.connectVolume(tgtInfo));
  const tgtSha = await task(`read the clone through ${tgtDev.path} and compare`, () => sha(readDevice(tgtDev.path, 16 * MiB)));
  check(tgtSha === sha(data), `tgt data ${tgtSha} != ${sha(data)}`);
  const tgtReport = await step("detach (flush, delete device, logout)", () => single.disconnectVolume(tgtInfo, tgtDev));
  check(tgtReport.leftBehind.length === 0, `detach left ${JSON.stringify(tgtReport.leftBehind)}`);
  await step("remove tgt export", () => tgtBackend.terminateConnection(viaTgt, connector).andThen(() => tgtBackend.removeExport(viaTgt)));

  // LIO: export on two portals, attach with multipath (both paths required), verify, extend.
  const multi = await step("iSCSI connector (multipath enforced)", () => createIscsiConnector({ multipath: true, enforceMultipath: true }));
  const viaLio = { ...clone, ...(await step("export clone through LIO (CHAP, 2 portals)", () => lioBackend.createExport(clone))) };
  const lioInfo = await step("initialize connection (LIO ACL for our initiator)", () => lioBackend.initializeConnection(viaLio, connector));
  const mp = await step("attach with multipath (parallel logins)", () => multi.connectVolume(lioInfo));
  console.log(`    ${mp.path} = map ${mp.multipathId} over ${mp.paths.join(" + ")}`);
  const mpSha = await task("read the clone through the multipath map", () => sha(readDevice(mp.path, 16 * MiB)));
  check(mpSha === sha(data), `multipath data ${mpSha} != ${sha(data)}`);
  const xml = await step("libvirt <disk> for a hypervisor", () => buildDiskXml({ connection: lioInfo, device: mp, options: { target: { dev: "vdb", bus: "virtio" } } }));
  console.log(xml.replace(/^/gm, "    "));

  const grown: Volume = await step("extend clone to 2 GiB (online)", () => lioBackend.extendVolume(viaLio, 2));
  const newSize = await step("rescan paths and resize the map", () => multi.extendVolume(lioInfo, mp));
  check(newSize === 2 * 1024 * MiB, `host sees ${newSize} bytes after extend`);
  const mpReport = await step("detach (flush map, multipath -f, delete paths, logout)", () => multi.disconnectVolume(lioInfo, mp));
  console.log(`    removed: ${mpReport.removed.join(", ")}`);
  check(mpReport.leftBehind.length === 0, `detach left ${JSON.stringify(mpReport.leftBehind)}`);
  await step("remove LIO ACL and export", () => lioBackend.terminateConnection(grown, connector).andThen(() => lioBackend.removeExport(grown)));

  await step("delete snapshot", () => tgtBackend.deleteSnapshot(snapshot));
  await step("delete clone (discarded: thin)", () => tgtBackend.deleteVolume(grown));
  await step("delete volume (discarded: thin)", () => tgtBackend.deleteVolume(volume));

  // Thick volumes are zero-filled on delete so the next tenant never reads this data.
  const thick: VolumeBackend = await step(`set up LVM driver on ${vgThick} (thick, volumeClear zero)`, () =>
    createDriver({ driver: "lvm", volumeGroup: vgThick, lvmType: "default", volumeClear: "zero" }),
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
  console.log(`\npool ${stats.pools[0]?.poolName}: ${stats.freeCapacityGb} of ${stats.totalCapacityGb} GiB free, ${stats.pools[0]?.totalVolumes} volumes`);
  console.log("demo complete: every step passed");
}

function check(ok: boolean, message: string): void {
  if (!ok) {
    console.error(`DATA MISMATCH: ${message}`);
    process.exit(1);
  }
}

await main();
