/**
 * The IP-SAN driver end to end on a REAL kernel initiator: the array simulator (REST + its private
 * tgtd on 127.0.0.1 and 127.0.0.2) runs inside the lab guest, and volumes are attached through
 * volkit's iSCSI connector with open-iscsi and dm-multipath over both portals, CHAP on.
 *
 *   VOLKIT_LAB_KEEP=8 flock /tmp/volkit-lab.lock npx tsx lab/run.ts --timeout 2400 -- npx vitest run --project lab test/lab/ipsan.lab.test.ts
 *
 * Checks: data written through the multipath device lands in the LUN (sha256), one portal cut
 * during a synced write gives the writer no error, detach leaves no session, disk, map or node
 * record (and no host objects on the array); copyImageToVolume of a qcow2 image (through the
 * runtime's attach-for-I/O port) gives the image's exact content, and copyVolumeToImage back.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachVolume, detachVolume } from "../../src/attach/attach.js";
import { createHost, type Host } from "../../src/attach/host.js";
import { parseMultipathdMaps } from "../../src/connectors/iscsi/iscsi-parsers.js";
import type { VolumeBackend } from "../../src/drivers/backend.js";
import { createBackend } from "../../src/drivers/registry.js";
import { startArraySimulator, type ArraySimulator } from "../../src/testing/array-simulator/index.js";
import { lab, must, pattern, readAt, sh, sha256 } from "./helpers.js";
import { disksWithWwid, mapPaths, mapsWithWwid, nodeRecords, pathVia, sessionsOf, until } from "./iscsi-host-state.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const CHAP = { user: "volkit-lab", password: "Lab-Chap-Secret1" };
const WAIT = { deviceMs: 90_000, mapMs: 90_000, removeMs: 90_000 };
const deadline = (s = 300): { deadline: number } => ({ deadline: Date.now() + s * 1000 });
const notes: string[] = [];

// ------------------------------------------------------------------ host state
function expectClean(iqns: readonly string[], wwid: string | undefined): void {
  for (const iqn of iqns) {
    expect(sessionsOf(iqn), `sessions of ${iqn}`).toEqual([]);
    expect(nodeRecords(iqn), `node records of ${iqn}`).toBe(0);
  }
  if (wwid) {
    expect(disksWithWwid(wwid), `disks of ${wwid}`).toEqual([]);
    expect(mapsWithWwid(wwid), `maps of ${wwid}`).toEqual([]);
  }
}
/** Names of every multipath map on the host. */
function allMaps(): string[] {
  return parseMultipathdMaps(sh(["multipathd", "show", "maps", "json"]))._unsafeUnwrap().map((m) => m.dm);
}

// ------------------------------------------------------------------ fixtures
let sim: ArraySimulator;
let host: Host;
let backend: VolumeBackend;
const dir = mkdtempSync(join(tmpdir(), "volkit-ipsan-lab-"));
const lunFile = (providerId: string | undefined): string => sim.snapshot().luns.find((l) => l.id === providerId)?.file ?? "";

beforeAll(async () => {
  // Plain http: the lab guest has no openssl for the simulator's certificate (TLS is tested on the host).
  sim = await startArraySimulator({ protocol: "http", portals: lab.portals, copyDurationMs: 100 });
  host = createHost({ connectors: { iscsi: { multipath: true, enforceMultipath: true, timeouts: WAIT } } });
  backend = await must(
    createBackend({ driver: "ipsan", ...sim.connection(), storagePools: ["StoragePool001"], iscsi: { initiators: [{ iqn: lab.initiator, chap: CHAP }] } }, { host }),
  );
});

afterAll(async () => {
  if (backend) void (await backend.close());
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
  console.log(`\n==== IP-SAN lab notes ====\n${notes.join("\n")}\n`);
});

describe("IP-SAN driver + iSCSI connector on a real initiator with multipath", () => {
  it("attaches over both portals (CHAP), data lands in the LUN, a portal cut during a synced write is invisible to the writer, detach leaves nothing", async () => {
    const volume = await must(backend.createVolume({ id: "lab-vol-1", sizeGiB: 1 }));
    const t0 = Date.now();
    const attachment = await must(attachVolume(backend, volume, { host, ...deadline() }));
    const attachMs = Date.now() - t0;
    const dev = attachment.device;
    const iqns = sim.iscsi.targets.map((t) => t.iqn);
    expect(dev.path).toMatch(/^\/dev\/dm-\d+$/);
    expect(dev.paths).toHaveLength(2);
    expect(dev.sizeBytes).toBe(GiB);
    expect(attachment.connection).toMatchObject({ type: "iscsi", targetIqns: iqns, authMethod: "CHAP", authUsername: CHAP.user });
    for (const iqn of iqns) expect(sessionsOf(iqn)).toHaveLength(1);
    const dm = dev.path.replace("/dev/", "");
    expect(mapPaths(dm).map((p) => p.dmState)).toEqual(["active", "active"]);

    const first = pattern(4 * MiB);
    writeFileSync(join(dir, "first"), first.data);
    sh(["dd", `if=${join(dir, "first")}`, `of=${dev.path}`, "bs=1M", "oflag=direct,sync", "conv=notrunc", "status=none"]);
    expect(sha256(readFileSync(lunFile(volume.providerId)).subarray(0, 4 * MiB))).toBe(first.sha);

    // Cut the 127.0.0.2 portal while a 48 MiB O_DIRECT|O_SYNC write runs through the map.
    const victim = pathVia(dev, "127.0.0.2");
    const big = pattern(48 * MiB);
    const file = join(dir, "big");
    writeFileSync(file, big.data);
    const offset = 64 * MiB;
    const dd = spawn("dd", [`if=${file}`, `of=${dev.path}`, "bs=256K", `seek=${offset / (256 * 1024)}`, "oflag=direct,sync", "conv=notrunc", "status=none"], { stdio: ["ignore", "ignore", "pipe"] });
    let ddErr = "";
    dd.stderr.on("data", (d: Buffer) => (ddErr += d.toString()));
    const ddDone = new Promise<number>((res) => dd.on("exit", (code) => res(code ?? -1)));
    await new Promise((r) => setTimeout(r, 500));
    const port = String(sim.iscsi.port);
    const rules = [
      ["INPUT", "-p", "tcp", "-d", "127.0.0.2", "--dport", port, "-j", "DROP"],
      ["INPUT", "-p", "tcp", "-s", "127.0.0.2", "--sport", port, "-j", "DROP"],
    ];
    let method = "iptables";
    if (spawnSync("iptables", ["-A", ...(rules[0] ?? [])]).status === 0) spawnSync("iptables", ["-A", ...(rules[1] ?? [])]);
    else {
      method = "sysfs offline";
      writeFileSync(`/sys/block/${victim}/device/state`, "offline");
    }
    const tCut = Date.now();
    let failedSeen = false;
    try {
      expect(await ddDone, `dd failed: ${ddErr}`).toBe(0);
      await until(`path ${victim} failed in the map`, 120_000, () => mapPaths(dm).some((p) => p.dev === victim && p.dmState === "failed"));
      failedSeen = true;
    } finally {
      if (method === "iptables") for (const r of rules) spawnSync("iptables", ["-D", ...r]);
      else writeFileSync(`/sys/block/${victim}/device/state`, "running");
    }
    const writeMs = Date.now() - tCut;
    expect(failedSeen).toBe(true);
    expect(sha256(readFileSync(lunFile(volume.providerId)).subarray(offset, offset + big.data.length))).toBe(big.sha);
    expect(sha256(readAt(dev.path, offset, big.data.length))).toBe(big.sha);
    const healMs = await until("both paths active again", 180_000, () => mapPaths(dm).length === 2 && mapPaths(dm).every((p) => p.dmState === "active"));

    const t1 = Date.now();
    const report = await must(detachVolume(attachment, deadline()));
    const detachMs = Date.now() - t1;
    expect(report.disconnect.leftBehind.filter((l) => !l.expected)).toEqual([]);
    expect(report.connectionTerminated).toBe(true);
    expectClean(iqns, dev.scsiWwn);
    expect(sim.snapshot().hosts).toEqual([]);
    expect(sim.snapshot().views).toEqual([]);
    await must(backend.deleteVolume(volume));
    notes.push(
      `attach (multipath, 2 portals, CHAP) ${attachMs} ms; portal 127.0.0.2 cut (${method}) during a 48 MiB synced write: dd exit 0, done ${writeMs} ms after the cut, data identical; both paths active again ${healMs} ms after restore; detach ${detachMs} ms, removed: ${report.disconnect.removed.join(", ")}`,
    );
  }, 900_000);

  it("copyImageToVolume of a qcow2 image gives the image's exact content (attached for I/O through the runtime), and copyVolumeToImage gives it back", async () => {
    const raw = join(dir, "image.raw");
    const image = join(dir, "image.qcow2");
    // A sparse image: 40 MiB of data at two offsets in 256 MiB.
    const a = pattern(24 * MiB);
    const b = pattern(16 * MiB);
    sh(["truncate", "-s", String(256 * MiB), raw]);
    writeFileSync(join(dir, "a"), a.data);
    writeFileSync(join(dir, "b"), b.data);
    sh(["dd", `if=${join(dir, "a")}`, `of=${raw}`, "bs=1M", "conv=notrunc", "status=none"]);
    sh(["dd", `if=${join(dir, "b")}`, `of=${raw}`, "bs=1M", "seek=200", "conv=notrunc", "status=none"]);
    sh(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, image]);

    const volume = await must(backend.createVolume({ id: "lab-vol-image", sizeGiB: 1 }));
    const mapsBefore = allMaps();
    const t0 = Date.now();
    await must(backend.copyImageToVolume({ path: image, format: "qcow2" }, volume, deadline()));
    const copyMs = Date.now() - t0;
    const lun = lunFile(volume.providerId);
    // qemu-img compare: identical content, the LUN's tail beyond the image all zeros.
    expect(spawnSync("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", lun, image], { encoding: "utf8" }).status).toBe(0);
    expect(sha256(readFileSync(lun).subarray(0, 24 * MiB))).toBe(a.sha);
    // The attach for I/O left nothing on the host or the array.
    expectClean(sim.iscsi.targets.map((t) => t.iqn), undefined);
    expect(allMaps()).toEqual(mapsBefore);
    expect(sim.snapshot().hosts).toEqual([]);

    const back = join(dir, "back.qcow2");
    await must(backend.copyVolumeToImage(volume, { path: back, format: "qcow2" }, deadline()));
    expect(spawnSync("qemu-img", ["compare", "-f", "qcow2", "-F", "raw", back, lun], { encoding: "utf8" }).status).toBe(0);
    expectClean(sim.iscsi.targets.map((t) => t.iqn), undefined);
    expect(allMaps()).toEqual(mapsBefore);
    await must(backend.deleteVolume(volume));
    notes.push(`copyImageToVolume of a 256 MiB qcow2 (40 MiB data) through multipath: ${copyMs} ms, qemu-img compare identical`);
  }, 900_000);
});
