import { err, ok, type Result, type ResultAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { registerSecret } from "../core/secrets.js";
import { AbsolutePathSchema, ChapSecretSchema, ChapUserSchema, PortalSchema } from "../core/validation.js";

/**
 * iSCSI target helpers export a block device as an iSCSI target. Drivers (LVM now, others later)
 * pick one by config and never talk to tgt or LIO themselves.
 */

/** CHAP credentials for one export. The secret is registered for redaction by whoever creates it. */
export interface ChapCredentials {
  /** CHAP user name. */
  readonly username: string;
  /** CHAP secret. */
  readonly password: string;
}

/** What to export. */
export interface ExportRequest {
  /** Volume id; the target IQN is `<iqnPrefix>volume-<id>`. */
  readonly volumeId: string;
  /** Block device (or file) backing the LUN. */
  readonly devicePath: string;
  /** Session CHAP the target requires (absent: no authentication). */
  readonly chap?: ChapCredentials | undefined;
}

/** An export as it exists on the target. */
export interface TargetExport {
  /** Target IQN. */
  readonly iqn: string;
  /** Every portal the target listens on (`ip:port`), first is primary. */
  readonly portals: readonly string[];
  /** LUN the volume is exposed as (tgt: 1, LUN 0 is the controller; LIO: 0). */
  readonly lun: number;
  /** tgt target id, when the helper has one. */
  readonly tid?: number;
  /** Cinder-style `"<ip>:<port>[;<ip2>:<port>],<tid> <iqn> <lun>"`. */
  readonly providerLocation: string;
  /**
   * Initiators that have access now: LIO's per-initiator ACLs; for tgt (which admits any initiator
   * passing CHAP) the initiators with a live session.
   */
  readonly initiators: readonly string[];
}

/**
 * Characters a path may use to be safe in tgt's config file, on tgt-admin's internal shell command
 * lines and in targetcli's command parser: absolute, only letters, digits and `/._+:@-` (no
 * whitespace, quotes, `#`, `<`, `>` or `$`).
 */
export const SAFE_TARGET_PATH = /^\/[A-Za-z0-9/._+:@-]+$/;

/** A backing device path both target helpers accept: {@link SAFE_TARGET_PATH}, no `..` segment. */
export const DevicePathSchema = AbsolutePathSchema.pipe(z.string().regex(SAFE_TARGET_PATH, "must be a device path of letters, digits and '/._+:@-'"));

/** Config shared by every target helper. */
export const TargetConfigSchema = z.object({
  /** `tgt` (tgtd + tgt-admin) or `lio` (kernel LIO via targetcli). */
  helper: z.enum(["tgt", "lio"]).default("tgt").meta({ title: "Helper", description: "`tgt` (tgtd + tgt-admin) or `lio` (kernel LIO via targetcli)." }),
  /** IQN prefix; the volume's target is `<prefix>volume-<id>`. */
  iqnPrefix: z
    .string()
    .regex(/^iqn\.\d{4}-\d{2}\.[a-z0-9][a-z0-9.-]*:[A-Za-z0-9.:_-]*$/, "must be an IQN prefix such as iqn.2010-10.org.openstack:")
    // An IQN has at most 223 bytes: room for "volume-" and a 64-character id.
    .max(223 - "volume-".length - 64, "must leave room for volume-<id> in a 223-byte IQN")
    .default("iqn.2010-10.org.openstack:").meta({ title: "IQN prefix", description: "IQN prefix; the volume's target is `<prefix>volume-<id>`." }),
  /** Portals the target listens on; several give multipath several paths. */
  portals: z.array(PortalSchema).min(1).default(["127.0.0.1:3260"]).meta({ title: "Portals", description: "Portals the target listens on; several give multipath several paths." }),
  /** Require session CHAP (credentials generated per volume and returned in providerAuth). */
  chap: z.boolean().default(true).meta({ title: "CHAP", description: "Require session CHAP (credentials generated per volume and returned in providerAuth)." }),
  /** tgt: directory of per-volume target files included by tgtd's config. */
  volumesDir: AbsolutePathSchema.default("/var/lib/volkit/tgt-volumes").meta({ title: "Volumes dir", description: "tgt: directory of per-volume target files included by tgtd's config." }),
  /** tgt: `write-cache on|off` per target. */
  writeCache: z.boolean().default(true).meta({ title: "Write cache", description: "tgt: `write-cache on|off` per target." }),
  /**
   * LIO: where the configuration is saved so it survives a restart. Debian's targetcli-fb and
   * rtslib-fb restore `/etc/rtslib-fb-target/saveconfig.json` at boot (upstream: /etc/target/).
   */
  lioSaveFile: AbsolutePathSchema.default("/etc/rtslib-fb-target/saveconfig.json").meta({ title: "LIO save file", description: "LIO: where the configuration is saved so it survives a restart. Debian's targetcli-fb and rtslib-fb restore `/etc/rtslib-fb-target/saveconfig.json` at boot (upstream: /etc/target/)." }),
});
/** Target helper config (input form). */
export type TargetConfig = z.input<typeof TargetConfigSchema>;
/** Target helper config (parsed form). */
export type ParsedTargetConfig = z.output<typeof TargetConfigSchema>;

/** Validates externally supplied CHAP credentials. */
export const ChapCredentialsSchema = z.object({ username: ChapUserSchema, password: ChapSecretSchema });

/**
 * Operations a target helper offers. All are idempotent: creating an existing export returns it
 * (updating CHAP if it changed), removing a missing one succeeds.
 */
export interface TargetHelper {
  /** `tgt` or `lio`. */
  readonly kind: string;
  /** Checks the target service is reachable (tgtd answers, LIO configfs present). */
  check(ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Creates (or returns the existing) export of a device. */
  createExport(request: ExportRequest, ctx: OperationContext): ResultAsync<TargetExport, VolkitError>;
  /** Re-creates an export that should exist (service restart); same as createExport. */
  ensureExport(request: ExportRequest, ctx: OperationContext): ResultAsync<TargetExport, VolkitError>;
  /** Removes the export of a volume; succeeds if there is none. */
  removeExport(volumeId: string, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** The export of a volume, or undefined if none exists. */
  getExport(volumeId: string, ctx: OperationContext): ResultAsync<TargetExport | undefined, VolkitError>;
  /**
   * Lets `initiator` log in (LIO: ACL with the export's CHAP and the mapped LUN; tgt: nothing,
   * tgt allows any initiator that passes CHAP). Returns the LUN that initiator sees.
   */
  allowInitiator(volumeId: string, initiator: string, chap: ChapCredentials | undefined, ctx: OperationContext): ResultAsync<number, VolkitError>;
  /** Revokes `initiator` (or every initiator when undefined). Succeeds if not allowed. */
  denyInitiator(volumeId: string, initiator: string | undefined, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Makes the target see a grown backing device (tgt: `tgt-admin --update`). */
  refreshSize(request: ExportRequest, ctx: OperationContext): ResultAsync<void, VolkitError>;
}

/** The IQN of a volume's target. */
export function targetIqn(prefix: string, volumeId: string): string {
  return `${prefix}volume-${volumeId}`;
}

/** Formats Cinder's provider_location for an iSCSI export. */
export function formatProviderLocation(portals: readonly string[], tid: number, iqn: string, lun: number): string {
  return `${portals.join(";")},${tid} ${iqn} ${lun}`;
}

/** Parses Cinder's provider_location; undefined when it is not one. */
export function parseProviderLocation(location: string): { portals: string[]; tid: number; iqn: string; lun: number } | undefined {
  const m = /^(\S+),(\d+) (\S+) (\d+)$/.exec(location.trim());
  if (!m?.[1] || !m[3]) return undefined;
  return { portals: m[1].split(";"), tid: Number(m[2]), iqn: m[3], lun: Number(m[4]) };
}

/** Formats `provider_auth` (`"CHAP <user> <secret>"`). */
export function formatProviderAuth(chap: ChapCredentials): string {
  return `CHAP ${chap.username} ${chap.password}`;
}

/**
 * Parses a stored `provider_auth` (`"CHAP <user> <secret>"`): undefined when absent, the credentials
 * when well-formed, and `INVALID_ARGUMENT` naming the field (never its value) when it is anything
 * else, so a damaged record is refused instead of silently replaced with new credentials.
 */
export function parseProviderAuth(auth: string | undefined, volumeId: string): Result<ChapCredentials | undefined, VolkitError> {
  if (auth === undefined) return ok(undefined);
  const m = /^CHAP ([^ ]+) ([^ ]+)$/.exec(auth);
  const user = m?.[1];
  const password = m?.[2];
  if (password !== undefined) registerSecret(password);
  const bad = (why: string): Result<never, VolkitError> =>
    err(new VolkitError("INVALID_ARGUMENT", `volume ${volumeId}: providerAuth is malformed (${why}); expected "CHAP <user> <secret>"`, { source: "target", details: { volumeId, field: "providerAuth" } }));
  if (user === undefined || password === undefined) return bad("not three space-separated fields starting with CHAP");
  if (!ChapUserSchema.safeParse(user).success) return bad("the CHAP user has characters other than letters, digits and '._:@-'");
  if (!ChapSecretSchema.safeParse(password).success) return bad("the CHAP secret is not 12-64 of letters, digits and '._~+=/-'");
  return ok({ username: user, password });
}
