import { createHash } from "node:crypto";
import { GROUP_PREFIX, MAX_NAME_LENGTH } from "./ipsan-constants.js";

/**
 * Array object names derived deterministically from volkit ids, within the array's 31-character
 * limit, so a retried create finds the object the first attempt made.
 */

const md5 = (text: string): string => createHash("md5").update(text, "utf8").digest("hex");

/** Characters every array model accepts in a name. */
const SAFE_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * The LUN/snapshot name of a volume or snapshot id, the way Cinder's `huawei_utils.encode_name`
 * makes it: the id's first `-`-separated part, a `-`, then the MD5 hex of the whole id cut to fill
 * 31 characters (`21ec7341-` + 22 hex digits for a UUID). Identical to Cinder's names, so a
 * volume Cinder created is found by the same name.
 */
export function arrayObjectName(id: string): string {
  const prefix = `${id.split("-")[0] ?? ""}-`.slice(0, MAX_NAME_LENGTH - 8);
  return prefix + md5(id).slice(0, MAX_NAME_LENGTH - prefix.length);
}

/**
 * The host object name of a host (Cinder's `encode_host_name`): the name itself when it is short
 * and safe, else the first 31 hex digits of its MD5.
 */
export function arrayHostName(host: string): string {
  return host.length <= MAX_NAME_LENGTH && SAFE_NAME.test(host) ? host : md5(host).slice(0, MAX_NAME_LENGTH);
}

/** Names of the per-host groups and view, as Cinder names them (`OpenStack_HostGroup_<hostId>` …). */
export function perHostGroupNames(hostId: string): { hostGroup: string; lunGroup: string; mappingView: string; portGroup: string } {
  return {
    hostGroup: `${GROUP_PREFIX.hostGroup}${hostId}`,
    lunGroup: `${GROUP_PREFIX.lunGroup}${hostId}`,
    mappingView: `${GROUP_PREFIX.mappingView}${hostId}`,
    portGroup: `${GROUP_PREFIX.portGroup}${hostId}`,
  };
}

/** The LUN name of a volume (Cinder's `encode_name(volume.id)`). */
export function lunNameOf(volumeId: string): string {
  return arrayObjectName(volumeId);
}

/** The snapshot name of a snapshot (Cinder's `encode_name(snapshot.id)`). */
export function snapshotNameOf(snapshotId: string): string {
  return arrayObjectName(snapshotId);
}

/**
 * The temporary snapshot a clone of a volume is copied from, named after the NEW volume's id so a
 * retried clone (or the delete of a half-made clone) finds the one an earlier attempt left.
 */
export function cloneSnapshotNameOf(newVolumeId: string): string {
  return arrayObjectName(`clone-${newVolumeId}`);
}

/** The LUN copy task that fills a volume (Cinder names it like the volume's LUN). */
export function lunCopyNameOf(volumeId: string): string {
  return arrayObjectName(volumeId);
}

/**
 * The QoS policy of one LUN (deterministic, so a retry finds the policy an earlier attempt made):
 * `OpenStack_<lun id>_volkit`, or `OpenStack_<lun id>` where a very long id leaves no room.
 */
export function qosNameOf(lunId: string): string {
  const name = `${GROUP_PREFIX.qos}${lunId}_volkit`;
  return name.length <= MAX_NAME_LENGTH ? name : `${GROUP_PREFIX.qos}${lunId}`;
}

/**
 * Marks a volkit LUN in its description: `volkit:<volume id>`, `:copying` until its data is
 * complete, `;was=<name>` after a manage, `;unmap=<host id>,…` while hosts are being unmapped.
 */
const MARKER = /^volkit:([A-Za-z0-9][A-Za-z0-9_-]{0,63})(:copying)?(?:;was=([A-Za-z0-9_.-]{1,31}))?(?:;unmap=(\d{1,20}(?:,\d{1,20})*))?$/;

/** Room for the `;unmap=` list within the array's description limit. */
const MAX_DESCRIPTION = 170;

/** What a LUN's description says about it. */
export interface LunMarker {
  /** The volkit volume id the LUN belongs to. */
  readonly volumeId: string;
  /** A copy into it was started and not finished (a crashed or failed create). */
  readonly copying: boolean;
  /** The name it had before `manageExisting` renamed it. */
  readonly managedFrom?: string;
  /**
   * Array host ids whose mapping of this LUN is being taken down: written before the LUN leaves
   * their groups, so a retry after a crash still finds those hosts (the LUN no longer leads there).
   */
  readonly unmapping?: readonly string[];
}

/** The description of a volkit LUN (the unmap list is cut to what fits in 170 characters). */
export function lunDescription(marker: LunMarker): string {
  const base = `volkit:${marker.volumeId}${marker.copying ? ":copying" : ""}${marker.managedFrom === undefined ? "" : `;was=${marker.managedFrom}`}`;
  const ids = [...(marker.unmapping ?? [])];
  while (ids.length > 0 && base.length + ";unmap=".length + ids.join(",").length > MAX_DESCRIPTION) ids.pop();
  return ids.length === 0 ? base : `${base};unmap=${ids.join(",")}`;
}

/** Reads a LUN's description; undefined when it is not a volkit LUN. */
export function parseLunDescription(description: string): LunMarker | undefined {
  const m = MARKER.exec(description);
  if (!m?.[1]) return undefined;
  return {
    volumeId: m[1],
    copying: m[2] !== undefined,
    ...(m[3] === undefined ? {} : { managedFrom: m[3] }),
    ...(m[4] === undefined ? {} : { unmapping: m[4].split(",") }),
  };
}

/** Whether a group or policy name is one volkit (or Cinder) made, so volkit may tear it down. */
export function isOwnedGroupName(name: string, kind: keyof typeof GROUP_PREFIX): boolean {
  return name.startsWith(GROUP_PREFIX[kind]);
}
