import { fetch, type Agent } from "undici";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { redactText } from "../../core/secrets.js";
import { ARRAY_ERRORS, arrayErrorSpec } from "./ipsan-errors.js";
import { ArrayResponseSchema } from "./ipsan-types.js";

/**
 * One HTTP exchange with the array over undici (no retries, no session logic): the request is
 * bounded by the operation's signal and its own timer, and every way it can end is a value of
 * {@link HttpOutcome}, never a thrown error.
 */

/** HTTP methods the dialect uses. */
export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

/** How one exchange ended. */
export type HttpOutcome =
  /** The array answered with the dialect's envelope. */
  | { readonly kind: "answer"; readonly code: number; readonly description: string; readonly data: unknown }
  /** A non-2xx HTTP status (a proxy, a missing resource, an overloaded web server). */
  | { readonly kind: "http"; readonly status: number }
  /**
   * No answer: connection refused/reset, TLS failure, the request timer. `sent` is false when the
   * request surely never reached the array (connect errors), so repeating it cannot apply it twice.
   */
  | { readonly kind: "network"; readonly reason: string; readonly sent: boolean; readonly tls: boolean }
  /** The caller's signal fired (cancel or deadline). */
  | { readonly kind: "aborted" }
  /** A 2xx answer whose body is not the envelope. */
  | { readonly kind: "garbled"; readonly why: string };

/** Error codes of Node/undici that happen before a request is written to the socket. */
const PRE_SEND_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** TLS verification failures: a configuration problem (CA bundle, host name), never transient. */
const TLS_CODES = /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_SSL_|HOSTNAME_MISMATCH)/;

/** One request to send. */
export interface HttpRequest {
  /** Absolute URL. */
  readonly url: string;
  /** Method. */
  readonly method: HttpMethod;
  /** JSON body (never for GET). */
  readonly body?: Readonly<Record<string, unknown>> | undefined;
  /** Session token for the `iBaseToken` header. */
  readonly token?: string | undefined;
  /** This exchange's own bound in ms (the caller's deadline may end it sooner). */
  readonly timeoutMs: number;
}

/** Sends one request through `agent`; the promise always resolves. */
export async function exchange(agent: Agent, request: HttpRequest, ctx: OperationContext): Promise<HttpOutcome> {
  if (ctx.signal.aborted) return { kind: "aborted" };
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(ctx.signal.reason);
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error("request timer"));
  }, Math.max(1, request.timeoutMs));
  try {
    const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", accept: "application/json" };
    if (request.token !== undefined) headers.iBaseToken = request.token;
    const response = await fetch(request.url, {
      method: request.method,
      headers,
      dispatcher: agent,
      signal: controller.signal,
      ...(request.body !== undefined && request.method !== "GET" ? { body: JSON.stringify(request.body) } : {}),
    });
    const text = await response.text();
    if (!response.ok) return { kind: "http", status: response.status };
    return parseEnvelope(text);
  } catch (error) {
    if (ctx.signal.aborted && !timedOut) return { kind: "aborted" };
    if (timedOut) return { kind: "network", reason: `no answer within ${request.timeoutMs} ms`, sent: true, tls: false };
    return classifyFetchError(error);
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onAbort);
  }
}

/** Parses a 2xx body into the envelope, without ever quoting the body (it may hold secrets). */
export function parseEnvelope(text: string): HttpOutcome {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: "garbled", why: `body is not JSON (${text.length} bytes)` };
  }
  const parsed = ArrayResponseSchema.safeParse(json);
  if (!parsed.success) return { kind: "garbled", why: "body has no error.code" };
  return { kind: "answer", code: parsed.data.error.code, description: parsed.data.error.description ?? "", data: parsed.data.data };
}

/** Turns what undici's fetch threw into a network outcome (codes only, never messages with data). */
export function classifyFetchError(error: unknown): HttpOutcome {
  const code = errorCode(error);
  const tls = TLS_CODES.test(code);
  return { kind: "network", reason: code || "fetch failed", sent: !(PRE_SEND_CODES.has(code) || tls), tls };
}

/** The `code` of an error or of the first cause in its chain that has one. */
function errorCode(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return "";
}

/** True when the outcome says the session is gone and a fresh login should be tried. */
export function needsRelogin(outcome: HttpOutcome): boolean {
  if (outcome.kind === "http") return outcome.status === 401;
  if (outcome.kind === "network") return !outcome.tls;
  if (outcome.kind !== "answer") return false;
  return arrayErrorSpec(outcome.code)?.spec.relogin === true;
}

/** Where a failed exchange went, for messages (scheme, host and path; never credentials). */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "<invalid url>";
  }
}

/** The error of an outcome that carries no array answer. */
export function transportError(outcome: Exclude<HttpOutcome, { kind: "answer" }>, where: string, ctx: OperationContext): VolkitError {
  switch (outcome.kind) {
    case "aborted":
      return ctx.abortError() ?? new VolkitError("ABORTED", "operation aborted by caller", { source: "ipsan" });
    case "http":
      return new VolkitError(outcome.status === 404 ? "NOT_SUPPORTED" : outcome.status >= 500 ? "BACKEND_UNAVAILABLE" : "COMMAND_FAILED", `array REST API at ${where} answered HTTP ${outcome.status}`, {
        source: "ipsan",
        transient: outcome.status >= 500 || outcome.status === 429,
        details: { httpStatus: outcome.status, url: where, requestSent: outcome.status !== 503 },
      });
    case "garbled":
      return new VolkitError("PARSE_ERROR", `array REST API at ${where} sent an unreadable answer: ${outcome.why}`, { source: "ipsan", details: { url: where } });
    case "network":
      if (outcome.tls) {
        return new VolkitError("AUTH_FAILED", `TLS certificate of ${where} is not trusted (${outcome.reason}); give the array's CA in tls.caFile`, {
          source: "ipsan",
          details: { url: where, tlsError: outcome.reason },
        });
      }
      return new VolkitError("BACKEND_UNAVAILABLE", `array REST API at ${where} is unreachable (${outcome.reason})`, {
        source: "ipsan",
        transient: true,
        details: { url: where, reason: outcome.reason, requestSent: outcome.sent },
      });
  }
}

/** Array codes after which repeating a write is safe (the array did not apply it). */
const NOT_APPLIED_CODES: ReadonlySet<number> = new Set([ARRAY_ERRORS.SYSTEM_BUSY.code]);

/**
 * Whether a transient failure of a `method` request may be retried without applying a write
 * twice: reads always; writes only when the request never reached the array (connect error,
 * HTTP 503, "system busy").
 */
export function retrySafe(method: HttpMethod, error: VolkitError): boolean {
  if (method === "GET") return true;
  if (error.details.requestSent === false) return true;
  const code = error.details.arrayCode;
  return typeof code === "number" && NOT_APPLIED_CODES.has(code);
}

/** A message-safe copy of a reason (redacted; reasons are codes, but be strict). */
export function safeReason(reason: string): string {
  return redactText(reason).slice(0, 200);
}
