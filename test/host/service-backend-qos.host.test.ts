/**
 * Back-end QoS through the volume service on real back ends: a volume type whose QoS specs are
 * consumed by `back-end` is created through the service, and the back end itself shows the
 * limits — the IP-SAN array simulator (REST + a private tgtd) holds an active QoS policy with the
 * volume's LUN; the shared Ceph cluster's `rbd config image list` carries the `rbd_qos_*` image
 * settings. Deleting the volume through the service takes them away.
 *
 *   npx vitest run --project host test/host/service-backend-qos.host.test.ts
 *
 * Needs root and tgt, libiscsi-bin, qemu-utils, qemu-block-extra, openssl (IP-SAN), and the
 * Ceph packages of the shared cluster (ceph-mon, ceph-mgr, ceph-osd, ceph-common).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVolumeService, type VolumeService, type VolumeServiceConfig } from "../../src/service/index.js";
import { startArraySimulator, type ArraySimulator } from "../../src/testing/array-simulator/index.js";
import type { CephCluster } from "../../src/testing/ceph-cluster.js";
import { sharedCephCluster } from "./ceph-shared.js";
import { missingIpsanPrerequisite } from "./ipsan-iscsi-io.js";
import { RbdPoolFixture } from "./rbd-helpers.js";

const MiB = 1024 * 1024;

/** QoS specs and types of both tests: Cinder's keys, consumed by the back end. */
const TYPES = (backend: string): Pick<VolumeServiceConfig, "qosSpecs" | "volumeTypes"> => ({
  qosSpecs: [{ name: "be-gold", consumer: "back-end", specs: { total_iops_sec_per_gb: 2000, total_iops_sec_per_gb_min: 3000, total_bytes_sec: 200 * MiB } }],
  volumeTypes: [
    { name: "gold", extraSpecs: { volume_backend_name: backend }, qosSpecs: "be-gold" },
    { name: "plain", extraSpecs: { volume_backend_name: backend } },
  ],
});

/** A service on one backend, a memory store, no reconcile work. */
async function serviceOn(name: string, config: VolumeServiceConfig["backends"][number]["config"]): Promise<VolumeService> {
  const made = await createVolumeService({ backends: [{ name, config }], store: { kind: "memory" }, host: { hostName: "qos-host" }, statsIntervalMs: 3_600_000, ...TYPES(name) });
  if (made.isErr()) throw new Error(`${made.error.code}: ${made.error.message}`);
  return made.value;
}

describe("back-end QoS through the service on the IP-SAN array simulator (real tgtd)", () => {
  const missing = missingIpsanPrerequisite();
  it("has its prerequisites (root, tgt, libiscsi-bin, qemu-utils, qemu-block-extra, openssl)", () => {
    expect(missing).toBeUndefined();
  });
  if (missing !== undefined) return;
  let sim: ArraySimulator;
  let service: VolumeService;

  beforeAll(async () => {
    sim = await startArraySimulator({ protocol: "https" });
    service = await serviceOn("san", { driver: "ipsan", ...sim.connection(), storagePools: ["StoragePool001"] });
  });
  afterAll(async () => {
    if (service) (await service.close())._unsafeUnwrap();
    await sim?.stop();
  });

  it("a gold volume gets an active policy with the type's limits (per-GB scaled); a plain one none; delete removes it", async () => {
    const gold = (await service.createVolume({ id: "qos-gold", sizeGiB: 2, volumeType: "gold" }))._unsafeUnwrap();
    const plain = (await service.createVolume({ id: "qos-plain", sizeGiB: 1, volumeType: "plain" }))._unsafeUnwrap();
    const array = sim.snapshot();
    expect(array.qos.map((q) => [q.name, q.enabled, q.ioType, q.limits, q.lunIds])).toEqual([[`OpenStack_${gold.providerId ?? "?"}_volkit`, true, "2", { MAXIOPS: "4000", MAXBANDWIDTH: "200" }, [gold.providerId]]]);
    expect(array.luns.find((l) => l.id === plain.providerId)?.qosId).toBe("");
    expect(array.luns.find((l) => l.id === gold.providerId)?.qosId).toBe(array.qos[0]?.id);
    (await service.deleteVolume("qos-gold"))._unsafeUnwrap();
    (await service.deleteVolume("qos-plain"))._unsafeUnwrap();
    expect(sim.snapshot().qos).toEqual([]);
    expect(sim.snapshot().luns).toEqual([]);
  });
});

describe("back-end QoS through the service on the shared Ceph cluster (RBD)", () => {
  const shared = sharedCephCluster();
  it("has its prerequisites (root, Ceph packages; the shared cluster started)", () => {
    expect(shared instanceof Error ? shared.message : undefined).toBeUndefined();
  });
  if (shared instanceof Error) return;
  const cluster: CephCluster = shared;
  const POOL = `svcqos${process.pid}`;
  let fx: RbdPoolFixture;
  let service: VolumeService;
  const imageQos = async (id: string): Promise<Record<string, string>> =>
    Object.fromEntries((await fx.json<{ name: string; value: string; source: string }[]>(["config", "image", "list", `${POOL}/volume-${id}`])).filter((e) => e.source === "image").map((e) => [e.name, e.value]));

  beforeAll(async () => {
    await cluster.createPool(POOL);
    const user = await cluster.createClient(`svcqos${process.pid}`, { mon: "profile rbd", osd: `profile rbd pool=${POOL}`, mgr: `profile rbd pool=${POOL}` });
    fx = new RbdPoolFixture(cluster, POOL, user);
    service = await serviceOn("ceph", { driver: "rbd", monitors: [`v2:${cluster.monV2}`], clientId: user.id, key: user.key, pool: POOL, connectTimeoutSec: 5 });
  });
  afterAll(async () => {
    if (service) (await service.close())._unsafeUnwrap();
    await cluster.ceph(["osd", "pool", "rm", POOL, POOL, "--yes-i-really-really-mean-it"]).catch(() => undefined);
  });

  it("rbd config image list carries the type's limits on a gold volume and its clone; a plain volume has none", async () => {
    const gold = (await service.createVolume({ id: "rbd-gold", sizeGiB: 1, volumeType: "gold" }))._unsafeUnwrap();
    const limits = { rbd_qos_iops_limit: "3000", rbd_qos_bps_limit: String(200 * MiB) };
    expect(await imageQos(gold.id)).toEqual(limits);
    const plain = (await service.createVolume({ id: "rbd-plain", sizeGiB: 1, volumeType: "plain" }))._unsafeUnwrap();
    expect(await imageQos(plain.id)).toEqual({});
    // A clone of a gold volume into gold: its own limits (scaled to its size).
    const clone = (await service.createVolume({ id: "rbd-clone", sizeGiB: 2, volumeType: "gold", source: { kind: "volume", volumeId: gold.id } }))._unsafeUnwrap();
    expect(await imageQos(clone.id)).toEqual({ rbd_qos_iops_limit: "4000", rbd_qos_bps_limit: String(200 * MiB) });
    for (const id of ["rbd-clone", "rbd-plain", "rbd-gold"]) (await service.deleteVolume(id))._unsafeUnwrap();
    expect(JSON.parse(await cluster.rbd(["ls", POOL, "--format", "json"])) as string[]).toEqual([]);
  });
});
