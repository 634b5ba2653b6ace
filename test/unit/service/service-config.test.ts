import { errAsync } from "neverthrow";
import { afterEach, describe, expect, it } from "vitest";
import { VolkitError } from "../../../src/core/errors.js";
import { createVolumeService, openMemoryStore, VolumeServiceConfigSchema, type ServiceStore } from "../../../src/service/index.js";
import { must, world } from "./service-harness.js";

/** The service's config: validated whole before anything opens; any registered driver is a backend. */

const stores: ServiceStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await must(s.close());
});

async function memory(): Promise<ServiceStore> {
  const s = await must(openMemoryStore());
  stores.push(s);
  return s;
}

describe("volume service config", () => {
  it("applies defaults: SQLite store path, stats interval, image cache on, nova zone", () => {
    const c = VolumeServiceConfigSchema.parse({ backends: [{ config: { driver: "lvm" } }] });
    expect(c).toMatchObject({
      store: { kind: "sqlite", path: "/var/lib/volkit/service.db" },
      statsIntervalMs: 60_000,
      imageCache: { enabled: true, maxSizeGiB: 0, maxCount: 0 },
      scheduler: { defaultAvailabilityZone: "nova" },
      reconcileOnOpen: true,
      volumeTypes: [],
    });
  });

  it("refuses duplicates, dangling QoS and default-type references, with the field's path", () => {
    const r = VolumeServiceConfigSchema.safeParse({
      backends: [{ name: "x", config: { driver: "lvm" } }, { name: "x", config: { driver: "nfs" } }],
      volumeTypes: [{ name: "t", qosSpecs: "missing" }, { name: "t" }],
      defaultVolumeType: "none",
    });
    expect(r.success).toBe(false);
    const paths = r.error?.issues.map((i) => i.path.join(".")).sort();
    expect(paths).toEqual(["backends.1.name", "defaultVolumeType", "volumeTypes.0.qosSpecs", "volumeTypes.1.name"]);
  });

  it("validates each backend's driver config against its registered driver before opening anything", async () => {
    const bad = await createVolumeService({ backends: [{ config: { driver: "lvm", volumeGroup: "-rf" } }], store: { kind: "sqlite", path: "/nonexistent/never/opened.db" } });
    expect(bad._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(bad._unsafeUnwrapErr().message).toMatch(/backends\[0\]\.config \(lvm driver config\).*volumeGroup/);
    const unknown = await createVolumeService({ backends: [{ config: { driver: "acme" } }] });
    expect(unknown._unsafeUnwrapErr().message).toMatch(/unknown driver "acme" \(registered: .*lvm.*nfs/);
  });

  it("accepts any registered driver (here a test driver), and a backend that does not answer is down, not fatal", async () => {
    const store = await memory();
    const w = world(store);
    w.a.getPoolStats = () => errAsync(new VolkitError("BACKEND_UNAVAILABLE", "array unreachable"));
    const service = await w.open();
    expect((await must(service.listBackends())).map((b) => `${b.name}:${b.state}`)).toEqual(["mem-a:down", "mem-b:up"]);
    expect(service.pools().map((p) => p.ref)).toEqual(["mem-b#memory"]);
    const r = await service.createVolume({ sizeGiB: 1, volumeType: "gold" });
    expect(r._unsafeUnwrapErr().message).toMatch(/no valid backend .*mem-b#memory: CapabilitiesFilter: volume_backend_name requires "mem-a"/);
    await must(service.close());
  });

  it("refuses a connector config that does not validate, before anything runs", async () => {
    const store = await memory();
    const r = await createVolumeService(
      { backends: [{ config: { driver: "lvm", volumeGroup: "vg0", target: { helper: "lio" } } }], host: { connectors: { iscsi: { multipath: "yes" } } } },
      { store },
    );
    expect(r._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(r._unsafeUnwrapErr().message).toMatch(/multipath/);
  });
});
