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
