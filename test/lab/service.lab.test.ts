/**
 * The volume service on real components, inside the storage lab (one boot):
 *
 * - two backends: LVM thin exported by LIO (two portals, CHAP, multipath on this host) and NFS, plus
 *   a small thick LVM pool; types route volumes to each (by `volume_backend_name` and by the
 *   `storage_protocol` capability);
 * - attach (libvirt XML with QoS), online extend, detach from the stored record after a restart,
 *   and migrations LVM → NFS → LVM keep the data (sha256 read back through the devices);
 * - 50 parallel creates never overbook the small pool;
 * - a process running the service is SIGKILLed at every step of create, attach, detach and delete;
 *   `reconcile()` then leaves no LV, LIO target, iSCSI session or multipath map behind and the
 *   record matches;
 * - a 10 GiB bootable volume from a cached image vs the first (converting) one, timings printed;
 * - on NFS a cache hit is a qcow2 overlay on the cache volume's file: attached over the real NFS
 *   mount with `type='qcow2'` in the XML, a guest write leaves the cached base's sha256 unchanged;
 * - a third backend, the IP-SAN array simulator (REST + its private tgtd on 127.0.0.1 and 127.0.0.2,
 *   started inside the guest): a type routes to it by `volume_backend_name`; attach through the
 *   service over both portals (multipath, CHAP), data kept across a re-attach, snapshot and a
 *   volume from it (LUN copy), a cache hit from an image is a LUN copy of the cache LUN; no session,
 *   map, node record or array host mapping left.
 *
 *   VOLKIT_LAB_KEEP=8 flock /tmp/volkit-lab.lock npx tsx lab/run.ts --timeout 3000 -- npx vitest run --project lab test/lab/service.lab.test.ts
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { build } from "tsup";
import { selfContainedBuildOptions } from "../../tsup.config.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVolumeService, type VolumeService, type VolumeServiceConfig } from "../../src/service/index.js";
import { startArraySimulator, type ArraySimulator } from "../../src/testing/array-simulator/index.js";
import { deviceSize, lab, lvsRows, must, pattern, readAt, sh, sha256, uid, writeAt } from "./helpers.js";
import { nodeRecords, pathVia, sessionsOf } from "./iscsi-host-state.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const SHARE = lab.nfsShares[0] ?? "";
/** The share's directory on the server, which is this same guest. */
const SHARE_DIR = SHARE.slice(SHARE.indexOf(":") + 1);
const work = mkdtempSync("/var/tmp/volkit-service-lab-");
const IQN_PREFIX = "iqn.2010-10.org.openstack:";

const ARRAY_CHAP = { user: "volkit-lab", password: "Lab-Chap-Secret1" };
const ARRAY_POOL = "StoragePool001";

/** The service's config; the IP-SAN backend points at the simulator started in `beforeAll`. */
function serviceConfig(array: ArraySimulator): VolumeServiceConfig {
  return {
    backends: [
      { name: "lvm-thin", availabilityZone: "lab", config: { driver: "lvm", volumeGroup: lab.vgThin, lvmType: "thin", target: { helper: "lio", portals: lab.portals.map((p) => `${p}:${lab.lioPort}`), chap: true } } },
      { name: "nfs", availabilityZone: "lab", config: { driver: "nfs", shares: [SHARE] } },
      { name: "small", availabilityZone: "lab", config: { driver: "lvm", volumeGroup: lab.vgThick, lvmType: "default", volumeClear: "none" } },
      {
        name: "ipsan",
        availabilityZone: "lab",
        config: { driver: "ipsan", ...array.connection(), storagePools: [ARRAY_POOL], iscsi: { initiators: [{ iqn: lab.initiator, chap: ARRAY_CHAP }] } },
      },
    ],
    qosSpecs: [{ name: "fast-qos", consumer: "front-end", specs: { total_iops_sec_per_gb: 500, total_bytes_sec: 209715200 } }],
    volumeTypes: [
      { name: "fast", extraSpecs: { volume_backend_name: "lvm-thin", "provisioning:type": "thin" }, qosSpecs: "fast-qos" },
      { name: "files", extraSpecs: { storage_protocol: "nfs" } },
      { name: "small", extraSpecs: { volume_backend_name: "small" } },
      { name: "array", extraSpecs: { volume_backend_name: "ipsan" } },
    ],
    store: { kind: "sqlite", path: join(work, "service.db") },
    host: { connectors: { iscsi: { multipath: true, enforceMultipath: true } } },
    imageCache: { enabled: true, maxCount: 4 },
  };
}

let sim: ArraySimulator;
let config: VolumeServiceConfig;

let service: VolumeService;
const timings: string[] = [];
const time = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const out = await run();
  timings.push(`${label.padEnd(62)} ${(performance.now() - t0).toFixed(0).padStart(7)} ms`);
  return out;
};

// ------------------------------------------------------------------ what exists on the host

const volumeLvs = (vg: string): string[] => [...lvsRows(vg).keys()].filter((n) => n.startsWith("volume-")).sort();
const lioTargets = (): string[] => (existsSync("/sys/kernel/config/target/iscsi") ? readdirSync("/sys/kernel/config/target/iscsi").filter((d) => d.startsWith(IQN_PREFIX)).sort() : []);
const sessions = (): string[] => (existsSync("/sys/class/iscsi_session") ? readdirSync("/sys/class/iscsi_session").map((s) => readFileSync(`/sys/class/iscsi_session/${s}/targetname`, "utf8").trim()) : []);
const maps = (): string[] => {
  const out = sh(["dmsetup", "ls", "--target", "multipath"]).trim();
  return out === "" || out.startsWith("No devices") ? [] : out.split("\n").map((l) => l.split(/\s+/)[0] ?? "");
};
const nfsFiles = (): string[] => readdirSync(SHARE_DIR).filter((f) => f.startsWith("volume-")).sort();

/** Nothing of any volume is on this host: no session, map or LIO target. */
function expectHostClean(context: string): void {
  expect(sessions(), `${context}: iSCSI sessions`).toEqual([]);
  expect(maps(), `${context}: multipath maps`).toEqual([]);
  expect(lioTargets(), `${context}: LIO targets`).toEqual([]);
}

beforeAll(async () => {
  mkdirSync(work, { recursive: true });
  // Plain http: the lab guest has no openssl for the simulator's certificate (TLS is tested on the host).
  sim = await startArraySimulator({ protocol: "http", portals: lab.portals, copyDurationMs: 100 });
  config = serviceConfig(sim);
  service = await time("open the service (4 backends, reconcile)", () => must(createVolumeService(config)));
}, 300_000);

afterAll(async () => {
  if (service !== undefined) {
    const left = await service.listVolumes({ includeInternal: true });
    if (left.isOk()) for (const v of left.value) (await service.forceDelete(v.id)).match(() => undefined, (e) => console.error(`cleanup of ${v.id}: ${e.message}`));
    (await service.close()).match(() => undefined, (e) => console.error(`close: ${e.message}`));
  }
  await sim?.stop();
  rmSync(work, { recursive: true, force: true });
  console.log(`\n==== volume service lab timings ====\n${timings.join("\n")}\n`);
}, 600_000);

describe("volume service on real backends", () => {
  let data: { id: string; sha: string } = { id: "", sha: "" };

  it("routes volumes by type: fast to LVM thin (LIO), files to NFS by its storage protocol", async () => {
    const fast = await time("create 1 GiB on fast (lvm-thin)", () => must(service.createVolume({ id: uid("f"), sizeGiB: 1, volumeType: "fast" })));
    const file = await time("create 1 GiB on files (nfs)", () => must(service.createVolume({ id: uid("n"), sizeGiB: 1, volumeType: "files" })));
    expect(fast).toMatchObject({ backend: "lvm-thin", pool: lab.vgThin, status: "available", availabilityZone: "lab" });
    expect(file).toMatchObject({ backend: "nfs", pool: SHARE, status: "available" });
    expect(volumeLvs(lab.vgThin)).toContain(`volume-${fast.id}`);
    expect(nfsFiles()).toContain(`volume-${file.id}`);
    const why = service.evaluate({ sizeGiB: 1, extraSpecs: { storage_protocol: "nfs" } });
    // The share is small (the guest's root file system): a sparse file volume takes no free space in the scheduler.
    expect(why.candidates.map((c) => c.pool.ref), JSON.stringify(why.rejections)).toEqual([`nfs#${SHARE}`]);
    expect(why.rejections.map((r) => r.filter)).toEqual(["CapabilitiesFilter", "CapabilitiesFilter", "CapabilitiesFilter"]);
    await must(service.deleteVolume(file.id));
    expect(nfsFiles()).not.toContain(`volume-${file.id}`);
    data = { id: fast.id, sha: "" };
  });

  it("attach (multipath, XML with QoS), online extend, detach from the stored record after a restart: data kept, host clean", async () => {
    const att = await time("attach over LIO, 2 portals, multipath + XML", () => must(service.attachVolume({ volumeId: data.id, instanceId: "vm-1", disk: { target: { dev: "vdb", bus: "virtio" } } })));
    expect(att.device.multipathId).toBeDefined();
    expect(att.device.paths).toHaveLength(2);
    expect(att.xml).toContain("<total_iops_sec>500</total_iops_sec>");
    expect(att.xml).toContain("<total_bytes_sec>209715200</total_bytes_sec>");
    const p = pattern(16 * MiB);
    writeAt(att.device.path, 0, p.data);
    data.sha = p.sha;
    const grown = await time("extend online 1 → 2 GiB (rescan, map resize)", () => must(service.extendVolume(data.id, 2)));
    expect(grown.rescanned).toEqual([att.attachment.id]);
    expect(deviceSize(att.device.path)).toBe(2 * GiB);
    // A restart: the next instance knows the attachment only from the store.
    await must(service.close());
    service = await time("reopen the service (restart)", () => must(createVolumeService(config)));
    expect(service.openReport?.actions).toEqual([]);
    const detached = await time("detach from the stored record", () => must(service.detachVolume({ attachmentId: att.attachment.id })));
    expect(detached.report.disconnect.leftBehind).toEqual([]);
    expect(detached.report.exportRemoved).toBe(true);
    expect(detached.volume).toMatchObject({ status: "available", sizeGiB: 2 });
    expectHostClean("after detach");
    const again = await must(service.attachVolume({ volumeId: data.id }));
    expect(sha256(readAt(again.device.path, 0, 16 * MiB))).toBe(data.sha);
    await must(service.detachVolume({ attachmentId: again.attachment.id }));
    expectHostClean("after the second detach");
  });

  it("migrates LVM → NFS → LVM through this host, keeping the data (sha256)", async () => {
    const moved = await time("migrate 2 GiB lvm-thin → nfs (iSCSI → file copy)", () => must(service.migrateVolume(data.id, { backend: "nfs" })));
    expect(moved).toMatchObject({ backend: "nfs", status: "available", migrationStatus: "success" });
    expect(volumeLvs(lab.vgThin)).not.toContain(`volume-${data.id}`);
    expect(sha256(readAt(join(SHARE_DIR, `volume-${data.id}`), 0, 16 * MiB))).toBe(data.sha);
    const back = await time("migrate 2 GiB nfs → lvm-thin (file → iSCSI copy)", () => must(service.migrateVolume(data.id, { backend: "lvm-thin" })));
    expect(back).toMatchObject({ backend: "lvm-thin", status: "available" });
    expect(nfsFiles()).not.toContain(`volume-${data.id}`);
    expect(sha256(readAt(`/dev/${lab.vgThin}/volume-${data.id}`, 0, 16 * MiB))).toBe(data.sha);
    expectHostClean("after migrations");
    expect(await must(service.listVolumes({ includeInternal: true }))).toHaveLength(1);
  });

  it("50 parallel creates never overbook the small pool: what fits is created, the rest are refused by the scheduler", async () => {
    const freeGiB = Math.floor(Number(sh(["vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_free", lab.vgThick]).trim()) / GiB);
    const results = await time("50 parallel 1 GiB creates on small", () => Promise.all(Array.from({ length: 50 }, (_, i) => service.createVolume({ id: uid(`s${i}x`), sizeGiB: 1, volumeType: "small" }))));
    const created = results.flatMap((r) => (r.isOk() ? [r.value] : []));
    const codes = [...new Set(results.flatMap((r) => (r.isErr() ? [r.error.code] : [])))];
    timings.push(`    ${created.length} created (VG had ${freeGiB} GiB free), refusals: ${codes.join(", ")}`);
    expect(created).toHaveLength(freeGiB);
    expect(codes).toEqual(["NO_VALID_BACKEND"]);
    expect(volumeLvs(lab.vgThick)).toEqual(created.map((v) => `volume-${v.id}`).sort());
    await time(`delete the ${created.length}`, () => Promise.all(created.map((v) => must(service.deleteVolume(v.id)))));
    expect(volumeLvs(lab.vgThick)).toEqual([]);
  });

  it("a 10 GiB bootable volume from a cached image is a thin clone (timings printed); the XML boots it", async () => {
    const image = join(work, "debian.qcow2");
    sh(["qemu-img", "create", "-q", "-f", "qcow2", image, "1G"]);
    sh(["qemu-io", "-f", "qcow2", "-c", `write -q -P 0x5a 0 ${32 * MiB}`, image]);
    const sha = sha256(readFileSync(image));
    const source = { kind: "image" as const, imageId: "debian-12", path: image, sha256: sha, format: "qcow2" as const };
    const first = await time("10 GiB from image, cache miss (verify, convert 1 GiB, clone)", () => must(service.createVolume({ id: uid("b"), sizeGiB: 10, volumeType: "fast", source })));
    const second = await time("10 GiB from image, cache hit (thin snapshot clone)", () => must(service.createVolume({ id: uid("b"), sizeGiB: 10, volumeType: "fast", source })));
    expect([first.bootable, second.bootable]).toEqual([true, true]);
    expect((await must(service.listImageCache())).map((e) => [e.imageId, e.hits])).toEqual([["debian-12", 2]]);
    const expected = sha256(Buffer.alloc(32 * MiB, 0x5a));
    for (const v of [first, second]) expect(sha256(readAt(`/dev/${lab.vgThin}/volume-${v.id}`, 0, 32 * MiB))).toBe(expected);
    const att = await must(service.attachVolume({ volumeId: second.id, disk: { target: { dev: "vda", bus: "virtio" } } }));
    expect(att.xml).toContain("<boot order='1'/>");
    await must(service.detachVolume({ attachmentId: att.attachment.id }));
    for (const v of [first, second]) await must(service.deleteVolume(v.id));
    expectHostClean("after the image volumes");
  });

  it("a volume from a cached image on NFS is a qcow2 overlay on the cache volume's file: XML type qcow2, guest writes leave the base unchanged", async () => {
    const image = join(work, "nfs-image.qcow2");
    sh(["qemu-img", "create", "-q", "-f", "qcow2", image, "256M"]);
    sh(["qemu-io", "-f", "qcow2", "-c", `write -q -P 0x4b 0 ${16 * MiB}`, image]);
    const source = { kind: "image" as const, imageId: "nfs-image", path: image, sha256: sha256(readFileSync(image)), format: "qcow2" as const };
    const first = await time("1 GiB from image on nfs, cache miss (verify, convert, overlay)", () => must(service.createVolume({ id: uid("i"), sizeGiB: 1, volumeType: "files", source })));
    const second = await time("1 GiB from image on nfs, cache hit (qcow2 overlay)", () => must(service.createVolume({ id: uid("i"), sizeGiB: 1, volumeType: "files", source })));
    const entry = (await must(service.listImageCache())).find((e) => e.backend === "nfs");
    expect(entry).toMatchObject({ imageId: "nfs-image", hits: 2 });
    const cacheFile = join(SHARE_DIR, `volume-${entry?.volumeId ?? ""}`);
    const fileSha = (path: string): string => sh(["sha256sum", path]).split(" ")[0] ?? "";
    const baseSha = fileSha(cacheFile);
    for (const v of [first, second]) {
      expect(v.source).toEqual({ kind: "image", imageId: "nfs-image", cacheVolumeId: entry?.volumeId });
      const info = JSON.parse(sh(["qemu-img", "info", "--output=json", "-U", join(SHARE_DIR, `volume-${v.id}`)])) as Record<string, unknown>;
      expect(info).toMatchObject({ format: "qcow2", "backing-filename": `volume-${entry?.volumeId ?? ""}`, "virtual-size": GiB });
    }
    const att = await time("attach the nfs overlay (mount, check chain) + XML", () => must(service.attachVolume({ volumeId: second.id, disk: { target: { dev: "vdc", bus: "virtio" } } })));
    expect(att.device).toMatchObject({ type: "file", format: "qcow2" });
    expect(att.xml).toContain("type='qcow2'");
    // A guest write through the mounted share (qemu-io opens the chain as QEMU would).
    sh(["qemu-io", "-f", "qcow2", "-c", `write -q -P 0x66 ${MiB} ${MiB}`, att.device.path]);
    await must(service.detachVolume({ attachmentId: att.attachment.id }));
    expect(fileSha(cacheFile), "the cached base is never written").toBe(baseSha);
    const view = join(work, "nfs-view.raw");
    sh(["qemu-img", "dd", "-f", "qcow2", "-O", "raw", "bs=1M", "count=16", `if=${join(SHARE_DIR, `volume-${second.id}`)}`, `of=${view}`]);
    const expected = Buffer.alloc(16 * MiB, 0x4b);
    expected.fill(0x66, MiB, 2 * MiB);
    expect(sha256(readFileSync(view)), "overlay = image + the write").toBe(sha256(expected));
    // The entry is kept while its clones exist; then purged with its file.
    expect((await must(service.purgeImageCache({ backend: "nfs" }))).failed.map((f) => f.error.code)).toEqual(["VOLUME_BUSY"]);
    for (const v of [first, second]) await must(service.deleteVolume(v.id));
    expect((await must(service.purgeImageCache({ backend: "nfs" }))).removed.map((e) => e.imageId)).toEqual(["nfs-image"]);
    expect(nfsFiles()).toEqual([]);
    expectHostClean("after the nfs image volumes");
  });

  it("routes the array type to the IP-SAN simulator: attach over both portals (multipath), data kept across a re-attach, snapshot, LUN-copy cache hit, nothing left behind", async () => {
    const iqns = sim.iscsi.targets.map((t) => t.iqn);
    const lunFile = (providerId: string | undefined): string => {
      const file = sim.snapshot().luns.find((l) => l.id === providerId)?.file;
      if (file === undefined) throw new Error(`no LUN ${String(providerId)} on the array`);
      return file;
    };
    // The first bytes of a LUN's backing file (a whole 2 GiB file is past what readFileSync reads).
    const lunHead = (providerId: string | undefined, bytes: number): Buffer => {
      const fd = openSync(lunFile(providerId), "r");
      try {
        const head = Buffer.alloc(bytes);
        const read = readSync(fd, head, 0, bytes, 0);
        return head.subarray(0, read);
      } finally {
        closeSync(fd);
      }
    };
    const expectArrayClean = (context: string): void => {
      expectHostClean(context);
      for (const iqn of iqns) {
        expect(sessionsOf(iqn), `${context}: sessions of ${iqn}`).toEqual([]);
        expect(nodeRecords(iqn), `${context}: node records of ${iqn}`).toBe(0);
      }
      expect(sim.snapshot().views, `${context}: mapping views on the array`).toEqual([]);
      expect(sim.snapshot().hosts, `${context}: hosts on the array`).toEqual([]);
    };
    const vol = await time("create 1 GiB on array (ipsan simulator)", () => must(service.createVolume({ id: uid("a"), sizeGiB: 1, volumeType: "array" })));
    expect(vol).toMatchObject({ backend: "ipsan", pool: ARRAY_POOL, status: "available" });
    expect(statSync(lunFile(vol.providerId)).size).toBe(GiB);

    const att = await time("attach ipsan LUN, 2 portals, multipath + CHAP", () => must(service.attachVolume({ volumeId: vol.id, instanceId: "vm-2" })));
    expect(att.device.multipathId).toBeDefined();
    expect(att.device.paths).toHaveLength(2);
    // One path through each of the simulator's portals.
    expect(lab.portals.map((p) => pathVia(att.device, p)).sort()).toEqual(att.device.paths.map((p) => p.replace("/dev/", "")).sort());
    expect(att.attachment.connectionInfo).toMatchObject({ type: "iscsi", authMethod: "CHAP", authUsername: ARRAY_CHAP.user });
    const p = pattern(16 * MiB);
    writeAt(att.device.path, 0, p.data);
    expect(sha256(lunHead(vol.providerId, 16 * MiB)), "the data is in the LUN").toBe(p.sha);
    const detached = await time("detach ipsan LUN", () => must(service.detachVolume({ attachmentId: att.attachment.id })));
    expect(detached.report.disconnect.leftBehind.filter((l) => !l.expected)).toEqual([]);
    expectArrayClean("after the ipsan detach");
    const again = await must(service.attachVolume({ volumeId: vol.id }));
    expect(sha256(readAt(again.device.path, 0, 16 * MiB)), "read back after a re-attach").toBe(p.sha);
    await must(service.detachVolume({ attachmentId: again.attachment.id }));
    expectArrayClean("after the second ipsan detach");

    const snap = await time("snapshot on ipsan", () => must(service.createSnapshot(vol.id)));
    expect(sim.snapshot().snapshots.map((s) => s.id)).toContain(snap.providerId ?? "");
    const copy = await time("1 GiB from the snapshot on ipsan (LUN copy)", () => must(service.createVolume({ id: uid("a"), sizeGiB: 1, source: { kind: "snapshot", snapshotId: snap.id } })));
    expect(copy).toMatchObject({ backend: "ipsan", status: "available" });
    expect(sha256(lunHead(copy.providerId, 16 * MiB)), "the snapshot's data in the new LUN").toBe(p.sha);
    await must(service.deleteSnapshot(snap.id));
    expect(sim.snapshot().snapshots).toEqual([]);

    // A small image: the miss converts it through an attach of the LUN (qemu-img writes its whole virtual size).
    const image = join(work, "array-image.qcow2");
    sh(["qemu-img", "create", "-q", "-f", "qcow2", image, "64M"]);
    sh(["qemu-io", "-f", "qcow2", "-c", `write -q -P 0x3c 0 ${8 * MiB}`, image]);
    const source = { kind: "image" as const, imageId: "array-image", path: image, sha256: sha256(readFileSync(image)), format: "qcow2" as const };
    const miss = await time("2 GiB from a 64 MiB image on ipsan, cache miss (convert through an attach, LUN copy)", () => must(service.createVolume({ id: uid("a"), sizeGiB: 2, volumeType: "array", source })));
    const hit = await time("2 GiB from a 64 MiB image on ipsan, cache hit (LUN copy)", () => must(service.createVolume({ id: uid("a"), sizeGiB: 2, volumeType: "array", source })));
    const entry = (await must(service.listImageCache())).find((e) => e.backend === "ipsan");
    expect(entry).toMatchObject({ imageId: "array-image", pool: ARRAY_POOL, hits: 2 });
    const expected = sha256(Buffer.alloc(8 * MiB, 0x3c));
    for (const v of [miss, hit]) {
      expect(v).toMatchObject({ backend: "ipsan", bootable: true, sizeGiB: 2 });
      expect(sha256(lunHead(v.providerId, 8 * MiB))).toBe(expected);
    }
    expectArrayClean("after the ipsan image volumes");

    for (const v of [vol, copy, miss, hit]) await must(service.deleteVolume(v.id));
    await must(service.purgeImageCache({ backend: "ipsan" }));
    expect(sim.snapshot().luns, "no LUN left on the array").toEqual([]);
    expectArrayClean("after the ipsan deletes");
  }, 900_000);
});

// ------------------------------------------------------------------ SIGKILL at every step

/** The child script bundled once (tsup/esbuild): a start costs node's, not a TypeScript compile. */
let childScript = "";

async function bundleChild(): Promise<string> {
  if (childScript !== "") return childScript;
  const outDir = join(process.cwd(), "node_modules", ".cache", "volkit-service-lab");
  // Self-contained, like the CLI: each child then reads ~20 module files instead of ~700 (seconds each in the guest).
  await build({ ...selfContainedBuildOptions({ "service-child": join(import.meta.dirname, "service-child.ts") }, outDir), clean: false, silent: true, config: false, outExtension: () => ({ js: ".mjs" }) });
  childScript = join(outDir, "service-child.mjs");
  return childScript;
}

/** Runs one operation in a child service process that SIGKILLs itself at `killAt`; resolves with how it ended. */
function runChild(method: string, args: unknown[], killAt: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [childScript], {
      env: { ...process.env, VOLKIT_CHILD_CONFIG: JSON.stringify(config), VOLKIT_CHILD_OP: JSON.stringify({ method, args }), VOLKIT_KILL_AT: killAt },
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.once("exit", (code, signal) => resolve(signal ?? `exit ${String(code)}`));
  });
}

interface KillCase {
  /** Operation run in the child. */
  readonly op: "create" | "attach" | "detach" | "delete";
  /** Where the child dies. */
  readonly at: string;
  /** The volume's status after reconcile (`removed`: no record). */
  readonly after: string;
}

const CASES: readonly KillCase[] = [
  { op: "create", at: "svc:volume.create.progress:recorded", after: "error" },
  { op: "create", at: "svc:volume.create.progress:scheduled", after: "error" },
  { op: "create", at: "op:lvm-thin:createVolume", after: "error" },
  { op: "attach", at: "svc:volume.attach.progress:reserved", after: "available" },
  { op: "attach", at: "op:lvm-thin:createExport", after: "available" },
  { op: "attach", at: "svc:volume.attach.progress:connection", after: "available" },
  { op: "attach", at: "op:iscsi:connectVolume", after: "available" },
  { op: "attach", at: "svc:volume.attach.progress:connected", after: "available" },
  { op: "detach", at: "svc:volume.detach.progress:detaching", after: "available" },
  { op: "detach", at: "op:iscsi:disconnectVolume", after: "available" },
  { op: "detach", at: "op:lvm-thin:terminateConnection", after: "available" },
  { op: "delete", at: "svc:volume.delete.progress:deleting", after: "removed" },
  { op: "delete", at: "op:lvm-thin:deleteVolume", after: "removed" },
];

describe("SIGKILL at every step of create, attach, detach and delete, then reconcile", () => {
  it.each(CASES)("$op killed at $at: nothing left behind, record $after", async ({ op, at, after }) => {
    await bundleChild();
    const id = uid("k");
    const lvsBefore = volumeLvs(lab.vgThin);
    // What the operation needs, made by this (live) process.
    if (op !== "create") await must(service.createVolume({ id, sizeGiB: 1, volumeType: "fast" }));
    if (op === "detach") await must(service.attachVolume({ volumeId: id }));
    const call: Record<KillCase["op"], [string, unknown[]]> = {
      create: ["createVolume", [{ id, sizeGiB: 1, volumeType: "fast" }]],
      attach: ["attachVolume", [{ volumeId: id }]],
      detach: ["detachVolume", [{ volumeId: id }]],
      delete: ["deleteVolume", [id]],
    };
    const [method, args] = call[op];
    const ended = await time(`child ${op} killed at ${at}`, () => runChild(method, args, at));
    expect(ended, "the kill point must be reached").toBe("SIGKILL");
    const report = await time(`  reconcile after ${at}`, () => must(service.reconcile()));
    const action = report.actions.find((a) => a.volumeId === id);
    expect(action, JSON.stringify(report.actions)).toBeDefined();
    expect(action?.outcome).not.toBe("failed");
    const record = await must(service.store.volumes.find(id));
    expect(record?.status ?? "removed").toBe(after);
    expect(await must(service.listAttachments(id))).toEqual([]);
    expectHostClean(`${op} killed at ${at}`);
    const lvs = volumeLvs(lab.vgThin);
    if (after === "available") expect(lvs).toEqual([...lvsBefore, `volume-${id}`].sort());
    else expect(lvs).toEqual(lvsBefore);
    if (record !== undefined) await must(service.deleteVolume(id));
    expect(volumeLvs(lab.vgThin)).toEqual(lvsBefore);
  });
});
