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
 * - a 10 GiB bootable volume from a cached image vs the first (converting) one, timings printed.
 *
 *   VOLKIT_LAB_KEEP=8 flock /tmp/volkit-lab.lock npx tsx lab/run.ts --timeout 3000 -- npx vitest run --project lab test/lab/service.lab.test.ts
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "tsup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVolumeService, type VolumeService, type VolumeServiceConfig } from "../../src/service/index.js";
import { deviceSize, lab, lvsRows, must, pattern, readAt, sh, sha256, uid, writeAt } from "./helpers.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const SHARE = lab.nfsShares[0] ?? "";
/** The share's directory on the server, which is this same guest. */
const SHARE_DIR = SHARE.slice(SHARE.indexOf(":") + 1);
const work = mkdtempSync("/var/tmp/volkit-service-lab-");
const IQN_PREFIX = "iqn.2010-10.org.openstack:";

const config: VolumeServiceConfig = {
  backends: [
    { name: "lvm-thin", availabilityZone: "lab", config: { driver: "lvm", volumeGroup: lab.vgThin, lvmType: "thin", target: { helper: "lio", portals: lab.portals.map((p) => `${p}:${lab.lioPort}`), chap: true } } },
    { name: "nfs", availabilityZone: "lab", config: { driver: "nfs", shares: [SHARE] } },
    { name: "small", availabilityZone: "lab", config: { driver: "lvm", volumeGroup: lab.vgThick, lvmType: "default", volumeClear: "none" } },
  ],
  qosSpecs: [{ name: "fast-qos", consumer: "front-end", specs: { total_iops_sec_per_gb: 500, total_bytes_sec: 209715200 } }],
  volumeTypes: [
    { name: "fast", extraSpecs: { volume_backend_name: "lvm-thin", "provisioning:type": "thin" }, qosSpecs: "fast-qos" },
    { name: "files", extraSpecs: { storage_protocol: "nfs" } },
    { name: "small", extraSpecs: { volume_backend_name: "small" } },
  ],
  store: { kind: "sqlite", path: join(work, "service.db") },
  host: { connectors: { iscsi: { multipath: true, enforceMultipath: true } } },
  imageCache: { enabled: true, maxCount: 4 },
};

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
  service = await time("open the service (3 backends, reconcile)", () => must(createVolumeService(config)));
}, 300_000);

afterAll(async () => {
  if (service !== undefined) {
    const left = await service.listVolumes({ includeInternal: true });
    if (left.isOk()) for (const v of left.value) (await service.forceDelete(v.id)).match(() => undefined, (e) => console.error(`cleanup of ${v.id}: ${e.message}`));
    (await service.close()).match(() => undefined, (e) => console.error(`close: ${e.message}`));
  }
  rmSync(work, { recursive: true, force: true });
  console.log(`\n==== volume service lab timings ====\n${timings.join("\n")}\n`);
}, 600_000);

describe("volume service on real backends", () => {
  let data: { id: string; sha: string } = { id: "", sha: "" };

  it("routes volumes by type: fast to LVM thin (LIO), files to NFS by its storage protocol", async () => {
    const fast = await time("create 1 GiB on fast (lvm-thin)", () => must(service.createVolume({ id: uid("f"), sizeGiB: 1, volumeType: "fast" })));
    const file = await time("create 1 GiB on files (nfs)", () => must(service.createVolume({ id: uid("n"), sizeGiB: 1, volumeType: "files" })));
    expect(fast).toMatchObject({ backend: "lvm-thin", pool: `${lab.vgThin}-pool`, status: "available", availabilityZone: "lab" });
    expect(file).toMatchObject({ backend: "nfs", pool: SHARE, status: "available" });
    expect(volumeLvs(lab.vgThin)).toContain(`volume-${fast.id}`);
    expect(nfsFiles()).toContain(`volume-${file.id}`);
    const why = service.evaluate({ sizeGiB: 1, extraSpecs: { storage_protocol: "nfs" } });
    expect(why.candidates.map((c) => c.pool.ref)).toEqual([`nfs#${SHARE}`]);
    expect(why.rejections.map((r) => r.filter)).toEqual(["CapabilitiesFilter", "CapabilitiesFilter"]);
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
});

// ------------------------------------------------------------------ SIGKILL at every step

/** The child script bundled once (tsup/esbuild): a start costs node's, not a TypeScript compile. */
let childScript = "";

async function bundleChild(): Promise<string> {
  if (childScript !== "") return childScript;
  const outDir = join(process.cwd(), "node_modules", ".cache", "volkit-service-lab");
  await build({ entry: { "service-child": join(import.meta.dirname, "service-child.ts") }, outDir, format: ["esm"], platform: "node", target: "node20", splitting: false, dts: false, clean: false, silent: true, config: false, sourcemap: false, outExtension: () => ({ js: ".mjs" }) });
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
