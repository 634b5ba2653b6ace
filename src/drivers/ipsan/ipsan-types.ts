import { z } from "zod";
import { ALLOC_TYPE, SECTOR_BYTES } from "./ipsan-constants.js";

/**
 * zod schemas of the array's response bodies. The array sends numbers as strings (`"CAPACITY":
 * "2097152"`) and booleans as `"true"`/`"false"`; each schema accepts both spellings, keeps unknown
 * fields out of the typed record, and turns the upper-case dialect names into camelCase fields.
 */

/** A decimal integer, sent as a number or a string. */
export const ArrayIntSchema = z.union([z.number().int(), z.string().regex(/^-?\d+$/)]).transform(Number);

/** An id or other scalar the array may send as a number: always a string here. */
const ArrayStr = z.union([z.string(), z.number()]).transform(String);

/** `"true"`/`"false"` (or a real boolean). */
const ArrayBool = z.union([z.boolean(), z.enum(["true", "false"])]).transform((v) => v === true || v === "true");

/** A field arrays omit on some models: an empty string when absent. */
const optStr = ArrayStr.optional().transform((v) => v ?? "");

/** The envelope of every answer: `{ data?, error: { code, description } }`. */
export const ArrayResponseSchema = z.looseObject({
  error: z.looseObject({ code: ArrayIntSchema, description: z.string().optional() }),
  data: z.unknown().optional(),
});

/** A parsed envelope. */
export type ArrayResponse = z.output<typeof ArrayResponseSchema>;

/** The login answer of `POST <url>xx/sessions`. */
export const SessionSchema = z
  .looseObject({ deviceid: ArrayStr, iBaseToken: ArrayStr, accountstate: ArrayIntSchema.optional() })
  .transform((r) => ({ deviceId: r.deviceid, token: r.iBaseToken, accountState: r.accountstate }));

/** What a login returns. */
export type SessionInfo = z.output<typeof SessionSchema>;

/** `{ COUNT }` of `…/count` queries. */
export const CountSchema = z.looseObject({ COUNT: ArrayIntSchema }).transform((r) => r.COUNT);

/** `{ ID }`: what most creates return at least. */
export const IdOnlySchema = z.looseObject({ ID: ArrayStr }).transform((r) => r.ID);

/** A storage pool (type 216). Capacities in 512-byte sectors. */
export const PoolSchema = z
  .looseObject({
    ID: ArrayStr,
    NAME: z.string(),
    USERTOTALCAPACITY: ArrayIntSchema.optional(),
    USERFREECAPACITY: ArrayIntSchema.optional(),
    DATASPACE: ArrayIntSchema.optional(),
    USERCONSUMEDCAPACITY: ArrayIntSchema.optional(),
    USAGETYPE: optStr,
    HEALTHSTATUS: optStr,
    RUNNINGSTATUS: optStr,
  })
  .transform((r) => ({
    id: r.ID,
    name: r.NAME,
    totalSectors: r.USERTOTALCAPACITY ?? 0,
    // Cinder prefers DATASPACE (free data space) over USERFREECAPACITY when the array sends it.
    freeSectors: r.DATASPACE ?? r.USERFREECAPACITY ?? 0,
    usedSectors: r.USERCONSUMEDCAPACITY ?? Math.max(0, (r.USERTOTALCAPACITY ?? 0) - (r.USERFREECAPACITY ?? 0)),
    /** `1` block pool, `2` file-system pool (Cinder skips the latter). */
    usageType: r.USAGETYPE,
    healthStatus: r.HEALTHSTATUS,
    runningStatus: r.RUNNINGSTATUS,
  }));

/** A storage pool. */
export type PoolInfo = z.output<typeof PoolSchema>;

/** A LUN (type 11). */
export const LunSchema = z
  .looseObject({
    ID: ArrayStr,
    NAME: z.string(),
    WWN: optStr,
    DESCRIPTION: optStr,
    PARENTID: optStr,
    PARENTNAME: optStr,
    ALLOCTYPE: ArrayIntSchema.optional(),
    CAPACITY: ArrayIntSchema,
    ALLOCCAPACITY: ArrayIntSchema.optional(),
    HEALTHSTATUS: optStr,
    RUNNINGSTATUS: optStr,
    IOCLASSID: optStr,
    ISADD2LUNGROUP: ArrayBool.optional(),
    LUNCOPYIDS: optStr,
    ISCLONE: ArrayBool.optional(),
    CLONESOURCEID: optStr,
  })
  .transform((r) => ({
    id: r.ID,
    name: r.NAME,
    wwn: r.WWN,
    description: r.DESCRIPTION,
    poolId: r.PARENTID,
    poolName: r.PARENTNAME,
    allocType: r.ALLOCTYPE === ALLOC_TYPE.thin ? ("thin" as const) : ("thick" as const),
    capacitySectors: r.CAPACITY,
    capacityBytes: r.CAPACITY * SECTOR_BYTES,
    allocatedSectors: r.ALLOCCAPACITY,
    healthStatus: r.HEALTHSTATUS,
    runningStatus: r.RUNNINGSTATUS,
    /** QoS policy the LUN belongs to ("" when none). */
    qosId: r.IOCLASSID,
    inLunGroup: r.ISADD2LUNGROUP ?? false,
    /** LUN copy tasks using this LUN (`LUNCOPYIDS` is a bracketed list like `["3"]`). */
    lunCopyIds: parseIdList(r.LUNCOPYIDS),
    isClone: r.ISCLONE ?? false,
    /** The LUN or snapshot a (not yet split) clone LUN depends on ("" when none). */
    cloneSourceId: r.CLONESOURCEID,
  }));

/** A LUN. */
export type LunInfo = z.output<typeof LunSchema>;

/** A LUN snapshot (type 27). */
export const SnapshotSchema = z
  .looseObject({
    ID: ArrayStr,
    NAME: z.string(),
    WWN: optStr,
    DESCRIPTION: optStr,
    PARENTID: optStr,
    PARENTNAME: optStr,
    USERCAPACITY: ArrayIntSchema.optional(),
    HEALTHSTATUS: optStr,
    RUNNINGSTATUS: optStr,
    EXPOSEDTOINITIATOR: ArrayBool.optional(),
    ROLLBACKRATE: optStr,
    ROLLBACKENDTIME: optStr,
  })
  .transform((r) => ({
    id: r.ID,
    name: r.NAME,
    wwn: r.WWN,
    description: r.DESCRIPTION,
    /** Source LUN. */
    lunId: r.PARENTID,
    lunName: r.PARENTNAME,
    capacitySectors: r.USERCAPACITY ?? 0,
    healthStatus: r.HEALTHSTATUS,
    runningStatus: r.RUNNINGSTATUS,
    exposedToInitiator: r.EXPOSEDTOINITIATOR ?? false,
    /** Rollback progress in percent ("" when none ran). */
    rollbackRate: r.ROLLBACKRATE,
    /** Epoch seconds a rollback ended, `-1` while none ended. */
    rollbackEndTime: r.ROLLBACKENDTIME,
  }));

/** A snapshot. */
export type SnapshotInfo = z.output<typeof SnapshotSchema>;

/** A LUN copy task (type 219). */
export const LunCopySchema = z
  .looseObject({
    ID: ArrayStr,
    NAME: z.string(),
    HEALTHSTATUS: optStr,
    RUNNINGSTATUS: optStr,
    COPYPROGRESS: ArrayIntSchema.optional(),
    COPYSPEED: optStr,
    SOURCELUN: optStr,
    TARGETLUN: optStr,
  })
  .transform((r) => ({
    id: r.ID,
    name: r.NAME,
    healthStatus: r.HEALTHSTATUS,
    runningStatus: r.RUNNINGSTATUS,
    /** Percent done. */
    progress: r.COPYPROGRESS ?? 0,
    speed: r.COPYSPEED,
    sourceLun: r.SOURCELUN,
    targetLun: r.TARGETLUN,
  }));

/** A LUN copy task. */
export type LunCopyInfo = z.output<typeof LunCopySchema>;

/** A clone pair (Dorado V6 `/clonepair`). Field names are camelCase on the array already. */
export const ClonePairSchema = z
  .looseObject({ ID: ArrayStr, copyStatus: optStr, syncStatus: optStr, copyRate: optStr, sourceID: optStr, targetID: optStr, syncProgress: optStr })
  .transform((r) => ({
    id: r.ID,
    copyStatus: r.copyStatus,
    syncStatus: r.syncStatus,
    sourceId: r.sourceID,
    targetId: r.targetID,
    progress: r.syncProgress === "" ? 0 : Number(r.syncProgress),
  }));

/** A clone pair. */
export type ClonePairInfo = z.output<typeof ClonePairSchema>;

/** A QoS policy (`ioclass`, type 230). Limits are `""` when unset. */
export const QosSchema = z
  .looseObject({
    ID: ArrayStr,
    NAME: z.string(),
    RUNNINGSTATUS: optStr,
    ENABLESTATUS: optStr,
    LUNLIST: optStr,
    IOTYPE: optStr,
    MAXIOPS: optStr,
    MINIOPS: optStr,
    MAXBANDWIDTH: optStr,
    MINBANDWIDTH: optStr,
    LATENCY: optStr,
  })
  .transform((r) => ({
    id: r.ID,
    name: r.NAME,
    runningStatus: r.RUNNINGSTATUS,
    /** LUN ids in the policy (`LUNLIST` is a JSON list in a string). */
    lunIds: parseIdList(r.LUNLIST),
    ioType: r.IOTYPE,
    maxIops: r.MAXIOPS,
    minIops: r.MINIOPS,
    maxBandwidth: r.MAXBANDWIDTH,
    minBandwidth: r.MINBANDWIDTH,
    latency: r.LATENCY,
  }));

/** A QoS policy. */
export type QosInfo = z.output<typeof QosSchema>;

/** The array itself (`GET /system/`). */
export const SystemSchema = z
  .looseObject({ ID: optStr, NAME: optStr, PRODUCTVERSION: optStr, PRODUCTMODE: optStr, wwn: optStr, HEALTHSTATUS: optStr, RUNNINGSTATUS: optStr })
  .transform((r) => ({
    id: r.ID,
    name: r.NAME,
    productVersion: r.PRODUCTVERSION,
    productMode: r.PRODUCTMODE,
    wwn: r.wwn,
    healthStatus: r.HEALTHSTATUS,
    runningStatus: r.RUNNINGSTATUS,
  }));

/** The array's identity. */
export type SystemInfo = z.output<typeof SystemSchema>;

/**
 * Ids out of the array's bracketed list strings: `["3","4"]` (JSON) or `[3,4]`; `[]` and `""` are
 * empty. Anything else yields no ids rather than a parse failure (these fields are informative).
 */
export function parseIdList(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed === "[]" || trimmed === '[""]') return [];
  const inner = trimmed.startsWith("[") && trimmed.endsWith("]") ? trimmed.slice(1, -1) : trimmed;
  return inner
    .split(",")
    .map((s) => s.trim().replace(/^"|"$/g, ""))
    .filter((s) => s !== "");
}
