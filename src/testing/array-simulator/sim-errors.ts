import { ARRAY_ERRORS, type ArrayErrorName } from "../../drivers/ipsan/ipsan-errors.js";

/**
 * An array error answer (`{error: {code, description}}`) raised inside a handler. The router turns
 * it into the envelope; nothing outside the simulator's request handling sees it.
 */
export class ArrayFailure extends Error {
  /** The array error code. */
  readonly code: number;

  constructor(code: number, description: string) {
    super(description);
    this.name = "ArrayFailure";
    this.code = code;
  }
}

/** Descriptions in the array's style for each code the simulator returns. */
const DESCRIPTIONS: Partial<Record<ArrayErrorName, string>> = {
  UNAUTHORIZED: "The user is not logged in or the session has expired.",
  USER_OFFLINE: "The user is offline.",
  LOGIN_FAILED: "The user name or password is incorrect.",
  PARAMETER_ERROR: "The entered parameter is incorrect.",
  OBJECT_NAME_ALREADY_EXIST: "The name already exists.",
  OBJECT_ID_NOT_UNIQUE: "The ID already exists.",
  OBJECT_NOT_EXIST: "The object does not exist.",
  LUN_NOT_EXIST: "The LUN does not exist.",
  SNAPSHOT_NOT_EXIST: "The snapshot does not exist.",
  SNAPSHOT_NOT_ACTIVATED: "The snapshot is not activated.",
  LUNCOPY_NOT_EXIST: "The LUN copy does not exist.",
  LUNCOPY_ALREADY_STOPPED: "The LUN copy is already stopped.",
  LUNCOPY_COMPLETED: "The LUN copy has completed.",
  CLONE_PAIR_NOT_EXIST: "The clone pair does not exist.",
  HOST_NOT_EXIST: "The host does not exist.",
  HOSTGROUP_NOT_EXIST: "The host group does not exist.",
  PORTGROUP_NOT_EXIST: "The port group does not exist.",
  MAPPINGVIEW_NOT_EXIST: "The mapping view does not exist.",
  HOST_ALREADY_IN_HOSTGROUP: "The host already exists in the host group.",
  HOST_NOT_IN_HOSTGROUP: "The host is not in the host group.",
  LUN_ALREADY_IN_LUNGROUP: "The LUN already exists in the LUN group.",
  PORT_ALREADY_IN_PORTGROUP: "The port already exists in the port group.",
  PORT_NOT_IN_PORTGROUP: "The port is not in the port group.",
  INITIATOR_NOT_IN_HOST: "The initiator is not added to a host.",
  HOSTGROUP_NOT_IN_MAPPINGVIEW: "The host group is not in the mapping view.",
  PORTGROUP_NOT_IN_MAPPINGVIEW: "The port group is not in the mapping view.",
  LUNGROUP_NOT_IN_MAPPINGVIEW: "The LUN group is not in the mapping view.",
  HOSTGROUP_ALREADY_IN_MAPPINGVIEW: "The host group already exists in the mapping view.",
  PORTGROUP_ALREADY_IN_MAPPINGVIEW: "The port group already exists in the mapping view.",
  LUNGROUP_ALREADY_IN_MAPPINGVIEW: "The LUN group already exists in the mapping view.",
  LUN_IN_LUNGROUP: "The LUN has been added to a LUN group and cannot be deleted.",
  LUN_HAS_SNAPSHOTS: "The LUN has snapshots and cannot be deleted.",
  OBJECT_IN_COPY_TASK: "The object is being used by a copy, clone or rollback task.",
  POOL_INSUFFICIENT_CAPACITY: "The free capacity of the storage pool is insufficient.",
  CLONE_DEPTH_EXCEEDED: "The number of clone levels exceeds the upper limit.",
  CAPACITY_NOT_LARGER: "The new capacity must be larger than the current capacity.",
  OBJECT_IN_USE: "The object is in use and cannot be deleted or changed.",
  INITIATOR_IN_OTHER_HOST: "The initiator has been added to another host.",
  SYSTEM_BUSY: "The system is busy. Try again later.",
};

/** The failure of a named array error, with the array-style description (plus optional detail). */
export function fail(name: ArrayErrorName, detail?: string): ArrayFailure {
  const base = DESCRIPTIONS[name] ?? ARRAY_ERRORS[name].meaning;
  return new ArrayFailure(ARRAY_ERRORS[name].code, detail === undefined ? base : `${base} (${detail})`);
}
