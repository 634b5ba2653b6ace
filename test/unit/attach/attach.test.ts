import { errAsync } from "neverthrow";
import { describe, expect, it, vi } from "vitest";
import { attachVolume, detachVolume, extendAttachedVolume, restoreAttachment, type Attachment } from "../../../src/attach/attach.js";
import { createHost } from "../../../src/attach/host.js";
import { VolkitError } from "../../../src/core/errors.js";
import { wrapDriver } from "../../../src/drivers/backend.js";
import { FakeConnector } from "../../../src/testing/fake-connector.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";

const GiB = 1024 ** 3;
const vdb = { target: { dev: "vdb", bus: "virtio" as const } };
const boom = (code: VolkitError["code"] = "BACKEND_UNAVAILABLE"): VolkitError => new VolkitError(code, `simulated ${code}`, { source: "test" });

async function setup() {
  const driver = new MemoryVolumeDriver();
  const backend = wrapDriver(driver, { name: "mem" });
  const connector = new FakeConnector();
  const volume = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
  return { driver, backend, connector, volume };
}

describe("attachVolume", () => {
  it("exports, connects and builds the libvirt XML in one call; detachVolume undoes all of it", async () => {
    const { driver, backend, connector, volume } = await setup();
    const att = (await attachVolume(backend, volume, { connector, disk: vdb }))._unsafeUnwrap();
    expect(att.volume.providerLocation).toBe("memory:v1");
    expect(att.connection).toMatchObject({ type: "local", volumeId: "v1", devicePath: "/dev/volkit-memory/v1", accessMode: "rw" });
    expect(att.device).toMatchObject({ type: "block", path: "/dev/volkit-memory/v1" });
    expect(att.exportCreated).toBe(true);
    expect(att.xml).toContain("<source dev='/dev/volkit-memory/v1'/>");
    expect(att.xml).toContain("<target dev='vdb' bus='virtio'/>");
    expect(att.record).toMatchObject({ backend: "mem", exportCreated: true, host: { host: "fake-host" } });
    expect(driver.isExported("v1")).toBe(true);
    expect(driver.connectedHosts("v1")).toEqual(["fake-host"]);
    expect(connector.attached.has("v1")).toBe(true);

    const report = (await detachVolume(att))._unsafeUnwrap();
    expect(report).toEqual({ disconnect: { removed: ["device /dev/volkit-memory/v1"], leftBehind: [] }, connectionTerminated: true, exportRemoved: true });
    expect(driver.isExported("v1")).toBe(false);
    expect(driver.connectedHosts("v1")).toEqual([]);
    expect(connector.attached.size).toBe(0);
  });

  it("without disk options builds no XML, and read-only attaches carry accessMode ro", async () => {
    const { backend, connector, volume } = await setup();
    const att = (await attachVolume(backend, volume, { connector, readOnly: true }))._unsafeUnwrap();
    expect(att.xml).toBeUndefined();
    expect(att.connection.accessMode).toBe("ro");
    expect(att.host.readOnly).toBe(true);
  });

  it("refuses bad input (volume, disk options) before any step runs", async () => {
    const { driver, backend, connector } = await setup();
    const exportSpy = vi.spyOn(driver, "createExport");
    const bad = await attachVolume(backend, { id: "../x", sizeGiB: 1 }, { connector });
    expect(bad._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    const badDisk = await attachVolume(backend, { id: "v1", sizeGiB: 1 }, { connector, disk: { target: { dev: "vdb;rm", bus: "virtio" } } });
    expect(badDisk._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(exportSpy).not.toHaveBeenCalled();
    expect(connector.calls).toEqual([]);
  });

  it("refuses a connector of another protocol than the backend's", async () => {
    const { backend, volume } = await setup();
    const r = await attachVolume(backend, volume, { connector: new FakeConnector({ protocol: "iscsi" }) });
    expect(r._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
  });

  // Each step fails once; what the earlier steps did must be undone, and nothing else.
  const steps = [
    { step: "host properties", fail: (f: Fixture) => f.connector.failNext("getHostProperties", boom()), undone: [] as readonly string[] },
    { step: "createExport", fail: (f: Fixture) => vi.spyOn(f.driver, "createExport").mockReturnValueOnce(errAsync(boom("EXPORT_FAILED"))), undone: [] },
    { step: "initializeConnection", fail: (f: Fixture) => vi.spyOn(f.driver, "initializeConnection").mockReturnValueOnce(errAsync(boom("INVALID_STATE"))), undone: ["export"] },
    { step: "connect", fail: (f: Fixture) => f.connector.failNext("connectVolume", boom("LOGIN_FAILED")), undone: ["connection", "export"] },
  ];
  type Fixture = Awaited<ReturnType<typeof setup>>;
  it.each(steps)("a failure at $step undoes the earlier steps and reports the rollback", async ({ fail, undone }) => {
    const f = await setup();
    fail(f);
    const e = (await attachVolume(f.backend, f.volume, { connector: f.connector, disk: vdb }))._unsafeUnwrapErr();
    const rollback: unknown = e.details.rollback ?? { undone: [], failed: [] };
    expect(rollback).toEqual({ undone, failed: [] });
    expect(f.driver.isExported("v1")).toBe(false);
    expect(f.driver.connectedHosts("v1")).toEqual([]);
    expect(f.connector.attached.size).toBe(0);
  });

  it("a failure building the XML (a combination libvirt refuses) disconnects, revokes and unexports", async () => {
    const f = await setup();
    // A writable guest disk on a read-only connection: refused only once the connection is known.
    const e = (await attachVolume(f.backend, f.volume, { connector: f.connector, readOnly: true, disk: { ...vdb, readonly: false } }))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.details.rule).toBe("readonly-access-mode");
    expect(e.details.rollback).toEqual({ undone: ["device", "connection", "export"], failed: [] });
    expect(f.connector.count("disconnectVolume")).toBe(1);
    expect(f.driver.isExported("v1")).toBe(false);
    expect(f.driver.connectedHosts("v1")).toEqual([]);
  });

  it("keeps an export it did not create when a later step fails", async () => {
    const f = await setup();
    (await f.backend.createExport(f.volume))._unsafeUnwrap();
    f.connector.failNext("connectVolume", boom("LOGIN_FAILED"));
    const e = (await attachVolume(f.backend, f.volume, { connector: f.connector }))._unsafeUnwrapErr();
    expect(e.details.rollback).toEqual({ undone: ["connection"], failed: [] });
    expect(f.driver.isExported("v1")).toBe(true);
  });

  it("reports an undo step that failed too, and still runs the others", async () => {
    const f = await setup();
    f.connector.failNext("connectVolume", boom("LOGIN_FAILED"));
    vi.spyOn(f.driver, "terminateConnection").mockReturnValueOnce(errAsync(boom("BACKEND_UNAVAILABLE")));
    const e = (await attachVolume(f.backend, f.volume, { connector: f.connector }))._unsafeUnwrapErr();
    expect(e.code).toBe("LOGIN_FAILED");
    expect(e.details.rollback).toEqual({ undone: ["export"], failed: [{ step: "connection", code: "BACKEND_UNAVAILABLE", message: "simulated BACKEND_UNAVAILABLE" }] });
    expect(e.message).toMatch(/rollback left: connection/);
  });
});

describe("detachVolume", () => {
  async function attached(): Promise<Fixture & { att: Attachment }> {
    const f = await setup();
    return { ...f, att: (await attachVolume(f.backend, f.volume, { connector: f.connector }))._unsafeUnwrap() };
  }
  type Fixture = Awaited<ReturnType<typeof setup>>;

  it("stops after a failed disconnect: the storage keeps granting access while the host holds devices", async () => {
    const { driver, connector, att } = await attached();
    connector.failNext("disconnectVolume", boom("DETACH_INCOMPLETE"));
    expect((await detachVolume(att))._unsafeUnwrapErr().code).toBe("DETACH_INCOMPLETE");
    expect(driver.connectedHosts("v1")).toEqual(["fake-host"]);
    expect(driver.isExported("v1")).toBe(true);
    // A retry finishes the job.
    expect((await detachVolume(att))._unsafeUnwrap().exportRemoved).toBe(true);
  });

  it("keeps the export while another host still has access, and with keepExport", async () => {
    const { driver, backend, att } = await attached();
    (await backend.initializeConnection(att.volume, { host: "other-host" }))._unsafeUnwrap();
    const report = (await detachVolume(att))._unsafeUnwrap();
    expect(report).toMatchObject({ connectionTerminated: true, exportRemoved: false });
    expect(driver.isExported("v1")).toBe(true);
    const again = await attached();
    expect((await detachVolume(again.att, { keepExport: true }))._unsafeUnwrap().exportRemoved).toBe(false);
    expect(again.driver.isExported("v1")).toBe(true);
  });

  it("validates the attachment's record again: a tampered device path is refused before any command", async () => {
    const { connector, att } = await attached();
    const tampered: Attachment = { ...att, record: { ...att.record, device: { ...att.record.device, path: "/dev/../etc/shadow" } } };
    expect((await detachVolume(tampered))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(connector.count("disconnectVolume")).toBe(0);
  });
});

describe("extendAttachedVolume and restoreAttachment", () => {
  it("grows the volume and checks the host sees the new size", async () => {
    const { backend, connector, volume } = await setup();
    const att = (await attachVolume(backend, volume, { connector }))._unsafeUnwrap();
    connector.setSize("v1", 3 * GiB);
    const grown = (await extendAttachedVolume(att, 3))._unsafeUnwrap();
    expect(grown.volume.sizeGiB).toBe(3);
    expect(grown.device.sizeBytes).toBe(3 * GiB);
    expect(grown.record.volume.sizeGiB).toBe(3);
    connector.setSize("v1", 3 * GiB); // the host did not see the next extend
    expect((await extendAttachedVolume(grown, 4))._unsafeUnwrapErr().code).toBe("INVALID_STATE");
  });

  it("rebuilds an attachment from its stored JSON after a restart and detaches it", async () => {
    const { driver, backend, connector, volume } = await setup();
    const att = (await attachVolume(backend, volume, { connector, disk: vdb }))._unsafeUnwrap();
    const stored: unknown = JSON.parse(JSON.stringify(att.record));
    const restored = (await restoreAttachment(backend, stored as typeof att.record, { connector }))._unsafeUnwrap();
    expect(restored.xml).toBe(att.xml);
    expect((await detachVolume(restored))._unsafeUnwrap().exportRemoved).toBe(true);
    expect(driver.isExported("v1")).toBe(false);
  });

  it("refuses a record of another backend or with a bad field", async () => {
    const { backend, connector, volume } = await setup();
    const att = (await attachVolume(backend, volume, { connector }))._unsafeUnwrap();
    expect((await restoreAttachment(backend, { ...att.record, backend: "other" }, { connector }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await restoreAttachment(backend, { ...att.record, connection: { ...att.record.connection, volumeId: "-rf" } }, { connector }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
  });

  it("a host built with createHost hands out one shared connector per protocol", async () => {
    const injected = new FakeConnector();
    const host = createHost({ use: { local: injected } });
    const a = (await host.connector("local"))._unsafeUnwrap();
    const b = (await host.connector("local"))._unsafeUnwrap();
    expect(a).toBe(injected);
    expect(b).toBe(a);
    const real = createHost();
    const c1 = (await real.connector("local"))._unsafeUnwrap();
    expect((await real.connector("local"))._unsafeUnwrap()).toBe(c1);
    expect((await real.connector("nvmeof"))._unsafeUnwrapErr().code).toBe("NOT_SUPPORTED");
  });
});
