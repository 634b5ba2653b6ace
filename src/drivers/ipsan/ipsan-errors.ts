import { type ErrorCode, VolkitError } from "../../core/errors.js";

/** Where an entry of {@link ARRAY_ERRORS} comes from. */
export type ArrayErrorProvenance =
  /** Cinder's `huawei/constants.py` (Debian python3-cinder 21.3). */
  | "cinder"
  /** Huawei's own Cinder driver (github.com/Huawei/OpenStack_Driver, constants.py, 2024). */
  | "huawei-cinder"
  /** Huawei's CSI / eSDK clients of the same REST API. */
  | "huawei-csi"
  /** Not found in any public client: the number volkit's array simulator returns. */
  | "simulator";

/** One array error code and what it means to volkit. */
export interface ArrayErrorSpec {
  /** The number in `error.code`. */
  readonly code: number;
  /** The volkit code it maps to (some are refined by the object kind, see {@link toVolkitCode}). */
  readonly volkit: ErrorCode;
  /** A retry of the same call may succeed. */
  readonly transient?: boolean;
  /** The session is gone: log in again and repeat the call once. */
  readonly relogin?: boolean;
  /** Where the number comes from. */
  readonly provenance: ArrayErrorProvenance;
  /** What the array means by it. */
  readonly meaning: string;
}

/**
 * Every array error code the client knows, by the name Huawei's drivers give it. Codes not listed
 * map to `COMMAND_FAILED`; the array's code and description are always kept in the error's
 * `details` (`arrayCode`, `arrayDescription`).
 */
export const ARRAY_ERRORS = {
  // Session and transport.
  UNAUTHORIZED: { code: -401, volkit: "AUTH_FAILED", relogin: true, provenance: "cinder", meaning: "session token unknown or expired" },
  CONNECT_TO_SERVER: { code: -403, volkit: "BACKEND_UNAVAILABLE", relogin: true, transient: true, provenance: "cinder", meaning: "cannot reach the array (Cinder's own code for a failed request)" },
  DEVICE_COMMUNICATE: { code: 4294967297, volkit: "BACKEND_UNAVAILABLE", relogin: true, transient: true, provenance: "huawei-cinder", meaning: "controller communication error" },
  USER_OFFLINE: { code: 1077949069, volkit: "AUTH_FAILED", relogin: true, provenance: "huawei-csi", meaning: "the user is offline (session ended by the array)" },
  LOGIN_FAILED: { code: 1077949061, volkit: "AUTH_FAILED", provenance: "huawei-csi", meaning: "user name or password incorrect" },
  LOGIN_FAILED_WITH_ARG: { code: 1077987870, volkit: "AUTH_FAILED", provenance: "huawei-csi", meaning: "user name or password incorrect" },
  PASSWORD_WRONG: { code: 1077949081, volkit: "AUTH_FAILED", provenance: "huawei-csi", meaning: "password incorrect" },
  ACCOUNT_LOCKED: { code: 1077949070, volkit: "AUTH_FAILED", provenance: "huawei-csi", meaning: "account locked" },
  IP_LOCKED: { code: 1077949071, volkit: "AUTH_FAILED", provenance: "huawei-csi", meaning: "client IP locked after failed logins" },
  MESSAGE_TIMEOUT: { code: 1077949001, volkit: "BACKEND_UNAVAILABLE", transient: true, provenance: "huawei-cinder", meaning: "the array timed out processing the request (it may have been applied)" },
  SYSTEM_BUSY: { code: 16797698, volkit: "BACKEND_UNAVAILABLE", transient: true, provenance: "huawei-csi", meaning: "system busy, retry later" },
  // Generic object codes.
  PARAMETER_ERROR: { code: 50331651, volkit: "INVALID_ARGUMENT", provenance: "huawei-cinder", meaning: "a request parameter is invalid" },
  OBJECT_NAME_ALREADY_EXIST: { code: 1077948993, volkit: "VOLUME_EXISTS", provenance: "cinder", meaning: "an object with this name already exists" },
  OBJECT_ID_NOT_UNIQUE: { code: 1077948997, volkit: "VOLUME_EXISTS", provenance: "huawei-cinder", meaning: "an object with this id already exists" },
  OBJECT_NOT_EXIST: { code: 1077948996, volkit: "VOLUME_NOT_FOUND", provenance: "huawei-cinder", meaning: "the object does not exist" },
  // LUNs and snapshots.
  VOLUME_NOT_EXIST: { code: 1077939726, volkit: "VOLUME_NOT_FOUND", provenance: "cinder", meaning: "the LUN does not exist" },
  LUN_NOT_EXIST: { code: 1077936859, volkit: "VOLUME_NOT_FOUND", provenance: "huawei-cinder", meaning: "the LUN does not exist" },
  SNAPSHOT_NOT_EXIST: { code: 1077937880, volkit: "SNAPSHOT_NOT_FOUND", provenance: "huawei-cinder", meaning: "the snapshot does not exist" },
  SNAPSHOT_NOT_ACTIVATED: { code: 1077937891, volkit: "INVALID_STATE", provenance: "huawei-csi", meaning: "the snapshot is not activated" },
  LUNCOPY_NOT_EXIST: { code: 50338560, volkit: "VOLUME_NOT_FOUND", provenance: "huawei-cinder", meaning: "the LUN copy does not exist" },
  LUNCOPY_NOT_EXIST_CSI: { code: 1077950183, volkit: "VOLUME_NOT_FOUND", provenance: "huawei-csi", meaning: "the LUN copy does not exist (code used by Huawei's CSI)" },
  LUNCOPY_ALREADY_STOPPED: { code: 1077950178, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the LUN copy is already stopped" },
  LUNCOPY_COMPLETED: { code: 1077950180, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the LUN copy has completed" },
  CLONE_PAIR_NOT_EXIST: { code: 1073798147, volkit: "VOLUME_NOT_FOUND", provenance: "cinder", meaning: "the clone pair does not exist" },
  CLONE_PAIR_SYNC_COMPLETE: { code: 1073798176, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the clone split has completed" },
  CLONE_PAIR_SYNC_NOT_EXIST: { code: 1073798172, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "no clone split is running" },
  NO_SPLITMIRROR_LICENSE: { code: 1077950233, volkit: "NOT_SUPPORTED", provenance: "cinder", meaning: "no SplitMirror license" },
  NO_MIGRATION_LICENSE: { code: 1073806606, volkit: "NOT_SUPPORTED", provenance: "cinder", meaning: "no SmartMigration license" },
  // Hosts, groups, mapping views.
  HOST_NOT_EXIST: { code: 1077937498, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the host does not exist" },
  HOSTGROUP_NOT_EXIST: { code: 1077937500, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the host group does not exist" },
  PORTGROUP_NOT_EXIST: { code: 1077951832, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the port group does not exist" },
  MAPPINGVIEW_NOT_EXIST: { code: 1077951819, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the mapping view does not exist" },
  HOST_ALREADY_IN_HOSTGROUP: { code: 1077937501, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the host is already in the host group" },
  HOST_NOT_IN_HOSTGROUP: { code: 1073745412, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the host is not in the host group" },
  LUN_ALREADY_IN_LUNGROUP: { code: 1077936862, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the LUN is already in the LUN group" },
  PORT_ALREADY_IN_PORTGROUP: { code: 1077951833, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the port is already in the port group" },
  PORT_NOT_IN_PORTGROUP: { code: 1073807618, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the port is not in the port group" },
  INITIATOR_NOT_IN_HOST: { code: 1077950342, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the initiator is not in a host" },
  HOSTGROUP_NOT_IN_MAPPINGVIEW: { code: 1073804552, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the host group is not in the mapping view" },
  PORTGROUP_NOT_IN_MAPPINGVIEW: { code: 1073804553, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the port group is not in the mapping view" },
  LUNGROUP_NOT_IN_MAPPINGVIEW: { code: 1073804554, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the LUN group is not in the mapping view" },
  HOSTGROUP_ALREADY_IN_MAPPINGVIEW: { code: 1073804556, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the host group is already in the mapping view" },
  PORTGROUP_ALREADY_IN_MAPPINGVIEW: { code: 1073804558, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the port group is already in the mapping view" },
  LUNGROUP_ALREADY_IN_MAPPINGVIEW: { code: 1073804560, volkit: "INVALID_STATE", provenance: "huawei-cinder", meaning: "the LUN group is already in the mapping view" },
  // Conditions every array refuses but no public client names: numbers of volkit's simulator.
  LUN_IN_LUNGROUP: { code: 1077936866, volkit: "VOLUME_BUSY", provenance: "simulator", meaning: "the LUN is in a LUN group (mapped) and cannot be deleted" },
  LUN_HAS_SNAPSHOTS: { code: 1077937896, volkit: "VOLUME_BUSY", provenance: "simulator", meaning: "the LUN has snapshots and cannot be deleted" },
  OBJECT_IN_COPY_TASK: { code: 1077950190, volkit: "VOLUME_BUSY", provenance: "simulator", meaning: "the LUN or snapshot is used by a LUN copy, clone or rollback" },
  POOL_INSUFFICIENT_CAPACITY: { code: 1077949002, volkit: "INSUFFICIENT_CAPACITY", provenance: "simulator", meaning: "the storage pool has not enough free capacity" },
  CLONE_DEPTH_EXCEEDED: { code: 1073798190, volkit: "INVALID_STATE", provenance: "simulator", meaning: "the clone would exceed the array's clone depth limit" },
  CAPACITY_NOT_LARGER: { code: 1077936870, volkit: "INVALID_ARGUMENT", provenance: "simulator", meaning: "the new capacity is not larger than the current one" },
  OBJECT_IN_USE: { code: 1077948995, volkit: "INVALID_STATE", provenance: "simulator", meaning: "the object is still associated (group in a view, host with initiators…)" },
  INITIATOR_IN_OTHER_HOST: { code: 1077950345, volkit: "INVALID_STATE", provenance: "simulator", meaning: "the initiator already belongs to another host" },
} as const satisfies Record<string, ArrayErrorSpec>;

/** A name of {@link ARRAY_ERRORS}. */
export type ArrayErrorName = keyof typeof ARRAY_ERRORS;

const BY_CODE = new Map<number, { readonly name: ArrayErrorName; readonly spec: ArrayErrorSpec }>(
  (Object.entries(ARRAY_ERRORS) as [ArrayErrorName, ArrayErrorSpec][]).map(([name, spec]) => [spec.code, { name, spec }]),
);

/** The table entry of an array error code, if the client knows it. */
export function arrayErrorSpec(code: number): { readonly name: ArrayErrorName; readonly spec: ArrayErrorSpec } | undefined {
  return BY_CODE.get(code);
}

/** The kind of array object a request is about; refines generic "exists"/"not found" codes. */
export type ArrayObjectKind =
  | "session"
  | "lun"
  | "snapshot"
  | "lunCopy"
  | "clonePair"
  | "pool"
  | "host"
  | "hostGroup"
  | "lunGroup"
  | "portGroup"
  | "mappingView"
  | "initiator"
  | "port"
  | "qos"
  | "system";

const VOLUME_KINDS: ReadonlySet<ArrayObjectKind> = new Set(["lun", "lunCopy", "clonePair"]);

/**
 * The volkit code of an array error about an object of `kind`: the generic "object exists" and
 * "object does not exist" codes become `SNAPSHOT_*` for snapshots, `VOLUME_*` for LUNs and copies,
 * and `INVALID_STATE` (not found) for hosts, groups and views (something changed them under us).
 */
export function toVolkitCode(code: number, kind: ArrayObjectKind): ErrorCode {
  const entry = BY_CODE.get(code);
  if (!entry) return "COMMAND_FAILED";
  const generic = entry.spec.volkit;
  if (generic === "VOLUME_EXISTS" && kind === "snapshot") return "SNAPSHOT_EXISTS";
  if (generic === "VOLUME_NOT_FOUND") {
    if (kind === "snapshot") return "SNAPSHOT_NOT_FOUND";
    if (!VOLUME_KINDS.has(kind)) return "INVALID_STATE";
  }
  return generic;
}

/** What a failed REST call was. */
export interface RestCallInfo {
  /** HTTP method. */
  readonly method: string;
  /** Path below the device base URL, e.g. `/lun/5` (never holds a secret). */
  readonly path: string;
  /** What object it was about. */
  readonly kind: ArrayObjectKind;
}

/**
 * Builds the {@link VolkitError} for an array answer `{error: {code, description}}` with a non-zero
 * code. The array's code and description go to `details.arrayCode`/`details.arrayDescription`
 * (redacted like every detail), with the table name when the code is known.
 */
export function arrayError(code: number, description: string, call: RestCallInfo): VolkitError {
  const entry = BY_CODE.get(code);
  const volkit = toVolkitCode(code, call.kind);
  const what = entry ? `${entry.name}: ${entry.spec.meaning}` : description || "unknown array error";
  return new VolkitError(volkit, `array refused ${call.method} ${call.path} (${code}, ${what})`, {
    source: "ipsan",
    transient: entry?.spec.transient ?? false,
    details: {
      arrayCode: code,
      arrayDescription: description,
      ...(entry ? { arrayError: entry.name } : {}),
      method: call.method,
      path: call.path,
    },
  });
}

/** True when `error` came from the array with one of the named codes. */
export function isArrayError(error: VolkitError, ...names: readonly ArrayErrorName[]): boolean {
  const code = error.details.arrayCode;
  return typeof code === "number" && names.some((n) => ARRAY_ERRORS[n].code === code);
}

/** The array's error code kept in a volkit error, if it has one. */
export function arrayCodeOf(error: VolkitError): number | undefined {
  return typeof error.details.arrayCode === "number" ? error.details.arrayCode : undefined;
}
