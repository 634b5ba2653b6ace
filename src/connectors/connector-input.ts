import { err, type Result } from "neverthrow";
import type { z } from "zod";
import { VolkitError } from "../core/errors.js";
import { AttachedDeviceSchema, type AttachedDevice, type Protocol } from "../core/records.js";
import { validate } from "../core/validation.js";

/**
 * What every connector method checks before any command runs: the connection info is of the
 * connector's protocol and valid in every field, and a device handed back is a valid
 * `AttachedDevice` (absolute device paths, safe map names). Bad input is `INVALID_ARGUMENT`.
 */

/** Parses connection info for the connector of `protocol`. */
export function connectionFor<S extends z.ZodType>(protocol: Protocol, schema: S, info: unknown): Result<z.output<S>, VolkitError> {
  const type = info !== null && typeof info === "object" ? (info as { type?: unknown }).type : undefined;
  if (type !== protocol) {
    return err(new VolkitError("INVALID_ARGUMENT", `the ${protocol} connector cannot attach a ${typeof type === "string" ? type.slice(0, 32) : "typeless"} connection`, { source: protocol }));
  }
  return validate(schema, info, `${protocol} connection info`);
}

/** Parses a device a caller hands back to disconnect or extend. */
export function attachedDeviceOf(device: unknown): Result<AttachedDevice, VolkitError> {
  return validate(AttachedDeviceSchema, device, "attached device");
}
