import type { Result } from "neverthrow";
import { z } from "zod";
import type { VolkitError } from "../../core/errors.js";
import { parseJsonWith } from "../../core/parse-json.js";

/**
 * Pure parser of the JSON that `targetcli saveconfig` (rtslib-fb's `RTSRoot.dump()`) writes. Only the
 * fields volkit reads are declared; every other key is ignored, so newer rtslib versions still parse.
 * The JSON holds the CHAP secrets of every ACL of every volume: they are registered for redaction
 * as soon as the text is read (even when it is corrupt), and no error quotes the text.
 */

const AttributesSchema = z.record(z.string(), z.union([z.number(), z.string()]));

const LioStorageObjectSchema = z.object({
  name: z.string(),
  plugin: z.string(),
  dev: z.string().optional(),
  wwn: z.string().optional(),
});

const LioMappedLunSchema = z.object({
  index: z.number().int(),
  tpg_lun: z.number().int(),
  write_protect: z.boolean().optional(),
});

const LioNodeAclSchema = z.object({
  node_wwn: z.string(),
  chap_userid: z.string().optional(),
  chap_password: z.string().optional(),
  mapped_luns: z.array(LioMappedLunSchema).default([]),
});

const LioTpgSchema = z.object({
  tag: z.number().int(),
  enable: z.union([z.boolean(), z.number()]).transform((v) => v === true || v === 1),
  attributes: AttributesSchema.default({}),
  portals: z.array(z.object({ ip_address: z.string(), port: z.number().int() })).default([]),
  luns: z.array(z.object({ index: z.number().int(), storage_object: z.string() })).default([]),
  node_acls: z.array(LioNodeAclSchema).default([]),
});

const LioTargetSchema = z.object({
  fabric: z.string(),
  wwn: z.string(),
  tpgs: z.array(LioTpgSchema).default([]),
});

/** zod schema of the rtslib saveconfig JSON (the parts volkit reads). */
export const LioSaveConfigSchema = z.object({
  storage_objects: z.array(LioStorageObjectSchema).default([]),
  targets: z.array(LioTargetSchema).default([]),
});

/** The LIO configuration (the parts volkit reads). */
export type LioConfig = z.output<typeof LioSaveConfigSchema>;
/** One storage object (backstore). */
export type LioStorageObject = z.output<typeof LioStorageObjectSchema>;
/** One fabric target. */
export type LioTarget = z.output<typeof LioTargetSchema>;
/** One target portal group. */
export type LioTpg = z.output<typeof LioTpgSchema>;
/** One initiator ACL of a TPG. */
export type LioNodeAcl = z.output<typeof LioNodeAclSchema>;

/** An empty configuration (what a host with no saved config has). */
export const EMPTY_LIO_CONFIG: LioConfig = { storage_objects: [], targets: [] };

/**
 * Parses a saveconfig JSON document. Every secret-shaped field (`chap_password`,
 * `chap_mutual_password`…) is registered for redaction first; errors name the byte or the field,
 * never the text (it holds every volume's CHAP secrets).
 *
 * @example
 * ```ts
 * const config = parseLioSaveConfig(out.stdout)._unsafeUnwrap();
 * const target = config.targets.find((t) => t.wwn === iqn);
 * ```
 */
export function parseLioSaveConfig(stdout: string): Result<LioConfig, VolkitError> {
  return parseJsonWith(LioSaveConfigSchema, stdout, { what: "LIO saveconfig", source: "lio" });
}

/** A portal as volkit writes it (`ip:port`, `[v6]:port`) from rtslib's `ip_address` and `port`. */
export function lioPortalString(portal: { readonly ip_address: string; readonly port: number }): string {
  const ip = portal.ip_address.replace(/^\[|\]$/g, "");
  return ip.includes(":") ? `[${ip}]:${portal.port}` : `${ip}:${portal.port}`;
}

/** Everything LIO holds for one volume. */
export interface LioVolumeState {
  /** The block backstore `volume-<id>`, if it exists. */
  readonly storageObject: LioStorageObject | undefined;
  /** The iSCSI target, if it exists. */
  readonly target: LioTarget | undefined;
  /** Its TPG 1, if it exists. */
  readonly tpg: LioTpg | undefined;
  /** The TPG LUN mapping the backstore, if it exists. */
  readonly lun: { readonly index: number; readonly storage_object: string } | undefined;
}

/** The LIO objects of one volume: block backstore `backstore`, iSCSI target `iqn`, TPG 1. */
export function findLioVolume(config: LioConfig, iqn: string, backstore: string): LioVolumeState {
  const storageObject = config.storage_objects.find((s) => s.plugin === "block" && s.name === backstore);
  const target = config.targets.find((t) => t.fabric === "iscsi" && t.wwn === iqn);
  const tpg = target?.tpgs.find((t) => t.tag === 1);
  const lun = tpg?.luns.find((l) => l.storage_object === `/backstores/block/${backstore}`);
  return { storageObject, target, tpg, lun };
}
