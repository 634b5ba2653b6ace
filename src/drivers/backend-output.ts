import { err, ok, type Result } from "neverthrow";
import type { z } from "zod";
import { VolkitError } from "../core/errors.js";
import {
  ConnectionInfoSchema,
  ModelUpdateSchema,
  PoolStatsSchema,
  SnapshotSchema,
  VolumeSchema,
  type Capacity,
  type ConnectionInfo,
  type PoolStats,
  type Snapshot,
  type Volume,
  type VolumeStats,
} from "../core/records.js";
import type { VolumeDriver } from "./volume-driver.js";

/**
 * The runtime's checks of what a driver returns. A driver that returns something callers cannot
 * use (an invalid record, another volume's record, a wrong size) has a bug: the runtime reports it
 * as `INTERNAL` naming the driver and the operation, and never hands the value out.
 */
export class DriverOutput {
  constructor(
    private readonly driver: VolumeDriver,
    private readonly backendName: string,
  ) {}

  /** A driver bug: the driver returned something the runtime cannot hand to callers. */
  bug(operation: string, message: string, details?: Record<string, unknown>): VolkitError {
    return new VolkitError("INTERNAL", `driver ${this.driver.driverName}: ${operation} returned ${message}`, {
      source: this.backendName,
      details: { driver: this.driver.driverName, operation, ...details },
    });
  }

  #parse<S extends z.ZodType>(schema: S, value: unknown, operation: string, what: string): Result<z.output<S>, VolkitError> {
    const parsed = schema.safeParse(value);
    if (parsed.success) return ok(parsed.data);
    return err(this.bug(operation, what, { issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) }));
  }

  /** A volume record for `expectedId` (and `expectedSizeGiB` when given). */
  volume(operation: string, value: unknown, expectedId: string, expectedSizeGiB?: number): Result<Volume, VolkitError> {
    return this.#parse(VolumeSchema, value, operation, "an invalid volume record").andThen((v) => {
      if (v.id !== expectedId) return err(this.bug(operation, `volume ${v.id}, not its own volume ${expectedId}`, { expectedId, returnedId: v.id }));
      if (expectedSizeGiB !== undefined && v.sizeGiB !== expectedSizeGiB) {
        return err(this.bug(operation, `volume ${expectedId} with ${v.sizeGiB} GiB, but ${expectedSizeGiB} GiB was requested`, { expectedSizeGiB, returnedSizeGiB: v.sizeGiB }));
      }
      return ok(v);
    });
  }

  /** A snapshot record for `expectedId` of volume `expectedVolumeId`. */
  snapshot(value: unknown, expectedId: string, expectedVolumeId: string): Result<Snapshot, VolkitError> {
    return this.#parse(SnapshotSchema, value, "createSnapshot", "an invalid snapshot record").andThen((s) =>
      s.id !== expectedId || s.volumeId !== expectedVolumeId
        ? err(this.bug("createSnapshot", `snapshot ${s.id} of volume ${s.volumeId}, not its own snapshot ${expectedId} of volume ${expectedVolumeId}`, { expectedId, returnedId: s.id }))
        : ok(s),
    );
  }

  /** The volume with a driver's model update merged in. */
  exported(operation: string, volume: Volume, update: unknown): Result<Volume, VolkitError> {
    return this.#parse(ModelUpdateSchema, update, operation, "an invalid model update").andThen((u) => this.volume(operation, { ...volume, ...u }, volume.id));
  }

  /** Connection info of volume `volumeId`, parsed (defaults applied, portals normalized). */
  connection(value: unknown, volumeId: string): Result<ConnectionInfo, VolkitError> {
    return this.#parse(ConnectionInfoSchema, value, "initializeConnection", `connection info for volume ${volumeId} that is not a valid ConnectionInfo`).andThen((info) =>
      info.volumeId !== volumeId
        ? err(this.bug("initializeConnection", `connection info of volume ${info.volumeId}, not of volume ${volumeId}`, { expectedId: volumeId, returnedId: info.volumeId }))
        : ok(info),
    );
  }

  /** The driver's pools, parsed, with unique names; then the stats header from its capabilities. */
  stats(value: unknown, updatedAt: number): Result<VolumeStats, VolkitError> {
    if (!Array.isArray(value) || value.length === 0) return err(this.bug("getPoolStats", "no pools"));
    const pools: PoolStats[] = [];
    for (const [i, raw] of value.entries()) {
      const parsed = this.#parse(PoolStatsSchema, raw, "getPoolStats", `an invalid pool (#${i})`);
      if (parsed.isErr()) return err(parsed.error);
      pools.push(parsed.value);
    }
    if (new Set(pools.map((p) => p.poolName)).size !== pools.length) return err(this.bug("getPoolStats", "two pools with the same name"));
    const caps = this.driver.capabilities;
    // Totals over the pools that answer: one share down must not make the whole backend "unknown".
    const up = pools.filter((p) => p.backendState === "up");
    const provisioned = up.length > 0 && up.every((p) => p.provisionedCapacityGiB !== undefined) ? round2(up.reduce((sum, p) => sum + (p.provisionedCapacityGiB ?? 0), 0)) : undefined;
    return ok({
      volumeBackendName: this.backendName,
      vendorName: this.driver.vendorName,
      driverVersion: this.driver.driverVersion,
      storageProtocol: caps.protocol,
      totalCapacityGiB: up.length > 0 ? sumCapacity(up.map((p) => p.totalCapacityGiB)) : "unknown",
      freeCapacityGiB: up.length > 0 ? sumCapacity(up.map((p) => p.freeCapacityGiB)) : "unknown",
      ...(provisioned === undefined ? {} : { provisionedCapacityGiB: provisioned }),
      onlineExtendSupport: caps.onlineExtend,
      sparseCopyVolume: caps.sparseCopy,
      sharedTargets: caps.sharedTargets,
      thinProvisioningSupport: pools.some((p) => p.thinProvisioningSupport),
      thickProvisioningSupport: pools.some((p) => p.thickProvisioningSupport),
      multiattach: caps.multiattach,
      qosSupport: caps.qos,
      pools,
      updatedAt,
    });
  }
}

/** Sums capacities: any `infinite` makes the sum infinite, else any `unknown` makes it unknown. */
export function sumCapacity(values: readonly Capacity[]): Capacity {
  if (values.includes("infinite")) return "infinite";
  if (values.includes("unknown")) return "unknown";
  return round2(values.reduce<number>((sum, v) => sum + (v as number), 0));
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
