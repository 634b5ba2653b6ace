import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { VolumeSpec } from "../../../src/core/records.js";
import { openMemoryStore, type ServiceStore, type VolumeService } from "../../../src/service/index.js";
import { must, world, type World } from "./service-harness.js";

/**
 * Back-end QoS through the service: a type whose QoS specs are consumed by `back-end` (or `both`)
 * reaches the driver as the typed `qos` of the volume spec at create and migrate; a backend
 * without the `qos` capability (the memory driver, like LVM and NFS) is refused by the scheduler,
 * naming the backend.
 */

let store: ServiceStore;
let w: World;
let service: VolumeService | undefined;

/** Specs the `a` driver's creates were handed. */
let specsA: VolumeSpec[];

beforeEach(async () => {
  store = await must(openMemoryStore());
  w = world(store);
  specsA = [];
  const create = w.a.createVolume.bind(w.a);
  w.a.createVolume = (spec, ctx) => {
    specsA.push(spec);
    return create(spec, ctx);
  };
});
afterEach(async () => {
  if (service) await must(service.close());
  service = undefined;
  await must(store.close());
});

const TYPES = {
  qosSpecs: [
    { name: "be-qos", consumer: "back-end" as const, specs: { total_iops_sec_per_gb: 100, total_iops_sec_per_gb_min: 500, read_bytes_sec: 104857600 } },
    { name: "fe-qos", consumer: "front-end" as const, specs: { total_iops_sec: 300 } },
  ],
  volumeTypes: [
    { name: "gold", extraSpecs: { volume_backend_name: "mem-a" }, qosSpecs: "be-qos" },
    { name: "anywhere", extraSpecs: {}, qosSpecs: "be-qos" },
    { name: "front", extraSpecs: { volume_backend_name: "mem-a" }, qosSpecs: "fe-qos" },
  ],
};

describe("back-end QoS reaches the driver", () => {
  it("hands the type's back-end limits, scaled to the size, to a driver with the qos capability", async () => {
    Object.assign(w.a, { capabilities: { ...w.a.capabilities, qos: true } });
    service = await w.open(TYPES);
    await must(service.createVolume({ id: "v1", sizeGiB: 10, volumeType: "gold" }));
    await must(service.createVolume({ id: "v2", sizeGiB: 2, volumeType: "gold" }));
    await must(service.createVolume({ id: "v3", sizeGiB: 2, volumeType: "front" }));
    expect(specsA.map((s) => [s.id, s.volumeType, s.qos])).toEqual([
      ["v1", "gold", { totalIopsSec: 1000, readBytesSec: 104857600 }],
      ["v2", "gold", { totalIopsSec: 500, readBytesSec: 104857600 }],
      ["v3", "front", undefined],
    ]);
    // Front-end QoS still goes to the hypervisor, not the driver.
    const att = await must(service.attachVolume({ volumeId: "v3" }));
    expect(att.attachment.connectionInfo).toMatchObject({ qosSpecs: { total_iops_sec: 300 } });
  });

  it("refuses a type with back-end QoS on backends without the capability, naming each backend (NO_VALID_BACKEND, nothing created)", async () => {
    service = await w.open(TYPES);
    const e = (await service.createVolume({ id: "v1", sizeGiB: 1, volumeType: "anywhere" }))._unsafeUnwrapErr();
    expect(e.code).toBe("NO_VALID_BACKEND");
    expect(e.message).toMatch(/mem-a#[^:]+: CapabilitiesFilter: the type has back-end QoS specs; backend mem-a does not apply back-end QoS/);
    expect(e.message).toMatch(/mem-b#[^:]+: CapabilitiesFilter: the type has back-end QoS specs; backend mem-b does not apply back-end QoS/);
    expect(e.details.rejections).toEqual(expect.arrayContaining([expect.objectContaining({ filter: "CapabilitiesFilter", backend: "mem-b", key: "QoS_support" })]));
    expect(specsA).toEqual([]);
    expect(w.b.volumeIds()).toEqual([]);
  });

  it("a retype that changes back-end QoS moves the volume (the destination's create applies it); policy never refuses it", async () => {
    Object.assign(w.b, { capabilities: { ...w.b.capabilities, qos: true } });
    service = await w.open(TYPES);
    await must(service.createVolume({ id: "v1", sizeGiB: 1, volumeType: "front" }));
    const refused = (await service.retypeVolume("v1", "anywhere", { migrationPolicy: "never" }))._unsafeUnwrapErr();
    expect(refused).toMatchObject({ code: "INVALID_STATE" });
    expect(refused.message).toMatch(/back-end QoS/);
    const specsB: VolumeSpec[] = [];
    const create = w.b.createVolume.bind(w.b);
    w.b.createVolume = (spec, ctx) => {
      specsB.push(spec);
      return create(spec, ctx);
    };
    const moved = await must(service.retypeVolume("v1", "anywhere", { migrationPolicy: "on-demand" }));
    expect(moved).toMatchObject({ backend: "mem-b", volumeTypeId: "anywhere" });
    expect(specsB.map((s) => [s.id, s.volumeType, s.qos])).toEqual([["v1", "anywhere", { totalIopsSec: 500, readBytesSec: 104857600 }]]);
  });
});
