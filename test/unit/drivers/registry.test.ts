import { ok } from "neverthrow";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { wrapDriver } from "../../../src/drivers/backend.js";
import { defineDriver } from "../../../src/drivers/driver-definition.js";
import { createBackend, driverConfigJsonSchema, listDrivers, registerDriver } from "../../../src/drivers/registry.js";
import { describeVolumeDriverConformance } from "../../../src/testing/conformance.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";

/** A third-party driver: its config schema with labels, a factory, nothing else. */
const acme = defineDriver({
  name: "acme-mem",
  title: "ACME (in memory)",
  description: "A third-party driver joining the registry",
  configSchema: z.object({
    driver: z.literal("acme-mem"),
    backendName: z.string().optional(),
    capacityGiB: z.number().int().min(1).default(50).meta({ title: "Capacity (GiB)", description: "Size of the pool" }),
  }),
  defaultBackendName: (c) => `acme-${c.capacityGiB}`,
  create: (c) => ok(new MemoryVolumeDriver({ capacityGiB: c.capacityGiB, driverName: "acme-mem" })),
});

// The documented way a driver package types its configs for createBackend.
declare module "../../../src/drivers/registry.js" {
  interface DriverConfigs {
    "acme-mem": z.input<typeof acme.configSchema>;
    "acme-local": { driver: "acme-local" };
  }
}

describe("driver registry", () => {
  it("knows the built-in drivers with titles, and renders their config forms with labels and help", () => {
    expect(listDrivers().map((d) => d.name)).toEqual(expect.arrayContaining(["lvm", "nfs"]));
    const lvm = driverConfigJsonSchema("lvm")._unsafeUnwrap() as { title: string; properties: Record<string, { title?: string; description?: string }> };
    expect(lvm.title).toBe("LVM");
    expect(lvm.properties.volumeGroup).toMatchObject({ title: "Volume group", description: "Volume group holding the volumes." });
    expect(lvm.properties.lvmType?.title).toBe("LVM type");
    const nfs = driverConfigJsonSchema("nfs")._unsafeUnwrap() as { properties: Record<string, { title?: string }> };
    expect(nfs.properties.shares?.title).toBe("Shares");
  });

  it("a registered third-party driver joins createBackend and driverConfigJsonSchema", async () => {
    registerDriver(acme)._unsafeUnwrap();
    registerDriver(acme)._unsafeUnwrap(); // the same definition again is fine
    const schema = driverConfigJsonSchema("acme-mem")._unsafeUnwrap() as { properties: Record<string, { title?: string; default?: unknown }> };
    expect(schema.properties.capacityGiB).toMatchObject({ title: "Capacity (GiB)", default: 50 });
    const backend = (await createBackend({ driver: "acme-mem", capacityGiB: 7 }))._unsafeUnwrap();
    expect(backend.name).toBe("acme-7");
    const stats = (await backend.getVolumeStats())._unsafeUnwrap();
    expect(stats).toMatchObject({ volumeBackendName: "acme-7", totalCapacityGiB: 7, storageProtocol: "local" });
  });

  it("refuses another definition under a taken name, and a bad name", () => {
    expect(registerDriver({ ...acme })._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(registerDriver({ ...acme, name: "Bad Name" })._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
  });

  it("accepts per-call drivers without registering them", async () => {
    const local = defineDriver({ ...acme, name: "acme-local" , configSchema: z.object({ driver: z.literal("acme-local") }), defaultBackendName: () => "local-one", create: () => ok(new MemoryVolumeDriver()) });
    expect((await createBackend({ driver: "acme-local" }))._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect((await createBackend({ driver: "acme-local" }, { drivers: [local] }))._unsafeUnwrap().name).toBe("local-one");
  });

  it("names every bad config field with INVALID_CONFIG and runs nothing", async () => {
    const runner = new FakeRunner();
    const bad = await createBackend({ driver: "lvm", volumeGroup: "-bad", lvmType: "sideways" } as never, { runner });
    const e = bad._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_CONFIG");
    expect(e.message).toMatch(/volumeGroup/);
    expect(e.message).toMatch(/lvmType/);
    expect((await createBackend({ driver: "nope" }))._unsafeUnwrapErr().message).toMatch(/unknown driver "nope" \(registered: .*lvm.*nfs/);
    expect(runner.calls).toEqual([]);
  });

  it("builds a built-in driver lazily with the caller's runner and names the backend after its config", async () => {
    const runner = new FakeRunner();
    const backend = (await createBackend({ driver: "lvm", volumeGroup: "vg7" }, { runner }))._unsafeUnwrap();
    expect(backend.name).toBe("lvm-vg7");
    expect(backend.driver.driverName).toBe("lvm");
    expect(runner.calls).toEqual([]); // nothing runs before the first operation
  });
});

// A driver from the registry passes the conformance suite like any other.
describeVolumeDriverConformance({ name: "registered acme-mem driver", create: () => wrapDriver(new MemoryVolumeDriver({ driverName: "acme-mem" })) });
