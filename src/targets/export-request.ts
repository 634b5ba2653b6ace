import type { Result } from "neverthrow";
import type { z } from "zod";
import type { VolkitError } from "../core/errors.js";
import { registerSecret } from "../core/secrets.js";
import { validate } from "../core/validation.js";
import type { ChapCredentials, ExportRequest } from "./target-helper.js";

/**
 * Validates an export request with a helper's own `schema` (`INVALID_ARGUMENT` naming the bad
 * fields) and registers its CHAP secret for redaction before any command can print it.
 */
export function validateExportRequest<S extends z.ZodType<{ readonly chap?: ChapCredentials | undefined }>>(schema: S, request: ExportRequest): Result<z.output<S>, VolkitError> {
  return validate(schema, request, "export request").map((r) => {
    registerSecret(r.chap?.password);
    return r;
  });
}
