import type { ChapCredentials } from "../target-helper.js";
import { lioPortalString, type LioTpg, type LioVolumeState } from "./lio-parsers.js";

/**
 * Pure planners of targetcli command lines. The helper sends the lines to ONE `targetcli` process
 * on stdin (targetcli runs each line like its interactive shell does), so an export costs one
 * targetcli start instead of one per step. Every line uses an absolute path, since targetcli's
 * interactive shell starts in the node it last visited. Each plan holds only the steps the
 * current state lacks, so applying a plan twice changes nothing.
 */

/** An IP portal to listen on. */
export interface LioPortal {
  /** IPv4 or IPv6 address (no brackets). */
  readonly ip: string;
  /** TCP port. */
  readonly port: number;
}

/** What one volume's export must look like. */
export interface LioExportSpec {
  /** Target IQN (lower case, as LIO stores it). */
  readonly iqn: string;
  /** Block backstore name (`volume-<id>`). */
  readonly backstore: string;
  /** Backing block device. */
  readonly device: string;
  /** Portals of TPG 1, in order. */
  readonly portals: readonly LioPortal[];
  /** Whether initiators must present CHAP (`authentication=1`); the secrets live in each ACL. */
  readonly chap: ChapCredentials | undefined;
}

/** The LUN index a volume gets in its TPG (and the mapped LUN its initiators see). */
export const LIO_VOLUME_LUN = 0;

/** The path of a volume's TPG in targetcli. */
export function lioTpgPath(iqn: string): string {
  return `/iscsi/${iqn}/tpg1`;
}

function portalString(p: LioPortal): string {
  return lioPortalString({ ip_address: p.ip, port: p.port });
}

function wantedAttributes(spec: LioExportSpec): Record<string, number> {
  return { authentication: spec.chap ? 1 : 0, generate_node_acls: 0 };
}

function authLine(path: string, chap: ChapCredentials): string {
  return `${path} set auth userid=${chap.username} password=${chap.password}`;
}

/** Lines that make the volume's backstore, target, TPG, portals, LUN (and ACL CHAP) match `spec`. */
export function planLioExport(state: LioVolumeState, spec: LioExportSpec): string[] {
  const tpgPath = lioTpgPath(spec.iqn);
  const lines: string[] = [];
  if (!state.storageObject) lines.push(`/backstores/block create name=${spec.backstore} dev=${spec.device}`);
  if (!state.target) lines.push(`/iscsi create ${spec.iqn}`);
  const tpg: LioTpg | undefined = state.tpg;
  if (state.target && !tpg) lines.push(`/iscsi/${spec.iqn} create tag=1`);
  if (!tpg?.enable) lines.push(`${tpgPath} enable`);
  const attrs = wantedAttributes(spec);
  if (!tpg || Object.entries(attrs).some(([k, v]) => Number(tpg.attributes[k]) !== v)) {
    lines.push(`${tpgPath} set attribute ${Object.entries(attrs).map(([k, v]) => `${k}=${v}`).join(" ")}`);
  }
  // A new target gets targetcli's default portal 0.0.0.0:3260 (unless that is taken): drop it, and
  // every other portal not asked for, before creating ours (LIO cannot bind an IP on a port that
  // 0.0.0.0 holds).
  const wanted = spec.portals.map(portalString);
  const present = tpg ? tpg.portals.map(lioPortalString) : ["0.0.0.0:3260"];
  for (const p of present.filter((x) => !wanted.includes(x))) {
    const [ip, port] = splitPortal(p);
    lines.push(`${tpgPath}/portals delete ip_address=${ip} ip_port=${port}`);
  }
  for (const p of spec.portals.filter((x) => !present.includes(portalString(x)))) {
    lines.push(`${tpgPath}/portals create ip_address=${p.ip} ip_port=${p.port}`);
  }
  if (!state.lun) lines.push(`${tpgPath}/luns create storage_object=/backstores/block/${spec.backstore} lun=${LIO_VOLUME_LUN} add_mapped_luns=true`);
  if (spec.chap && tpg) {
    for (const acl of tpg.node_acls) {
      if (acl.chap_userid !== spec.chap.username || acl.chap_password !== spec.chap.password) lines.push(authLine(`${tpgPath}/acls/${acl.node_wwn}`, spec.chap));
    }
  }
  return lines;
}

function splitPortal(p: string): [string, string] {
  const i = p.lastIndexOf(":");
  return [p.slice(0, i).replace(/^\[|\]$/g, ""), p.slice(i + 1)];
}

/** How the volume's LIO objects differ from `spec`; empty when the export is complete. */
export function lioExportDifferences(state: LioVolumeState, spec: LioExportSpec): string[] {
  const diffs: string[] = [];
  if (!state.storageObject) diffs.push(`block backstore ${spec.backstore} is missing`);
  else if (state.storageObject.dev !== spec.device) diffs.push(`block backstore ${spec.backstore} uses ${state.storageObject.dev ?? "no device"}, not ${spec.device}`);
  if (!state.target) return [...diffs, `target ${spec.iqn} is missing`];
  const tpg = state.tpg;
  if (!tpg) return [...diffs, `target ${spec.iqn} has no tpg1`];
  if (!tpg.enable) diffs.push("tpg1 is disabled");
  for (const [k, v] of Object.entries(wantedAttributes(spec))) {
    if (Number(tpg.attributes[k]) !== v) diffs.push(`tpg1 attribute ${k} is ${String(tpg.attributes[k])}, not ${v}`);
  }
  const have = tpg.portals.map(lioPortalString).sort();
  const want = spec.portals.map(portalString).sort();
  if (have.join(",") !== want.join(",")) diffs.push(`tpg1 portals are [${have.join(", ")}], not [${want.join(", ")}]`);
  if (!state.lun) diffs.push(`tpg1 has no LUN for ${spec.backstore}`);
  else if (state.lun.index !== LIO_VOLUME_LUN) diffs.push(`${spec.backstore} is LUN ${state.lun.index}, not ${LIO_VOLUME_LUN}`);
  return diffs;
}

/**
 * Lines that let `initiator` in: its ACL, the mapped LUN and its CHAP credentials. (No
 * `write_protect=` argument: targetcli 2.1.53 passes the string on, and rtslib treats "false" as
 * true.)
 */
export function planLioAllow(state: LioVolumeState, iqn: string, initiator: string, chap: ChapCredentials | undefined): string[] {
  const tpgPath = lioTpgPath(iqn);
  const aclPath = `${tpgPath}/acls/${initiator}`;
  const acl = state.tpg?.node_acls.find((a) => a.node_wwn === initiator);
  const lines: string[] = [];
  if (!acl) lines.push(`${tpgPath}/acls create wwn=${initiator} add_mapped_luns=false`);
  const tpgLun = state.lun?.index ?? LIO_VOLUME_LUN;
  const mapped = acl?.mapped_luns.find((m) => m.index === LIO_VOLUME_LUN);
  if (mapped && mapped.tpg_lun !== tpgLun) lines.push(`${aclPath} delete mapped_lun=${LIO_VOLUME_LUN}`);
  if (!mapped || mapped.tpg_lun !== tpgLun) lines.push(`${aclPath} create mapped_lun=${LIO_VOLUME_LUN} tpg_lun_or_backstore=${tpgLun}`);
  if (chap && (acl?.chap_userid !== chap.username || acl.chap_password !== chap.password)) lines.push(authLine(aclPath, chap));
  return lines;
}

/** Lines that remove the ACL of `initiator`, or of every initiator when undefined. */
export function planLioDeny(state: LioVolumeState, iqn: string, initiator: string | undefined): string[] {
  const acls = state.tpg?.node_acls ?? [];
  return acls.filter((a) => initiator === undefined || a.node_wwn === initiator).map((a) => `${lioTpgPath(iqn)}/acls delete wwn=${a.node_wwn}`);
}

/** Lines that delete the target (with its TPG, LUN and ACLs) and the backstore. */
export function planLioRemove(state: LioVolumeState, iqn: string, backstore: string): string[] {
  const lines: string[] = [];
  if (state.target) lines.push(`/iscsi delete wwn=${iqn}`);
  if (state.storageObject) lines.push(`/backstores/block delete name=${backstore}`);
  return lines;
}

/** The full stdin of one targetcli run: the lines, a save to `saveFile`, and `exit`. */
export function lioBatch(lines: readonly string[], saveFile: string): string {
  return [...lines, `/ saveconfig savefile=${saveFile}`, "exit", ""].join("\n");
}
