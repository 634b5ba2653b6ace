import type { Result } from "neverthrow";
import { z } from "zod";
import type { VolkitError } from "../../core/errors.js";
import { AbsolutePathSchema, validate } from "../../core/validation.js";
import type { AttachedDevice } from "../connector.js";

/**
 * Validates an `AttachedDevice` handed back to disconnect/extend: paths must be absolute device
 * paths, names must be safe to use in sysfs paths and commands.
 */
export const AttachedDeviceSchema = z.object({
  type: z.enum(["block", "file"]),
  path: AbsolutePathSchema,
  scsiWwn: z.string().regex(/^[A-Za-z0-9 ._:-]{1,256}$/, "must be a SCSI WWID").optional(),
  multipathId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, "must be a multipath map name").optional(),
  paths: z.array(AbsolutePathSchema).max(64),
  format: z.enum(["raw", "qcow2"]).optional(),
  sizeBytes: z.number().int().nonnegative().optional(),
});

/** Validates a device and returns it in `AttachedDevice` form (absent fields omitted, frozen). */
export function parseAttachedDevice(device: AttachedDevice): Result<AttachedDevice, VolkitError> {
  return validate(AttachedDeviceSchema, device, "attached device").map((d) => {
    const out: { -readonly [K in keyof AttachedDevice]: AttachedDevice[K] } = { type: d.type, path: d.path, paths: d.paths };
    if (d.scsiWwn !== undefined) out.scsiWwn = d.scsiWwn;
    if (d.multipathId !== undefined) out.multipathId = d.multipathId;
    if (d.format !== undefined) out.format = d.format;
    if (d.sizeBytes !== undefined) out.sizeBytes = d.sizeBytes;
    return Object.freeze(out);
  });
}
