/**
 * Hostile input to every backend operation of every registered driver, through the runtime
 * (`createBackend`), and to `createBackend`'s config parsing: each refusal is typed, comes before
 * any command (the strict FakeRunner records none) and before any event, so nothing changed.
 */
import type { ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { VolkitError } from "../../../src/core/errors.js";
import type { VolumeBackend } from "../../../src/drivers/backend.js";
import { createBackend, listDrivers } from "../../../src/drivers/registry.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { DRIVER_CASES, type DriverVariant } from "./driver-cases.js";
import {
  HOSTILE_IQNS,
  HOSTILE_NAMES,
  HOSTILE_PATHS,
  HOSTILE_SIZES,
  HOSTILE_TEXT,
  Sinks,
  expectRefusal,
  refused,
  withField,
  type Hostile,
} from "./hostile.js";

/** Valid arguments of every operation; one field at a time is replaced by a hostile value. */
interface Args {
  readonly volume: Record<string, unknown>;
  readonly source: Record<string, unknown>;
  readonly spec: Record<string, unknown>;
  readonly snapshot: Record<string, unknown>;
  readonly host: Record<string, unknown>;
  readonly image: Record<string, unknown>;
  readonly ref: Record<string, unknown>;
  readonly newSize: unknown;
}

const ARGS: Args = {
  volume: { id: "vol-1", sizeGiB: 2 },
  source: { id: "vol-2", sizeGiB: 1 },
  spec: { id: "vol-3", sizeGiB: 2 },
  snapshot: { id: "snap-1", volumeId: "vol-1", volumeSizeGiB: 1 },
  host: { host: "compute-1", initiator: "iqn.1994-05.com.redhat:compute-1" },
  image: { path: "/var/lib/images/img.raw", format: "raw" },
  ref: { sourceName: "legacy-data" },
  newSize: 3,
};

type Call = (b: VolumeBackend, a: Args) => ResultAsync<unknown, VolkitError>;

const VOLUME_FIELDS = {
  "volume.id": HOSTILE_NAMES,
  "volume.sizeGiB": HOSTILE_SIZES,
  "volume.displayName": HOSTILE_TEXT,
  "volume.providerAuth": [["10 KB", "CHAP u ".padEnd(10 * 1024, "x")], ["a number", 5]] as Hostile[],
  "volume.providerLocation": [["10 KB", "x".repeat(10 * 1024)]] as Hostile[],
};
const SPEC_FIELDS = {
  "spec.id": HOSTILE_NAMES,
  "spec.sizeGiB": HOSTILE_SIZES,
  "spec.displayName": HOSTILE_TEXT,
  "spec.volumeType": HOSTILE_TEXT,
  "spec.metadata": [
    ["a 10 KB key", { ["k".repeat(10 * 1024)]: "v" }],
    ["a 10 KB value", { k: "v".repeat(10 * 1024) }],
    ["not a record", "a=b"],
  ] as Hostile[],
  // Back-end QoS reaches array policies and librbd settings: only positive safe integers, known keys.
  "spec.qos": [
    ["no limit", {}],
    ["a negative limit", { totalIopsSec: -1 }],
    ["a zero limit", { totalIopsSec: 0 }],
    ["a fraction", { readBytesSec: 1.5 }],
    ["a string limit", { writeIopsSec: "1000;rm -rf /" }],
    ["an unsafe integer", { totalBytesSec: 2 ** 60 }],
    ["an unknown key", { totalIopsSec: 100, "--burst": 5 }],
    ["not an object", "total_iops_sec=100"],
  ] as Hostile[],
};
const SNAPSHOT_FIELDS = { "snapshot.id": HOSTILE_NAMES, "snapshot.volumeId": HOSTILE_NAMES, "snapshot.volumeSizeGiB": HOSTILE_SIZES, "snapshot.displayName": HOSTILE_TEXT };
const HOST_FIELDS = {
  "host.host": HOSTILE_NAMES,
  "host.initiator": HOSTILE_IQNS,
  "host.ip": [...HOSTILE_NAMES, ["an IPv4 with a port", "10.0.0.1:22"], ["a bad IPv4", "10.0.0.999"]] as Hostile[],
  "host.nqn": HOSTILE_IQNS,
};
const IMAGE_FIELDS = { "image.path": HOSTILE_PATHS, "image.format": HOSTILE_NAMES };

/** Every operation of the runtime and the fields of its arguments that reach a driver. */
const OPERATIONS: readonly { readonly op: string; readonly call: Call; readonly fields: Readonly<Record<string, readonly Hostile[]>> }[] = [
  { op: "createVolume", call: (b, a) => b.createVolume(a.spec as never), fields: SPEC_FIELDS },
  { op: "deleteVolume", call: (b, a) => b.deleteVolume(a.volume as never), fields: VOLUME_FIELDS },
  { op: "createSnapshot", call: (b, a) => b.createSnapshot(a.snapshot as never, a.volume as never), fields: { ...SNAPSHOT_FIELDS, "volume.id": HOSTILE_NAMES } },
  { op: "deleteSnapshot", call: (b, a) => b.deleteSnapshot(a.snapshot as never), fields: SNAPSHOT_FIELDS },
  { op: "createVolumeFromSnapshot", call: (b, a) => b.createVolumeFromSnapshot(a.spec as never, a.snapshot as never), fields: { ...SPEC_FIELDS, "snapshot.id": HOSTILE_NAMES, "snapshot.volumeId": HOSTILE_NAMES } },
  { op: "createClonedVolume", call: (b, a) => b.createClonedVolume(a.spec as never, a.source as never), fields: { ...SPEC_FIELDS, "source.id": HOSTILE_NAMES, "source.sizeGiB": HOSTILE_SIZES } },
  { op: "createLinkedClone", call: (b, a) => b.createLinkedClone(a.spec as never, a.source as never), fields: { ...SPEC_FIELDS, "source.id": HOSTILE_NAMES, "source.sizeGiB": HOSTILE_SIZES } },
  { op: "extendVolume", call: (b, a) => b.extendVolume(a.volume as never, a.newSize as never), fields: { ...VOLUME_FIELDS, newSize: [...HOSTILE_SIZES, ["smaller than the volume", 1]] } },
  { op: "revertToSnapshot", call: (b, a) => b.revertToSnapshot(a.volume as never, a.snapshot as never), fields: { "volume.id": HOSTILE_NAMES, "snapshot.id": HOSTILE_NAMES, "snapshot.volumeId": [["another volume", "vol-9"]] } },
  { op: "createExport", call: (b, a) => b.createExport(a.volume as never, a.host as never), fields: { ...VOLUME_FIELDS, ...HOST_FIELDS } },
  { op: "ensureExport", call: (b, a) => b.ensureExport(a.volume as never), fields: VOLUME_FIELDS },
  { op: "removeExport", call: (b, a) => b.removeExport(a.volume as never), fields: VOLUME_FIELDS },
  { op: "describeExport", call: (b, a) => b.describeExport(a.volume as never), fields: VOLUME_FIELDS },
  { op: "initializeConnection", call: (b, a) => b.initializeConnection(a.volume as never, a.host as never), fields: { ...VOLUME_FIELDS, ...HOST_FIELDS } },
  { op: "terminateConnection", call: (b, a) => b.terminateConnection(a.volume as never, a.host as never), fields: { ...VOLUME_FIELDS, ...HOST_FIELDS } },
  { op: "copyImageToVolume", call: (b, a) => b.copyImageToVolume(a.image as never, a.volume as never), fields: { ...IMAGE_FIELDS, "volume.id": HOSTILE_NAMES } },
  { op: "copyVolumeToImage", call: (b, a) => b.copyVolumeToImage(a.volume as never, a.image as never), fields: { ...IMAGE_FIELDS, "volume.id": HOSTILE_NAMES } },
  { op: "manageExisting", call: (b, a) => b.manageExisting(a.spec as never, a.ref as never), fields: { "spec.id": HOSTILE_NAMES, "ref.sourceName": HOSTILE_NAMES, "ref.sourceId": HOSTILE_NAMES } },
  { op: "manageExistingGetSize", call: (b, a) => b.manageExistingGetSize(a.ref as never), fields: { "ref.sourceName": HOSTILE_NAMES, "ref.sourceId": HOSTILE_NAMES } },
  { op: "unmanage", call: (b, a) => b.unmanage(a.volume as never), fields: VOLUME_FIELDS },
];

/** Operation options no operation may accept (a NaN deadline would time out at once). */
const HOSTILE_OPTIONS: readonly Hostile[] = [
  ["a NaN deadline", { deadline: Number.NaN }],
  ["a string deadline", { deadline: "soon" }],
  ["an invalid Date", { deadline: new Date("nope") }],
  ["a signal that is not one", { signal: { aborted: false } }],
];

async function backendOf(variant: DriverVariant): Promise<{ backend: VolumeBackend; runner: FakeRunner; sinks: Sinks }> {
  const runner = new FakeRunner();
  const sinks = new Sinks();
  const backend = (await createBackend(variant.config as never, { runner, logger: sinks.logger, events: sinks.events }))._unsafeUnwrap();
  return { backend, runner, sinks };
}

async function expectRefusedBeforeAnything(variant: DriverVariant, label: string, call: (b: VolumeBackend) => ResultAsync<unknown, VolkitError>): Promise<void> {
  const { backend, runner, sinks } = await backendOf(variant);
  const error = await refused(() => call(backend));
  expectRefusal(error, ["INVALID_ARGUMENT"]);
  expect(runner.commands(), `${label}: commands ran`).toEqual([]);
  expect(sinks.seen, `${label}: an operation started`).toEqual([]);
}

describe("every registered driver has a case in the hostile-input suite", () => {
  it("lists the same drivers as the registry (add new ones to driver-cases.ts)", () => {
    expect(Object.keys(DRIVER_CASES).sort()).toEqual(listDrivers().map((d) => d.name).sort());
  });
});

for (const [name, driverCase] of Object.entries(DRIVER_CASES)) {
  for (const variant of driverCase.variants) {
    describe(`${name}: ${variant.label}: every operation refuses hostile input before any command`, () => {
      for (const { op, call, fields } of OPERATIONS) {
        for (const [field, values] of Object.entries(fields)) {
          it(`${op} refuses a hostile ${field}`, async () => {
            for (const [label, value] of values) {
              const args = field.includes(".")
                ? withField(ARGS, field, value)
                : { ...ARGS, [field]: value };
              await expectRefusedBeforeAnything(variant, `${op} ${field} = ${label}`, (b) => call(b, args));
            }
          });
        }
        it(`${op} refuses unusable operation options`, async () => {
          for (const [label, options] of HOSTILE_OPTIONS) {
            const { backend, runner, sinks } = await backendOf(variant);
            const withOptions = backend[op as "unmanage"].bind(backend) as (...a: unknown[]) => ResultAsync<unknown, VolkitError>;
            const positional: Record<string, unknown[]> = {
              createVolume: [ARGS.spec],
              createSnapshot: [ARGS.snapshot, ARGS.volume],
              deleteSnapshot: [ARGS.snapshot],
              createVolumeFromSnapshot: [ARGS.spec, ARGS.snapshot],
              createClonedVolume: [ARGS.spec, ARGS.source],
              createLinkedClone: [ARGS.spec, ARGS.source],
              extendVolume: [ARGS.volume, ARGS.newSize],
              revertToSnapshot: [ARGS.volume, { ...ARGS.snapshot }],
              createExport: [ARGS.volume, ARGS.host],
              initializeConnection: [ARGS.volume, ARGS.host],
              terminateConnection: [ARGS.volume, ARGS.host],
              copyImageToVolume: [ARGS.image, ARGS.volume],
              copyVolumeToImage: [ARGS.volume, ARGS.image],
              manageExisting: [{ ...ARGS.spec }, ARGS.ref],
              manageExistingGetSize: [ARGS.ref],
            };
            const error = await refused(() => withOptions(...(positional[op] ?? [ARGS.volume]), options));
            expectRefusal(error, ["INVALID_ARGUMENT"]);
            expect(runner.commands(), `${op} with ${label}`).toEqual([]);
            expect(sinks.seen.filter((e) => e.type === "operation:start")).toEqual([]);
          }
        });
      }
      if (variant.unservableIds.length > 0) {
        it("refuses ids its idRule cannot serve, at create (issue 14, defect 6)", async () => {
          for (const [label, id] of variant.unservableIds) {
            await expectRefusedBeforeAnything(variant, `createVolume ${label}`, (b) => b.createVolume({ id: id as string, sizeGiB: 1 }));
            await expectRefusedBeforeAnything(variant, `createSnapshot ${label}`, (b) => b.createSnapshot({ id: id as string, volumeId: "vol-1", volumeSizeGiB: 1 }, ARGS.volume as never));
            await expectRefusedBeforeAnything(variant, `createClonedVolume ${label}`, (b) => b.createClonedVolume({ id: id as string, sizeGiB: 2 }, ARGS.source as never));
          }
        });
      }
    });
  }

  describe(`${name}: createBackend refuses hostile config before anything runs`, () => {
    for (const { path, values, base } of driverCase.configFields) {
      it(`refuses a hostile ${path}${base ? ` (${String(base.driver)} ${JSON.stringify((base.target as { helper?: string } | undefined)?.helper ?? "")})` : ""}`, async () => {
        const valid = base ?? driverCase.variants[0]?.config ?? {};
        for (const [label, value] of values) {
          const runner = new FakeRunner();
          const r = await createBackend(withField(valid, path, value) as never, { runner });
          expect(r.isErr(), `${path} = ${label} was accepted`).toBe(true);
          if (r.isErr()) expectRefusal(r.error, ["INVALID_CONFIG"]);
          expect(runner.commands()).toEqual([]);
        }
      });
    }
  });
}

describe("createBackend refuses configs that are not configs", () => {
  it.each([
    ["no driver", {}],
    ["a hostile driver name", { driver: "lvm;rm -rf /" }],
    ["a 10 KB driver name", { driver: "x".repeat(10 * 1024) }],
    ["a driver name with an override", { driver: "lvm\u202e" }],
    ["null", null],
    ["a string", "lvm"],
  ])("%s", async (_label, config) => {
    const error = await refused(() => createBackend(config as never));
    expectRefusal(error, ["INVALID_CONFIG"]);
  });

  it("a backend name with a control character (it reaches logs and events)", async () => {
    for (const [label, name] of HOSTILE_TEXT) {
      const error = await refused(() => createBackend({ driver: "lvm", volumeGroup: "vg0" }, { name: name as string }));
      expect(error.code, label).toBe("INVALID_CONFIG");
    }
  });
});
