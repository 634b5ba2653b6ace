/**
 * The IP-SAN driver on the array simulator with its REAL iSCSI data plane (a private tgtd on
 * 127.0.0.1 and 127.0.0.2, free ports): every byte is written and read through the exported
 * targets by QEMU's libiscsi initiator (qemu-img over iscsi://, CHAP from a 0600 secret file).
 *
 *   npx vitest run --project host test/host/ipsan-driver.host.test.ts
 *
 * Needs root and: tgt, libiscsi-bin, qemu-utils, qemu-block-extra, openssl.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConnectionInfo, HostPropertiesInput, Volume } from "../../src/core/records.js";
import { wrapDriver, type VolumeBackend } from "../../src/drivers/backend.js";
import { createIpsanDriver, type IpsanConfig } from "../../src/drivers/ipsan/index.js";
import { startArraySimulator, type ArraySimulator } from "../../src/testing/array-simulator/index.js";
import { describeVolumeDriverConformance, type ConformanceIo } from "../../src/testing/conformance.js";
import { IscsiIo, missingIpsanPrerequisite, sha256, type IscsiIdentity } from "./ipsan-iscsi-io.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const missing = missingIpsanPrerequisite();
const dir = mkdtempSync(join(tmpdir(), "volkit-ipsan-driver-"));
const IO_HOST: IscsiIdentity = { iqn: "iqn.2024-01.org.volkit:ipsan-io", chap: { user: "ipsan-io", password: "Io-Chap-Secret1" } };
const ioHost: HostPropertiesInput = { host: "ipsan-io", initiator: IO_HOST.iqn, multipath: true };
// The conformance suite's own host (see DEFAULT_HOST): the simulator's tgtd asks CHAP of every initiator once one uses it.
const CONFORMANCE_HOST: IscsiIdentity = { iqn: "iqn.2004-10.org.volkit:conformance", chap: { user: "conformance", password: "Conf-Chap-Secr1" } };
const config = (sim: ArraySimulator, extra: Partial<IpsanConfig> = {}): IpsanConfig => ({
  driver: "ipsan",
  ...sim.connection(),
  storagePools: ["StoragePool001"],
  iscsi: { initiators: [IO_HOST, CONFORMANCE_HOST].map((h) => ({ iqn: h.iqn, chap: h.chap })) },
  ...extra,
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("IP-SAN driver through the simulator's iSCSI targets", () => {
  it("has its prerequisites (root, tgt, libiscsi-bin, qemu-utils, qemu-block-extra, openssl)", () => {
    expect(missing).toBeUndefined();
  });

  let sim: ArraySimulator;
  let backend: VolumeBackend;
  const io = new IscsiIo(dir, IO_HOST);
  /** Maps `volume` to the I/O host, runs `use`, unmaps. */
  const mapped = async <T>(volume: Volume, use: (info: ConnectionInfo) => Promise<T>): Promise<T> => {
    const info = (await backend.initializeConnection(volume, ioHost))._unsafeUnwrap();
    try {
      return await use(info);
    } finally {
      (await backend.terminateConnection(volume, ioHost))._unsafeUnwrap();
    }
  };

  beforeAll(async () => {
    if (missing) return;
    sim = await startArraySimulator({ protocol: "https", copyDurationMs: 100 });
    backend = wrapDriver((await createIpsanDriver(config(sim)))._unsafeUnwrap());
  });
  afterAll(async () => {
    if (backend) (await backend.close())._unsafeUnwrap();
    await sim?.stop();
  });

  it("creates a volume, maps it with CHAP on both portals; data written through one portal reads back through the other", async () => {
    const v = (await backend.createVolume({ id: "host-vol-1", sizeGiB: 1 }))._unsafeUnwrap();
    const data = randomBytes(8 * MiB);
    await mapped(v, async (info) => {
      if (info.type !== "iscsi") throw new Error("iSCSI expected");
      expect(info.targetPortals).toEqual(sim.iscsi.portals);
      expect(info).toMatchObject({ authMethod: "CHAP", authUsername: IO_HOST.chap.user });
      expect(await io.capacity(info, 0)).toBe(GiB);
      await io.write(info, data, 0);
      expect(sha256(await io.read(info, data.length, 1))).toBe(sha256(data));
    });
    const file = sim.snapshot().luns.find((l) => l.id === v.providerId)?.file ?? "";
    expect(sha256(readFileSync(file).subarray(0, data.length))).toBe(sha256(data));
    (await backend.deleteVolume(v))._unsafeUnwrap();
  });

  it("a snapshot, a volume from it (bigger) and a clone carry the right bytes through the target; revert brings them back", async () => {
    const v = (await backend.createVolume({ id: "host-vol-2", sizeGiB: 1 }))._unsafeUnwrap();
    const before = randomBytes(4 * MiB);
    const after = randomBytes(4 * MiB);
    await mapped(v, (info) => io.write(info, before));
    const snap = (await backend.createSnapshot({ id: "host-snap-2", volumeId: v.id, volumeSizeGiB: 1 }, v))._unsafeUnwrap();
    await mapped(v, (info) => io.write(info, after));
    const fromSnap = (await backend.createVolumeFromSnapshot({ id: "host-vol-3", sizeGiB: 2 }, snap))._unsafeUnwrap();
    const clone = (await backend.createClonedVolume({ id: "host-vol-4", sizeGiB: 1 }, v))._unsafeUnwrap();
    await mapped(fromSnap, async (info) => {
      expect(await io.capacity(info)).toBe(2 * GiB);
      expect(sha256(await io.read(info, before.length))).toBe(sha256(before));
    });
    await mapped(clone, async (info) => expect(sha256(await io.read(info, after.length))).toBe(sha256(after)));
    (await backend.revertToSnapshot(v, snap))._unsafeUnwrap();
    await mapped(v, async (info) => expect(sha256(await io.read(info, before.length))).toBe(sha256(before)));
    for (const x of [fromSnap, clone]) (await backend.deleteVolume(x))._unsafeUnwrap();
    (await backend.deleteSnapshot(snap))._unsafeUnwrap();
    (await backend.deleteVolume(v))._unsafeUnwrap();
    expect(sim.snapshot().luns).toEqual([]);
  });

  it("after terminateConnection the target no longer serves the LUN to that host, and the host objects are gone", async () => {
    const v = (await backend.createVolume({ id: "host-vol-5", sizeGiB: 1 }))._unsafeUnwrap();
    const info = (await backend.initializeConnection(v, ioHost))._unsafeUnwrap();
    expect(await io.capacity(info)).toBe(GiB);
    (await backend.terminateConnection(v, ioHost))._unsafeUnwrap();
    await expect(io.capacity(info)).rejects.toThrow();
    expect(sim.snapshot().hosts).toEqual([]);
    (await backend.deleteVolume(v))._unsafeUnwrap();
  });

  it("an unreachable array is BACKEND_UNAVAILABLE within the operation's deadline (refused and hanging controllers)", async () => {
    for (const mode of ["refuse", "hang"] as const) {
      await sim.faults.unreachable(mode);
      const started = Date.now();
      const e = (await backend.createVolume({ id: `host-unreachable-${mode}`, sizeGiB: 1 }, { deadline: Date.now() + 3_000 }))._unsafeUnwrapErr();
      const took = Date.now() - started;
      await sim.faults.reachable();
      expect(e.code, mode).toBe("BACKEND_UNAVAILABLE");
      expect(took, mode).toBeLessThan(3_000);
    }
    expect(sim.snapshot().luns).toEqual([]);
  });
});

describe("IP-SAN driver: 32 hosts map at once", () => {
  it("every host gets its own mapping and a distinct host LUN id, served on both port targets with its own CHAP; nothing lost or duplicated", async () => {
    expect(missing).toBeUndefined();
    const HOSTS = 32;
    const ids: IscsiIdentity[] = Array.from({ length: HOSTS }, (_v, i) => ({ iqn: `iqn.2024-01.org.volkit:many-${i}`, chap: { user: `many-${i}`, password: `Many-Secret-${String(i).padStart(3, "0")}` } }));
    const sim = await startArraySimulator({ protocol: "http" });
    try {
      const backend = wrapDriver((await createIpsanDriver({ ...config(sim), maxConcurrentRequests: 64, iscsi: { initiators: ids.map((h) => ({ iqn: h.iqn, chap: h.chap })) } }))._unsafeUnwrap());
      const volumes = await Promise.all(ids.map(async (_h, i) => (await backend.createVolume({ id: `many-vol-${i}`, sizeGiB: 1 + (i % 3) }))._unsafeUnwrap()));
      const t0 = performance.now();
      const infos = await Promise.all(volumes.map(async (v, i) => (await backend.initializeConnection(v, { host: `many-host-${i}`, initiator: ids[i]?.iqn ?? "", multipath: true }))._unsafeUnwrap()));
      const mappingMs = Math.round(performance.now() - t0);
      console.log(`[ipsan] 32 hosts initializeConnection at once (per-host locks, tgtd reconciling): ${mappingMs} ms`);
      const luns = infos.map((info) => (info.type === "iscsi" ? info.targetLun : -1));
      expect(new Set(luns).size).toBe(HOSTS);
      const s = sim.snapshot();
      expect([s.hosts.length, s.hostGroups.length, s.lunGroups.length, s.views.length, s.initiators.length]).toEqual([HOSTS, HOSTS, HOSTS, HOSTS, HOSTS]);
      for (const [i, v] of volumes.entries()) {
        const host = s.hosts.find((h) => h.name === `many-host-${i}`);
        const group = s.lunGroups.find((g) => g.name === `OpenStack_LunGroup_${host?.id}`);
        expect(s.lunGroupMembers[group?.id ?? ""]).toEqual([{ type: 11, id: v.providerId }]);
      }
      const show = await run("tgtadm", ["-C", String(sim.iscsi.controlPort()), "--lld", "iscsi", "--op", "show", "--mode", "target"]);
      const targets = show.stdout.split(/^Target \d+: /m).slice(1);
      expect(targets).toHaveLength(2);
      for (const target of targets) {
        expect(target.match(/Backing store type: rdwr/g)).toHaveLength(HOSTS);
        expect(target.match(/iqn\.2024-01\.org\.volkit:many-/g)).toHaveLength(HOSTS);
      }
      for (const i of [0, 13, 31]) {
        const identity = ids[i];
        const info = infos[i];
        if (!identity || !info) throw new Error("missing host");
        expect(await new IscsiIo(dir, identity).capacity(info, 1)).toBe((1 + (i % 3)) * GiB);
      }
      await Promise.all(volumes.map(async (v, i) => (await backend.terminateConnection(v, { host: `many-host-${i}`, initiator: ids[i]?.iqn ?? "" }))._unsafeUnwrap()));
      const after = sim.snapshot();
      expect([after.hosts.length, after.lunGroups.length, after.views.length, after.initiators.length]).toEqual([0, 0, 0, 0]);
      await Promise.all(volumes.map(async (v) => (await backend.deleteVolume(v))._unsafeUnwrap()));
      (await backend.close())._unsafeUnwrap();
    } finally {
      await sim.stop();
    }
  });
});

// The conformance suite with its data checks done through the targets (map, qemu-img, unmap).
let conformanceSim: Promise<ArraySimulator> | undefined;
let conformanceBackend: VolumeBackend | undefined;
const simForConformance = (): Promise<ArraySimulator> => (conformanceSim ??= startArraySimulator({ protocol: "http", copyDurationMs: 50 }));
afterAll(async () => {
  if (conformanceSim) await (await conformanceSim).stop();
});
const conformanceIo: ConformanceIo = {
  write: async (volume, data) => {
    const b = conformanceBackend;
    if (!b) throw new Error("no backend yet");
    const info = (await b.initializeConnection(volume, ioHost))._unsafeUnwrap();
    try {
      await new IscsiIo(dir, IO_HOST).write(info, data);
    } finally {
      (await b.terminateConnection(volume, ioHost))._unsafeUnwrap();
    }
  },
  read: async (volume, bytes) => {
    const b = conformanceBackend;
    if (!b) throw new Error("no backend yet");
    const info = (await b.initializeConnection(volume, ioHost))._unsafeUnwrap();
    try {
      return await new IscsiIo(dir, IO_HOST).read(info, bytes);
    } finally {
      (await b.terminateConnection(volume, ioHost))._unsafeUnwrap();
    }
  },
};
describeVolumeDriverConformance({
  name: "IP-SAN driver on the array simulator, data through its iSCSI targets",
  create: async () => {
    if (missing) throw new Error(missing);
    const sim = await simForConformance();
    conformanceBackend = wrapDriver((await createIpsanDriver(config(sim, { maxCloneDepth: 2 })))._unsafeUnwrap(), { name: "ipsan-host-conformance" });
    return conformanceBackend;
  },
  io: conformanceIo,
  ioBytes: 1 * MiB,
  timeoutMs: 120_000,
});
