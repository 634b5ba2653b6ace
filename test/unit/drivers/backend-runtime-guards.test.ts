import { err, ok, okAsync, ResultAsync, type Result } from "neverthrow";
import { describe, expect, it, vi } from "vitest";
import type { OperationContext } from "../../../src/core/context.js";
import { VolkitError } from "../../../src/core/errors.js";
import type { VolkitEvent } from "../../../src/core/events.js";
import { redactText } from "../../../src/core/secrets.js";
import type { ConnectionInfo, HostPropertiesInput, ExistingRef, Snapshot, SnapshotSpec, Volume, VolumeSpec } from "../../../src/core/records.js";
import { wrapDriver } from "../../../src/drivers/backend.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";

const connector: HostPropertiesInput = { host: "compute-1", initiator: "iqn.1994-05.com.redhat:compute-1" };

/** A promise settled from outside. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A driver whose setup waits for the test (and, like a real driver, gives up when its context aborts). */
class GatedSetup extends MemoryVolumeDriver {
  readonly gate = deferred<void>();
  readonly contexts: OperationContext[] = [];
  override setup(ctx: OperationContext): ResultAsync<void, VolkitError> {
    this.contexts.push(ctx);
    const aborted = new Promise<Result<void, VolkitError>>((resolve) =>
      ctx.signal.addEventListener("abort", () => resolve(err(ctx.abortError() ?? new VolkitError("ABORTED", "aborted"))), { once: true }),
    );
    return new ResultAsync(Promise.race([this.gate.promise.then(() => ok<void, VolkitError>(undefined)), aborted]));
  }
}

describe("VolumeBackend setup: shared, on its own context", () => {
  it("a caller that aborts while setup runs gets ABORTED; a concurrent caller still gets its volume", async () => {
    const driver = new GatedSetup();
    const backend = wrapDriver(driver);
    const ac = new AbortController();
    const a = backend.createVolume({ id: "a", sizeGiB: 1 }, { signal: ac.signal });
    const b = backend.createVolume({ id: "b", sizeGiB: 1 });
    await vi.waitFor(() => expect(driver.contexts).toHaveLength(1));
    ac.abort();
    // A's answer comes while setup is still waiting on the gate.
    expect((await a)._unsafeUnwrapErr().code).toBe("ABORTED");
    expect(driver.contexts[0]?.signal.aborted).toBe(false); // setup did not see A's abort
    driver.gate.resolve();
    expect((await b)._unsafeUnwrap().id).toBe("b");
    expect(driver.contexts).toHaveLength(1);
    expect((await backend.createVolume({ id: "a", sizeGiB: 1 }))._unsafeUnwrap().id).toBe("a");
    expect(driver.contexts).toHaveLength(1); // setup ran once
  });

  it("a caller whose deadline passes during setup gets TIMEOUT; setup has its own ~10 min deadline", async () => {
    const driver = new GatedSetup();
    const backend = wrapDriver(driver);
    const before = Date.now();
    const r = await backend.createVolume({ id: "a", sizeGiB: 1 }, { deadline: Date.now() + 50 });
    expect(r._unsafeUnwrapErr().code).toBe("TIMEOUT");
    const setupCtx = driver.contexts[0];
    expect(setupCtx?.signal.aborted).toBe(false);
    expect(setupCtx?.deadline).toBeGreaterThanOrEqual(before + 9 * 60_000);
    expect(setupCtx?.deadline).toBeLessThanOrEqual(Date.now() + 10 * 60_000);
    driver.gate.resolve();
    expect((await backend.createVolume({ id: "a", sizeGiB: 1 })).isOk()).toBe(true);
    expect(driver.contexts).toHaveLength(1);
  });

  it("an explicit setup() with an aborted signal does not fail the setup for others", async () => {
    const driver = new GatedSetup();
    const backend = wrapDriver(driver);
    const ac = new AbortController();
    const explicit = backend.setup({ signal: ac.signal });
    const other = backend.getVolumeStats();
    await vi.waitFor(() => expect(driver.contexts).toHaveLength(1));
    ac.abort();
    expect((await explicit)._unsafeUnwrapErr().code).toBe("ABORTED");
    driver.gate.resolve();
    expect((await other).isOk()).toBe(true);
  });

  it.each([
    ["throws", (): ResultAsync<void, VolkitError> => {
      throw new Error("vg probe crashed");
    }],
    ["returns a rejected ResultAsync", (): ResultAsync<void, VolkitError> => new ResultAsync(Promise.reject(new Error("vg probe crashed")))],
  ])("a setup that %s fails the operation with INTERNAL, and the next operation retries it", async (_how, broken) => {
    const driver = new MemoryVolumeDriver();
    const setup = vi.spyOn(driver, "setup").mockImplementationOnce(broken);
    const create = vi.spyOn(driver, "createVolume");
    const backend = wrapDriver(driver);
    const first = await backend.createVolume({ id: "a", sizeGiB: 1 });
    expect(first._unsafeUnwrapErr()).toMatchObject({ code: "INTERNAL", message: "vg probe crashed", source: "memory" });
    expect(create).not.toHaveBeenCalled();
    const second = await backend.createVolume({ id: "a", sizeGiB: 1 });
    expect(second._unsafeUnwrap().id).toBe("a");
    expect(setup).toHaveBeenCalledTimes(2);
  });
});

describe("VolumeBackend: nothing a driver throws crosses the public API", () => {
  it("a synchronous throw → Err(INTERNAL) naming the backend, an end event, and the volume's lock is released", async () => {
    const driver = new MemoryVolumeDriver();
    const backend = wrapDriver(driver);
    const events: VolkitEvent[] = [];
    backend.events.on((e) => events.push(e));
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    vi.spyOn(driver, "extendVolume").mockImplementationOnce(() => {
      throw new TypeError("cannot read properties of undefined");
    });
    const r = await backend.extendVolume(v, 2);
    expect(r._unsafeUnwrapErr()).toMatchObject({ code: "INTERNAL", source: "memory", message: "cannot read properties of undefined" });
    expect(events.at(-1)).toMatchObject({ type: "operation:end", operation: "extendVolume", ok: false, errorCode: "INTERNAL" });
    // The lock on volume:v1 was released: the next operation on it runs.
    expect((await backend.extendVolume(v, 2, { signal: AbortSignal.timeout(2000) }))._unsafeUnwrap().sizeGiB).toBe(2);
  });

  it("a rejected ResultAsync → Err(INTERNAL)", async () => {
    const driver = new MemoryVolumeDriver();
    const backend = wrapDriver(driver);
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    vi.spyOn(driver, "deleteVolume").mockImplementationOnce(() => new ResultAsync(Promise.reject(new Error("socket hang up"))));
    expect((await backend.deleteVolume(v))._unsafeUnwrapErr()).toMatchObject({ code: "INTERNAL", message: "socket hang up" });
    expect((await backend.deleteVolume(v, { signal: AbortSignal.timeout(2000) })).isOk()).toBe(true);
  });

  it("a method that returns a plain value instead of a Result → Err(INTERNAL)", async () => {
    const driver = new MemoryVolumeDriver();
    const backend = wrapDriver(driver);
    vi.spyOn(driver, "listManageable").mockImplementationOnce((() => Promise.resolve([])) as never);
    expect((await backend.listManageable())._unsafeUnwrapErr()).toMatchObject({ code: "INTERNAL", message: "memory returned a value that is not a Result" });
  });

  it("a close() that throws → Err(INTERNAL)", async () => {
    class ThrowsOnClose extends MemoryVolumeDriver {
      close(): ResultAsync<void, VolkitError> {
        throw new Error("already closed");
      }
    }
    expect((await wrapDriver(new ThrowsOnClose()).close())._unsafeUnwrapErr()).toMatchObject({ code: "INTERNAL", message: "already closed" });
  });
});

describe("VolumeBackend checks what drivers return", () => {
  it("initializeConnection output is validated: an invalid one is a driver bug (INTERNAL naming the driver)", async () => {
    const driver = new MemoryVolumeDriver();
    const backend = wrapDriver(driver);
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    vi.spyOn(driver, "initializeConnection").mockImplementationOnce(() =>
      okAsync({ type: "iscsi", volumeId: "v1", targetPortal: "10.0.0.999:3260", targetLun: 0 } as unknown as ConnectionInfo),
    );
    const e = (await backend.initializeConnection(v, connector))._unsafeUnwrapErr();
    expect(e.code).toBe("INTERNAL");
    expect(e.source).toBe("memory");
    expect(e.message).toBe("driver memory: initializeConnection returned connection info for volume v1 that is not a valid ConnectionInfo");
    expect(e.details.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: ["targetIqn"] }), expect.objectContaining({ path: ["targetPortal"] })]));
  });

  it("connection info for another volume is a driver bug", async () => {
    const driver = new MemoryVolumeDriver();
    const backend = wrapDriver(driver);
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    vi.spyOn(driver, "initializeConnection").mockImplementationOnce(() => okAsync({ type: "local", volumeId: "v2", devicePath: "/dev/x", accessMode: "rw", encrypted: false }));
    expect((await backend.initializeConnection(v, connector))._unsafeUnwrapErr()).toMatchObject({
      code: "INTERNAL",
      message: "driver memory: initializeConnection returned connection info of volume v2, not of volume v1",
    });
  });

  it("valid connection info comes back as the driver made it, plus schema defaults; its CHAP secrets are registered", async () => {
    const driver = new MemoryVolumeDriver();
    const backend = wrapDriver(driver);
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    const password = `Pw${Math.random().toString(36).slice(2)}Abcdef12`;
    const discovery = `Dv${Math.random().toString(36).slice(2)}Abcdef12`;
    const info = {
      type: "iscsi" as const,
      volumeId: "v1",
      targetIqn: "iqn.2010-10.org.example:v1",
      targetPortal: "10.0.0.5:3260",
      targetLun: 1,
      authMethod: "CHAP" as const,
      authUsername: "user",
      authPassword: password,
      discoveryAuthMethod: "CHAP" as const,
      discoveryAuthUsername: "duser",
      discoveryAuthPassword: discovery,
    };
    vi.spyOn(driver, "initializeConnection").mockImplementationOnce(() => okAsync(info as unknown as ConnectionInfo));
    const got = (await backend.initializeConnection(v, connector))._unsafeUnwrap();
    expect(got).toEqual({ ...info, accessMode: "rw", encrypted: false, targetDiscovered: false });
    expect(redactText(`${password} ${discovery}`)).toBe("*** ***");
    // The memory driver's own info passes unchanged.
    const local = (await backend.initializeConnection(v, connector))._unsafeUnwrap();
    expect(local).toEqual({ type: "local", volumeId: "v1", devicePath: "/dev/volkit-memory/v1", accessMode: "rw", encrypted: false, discard: true });
  });

  it("a created volume with another id is a driver bug, for every create path and manageExisting", async () => {
    const driver = new MemoryVolumeDriver();
    const backend = wrapDriver(driver);
    const src = (await backend.createVolume({ id: "src", sizeGiB: 1 }))._unsafeUnwrap();
    const snap = (await backend.createSnapshot({ id: "s1", volumeId: "src", volumeSizeGiB: 1 }, src))._unsafeUnwrap();
    const wrong = (spec: VolumeSpec): ResultAsync<Volume, VolkitError> => okAsync({ ...spec, id: "someone-else" });
    vi.spyOn(driver, "createVolume").mockImplementationOnce((spec: VolumeSpec) => wrong(spec));
    vi.spyOn(driver, "createVolumeFromSnapshot").mockImplementationOnce((spec: VolumeSpec) => wrong(spec));
    vi.spyOn(driver, "createClonedVolume").mockImplementationOnce((spec: VolumeSpec) => wrong(spec));
    vi.spyOn(driver, "manageExisting").mockImplementationOnce((spec: VolumeSpec, _ref: ExistingRef) => wrong(spec));
    const results = [
      await backend.createVolume({ id: "n1", sizeGiB: 1 }),
      await backend.createVolumeFromSnapshot({ id: "n2", sizeGiB: 1 }, snap),
      await backend.createClonedVolume({ id: "n3", sizeGiB: 1 }, src),
      await backend.manageExisting({ id: "n4", sizeGiB: 1 }, { sourceName: "lv0" }),
    ];
    expect(results.map((r) => r._unsafeUnwrapErr().message)).toEqual([
      "driver memory: createVolume returned volume someone-else, not its own volume n1",
      "driver memory: createVolumeFromSnapshot returned volume someone-else, not its own volume n2",
      "driver memory: createClonedVolume returned volume someone-else, not its own volume n3",
      "driver memory: manageExisting returned volume someone-else, not its own volume n4",
    ]);
    expect(results.every((r) => r.isErr() && r.error.code === "INTERNAL")).toBe(true);
  });

  it("a created snapshot with another id is a driver bug", async () => {
    const driver = new MemoryVolumeDriver();
    const backend = wrapDriver(driver);
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    vi.spyOn(driver, "createSnapshot").mockImplementationOnce((s: SnapshotSpec): ResultAsync<Snapshot, VolkitError> => okAsync({ ...s, id: "other" }));
    expect((await backend.createSnapshot({ id: "s1", volumeId: "v1", volumeSizeGiB: 1 }, v))._unsafeUnwrapErr()).toMatchObject({ code: "INTERNAL", source: "memory" });
  });

  it("extendVolume must return the requested size", async () => {
    const driver = new MemoryVolumeDriver();
    const backend = wrapDriver(driver);
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    vi.spyOn(driver, "extendVolume").mockImplementationOnce((vol: Volume) => okAsync({ ...vol }));
    expect((await backend.extendVolume(v, 3))._unsafeUnwrapErr()).toMatchObject({
      code: "INTERNAL",
      message: "driver memory: extendVolume returned volume v1 with 1 GiB, but 3 GiB was requested",
      details: { expectedSizeGiB: 3, returnedSizeGiB: 1 },
    });
  });

  it("a valid driver's volume records are parsed once and handed out equal to what the driver returned", async () => {
    const driver = new MemoryVolumeDriver();
    const create = vi.spyOn(driver, "createVolume");
    const extend = vi.spyOn(driver, "extendVolume");
    const backend = wrapDriver(driver);
    const returned = async (spy: typeof create | typeof extend): Promise<Volume | undefined> => {
      const pending = spy.mock.results[0]?.value as ResultAsync<Volume, VolkitError> | undefined;
      return pending ? (await pending)._unsafeUnwrap() : undefined;
    };
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 1, metadata: { a: "b" } }))._unsafeUnwrap();
    expect(v).toEqual(await returned(create));
    const grown = (await backend.extendVolume(v, 4))._unsafeUnwrap();
    expect(grown).toEqual(await returned(extend));
    expect(grown.sizeGiB).toBe(4);
  });
});
