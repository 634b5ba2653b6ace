import { describe, expect, it } from "vitest";
import { hasBackendQos, iotuneForVolume, resolveBackendQos, resolveFrontendQos } from "../../../src/service/index.js";

describe("front-end QoS", () => {
  it("passes only front-end or both specs", () => {
    expect(resolveFrontendQos({ consumer: "back-end", specs: { total_iops_sec: 100 } }, 10)._unsafeUnwrap()).toBeUndefined();
    expect(resolveFrontendQos(undefined, 10)._unsafeUnwrap()).toBeUndefined();
    expect(resolveFrontendQos({ consumer: "both", specs: { total_iops_sec: "100", vendor: "gold" } }, 10)._unsafeUnwrap()).toEqual({ total_iops_sec: 100 });
  });

  it("scales per-GB limits with the size, floors them at _per_gb_min and caps them at _max as Cinder does", () => {
    const specs = { consumer: "front-end" as const, specs: { total_iops_sec_per_gb: 10, total_iops_sec_per_gb_min: 200, read_bytes_sec_per_gb: 1048576, read_bytes_sec_max: 20971520 } };
    // 5 GiB: 50 iops < floor 200; 5 MiB/s read under the 20 MiB/s cap.
    expect(resolveFrontendQos(specs, 5)._unsafeUnwrap()).toEqual({ total_iops_sec: 200, read_bytes_sec: 5242880 });
    // 100 GiB: 1000 iops; 100 MiB/s capped at 20 MiB/s (the _max key is used up as the cap).
    expect(resolveFrontendQos(specs, 100)._unsafeUnwrap()).toEqual({ total_iops_sec: 1000, read_bytes_sec: 20971520 });
  });

  it("keeps _max as a burst when there is no per-GB key", () => {
    expect(iotuneForVolume({ consumer: "front-end", specs: { total_iops_sec: 100, total_iops_sec_max: 500, total_iops_sec_max_length: 10 } }, 1)._unsafeUnwrap()).toEqual({
      totalIopsSec: 100,
      totalIopsSecMax: 500,
      totalIopsSecMaxLength: 10,
    });
  });

  it("maps to libvirt iotune fields and refuses non-numeric limits", () => {
    expect(iotuneForVolume({ consumer: "front-end", specs: { write_iops_sec_per_gb: 3 } }, 20)._unsafeUnwrap()).toEqual({ writeIopsSec: 60 });
    const bad = resolveFrontendQos({ consumer: "front-end", specs: { total_iops_sec_per_gb: "lots" } }, 20);
    expect(bad._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(bad._unsafeUnwrapErr().message).toMatch(/total_iops_sec_per_gb/);
  });
});

describe("back-end QoS", () => {
  it("maps Cinder's keys of back-end or both specs to typed limits; front-end specs and vendor keys give none", () => {
    expect(resolveBackendQos({ consumer: "front-end", specs: { total_iops_sec: 100 } }, 10)._unsafeUnwrap()).toBeUndefined();
    expect(resolveBackendQos(undefined, 10)._unsafeUnwrap()).toBeUndefined();
    expect(resolveBackendQos({ consumer: "back-end", specs: { vendor: "gold" } }, 10)._unsafeUnwrap()).toBeUndefined();
    expect(hasBackendQos({ consumer: "back-end", specs: { vendor: "gold" } })).toBe(false);
    expect(
      resolveBackendQos({ consumer: "both", specs: { total_iops_sec: "500", read_iops_sec: 1, write_iops_sec: 2, total_bytes_sec: 3, read_bytes_sec: 4, write_bytes_sec: 5, vendor: "x" } }, 10)._unsafeUnwrap(),
    ).toEqual({ totalIopsSec: 500, readIopsSec: 1, writeIopsSec: 2, totalBytesSec: 3, readBytesSec: 4, writeBytesSec: 5 });
  });

  it("scales per-GB keys with the volume's size, as for the front end; 0 (unlimited) is left out", () => {
    const qos = { consumer: "back-end" as const, specs: { total_iops_sec_per_gb: 30, total_iops_sec_per_gb_min: 200, write_bytes_sec: 0 } };
    expect(hasBackendQos(qos)).toBe(true);
    expect(resolveBackendQos(qos, 5)._unsafeUnwrap()).toEqual({ totalIopsSec: 200 });
    expect(resolveBackendQos(qos, 100)._unsafeUnwrap()).toEqual({ totalIopsSec: 3000 });
  });

  it("refuses a limit that is not a whole number", () => {
    expect(resolveBackendQos({ consumer: "back-end", specs: { total_iops_sec_per_gb: "lots" } }, 5)._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
  });
});
