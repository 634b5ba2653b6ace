import { ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import { parseNodeRecords } from "../../connectors/iscsi/iscsi-parsers.js";
import { listIscsiSessions, sessionLuns, type IscsiSession, type SessionLun } from "../../connectors/iscsi/iscsi-sysfs.js";
import { listKrbdMappings, type KrbdMapping } from "../../connectors/rbd/rbd-sysfs.js";
import type { CommandRunner } from "../../exec/runner.js";
import { multipathHolder, orMissing, scsiWwid, type DmDevice } from "../../host/block-sysfs.js";
import type { HostFs } from "../../host/host-fs.js";
import { parseFindmnt } from "../../remotefs/remotefs-parsers.js";
import { lunKey, ownsTarget, rbdKey, volumeIdIn, type HostResidue, type ResidueClaims, type ResidueOwnership } from "./host-residue.js";

/**
 * The scan behind `host cleanup`'s plan: what the kernel holds (iSCSI sessions and their LUNs,
 * multipath maps over them, NFS mounts, krbd mappings, read with the connectors' own sysfs and
 * findmnt readers), minus what live attachments claim, minus what is not volkit's. The result
 * carries, per removal unit, what the cleanup needs to run the connector's disconnect.
 */

/** One path of an unclaimed target LUN. */
export interface ResidueLunPath {
  /** The session it goes through. */
  readonly session: IscsiSession;
  /** Its disk (`sdc`), once bound. */
  readonly disk: string | undefined;
}

/** An iSCSI removal unit: one unclaimed LUN of a target (all its paths), or a session with no LUN at all. */
export interface IscsiResidueUnit {
  /** Protocol. */
  readonly protocol: "iscsi";
  /** Unit key. */
  readonly unit: string;
  /** Target IQN. */
  readonly iqn: string;
  /** LUN (0 for a session without any LUN). */
  readonly lun: number;
  /** Its paths. */
  readonly paths: readonly ResidueLunPath[];
  /** The multipath map over its disks, if any. */
  readonly map: DmDevice | undefined;
  /** The WWID of its disks (udev form), when readable. */
  readonly wwid: string | undefined;
}

/** A node record removal unit: one (target, portal) record no session uses. */
export interface IscsiNodeResidueUnit {
  /** Protocol. */
  readonly protocol: "iscsi-node";
  /** Unit key. */
  readonly unit: string;
  /** Target IQN. */
  readonly iqn: string;
  /** Portal `host:port` as iscsiadm prints it. */
  readonly portal: string;
}

/** An NFS removal unit. */
export interface NfsResidueUnit {
  /** Protocol. */
  readonly protocol: "nfs";
  /** Unit key. */
  readonly unit: string;
  /** The mount point. */
  readonly mountPoint: string;
  /** The share. */
  readonly share: string;
}

/** An RBD removal unit. */
export interface RbdResidueUnit {
  /** Protocol. */
  readonly protocol: "rbd";
  /** Unit key. */
  readonly unit: string;
  /** The mapping. */
  readonly mapping: KrbdMapping;
}

/** A removal unit. */
export type ResidueUnit = IscsiResidueUnit | IscsiNodeResidueUnit | NfsResidueUnit | RbdResidueUnit;

/** The plan: items to show and units to run. */
export interface ResidueScan {
  /** What the operator sees. */
  readonly items: readonly HostResidue[];
  /** What the cleanup runs, by unit key. */
  readonly units: ReadonlyMap<string, ResidueUnit>;
}

/** What a scan reads the host through. */
export interface ResidueScanDeps {
  /** /sys of this host. */
  readonly fs: HostFs;
  /** Runs findmnt and `iscsiadm -m node`. */
  readonly runner: CommandRunner;
}

const portalOf = (s: IscsiSession): string => (s.address.includes(":") ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`);
const sessionNameOf = (s: IscsiSession): string => `${portalOf(s)},${s.targetIqn}`;
const withVolume = (name: string): { volumeId?: string } => {
  const id = volumeIdIn(name);
  return id === undefined ? {} : { volumeId: id };
};

interface LunFacts {
  readonly session: IscsiSession;
  readonly lun: SessionLun;
  readonly wwid: string | undefined;
  readonly map: DmDevice | undefined;
}

function sessionFacts(fs: HostFs, sessions: readonly IscsiSession[], owner: ResidueOwnership): ResultAsync<{ session: IscsiSession; luns: LunFacts[] }[], VolkitError> {
  return ResultAsync.combine(
    sessions
      .filter((s) => ownsTarget(owner, s.targetIqn))
      .map((session) =>
        sessionLuns(fs, session).andThen((luns) =>
          ResultAsync.combine(
            luns.map((lun) =>
              lun.disk === undefined
                ? okAsync<LunFacts, VolkitError>({ session, lun, wwid: undefined, map: undefined })
                : ResultAsync.combine([scsiWwid(fs, lun.disk), multipathHolder(fs, lun.disk)] as const).map(([wwid, map]): LunFacts => ({ session, lun, wwid, map })),
            ),
          ).map((facts) => ({ session, luns: facts })),
        ),
      ),
  );
}

function claimedLun(claims: ResidueClaims, f: LunFacts): string | undefined {
  const byLun = claims.by.get(lunKey(f.session.targetIqn, f.lun.lun));
  if (claims.iscsiLuns.has(lunKey(f.session.targetIqn, f.lun.lun))) return byLun ?? "an attachment";
  if (f.wwid !== undefined && claims.wwids.has(f.wwid)) return claims.by.get(f.wwid) ?? "an attachment";
  return undefined;
}

function iscsiResidue(fs: HostFs, all: readonly IscsiSession[], owner: ResidueOwnership, claims: ResidueClaims): ResultAsync<{ items: HostResidue[]; units: IscsiResidueUnit[] }, VolkitError> {
  return sessionFacts(fs, all, owner).map((sessions) => {
    const items: HostResidue[] = [];
    const units = new Map<string, { iqn: string; lun: number; paths: ResidueLunPath[]; map: DmDevice | undefined; wwid: string | undefined }>();
    for (const { session, luns } of sessions) {
      const claimedHere = luns.filter((f) => claimedLun(claims, f) !== undefined);
      const free = luns.filter((f) => claimedLun(claims, f) === undefined);
      for (const f of free) {
        const unit = `iscsi:${session.targetIqn}:lun${f.lun.lun}`;
        const u = units.get(unit) ?? { iqn: session.targetIqn, lun: f.lun.lun, paths: [], map: undefined, wwid: undefined };
        u.paths.push({ session, disk: f.lun.disk });
        u.map ??= f.map;
        u.wwid ??= f.wwid;
        units.set(unit, u);
        const why = `LUN ${f.lun.lun} of ${session.targetIqn} at ${portalOf(session)}: no live attachment record claims it`;
        if (f.lun.disk !== undefined) items.push({ kind: "scsi-device", name: `/dev/${f.lun.disk}`, ...withVolume(session.targetIqn), reason: why, removal: "iscsi-disconnect", unit });
      }
      const name = sessionNameOf(session);
      if (luns.length === 0) {
        const unit = `iscsi:${session.targetIqn}:lun0`;
        if (!units.has(unit)) units.set(unit, { iqn: session.targetIqn, lun: 0, paths: [], map: undefined, wwid: undefined });
        units.get(unit)?.paths.push({ session, disk: undefined });
        items.push({ kind: "iscsi-session", name, ...withVolume(session.targetIqn), reason: "session to a volkit target with no LUN at all", removal: "iscsi-disconnect", unit });
      } else if (claimedHere.length === 0) {
        // Logged out by the disconnect of its last LUN (units run in the order they first appear);
        // a session a claimed LUN uses is never listed.
        const unit = `iscsi:${session.targetIqn}:lun${free.at(-1)?.lun.lun ?? 0}`;
        items.push({ kind: "iscsi-session", name, ...withVolume(session.targetIqn), reason: `no live attachment record claims any of its ${luns.length} LUN(s)`, removal: "iscsi-disconnect", unit });
      }
    }
    const out: IscsiResidueUnit[] = [];
    for (const [unit, u] of units) {
      if (u.map !== undefined) {
        items.push({ kind: "multipath-map", name: `${u.map.dm} (${u.map.name})`, ...withVolume(u.iqn), reason: `map over unclaimed LUN ${u.lun} of ${u.iqn}`, removal: "iscsi-disconnect", unit });
      }
      out.push({ protocol: "iscsi", unit, ...u });
    }
    return { items, units: out };
  });
}

/**
 * Node records (`iscsiadm -m node`) of volkit's targets with no session on that portal and no live
 * attachment naming the target. None while an attachment of this host is being set up without
 * connection info yet (its login may be about to use any of them). No iscsiadm: none.
 */
function nodeResidue(deps: ResidueScanDeps, sessions: readonly IscsiSession[], owner: ResidueOwnership, claims: ResidueClaims, ctx: OperationContext): ResultAsync<{ items: HostResidue[]; units: IscsiNodeResidueUnit[] }, VolkitError> {
  const none = { items: [], units: [] };
  if (claims.attachPending) return okAsync(none);
  return deps.runner
    // 21: no records at all.
    .run({ argv: ["iscsiadm", "-m", "node"], okExitCodes: [0, 21], env: { LC_ALL: "C" }, timeoutMs: 30_000, signal: ctx.signal })
    .andThen((out) => parseNodeRecords(out.exitCode === 0 ? out.stdout : ""))
    .map((records) => {
      const inSession = new Set(sessions.map((s) => `${s.targetIqn.toLowerCase()}|${portalOf(s)}`));
      const units = records
        .filter((r) => ownsTarget(owner, r.iqn) && !claims.iscsiTargets.has(r.iqn.toLowerCase()) && !inSession.has(`${r.iqn.toLowerCase()}|${r.portal}`))
        .map((r): IscsiNodeResidueUnit => ({ protocol: "iscsi-node", unit: `iscsi-node:${r.iqn}|${r.portal}`, iqn: r.iqn, portal: r.portal }));
      const items = units.map(
        (u): HostResidue => ({ kind: "iscsi-node", name: `${u.portal},${u.iqn}`, ...withVolume(u.iqn), reason: "node record of a volkit target with no session and no live attachment record", removal: "iscsi-node-delete", unit: u.unit }),
      );
      return { items, units };
    })
    .orElse((e) => (e.code === "COMMAND_NOT_FOUND" ? okAsync(none) : errAsync(e)));
}

function nfsResidue(deps: ResidueScanDeps, owner: ResidueOwnership, claims: ResidueClaims, ctx: OperationContext): ResultAsync<{ items: HostResidue[]; units: NfsResidueUnit[] }, VolkitError> {
  const base = owner.mountPointBase.replace(/\/+$/, "");
  return deps.runner
    .run({ argv: ["findmnt", "-J", "-l", "-k", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"], okExitCodes: [0, 1], env: { LC_ALL: "C" }, timeoutMs: 30_000, signal: ctx.signal })
    .andThen((out) => parseFindmnt(out.stdout))
    .map((mounts) => {
      const ours = mounts.filter((m) => m.target.startsWith(`${base}/`) && m.fstype.startsWith("nfs") && !claims.nfsShares.has(m.source));
      const units = ours.map((m): NfsResidueUnit => ({ protocol: "nfs", unit: `nfs:${m.target}`, mountPoint: m.target, share: m.source }));
      const items = units.map((u): HostResidue => ({ kind: "nfs-mount", name: u.mountPoint, reason: `${u.share} is mounted under ${base} and no live attachment record uses it`, removal: "nfs-unmount", unit: u.unit }));
      return { items, units };
    });
}

function rbdResidue(fs: HostFs, owner: ResidueOwnership, claims: ResidueClaims): ResultAsync<{ items: HostResidue[]; units: RbdResidueUnit[] }, VolkitError> {
  return listKrbdMappings(fs).map((mappings) => {
    const ours = mappings.filter((m) => owner.rbdPools.has(m.pool) && m.snapshot === undefined && !claims.rbdImages.has(rbdKey(m.pool, m.namespace || undefined, m.image)));
    const units = ours.map((mapping): RbdResidueUnit => ({ protocol: "rbd", unit: `rbd:${mapping.id}`, mapping }));
    const items = units.map(
      (u): HostResidue => ({
        kind: "rbd-mapping",
        name: u.mapping.device,
        ...withVolume(u.mapping.image),
        reason: `${u.mapping.pool}/${u.mapping.namespace ? `${u.mapping.namespace}/` : ""}${u.mapping.image} is mapped and no live attachment record claims it`,
        removal: "rbd-unmap",
        unit: u.unit,
      }),
    );
    return { items, units };
  });
}

/** Reads this host and returns what no live attachment claims (see {@link ResidueScan}). */
export function scanHostResidue(deps: ResidueScanDeps, owner: ResidueOwnership, claims: ResidueClaims, ctx: OperationContext): ResultAsync<ResidueScan, VolkitError> {
  const rbd = orMissing(rbdResidue(deps.fs, owner, claims)).map((r) => r ?? { items: [], units: [] });
  // One read of the sessions serves the LUN scan and the node records' "no session" check.
  const iscsiScan = listIscsiSessions(deps.fs).andThen((sessions) => ResultAsync.combine([iscsiResidue(deps.fs, sessions, owner, claims), nodeResidue(deps, sessions, owner, claims, ctx)] as const));
  return ResultAsync.combine([iscsiScan, nfsResidue(deps, owner, claims, ctx), rbd] as const).map(([[iscsi, nodes], nfs, krbd]) => ({
    items: [...iscsi.items, ...nodes.items, ...nfs.items, ...krbd.items],
    units: new Map<string, ResidueUnit>([...iscsi.units, ...nodes.units, ...nfs.units, ...krbd.units].map((u) => [u.unit, u])),
  }));
}
