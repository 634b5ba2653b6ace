import { randomUUID } from "node:crypto";
import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { describe, expect, it, vi } from "vitest";
import type { OperationContext } from "../../../src/core/context.js";
import { VolkitError } from "../../../src/core/errors.js";
import type { Logger, VolkitEvent } from "../../../src/core/events.js";
import { redactText, registerSecret } from "../../../src/core/secrets.js";
import type { ConnectionInfo, HostPropertiesInput, Volume, VolumeSpec } from "../../../src/core/records.js";
import { wrapDriver } from "../../../src/drivers/backend.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";

const connector: HostPropertiesInput = { host: "compute-1", initiator: "iqn.1994-05.com.redhat:compute-1" };

interface Span {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

const overlaps = (a: Span | undefined, b: Span | undefined): boolean => !!a && !!b && a.start < b.end && b.start < a.end;

/** Records when each wrapped driver method really ran. */
function recordSpans<K extends "createVolume" | "extendVolume" | "createSnapshot" | "createClonedVolume" | "deleteVolume">(
  driver: MemoryVolumeDriver,
  methods: readonly K[],
): Span[] {
  const spans: Span[] = [];
  for (const method of methods) {
    const original = (driver[method] as (...args: unknown[]) => ResultAsync<unknown, VolkitError>).bind(driver);
    vi.spyOn(driver, method).mockImplementation(((...args: unknown[]) => {
      const start = performance.now();
      const id = (args[0] as { id: string }).id;
      return original(...args).map((value) => {
        spans.push({ name: `${method}:${id}`, start, end: performance.now() });
        return value;
      });
    }) as never);
  }
  return spans;
}

function capture(): { logger: Logger; lines: unknown[] } {
  const lines: unknown[] = [];
  const push = (obj: object, msg?: string): void => void lines.push({ obj, msg });
  return { lines, logger: { debug: push, info: push, warn: push, error: push } };
}

describe("VolumeBackend: setup", () => {
  it("runs the driver's setup once, before the first operation, even for concurrent callers", async () => {
    const driver = new MemoryVolumeDriver({ latencyMs: 20 });
    const setup = vi.spyOn(driver, "setup");
    const backend = wrapDriver(driver);
    expect(setup).not.toHaveBeenCalled();
    const results = await Promise.all([
      backend.createVolume({ id: "a", sizeGiB: 1 }),
      backend.createVolume({ id: "b", sizeGiB: 1 }),
      backend.getVolumeStats(),
    ]);
    expect(results.every((r) => r.isOk())).toBe(true);
    expect((await backend.createVolume({ id: "c", sizeGiB: 1 })).isOk()).toBe(true);
    expect(setup).toHaveBeenCalledTimes(1);
  });

  it("after a failed setup the operation fails, and the next operation tries setup again", async () => {
    const driver = new MemoryVolumeDriver();
    const setup = vi.spyOn(driver, "setup").mockReturnValueOnce(errAsync(new VolkitError("BACKEND_UNAVAILABLE", "vg missing", { source: "memory" })));
    const create = vi.spyOn(driver, "createVolume");
    const backend = wrapDriver(driver);
    const first = await backend.createVolume({ id: "a", sizeGiB: 1 });
    expect(first._unsafeUnwrapErr()).toMatchObject({ code: "BACKEND_UNAVAILABLE", message: "vg missing" });
    expect(create).not.toHaveBeenCalled(); // an uninitialized driver gets no requests
    const second = await backend.createVolume({ id: "a", sizeGiB: 1 });
    expect(second._unsafeUnwrap().id).toBe("a");
    expect(setup).toHaveBeenCalledTimes(2);
    expect((await backend.createVolume({ id: "b", sizeGiB: 1 })).isOk()).toBe(true);
    expect(setup).toHaveBeenCalledTimes(2);
  });

  it("reads never run the driver's setup (it may create things); they run its read-only initialize once", async () => {
    const driver = new MemoryVolumeDriver();
    const setup = vi.spyOn(driver, "setup");
    const initialize = vi.spyOn(driver, "initialize");
    const backend = wrapDriver(driver);
    expect((await backend.getVolumeStats())._unsafeUnwrap().pools).toHaveLength(1);
    expect((await backend.listManageable()).isErr()).toBe(true); // NOT_SUPPORTED, but initialized first
    expect((await backend.describeExport({ id: "a", sizeGiB: 1 }))._unsafeUnwrap()).toEqual({ exported: false, hosts: [] });
    expect(setup).not.toHaveBeenCalled();
    expect(initialize).toHaveBeenCalledTimes(1);
    (await backend.createVolume({ id: "a", sizeGiB: 1 }))._unsafeUnwrap();
    expect(setup).toHaveBeenCalledTimes(1);
    expect(initialize).toHaveBeenCalledTimes(1);
  });

  it("an explicit setup() initializes the driver so later operations do not", async () => {
    const driver = new MemoryVolumeDriver();
    const setup = vi.spyOn(driver, "setup");
    const backend = wrapDriver(driver);
    expect((await backend.setup()).isOk()).toBe(true);
    expect((await backend.getVolumeStats()).isOk()).toBe(true);
    expect(setup).toHaveBeenCalledTimes(1);
  });
});

describe("VolumeBackend: validation happens before the driver is called", () => {
  const cases: Array<[string, (b: ReturnType<typeof wrapDriver>, v: Volume) => ResultAsync<unknown, VolkitError>, keyof MemoryVolumeDriver]> = [
    ["createVolume with id ../x", (b) => b.createVolume({ id: "../x", sizeGiB: 1 }), "createVolume"],
    ["createVolume with id -rf", (b) => b.createVolume({ id: "-rf", sizeGiB: 1 }), "createVolume"],
    ["createVolume with size 0", (b) => b.createVolume({ id: "ok", sizeGiB: 0 }), "createVolume"],
    ["deleteVolume of a malformed record", (b) => b.deleteVolume({ id: "a;b", sizeGiB: 1 }), "deleteVolume"],
    ["extendVolume shrinking", (b, v) => b.extendVolume(v, 1), "extendVolume"],
    ["extendVolume to 2.5 GiB", (b, v) => b.extendVolume(v, 2.5), "extendVolume"],
    ["createSnapshot naming another volume", (b, v) => b.createSnapshot({ id: "s1", volumeId: "other", volumeSizeGiB: 2 }, v), "createSnapshot"],
    ["createVolumeFromSnapshot smaller than the snapshot", (b, v) => b.createVolumeFromSnapshot({ id: "n", sizeGiB: 1 }, { id: "s", volumeId: v.id, volumeSizeGiB: 2 }), "createVolumeFromSnapshot"],
    ["createClonedVolume smaller than the source", (b, v) => b.createClonedVolume({ id: "n", sizeGiB: 1 }, v), "createClonedVolume"],
    ["revertToSnapshot with another volume's snapshot", (b, v) => b.revertToSnapshot(v, { id: "s", volumeId: "other", volumeSizeGiB: 2 }), "revertToSnapshot"],
    ["initializeConnection with a bad initiator", (b, v) => b.initializeConnection(v, { host: "h", initiator: "not-an-iqn" }), "initializeConnection"],
    ["copyImageToVolume from a relative path", (b, v) => b.copyImageToVolume({ path: "images/x.qcow2" }, v), "copyImageToVolume"],
    ["copyVolumeToImage to a path with ..", (b, v) => b.copyVolumeToImage(v, { path: "/srv/../etc/x", format: "raw" }), "copyVolumeToImage"],
    ["manageExisting with an option-like name", (b) => b.manageExisting({ id: "m", sizeGiB: 1 }, { sourceName: "-rf" }), "manageExisting"],
  ];

  it.each(cases)("%s → INVALID_ARGUMENT, driver not called", async (_label, call, method) => {
    const driver = new MemoryVolumeDriver();
    const backend = wrapDriver(driver);
    const volume = (await backend.createVolume({ id: "vol", sizeGiB: 2 }))._unsafeUnwrap();
    const spy = vi.spyOn(driver, method as "createVolume");
    const before = driver.volumeIds();
    const r = await call(backend, volume);
    expect(r._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(spy).not.toHaveBeenCalled();
    expect(driver.volumeIds()).toEqual(before);
  });

  it("the driver receives validated, frozen input", async () => {
    const driver = new MemoryVolumeDriver();
    const create = vi.spyOn(driver, "createVolume");
    expect((await wrapDriver(driver).createVolume({ id: "v", sizeGiB: 1, metadata: { k: "v" } })).isOk()).toBe(true);
    const spec = create.mock.calls[0]?.[0] as VolumeSpec;
    expect(Object.isFrozen(spec)).toBe(true);
    expect(Object.isFrozen(spec.metadata)).toBe(true);
  });
});

describe("VolumeBackend: per-volume locks", () => {
  it("serializes two operations on the same volume", async () => {
    const driver = new MemoryVolumeDriver({ latencyMs: 60 });
    const backend = wrapDriver(driver);
    const v = (await backend.createVolume({ id: "v", sizeGiB: 1 }))._unsafeUnwrap();
    const spans = recordSpans(driver, ["extendVolume", "createSnapshot"]);
    const [a, b] = await Promise.all([backend.extendVolume(v, 2), backend.createSnapshot({ id: "s", volumeId: "v", volumeSizeGiB: 1 }, v)]);
    expect(a.isOk() && b.isOk()).toBe(true);
    expect(spans).toHaveLength(2);
    expect(overlaps(spans[0], spans[1])).toBe(false);
  });

  it("runs operations on different volumes concurrently", async () => {
    const driver = new MemoryVolumeDriver({ latencyMs: 80 });
    const backend = wrapDriver(driver);
    const spans = recordSpans(driver, ["createVolume"]);
    await Promise.all([backend.createVolume({ id: "x", sizeGiB: 1 }), backend.createVolume({ id: "y", sizeGiB: 1 })]);
    expect(spans).toHaveLength(2);
    expect(overlaps(spans[0], spans[1])).toBe(true);
  });

  it("a clone holds the source's lock: it waits for an operation on the source", async () => {
    const driver = new MemoryVolumeDriver({ latencyMs: 60 });
    const backend = wrapDriver(driver);
    const src = (await backend.createVolume({ id: "src", sizeGiB: 1 }))._unsafeUnwrap();
    const spans = recordSpans(driver, ["deleteVolume", "createClonedVolume"]);
    const other = (await backend.createVolume({ id: "other", sizeGiB: 1 }))._unsafeUnwrap();
    await Promise.all([backend.createClonedVolume({ id: "copy", sizeGiB: 1 }, src), backend.deleteVolume(other)]);
    expect(overlaps(spans.find((s) => s.name === "createClonedVolume:copy"), spans.find((s) => s.name === "deleteVolume:other"))).toBe(true);
    const spans2 = recordSpans(driver, ["extendVolume"]);
    await Promise.all([backend.createClonedVolume({ id: "copy2", sizeGiB: 1 }, src), backend.extendVolume(src, 2)]);
    const all = [...spans, ...spans2];
    expect(overlaps(all.find((s) => s.name === "createClonedVolume:copy2"), all.find((s) => s.name === "extendVolume:src"))).toBe(false);
  });

  it("a signal firing while waiting for a volume's lock ends the wait (TIMEOUT here), and the driver is never called for it", async () => {
    const driver = new MemoryVolumeDriver({ latencyMs: 200 });
    const backend = wrapDriver(driver);
    const v = (await backend.createVolume({ id: "v", sizeGiB: 1 }))._unsafeUnwrap();
    const extend = vi.spyOn(driver, "extendVolume");
    const holder = backend.createSnapshot({ id: "s", volumeId: "v", volumeSizeGiB: 1 }, v);
    const t0 = performance.now();
    const waiter = await backend.extendVolume(v, 2, { signal: AbortSignal.timeout(50) });
    expect(waiter._unsafeUnwrapErr().code).toBe("TIMEOUT");
    expect(performance.now() - t0).toBeLessThan(180);
    expect(extend).not.toHaveBeenCalled();
    expect((await holder).isOk()).toBe(true);
  });
});

describe("VolumeBackend: deadlines and cancellation", () => {
  it("a deadline that passes during the driver call → TIMEOUT promptly, nothing created", async () => {
    const driver = new MemoryVolumeDriver({ latencyMs: 1000 });
    vi.spyOn(driver, "setup").mockReturnValue(okAsync(undefined));
    const backend = wrapDriver(driver);
    const t0 = performance.now();
    const r = await backend.createVolume({ id: "slow", sizeGiB: 1 }, { deadline: Date.now() + 60 });
    expect(r._unsafeUnwrapErr().code).toBe("TIMEOUT");
    expect(performance.now() - t0).toBeLessThan(500);
    expect(driver.volumeIds()).toEqual([]);
  });

  it("an abort during the driver call → ABORTED", async () => {
    const driver = new MemoryVolumeDriver({ latencyMs: 1000 });
    vi.spyOn(driver, "setup").mockReturnValue(okAsync(undefined));
    const backend = wrapDriver(driver);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 40);
    const r = await backend.createVolume({ id: "slow", sizeGiB: 1 }, { signal: ac.signal });
    expect(r._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(driver.volumeIds()).toEqual([]);
  });
});

/** A driver that reports phases and progress like a real copy would. */
class PhasedDriver extends MemoryVolumeDriver {
  override createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return ctx
      .phase("allocate", () => super.createClonedVolume(spec, source, ctx))
      .andThen((created) =>
        ctx.phase("copy", () => {
          ctx.progress("copy", 512, 1024);
          ctx.progress("copy", 1024, 1024);
          return okAsync(created);
        }),
      );
  }
}

describe("VolumeBackend: events and logs", () => {
  it("emits start and end events with volume id, duration and phases", async () => {
    const driver = new PhasedDriver({ latencyMs: 30 });
    const backend = wrapDriver(driver, { name: "lab-memory" });
    const events: VolkitEvent[] = [];
    backend.events.on((e) => events.push(e));
    const src = (await backend.createVolume({ id: "src", sizeGiB: 1 }))._unsafeUnwrap();
    (await backend.createClonedVolume({ id: "dst", sizeGiB: 1 }, src))._unsafeUnwrap();

    const [start1, end1] = events;
    expect(start1).toMatchObject({ type: "operation:start", operation: "createVolume", source: "lab-memory", volumeId: "src" });
    expect(end1).toMatchObject({ type: "operation:end", operation: "createVolume", source: "lab-memory", volumeId: "src", ok: true });
    if (end1?.type !== "operation:end") throw new Error("expected an end event");
    expect(end1.phases.map((p) => p.name)).toEqual(["prepare"]);
    expect(end1.durationMs).toBeGreaterThanOrEqual(50); // setup + create, 30 ms each

    const cloneEnd = events.find((e) => e.type === "operation:end" && e.operation === "createClonedVolume");
    if (cloneEnd?.type !== "operation:end") throw new Error("no clone end event");
    expect(cloneEnd.phases.map((p) => p.name)).toEqual(["prepare", "allocate", "copy"]);
    expect(cloneEnd.phases.find((p) => p.name === "allocate")?.durationMs).toBeGreaterThanOrEqual(25);
    expect(cloneEnd.durationMs).toBeGreaterThanOrEqual(cloneEnd.phases.reduce((sum, p) => sum + p.durationMs, 0) - 1);
    const progress = events.filter((e) => e.type === "progress");
    expect(progress).toEqual([
      { type: "progress", operation: "createClonedVolume", source: "lab-memory", volumeId: "dst", phase: "copy", bytesDone: 512, bytesTotal: 1024 },
      { type: "progress", operation: "createClonedVolume", source: "lab-memory", volumeId: "dst", phase: "copy", bytesDone: 1024, bytesTotal: 1024 },
    ]);
  });

  it("a failure's end event carries the code and the redacted message; no event or log line holds a secret", async () => {
    const secret = `chap-${randomUUID()}`;
    registerSecret(secret);
    const driver = new MemoryVolumeDriver();
    vi.spyOn(driver, "createVolume").mockReturnValue(errAsync(new VolkitError("EXPORT_FAILED", `tgtadm rejected password ${secret}`, { details: { stderr: secret } })));
    const { logger, lines } = capture();
    const backend = wrapDriver(driver, { logger });
    const events: VolkitEvent[] = [];
    backend.events.on((e) => events.push(e));
    const r = await backend.createVolume({ id: "v", sizeGiB: 1 });
    expect(r._unsafeUnwrapErr().code).toBe("EXPORT_FAILED");
    const end = events.find((e) => e.type === "operation:end");
    expect(end).toMatchObject({ ok: false, errorCode: "EXPORT_FAILED", errorMessage: "tgtadm rejected password ***" });
    expect(lines.length).toBeGreaterThan(0);
    expect(JSON.stringify(events)).not.toContain(secret);
    expect(JSON.stringify(lines)).not.toContain(secret);
  });

  it("registers the CHAP password of iSCSI connection info as a secret", async () => {
    const password = `Chap${randomUUID().replaceAll("-", "").slice(0, 20)}`;
    expect(redactText(password)).toBe(password);
    const driver = new MemoryVolumeDriver();
    vi.spyOn(driver, "initializeConnection").mockImplementation((volume: Volume) =>
      okAsync({
        type: "iscsi",
        volumeId: volume.id,
        targetIqn: "iqn.2010-10.org.openstack:volume-v",
        targetPortal: "10.0.0.1:3260",
        targetLun: 1,
        targetDiscovered: false,
        authMethod: "CHAP",
        authUsername: "user",
        authPassword: password,
        accessMode: "rw",
        encrypted: false,
      } satisfies ConnectionInfo),
    );
    const backend = wrapDriver(driver);
    const v = (await backend.createVolume({ id: "v", sizeGiB: 1 }))._unsafeUnwrap();
    const info = (await backend.initializeConnection(v, connector))._unsafeUnwrap();
    expect(info.type === "iscsi" && info.authPassword).toBe(password); // the caller still gets it
    expect(redactText(`login with ${password}`)).toBe("login with ***");
  });

  it("a throwing listener does not break the operation", async () => {
    const backend = wrapDriver(new MemoryVolumeDriver());
    backend.events.on(() => {
      throw new Error("listener bug");
    });
    expect((await backend.createVolume({ id: "v", sizeGiB: 1 }))._unsafeUnwrap().id).toBe("v");
  });
});

describe("VolumeBackend: pass-through", () => {
  it("stats carry the backend's name; capabilities are the driver's", async () => {
    const driver = new MemoryVolumeDriver({ capacityGiB: 10 });
    const backend = wrapDriver(driver, { name: "gold" });
    const stats = (await backend.getVolumeStats())._unsafeUnwrap();
    expect(stats.volumeBackendName).toBe("gold");
    expect(stats.totalCapacityGiB).toBe(10);
    expect(backend.capabilities).toBe(driver.capabilities);
    expect(backend.name).toBe("gold");
    expect(wrapDriver(driver).name).toBe("memory");
  });

  it("close() calls the driver's close when it has one", async () => {
    const driver = Object.assign(new MemoryVolumeDriver(), { close: vi.fn(() => okAsync(undefined)) });
    expect((await wrapDriver(driver).close()).isOk()).toBe(true);
    expect(driver.close).toHaveBeenCalledTimes(1);
    expect((await wrapDriver(new MemoryVolumeDriver()).close()).isOk()).toBe(true);
  });
});
