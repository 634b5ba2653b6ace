import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { ResultAsync, errAsync, ok, okAsync, type Result } from "neverthrow";
import { z } from "zod";
import { createHost } from "../../../src/attach/host.js";
import type { OperationContext, OperationOptions } from "../../../src/core/context.js";
import { VolkitError } from "../../../src/core/errors.js";
import type { AttachedDevice, ConnectionInfoInput, ExistingRef, Snapshot, SnapshotSpec, Volume, VolumeInput, VolumeSpec } from "../../../src/core/records.js";
import { defineDriver } from "../../../src/drivers/driver-definition.js";
import { commandFailed, type CommandOutput, type CommandRunner, type CommandSpec } from "../../../src/exec/runner.js";
import { createVolumeService, type ServiceEvent, type ServiceStore, type VolumeService, type VolumeServiceConfig } from "../../../src/service/index.js";
import { FakeConnector } from "../../../src/testing/fake-connector.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";

/**
 * A volume service on in-memory parts: two `MemoryVolumeDriver` backends (registered for the test
 * as driver `memory`), a `FakeConnector` as this host's `local` connector, and a `FakeRunner` that
 * plays `sha256sum`, `qemu-img` and `dd` against the memory volumes, so images, caches and copies
 * move real bytes the tests can read back. A "crash" is a gate: the chosen driver or connector call
 * runs (or not) and then never returns, the instance is closed, and a new instance on the same
 * store and parts reconciles.
 */

export const GiB = 1024 ** 3;

/** Where a gated call stops: before doing anything, or after doing its work without returning. */
export interface Gate {
  readonly method: string;
  readonly when: "before" | "after";
}

/** A never-settling result: the "crashed" call. */
function hang<T>(): ResultAsync<T, VolkitError> {
  return new ResultAsync(new Promise(() => undefined));
}

/** Memory driver with a crash gate and a manageable-object shelf (the memory driver itself cannot manage). */
export class GatedDriver extends MemoryVolumeDriver {
  gate: Gate | undefined;
  /** Which of the world's drivers this is (`a`, `b`). */
  readonly key: string;
  constructor(key: string, options: ConstructorParameters<typeof MemoryVolumeDriver>[0]) {
    super(options);
    this.key = key;
  }
  /** Objects on the backend that are not volumes yet: name → size GiB and data. */
  readonly shelf = new Map<string, { sizeGiB: number; data: Buffer }>();
  override readonly capabilities = { ...new MemoryVolumeDriver().capabilities, manageExisting: true };

  #gated<T>(method: string, run: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
    const g = this.gate;
    if (g?.method !== method) return run();
    this.gate = undefined;
    if (g.when === "before") return hang();
    return run().andThen(() => hang<T>());
  }
  override createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return this.#gated("createVolume", () => super.createVolume(spec, ctx));
  }
  override deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#gated("deleteVolume", () => super.deleteVolume(volume, ctx));
  }
  override extendVolume(volume: Volume, size: number, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return this.#gated("extendVolume", () => super.extendVolume(volume, size, ctx));
  }
  override createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return this.#gated("createClonedVolume", () => super.createClonedVolume(spec, source, ctx));
  }
  override createSnapshot(spec: SnapshotSpec, volume: Volume, ctx: OperationContext): ResultAsync<Snapshot, VolkitError> {
    return this.#gated("createSnapshot", () => super.createSnapshot(spec, volume, ctx));
  }
  override deleteSnapshot(snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#gated("deleteSnapshot", () => super.deleteSnapshot(snapshot, ctx));
  }
  override revertToSnapshot(volume: Volume, snapshot: Snapshot, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#gated("revertToSnapshot", () => super.revertToSnapshot(volume, snapshot, ctx));
  }
  override createExport(volume: Volume, host: Parameters<MemoryVolumeDriver["createExport"]>[1], ctx: OperationContext): ReturnType<MemoryVolumeDriver["createExport"]> {
    return this.#gated("createExport", () => super.createExport(volume, host, ctx));
  }
  /** Device paths name the driver (`/dev/volkit-memory-<key>/<id>`): a migration has the same id on both. */
  override initializeConnection(volume: Volume, host: Parameters<MemoryVolumeDriver["initializeConnection"]>[1], ctx: OperationContext): ReturnType<MemoryVolumeDriver["initializeConnection"]> {
    return this.#gated("initializeConnection", () =>
      super.initializeConnection(volume, host, ctx).map((info) => (info.type === "local" ? { ...info, devicePath: `/dev/volkit-memory-${this.key}/${volume.id}` } : info)),
    );
  }
  override terminateConnection(volume: Volume, host: Parameters<MemoryVolumeDriver["terminateConnection"]>[1], ctx: OperationContext): ReturnType<MemoryVolumeDriver["terminateConnection"]> {
    return this.#gated("terminateConnection", () => super.terminateConnection(volume, host, ctx));
  }
  override manageExistingGetSize(ref: ExistingRef, ctx: OperationContext): ResultAsync<number, VolkitError> {
    const found = "sourceName" in ref ? this.shelf.get(ref.sourceName) : undefined;
    return found ? okAsync(found.sizeGiB) : super.manageExistingGetSize(ref, ctx);
  }
  override manageExisting(spec: VolumeSpec, ref: ExistingRef, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return this.#gated("manageExisting", () => {
      const name = "sourceName" in ref ? ref.sourceName : "";
      const found = this.shelf.get(name);
      if (!found) return super.manageExisting(spec, ref, ctx);
      return super.createVolume({ ...spec, sizeGiB: found.sizeGiB }, ctx).andThen((v) => {
        this.shelf.delete(name);
        return ResultAsync.fromSafePromise(this.io.write(v, found.data)).map(() => v);
      });
    });
  }
  override unmanage(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return ResultAsync.fromSafePromise(this.io.read(volume, 64 * 1024)).andThen((data) =>
      super.deleteVolume(volume, ctx).map(() => {
        this.shelf.set(`unmanaged-${volume.id}`, { sizeGiB: volume.sizeGiB, data });
      }),
    );
  }
}

/**
 * Memory driver with linked clones, like the NFS driver's qcow2 overlays: a linked clone is a copy
 * here, but the driver remembers its source and refuses to delete a source (`VOLUME_BUSY`) while a
 * linked clone of it exists.
 */
export class LinkedCloneDriver extends GatedDriver {
  /** Linked clone id → the volume it reads. */
  readonly links = new Map<string, string>();
  createLinkedClone(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return super.createClonedVolume(spec, source, ctx).map((v) => {
      this.links.set(spec.id, source.id);
      return v;
    });
  }
  override deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const clones = [...this.links].filter(([, source]) => source === volume.id).map(([clone]) => clone);
    if (clones.length > 0) return errAsync(new VolkitError("VOLUME_BUSY", `volume ${volume.id} is the base of linked clones ${clones.join(", ")}`, { source: "memory" }));
    return super.deleteVolume(volume, ctx).map(() => {
      this.links.delete(volume.id);
    });
  }
}

/** Fake connector with a crash gate. */
export class GatedConnector extends FakeConnector {
  gate: Gate | undefined;
  #gated<T>(method: string, run: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
    const g = this.gate;
    if (g?.method !== method) return run();
    this.gate = undefined;
    if (g.when === "before") return hang();
    return run().andThen(() => hang<T>());
  }
  override connectVolume(info: ConnectionInfoInput, options?: OperationOptions): ResultAsync<AttachedDevice, VolkitError> {
    return this.#gated("connectVolume", () => super.connectVolume(info, options));
  }
  override disconnectVolume(info: ConnectionInfoInput, device: Parameters<FakeConnector["disconnectVolume"]>[1], options?: Parameters<FakeConnector["disconnectVolume"]>[2]): ReturnType<FakeConnector["disconnectVolume"]> {
    return this.#gated("disconnectVolume", () => super.disconnectVolume(info, device, options));
  }
}

/** The memory driver's device path → volume id. */
const DEVICE = /^\/dev\/volkit-memory-([a-z])\/(.+)$/;

/**
 * This host's commands as the service runs them, played against memory volumes and image files:
 * `sha256sum` and `qemu-img info` read the real file, `qemu-img convert` and `dd` copy bytes into
 * (and out of) memory volumes. Any other command fails, like a strict `FakeRunner`.
 */
export class MemoryHostRunner implements CommandRunner {
  readonly description = "memory host";
  /** Every command, in order. */
  readonly calls: string[][] = [];
  readonly #drivers: () => readonly GatedDriver[];

  constructor(drivers: () => readonly GatedDriver[]) {
    this.#drivers = drivers;
  }

  /** argv of the calls of `program`. */
  commandsOf(program: string): string[][] {
    return this.calls.filter((c) => c[0] === program);
  }

  #volume(path: string): { driver: GatedDriver; volume: Volume } | undefined {
    const [, key, id] = DEVICE.exec(path) ?? [];
    if (id === undefined) return undefined;
    const driver = this.#drivers().find((d) => d.key === key && d.volumeIds().includes(id));
    return driver ? { driver, volume: { id, sizeGiB: 1024 } } : undefined;
  }

  async #read(path: string): Promise<Buffer> {
    const v = this.#volume(path);
    return v ? v.driver.io.read(v.volume, 256 * 1024) : readFileSync(path);
  }

  async #write(path: string, data: Buffer): Promise<void> {
    const v = this.#volume(path);
    if (!v) throw new Error(`no memory volume at ${path}`);
    await v.driver.io.write(v.volume, data);
  }

  async #play(argv: readonly string[]): Promise<string> {
    const [program, sub] = argv;
    if (program === "sha256sum") {
      const path = argv[2] ?? "";
      return `${createHash("sha256").update(readFileSync(path)).digest("hex")}  ${path}\n`;
    }
    if (program === "qemu-img" && sub === "info") {
      const path = argv.at(-1) ?? "";
      const f = argv.indexOf("-f");
      const format = f >= 0 ? argv[f + 1] : path.endsWith(".qcow2") ? "qcow2" : "raw";
      // Test images say what qemu-img would find: `x.virtual-5g.raw` is 5 GiB virtual, `x.backing.qcow2` has a backing file.
      const virtual = /\.virtual-(\d+)g\./.exec(path)?.[1];
      const backing = path.includes(".backing.") ? { "backing-filename": "/etc/shadow" } : {};
      return JSON.stringify({ format, "virtual-size": virtual === undefined ? statSync(path).size : Number(virtual) * GiB, "actual-size": statSync(path).size, ...backing });
    }
    if (program === "qemu-img" && sub === "convert") {
      const [source, target] = argv.slice(-2) as [string, string];
      await this.#write(target, await this.#read(source));
      return "    (100.00/100%)\r";
    }
    if (program === "dd") {
      const arg = (k: string): string => argv.find((a) => a.startsWith(`${k}=`))?.slice(k.length + 1) ?? "";
      // The copy engine works in chunks; the first one carries all the (small) test data.
      if (arg("skip") === "0") await this.#write(arg("of"), await this.#read(arg("if")));
      return "";
    }
    throw new Error(`MemoryHostRunner: no rule for: ${argv.join(" ")}`);
  }

  /** A program whose next call never returns (a copy caught mid-way). */
  hangOn: string | undefined;

  run(spec: CommandSpec): ResultAsync<CommandOutput, VolkitError> {
    this.calls.push([...spec.argv]);
    if (this.hangOn === spec.argv[0]) {
      this.hangOn = undefined;
      return new ResultAsync(new Promise(() => undefined));
    }
    return ResultAsync.fromPromise(this.#play(spec.argv), (e) => commandFailed(spec, 127, e instanceof Error ? e.message : String(e))).map((stdout) => {
      if (stdout.includes("%)")) spec.onStdout?.(stdout);
      return { argv: spec.argv, exitCode: 0, stdout, stderr: "", durationMs: 0 };
    });
  }
}

/** One test world: two memory backends, a connector, a runner, and a way to open services on them. */
export interface World {
  readonly a: GatedDriver;
  readonly b: GatedDriver;
  readonly connector: GatedConnector;
  readonly runner: MemoryHostRunner;
  readonly config: VolumeServiceConfig;
  /** Opens a service instance on the world's store (shared by every instance). */
  open(overrides?: Partial<VolumeServiceConfig>): Promise<VolumeService>;
  /** Events every instance emitted, in order. */
  readonly events: ServiceEvent[];
}

/** The memory driver as a registered driver: `{ driver: "memory", key: "a" | "b" }` picks a world's instance. */
function memoryDefinition(pick: (key: string) => GatedDriver) {
  return defineDriver({
    name: "memory",
    title: "Memory (test)",
    description: "In-memory volumes for the service tests",
    configSchema: z.object({ driver: z.literal("memory"), backendName: z.string().optional(), key: z.string() }),
    create: (config) => ok(pick(config.key)),
  });
}

/** Builds a world over `store` (memory or SQLite, opened by the test). */
export function world(store: ServiceStore, options: { readonly capacityA?: number; readonly capacityB?: number; readonly latencyMs?: number; readonly linkedClonesA?: boolean } = {}): World {
  const drivers: GatedDriver[] = [];
  const runner = new MemoryHostRunner(() => drivers);
  const a = new (options.linkedClonesA === true ? LinkedCloneDriver : GatedDriver)("a", { capacityGiB: options.capacityA ?? 100, runner, ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }) });
  const b = new GatedDriver("b", { capacityGiB: options.capacityB ?? 50, runner, ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }) });
  drivers.push(a, b);
  const connector = new GatedConnector({ host: { host: "node-1" } });
  const host = createHost({ use: { local: connector } });
  const events: ServiceEvent[] = [];
  const config: VolumeServiceConfig = {
    backends: [
      { name: "mem-a", availabilityZone: "az1", config: { driver: "memory", key: "a" } },
      { name: "mem-b", availabilityZone: "az1", config: { driver: "memory", key: "b" } },
    ],
    qosSpecs: [{ name: "gold-qos", consumer: "front-end", specs: { total_iops_sec_per_gb: 100, total_iops_sec_per_gb_min: 500, read_bytes_sec: 104857600 } }],
    volumeTypes: [
      { name: "gold", extraSpecs: { volume_backend_name: "mem-a" }, qosSpecs: "gold-qos" },
      { name: "silver", extraSpecs: { volume_backend_name: "mem-b" } },
      { name: "shared", extraSpecs: { volume_backend_name: "mem-a", multiattach: "<is> True" } },
    ],
    store: { kind: "memory" },
    host: { hostName: "node-1" },
    statsIntervalMs: 3_600_000,
    imageCache: { enabled: true, maxCount: 2 },
  };
  const definitions = [memoryDefinition((key) => (key === "a" ? a : b))];
  return {
    a,
    b,
    connector,
    runner,
    config,
    events,
    async open(overrides = {}) {
      const service = (await createVolumeService({ ...config, ...overrides }, { runner, host, drivers: definitions, store }))._unsafeUnwrap();
      service.events.on((e) => events.push(e));
      return service;
    },
  };
}

/** Awaits a service result, failing the test with the error's code and message. */
export async function must<T>(pending: PromiseLike<Result<T, VolkitError>>): Promise<T> {
  const r = await pending;
  if (r.isErr()) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

/** Reads a memory volume's first bytes. */
export async function readVolume(driver: MemoryVolumeDriver, id: string, bytes: number): Promise<Buffer> {
  return driver.io.read({ id, sizeGiB: 1 }, bytes);
}

/** Lets pending promise chains run (a gated call has been reached). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
