import { readFile } from "node:fs/promises";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { Agent } from "undici";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { silentLogger, type Logger } from "../../core/events.js";
import { withRetry } from "../../core/retry.js";
import { ACCOUNT_STATE } from "./ipsan-constants.js";
import type { IpsanConnection } from "./ipsan-connection.js";
import { ARRAY_ERRORS, arrayError, type ArrayObjectKind } from "./ipsan-errors.js";
import { describeUrl, exchange, needsRelogin, retrySafe, transportError, type HttpMethod, type HttpOutcome } from "./ipsan-http.js";
import { SessionSchema } from "./ipsan-types.js";

/** One REST call below the device base URL. */
export interface RestCall {
  /** Method. */
  readonly method: HttpMethod;
  /** Path and query below `<url><deviceid>`, e.g. `/lun?filter=NAME::x`. Never holds a secret. */
  readonly path: string;
  /** JSON body. */
  readonly body?: Readonly<Record<string, unknown>>;
  /** The object the call is about (refines error codes). */
  readonly kind: ArrayObjectKind;
}

/** A logged-in session. */
interface Session {
  /** `<url><deviceid>`: every call's base. */
  readonly baseUrl: string;
  readonly deviceId: string;
  readonly token: string;
  /** Index of the REST URL it was opened on. */
  readonly urlIndex: number;
}

/** Time a re-login and repeat after a lost connection needs at least (else the failure is returned). */
const MIN_REPEAT_MS = 1_000;

/** Codes of a login answer that mean the credentials are wrong: never try the next URL with them. */
const CREDENTIAL_CODES: ReadonlySet<number> = new Set(
  [ARRAY_ERRORS.LOGIN_FAILED, ARRAY_ERRORS.LOGIN_FAILED_WITH_ARG, ARRAY_ERRORS.PASSWORD_WRONG, ARRAY_ERRORS.ACCOUNT_LOCKED, ARRAY_ERRORS.IP_LOCKED].map((e) => e.code),
);

/** Dependencies of {@link IpsanSession}. */
export interface IpsanSessionDeps {
  /** Logger (never receives the password or the token). */
  readonly logger?: Logger;
}

/**
 * The session layer of the dialect, as Cinder's `RestClient.login`/`call` do it, with volkit's
 * rules on top:
 *
 * - login `POST <url>xx/sessions {username, password, scope: "0"}` on each REST URL in turn until
 *   one answers; the answer's `deviceid` makes the base URL `<url><deviceid>` and its `iBaseToken`
 *   goes in a header of every call; an expired or reset password (`accountstate` 3/4) is refused;
 * - when a call says the session is gone (-401, -403, 4294967297, 1077949069, HTTP 401, or no
 *   connection), log in again (next URL first after a connection failure) and repeat the call ONCE;
 *   concurrent calls share one re-login;
 * - transient failures (unreachable, HTTP 5xx, "system busy") are retried with back-off, but a
 *   write is repeated only when it surely never reached the array;
 * - every exchange is bounded by the operation's signal and by the time left before its deadline,
 *   so an array that stops answering yields `BACKEND_UNAVAILABLE` before the deadline passes.
 */
export class IpsanSession {
  readonly #conn: IpsanConnection;
  readonly #agent: Agent;
  readonly #logger: Logger;
  #session: Session | undefined;
  #pendingLogin: ResultAsync<Session, VolkitError> | undefined;
  /** REST URL to try first at the next login. */
  #preferred = 0;

  private constructor(conn: IpsanConnection, agent: Agent, logger: Logger) {
    this.#conn = conn;
    this.#agent = agent;
    this.#logger = logger;
  }

  /**
   * Builds a session layer: reads the CA bundle (when given) and sets up the HTTP agent. Logs a
   * warning when TLS verification or host name checks are off, or a URL is plain http.
   */
  static create(conn: IpsanConnection, deps: IpsanSessionDeps = {}): ResultAsync<IpsanSession, VolkitError> {
    const logger = deps.logger ?? silentLogger;
    const caFile = conn.tls.caFile;
    const readCa: ResultAsync<string | undefined, VolkitError> =
      caFile === undefined
        ? okAsync(conn.tls.ca)
        : ResultAsync.fromPromise(readFile(caFile, "utf8"), (e) =>
            new VolkitError("INVALID_CONFIG", `cannot read tls.caFile ${caFile}: ${(e as NodeJS.ErrnoException).code ?? "read error"}`, { source: "ipsan", cause: e }),
          ).map((pem) => (conn.tls.ca === undefined ? pem : `${pem}\n${conn.tls.ca}`));
    return readCa.map((ca) => {
      if (!conn.tls.verify) {
        logger.warn({ restUrls: conn.restUrls.map(describeUrl) }, "ipsan: TLS certificate verification of the array REST API is OFF (tls.verify=false)");
      } else if (!conn.tls.verifyHostname) {
        logger.warn({ restUrls: conn.restUrls.map(describeUrl) }, "ipsan: TLS host name check of the array REST API is OFF (tls.verifyHostname=false); the chain is still verified");
      }
      const plain = conn.restUrls.filter((u) => u.startsWith("http:"));
      if (plain.length) logger.warn({ restUrls: plain.map(describeUrl) }, "ipsan: REST URL without TLS: the array password crosses the network in clear");
      const agent = new Agent({
        connections: conn.maxConcurrentRequests,
        keepAliveTimeout: 4_000,
        connect: {
          timeout: conn.loginTimeoutMs,
          rejectUnauthorized: conn.tls.verify,
          ...(ca === undefined ? {} : { ca }),
          ...(conn.tls.verifyHostname ? {} : { checkServerIdentity: () => undefined }),
        },
      });
      return new IpsanSession(conn, agent, logger);
    });
  }

  /** The array's device id (serial) of the current session, if logged in. */
  get deviceId(): string | undefined {
    return this.#session?.deviceId;
  }

  /** The REST URL the current session uses, if logged in. */
  get activeUrl(): string | undefined {
    return this.#session === undefined ? undefined : this.#conn.restUrls[this.#session.urlIndex];
  }

  /** Logs in now (otherwise the first call does). */
  login(ctx: OperationContext): ResultAsync<{ deviceId: string; url: string }, VolkitError> {
    return this.#ensureSession(ctx).map((s) => ({ deviceId: s.deviceId, url: describeUrl(this.#conn.restUrls[s.urlIndex] ?? "") }));
  }

  /**
   * Runs one call and returns the envelope's `data` (undefined when the array sent none). A
   * non-zero array code becomes the mapped {@link VolkitError}.
   */
  call(call: RestCall, ctx: OperationContext): ResultAsync<unknown, VolkitError> {
    const aborted = ctx.abortError();
    if (aborted) return errAsync(aborted);
    return withRetry(() => this.#attempt(call, ctx), {
      retries: this.#conn.retries,
      minTimeoutMs: 100,
      maxTimeoutMs: 2_000,
      signal: ctx.signal,
      isTransient: (e) => e.transient && retrySafe(call.method, e) && this.#timeLeftForRetry(ctx),
      onRetry: (e, attempt) => this.#logger.debug({ method: call.method, path: call.path, attempt, code: e.code }, "ipsan: retrying transient failure"),
    });
  }

  /** Ends the session on the array (best effort) and closes connections. */
  close(ctx: OperationContext): ResultAsync<void, VolkitError> {
    const session = this.#session;
    this.#session = undefined;
    const logout: ResultAsync<void, VolkitError> =
      session === undefined
        ? okAsync(undefined)
        : ResultAsync.fromSafePromise(
            exchange(this.#agent, { url: `${session.baseUrl}/sessions`, method: "DELETE", token: session.token, timeoutMs: this.#budget(ctx, 5_000) }, ctx),
          ).map(() => undefined);
    return logout.andThen(() => ResultAsync.fromPromise(this.#agent.close(), (e) => new VolkitError("INTERNAL", "closing the HTTP agent failed", { source: "ipsan", cause: e })));
  }

  #attempt(call: RestCall, ctx: OperationContext): ResultAsync<unknown, VolkitError> {
    return this.#ensureSession(ctx).andThen((session) =>
      this.#send(session, call, ctx).andThen((first) => {
        if (!needsRelogin(first) || !this.#mayRepeat(first, call, ctx)) return this.#result(first, session, call, ctx);
        this.#logger.info({ method: call.method, path: call.path, why: reasonOf(first) }, "ipsan: session lost, logging in again and repeating the call once");
        return this.#relogin(session, first.kind === "network", ctx).andThen((fresh) =>
          this.#send(fresh, call, ctx).andThen((second) => {
            if (second.kind === "answer" && (second.code === ARRAY_ERRORS.UNAUTHORIZED.code || second.code === ARRAY_ERRORS.USER_OFFLINE.code)) {
              return errAsync(new VolkitError("AUTH_FAILED", `array rejected the session right after a fresh login (${call.method} ${call.path})`, { source: "ipsan", details: { arrayCode: second.code, arrayDescription: second.description } }));
            }
            return this.#result(second, fresh, call, ctx);
          }),
        );
      }),
    );
  }

  /**
   * A lost connection repeats a write only when the request never reached the array, and any call
   * only with time for a login and a request left (a repeat squeezed into the last milliseconds
   * before the deadline could only fail later and less clearly).
   */
  #mayRepeat(outcome: HttpOutcome, call: RestCall, ctx: OperationContext): boolean {
    if (outcome.kind !== "network") return true;
    const left = ctx.remainingMs();
    if (left !== undefined && left < MIN_REPEAT_MS) return false;
    return !outcome.sent || call.method === "GET";
  }

  #send(session: Session, call: RestCall, ctx: OperationContext): ResultAsync<HttpOutcome, VolkitError> {
    const started = performance.now();
    return ResultAsync.fromSafePromise(
      exchange(this.#agent, { url: `${session.baseUrl}${call.path}`, method: call.method, body: call.body, token: session.token, timeoutMs: this.#budget(ctx, this.#conn.requestTimeoutMs) }, ctx),
    ).map((outcome) => {
      this.#logger.debug({ method: call.method, path: call.path, outcome: reasonOf(outcome), ms: Math.round(performance.now() - started) }, "ipsan: REST call");
      return outcome;
    });
  }

  #result(outcome: HttpOutcome, session: Session, call: RestCall, ctx: OperationContext): ResultAsync<unknown, VolkitError> {
    if (outcome.kind !== "answer") return errAsync(transportError(outcome, describeUrl(`${session.baseUrl}${call.path}`), ctx));
    if (outcome.code !== 0) return errAsync(arrayError(outcome.code, outcome.description, call));
    return okAsync(outcome.data);
  }

  #ensureSession(ctx: OperationContext): ResultAsync<Session, VolkitError> {
    if (this.#session) return okAsync(this.#session);
    if (this.#pendingLogin) {
      // Share a login in progress; if it failed because its own caller gave up, try ours.
      return this.#pendingLogin.orElse((e) => (e.code === "ABORTED" || e.code === "TIMEOUT" ? this.#ensureSession(ctx) : errAsync(e)));
    }
    const pending = this.#loginAll(ctx)
      .map((s) => {
        this.#session = s;
        this.#preferred = s.urlIndex;
        return s;
      })
      .andTee(() => (this.#pendingLogin = undefined))
      .orTee(() => (this.#pendingLogin = undefined));
    this.#pendingLogin = pending;
    return pending;
  }

  /** Logs in again unless another call already did since `stale` failed. */
  #relogin(stale: Session, connectionLost: boolean, ctx: OperationContext): ResultAsync<Session, VolkitError> {
    if (this.#session && this.#session.token !== stale.token) return okAsync(this.#session);
    if (this.#session === stale) {
      this.#session = undefined;
      if (connectionLost) this.#preferred = (stale.urlIndex + 1) % this.#conn.restUrls.length;
    }
    return this.#ensureSession(ctx);
  }

  /** Tries every REST URL in turn, starting with the preferred one. */
  #loginAll(ctx: OperationContext): ResultAsync<Session, VolkitError> {
    const urls = this.#conn.restUrls;
    const failures: { url: string; reason: string }[] = [];
    const tryIndex = (n: number): ResultAsync<Session, VolkitError> => {
      if (n >= urls.length) {
        return errAsync(
          new VolkitError("BACKEND_UNAVAILABLE", `cannot log in to the array on any REST URL: ${failures.map((f) => `${f.url} (${f.reason})`).join(", ")}`, {
            source: "ipsan",
            transient: true,
            details: { attempts: failures, requestSent: false },
          }),
        );
      }
      const index = (this.#preferred + n) % urls.length;
      const url = urls[index] ?? "";
      // Share the time left fairly between the URLs still to try, so a hanging controller
      // cannot use up the whole deadline before the next one gets a chance.
      return this.#loginOne(url, index, urls.length - n, ctx).orElse((e) => {
        if (e.code === "ABORTED" || e.code === "TIMEOUT" || !e.transient) return errAsync(e);
        failures.push({ url: describeUrl(url), reason: typeof e.details.reason === "string" ? e.details.reason : e.code });
        return tryIndex(n + 1);
      });
    };
    return tryIndex(0);
  }

  #loginOne(url: string, index: number, urlsLeft: number, ctx: OperationContext): ResultAsync<Session, VolkitError> {
    const body: Record<string, unknown> = { username: this.#conn.user, password: this.#conn.password, scope: "0" };
    if (this.#conn.vstoreName !== undefined) body.vstorename = this.#conn.vstoreName;
    const where = describeUrl(`${url}xx/sessions`);
    return ResultAsync.fromSafePromise(exchange(this.#agent, { url: `${url}xx/sessions`, method: "POST", body, timeoutMs: this.#loginBudget(ctx, urlsLeft) }, ctx)).andThen(
      (outcome): ResultAsync<Session, VolkitError> => {
        if (outcome.kind !== "answer") return errAsync(transportError(outcome, where, ctx));
        if (outcome.code !== 0) {
          const error = arrayError(outcome.code, outcome.description, { method: "POST", path: "xx/sessions", kind: "session" });
          // Wrong credentials are final (trying them everywhere only locks the account sooner);
          // anything else (a controller not ready, a busy system) lets the next URL try.
          if (CREDENTIAL_CODES.has(outcome.code)) return errAsync(new VolkitError("AUTH_FAILED", `array login refused at ${where}: ${error.message}`, { source: "ipsan", details: error.details }));
          return errAsync(new VolkitError(error.code, error.message, { source: "ipsan", transient: true, details: { ...error.details, reason: `array code ${outcome.code}` } }));
        }
        const parsed = SessionSchema.safeParse(outcome.data);
        if (!parsed.success) return errAsync(new VolkitError("PARSE_ERROR", `login answer of ${where} has no deviceid/iBaseToken`, { source: "ipsan" }));
        const info = parsed.data;
        const session: Session = { baseUrl: `${url}${info.deviceId}`, deviceId: info.deviceId, token: info.token, urlIndex: index };
        if (info.accountState === ACCOUNT_STATE.passwordExpired || info.accountState === ACCOUNT_STATE.passwordReset) {
          return ResultAsync.fromSafePromise(exchange(this.#agent, { url: `${session.baseUrl}/sessions`, method: "DELETE", token: session.token, timeoutMs: this.#budget(ctx, 5_000) }, ctx)).andThen(() =>
            errAsync(new VolkitError("AUTH_FAILED", `the array password of user ${this.#conn.user} has expired or was reset; change it on the array`, { source: "ipsan", details: { accountState: info.accountState } })),
          );
        }
        this.#logger.info({ url: describeUrl(url), deviceId: info.deviceId }, "ipsan: logged in");
        return okAsync(session);
      },
    );
  }

  /**
   * The bound of one exchange: `base`, cut so that it ends a little before the operation's
   * deadline (then the caller learns the array did not answer, not just that time ran out).
   */
  #budget(ctx: OperationContext, base: number): number {
    const left = ctx.remainingMs();
    if (left === undefined) return base;
    return Math.max(1, Math.min(base, left - Math.min(500, Math.floor(left / 10))));
  }

  /** The bound of one login attempt: the login timeout, or a fair share of the time left. */
  #loginBudget(ctx: OperationContext, urlsLeft: number): number {
    const share = ctx.remainingMs() === undefined ? this.#conn.loginTimeoutMs : Math.floor(this.#budget(ctx, this.#conn.loginTimeoutMs * urlsLeft) / Math.max(1, urlsLeft));
    return Math.max(1, Math.min(this.#conn.loginTimeoutMs, share));
  }

  /** Another attempt is worth it only with time for a back-off and a request left. */
  #timeLeftForRetry(ctx: OperationContext): boolean {
    const left = ctx.remainingMs();
    return left === undefined || left > 2_500;
  }
}

/** A short description of an outcome for logs (codes only). */
function reasonOf(outcome: HttpOutcome): string {
  switch (outcome.kind) {
    case "answer":
      return `code ${outcome.code}`;
    case "http":
      return `HTTP ${outcome.status}`;
    case "network":
      return outcome.reason;
    case "aborted":
      return "aborted";
    case "garbled":
      return outcome.why;
  }
}
