/**
 * Hostile input to the attach flows: `attachVolume` (volume, disk options), `detachVolume`,
 * `extendAttachedVolume` and `restoreAttachment` (every field of a stored record, the libvirt XML
 * included). Refused before the backend, the connector or any command sees anything.
 */
import type { ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { VolkitError } from "../../../src/core/errors.js";
import { attachVolume, detachVolume, extendAttachedVolume, restoreAttachment, type Attachment, type AttachmentRecord } from "../../../src/attach/attach.js";
import { wrapDriver } from "../../../src/drivers/backend.js";
import { FakeConnector } from "../../../src/testing/fake-connector.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";
import { HOSTILE_NAMES, HOSTILE_PATHS, HOSTILE_SIZES, HOSTILE_TEXT, HOSTILE_XML, Sinks, expectRefusal, refused, withField, type Hostile } from "./hostile.js";

async function world() {
  const runner = new FakeRunner();
  const driver = new MemoryVolumeDriver({ runner });
  const sinks = new Sinks();
  const backend = wrapDriver(driver, { name: "mem", logger: sinks.logger, events: sinks.events });
  const connector = new FakeConnector();
  const volume = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
  const attachment = (await attachVolume(backend, volume, { connector, disk: { target: { dev: "vdb", bus: "virtio" } } }))._unsafeUnwrap();
  connector.calls.length = 0;
  sinks.seen.length = 0;
  return { runner, driver, backend, connector, volume, attachment, sinks };
}

type World = Awaited<ReturnType<typeof world>>;

/** What must not change when a call is refused. */
function snapshot(w: World): unknown {
  return { volumes: w.driver.volumeIds(), exported: w.driver.isExported("v1"), hosts: w.driver.connectedHosts("v1"), attached: [...w.connector.attached.keys()] };
}

async function expectUntouched(w: World, label: string, call: () => ResultAsync<unknown, VolkitError>): Promise<void> {
  const before = snapshot(w);
  const error = await refused(call);
  expectRefusal(error, ["INVALID_ARGUMENT"]);
  expect(w.connector.calls, `${label}: the connector was called`).toEqual([]);
  expect(w.runner.commands(), `${label}: commands ran`).toEqual([]);
  expect(snapshot(w), `${label}: state changed`).toEqual(before);
  expect(w.sinks.seen.filter((e) => e.type === "operation:start"), `${label}: an operation started`).toEqual([]);
}

/** Fields of a stored attachment record and what they must refuse. */
const RECORD_FIELDS: Readonly<Record<string, readonly Hostile[]>> = {
  backend: HOSTILE_TEXT,
  "volume.id": HOSTILE_NAMES,
  "volume.sizeGiB": HOSTILE_SIZES,
  "host.host": HOSTILE_NAMES,
  "connection.volumeId": HOSTILE_NAMES,
  "connection.devicePath": HOSTILE_PATHS,
  "connection.type": [["another protocol", "nfs"], ["hostile", "local;x"]],
  "device.path": [...HOSTILE_PATHS, ["a file outside /dev", "/etc/shadow"]],
  "device.paths.0": [...HOSTILE_PATHS, ["a file outside /dev", "/etc/shadow"]],
  exportCreated: [["a string", "true"]],
  attachedAt: [["negative", -1], ["fraction", 1.5], ["NaN", Number.NaN]],
  xml: [
    ...HOSTILE_XML,
    ["another source", "<disk type='block' device='disk'>\n  <driver name='qemu' type='raw' cache='none' io='native'/>\n  <source dev='/dev/sda'/>\n  <target dev='vdb' bus='virtio'/>\n</disk>\n"],
    ["a foreign element", "SOURCE_OF_RECORD_WITH_BACKING"],
    ["two disks", "TWO_DISKS"],
  ],
};

describe("attachVolume", () => {
  it("refuses a hostile volume or disk options before any step", async () => {
    const w = await world();
    for (const [label, id] of HOSTILE_NAMES) await expectUntouched(w, `volume.id ${label}`, () => attachVolume(w.backend, { id: id as string, sizeGiB: 1 }, { connector: w.connector }));
    for (const [label, size] of HOSTILE_SIZES) await expectUntouched(w, `volume.sizeGiB ${label}`, () => attachVolume(w.backend, { id: "v1", sizeGiB: size as number }, { connector: w.connector }));
    for (const [label, dev] of [...HOSTILE_NAMES, ...HOSTILE_XML]) {
      await expectUntouched(w, `disk.target.dev ${label}`, () => attachVolume(w.backend, w.volume, { connector: w.connector, disk: { target: { dev: dev as string, bus: "virtio" } } }));
    }
    for (const [label, serial] of HOSTILE_XML) {
      await expectUntouched(w, `disk.serial ${label}`, () => attachVolume(w.backend, w.volume, { connector: w.connector, disk: { target: { dev: "vdb", bus: "virtio" }, serial: serial as string } }));
    }
    await expectUntouched(w, "NaN deadline", () => attachVolume(w.backend, w.volume, { connector: w.connector, deadline: Number.NaN }));
  });
});

describe("detachVolume, extendAttachedVolume, restoreAttachment: a stored record is checked field by field", () => {
  for (const [field, values] of Object.entries(RECORD_FIELDS)) {
    it(`refuses a hostile ${field}`, async () => {
      const w = await world();
      const valid = w.attachment.record;
      for (const [label, raw] of values) {
        let value = raw;
        if (raw === "SOURCE_OF_RECORD_WITH_BACKING") value = (valid.xml ?? "").replace("</disk>", "  <backingStore type='file'><source file='/etc/shadow'/></backingStore>\n</disk>");
        if (raw === "TWO_DISKS") value = `${valid.xml ?? ""}${valid.xml ?? ""}`;
        const record: AttachmentRecord = withField(valid, field, value);
        const tampered: Attachment = { ...w.attachment, record };
        await expectUntouched(w, `detach ${field} = ${label}`, () => detachVolume(tampered));
        await expectUntouched(w, `extend ${field} = ${label}`, () => extendAttachedVolume(tampered, 2));
        await expectUntouched(w, `restore ${field} = ${label}`, () => restoreAttachment(w.backend, record, { connector: w.connector }));
      }
    });
  }

  it("extendAttachedVolume refuses a hostile size", async () => {
    const w = await world();
    for (const [label, size] of HOSTILE_SIZES) await expectUntouched(w, `size ${label}`, () => extendAttachedVolume(w.attachment, size as number));
  });

  it("accepts the record it wrote (the XML check is not a refusal of everything)", async () => {
    const w = await world();
    const restored = (await restoreAttachment(w.backend, structuredClone(w.attachment.record), { connector: w.connector }))._unsafeUnwrap();
    expect(restored.xml).toBe(w.attachment.xml);
    expect((await detachVolume(restored))._unsafeUnwrap().exportRemoved).toBe(true);
  });
});
