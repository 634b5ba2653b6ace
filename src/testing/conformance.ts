import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Result, ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { VolkitError } from "../core/errors.js";
import type { OperationOptions } from "../core/context.js";
import { ConnectionInfoSchema, VolumeSchema, type Capacity, type ConnectorProperties, type Snapshot, type Volume, type VolumeStats } from "../core/types.js";
import { VolumeBackend, wrapDriver } from "../drivers/backend.js";
import type { DriverCapabilities, VolumeDriver } from "../drivers/volume-driver.js";

/**
 * Reads and writes a volume's raw data, so the suite can prove that clones, snapshots and reverts
 * carry the right bytes. For a real backend: attach the volume (connector) and use the device.
 */
export interface ConformanceIo {
  /** Writes `data` at offset 0 of the volume. */
  write(volume: Volume, data: Buffer): Promise<void>;
  /** Reads the first `bytes` bytes of the volume. */
  read(volume: Volume, bytes: number): Promise<Buffer>;
}

/** Options of {@link describeVolumeDriverConformance} and {@link conformanceChecks}. */
export interface DriverConformanceOptions {
  /** Shown in the suite's title. */
  readonly name: string;
  /**
   * Returns a fresh driver or backend; called once per check. A bare driver is wrapped with
   * `wrapDriver`, so the checks always go through the runtime like a real caller.
   */
  readonly create: () => VolumeDriver | VolumeBackend | Promise<VolumeDriver | VolumeBackend>;
  /** The attaching host used by the export/connection check (default: a fake host with an IQN). */
  readonly connector?: ConnectorProperties;
  /** Size of test volumes in GiB (default 1). Larger sizes used are `sizeGiB + 1` and `+ 2`. */
  readonly sizeGiB?: number;
  /**
   * Overrides the capabilities the suite tests, e.g. `{ revertToSnapshot: false }` to skip reverts
   * on a backend where it is too slow. A capability turned off here is not checked at all; the
   * `NOT_SUPPORTED` check only covers what the driver itself declares unsupported.
   */
  readonly features?: Partial<DriverCapabilities>;
  /** Data hooks; without them the data checks are skipped and only metadata is checked. */
  readonly io?: ConformanceIo;
  /** Bytes written and compared by the data checks (default 1 MiB). */
  readonly ioBytes?: number;
  /** Called after each check with the backend it used (after the suite deleted what it created). */
  readonly cleanup?: (backend: VolumeBackend) => void | Promise<void>;
  /** Per-check timeout for vitest (ms, default 120 000). */
  readonly timeoutMs?: number;
}

/** Names of the checks, in the order the suite runs them. */
export const CONFORMANCE_CHECK_NAMES = [
  "lifecycle",
  "statsShape",
  "deleteIsIdempotent",
  "createTwice",
  "deleteBusy",
  "invalidInput",
  "missingSources",
  "notSupported",
  "exportAndConnection",
  "abort",
  "concurrentCreates",
] as const;

/** One check's name. */
export type ConformanceCheckName = (typeof CONFORMANCE_CHECK_NAMES)[number];

/** Human-readable titles used as vitest test names. */
export const CONFORMANCE_CHECK_TITLES: Readonly<Record<ConformanceCheckName, string>> = {
  lifecycle: "lifecycle: create → stats → snapshot → from snapshot (bigger) → clone → extend → revert → delete",
  statsShape: "stats: required keys, valid capacities, pools, provisioned grows with a create",
  deleteIsIdempotent: "retry safety: deleting twice, deleting a missing volume or snapshot succeeds",
  createTwice: "retry safety: creating the same id twice never makes a second object",
  deleteBusy: "deleting a volume that has snapshots fails with VOLUME_BUSY and keeps both",
  invalidInput: "invalid specs and shrinking fail with INVALID_ARGUMENT and change nothing",
  missingSources: "operations on a missing volume or snapshot fail with *_NOT_FOUND and create nothing",
  notSupported: "unsupported operations return NOT_SUPPORTED instead of throwing",
  exportAndConnection: "export and connection: valid ConnectionInfo, repeatable, terminate/remove twice",
  abort: "an aborted signal or past deadline fails with ABORTED/TIMEOUT and creates nothing",
  concurrentCreates: "volumes created concurrently all exist and are distinct",
};

/** Every check as a function that rejects (with an assertion error) when the driver violates it. */
export type ConformanceChecks = { readonly [K in ConformanceCheckName]: () => Promise<void> };

const DEFAULT_CONNECTOR: ConnectorProperties = {
  host: "volkit-conformance",
  initiator: "iqn.2004-10.org.volkit:conformance",
  ip: "127.0.0.1",
  multipath: false,
  platform: "x86_64",
  osType: "linux2",
};

/**
 * Registers the volkit driver conformance suite with vitest: one `describe` with one `it` per
 * check (see {@link CONFORMANCE_CHECK_TITLES}). Every check creates volumes with fresh UUIDs and
 * deletes what it created, so it can run repeatedly against a real backend; run it against a
 * dedicated pool, because capacity checks compare stats before and after.
 *
 * Required of every driver (Cinder's minimum feature set): create, delete, clone, extend, stats,
 * export and connection. Snapshots, volumes from snapshots and revert are checked when the driver
 * declares them in its capabilities (and `features` does not turn them off); what it declares
 * unsupported must return `NOT_SUPPORTED`. Pass `io` to also check the data of clones, volumes from
 * snapshots and reverts (sha256 of a random pattern).
 *
 * Requires vitest (a peer dependency of `volkit/testing`).
 *
 * @example
 * ```ts
 * // my-driver.conformance.test.ts
 * import { describeVolumeDriverConformance } from "volkit/testing";
 * describeVolumeDriverConformance({ name: "my-driver", create: () => new MyDriver(config) });
 * ```
 */
export function describeVolumeDriverConformance(options: DriverConformanceOptions): void {
  const checks = conformanceChecks(options);
  describe(`volume driver conformance: ${options.name}`, () => {
    for (const name of CONFORMANCE_CHECK_NAMES) {
      it(CONFORMANCE_CHECK_TITLES[name], checks[name], options.timeoutMs ?? 120_000);
    }
  });
}

/**
 * The suite's checks as plain async functions, for running them outside `describe` (e.g. to show
 * that a broken driver fails a specific check, or to run one check in a custom harness).
 *
 * @example
 * ```ts
 * await expect(conformanceChecks({ name: "broken", create: () => new Broken() }).deleteIsIdempotent()).rejects.toThrow();
 * ```
 */
export function conformanceChecks(options: DriverConformanceOptions): ConformanceChecks {
  const size = options.sizeGiB ?? 1;
  const connector = options.connector ?? DEFAULT_CONNECTOR;
  const ioBytes = options.ioBytes ?? 1024 * 1024;
  const session = (fn: (s: Session) => Promise<void>) => () => withSession(options, fn);
  return {
    lifecycle: session(async (s) => {
      const caps = s.caps;
      const io = options.io;
      const stats0 = await s.ok("getVolumeStats", s.backend.getVolumeStats(true));
      const id = randomUUID();
      const a = await s.track(s.ok("createVolume", s.backend.createVolume({ id, sizeGiB: size, displayName: "volkit conformance" })));
      expect(a.id, "createVolume returns the requested id").toBe(id);
      expect(a.sizeGiB, "createVolume returns the requested size").toBe(size);
      expect(VolumeSchema.safeParse(a).success, "createVolume returns a valid Volume").toBe(true);
      const stats1 = await s.ok("getVolumeStats", s.backend.getVolumeStats(true));
      checkStatsShape(stats1, s.backend.name);
      checkProvisionedGrowth(stats0, stats1, size);

      const original = io ? pattern(ioBytes) : undefined;
      if (io && original) await io.write(a, original);

      let snapshot: Snapshot | undefined;
      let changed: Buffer | undefined;
      let extendTarget: Volume | undefined;
      if (caps.snapshots) {
        snapshot = await s.createSnapshot(a);
        expect(snapshot.volumeId, "snapshot names its volume").toBe(a.id);
        expect(snapshot.volumeSizeGiB, "snapshot records the volume size").toBe(size);
        if (io) {
          changed = pattern(ioBytes);
          await io.write(a, changed); // the snapshot must not see this
        }
        const fromSnap = await s.track(
          s.ok("createVolumeFromSnapshot", s.backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: size + 1 }, snapshot)),
        );
        expect(fromSnap.sizeGiB, "a volume from a snapshot has the requested (bigger) size").toBe(size + 1);
        if (io && original) await expectData(io, fromSnap, original, "volume created from the snapshot");
        extendTarget = fromSnap;
      }

      const clone = await s.track(s.ok("createClonedVolume", s.backend.createClonedVolume({ id: randomUUID(), sizeGiB: size }, a)));
      expect(clone.sizeGiB, "clone has the requested size").toBe(size);
      if (io && original) await expectData(io, clone, changed ?? original, "clone");
      extendTarget ??= clone;

      const before = extendTarget.sizeGiB;
      const extended = await s.ok("extendVolume", s.backend.extendVolume(extendTarget, before + 1));
      expect(extended.id).toBe(extendTarget.id);
      expect(extended.sizeGiB, "extendVolume returns the new size").toBe(before + 1);
      s.replace(extended);
      if (io && original) await expectData(io, extended, extendTarget === clone ? (changed ?? original) : original, "extended volume");

      if (caps.snapshots && caps.revertToSnapshot && snapshot) {
        await s.ok("revertToSnapshot", s.backend.revertToSnapshot(a, snapshot));
        if (io && original) await expectData(io, a, original, "reverted volume");
      }

      if (snapshot) {
        await s.ok("deleteSnapshot", s.backend.deleteSnapshot(snapshot));
        s.forgetSnapshot(snapshot);
      }
      for (const v of s.liveVolumes()) {
        await s.ok("deleteVolume", s.backend.deleteVolume(v));
        s.forgetVolume(v);
      }
    }),

    statsShape: session(async (s) => {
      const before = await s.ok("getVolumeStats", s.backend.getVolumeStats(true));
      checkStatsShape(before, s.backend.name);
      const again = await s.ok("getVolumeStats(refresh=false)", s.backend.getVolumeStats(false));
      checkStatsShape(again, s.backend.name);
      await s.createVolume(size + 1);
      const after = await s.ok("getVolumeStats", s.backend.getVolumeStats(true));
      checkStatsShape(after, s.backend.name);
      checkProvisionedGrowth(before, after, size + 1);
    }),

    deleteIsIdempotent: session(async (s) => {
      const v = await s.createVolume(size);
      await s.ok("deleteVolume", s.backend.deleteVolume(v));
      await s.ok("deleteVolume (second time)", s.backend.deleteVolume(v));
      s.forgetVolume(v);
      await s.ok("deleteVolume (never existed)", s.backend.deleteVolume({ id: randomUUID(), sizeGiB: size }));
      if (s.caps.snapshots) {
        const w = await s.createVolume(size);
        const snap = await s.createSnapshot(w);
        await s.ok("deleteSnapshot", s.backend.deleteSnapshot(snap));
        await s.ok("deleteSnapshot (second time)", s.backend.deleteSnapshot(snap));
        s.forgetSnapshot(snap);
        await s.ok("deleteSnapshot (never existed)", s.backend.deleteSnapshot({ id: randomUUID(), volumeId: w.id, volumeSizeGiB: size }));
        await s.ok("deleteVolume after its snapshot was deleted", s.backend.deleteVolume(w));
        s.forgetVolume(w);
      }
    }),

    createTwice: session(async (s) => {
      const id = randomUUID();
      const first = await s.track(s.ok("createVolume", s.backend.createVolume({ id, sizeGiB: size })));
      const afterFirst = await s.ok("getVolumeStats", s.backend.getVolumeStats(true));
      const second = await s.call("createVolume (same id)", s.backend.createVolume({ id, sizeGiB: size }));
      if (second.isOk()) {
        expect(second.value.id, "a repeated create returns the same volume").toBe(first.id);
        expect(second.value.sizeGiB, "a repeated create returns the same volume").toBe(first.sizeGiB);
      } else {
        expect(second.error.code, `a repeated create fails with VOLUME_EXISTS (got ${describeError(second.error)})`).toBe("VOLUME_EXISTS");
      }
      const afterSecond = await s.ok("getVolumeStats", s.backend.getVolumeStats(true));
      const p1 = provisioned(afterFirst);
      const p2 = provisioned(afterSecond);
      if (p1 !== undefined && p2 !== undefined) expect(p2, "a repeated create must not allocate again").toBe(p1);
      const t1 = totalVolumes(afterFirst);
      const t2 = totalVolumes(afterSecond);
      if (t1 !== undefined && t2 !== undefined) expect(t2, "a repeated create must not add a volume").toBe(t1);

      const bigger = await s.call("createVolume (same id, other size)", s.backend.createVolume({ id, sizeGiB: size + 1 }));
      expect(bigger.isErr() ? bigger.error.code : "ok", "creating an existing id with another size fails with VOLUME_EXISTS").toBe("VOLUME_EXISTS");

      await s.ok("deleteVolume", s.backend.deleteVolume(first));
      s.forgetVolume(first);
      // One delete removed it completely: the id is free again, even for another size.
      const recreated = await s.track(s.ok("createVolume after delete", s.backend.createVolume({ id, sizeGiB: size + 1 })));
      expect(recreated.sizeGiB).toBe(size + 1);
    }),

    deleteBusy: session(async (s) => {
      if (!s.caps.snapshots) return;
      const v = await s.createVolume(size);
      const snap = await s.createSnapshot(v);
      const busy = await s.call("deleteVolume (has a snapshot)", s.backend.deleteVolume(v));
      expect(busy.isErr() ? busy.error.code : "ok", "deleting a volume with snapshots fails with VOLUME_BUSY").toBe("VOLUME_BUSY");
      // Both survived: the snapshot still yields a volume, and the volume can still be snapshotted.
      await s.track(s.ok("createVolumeFromSnapshot after VOLUME_BUSY", s.backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: size }, snap)));
      await s.createSnapshot(v);
    }),

    invalidInput: session(async (s) => {
      const v = await s.ok("extendVolume", s.backend.extendVolume(await s.createVolume(size), size + 1));
      s.replace(v);
      const before = await s.ok("getVolumeStats", s.backend.getVolumeStats(true));
      const bad: Array<[string, { id: string; sizeGiB: number }]> = [
        ["sizeGiB 0", { id: randomUUID(), sizeGiB: 0 }],
        ["sizeGiB -1", { id: randomUUID(), sizeGiB: -1 }],
        ["sizeGiB 1.5", { id: randomUUID(), sizeGiB: 1.5 }],
        ['id "../x"', { id: "../x", sizeGiB: size }],
        ['id "-rf"', { id: "-rf", sizeGiB: size }],
        ['id ""', { id: "", sizeGiB: size }],
        ['id "a b"', { id: "a b", sizeGiB: size }],
        ["id with a newline", { id: "a\nb", sizeGiB: size }],
      ];
      for (const [label, spec] of bad) {
        const r = await s.call(`createVolume(${label})`, s.backend.createVolume(spec));
        expect(r.isErr() ? r.error.code : "ok", `createVolume with ${label} fails with INVALID_ARGUMENT`).toBe("INVALID_ARGUMENT");
        const c = await s.call(`createClonedVolume(${label})`, s.backend.createClonedVolume(spec, v));
        expect(c.isErr() ? c.error.code : "ok", `createClonedVolume with ${label} fails with INVALID_ARGUMENT`).toBe("INVALID_ARGUMENT");
      }
      const shrink = await s.call("extendVolume (shrink)", s.backend.extendVolume(v, size));
      expect(shrink.isErr() ? shrink.error.code : "ok", "shrinking fails with INVALID_ARGUMENT").toBe("INVALID_ARGUMENT");
      const after = await s.ok("getVolumeStats", s.backend.getVolumeStats(true));
      expect(capacitySummary(after), "stats are unchanged after refused requests").toEqual(capacitySummary(before));
    }),

    missingSources: session(async (s) => {
      const before = await s.ok("getVolumeStats", s.backend.getVolumeStats(true));
      const ghost: Volume = { id: randomUUID(), sizeGiB: size };
      const clone = await s.call("createClonedVolume (missing source)", s.backend.createClonedVolume({ id: randomUUID(), sizeGiB: size }, ghost));
      expect(clone.isErr() ? clone.error.code : "ok", "cloning a missing volume fails with VOLUME_NOT_FOUND").toBe("VOLUME_NOT_FOUND");
      if (clone.isOk()) s.remember(clone.value);
      const ext = await s.call("extendVolume (missing)", s.backend.extendVolume(ghost, size + 1));
      expect(ext.isErr() ? ext.error.code : "ok", "extending a missing volume fails with VOLUME_NOT_FOUND").toBe("VOLUME_NOT_FOUND");
      if (s.caps.snapshots) {
        const snap = await s.call("createSnapshot (missing volume)", s.backend.createSnapshot({ id: randomUUID(), volumeId: ghost.id, volumeSizeGiB: size }, ghost));
        expect(snap.isErr() ? snap.error.code : "ok", "snapshotting a missing volume fails with VOLUME_NOT_FOUND").toBe("VOLUME_NOT_FOUND");
        const from = await s.call(
          "createVolumeFromSnapshot (missing snapshot)",
          s.backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: size }, { id: randomUUID(), volumeId: ghost.id, volumeSizeGiB: size }),
        );
        expect(from.isErr() ? from.error.code : "ok", "a volume from a missing snapshot fails with SNAPSHOT_NOT_FOUND").toBe("SNAPSHOT_NOT_FOUND");
        if (from.isOk()) s.remember(from.value);
      }
      const after = await s.ok("getVolumeStats", s.backend.getVolumeStats(true));
      expect(capacitySummary(after), "nothing was allocated").toEqual(capacitySummary(before));
    }),

    notSupported: session(async (s) => {
      const declared = s.backend.capabilities;
      const v = await s.createVolume(size);
      const snapSpec = { id: randomUUID(), volumeId: v.id, volumeSizeGiB: size };
      const expectNotSupported = async (label: string, r: ResultAsync<unknown, VolkitError>): Promise<void> => {
        const result = await s.call(label, r);
        expect(result.isErr() ? result.error.code : "ok", `${label} is declared unsupported and must return NOT_SUPPORTED`).toBe("NOT_SUPPORTED");
      };
      if (!declared.snapshots && s.caps.snapshots === false) {
        await expectNotSupported("createSnapshot", s.backend.createSnapshot(snapSpec, v));
        await expectNotSupported("createVolumeFromSnapshot", s.backend.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: size }, snapSpec));
      }
      if (declared.snapshots && !declared.revertToSnapshot && s.caps.revertToSnapshot === false) {
        const snap = await s.createSnapshot(v);
        await expectNotSupported("revertToSnapshot", s.backend.revertToSnapshot(v, snap));
      }
      if (!declared.manageExisting && s.caps.manageExisting === false) {
        await expectNotSupported("manageExisting", s.backend.manageExisting({ id: randomUUID(), sizeGiB: size }, { sourceName: "volkit-conformance-absent" }));
        await expectNotSupported("manageExistingGetSize", s.backend.manageExistingGetSize({ sourceName: "volkit-conformance-absent" }));
        await expectNotSupported("unmanage", s.backend.unmanage(v));
        await expectNotSupported("listManageable", s.backend.listManageable());
      }
    }),

    exportAndConnection: session(async (s) => {
      let v = await s.createVolume(size);
      const update = await s.ok("createExport", s.backend.createExport(v, connector));
      expect(update !== null && typeof update === "object", "createExport returns a model update object").toBe(true);
      for (const key of ["providerLocation", "providerAuth", "providerId"] as const) {
        if (update[key] !== undefined) expect(typeof update[key], `model update ${key} is a string`).toBe("string");
      }
      v = { ...v, ...update };
      s.replace(v);
      const first = await s.ok("initializeConnection", s.backend.initializeConnection(v, connector));
      const parsed = ConnectionInfoSchema.safeParse(first);
      expect(parsed.success, `initializeConnection returns valid ConnectionInfo: ${parsed.success ? "" : parsed.error.message}`).toBe(true);
      expect(first.volumeId, "connection info names the volume").toBe(v.id);
      const second = await s.ok("initializeConnection (again)", s.backend.initializeConnection(v, connector));
      expect(ConnectionInfoSchema.safeParse(second).success, "a repeated initializeConnection returns valid ConnectionInfo").toBe(true);
      expect(second.type, "a repeated initializeConnection returns the same transport").toBe(first.type);
      await s.ok("ensureExport", s.backend.ensureExport(v));
      await s.ok("terminateConnection", s.backend.terminateConnection(v, connector));
      await s.ok("terminateConnection (again)", s.backend.terminateConnection(v, connector));
      await s.ok("terminateConnection (all hosts)", s.backend.terminateConnection(v));
      await s.ok("removeExport", s.backend.removeExport(v));
      await s.ok("removeExport (again)", s.backend.removeExport(v));
      await s.ok("deleteVolume after detach", s.backend.deleteVolume(v));
      s.forgetVolume(v);
    }),

    abort: session(async (s) => {
      const before = await s.ok("getVolumeStats", s.backend.getVolumeStats(true));
      const id = randomUUID();
      const aborted = await s.call("createVolume (aborted)", s.backend.createVolume({ id, sizeGiB: size }, { signal: AbortSignal.abort() }));
      expect(aborted.isErr() ? aborted.error.code : "ok", "an aborted signal fails with ABORTED").toBe("ABORTED");
      if (aborted.isOk()) s.remember(aborted.value);
      const late = await s.call("createVolume (past deadline)", s.backend.createVolume({ id, sizeGiB: size }, { deadline: Date.now() - 1 }));
      expect(late.isErr() ? late.error.code : "ok", "a past deadline fails with TIMEOUT").toBe("TIMEOUT");
      if (late.isOk()) s.remember(late.value);
      const after = await s.ok("getVolumeStats", s.backend.getVolumeStats(true));
      expect(capacitySummary(after), "an aborted create allocates nothing").toEqual(capacitySummary(before));
      // Nothing exists under that id: creating it with another size must succeed (no VOLUME_EXISTS).
      const fresh = await s.track(s.ok("createVolume after the aborted attempts", s.backend.createVolume({ id, sizeGiB: size + 1 })));
      expect(fresh.sizeGiB).toBe(size + 1);
      if (s.caps.snapshots) {
        const snap = await s.call(
          "createSnapshot (aborted)",
          s.backend.createSnapshot({ id: randomUUID(), volumeId: fresh.id, volumeSizeGiB: fresh.sizeGiB }, fresh, { signal: AbortSignal.abort() }),
        );
        expect(snap.isErr() ? snap.error.code : "ok", "an aborted createSnapshot fails with ABORTED").toBe("ABORTED");
        if (snap.isOk()) s.rememberSnapshot(snap.value);
        // No snapshot was made, so the volume is not busy.
        await s.ok("deleteVolume (no snapshot was created)", s.backend.deleteVolume(fresh));
        s.forgetVolume(fresh);
      }
    }),

    concurrentCreates: session(async (s) => {
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      const made = await Promise.all(ids.map((id) => s.track(s.ok("createVolume (concurrent)", s.backend.createVolume({ id, sizeGiB: size })))));
      expect(made.map((v) => v.id), "every concurrent create returns its own volume").toEqual(ids);
      await Promise.all(made.map((v) => s.ok("deleteVolume (concurrent)", s.backend.deleteVolume(v))));
      for (const v of made) s.forgetVolume(v);
    }),
  };
}

/** Per-check state: the backend, effective capabilities, and what was created (deleted at the end). */
class Session {
  readonly #volumes = new Map<string, Volume>();
  readonly #snapshots = new Map<string, Snapshot>();

  constructor(
    readonly backend: VolumeBackend,
    readonly caps: DriverCapabilities,
  ) {}

  /** Awaits a backend call, turning a throw or a rejection into an assertion failure. */
  async call<T>(label: string, pending: ResultAsync<T, VolkitError> | (() => ResultAsync<T, VolkitError>)): Promise<Result<T, VolkitError>> {
    try {
      return await (typeof pending === "function" ? pending() : pending);
    } catch (e) {
      throw new Error(`${label} threw instead of returning a Result: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Awaits a call that must succeed and returns its value. */
  async ok<T>(label: string, pending: ResultAsync<T, VolkitError>): Promise<T> {
    const r = await this.call(label, pending);
    if (r.isErr()) throw new Error(`${label} failed: ${describeError(r.error)}`);
    return r.value;
  }

  async createVolume(sizeGiB: number, options: OperationOptions = {}): Promise<Volume> {
    return this.track(this.ok("createVolume", this.backend.createVolume({ id: randomUUID(), sizeGiB, displayName: "volkit conformance" }, options)));
  }

  async createSnapshot(volume: Volume): Promise<Snapshot> {
    const snap = await this.ok("createSnapshot", this.backend.createSnapshot({ id: randomUUID(), volumeId: volume.id, volumeSizeGiB: volume.sizeGiB }, volume));
    this.rememberSnapshot(snap);
    return snap;
  }

  /** Records a volume a pending call returns, so cleanup deletes it even if a later step fails. */
  async track(pending: Promise<Volume>): Promise<Volume> {
    const v = await pending;
    this.remember(v);
    return v;
  }

  remember(volume: Volume): void {
    this.#volumes.set(volume.id, volume);
  }

  replace(volume: Volume): void {
    if (this.#volumes.has(volume.id)) this.#volumes.set(volume.id, volume);
  }

  rememberSnapshot(snapshot: Snapshot): void {
    this.#snapshots.set(snapshot.id, snapshot);
  }

  forgetVolume(volume: Volume): void {
    this.#volumes.delete(volume.id);
  }

  forgetSnapshot(snapshot: Snapshot): void {
    this.#snapshots.delete(snapshot.id);
  }

  liveVolumes(): Volume[] {
    return [...this.#volumes.values()].reverse();
  }

  /** Best-effort removal of everything still recorded; errors are collected, not thrown. */
  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    const attempt = async (label: string, pending: () => ResultAsync<void, VolkitError>): Promise<void> => {
      try {
        const r = await pending();
        if (r.isErr()) problems.push(`${label}: ${describeError(r.error)}`);
      } catch (e) {
        problems.push(`${label} threw: ${String(e)}`);
      }
    };
    for (const snap of this.#snapshots.values()) await attempt(`deleteSnapshot ${snap.id}`, () => this.backend.deleteSnapshot(snap));
    for (const v of this.liveVolumes()) {
      await attempt(`terminateConnection ${v.id}`, () => this.backend.terminateConnection(v));
      await attempt(`removeExport ${v.id}`, () => this.backend.removeExport(v));
      await attempt(`deleteVolume ${v.id}`, () => this.backend.deleteVolume(v));
    }
    this.#snapshots.clear();
    this.#volumes.clear();
    return problems;
  }
}

async function withSession(options: DriverConformanceOptions, fn: (s: Session) => Promise<void>): Promise<void> {
  const made = await options.create();
  const backend = made instanceof VolumeBackend ? made : wrapDriver(made);
  const session = new Session(backend, { ...backend.capabilities, ...options.features });
  let failure: Error | undefined;
  try {
    await fn(session);
  } catch (e) {
    failure = e instanceof Error ? e : new Error(String(e));
  }
  const leftovers = await session.cleanup();
  await options.cleanup?.(backend);
  const closed = await backend.close();
  if (closed.isErr()) leftovers.push(`close: ${describeError(closed.error)}`);
  if (failure !== undefined) throw failure;
  if (leftovers.length > 0) throw new Error(`cleanup of the check's volumes failed: ${leftovers.join("; ")}`);
}

function describeError(e: VolkitError): string {
  return `${e.code}: ${e.message}`;
}

function pattern(bytes: number): Buffer {
  return randomBytes(bytes);
}

async function expectData(io: ConformanceIo, volume: Volume, expected: Buffer, what: string): Promise<void> {
  const actual = await io.read(volume, expected.length);
  expect(sha256(actual), `${what} holds the expected data`).toBe(sha256(expected));
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function isCapacity(value: unknown): value is Capacity {
  return value === "unknown" || value === "infinite" || (typeof value === "number" && Number.isFinite(value) && value >= 0);
}

/** Fails unless the stats have Cinder's required keys with valid values. */
function checkStatsShape(stats: VolumeStats, backendName: string): void {
  expect(stats.volumeBackendName, "volumeBackendName is the backend's name").toBe(backendName);
  for (const key of ["vendorName", "driverVersion", "storageProtocol"] as const) {
    expect(typeof stats[key] === "string" && stats[key].length > 0, `${key} is a non-empty string`).toBe(true);
  }
  expect(isCapacity(stats.totalCapacityGb), `totalCapacityGb is a number ≥ 0, 'unknown' or 'infinite' (got ${String(stats.totalCapacityGb)})`).toBe(true);
  expect(isCapacity(stats.freeCapacityGb), `freeCapacityGb is a number ≥ 0, 'unknown' or 'infinite' (got ${String(stats.freeCapacityGb)})`).toBe(true);
  if (typeof stats.totalCapacityGb === "number" && typeof stats.freeCapacityGb === "number") {
    expect(stats.freeCapacityGb, "free ≤ total").toBeLessThanOrEqual(stats.totalCapacityGb);
  }
  expect(stats.reservedPercentage >= 0 && stats.reservedPercentage <= 100, "reservedPercentage is 0-100").toBe(true);
  for (const key of ["onlineExtendSupport", "sparseCopyVolume", "sharedTargets"] as const) {
    expect(typeof stats[key], `${key} is a boolean`).toBe("boolean");
  }
  expect(Array.isArray(stats.pools) && stats.pools.length > 0, "pools is a non-empty array").toBe(true);
  const names = new Set<string>();
  for (const pool of stats.pools) {
    expect(typeof pool.poolName === "string" && pool.poolName.length > 0, "every pool has a name").toBe(true);
    names.add(pool.poolName);
    expect(isCapacity(pool.totalCapacityGb), `pool ${pool.poolName}: totalCapacityGb valid`).toBe(true);
    expect(isCapacity(pool.freeCapacityGb), `pool ${pool.poolName}: freeCapacityGb valid`).toBe(true);
    if (typeof pool.totalCapacityGb === "number" && typeof pool.freeCapacityGb === "number") {
      expect(pool.freeCapacityGb, `pool ${pool.poolName}: free ≤ total`).toBeLessThanOrEqual(pool.totalCapacityGb);
    }
    expect(pool.reservedPercentage >= 0 && pool.reservedPercentage <= 100, `pool ${pool.poolName}: reservedPercentage is 0-100`).toBe(true);
    for (const key of ["thinProvisioningSupport", "thickProvisioningSupport", "multiattach", "qosSupport"] as const) {
      expect(typeof pool[key], `pool ${pool.poolName}: ${key} is a boolean`).toBe("boolean");
    }
    expect(pool.thinProvisioningSupport || pool.thickProvisioningSupport, `pool ${pool.poolName} supports thin or thick volumes`).toBe(true);
    if (pool.provisionedCapacityGb !== undefined) {
      expect(Number.isFinite(pool.provisionedCapacityGb) && pool.provisionedCapacityGb >= 0, `pool ${pool.poolName}: provisionedCapacityGb ≥ 0`).toBe(true);
    }
    if (pool.totalVolumes !== undefined) {
      expect(Number.isInteger(pool.totalVolumes) && pool.totalVolumes >= 0, `pool ${pool.poolName}: totalVolumes is a count`).toBe(true);
    }
  }
  expect(names.size, "pool names are unique").toBe(stats.pools.length);
}

/** Sum of the pools' provisioned capacity, when every pool reports it. */
function provisioned(stats: VolumeStats): number | undefined {
  let sum = 0;
  for (const pool of stats.pools) {
    if (pool.provisionedCapacityGb === undefined) return undefined;
    sum += pool.provisionedCapacityGb;
  }
  return sum;
}

/** Sum of the pools' volume counts, when every pool reports one. */
function totalVolumes(stats: VolumeStats): number | undefined {
  let sum = 0;
  for (const pool of stats.pools) {
    if (pool.totalVolumes === undefined) return undefined;
    sum += pool.totalVolumes;
  }
  return sum;
}

function checkProvisionedGrowth(before: VolumeStats, after: VolumeStats, sizeGiB: number): void {
  const p0 = provisioned(before);
  const p1 = provisioned(after);
  if (p0 !== undefined && p1 !== undefined) {
    expect(p1 - p0, `provisioned capacity grows by at least ${sizeGiB} GiB after creating a ${sizeGiB} GiB volume`).toBeGreaterThanOrEqual(sizeGiB);
  }
}

/** The capacity-related part of the stats, compared before/after operations that must change nothing. */
function capacitySummary(stats: VolumeStats): unknown {
  return {
    free: stats.freeCapacityGb,
    pools: stats.pools.map((p) => ({ pool: p.poolName, free: p.freeCapacityGb, provisioned: p.provisionedCapacityGb, volumes: p.totalVolumes })),
  };
}
