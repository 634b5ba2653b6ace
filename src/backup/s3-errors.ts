import type { OperationContext } from "../core/context.js";
import { VolkitError, type ErrorCode } from "../core/errors.js";

/**
 * What the AWS SDK throws, mapped to volkit's codes. Only the error's name, HTTP status, request
 * id and system error code are kept: never the request, its headers or its signature, and never
 * the SDK error itself as a cause (a logger serializing causes must find no credential).
 */

/** The parts of an SDK or network error the mapping reads. */
interface SdkErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number; readonly requestId?: string };
  readonly $retryable?: unknown;
}

const AUTH_NAMES = new Set(["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken", "TokenRefreshRequired", "RequestTimeTooSkewed", "AllAccessDisabled", "InvalidSecurity"]);
const MISSING_KEY_NAMES = new Set(["NoSuchKey", "NotFound", "NoSuchUpload"]);
const CAPACITY_NAMES = new Set(["QuotaExceeded", "EntityTooLarge", "InsufficientStorage", "XMinioStorageFull"]);
const THROTTLE_NAMES = new Set(["SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "RequestTimeoutException", "Throttling", "ThrottlingException", "TooManyRequestsException", "TimeoutError"]);
/** Socket-level failures: the store is unreachable or dropped the connection. */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED", "EPROTO", "UND_ERR_SOCKET"]);

/** Where a failed call was going, for the message and details. */
export interface S3Place {
  /** The repository operation (`put`, `get`, `list`…). */
  readonly op: string;
  /** The repository key (without the repository prefix), when the call had one. */
  readonly key?: string;
  /** The bucket. */
  readonly bucket: string;
}

/**
 * Maps an SDK failure: the caller's abort or deadline first; then credentials refused →
 * `AUTH_FAILED`; missing object → `BACKUP_NOT_FOUND`; missing bucket → `INVALID_CONFIG`; store
 * full → `INSUFFICIENT_CAPACITY`; unreachable, throttled or 5xx → `BACKEND_UNAVAILABLE`
 * (transient); anything else `INTERNAL`.
 */
export function s3Error(e: unknown, place: S3Place, ctx: OperationContext): VolkitError {
  if (e instanceof VolkitError) return e;
  const aborted = ctx.abortError();
  if (aborted) return aborted;
  const shape = (typeof e === "object" && e !== null ? e : {}) as SdkErrorShape;
  const name = typeof shape.name === "string" ? shape.name : "Error";
  const errno = typeof shape.code === "string" ? shape.code : undefined;
  const status = shape.$metadata?.httpStatusCode;
  const requestId = shape.$metadata?.requestId;
  const target = place.key === undefined ? `bucket ${place.bucket}` : `${place.key} in bucket ${place.bucket}`;
  const details = {
    op: place.op,
    bucket: place.bucket,
    ...(place.key === undefined ? {} : { key: place.key }),
    s3Error: name,
    ...(status === undefined ? {} : { httpStatus: status }),
    ...(requestId === undefined ? {} : { requestId }),
    ...(errno === undefined ? {} : { errno }),
  };
  const make = (code: ErrorCode, message: string, transient = false): VolkitError => new VolkitError(code, message, { source: "s3", details, transient });
  const what = `S3 ${place.op} of ${target}`;
  if (name === "AbortError") return new VolkitError("ABORTED", `${what} was aborted`, { source: "s3", details });
  if (name === "NoSuchBucket" || (status === 404 && place.key === undefined)) return make("INVALID_CONFIG", `bucket ${place.bucket} does not exist`);
  // Before the 403 rule: radosgw answers a full quota with 403 QuotaExceeded.
  if (CAPACITY_NAMES.has(name) || status === 507) return make("INSUFFICIENT_CAPACITY", `${what} failed: the store is full (${name})`);
  if (AUTH_NAMES.has(name) || status === 401 || status === 403) {
    const why = name === "RequestTimeTooSkewed" ? "this host's clock is too far from the store's" : "the store refused the credentials";
    return make("AUTH_FAILED", `${what} refused (${name}${status === undefined ? "" : `, HTTP ${status}`}): ${why}`);
  }
  if (MISSING_KEY_NAMES.has(name) || status === 404) return make("BACKUP_NOT_FOUND", `object ${place.key ?? ""} does not exist in bucket ${place.bucket}`);
  if ((errno !== undefined && NETWORK_CODES.has(errno)) || THROTTLE_NAMES.has(name) || (status !== undefined && status >= 500) || status === 429) {
    const why = errno !== undefined ? `${errno}: the store is unreachable or dropped the connection` : `${name}${status === undefined ? "" : ` (HTTP ${status})`}`;
    return make("BACKEND_UNAVAILABLE", `${what} failed: ${why}`, true);
  }
  return make("INTERNAL", `${what} failed: ${name}${status === undefined ? "" : ` (HTTP ${status})`}`);
}
