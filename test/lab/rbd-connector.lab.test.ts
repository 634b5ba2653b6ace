/**
 * The RBD driver and the RBD connector against the guest kernel's rbd client, on a REAL
 * single-node Ceph cluster started INSIDE the storage lab guest (it has no network to the host;
 * the daemons bind to 127.0.0.1). Runs in the lab:
 *
 *   npx tsx lab/run.ts -- npx vitest run --project lab test/lab/rbd-connector.lab.test.ts
 *
 * Attach (`attachVolume` → the connector from the registry → `rbd device map`), write, detach,
 * attach again and read the same bytes back (sha256, O_DIRECT), extend while mapped, detach with
 * nothing left (no /dev/rbd*, `rbd device list` empty). Prints the cluster start and the
 * attach/detach timings (TCG: everything is slower than on a host).
 */
import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachVolume, detachVolume, extendAttachedVolume, type Attachment } from "../../src/attach/attach.js";
import { createHost } from "../../src/attach/host.js";
import type { Volume } from "../../src/core/records.js";
import type { VolumeBackend } from "../../src/drivers/backend.js";
import { createBackend } from "../../src/drivers/registry.js";
import type { RbdConfig } from "../../src/drivers/rbd/index.js";
import { rbdProfileCaps, startCephCluster, type CephClient, type CephCluster } from "../../src/testing/ceph-cluster.js";
import { deviceSize, must, pattern, readAt, sh, sha256, uid, writeAt } from "./helpers.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const timings: string[] = [];
const timed = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
  const started = performance.now();
  const value = await run();
  timings.push(`${label}: ${Math.round(performance.now() - started)} ms`);
  return value;
};

/** Mapped images per `rbd device list` (run as the test's admin). */
const mapped = (cluster: CephCluster): unknown[] => JSON.parse(sh(["rbd", "--conf", cluster.confPath, "device", "list", "--format", "json"])) as unknown[];
/** Kernel rbd devices present: `/dev/rbd<N>` nodes and `/sys/bus/rbd/devices` entries. */
const rbdDevices = (): string[] => [...readdirSync("/dev").filter((d) => /^rbd\d+$/.test(d)).map((d) => `/dev/${d}`), ...readdirSync("/sys/bus/rbd/devices").map((d) => `sysfs:${d}`)];

describe("RBD: the kernel client attaches volumes of the RBD driver (Ceph inside the lab guest)", () => {
  let cluster: CephCluster;
  let user: CephClient;
  const backends: VolumeBackend[] = [];
  const backend = async (config: Partial<RbdConfig>): Promise<VolumeBackend> => {
    const made = await must(createBackend({ driver: "rbd", monitors: [`v2:${cluster.monV2}`], clientId: user.id, key: user.key, pool: "volumes", connectTimeoutSec: 30, ...config }));
    backends.push(made);
    return made;
  };
  let volume: Volume;
  const head = pattern(4 * MiB);
  const tail = pattern(MiB);
  /** Private key-file directories (`mktemp -d -t volkit-ceph.XXXXXXXX`) present now. */
  const keyfileDirs = (): string[] => readdirSync("/tmp").filter((d) => d.startsWith("volkit-ceph."));

  beforeAll(async () => {
    // The guest's /tmp is a tmpfs: the OSD's block file goes to /var/tmp (the root disk).
    cluster = await timed("cluster start (1 mon, 1 mgr, 1 bluestore OSD)", () => startCephCluster({ parentDir: "/var/tmp", pools: ["volumes"], log: (l) => console.log(`[ceph] ${l}`) }));
    user = await cluster.createClient(uid("lab"), rbdProfileCaps("volumes"));
    sh(["modprobe", "rbd"]);
  });

  afterAll(async () => {
    console.log(`[rbd-lab] timings:\n  ${timings.join("\n  ")}`);
    for (const b of backends) expect((await b.close()).isOk()).toBe(true);
    if (cluster) await cluster.stop();
  });

  it("attaches through the kernel client with the key from the connection info, writes, and detaches leaving nothing", async () => {
    // exposeKey: the connection info carries the key; the connector writes it to a 0600 file for the map only.
    const b = await backend({ exposeKey: true });
    volume = await must(b.createVolume({ id: uid("v"), sizeGiB: 1 }));
    const keyfilesBefore = keyfileDirs();
    const host = createHost();
    const attached: Attachment = await timed("attach (key in connection info)", () => must(attachVolume(b, volume, { host })));
    expect(attached.connection).toMatchObject({ type: "rbd", pool: "volumes", image: `volume-${volume.id}`, monitors: [cluster.monV1] });
    expect(attached.device.path).toMatch(/^\/dev\/rbd\d+$/);
    expect(attached.device.sizeBytes).toBe(GiB);
    expect(deviceSize(attached.device.path)).toBe(GiB);
    expect(mapped(cluster)).toEqual([expect.objectContaining({ pool: "volumes", name: `volume-${volume.id}`, device: attached.device.path })]);

    writeAt(attached.device.path, 0, head.data);
    writeAt(attached.device.path, 512 * MiB, tail.data);
    expect(sha256(readAt(attached.device.path, 0, 4 * MiB))).toBe(head.sha);

    const report = await timed("detach", () => must(detachVolume(attached)));
    expect(report.disconnect.removed).toEqual([`mapping volumes/volume-${volume.id} ${attached.device.path}`]);
    expect(report.disconnect.leftBehind).toEqual([]);
    expect(rbdDevices()).toEqual([]);
    expect(mapped(cluster)).toEqual([]);
    // Detaching again (a retry after a lost reply): nothing to do, a clean empty report.
    const again = await must(detachVolume(attached));
    expect(again.disconnect).toEqual({ removed: [], leftBehind: [] });
    expect(rbdDevices()).toEqual([]);
    // The connector's key file (written for the map) is gone; the driver's own stays until close.
    expect(keyfileDirs()).toEqual(keyfilesBefore);
  });

  it("attaches again with a keyring on the host, reads the same bytes, extends while mapped, and detaches leaving nothing", async () => {
    // No key in the connection info: the keyring on this host (the driver names it in hostKeyringPath).
    const b = await backend({ hostKeyringPath: user.keyringPath });
    const attached = await timed("attach (keyring on the host)", () => must(attachVolume(b, volume, { host: createHost() })));
    expect(attached.connection).not.toHaveProperty("key");
    expect(sha256(readAt(attached.device.path, 0, 4 * MiB))).toBe(head.sha);
    expect(sha256(readAt(attached.device.path, 512 * MiB, MiB))).toBe(tail.sha);

    const grown = await timed("extend while mapped (1 → 2 GiB)", () => must(extendAttachedVolume(attached, 2)));
    expect(grown.device.sizeBytes).toBe(2 * GiB);
    expect(deviceSize(attached.device.path)).toBe(2 * GiB);
    expect(sha256(readAt(attached.device.path, 0, 4 * MiB))).toBe(head.sha);
    const beyond = Buffer.alloc(MiB, 0xc3);
    writeAt(attached.device.path, GiB + 256 * MiB, beyond);
    expect(sha256(readAt(attached.device.path, GiB + 256 * MiB, MiB))).toBe(sha256(beyond));

    // Another mapping of the same image (not the attachment's): the detach keeps it and says so.
    const other = sh(["rbd", "--conf", cluster.confPath, "device", "map", `volumes/volume-${volume.id}`]).trim();
    const report = await timed("detach (another mapping kept)", () => must(detachVolume(grown)));
    expect(report.disconnect.removed).toEqual([`mapping volumes/volume-${volume.id} ${attached.device.path}`]);
    expect(report.disconnect.leftBehind).toHaveLength(1);
    expect(report.disconnect.leftBehind[0]).toMatchObject({ kind: "mapping", name: other, expected: true });
    expect(report.disconnect.leftBehind[0]?.reason).toMatch(/^kept: another mapping/);
    sh(["rbd", "device", "unmap", other]);

    expect(rbdDevices()).toEqual([]);
    expect(mapped(cluster)).toEqual([]);
    volume = { ...volume, sizeGiB: 2 };
    expect((await b.deleteVolume(volume)).isOk()).toBe(true);
    expect(JSON.parse(sh(["rbd", "--conf", cluster.confPath, "ls", "volumes", "--format", "json"]))).toEqual([]);
  });
});
