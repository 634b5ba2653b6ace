import { VolkitError, type ErrorCode } from "../../core/errors.js";
import { exitCodeOf } from "../../exec/runner.js";

/**
 * iscsiadm exit codes (open-iscsi `include/iscsi_err.h`), by name. The connector never compares
 * against a bare number.
 */
export const ISCSIADM_EXIT = {
  SUCCESS: 0,
  GENERIC: 1,
  SESSION_NOT_FOUND: 2,
  NO_MEMORY: 3,
  TRANSPORT: 4,
  LOGIN: 5,
  NODE_DB: 6,
  INVALID: 7,
  TRANSPORT_TIMEOUT: 8,
  INTERNAL: 9,
  LOGOUT: 10,
  PDU_TIMEOUT: 11,
  TRANSPORT_NOT_FOUND: 12,
  ACCESS: 13,
  TRANSPORT_CAPS: 14,
  SESSION_EXISTS: 15,
  INVALID_MGMT_REQUEST: 16,
  ISNS_UNAVAILABLE: 17,
  ISCSID_COMM: 18,
  FATAL_LOGIN: 19,
  ISCSID_NOT_CONNECTED: 20,
  NO_OBJECTS_FOUND: 21,
  SYSFS_LOOKUP: 22,
  HOST_NOT_FOUND: 23,
  LOGIN_AUTH_FAILED: 24,
  ISNS_QUERY: 25,
  ISNS_REGISTRATION: 26,
  OP_NOT_SUPPORTED: 27,
  BUSY: 28,
  AGAIN: 29,
  UNKNOWN_DISCOVERY_TYPE: 30,
  CHILD_TERMINATED: 31,
  SESSION_NOT_CONNECTED: 32,
} as const;

/** How the connector treats one iscsiadm exit code. */
export interface ExitOutcome {
  /** Error code returned to the caller. */
  readonly code: ErrorCode;
  /** Retried with back-off (node DB busy, iscsid busy). */
  readonly transient: boolean;
  /** Human explanation used in the message. */
  readonly meaning: string;
}

const E = ISCSIADM_EXIT;

/**
 * The outcome of each failing exit code. Codes not listed map to `COMMAND_FAILED`. Success-like
 * codes are decided per command: 15 (session exists) is success for `--login`, 21 (no objects)
 * is "absent" for node look-ups and success for `--logout`/`--op delete`.
 */
export const ISCSIADM_OUTCOMES: Readonly<Partial<Record<number, ExitOutcome>>> = {
  [E.NODE_DB]: { code: "COMMAND_FAILED", transient: true, meaning: "the iSCSI node database is busy or failed" },
  [E.BUSY]: { code: "COMMAND_FAILED", transient: true, meaning: "iscsid is busy" },
  [E.AGAIN]: { code: "COMMAND_FAILED", transient: true, meaning: "iscsid asked to try again" },
  [E.TRANSPORT]: { code: "LOGIN_FAILED", transient: false, meaning: "transport error (portal unreachable?)" },
  [E.LOGIN]: { code: "LOGIN_FAILED", transient: false, meaning: "login failed" },
  [E.TRANSPORT_TIMEOUT]: { code: "LOGIN_FAILED", transient: false, meaning: "timed out connecting to the portal" },
  [E.PDU_TIMEOUT]: { code: "LOGIN_FAILED", transient: false, meaning: "the target did not answer in time" },
  [E.FATAL_LOGIN]: { code: "LOGIN_FAILED", transient: false, meaning: "non-retryable login failure (unknown target or initiator not allowed)" },
  [E.LOGIN_AUTH_FAILED]: { code: "AUTH_FAILED", transient: false, meaning: "CHAP rejected" },
  // A dead iscsid is usually restarted within seconds (systemd, socket activation; 2–4 s in the
  // lab): transient, for the caller's retry policy (the connector does not wait for it itself).
  [E.ISCSID_COMM]: { code: "BACKEND_UNAVAILABLE", transient: true, meaning: "cannot talk to iscsid (is it running? it is usually back within seconds: retry)" },
  [E.ISCSID_NOT_CONNECTED]: { code: "BACKEND_UNAVAILABLE", transient: true, meaning: "iscsid is not running (it is usually back within seconds: retry)" },
  [E.TRANSPORT_NOT_FOUND]: { code: "BACKEND_UNAVAILABLE", transient: false, meaning: "the iscsi_tcp transport is not loaded" },
  [E.ACCESS]: { code: "BACKEND_UNAVAILABLE", transient: false, meaning: "permission denied (iscsiadm needs root)" },
  [E.SESSION_NOT_FOUND]: { code: "LOGIN_FAILED", transient: false, meaning: "session not found" },
  [E.NO_OBJECTS_FOUND]: { code: "LOGIN_FAILED", transient: false, meaning: "no matching node record" },
};

/** Where an iscsiadm call was aimed, for error messages and details. */
export interface IscsiadmWhere {
  /** What was being done: `login`, `logout`, `node update`… */
  readonly op: string;
  /** Target IQN. */
  readonly target?: string;
  /** Portal. */
  readonly portal?: string;
}

/**
 * Turns a failed iscsiadm run into the connector's typed error: `AUTH_FAILED` "CHAP rejected by
 * target <iqn> at <portal>", `LOGIN_FAILED` naming target and portal, transient node-DB errors…
 * `TIMEOUT`/`ABORTED`/`COMMAND_NOT_FOUND` pass through. Details keep the redacted command and
 * stderr the runner recorded (never a secret: secrets go in `CommandSpec.secrets`).
 */
export function classifyIscsiadmError(error: VolkitError, where: IscsiadmWhere): VolkitError {
  if (error.code !== "COMMAND_FAILED") return error;
  const exit = exitCodeOf(error);
  const outcome = exit === undefined ? undefined : ISCSIADM_OUTCOMES[exit];
  const at = where.target ? ` ${where.target}${where.portal ? ` at ${where.portal}` : ""}` : where.portal ? ` at ${where.portal}` : "";
  const details = { ...error.details, op: where.op, ...(where.target ? { target: where.target } : {}), ...(where.portal ? { portal: where.portal } : {}) };
  if (!outcome) {
    return new VolkitError("COMMAND_FAILED", `iscsiadm ${where.op}${at} failed: ${error.message}`, { source: "iscsi", cause: error, details });
  }
  const message =
    outcome.code === "AUTH_FAILED"
      ? `CHAP rejected by target ${where.target ?? "?"} at ${where.portal ?? "?"} (iscsiadm exit ${exit}: authorization failure)`
      : `iscsiadm ${where.op}${at} failed: ${outcome.meaning} (exit ${exit})`;
  return new VolkitError(outcome.code, message, { source: "iscsi", cause: error, details, transient: outcome.transient });
}
