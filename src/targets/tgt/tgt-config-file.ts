import { err, ok, type Result } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { registerSecret } from "../../core/secrets.js";
import { IdSchema } from "../../core/validation.js";
import { ChapCredentialsSchema, DevicePathSchema, type ChapCredentials } from "../target-helper.js";

/**
 * The per-volume target file tgtd's configuration includes (`include <volumesDir>/*`), so exports
 * survive a tgtd restart. Format (as Cinder's TgtAdm writes it):
 *
 * ```
 * <target iqn.2010-10.org.openstack:volume-<id>>
 *   backing-store /dev/vg/volume-<id>
 *   driver iscsi
 *   incominguser <user> <secret>
 *   write-cache on
 * </target>
 * ```
 */

/** A backing device path safe in tgt's config file and tgt-admin's shell lines (the shared rule). */
export const TgtDevicePathSchema = DevicePathSchema;

/** What an export request must look like before tgt sees it. */
export const TgtExportRequestSchema = z.object({
  volumeId: IdSchema,
  devicePath: TgtDevicePathSchema,
  chap: ChapCredentialsSchema.optional(),
});

/** Content of one per-volume target file. */
export interface TgtTargetFile {
  /** Target IQN. */
  readonly iqn: string;
  /** Backing device. */
  readonly backingStore: string;
  /** Incoming CHAP account the initiator must present (absent: no authentication). */
  readonly chap?: ChapCredentials | undefined;
  /** `write-cache on` (true) or `off`. */
  readonly writeCache: boolean;
}

/** The file name of a volume's target file inside `volumesDir`. */
export function tgtTargetFileName(volumeId: string): string {
  return `volume-${volumeId}`;
}

/** Renders a target file (exactly the layout documented above, newline-terminated). */
export function renderTgtTargetFile(file: TgtTargetFile): string {
  const lines = [`<target ${file.iqn}>`, `  backing-store ${file.backingStore}`, "  driver iscsi"];
  if (file.chap) lines.push(`  incominguser ${file.chap.username} ${file.chap.password}`);
  lines.push(`  write-cache ${file.writeCache ? "on" : "off"}`, "</target>");
  return `${lines.join("\n")}\n`;
}

/**
 * Parses a target file written by {@link renderTgtTargetFile} (or by Cinder, whose layout is the
 * same; extra directives are ignored). Used to find the CHAP secret an existing export was created
 * with, since tgtd never reveals account passwords. The secret of every `incominguser` and
 * `outgoinguser` line is registered for redaction before anything else, well-formed or not.
 */
export function parseTgtTargetFile(text: string): Result<TgtTargetFile, VolkitError> {
  const fail = (why: string): Result<TgtTargetFile, VolkitError> =>
    err(new VolkitError("PARSE_ERROR", `cannot parse tgt target file: ${why}`, { source: "tgt" }));
  const body = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  registerTgtFileSecrets(body);
  const open = /^<target\s+(\S+)>$/.exec(body[0] ?? "");
  if (!open?.[1] || body.at(-1) !== "</target>") return fail("expected one <target …> … </target> block");
  let backingStore: string | undefined;
  let chap: ChapCredentials | undefined;
  let writeCache = true;
  for (const line of body.slice(1, -1)) {
    const [key, ...values] = line.split(/\s+/);
    if (key === "backing-store" && values.length === 1) backingStore = values[0];
    else if (key === "incominguser" && values.length === 2 && values[0] && values[1]) chap = { username: values[0], password: values[1] };
    else if (key === "write-cache") writeCache = values[0] !== "off";
  }
  if (backingStore === undefined) return fail("no backing-store line");
  return ok({ iqn: open[1], backingStore, chap, writeCache });
}

/** Registers every value after the user name of an `incominguser`/`outgoinguser` line. */
function registerTgtFileSecrets(lines: readonly string[]): void {
  for (const line of lines) {
    const [key, , ...secret] = line.split(/\s+/);
    if (key !== "incominguser" && key !== "outgoinguser") continue;
    for (const part of secret) registerSecret(part);
    if (secret.length > 1) registerSecret(secret.join(" "));
  }
}

/** True when two target files configure the same export (same device, CHAP and write cache). */
export function sameTgtTargetFile(a: TgtTargetFile, b: TgtTargetFile): boolean {
  return (
    a.iqn === b.iqn &&
    a.backingStore === b.backingStore &&
    a.writeCache === b.writeCache &&
    a.chap?.username === b.chap?.username &&
    a.chap?.password === b.chap?.password
  );
}
