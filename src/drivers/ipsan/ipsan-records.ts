import type { SnapshotInput, VolumeInput } from "../../core/records.js";
import { SECTORS_PER_GIB } from "./ipsan-constants.js";
import type { LunInfo, SnapshotInfo } from "./ipsan-types.js";
import { parseJson } from "../../core/parse-json.js";

/**
 * What the driver writes into volkit's records: `providerLocation` as Cinder's Huawei driver
 * writes it (`{"huawei_lun_id": …, "huawei_lun_wwn": …}`), so records of either can be read by the
 * other, and `providerId` = the array object id.
 */

/** The record of a volume backed by `lun`. */
export function volumeRecordOf<S extends { readonly id: string; readonly sizeGiB: number }>(spec: S, lun: Pick<LunInfo, "id" | "wwn">): S & Pick<VolumeInput, "providerLocation" | "providerId"> {
  return { ...spec, providerLocation: JSON.stringify({ huawei_lun_id: lun.id, huawei_lun_wwn: lun.wwn }), providerId: lun.id };
}

/** The record of a snapshot backed by `snap`. */
export function snapshotRecordOf<S extends { readonly id: string }>(spec: S, snap: Pick<SnapshotInfo, "id" | "wwn">): S & Pick<SnapshotInput, "providerLocation" | "providerId"> {
  return { ...spec, providerLocation: JSON.stringify({ huawei_snapshot_id: snap.id, huawei_snapshot_wwn: snap.wwn }), providerId: snap.id };
}

/** Object id and WWN a record's `providerLocation` names, when it is one of ours (never throws). */
export function locationOf(providerLocation: string | undefined): { readonly id: string; readonly wwn: string } | undefined {
  if (providerLocation === undefined) return undefined;
  const parsed = parseJson(providerLocation, { what: "providerLocation", source: "ipsan" }).unwrapOr(undefined);
  if (parsed === null || typeof parsed !== "object") return undefined;
  const o = parsed as Record<string, unknown>;
  const id = o.huawei_lun_id ?? o.huawei_snapshot_id;
  const wwn = o.huawei_lun_wwn ?? o.huawei_snapshot_wwn;
  return typeof id === "string" && /^\d{1,20}$/.test(id) && typeof wwn === "string" ? { id, wwn } : undefined;
}

/** Whole GiB to sectors. */
export function sectorsOfGiB(gib: number): number {
  return gib * SECTORS_PER_GIB;
}

/** Sectors to GiB, rounded up. */
export function gibCeilOfSectors(sectors: number): number {
  return Math.ceil(sectors / SECTORS_PER_GIB);
}
