import { randomUUID } from "node:crypto";
import type { ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { VolkitError } from "../core/errors.js";
import { ConnectionInfoSchema, VolumeSchema, type HostPropertiesInput, type Snapshot, type Volume } from "../core/records.js";
import type { VolumeBackend } from "../drivers/backend.js";
import type { DriverCapabilities, VolumeDriver } from "../drivers/volume-driver.js";
import { describeError, expectData, pattern, withSession, type Session } from "./conformance-session.js";
import { capacitySummary, checkProvisionedGrowth, checkStatsShape, provisioned, totalVolumes } from "./conformance-stats.js";

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
  /** The attaching host's properties used by the export/connection check (default: a fake host with an IQN). */
  readonly host?: HostPropertiesInput;
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

const DEFAULT_HOST: HostPropertiesInput = {
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
  const host = options.host ?? DEFAULT_HOST;
  const ioBytes = options.ioBytes ?? 1024 * 1024;
  const session = (fn: (s: Session) => Promise<void>) => () => withSession(options, fn);
  return {
    lifecycle: session(async (s) => {
      const caps = s.caps;
      const io = options.io;
      const stats0 = await s.ok("getVolumeStats", s.backend.getVolumeStats());
      const id = randomUUID();
      const a = await s.track(s.ok("createVolume", s.backend.createVolume({ id, sizeGiB: size, displayName: "volkit conformance" })));
      expect(a.id, "createVolume returns the requested id").toBe(id);
      expect(a.sizeGiB, "createVolume returns the requested size").toBe(size);
      expect(VolumeSchema.safeParse(a).success, "createVolume returns a valid Volume").toBe(true);
      const stats1 = await s.ok("getVolumeStats", s.backend.getVolumeStats());
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
      const before = await s.ok("getVolumeStats", s.backend.getVolumeStats());
      checkStatsShape(before, s.backend.name);
      const again = await s.ok("getVolumeStats(cached)", s.backend.getVolumeStats({ maxAgeMs: 60_000 }));
      checkStatsShape(again, s.backend.name);
      await s.createVolume(size + 1);
      const after = await s.ok("getVolumeStats", s.backend.getVolumeStats());
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
      const afterFirst = await s.ok("getVolumeStats", s.backend.getVolumeStats());
      const second = await s.call("createVolume (same id)", s.backend.createVolume({ id, sizeGiB: size }));
      if (second.isOk()) {
        expect(second.value.id, "a repeated create returns the same volume").toBe(first.id);
        expect(second.value.sizeGiB, "a repeated create returns the same volume").toBe(first.sizeGiB);
      } else {
        expect(second.error.code, `a repeated create fails with VOLUME_EXISTS (got ${describeError(second.error)})`).toBe("VOLUME_EXISTS");
      }
      const afterSecond = await s.ok("getVolumeStats", s.backend.getVolumeStats());
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
      const before = await s.ok("getVolumeStats", s.backend.getVolumeStats());
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
      const after = await s.ok("getVolumeStats", s.backend.getVolumeStats());
      expect(capacitySummary(after), "stats are unchanged after refused requests").toEqual(capacitySummary(before));
    }),

    missingSources: session(async (s) => {
      const before = await s.ok("getVolumeStats", s.backend.getVolumeStats());
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
      const after = await s.ok("getVolumeStats", s.backend.getVolumeStats());
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
      const created = await s.createVolume(size);
      const v = await s.ok("createExport", s.backend.createExport(created, host));
      expect(v.id, "createExport returns the whole volume record").toBe(created.id);
      expect(v.sizeGiB, "createExport keeps the volume's size").toBe(created.sizeGiB);
      expect(VolumeSchema.safeParse(v).success, "createExport returns a valid Volume").toBe(true);
      s.replace(v);
      const again = await s.ok("createExport (again)", s.backend.createExport(v, host));
      expect(again.providerLocation, "a repeated createExport keeps the export where it is").toBe(v.providerLocation);
      const state = await s.ok("describeExport", s.backend.describeExport(v));
      expect(typeof state.exported, "describeExport says whether the volume is exported").toBe("boolean");
      const first = await s.ok("initializeConnection", s.backend.initializeConnection(v, host));
      const parsed = ConnectionInfoSchema.safeParse(first);
      expect(parsed.success, `initializeConnection returns valid ConnectionInfo: ${parsed.success ? "" : parsed.error.message}`).toBe(true);
      expect(first.volumeId, "connection info names the volume").toBe(v.id);
      const second = await s.ok("initializeConnection (again)", s.backend.initializeConnection(v, host));
      expect(ConnectionInfoSchema.safeParse(second).success, "a repeated initializeConnection returns valid ConnectionInfo").toBe(true);
      expect(second.type, "a repeated initializeConnection returns the same transport").toBe(first.type);
      const ensured = await s.ok("ensureExport", s.backend.ensureExport(v));
      expect(ensured.id, "ensureExport returns the volume record").toBe(v.id);
      await s.ok("terminateConnection", s.backend.terminateConnection(v, host));
      await s.ok("terminateConnection (again)", s.backend.terminateConnection(v, host));
      await s.ok("terminateConnection (all hosts)", s.backend.terminateConnection(v));
      await s.ok("removeExport", s.backend.removeExport(v));
      await s.ok("removeExport (again)", s.backend.removeExport(v));
      await s.ok("deleteVolume after detach", s.backend.deleteVolume(v));
      s.forgetVolume(v);
    }),

    abort: session(async (s) => {
      const before = await s.ok("getVolumeStats", s.backend.getVolumeStats());
      const id = randomUUID();
      const aborted = await s.call("createVolume (aborted)", s.backend.createVolume({ id, sizeGiB: size }, { signal: AbortSignal.abort() }));
      expect(aborted.isErr() ? aborted.error.code : "ok", "an aborted signal fails with ABORTED").toBe("ABORTED");
      if (aborted.isOk()) s.remember(aborted.value);
      const late = await s.call("createVolume (past deadline)", s.backend.createVolume({ id, sizeGiB: size }, { deadline: Date.now() - 1 }));
      expect(late.isErr() ? late.error.code : "ok", "a past deadline fails with TIMEOUT").toBe("TIMEOUT");
      if (late.isOk()) s.remember(late.value);
      const after = await s.ok("getVolumeStats", s.backend.getVolumeStats());
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
