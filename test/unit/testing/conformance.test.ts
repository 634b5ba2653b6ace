import { setTimeout as sleep } from "node:timers/promises";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { describe, expect, it, vi } from "vitest";
import { backgroundContext, type OperationContext, type OperationOptions } from "../../../src/core/context.js";
import { VolkitError } from "../../../src/core/errors.js";
import type { ConnectionInfo, ConnectionInfoInput, HostProperties, PoolStatsInput, Volume, VolumeSpec } from "../../../src/core/records.js";
import { VolumeBackend, wrapDriver } from "../../../src/drivers/backend.js";
import { NO_CAPABILITIES, VolumeDriverBase } from "../../../src/drivers/base.js";
import type { DriverCapabilities } from "../../../src/drivers/volume-driver.js";
import {
  CONFORMANCE_CHECK_NAMES,
  CONFORMANCE_CHECK_TITLES,
  conformanceChecks,
  describeVolumeDriverConformance,
  type DriverConformanceOptions,
} from "../../../src/testing/conformance.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";

// The reference driver passes the whole suite, data checks included.
const reference = new MemoryVolumeDriver();
describeVolumeDriverConformance({ name: "memory (with data checks)", create: () => reference, io: reference.io, ioBytes: 64 * 1024 });
/** The least a driver can be: exactly the abstract members of VolumeDriverBase, nothing else. */
class MinimalDriver extends VolumeDriverBase {
  readonly driverName = "minimal";
  readonly capabilities: DriverCapabilities = { ...NO_CAPABILITIES, thin: true, nativeClone: true, protocol: "local" };
  readonly volumes = new Map<string, Volume>();

  createVolume(spec: VolumeSpec): ResultAsync<Volume, VolkitError> {
    const existing = this.volumes.get(spec.id);
    if (existing) return existing.sizeGiB === spec.sizeGiB ? okAsync(existing) : errAsync(new VolkitError("VOLUME_EXISTS", spec.id));
    const v = { id: spec.id, sizeGiB: spec.sizeGiB };
    this.volumes.set(v.id, v);
    return okAsync(v);
  }
  deleteVolume(volume: Volume): ResultAsync<void, VolkitError> {
    this.volumes.delete(volume.id);
    return okAsync(undefined);
  }
  createClonedVolume(spec: VolumeSpec, source: Volume): ResultAsync<Volume, VolkitError> {
    return this.volumes.has(source.id) ? this.createVolume(spec) : errAsync(new VolkitError("VOLUME_NOT_FOUND", source.id));
  }
  extendVolume(volume: Volume, newSizeGiB: number): ResultAsync<Volume, VolkitError> {
    if (!this.volumes.has(volume.id)) return errAsync(new VolkitError("VOLUME_NOT_FOUND", volume.id));
    const v = { ...volume, sizeGiB: newSizeGiB };
    this.volumes.set(v.id, v);
    return okAsync(v);
  }
  getPoolStats(): ResultAsync<readonly PoolStatsInput[], VolkitError> {
    return okAsync([{ poolName: "p", totalCapacityGiB: "infinite", freeCapacityGiB: "infinite", thinProvisioningSupport: true, thickProvisioningSupport: false }]);
  }
  initializeConnection(volume: Volume): ResultAsync<ConnectionInfoInput, VolkitError> {
    return okAsync({ type: "local", volumeId: volume.id, devicePath: `/dev/minimal/${volume.id}` });
  }
}

/** Claims no snapshot support but takes snapshots anyway (capabilities that lie). */
class LyingCapabilities extends MemoryVolumeDriver {
  override readonly capabilities: DriverCapabilities = { ...new MemoryVolumeDriver().capabilities, snapshots: false, revertToSnapshot: false };
}

describeVolumeDriverConformance({ name: "minimal driver (no snapshots, unknown capacity)", create: () => new MinimalDriver() });
describeVolumeDriverConformance({ name: "memory (as a named backend, 2 GiB volumes)", create: () => wrapDriver(new MemoryVolumeDriver(), { name: "mem-b" }), sizeGiB: 2 });

describe("conformance suite mechanics", () => {
  it("titles every check", () => {
    expect(Object.keys(CONFORMANCE_CHECK_TITLES).sort()).toEqual([...CONFORMANCE_CHECK_NAMES].sort());
    expect(Object.keys(conformanceChecks({ name: "x", create: () => new MemoryVolumeDriver() })).sort()).toEqual([...CONFORMANCE_CHECK_NAMES].sort());
  });

  it("cleans up what a passing check created", async () => {
    const driver = new MemoryVolumeDriver();
    const checks = conformanceChecks({ name: "clean", create: () => driver, io: driver.io, ioBytes: 1024 });
    for (const name of CONFORMANCE_CHECK_NAMES) await checks[name]();
    expect(driver.volumeIds()).toEqual([]);
    expect(driver.snapshotIds()).toEqual([]);
  });

  it("cleans up after a failing check too", async () => {
    const driver = new CloneWithoutData();
    await expect(conformanceChecks({ name: "x", create: () => driver, io: driver.io, ioBytes: 1024 }).lifecycle()).rejects.toThrow();
    expect(driver.volumeIds()).toEqual([]);
    expect(driver.snapshotIds()).toEqual([]);
  });

  it("honours feature overrides: with snapshots off, no snapshot is attempted", async () => {
    const driver = new MemoryVolumeDriver();
    const spy = vi.spyOn(driver, "createSnapshot");
    await conformanceChecks({ name: "no-snap", create: () => driver, features: { snapshots: false, revertToSnapshot: false } }).lifecycle();
    expect(spy).not.toHaveBeenCalled();
  });

  it("runs the user's cleanup hook with the backend after each check", async () => {
    const seen: string[] = [];
    await conformanceChecks({ name: "hook", create: () => new MemoryVolumeDriver(), cleanup: (b) => void seen.push(b.name) }).statsShape();
    expect(seen).toEqual(["memory"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Deliberately broken drivers: each violates one rule, and the matching check must reject.
// ---------------------------------------------------------------------------------------------

/** Fails deleting a volume that is already gone (Cinder requires success). */
class DeleteFailsWhenMissing extends MemoryVolumeDriver {
  override deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (!this.volumeIds().includes(volume.id)) return errAsync(new VolkitError("VOLUME_NOT_FOUND", `no ${volume.id}`));
    return super.deleteVolume(volume, ctx);
  }
}

/** Silently "creates" an existing id again with a new size instead of VOLUME_EXISTS. */
class CreateOverwrites extends MemoryVolumeDriver {
  override createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    return super.createVolume(spec, ctx).orElse((e) => (e.code === "VOLUME_EXISTS" ? okAsync({ id: spec.id, sizeGiB: spec.sizeGiB }) : errAsync(e)));
  }
}

/** Deletes volumes even when they have snapshots. */
class DeleteIgnoresSnapshots extends MemoryVolumeDriver {
  override deleteVolume(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return super.deleteVolume(volume, ctx).orElse((e) => (e.code === "VOLUME_BUSY" ? okAsync(undefined) : errAsync(e)));
  }
}

/** Clones allocate a volume but copy no data. */
class CloneWithoutData extends MemoryVolumeDriver {
  override createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    if (!this.volumeIds().includes(source.id)) return super.createClonedVolume(spec, source, ctx);
    return this.createVolume(spec, ctx);
  }
}

/** Reports more free than total capacity. */
class ImpossibleStats extends MemoryVolumeDriver {
  override getPoolStats(ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError> {
    return super.getPoolStats(ctx).map((pools) => pools.map((p) => ({ ...p, freeCapacityGiB: 5000, totalCapacityGiB: 10 })));
  }
}

/** Stats that never change: provisioned capacity does not grow with a create. */
class FrozenStats extends MemoryVolumeDriver {
  #first: readonly PoolStatsInput[] | undefined;
  override getPoolStats(ctx: OperationContext): ResultAsync<readonly PoolStatsInput[], VolkitError> {
    return super.getPoolStats(ctx).map((s) => (this.#first ??= s));
  }
}

/** Returns connection info with a relative device path. */
class BadConnectionInfo extends MemoryVolumeDriver {
  override initializeConnection(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError> {
    return super.initializeConnection(volume, host, ctx).map((info) => ({ ...info, devicePath: "dev/not-absolute" }) as ConnectionInfo);
  }
}

/** Fails the second terminateConnection for the same host. */
class TerminateNotIdempotent extends MemoryVolumeDriver {
  override terminateConnection(volume: Volume, host: HostProperties | undefined, ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (host && !this.connectedHosts(volume.id).includes(host.host)) return errAsync(new VolkitError("INVALID_STATE", "not connected"));
    return super.terminateConnection(volume, host, ctx);
  }
}

/** Throws (instead of returning NOT_SUPPORTED) for an operation it declares unsupported. */
class ThrowsForUnsupported extends MemoryVolumeDriver {
  override listManageable(): never {
    throw new Error("not implemented");
  }
}

/** Clones of a missing source come back as empty new volumes. */
class CloneOfNothing extends MemoryVolumeDriver {
  override createClonedVolume(spec: VolumeSpec, source: Volume, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    if (this.volumeIds().includes(source.id)) return super.createClonedVolume(spec, source, ctx);
    return this.createVolume(spec, ctx);
  }
}

/** Keeps the spec of the latest call in a field across an await: concurrent creates get mixed up. */
class SharedStateCreate extends MemoryVolumeDriver {
  #pending: VolumeSpec | undefined;
  override createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<Volume, VolkitError> {
    this.#pending = spec;
    return ResultAsync.fromSafePromise(sleep(20)).andThen(() => super.createVolume(this.#pending ?? spec, ctx));
  }
}

/** A runtime that skips validation (calls the driver directly). */
class UnvalidatedBackend extends VolumeBackend {
  override createVolume(spec: VolumeSpec): ResultAsync<Volume, VolkitError> {
    return this.driver.createVolume(spec, backgroundContext("createVolume", "unvalidated"));
  }
}

/** A runtime that drops the caller's signal and deadline. */
class SignalDroppingBackend extends VolumeBackend {
  override createVolume(spec: VolumeSpec, _options?: OperationOptions): ResultAsync<Volume, VolkitError> {
    return super.createVolume(spec);
  }
}

describe("the suite catches broken drivers", () => {
  const run = (create: DriverConformanceOptions["create"], extra: Partial<DriverConformanceOptions> = {}) => conformanceChecks({ name: "broken", create, ...extra });

  it("delete of a missing volume failing → deleteIsIdempotent rejects", async () => {
    await expect(run(() => new DeleteFailsWhenMissing()).deleteIsIdempotent()).rejects.toThrow(/deleteVolume \(second time\) failed: VOLUME_NOT_FOUND/);
  });

  it("a second create of the same id with another size succeeding → createTwice rejects", async () => {
    await expect(run(() => new CreateOverwrites()).createTwice()).rejects.toThrow(/another size fails with VOLUME_EXISTS/);
  });

  it("deleting a volume with snapshots succeeding → deleteBusy rejects", async () => {
    await expect(run(() => new DeleteIgnoresSnapshots()).deleteBusy()).rejects.toThrow(/VOLUME_BUSY/);
  });

  it("a clone without the source's data → lifecycle rejects on the data check", async () => {
    const driver = new CloneWithoutData();
    await expect(run(() => driver, { io: driver.io, ioBytes: 4096 }).lifecycle()).rejects.toThrow(/clone holds the expected data/);
  });

  it("the same broken clone passes lifecycle without io hooks (the data check is what catches it)", async () => {
    await expect(run(() => new CloneWithoutData()).lifecycle()).resolves.toBeUndefined();
  });

  it("free > total in stats → statsShape rejects", async () => {
    await expect(run(() => new ImpossibleStats()).statsShape()).rejects.toThrow(/free ≤ total/);
  });

  it("provisioned capacity not growing after a create → statsShape rejects", async () => {
    await expect(run(() => new FrozenStats()).statsShape()).rejects.toThrow(/provisioned capacity grows/);
  });

  it("invalid ConnectionInfo → exportAndConnection rejects", async () => {
    await expect(run(() => new BadConnectionInfo()).exportAndConnection()).rejects.toThrow(/valid ConnectionInfo/);
  });

  it("a non-idempotent terminateConnection → exportAndConnection rejects", async () => {
    await expect(run(() => new TerminateNotIdempotent()).exportAndConnection()).rejects.toThrow(/terminateConnection \(again\) failed: INVALID_STATE/);
  });

  it("throwing for an unsupported operation → notSupported rejects", async () => {
    await expect(run(() => new ThrowsForUnsupported()).notSupported()).rejects.toThrow(/listManageable is declared unsupported.*INTERNAL/);
  });

  it("cloning a missing source creating a volume → missingSources rejects", async () => {
    await expect(run(() => new CloneOfNothing()).missingSources()).rejects.toThrow(/VOLUME_NOT_FOUND/);
  });

  it("state shared between concurrent calls → concurrentCreates rejects", async () => {
    await expect(run(() => new SharedStateCreate()).concurrentCreates()).rejects.toThrow(/its own volume/);
  });

  it("a runtime that skips validation → invalidInput rejects", async () => {
    await expect(run(() => new UnvalidatedBackend(new MemoryVolumeDriver())).invalidInput()).rejects.toThrow(/INVALID_ARGUMENT/);
  });

  it("capabilities that deny snapshots while the driver takes them → notSupported rejects", async () => {
    await expect(run(() => new LyingCapabilities()).notSupported()).rejects.toThrow(/createSnapshot is declared unsupported/);
  });

  it("a runtime that ignores the signal → abort rejects", async () => {
    await expect(run(() => new SignalDroppingBackend(new MemoryVolumeDriver())).abort()).rejects.toThrow(/ABORTED/);
  });
});
