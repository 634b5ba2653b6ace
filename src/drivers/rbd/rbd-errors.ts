import { VolkitError, type ErrorCode } from "../../core/errors.js";
import { exitCodeOf } from "../../exec/runner.js";

/**
 * Exit codes of the `rbd` CLI, which exits with the errno of the failed librbd call (measured on
 * Pacific 16.2.15, test/fixtures/rbd). The `ceph` CLI prints `[errno N]` or `Error EXXX:` instead
 * and often exits 1; {@link errnoOf} reads both.
 */
export const RBD_EXIT = {
  /** EPERM: caps do not allow it (a restricted client on another pool). */
  PERMISSION: 1,
  /** ENOENT: no such image, snapshot, pool, trash entry or config key; also "keyring not found". */
  MISSING: 2,
  /** EIO: a malformed key in the keyring. */
  IO: 5,
  /** EACCES: cephx refused the key, or the caps deny a monitor command. */
  AUTH: 13,
  /** EBUSY: watchers (open elsewhere), a protected snapshot, children, already protected. */
  BUSY: 16,
  /** EEXIST: image or snapshot exists. */
  EXISTS: 17,
  /** EINVAL: shrink without --allow-shrink, clone of an unprotected snapshot, flatten of a non-clone, unknown key. */
  INVALID: 22,
  /** ENOSPC: the cluster or pool is full. */
  NO_SPACE: 28,
  /** ENOTEMPTY: `rbd rm` of an image with snapshots. */
  HAS_SNAPSHOTS: 39,
  /** EOPNOTSUPP: a feature the image or cluster lacks. */
  NOT_SUPPORTED: 95,
  /** ENOTCONN. */
  NOT_CONNECTED: 107,
  /** ESHUTDOWN: the client was blocklisted or shut down. */
  SHUTDOWN: 108,
  /** ETIMEDOUT: no monitor answered within `--client-mount-timeout`. */
  TIMED_OUT: 110,
  /** ECONNREFUSED. */
  REFUSED: 111,
  /** EDQUOT: pool quota reached. */
  QUOTA: 122,
} as const;

/** What the failed command was about, to pick the right "not found"/"exists" code and message. */
export interface RbdErrorSubject {
  /** `pool/image[@snapshot]` or a pool name, for the message. */
  readonly target: string;
  /** True when the command concerns a snapshot (`snap rm`, `snap protect`, `children`…). */
  readonly snapshot?: boolean;
}

/**
 * The errno of a failed `rbd`/`ceph` command: `[errno N]` or `(N) Message` in stderr (the `ceph`
 * CLI exits 1 for most errors), `Error EACCES:`-style prefixes, else the exit code.
 */
export function errnoOf(error: VolkitError): number | undefined {
  const stderr = typeof error.details.stderr === "string" ? error.details.stderr : "";
  const bracketed = /\[errno (\d+)\]/.exec(stderr);
  if (bracketed?.[1]) return Number(bracketed[1]);
  const named = /^Error (E[A-Z]+):/m.exec(stderr);
  if (named?.[1] && named[1] in ERRNO_BY_NAME) return ERRNO_BY_NAME[named[1]];
  return exitCodeOf(error);
}

const ERRNO_BY_NAME: Readonly<Record<string, number>> = {
  EPERM: 1, ENOENT: 2, EIO: 5, EACCES: 13, EBUSY: 16, EEXIST: 17, EINVAL: 22, ENOSPC: 28, ENOTEMPTY: 39,
  EOPNOTSUPP: 95, ENOTCONN: 107, ESHUTDOWN: 108, ETIMEDOUT: 110, ECONNREFUSED: 111, EDQUOT: 122,
};

/** stderr lines of a client that never reached the cluster (auth, keyring, monitors). */
const CONNECT_FAILED = /couldn't connect to the cluster|error connecting to the cluster|authenticate timed out|monclient\S*: keyring not found/;

/**
 * Maps a failed `rbd`/`ceph` command to a volkit error: the code from the errno, the target in the
 * message, the last stderr line as the reason; details (redacted argv, exit code, stderr) kept.
 * Errors that are not command failures (TIMEOUT, ABORTED, COMMAND_NOT_FOUND…) pass through.
 *
 * - the config file cannot be read (`rbd` and `ceph` exit 1) → `INVALID_CONFIG`;
 * - `trash rm` before the entry's deferment ends (exit 1) → `INVALID_STATE`;
 * - cannot reach the cluster: 13/1/2/5 → `AUTH_FAILED` (refused key, missing or malformed
 *   keyring), otherwise (110, 108…) → `BACKEND_UNAVAILABLE`, transient;
 * - 2 → `VOLUME_NOT_FOUND`/`SNAPSHOT_NOT_FOUND` (`BACKEND_UNAVAILABLE` when the pool is missing);
 * - 1, 13 → `AUTH_FAILED` (the caps refuse it); 16, 39 → `VOLUME_BUSY`; 17 → `VOLUME_EXISTS`/
 *   `SNAPSHOT_EXISTS`; 22 → `INVALID_ARGUMENT`; 28, 122 → `INSUFFICIENT_CAPACITY`;
 *   95 → `NOT_SUPPORTED`; 107, 108, 110, 111 → `BACKEND_UNAVAILABLE` (transient).
 */
export function classifyRbdError(error: VolkitError, subject: RbdErrorSubject): VolkitError {
  if (error.code !== "COMMAND_FAILED") return error;
  const errno = errnoOf(error);
  const stderr = typeof error.details.stderr === "string" ? error.details.stderr : "";
  const reason = lastLine(stderr) ?? error.message;
  const make = (code: ErrorCode, what: string, transient = false): VolkitError =>
    new VolkitError(code, `${what}: ${reason}`, { source: "rbd", cause: error, details: { ...error.details, target: subject.target, ...(errno === undefined ? {} : { errno }) }, transient });

  if (/error calling conf_read_file|unable to open config file/.test(stderr)) return make("INVALID_CONFIG", "cannot read the Ceph config file");
  if (CONNECT_FAILED.test(stderr)) {
    if (errno === RBD_EXIT.AUTH || errno === RBD_EXIT.PERMISSION || errno === RBD_EXIT.MISSING || errno === RBD_EXIT.IO) {
      return make("AUTH_FAILED", "the Ceph cluster refused the client's credentials");
    }
    return make("BACKEND_UNAVAILABLE", "cannot reach the Ceph cluster", true);
  }
  // `trash rm` of an image whose deferment has not expired exits 1 (EPERM), like a caps refusal.
  if (/deferment time has not expired/.test(stderr)) return make("INVALID_STATE", `${subject.target} is protected in the trash until its deferment ends`);
  switch (errno) {
    case RBD_EXIT.MISSING:
      if (/error opening pool|unrecognized pool|pool .* does not exist/i.test(stderr)) return make("BACKEND_UNAVAILABLE", `pool of ${subject.target} not found`);
      if (subject.snapshot && !/error opening image/.test(stderr)) return make("SNAPSHOT_NOT_FOUND", `${subject.target} not found`);
      return make("VOLUME_NOT_FOUND", `${subject.target} not found`);
    case RBD_EXIT.PERMISSION:
    case RBD_EXIT.AUTH:
      return make("AUTH_FAILED", `not permitted on ${subject.target}`);
    case RBD_EXIT.BUSY:
    case RBD_EXIT.HAS_SNAPSHOTS:
      return make("VOLUME_BUSY", `${subject.target} is busy`);
    case RBD_EXIT.EXISTS:
      return make(subject.snapshot ? "SNAPSHOT_EXISTS" : "VOLUME_EXISTS", `${subject.target} exists`);
    case RBD_EXIT.INVALID:
      return make("INVALID_ARGUMENT", `invalid request on ${subject.target}`);
    case RBD_EXIT.NO_SPACE:
    case RBD_EXIT.QUOTA:
      return make("INSUFFICIENT_CAPACITY", `no space for ${subject.target}`);
    case RBD_EXIT.NOT_SUPPORTED:
      return make("NOT_SUPPORTED", `not supported on ${subject.target}`);
    case RBD_EXIT.NOT_CONNECTED:
    case RBD_EXIT.SHUTDOWN:
    case RBD_EXIT.TIMED_OUT:
    case RBD_EXIT.REFUSED:
      return make("BACKEND_UNAVAILABLE", `the Ceph cluster did not answer for ${subject.target}`, true);
    default:
      return error;
  }
}

/** A librbd/monclient log line (`2026-12-01T16:15:08.197+0000 7ff9… -1 librbd: …`), possibly cut into a CLI line. */
const LOG_LINE = /\d{4}-\d\d-\d\dT[\d:.]+[+-]\d{4} [0-9a-f]+ +-?\d+ [^\n]*/g;

/**
 * The CLI's own last message, without librbd's log lines. The CLI and librbd write stderr
 * independently, so a log line can land inside a CLI line (`rbd: create error: <log line>` then
 * `(17) File exists`): a line ending with `:` is joined with the next.
 */
function lastLine(stderr: string): string | undefined {
  const lines = stderr.replace(LOG_LINE, "").split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const joined: string[] = [];
  for (const line of lines) {
    const previous = joined.at(-1);
    if (previous?.endsWith(":")) joined[joined.length - 1] = `${previous} ${line}`;
    else joined.push(line);
  }
  return joined.at(-1) ?? stderr.trim().split("\n").at(-1);
}
