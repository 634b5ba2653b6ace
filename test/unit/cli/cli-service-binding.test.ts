import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ok } from "neverthrow";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createHost } from "../../../src/attach/host.js";
import { SERVICE_OUTPUT_SCHEMAS } from "../../../src/cli/commands/service-schemas.js";
import { CliConfigSchema } from "../../../src/cli/config.js";
import { EXIT_CODES } from "../../../src/cli/exit-codes.js";
import { ErrorOutputSchema } from "../../../src/cli/output.js";
import { createServiceFactory, lockDirectoryFor, serviceConfigFor } from "../../../src/cli/service-binding.js";
import { reconcileActionOf } from "../../../src/cli/service-adapter-admin.js";
import { EventBus, type VolkitEvent } from "../../../src/core/events.js";
import { InProcessLocks } from "../../../src/core/locks.js";
import { VolumeServiceAdapter } from "../../../src/cli/service-adapter.js";
import { createVolumeService } from "../../../src/service/open-service.js";
import { defineDriver } from "../../../src/drivers/driver-definition.js";
import { registerDriver } from "../../../src/drivers/registry.js";
import { openMemoryStore } from "../../../src/service/store/open-store.js";
import type { ServiceStore } from "../../../src/service/store/store.js";
import { FakeConnector } from "../../../src/testing/fake-connector.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";
import { FakeHostTree } from "../../../src/testing/fake-tree.js";
import { addIscsiSession, addScsiDisk } from "../../../src/testing/fake-sysfs.js";
import type { HostFs } from "../../../src/host/host-fs.js";
import { readVolume, world, type GatedDriver } from "../service/service-harness.js";
import { volkit } from "./cli-harness.js";

/**
 * The CLI bound to a real `VolumeService` (src/cli/service-binding.ts): a `MemoryVolumeDriver`
 * backend registered as driver `memory-cli`, a `FakeConnector` as this host's `local` connector, and
 * the store the config names (a SQLite file in a temp dir, or an in-memory store). Every command
 * runs through the whole CLI (argv, config file, service, `--json` output checked against its schema).
 */

let driver = new MemoryVolumeDriver({ capacityGiB: 100, runner: new FakeRunner() });
registerDriver(
  defineDriver({
    name: "memory-cli",
    title: "Memory (CLI test)",
    description: "In-memory volumes for the CLI binding tests",
    configSchema: z.object({ driver: z.literal("memory-cli"), backendName: z.string().optional() }),
    create: () => ok(driver),
  }),
)._unsafeUnwrap();

/** The world's driver `a` behind driver `memory-cli-image` (its runner plays qemu-img, sha256sum and dd on memory volumes). */
let imageDriver: GatedDriver | undefined;
registerDriver(
  defineDriver({
    name: "memory-cli-image",
    title: "Memory with a host runner (CLI test)",
    description: "The service harness's memory driver, for image creates",
    configSchema: z.object({ driver: z.literal("memory-cli-image"), backendName: z.string().optional() }),
    create: () => ok(imageDriver as GatedDriver),
  }),
)._unsafeUnwrap();

const dir = mkdtempSync(join(tmpdir(), "volkit-cli-binding-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let connector: FakeConnector;
let configFile: Record<string, string>;

function configYaml(storePath: string): string {
  return [
    `store: { kind: sqlite, path: ${JSON.stringify(storePath)} }`,
    "backends:",
    "  mem-a: { driver: memory-cli }",
    "types:",
    "  gold: { extraSpecs: { volume_backend_name: mem-a }, qos: { consumer: front-end, specs: { total_iops_sec: 500 } } }",
    "  hidden: { extraSpecs: { volume_backend_name: mem-a }, isPublic: false }",
    "host: { hostName: node-1 }",
    "",
  ].join("\n");
}

let storeCount = 0;
beforeEach(() => {
  driver = new MemoryVolumeDriver({ capacityGiB: 100, runner: new FakeRunner() });
  connector = new FakeConnector({ host: { host: "node-1" } });
  storeCount++;
  configFile = { "/work/volkit.yaml": configYaml(join(dir, `store-${storeCount}`, "volkit.db")) };
});

function factory(extra: { store?: ServiceStore; hostFs?: HostFs; runner?: FakeRunner } = {}) {
  const { runner, ...rest } = extra;
  return createServiceFactory({ runner: () => runner ?? new FakeRunner(), host: createHost({ use: { local: connector } }), ...rest });
}

/** Runs one command with --json and the binding; checks the output against its schema. */
async function cli(argv: readonly string[], extra: { store?: ServiceStore } = {}) {
  const r = await volkit([...argv, "--json"], { service: factory(extra), files: configFile });
  return r;
}

async function ok0<T = Record<string, unknown>>(argv: readonly string[], path: keyof typeof SERVICE_OUTPUT_SCHEMAS, extra: { store?: ServiceStore } = {}): Promise<T> {
  const r = await cli(argv, extra);
  expect(r.stderr, `${argv.join(" ")}: ${r.stdout}`).toBe("");
  expect(r.code, `${argv.join(" ")}: ${r.stdout}`).toBe(0);
  const out = r.json();
  SERVICE_OUTPUT_SCHEMAS[path].parse(out);
  return out as T;
}

async function failed(argv: readonly string[], code: keyof typeof EXIT_CODES) {
  const r = await cli(argv);
  const error = ErrorOutputSchema.parse(r.json()).error;
  expect(error.code, error.message).toBe(code);
  expect(r.code).toBe(EXIT_CODES[code]);
  return error;
}

describe("service config from the CLI config", () => {
  it("turns backends by name into a list, inline QoS into QoS specs, and opens without reconcile", () => {
    const config = CliConfigSchema.parse({
      backends: { "lvm-a": { driver: "lvm", volumeGroup: "vg0" } },
      types: { gold: { extraSpecs: { volume_backend_name: "lvm-a" }, qos: { consumer: "front-end", specs: { total_iops_sec: 500 } }, description: "fast" }, plain: {} },
      host: { hostName: "node-1", connectors: { iscsi: { multipath: false } } },
    });
    const sc = serviceConfigFor(config);
    expect(sc.backends).toEqual([{ name: "lvm-a", config: { driver: "lvm", volumeGroup: "vg0" } }]);
    expect(sc.qosSpecs).toEqual([{ name: "gold", consumer: "front-end", specs: { total_iops_sec: 500 } }]);
    expect(sc.volumeTypes).toEqual([
      { name: "gold", extraSpecs: { volume_backend_name: "lvm-a" }, description: "fast", qosSpecs: "gold" },
      { name: "plain", extraSpecs: {} },
    ]);
    expect(sc.store).toEqual({ kind: "sqlite", path: "/var/lib/volkit/volkit.db", busyTimeoutMs: 10_000 });
    expect(sc.host).toEqual({ hostName: "node-1", connectors: { iscsi: { multipath: false } } });
    expect(sc.reconcileOnOpen).toBe(false);
    expect(lockDirectoryFor(config)).toBe("/var/lib/volkit/locks");
    expect(lockDirectoryFor(CliConfigSchema.parse({ store: { kind: "memory" } }))).toBe("/run/volkit/locks");
  });
});

describe("volkit bound to the volume service (memory driver, SQLite file store)", () => {
  it("runs an operator's session: types, create, attach, show, detach, snapshot, revert, delete; data checked", async () => {
    const types = await ok0<{ types: { name: string; isPublic: boolean; qosSpecsId?: string }[] }>(["type", "list"], "type list");
    expect(types.types.map((t) => [t.name, t.isPublic, t.qosSpecsId])).toEqual([
      ["gold", true, "gold"],
      ["hidden", false, undefined],
    ]);
    // The SQLite store was created where the config says, with its lock directory beside it.
    const storePath = join(dir, `store-${storeCount}`, "volkit.db");
    expect(existsSync(storePath)).toBe(true);

    const created = await ok0<{ type: { id: string; extraSpecs: Record<string, string> } }>(["type", "create", "silver", "--extra-spec", "volume_backend_name=mem-a"], "type create");
    expect(created.type).toMatchObject({ id: "silver", extraSpecs: { volume_backend_name: "mem-a" } });
    // The same create again is not an error; other specs are a conflict.
    await ok0(["type", "create", "silver", "--extra-spec", "volume_backend_name=mem-a"], "type create");
    await failed(["type", "create", "silver", "--extra-spec", "volume_backend_name=mem-b"], "CONFLICT");

    const { volume } = await ok0<{ volume: { id: string; status: string; backend: string; volumeTypeId: string; sizeGiB: number } }>(["volume", "create", "--size", "2", "--type", "silver", "--name", "db1"], "volume create");
    expect(volume).toMatchObject({ status: "available", backend: "mem-a", volumeTypeId: "silver", sizeGiB: 2 });
    expect(driver.volumeIds()).toEqual([volume.id]);
    await failed(["type", "delete", "silver"], "INVALID_STATE");
    await failed(["type", "delete", "gold"], "INVALID_STATE");

    const listed = await ok0<{ volumes: { id: string }[] }>(["volume", "list"], "volume list");
    expect(listed.volumes.map((v) => v.id)).toEqual([volume.id]);

    const attached = await ok0<{ devicePath: string; attachment: { id: string; host: string; attachStatus: string }; volume: { status: string }; xml?: string }>(
      ["volume", "attach", volume.id, "--instance", "vm-7", "--disk-dev", "vdb"],
      "volume attach",
    );
    expect(attached.volume.status).toBe("in-use");
    expect(attached.attachment).toMatchObject({ host: "node-1", attachStatus: "attached" });
    expect(attached.devicePath).toMatch(/^\/dev\//);
    expect(attached.xml).toContain("<target dev='vdb' bus='virtio'/>");
    expect(connector.attached.size).toBe(1);

    const shown = await ok0<{ volume: { status: string }; attachments: { id: string; devicePath: string }[] }>(["volume", "show", volume.id], "volume show");
    expect(shown.attachments).toEqual([expect.objectContaining({ id: attached.attachment.id, devicePath: attached.devicePath })]);

    // Data written while attached survives a snapshot and a revert.
    const before = Buffer.from("volkit cli binding: data before the snapshot");
    await driver.io.write({ id: volume.id, sizeGiB: 2 }, before);
    const detached = await ok0<{ volume: { status: string }; report: { removed: string[] } }>(["volume", "detach", volume.id], "volume detach");
    expect(detached.volume.status).toBe("available");
    expect(connector.attached.size).toBe(0);

    const { snapshot } = await ok0<{ snapshot: { id: string; volumeId: string; status: string } }>(["volume", "snapshot", volume.id, "--name", "before"], "volume snapshot");
    expect(snapshot).toMatchObject({ volumeId: volume.id, status: "available" });
    await driver.io.write({ id: volume.id, sizeGiB: 2 }, Buffer.alloc(before.length, 0x58));
    await ok0(["volume", "revert", volume.id, "--snapshot", snapshot.id], "volume revert");
    expect((await driver.io.read({ id: volume.id, sizeGiB: 2 }, before.length)).equals(before)).toBe(true);

    const snaps = await ok0<{ snapshots: { id: string }[] }>(["snapshot", "list", "--volume", volume.id], "snapshot list");
    expect(snaps.snapshots.map((s) => s.id)).toEqual([snapshot.id]);
    // A volume with snapshots is deleted only with --cascade.
    await failed(["volume", "delete", volume.id], "INVALID_STATE");
    await ok0(["volume", "delete", volume.id, "--cascade"], "volume delete");
    expect(driver.volumeIds()).toEqual([]);
    // Deleting again succeeds (already gone), as does a missing snapshot.
    await ok0(["volume", "delete", volume.id], "volume delete");
    await ok0(["snapshot", "delete", snapshot.id], "snapshot delete");
    await failed(["volume", "show", volume.id], "VOLUME_NOT_FOUND");

    await ok0(["type", "delete", "silver"], "type delete");
    await failed(["type", "show", "silver"], "NOT_FOUND");
    await ok0(["type", "delete", "silver"], "type delete");
  });

  it("extends, resets a status and force-deletes through the service", async () => {
    const { volume } = await ok0<{ volume: { id: string } }>(["volume", "create", "--size", "1", "--id", "vol-x"], "volume create");
    expect(volume.id).toBe("vol-x");
    const grown = await ok0<{ volume: { sizeGiB: number } }>(["volume", "extend", "vol-x", "--size", "3"], "volume extend");
    expect(grown.volume.sizeGiB).toBe(3);
    const reset = await ok0<{ volume: { status: string } }>(["volume", "reset-status", "vol-x", "--status", "error"], "volume reset-status");
    expect(reset.volume.status).toBe("error");
    const listed = await ok0<{ volumes: { id: string }[] }>(["volume", "list", "--status", "error"], "volume list");
    expect(listed.volumes.map((v) => v.id)).toEqual(["vol-x"]);
    // The migration status alone: the volume status stays, the field is written and cleared.
    const migrating = await ok0<{ volume: { status: string; migrationStatus?: string } }>(["volume", "reset-status", "vol-x", "--migration-status", "error"], "volume reset-status");
    expect(migrating.volume).toMatchObject({ status: "error", migrationStatus: "error" });
    const cleared = await ok0<{ volume: { status: string; migrationStatus?: string } }>(["volume", "reset-status", "vol-x", "--migration-status", "none", "--status", "available"], "volume reset-status");
    expect(cleared.volume.status).toBe("available");
    expect(cleared.volume.migrationStatus).toBeUndefined();
    await failed(["volume", "reset-status", "vol-x", "--migration-status", "flying"], "INVALID_ARGUMENT");
    await ok0(["volume", "force-delete", "vol-x"], "volume force-delete");
    expect(driver.volumeIds()).toEqual([]);
    await ok0(["volume", "force-delete", "vol-x"], "volume force-delete");
  });

  it("volume create --multiattach takes the type's multiattach spec, and refuses a type without it", async () => {
    await failed(["volume", "create", "--size", "1", "--multiattach"], "INVALID_ARGUMENT");
    expect((await failed(["volume", "create", "--size", "1", "--type", "gold", "--multiattach"], "INVALID_ARGUMENT")).message).toContain("gold");
    expect(driver.volumeIds()).toEqual([]);
    await ok0(["type", "create", "shared", "--extra-spec", "volume_backend_name=mem-a", "--extra-spec", "multiattach=<is> True"], "type create");
    const { volume } = await ok0<{ volume: { multiattach: boolean } }>(["volume", "create", "--size", "1", "--type", "shared", "--multiattach"], "volume create");
    expect(volume.multiattach).toBe(true);
  });

  it("host cleanup plans from this host's sysfs against the store's attachment records", async () => {
    const tree = FakeHostTree.create("volkit-cli-cleanup-");
    try {
      const iqn = "iqn.2026-11.io.volkit:array-9";
      addIscsiSession(tree, { id: 1, host: 2, targetIqn: iqn, address: "127.0.0.1", port: 3260 });
      addScsiDisk(tree, { host: 2, lun: 3, session: 1, name: "sdb", wwid: "naa.6001405000000000000000000000d003", sizeBytes: 1 << 30 });
      const store = (await openMemoryStore())._unsafeUnwrap();
      const now = new Date();
      // A past attachment names the array's target: the target is volkit's, and nothing claims LUN 3 now.
      (await store.volumes.insert({ id: "vol-old", sizeGiB: 1, status: "available" }))._unsafeUnwrap();
      (await store.attachments.insert({ id: "att-old", volumeId: "vol-old", host: "node-1", hostProperties: { host: "node-1" }, attachStatus: "detached", createdAt: now, updatedAt: now,
        connectionInfo: { type: "iscsi", volumeId: "vol-old", targetIqn: iqn, targetPortal: "127.0.0.1:3260", targetLun: 3 } }))._unsafeUnwrap();
      // The session's own node record (in use: not residue).
      const runner = new FakeRunner().on(["findmnt"], { exitCode: 1 }).on(["iscsiadm", "-m", "node"], { stdout: `127.0.0.1:3260,1 ${iqn}\n` });
      const r = await volkit(["host", "cleanup", "--json"], { service: factory({ store, hostFs: tree.hostFs(), runner }), files: configFile });
      expect(r.code, r.stdout).toBe(0);
      const out = SERVICE_OUTPUT_SCHEMAS["host cleanup"].parse(r.json());
      expect(out).toEqual({
        planned: [{ kind: "scsi-device", name: "/dev/sdb", reason: `LUN 3 of ${iqn} at 127.0.0.1:3260: no live attachment record claims it`, removal: "iscsi-disconnect", unit: `iscsi:${iqn}:lun3` },
          { kind: "iscsi-session", name: `127.0.0.1:3260,${iqn}`, reason: "no live attachment record claims any of its 1 LUN(s)", removal: "iscsi-disconnect", unit: `iscsi:${iqn}:lun3` }],
        confirmed: false, removed: [], failed: [], skipped: [],
      });
      expect(runner.commands()).toEqual([["findmnt", "-J", "-l", "-k", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"], ["iscsiadm", "-m", "node"]]);
      (await store.close())._unsafeUnwrap();
    } finally {
      tree.cleanup();
    }
  });

  it("reconciles every record (or one volume's, or as a dry run); what the service lacks answers NOT_SUPPORTED naming it", async () => {
    const report = await ok0<{ examined: number; dryRun: boolean; actions: unknown[] }>(["reconcile"], "reconcile");
    expect(report).toEqual({ examined: 0, dryRun: false, actions: [] });
    expect(await ok0(["reconcile", "--dry-run"], "reconcile")).toEqual({ examined: 0, dryRun: true, actions: [] });
    expect(await ok0(["reconcile", "--volume", "vol-1"], "reconcile")).toEqual({ examined: 0, dryRun: false, actions: [] });
    expect((await failed(["backup", "create", "vol-1"], "INVALID_CONFIG")).message).toContain("no backup repository is configured");
    expect((await ok0<{ backups: unknown[] }>(["backup", "list"], "backup list")).backups).toEqual([]);
    await failed(["backup", "show", "b-1"], "BACKUP_NOT_FOUND");
    expect((await ok0<{ entries: unknown[] }>(["image-cache", "list"], "image-cache list")).entries).toEqual([]);
    expect((await ok0<{ removed: unknown[] }>(["image-cache", "purge", "--all"], "image-cache purge")).removed).toEqual([]);
  });

  it("maps the service's recovery actions to the CLI's decisions", () => {
    expect(reconcileActionOf({ kind: "volume", id: "v1", volumeId: "v1", from: "creating", outcome: "rolled-back", to: "error", removed: ["volume v1 on mem-a"], leftBehind: [] })).toEqual({
      kind: "volume",
      id: "v1",
      operation: "create",
      from: "creating",
      to: "error",
      decision: "rolled-back",
      reason: "removed volume v1 on mem-a",
      applied: true,
    });
    expect(reconcileActionOf({ kind: "attachment", id: "a1", volumeId: "v1", from: "detaching", outcome: "failed", removed: [], leftBehind: [], reason: "boom", error: { code: "COMMAND_FAILED", message: "boom" } })).toMatchObject({
      operation: "detach",
      decision: "rolled-back",
      applied: false,
      errorCode: "COMMAND_FAILED",
      to: "detaching",
    });
  });

  it("refuses a config without backends before opening anything", async () => {
    const r = await volkit(["volume", "list", "--json"], { service: factory(), files: { "/work/volkit.yaml": "store: { kind: memory }\n" } });
    const error = ErrorOutputSchema.parse(r.json()).error;
    expect(error.code).toBe("INVALID_CONFIG");
    expect(error.message).toContain("at least one backend");
    expect(r.code).toBe(EXIT_CODES.INVALID_CONFIG);
  });

  it("works on a store the caller opened (memory), which the command leaves open", async () => {
    const store = (await openMemoryStore())._unsafeUnwrap();
    const locks = new InProcessLocks();
    const f = createServiceFactory({ runner: () => new FakeRunner(), host: createHost({ use: { local: connector } }), store, locks });
    const r = await volkit(["volume", "create", "--size", "1", "--id", "vol-m", "--json"], { service: f, files: configFile });
    expect(r.code, r.stdout).toBe(0);
    expect((await store.volumes.get("vol-m"))._unsafeUnwrap().status).toBe("available");
    (await store.close())._unsafeUnwrap();
  });

  it("forwards the service's progress events to the command's bus only while the call runs, and passes Ctrl-C's signal", async () => {
    driver = new MemoryVolumeDriver({ capacityGiB: 100, runner: new FakeRunner(), latencyMs: 300 });
    const service = (
      await createVolumeService(
        { backends: [{ name: "mem-a", config: { driver: "memory-cli" } }], store: { kind: "memory" }, host: { hostName: "node-1" }, reconcileOnOpen: false },
        { runner: new FakeRunner(), host: createHost({ use: { local: connector } }) },
      )
    )._unsafeUnwrap();
    const adapter = new VolumeServiceAdapter(service, { configTypes: [] });
    const bus = new EventBus();
    const seen: VolkitEvent[] = [];
    bus.on((e) => seen.push(e));
    const progress = (bytesDone: number): VolkitEvent => ({ type: "progress", operation: "createVolume", source: "test", phase: "copy", bytesDone, bytesTotal: 10 });
    const pending = adapter.createVolume({ sizeGiB: 1, id: "vol-p" }, { events: bus });
    setTimeout(() => service.operations.emit(progress(5)), 50);
    const created = await pending;
    expect(created._unsafeUnwrap().status).toBe("available");
    service.operations.emit(progress(10));
    expect(seen.filter((e) => e.type === "progress").map((e) => (e.type === "progress" ? e.bytesDone : -1))).toEqual([5]);

    // Ctrl-C while the driver works: the call ends ABORTED and leaves no volume on the backend.
    const ctrlC = new AbortController();
    setTimeout(() => ctrlC.abort(), 50);
    const aborted = await adapter.createVolume({ sizeGiB: 1, id: "vol-c" }, { signal: ctrlC.signal });
    expect(aborted._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(driver.volumeIds()).toEqual(["vol-p"]);
    expect((await service.getVolume("vol-c"))._unsafeUnwrap().status).toBe("error");
    (await service.close())._unsafeUnwrap();
  });

  it("creates volumes from an image file through the image cache, and purges the cache", async () => {
    const store = (await openMemoryStore())._unsafeUnwrap();
    const w = world(store);
    imageDriver = w.a;
    const f = createServiceFactory({ runner: () => w.runner, host: createHost({ use: { local: w.connector } }), store, locks: new InProcessLocks() });
    const files = { "/work/volkit.yaml": "store: { kind: memory }\nbackends:\n  mem-a: { driver: memory-cli-image }\n" };
    const run = (argv: readonly string[]) => volkit([...argv, "--json"], { service: f, files });
    const content = Buffer.from("volkit CLI image: the first bytes of a raw disk image");
    const imagePath = join(dir, "debian-12.raw");
    writeFileSync(imagePath, content);
    const sha = createHash("sha256").update(content).digest("hex");
    const create = (id: string, digest = sha) => run(["volume", "create", "--size", "1", "--id", id, "--image", "debian-12", "--image-file", imagePath, "--image-sha256", digest, "--image-format", "raw"]);

    const first = await create("vol-i1");
    expect(first.code, first.stdout).toBe(0);
    const v1 = SERVICE_OUTPUT_SCHEMAS["volume create"].parse(first.json()).volume;
    expect(v1).toMatchObject({ status: "available", bootable: true, source: { kind: "image", imageId: "debian-12" } });
    expect((await readVolume(w.a, "vol-i1", content.length)).equals(content)).toBe(true);
    const second = await create("vol-i2");
    expect(second.code, second.stdout).toBe(0);
    expect((await readVolume(w.a, "vol-i2", content.length)).equals(content)).toBe(true);

    const listed = SERVICE_OUTPUT_SCHEMAS["image-cache list"].parse((await run(["image-cache", "list"])).json());
    expect(listed.entries.map((e) => [e.imageId, e.backend])).toEqual([["debian-12", "mem-a"]]);
    const cacheVolume = listed.entries[0]?.volumeId ?? "";
    expect(w.a.volumeIds()).toContain(cacheVolume);
    // A wrong checksum is refused before any byte is copied.
    const bad = await create("vol-i3", "0".repeat(64));
    expect(bad.code).not.toBe(0);
    expect(w.a.volumeIds()).not.toContain("vol-i3");
    // --image without its file is refused before the service opens.
    const incomplete = await run(["volume", "create", "--size", "1", "--image", "debian-12"]);
    expect(ErrorOutputSchema.parse(incomplete.json()).error.code).toBe("INVALID_ARGUMENT");

    const purged = await run(["image-cache", "purge", "--image", "debian-12"]);
    expect(purged.code, purged.stdout).toBe(0);
    expect(SERVICE_OUTPUT_SCHEMAS["image-cache purge"].parse(purged.json()).removed.map((e) => e.volumeId)).toEqual([cacheVolume]);
    expect(w.a.volumeIds()).not.toContain(cacheVolume);
    expect(SERVICE_OUTPUT_SCHEMAS["image-cache list"].parse((await run(["image-cache", "list"])).json()).entries).toEqual([]);
    // The volumes made from the image keep their data.
    expect((await readVolume(w.a, "vol-i2", content.length)).equals(content)).toBe(true);
    (await store.close())._unsafeUnwrap();
  });
});
