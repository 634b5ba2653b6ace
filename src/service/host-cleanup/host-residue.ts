import { z } from "zod";
import type { AttachmentRecord } from "../records/attachment-record.js";
import { LIVE_ATTACH_STATUSES } from "../state-machine.js";
import type { IscsiConnectionInfo } from "../../core/records.js";
import { hasControlChar } from "../../core/validation.js";

/**
 * What `host cleanup` finds and removes: objects on this host (iSCSI sessions and their SCSI
 * disks, multipath maps, NFS mounts, kernel RBD mappings) that belong to volkit's backends but that
 * no live attachment record claims, because a crash, a hand-deleted record or an attach made
 * outside the service left them. This file holds the plan's shape and the two questions asked of
 * the store: which objects are volkit's, and which of them a live attachment still uses.
 */

/** Kinds of residue. */
export const HOST_RESIDUE_KINDS = ["iscsi-session", "scsi-device", "multipath-map", "iscsi-node", "nfs-mount", "rbd-mapping"] as const;
/** A residue kind. */
export type HostResidueKind = (typeof HOST_RESIDUE_KINDS)[number];

/** The command groups that remove residue, each through the connector's own disconnect path. */
export const HOST_CLEANUP_REMOVALS = {
  /** The iSCSI connector's disconnect of one target LUN: flush, `multipath -f`, delete the disks, log out a session no other LUN uses, delete its node record. */
  "iscsi-disconnect": "blockdev --flushbufs; multipath -f; echo 1 > /sys/block/<sd>/device/delete; iscsiadm --logout and --op delete when no other LUN uses the session",
  /** Deleting a node record of a volkit target that no session uses and no live attachment names (a login that never happened, a logout whose delete did not run). */
  "iscsi-node-delete": "iscsiadm -m node -T <iqn> -p <portal> --op delete",
  /** Unmounting an NFS share volkit mounted (the mount manager's unmount: `umount`). */
  "nfs-unmount": "umount <mount point>",
  /** The RBD connector's disconnect: flush, `rbd device unmap`. */
  "rbd-unmap": "blockdev --flushbufs; rbd device unmap",
} as const;
/** A removal command group. */
export type HostCleanupRemoval = keyof typeof HOST_CLEANUP_REMOVALS;

/** One object on this host that no attachment record claims. */
export interface HostResidue {
  /** What it is. */
  readonly kind: HostResidueKind;
  /** Its name: `/dev/sdc`, `dm-3 (3600140…)`, `127.0.0.1:3260,iqn…` (portal,target), a mount point, `/dev/rbd0`. */
  readonly name: string;
  /** The volume it belongs to, when its name tells (`volume-<id>`). */
  readonly volumeId?: string;
  /** Why it is residue. */
  readonly reason: string;
  /** The command group that removes it. */
  readonly removal: HostCleanupRemoval;
  /**
   * The removal unit it belongs to (`iscsi:<iqn>:lun<N>`, `nfs:<mount point>`, `rbd:<id>`): the
   * items of one unit go together (a LUN's disks, its map and a session only it used).
   */
  readonly unit: string;
}

/** Text of a residue item: bounded, no control characters or bidirectional overrides (it is printed and logged). */
const ResidueText = z
  .string()
  .min(1)
  .max(4096)
  .refine((s) => !hasControlChar(s), "must not contain control characters or bidirectional overrides");

/**
 * A residue item as a caller hands it back to `hostCleanup`. Only its `unit` selects what is
 * removed, and only among the units a fresh scan finds; the rest is checked so that what the
 * report echoes back is well-formed.
 */
export const HostResidueSchema = z.strictObject({
  kind: z.enum(HOST_RESIDUE_KINDS),
  name: ResidueText,
  volumeId: ResidueText.exactOptional(),
  reason: ResidueText,
  removal: z.enum(Object.keys(HOST_CLEANUP_REMOVALS) as [HostCleanupRemoval, ...HostCleanupRemoval[]]),
  unit: ResidueText,
});
/** The items of one cleanup (a plan, or part of one). */
export const HostResidueListSchema = z.array(HostResidueSchema).max(10_000);

/** An item `host cleanup` could not remove. */
export interface HostCleanupFailure extends HostResidue {
  /** The error's code. */
  readonly errorCode: string;
  /** What went wrong. */
  readonly message: string;
}

/** What `host cleanup` did. */
export interface HostCleanupReport {
  /** Removed (or already gone when the cleanup ran). */
  readonly removed: readonly HostResidue[];
  /** Not removed, with why. */
  readonly failed: readonly HostCleanupFailure[];
  /** Left alone: no longer residue when the cleanup looked again (claimed since the plan was made). */
  readonly skipped: readonly HostResidue[];
}

/** The default IQN prefix of volkit's target helpers (LIO, tgt). */
export const DEFAULT_IQN_PREFIX = "iqn.2010-10.org.openstack:";

/** Which objects on this host are volkit's. */
export interface ResidueOwnership {
  /** Target IQN prefixes of the configured backends' target helpers. */
  readonly iqnPrefixes: readonly string[];
  /** Target IQNs any attachment record (of any status) was handed. */
  readonly targetIqns: ReadonlySet<string>;
  /** RBD pools of the configured backends and of any attachment record. */
  readonly rbdPools: ReadonlySet<string>;
  /** Where volkit mounts NFS shares. */
  readonly mountPointBase: string;
}

/** What live attachments use on this host. */
export interface ResidueClaims {
  /** `iqn|lun` of every path of a live iSCSI attachment. */
  readonly iscsiLuns: ReadonlySet<string>;
  /** Target IQNs (lower case) of live iSCSI attachments: their node records are in use. */
  readonly iscsiTargets: ReadonlySet<string>;
  /** Whether a live attachment of this host has no connection info yet (an attach being set up: any node record may be its). */
  readonly attachPending: boolean;
  /** WWIDs of live attachments' devices. */
  readonly wwids: ReadonlySet<string>;
  /** NFS shares (`host:/export`) of live attachments. */
  readonly nfsShares: ReadonlySet<string>;
  /** `pool/namespace/image` of live RBD attachments. */
  readonly rbdImages: ReadonlySet<string>;
  /** Attachment ids, by the key they claim (for the plan's reasons). */
  readonly by: ReadonlyMap<string, string>;
}

/** The key of one target LUN in {@link ResidueClaims.iscsiLuns}. */
export const lunKey = (iqn: string, lun: number): string => `${iqn.toLowerCase()}|${lun}`;

/** The key of one RBD image in {@link ResidueClaims.rbdImages}. */
export const rbdKey = (pool: string, namespace: string | undefined, image: string): string => `${pool}/${namespace ?? ""}/${image}`;

/** Every (iqn, portal, lun) path of an iSCSI connection. */
export function iscsiPaths(info: IscsiConnectionInfo): { iqn: string; portal: string; lun: number }[] {
  const portals = info.targetPortals ?? [info.targetPortal];
  return portals.map((portal, i) => ({ portal, iqn: info.targetIqns?.[i] ?? info.targetIqn, lun: info.targetLuns?.[i] ?? info.targetLun }));
}

const LIVE: ReadonlySet<string> = new Set(LIVE_ATTACH_STATUSES);

/**
 * What this host's live attachments use. An attachment is live in `reserved`, `attaching`,
 * `attached`, `detaching` and `error_detaching`: the last is the detach's (or reconcile's) to
 * finish, never the cleanup's. Attachments of other hosts are ignored.
 */
export function claimsOf(attachments: readonly AttachmentRecord[], hostName: string): ResidueClaims {
  const iscsiLuns = new Set<string>();
  const iscsiTargets = new Set<string>();
  let attachPending = false;
  const wwids = new Set<string>();
  const nfsShares = new Set<string>();
  const rbdImages = new Set<string>();
  const by = new Map<string, string>();
  for (const att of attachments) {
    if (att.host !== hostName || !LIVE.has(att.attachStatus)) continue;
    const info = att.connectionInfo;
    if (info === undefined) attachPending = true;
    if (info?.type === "iscsi") {
      for (const p of iscsiPaths(info)) {
        iscsiTargets.add(p.iqn.toLowerCase());
        iscsiLuns.add(lunKey(p.iqn, p.lun));
        by.set(lunKey(p.iqn, p.lun), att.id);
      }
    } else if (info?.type === "nfs") {
      nfsShares.add(info.export);
      by.set(info.export, att.id);
    } else if (info?.type === "rbd") {
      rbdImages.add(rbdKey(info.pool, info.namespace, info.image));
      by.set(rbdKey(info.pool, info.namespace, info.image), att.id);
    }
    if (att.device?.scsiWwn !== undefined) {
      wwids.add(att.device.scsiWwn);
      by.set(att.device.scsiWwn, att.id);
    }
  }
  return { iscsiLuns, iscsiTargets, attachPending, wwids, nfsShares, rbdImages, by };
}

/** A backend's config as the service holds it (driver-specific fields read loosely). */
export interface BackendConfigLike {
  /** The driver's config object. */
  readonly config: Readonly<Record<string, unknown>>;
}

const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Which objects are volkit's: targets of the configured target helpers (their IQN prefix) and every
 * target IQN an attachment record was ever handed (an array's shared target), the configured RBD
 * pools and those of any record, NFS mounts under the mount point base.
 */
export function ownershipOf(backends: readonly BackendConfigLike[], attachments: readonly AttachmentRecord[], mountPointBase: string): ResidueOwnership {
  const iqnPrefixes = new Set<string>();
  const rbdPools = new Set<string>();
  for (const { config } of backends) {
    const target = config.target;
    if (isRecord(target)) iqnPrefixes.add(typeof target.iqnPrefix === "string" ? target.iqnPrefix : DEFAULT_IQN_PREFIX);
    if (config.driver === "rbd" && typeof config.pool === "string") rbdPools.add(config.pool);
  }
  const targetIqns = new Set<string>();
  for (const att of attachments) {
    const info = att.connectionInfo;
    if (info?.type === "iscsi") for (const p of iscsiPaths(info)) targetIqns.add(p.iqn.toLowerCase());
    if (info?.type === "rbd") rbdPools.add(info.pool);
  }
  return { iqnPrefixes: [...iqnPrefixes].map((p) => p.toLowerCase()), targetIqns, rbdPools, mountPointBase };
}

/** Whether a target IQN is volkit's. */
export function ownsTarget(owner: ResidueOwnership, iqn: string): boolean {
  const lower = iqn.toLowerCase();
  return owner.targetIqns.has(lower) || owner.iqnPrefixes.some((p) => lower.startsWith(p));
}

/** The volume id in a `…volume-<id>` name, if any. */
export function volumeIdIn(name: string): string | undefined {
  return /volume-([A-Za-z0-9][A-Za-z0-9_-]{0,63})$/.exec(name)?.[1];
}
