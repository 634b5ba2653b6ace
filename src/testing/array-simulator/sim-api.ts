import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { ARRAY_ERRORS } from "../../drivers/ipsan/ipsan-errors.js";
import { ArrayFailure, fail } from "./sim-errors.js";
import type { SimFaults } from "./sim-faults.js";
import type { SimRouter } from "./sim-router.js";

/** The REST base path (what Cinder's `RestURL` ends with). */
export const REST_BASE = "/deviceManager/rest/";

/** One handled request, as tests see it (never a body: bodies hold passwords). */
export interface SimRequestRecord {
  /** HTTP method. */
  readonly method: string;
  /** Path below the device id with its query (`xx/sessions` for a login). */
  readonly path: string;
  /** Array error code answered (0 success), or the HTTP status when there was no envelope. */
  readonly code: number;
  /** Epoch ms. */
  readonly at: number;
}

/** Session settings. */
export interface SimSessionOptions {
  readonly user: string;
  readonly password: string;
  readonly deviceId: string;
  /** A session unused this long expires (-401). */
  readonly idleTimeoutMs: number;
}

interface Session {
  lastUsed: number;
}

/**
 * The server side of the dialect's session and envelope rules: `POST xx/sessions` logs in and
 * returns `deviceid` and `iBaseToken`; every other call needs the token in the `iBaseToken` header
 * (an unknown, expired or ended one answers -401, or the code a fault chose); bodies are JSON;
 * answers are `{data, error: {code, description}}` with HTTP 200, like the array's.
 */
export class SimApi {
  readonly #router: SimRouter;
  readonly #faults: SimFaults;
  readonly #opts: SimSessionOptions;
  readonly #sessions = new Map<string, Session>();
  /** Tokens ended by a fault, with the code their next use answers. */
  readonly #expired = new Map<string, number>();
  readonly #log: SimRequestRecord[] = [];
  /** `accountstate` of login answers (3/4: password expired/reset). */
  accountState = 1;

  constructor(router: SimRouter, faults: SimFaults, opts: SimSessionOptions) {
    this.#router = router;
    this.#faults = faults;
    this.#opts = opts;
  }

  /** Every handled request so far. */
  get log(): readonly SimRequestRecord[] {
    return this.#log;
  }

  /** Ends every session; their next use answers `code`. */
  expireSessions(code: number): void {
    for (const token of this.#sessions.keys()) this.#expired.set(token, code);
    this.#sessions.clear();
  }

  /** The node:http request listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    void this.#handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://array");
    const raw = await readBody(req);
    if (!url.pathname.startsWith(REST_BASE)) return this.#http(res, method, url.pathname, 404);
    const rest = url.pathname.slice(REST_BASE.length);
    const slash = rest.indexOf("/");
    const device = slash < 0 ? rest : rest.slice(0, slash);
    const path = slash < 0 ? "/" : rest.slice(slash);
    const logPath = device === "xx" ? rest : `${path}${url.search}`;
    const delay = this.#faults.takeDelay(method, logPath);
    if (delay > 0) await sleep(delay);
    const injected = this.#faults.takeFailure(method, logPath);
    if (injected?.httpStatus !== undefined) return this.#http(res, method, logPath, injected.httpStatus);
    if (injected) return this.#answer(res, method, logPath, injected.code ?? ARRAY_ERRORS.PARAMETER_ERROR.code, injected.description ?? "Injected failure.", {});
    let body: Record<string, unknown> = {};
    if (raw.length > 0) {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
        body = parsed as Record<string, unknown>;
      } catch {
        return this.#answer(res, method, logPath, ARRAY_ERRORS.PARAMETER_ERROR.code, "The request body is not a JSON object.", {});
      }
    }
    if (device === "xx" && path.toLowerCase() === "/sessions" && method === "POST") return this.#login(res, body);
    if (device !== this.#opts.deviceId) return this.#http(res, method, logPath, 404);
    const token = headerOf(req, "ibasetoken");
    const expiredCode = token === undefined ? undefined : this.#expired.get(token);
    if (expiredCode !== undefined) return this.#answer(res, method, logPath, expiredCode, expiredCode === ARRAY_ERRORS.UNAUTHORIZED.code ? "The user is not logged in or the session has expired." : "The user is offline.", {});
    const session = token === undefined ? undefined : this.#sessions.get(token);
    const now = Date.now();
    if (!session || now - session.lastUsed > this.#opts.idleTimeoutMs) {
      if (token !== undefined) this.#sessions.delete(token);
      return this.#answer(res, method, logPath, ARRAY_ERRORS.UNAUTHORIZED.code, "The user is not logged in or the session has expired.", {});
    }
    session.lastUsed = now;
    if (path.toLowerCase() === "/sessions" && method === "DELETE") {
      if (token !== undefined) this.#sessions.delete(token);
      return this.#answer(res, method, logPath, 0, "0", {});
    }
    const route = this.#router.match(method, path);
    if (!route) return this.#http(res, method, logPath, 404);
    try {
      const data = await route.handler({ method, path, query: url.searchParams, body }, route.params);
      return this.#answer(res, method, logPath, 0, "0", data ?? {});
    } catch (e) {
      if (e instanceof ArrayFailure) return this.#answer(res, method, logPath, e.code, e.message, {});
      // A simulator or data plane failure: the array's web server would answer 500.
      return this.#http(res, method, logPath, 500);
    }
  }

  #login(res: ServerResponse, body: Record<string, unknown>): void {
    const path = "xx/sessions";
    if (body.username !== this.#opts.user || body.password !== this.#opts.password) {
      const f = fail("LOGIN_FAILED");
      return this.#answer(res, "POST", path, f.code, f.message, {});
    }
    if (body.scope !== "0" && body.scope !== 0) return this.#answer(res, "POST", path, ARRAY_ERRORS.PARAMETER_ERROR.code, "scope must be 0.", {});
    const token = randomBytes(16).toString("hex");
    this.#sessions.set(token, { lastUsed: Date.now() });
    return this.#answer(res, "POST", path, 0, "0", { deviceid: this.#opts.deviceId, iBaseToken: token, username: this.#opts.user, accountstate: this.accountState, level: 2, lastloginip: "127.0.0.1" });
  }

  #answer(res: ServerResponse, method: string, path: string, code: number, description: string, data: unknown): void {
    this.#log.push({ method, path, code, at: Date.now() });
    const payload = JSON.stringify({ data, error: { code, description } });
    res.writeHead(200, { "content-type": "application/json;charset=UTF-8", "content-length": Buffer.byteLength(payload) }).end(payload);
  }

  #http(res: ServerResponse, method: string, path: string, status: number): void {
    this.#log.push({ method, path, code: status, at: Date.now() });
    res.writeHead(status, { "content-type": "text/plain" }).end(status === 404 ? "Not Found" : `HTTP ${status}`);
  }
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > 1024 * 1024) throw new Error("request body too large");
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}
