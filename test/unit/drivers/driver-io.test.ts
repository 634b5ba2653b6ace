import { describe, expect, it } from "vitest";
import { createHost } from "../../../src/attach/host.js";
import { wrapDriver } from "../../../src/drivers/backend.js";
import { FakeConnector, fakeFailure } from "../../../src/testing/fake-connector.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";

// A driver without a local path reaches a volume's bytes through the runtime's attach-for-I/O port
// (ctx.io): the same attach and detach flows as attachVolume, on this host's connector.
describe("ctx.io: attach for the driver's own I/O", () => {
  function setup() {
    const runner = new FakeRunner().on(["qemu-img", "info"], { stdout: JSON.stringify({ "virtual-size": 1024 ** 3, format: "qcow2", filename: "/images/a.qcow2" }) }).on(["qemu-img", "convert"], {});
    const driver = new MemoryVolumeDriver({ runner });
    const connector = new FakeConnector();
    const backend = wrapDriver(driver, { host: createHost({ use: { local: connector } }) });
    return { runner, driver, connector, backend };
  }

  it("copyImageToVolume attaches the volume, converts into the device, detaches and removes the export it made", async () => {
    const { runner, driver, connector, backend } = setup();
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    (await backend.copyImageToVolume({ path: "/images/a.qcow2", format: "qcow2" }, v))._unsafeUnwrap();
    const convert = runner.commandsOf("qemu-img").find((a) => a[1] === "convert");
    expect(convert?.at(-1)).toBe("/dev/volkit-memory/v1"); // the attached device
    expect(connector.calls.map((c) => c.method)).toEqual(["getHostProperties", "connectVolume", "disconnectVolume"]);
    expect(driver.isExported("v1")).toBe(false);
    expect(driver.connectedHosts("v1")).toEqual([]);
  });

  it("keeps an export that existed before, and detaches even when the copy fails", async () => {
    const { runner, driver, connector, backend } = setup();
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    (await backend.createExport(v))._unsafeUnwrap();
    runner.once(["qemu-img", "convert"], { exitCode: 1, stderr: "qemu-img: Could not open: no space" });
    const e = (await backend.copyImageToVolume({ path: "/images/a.qcow2", format: "qcow2" }, v))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    expect(connector.count("disconnectVolume")).toBe(1);
    expect(connector.attached.size).toBe(0);
    expect(driver.isExported("v1")).toBe(true);
    expect(driver.connectedHosts("v1")).toEqual([]);
  });

  it("reports a failed detach together with the copy's own error", async () => {
    const { runner, connector, backend } = setup();
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    runner.once(["qemu-img", "convert"], { exitCode: 1, stderr: "qemu-img: write failed" });
    connector.failNext("disconnectVolume", fakeFailure("DETACH_INCOMPLETE"));
    const e = (await backend.copyImageToVolume({ path: "/images/a.qcow2", format: "qcow2" }, v))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    expect(e.message).toMatch(/the detach afterwards failed too/);
    expect(e.details.detachError).toMatchObject({ code: "DETACH_INCOMPLETE" });
  });

  it("without a host, a driver with no local path says NOT_SUPPORTED", async () => {
    const runner = new FakeRunner();
    const backend = wrapDriver(new MemoryVolumeDriver({ runner }));
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    expect((await backend.copyImageToVolume({ path: "/images/a.qcow2" }, v))._unsafeUnwrapErr().code).toBe("NOT_SUPPORTED");
    expect(runner.calls).toEqual([]);
  });
});
