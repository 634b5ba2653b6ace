import type { ErrorCode } from "../core/errors.js";

/**
 * The process exit code of every `volkit` command: 0 on success, otherwise a fixed number per
 * `VolkitError` code, so a script can tell "not found" from "busy" from "cancelled" without parsing
 * text. The numbers never change meaning; codes added to `ERROR_CODES` later get new numbers.
 * Conventions kept where one exists: 2 for usage errors, 70 (EX_SOFTWARE) for internal errors,
 * 78 (EX_CONFIG) for configuration errors, 124 for timeouts (as timeout(1)), 130 for Ctrl-C (128 +
 * SIGINT).
 */
export const EXIT_CODES: { readonly [C in ErrorCode]: number } = {
  INVALID_ARGUMENT: 2,
  VOLUME_NOT_FOUND: 10,
  VOLUME_EXISTS: 11,
  VOLUME_BUSY: 12,
  SNAPSHOT_NOT_FOUND: 13,
  SNAPSHOT_EXISTS: 14,
  BACKUP_NOT_FOUND: 15,
  BACKUP_EXISTS: 16,
  BACKUP_IN_USE: 17,
  BACKUP_CORRUPT: 18,
  NOT_FOUND: 19,
  CONFLICT: 20,
  INVALID_STATE: 21,
  INSUFFICIENT_CAPACITY: 22,
  NO_VALID_BACKEND: 23,
  NOT_SUPPORTED: 24,
  COMMAND_FAILED: 30,
  COMMAND_NOT_FOUND: 31,
  PARSE_ERROR: 32,
  BACKEND_UNAVAILABLE: 33,
  STORE_UNAVAILABLE: 34,
  EXPORT_FAILED: 35,
  LOCK_FAILED: 36,
  LOGIN_FAILED: 40,
  AUTH_FAILED: 41,
  DEVICE_NOT_FOUND: 42,
  DETACH_INCOMPLETE: 43,
  INTERNAL: 70,
  INVALID_CONFIG: 78,
  TIMEOUT: 124,
  ABORTED: 130,
};

/** Exit code of a successful command. */
export const EXIT_OK = 0;

/** Exit code of a command line the parser refused (unknown command or option, missing argument): the same as `INVALID_ARGUMENT`. */
export const EXIT_USAGE = EXIT_CODES.INVALID_ARGUMENT;

/** The exit code for an error code. */
export function exitCodeFor(code: ErrorCode): number {
  return EXIT_CODES[code];
}
