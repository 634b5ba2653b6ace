import { z } from "zod";
import { registerSecret } from "../../core/secrets.js";
import { AbsolutePathSchema, plainTextSchema } from "../../core/validation.js";

/**
 * One REST base URL of the array, as Cinder's `RestURL` gives it:
 * `https://<management-ip>:8088/deviceManager/rest/`. A missing trailing slash is added (the
 * dialect appends `xx/sessions` and the device id directly). Credentials, a query or a fragment
 * in the URL are refused: the password travels in the login body only.
 */
export const RestUrlSchema = z
  .string()
  .max(2048)
  .transform((s, ctx) => {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      ctx.addIssue({ code: "custom", message: "must be an absolute http(s) URL" });
      return z.NEVER;
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      ctx.addIssue({ code: "custom", message: "must use https (or http for tests)" });
      return z.NEVER;
    }
    if (url.username !== "" || url.password !== "") {
      ctx.addIssue({ code: "custom", message: "must not carry a user or password (they go in the login body)" });
      return z.NEVER;
    }
    if (url.search !== "" || url.hash !== "") {
      ctx.addIssue({ code: "custom", message: "must not have a query or fragment" });
      return z.NEVER;
    }
    return url.href.endsWith("/") ? url.href : `${url.href}/`;
  });

/** TLS settings of the REST connection. */
export const IpsanTlsSchema = z
  .object({
    /**
     * Verify the array's certificate chain (default true). Turning it off must be explicit and is
     * logged as a warning every time a client is created.
     */
    verify: z.boolean().default(true),
    /** PEM CA bundle to trust instead of the system store (arrays ship self-signed certificates). */
    caFile: AbsolutePathSchema.optional(),
    /** The same as PEM text. */
    ca: z.string().max(1024 * 1024).optional(),
    /**
     * Also check that the certificate names the host in the URL (default true). Arrays' factory
     * certificates rarely do; Huawei's driver ignores the name and checks only the chain, which is
     * what `false` does here (logged).
     */
    verifyHostname: z.boolean().default(true),
  })
  .strict();

/**
 * How to reach and log in to the array. The password is registered as a secret the moment it is
 * validated: it never appears in logs, errors or events.
 *
 * @example
 * ```ts
 * const conn = validate(IpsanConnectionSchema, {
 *   restUrls: ["https://10.0.0.5:8088/deviceManager/rest/", "https://10.0.0.6:8088/deviceManager/rest/"],
 *   user: "admin", password: process.env.ARRAY_PASSWORD, tls: { caFile: "/etc/volkit/array-ca.pem" },
 * }, "ipsan connection", "INVALID_CONFIG");
 * ```
 */
export const IpsanConnectionSchema = z
  .object({
    /** REST base URLs, tried in turn until one answers (each controller has one). */
    restUrls: z.array(RestUrlSchema).min(1).max(16),
    /** Array user. */
    user: plainTextSchema(64).regex(/^[^\s]+$/, "must not contain whitespace"),
    /** Array password (a secret). */
    password: z
      .string()
      .min(4, "must be at least 4 characters")
      .max(256)
      .transform((p) => {
        registerSecret(p);
        return p;
      }),
    /** vStore to log in to (multi-tenant arrays); omitted: the system vStore. */
    vstoreName: plainTextSchema(64).optional(),
    /** TLS settings. */
    tls: IpsanTlsSchema.default({ verify: true, verifyHostname: true }),
    /** Bound of one REST request (default 52 s, Cinder's SOCKET_TIMEOUT). */
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(52_000),
    /** Bound of one login attempt per URL (default 10 s). */
    loginTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** Retries of a transient failure after the first attempt (default 3). */
    retries: z.number().int().min(0).max(10).default(3),
    /** Requests in flight per URL at most (default 20, Huawei's driver semaphore). */
    maxConcurrentRequests: z.number().int().min(1).max(256).default(20),
  })
  .strict();

/** Connection settings as a caller writes them. */
export type IpsanConnectionInput = z.input<typeof IpsanConnectionSchema>;

/** Connection settings after validation (defaults filled). */
export type IpsanConnection = z.output<typeof IpsanConnectionSchema>;
