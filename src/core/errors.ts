import { inspect } from "node:util";
import { redactText, redactValue } from "./secrets.js";

/**
 * Every stable error code volkit can return. Codes never change meaning between releases;
 * new codes may be added.
 */
export const ERROR_CODES = [
  "VOLUME_NOT_FOUND",
  "VOLUME_EXISTS",
  "VOLUME_BUSY",
  "SNAPSHOT_NOT_FOUND",
  "SNAPSHOT_EXISTS",
  "INSUFFICIENT_CAPACITY",
  "INVALID_ARGUMENT",
  "INVALID_CONFIG",
  "INVALID_STATE",
  "COMMAND_FAILED",
  "COMMAND_NOT_FOUND",
  "PARSE_ERROR",
  "TIMEOUT",
  "ABORTED",
  "BACKEND_UNAVAILABLE",
  "NOT_SUPPORTED",
  "EXPORT_FAILED",
  "LOCK_FAILED",
  "LOGIN_FAILED",
  "AUTH_FAILED",
  "DEVICE_NOT_FOUND",
  "DETACH_INCOMPLETE",
  "NOT_FOUND",
  "CONFLICT",
  "NO_VALID_BACKEND",
  "STORE_UNAVAILABLE",
  "BACKUP_NOT_FOUND",
  "BACKUP_EXISTS",
  "BACKUP_IN_USE",
  "BACKUP_CORRUPT",
  "INTERNAL",
] as const;

/** A stable string code identifying the kind of failure. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Machine-readable context attached to an error. Secrets are redacted before they get here. */
export interface ErrorDetails {
  /** The argv of the command that failed (redacted). */
  readonly command?: readonly string[];
  /** Exit code of the failed command. */
  readonly exitCode?: number;
  /** Signal that ended the command, if any. */
  readonly signal?: string;
  /** Standard error of the failed command, trimmed and redacted. */
  readonly stderr?: string;
  /** Anything else that helps a caller act on the error (volume id, target, portal…). */
  readonly [key: string]: unknown;
}

/** Options accepted by {@link VolkitError} and {@link volkitError}. */
export interface VolkitErrorOptions {
  /** The driver, connector or component that produced the error (e.g. `lvm`, `iscsi`). */
  readonly source?: string;
  /** The underlying error. Kept for debugging; not serialized into events. */
  readonly cause?: unknown;
  /** Machine-readable context. */
  readonly details?: ErrorDetails;
  /**
   * Whether retrying the same call may succeed (a lock held elsewhere, an LVM segfault, a busy
   * node database). Only transient errors are retried by {@link withRetry}.
   */
  readonly transient?: boolean;
}

/**
 * The one error type every public volkit operation returns inside a `Result`.
 * Switch on {@link VolkitError.code} to handle specific failures.
 *
 * @example
 * ```ts
 * const r = await backend.deleteVolume(volume);
 * if (r.isErr() && r.error.code === "VOLUME_BUSY") console.log("delete its snapshots first");
 * ```
 */
export class VolkitError extends Error {
  /** Stable code; see {@link ERROR_CODES}. */
  readonly code: ErrorCode;
  /** Component that produced the error. */
  readonly source: string | undefined;
  /** Redacted machine-readable context. */
  readonly details: ErrorDetails;
  /** True when a retry of the same call may succeed. */
  readonly transient: boolean;

  constructor(code: ErrorCode, message: string, options: VolkitErrorOptions = {}) {
    super(redactText(message), options.cause === undefined ? undefined : { cause: redactCause(options.cause) });
    this.name = "VolkitError";
    this.code = code;
    this.source = options.source;
    this.details = (redactValue(options.details ?? {}) as ErrorDetails);
    this.transient = options.transient ?? false;
  }

  /** A JSON-safe view for logs and events (no cause chain, already redacted). */
  toJSON(): { code: ErrorCode; message: string; source?: string; details: ErrorDetails; transient: boolean } {
    return {
      code: this.code,
      message: this.message,
      ...(this.source === undefined ? {} : { source: this.source }),
      details: this.details,
      transient: this.transient,
    };
  }
}

/**
 * The cause an error keeps, with registered secrets redacted: `util.inspect` of an error prints its
 * cause chain, and a foreign error (a runner or library that threw `new Error("… <secret> …")`)
 * quotes whatever it was given. A cause that shows no registered secret is kept as it is (same
 * object); one that does is replaced by a redacted copy of the same class (name, message, stack,
 * primitive fields such as `code`, and its own cause, likewise). VolkitErrors are redacted already.
 */
function redactCause(cause: unknown, depth = 0): unknown {
  if (cause instanceof VolkitError || depth > 8 || cause === null || cause === undefined) return cause;
  if (typeof cause === "string") return redactText(cause);
  if (typeof cause !== "object") return cause;
  if (!(cause instanceof Error)) {
    const shown = inspect(cause, { depth: 4 });
    return redactText(shown) === shown ? cause : redactValue(cause);
  }
  const inner: unknown = (cause as { cause?: unknown }).cause;
  const innerRedacted = redactCause(inner, depth + 1);
  const message = redactText(cause.message);
  const stack = cause.stack === undefined ? undefined : redactText(cause.stack);
  const fields = Object.entries(cause).filter(([k, v]) => k !== "cause" && (typeof v !== "object" || v === null));
  const fieldsClean = fields.every(([, v]) => typeof v !== "string" || redactText(v) === v);
  if (message === cause.message && stack === cause.stack && innerRedacted === inner && fieldsClean) return cause;
  const copy = Object.create(Object.getPrototypeOf(cause) as object) as Error & Record<string, unknown>;
  for (const [k, v] of fields) copy[k] = typeof v === "string" ? redactText(v) : v;
  Object.defineProperty(copy, "message", { value: message, writable: true, configurable: true });
  Object.defineProperty(copy, "stack", { value: stack, writable: true, configurable: true });
  if (copy.name !== cause.name) Object.defineProperty(copy, "name", { value: cause.name, writable: true, configurable: true });
  if (inner !== undefined) Object.defineProperty(copy, "cause", { value: innerRedacted, writable: true, configurable: true });
  return copy;
}

/** Shorthand constructor for {@link VolkitError}. */
export function volkitError(code: ErrorCode, message: string, options?: VolkitErrorOptions): VolkitError {
  return new VolkitError(code, message, options);
}

/** True if `value` is a {@link VolkitError}, optionally with one of the given codes. */
export function isVolkitError(value: unknown, ...codes: ErrorCode[]): value is VolkitError {
  return value instanceof VolkitError && (codes.length === 0 || codes.includes(value.code));
}

/**
 * Converts anything thrown by third-party code into a {@link VolkitError}; VolkitErrors pass through.
 * Used at every boundary where a library may throw.
 */
export function toVolkitError(cause: unknown, fallback: ErrorCode = "INTERNAL", source?: string): VolkitError {
  if (cause instanceof VolkitError) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new VolkitError(fallback, message, { cause, ...(source === undefined ? {} : { source }) });
}
