import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { checkOperationOptions, guardResult } from "../../core/operation.js";
import { validate } from "../../core/validation.js";
import { createOperationContext, type OperationContext, type OperationOptions } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { EventBus, Logger } from "../../core/events.js";
import type { AttachedDeviceInput, ConnectionInfoInput } from "../../core/records.js";
import type { ConnectorSource } from "../../connectors/connector.js";
import type { CommandRunner } from "../../exec/runner.js";
import { createHostFs, type HostFs } from "../../host/host-fs.js";
import { DEFAULT_MOUNT_POINT_BASE } from "../../remotefs/nfs-share.js";
import type { ServiceContext } from "../service-context.js";
import type { AttachmentRecord } from "../records/attachment-record.js";
import { HostResidueListSchema, claimsOf, ownershipOf, volumeIdIn, type BackendConfigLike, type HostCleanupFailure, type HostCleanupReport, type HostResidue } from "./host-residue.js";
import { scanHostResidue, type IscsiNodeResidueUnit, type IscsiResidueUnit, type NfsResidueUnit, type RbdResidueUnit, type ResidueScan, type ResidueUnit } from "./host-residue-scan.js";

/**
 * `host cleanup`: plan (scan this host against the attachment records) and run (remove each unit
 * of residue through the connector's own disconnect: the iSCSI connector flushes the device, flushes
 * and removes the map, deletes the disks and logs out a session only when no other LUN uses it; the
 * RBD connector flushes and unmaps). Running re-scans first and removes only what is still residue,
 * so an item a caller hands back never names an object the scan did not find, and one claimed since
 * the plan is left alone.
 */

/** RBD connection info as a caller writes it. */
type RbdInfoInput = Extract<ConnectionInfoInput, { type: "rbd" }>;

/** What a cleanup reads and acts through. */
export interface HostCleanupDeps {
  /** /sys of this host. */
  readonly fs: HostFs;
  /** Runs findmnt and umount. */
  readonly runner: CommandRunner;
  /** This host's connectors (the service's). */
  readonly host: ConnectorSource;
  /** Host name attachments are recorded under. */
  readonly hostName: string;
  /** The configured backends. */
  readonly backends: readonly BackendConfigLike[];
  /** Every attachment record (all statuses: past ones tell which targets and pools are volkit's). */
  readonly attachments: () => ResultAsync<readonly AttachmentRecord[], VolkitError>;
  /** Where volkit mounts NFS shares. */
  readonly mountPointBase: string;
  /** Logger. */
  readonly logger: Logger;
  /** Operation events. */
  readonly events: EventBus;
}

/** A service's cleanup dependencies: its runner, connectors, backends and attachment records; `/sys` of `fs` (default this machine's). */
export function hostCleanupDeps(sc: ServiceContext, fs: HostFs = createHostFs()): HostCleanupDeps {
  const nfs = sc.config.host.connectors.nfs as { readonly mount?: { readonly mountPointBase?: string } } | undefined;
  return {
    fs,
    runner: sc.runner,
    host: sc.host,
    hostName: sc.hostName,
    backends: sc.config.backends,
    attachments: () => sc.store.attachments.list({}),
    mountPointBase: nfs?.mount?.mountPointBase ?? DEFAULT_MOUNT_POINT_BASE,
    logger: sc.logger,
    events: sc.operations,
  };
}

/** A device that names nothing: the iSCSI connector finds the LUN's disks from its session. */
const UNKNOWN_DEVICE = "/dev/volkit-unknown-device";
/** The volume id handed to a connector when the residue's name tells none. */
const RESIDUE_VOLUME_ID = "host-cleanup";

function context(deps: HostCleanupDeps, operation: string, options: OperationOptions): OperationContext {
  return createOperationContext({ operation, source: "service", logger: deps.logger, events: deps.events, ...options });
}

function scan(deps: HostCleanupDeps, ctx: OperationContext): ResultAsync<{ scan: ResidueScan; attachments: readonly AttachmentRecord[] }, VolkitError> {
  return deps.attachments().andThen((attachments) =>
    scanHostResidue(deps, ownershipOf(deps.backends, attachments, deps.mountPointBase), claimsOf(attachments, deps.hostName), ctx).map((s) => ({ scan: s, attachments })),
  );
}

/** What on this host no live attachment record claims, each item with why and the command group that removes it. */
export function planHostCleanup(deps: HostCleanupDeps, options: OperationOptions = {}): ResultAsync<readonly HostResidue[], VolkitError> {
  const usable = checkOperationOptions(options, "service");
  if (usable.isErr()) return errAsync(usable.error);
  return guardResult(() => scan(deps, context(deps, "planHostCleanup", options)).map((s) => s.scan.items), "service");
}

function iscsiRemoval(deps: HostCleanupDeps, u: IscsiResidueUnit, ctx: OperationContext): ResultAsync<unknown, VolkitError> {
  const portals = u.paths.map((p) => (p.session.address.includes(":") ? `[${p.session.address}]:${p.session.port}` : `${p.session.address}:${p.session.port}`));
  const disks = u.paths.flatMap((p) => (p.disk === undefined ? [] : [`/dev/${p.disk}`]));
  const [portal = ""] = portals;
  const info: ConnectionInfoInput = {
    type: "iscsi",
    volumeId: volumeIdIn(u.iqn) ?? RESIDUE_VOLUME_ID,
    targetDiscovered: true,
    targetIqn: u.iqn,
    targetPortal: portal,
    targetLun: u.lun,
    ...(portals.length > 1 ? { targetPortals: portals, targetIqns: portals.map(() => u.iqn), targetLuns: portals.map(() => u.lun) } : {}),
  };
  const device: AttachedDeviceInput = {
    type: "block",
    path: u.map !== undefined ? `/dev/${u.map.dm}` : (disks[0] ?? UNKNOWN_DEVICE),
    paths: disks,
    ...(u.wwid === undefined ? {} : { scsiWwn: u.wwid }),
    ...(u.map === undefined ? {} : { multipathId: u.map.name }),
  };
  return deps.host.connector("iscsi").andThen((c) => c.disconnectVolume(info, device, { signal: ctx.signal, ...(ctx.deadline === undefined ? {} : { deadline: ctx.deadline }) }));
}

function nodeRemoval(deps: HostCleanupDeps, u: IscsiNodeResidueUnit, ctx: OperationContext): ResultAsync<unknown, VolkitError> {
  // 21: the record is already gone.
  return deps.runner.run({ argv: ["iscsiadm", "-m", "node", "-T", u.iqn, "-p", u.portal, "--op", "delete"], okExitCodes: [0, 21], timeoutMs: 120_000, signal: ctx.signal });
}

function nfsRemoval(deps: HostCleanupDeps, u: NfsResidueUnit, ctx: OperationContext): ResultAsync<unknown, VolkitError> {
  return deps.runner.run({ argv: ["umount", u.mountPoint], timeoutMs: 120_000, signal: ctx.signal });
}

/**
 * The cluster's connection for an RBD unmap without a claiming record: the newest attachment
 * record of the same pool, else a configured RBD backend of that pool that names its monitors.
 * (The unmap itself runs `rbd device unmap <device>`; the connection info identifies the mapping.)
 */
function rbdTemplate(deps: HostCleanupDeps, pool: string, attachments: readonly AttachmentRecord[]): Omit<RbdInfoInput, "volumeId" | "image"> | undefined {
  const recorded = [...attachments]
    .sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime())
    .map((a) => a.connectionInfo)
    .find((c) => c?.type === "rbd" && c.pool === pool);
  if (recorded?.type === "rbd") {
    const { namespace: _ns, volumeId: _v, image: _i, ...rest } = recorded;
    return rest;
  }
  const backend = deps.backends.map((b) => b.config).find((c) => c.driver === "rbd" && (c.pool ?? "volumes") === pool && Array.isArray(c.monitors) && c.monitors.length > 0);
  if (backend === undefined) return undefined;
  return {
    type: "rbd",
    pool,
    monitors: backend.monitors as string[],
    ...(typeof backend.clusterName === "string" ? { clusterName: backend.clusterName } : {}),
    ...(typeof backend.clientId === "string" ? { clientId: backend.clientId } : { authEnabled: false }),
    ...(typeof backend.hostKeyringPath === "string" ? { keyringPath: backend.hostKeyringPath } : {}),
  };
}

/** Unmaps a krbd mapping through the RBD connector (flush, `rbd device unmap`); without the cluster's connection the item fails naming the command. */
function rbdRemoval(deps: HostCleanupDeps, u: RbdResidueUnit, attachments: readonly AttachmentRecord[], ctx: OperationContext): ResultAsync<unknown, VolkitError> {
  const m = u.mapping;
  const template = rbdTemplate(deps, m.pool, attachments);
  if (template === undefined) {
    return errAsync(new VolkitError("NOT_SUPPORTED", `neither an attachment record nor a configured backend of pool ${m.pool} gives the cluster's monitors: unmap it by hand with \`rbd device unmap ${m.device}\``, { source: "service", details: { device: m.device } }));
  }
  const info: RbdInfoInput = { ...template, volumeId: volumeIdIn(m.image) ?? RESIDUE_VOLUME_ID, image: m.image, ...(m.namespace ? { namespace: m.namespace } : {}) };
  return deps.host.connector("rbd").andThen((c) => c.disconnectVolume(info, { type: "block", path: m.device, paths: [] }, { signal: ctx.signal, ...(ctx.deadline === undefined ? {} : { deadline: ctx.deadline }) }));
}

function removeUnit(deps: HostCleanupDeps, u: ResidueUnit, attachments: readonly AttachmentRecord[], ctx: OperationContext): ResultAsync<unknown, VolkitError> {
  if (u.protocol === "iscsi") return iscsiRemoval(deps, u, ctx);
  if (u.protocol === "iscsi-node") return nodeRemoval(deps, u, ctx);
  if (u.protocol === "nfs") return nfsRemoval(deps, u, ctx);
  return rbdRemoval(deps, u, attachments, ctx);
}

/**
 * Removes `items` (a plan, or part of one): re-scans, runs each unit that is still residue once,
 * one after the other (iSCSI LUNs of one target share its sessions), and reports every item as
 * removed, failed (with the error's code) or skipped (no longer residue). Cancelling stops after
 * the running unit; the items not reached are reported failed with `ABORTED`.
 */
export function runHostCleanup(deps: HostCleanupDeps, items: readonly HostResidue[], options: OperationOptions = {}): ResultAsync<HostCleanupReport, VolkitError> {
  // Everything checked before the first scan: a malformed plan or unusable options change nothing.
  const usable = checkOperationOptions(options, "service").andThen(() => validate(HostResidueListSchema, items, "cleanup items"));
  if (usable.isErr()) return errAsync(usable.error);
  return guardResult(() => removeItems(deps, usable.value, context(deps, "hostCleanup", options)), "service");
}

function removeItems(deps: HostCleanupDeps, items: readonly HostResidue[], ctx: OperationContext): ResultAsync<HostCleanupReport, VolkitError> {
  const wanted = [...new Set(items.map((i) => i.unit))];
  return scan(deps, ctx).andThen(({ scan: fresh, attachments }) => {
    const removed: HostResidue[] = [];
    const failed: HostCleanupFailure[] = [];
    const skipped: HostResidue[] = [];
    const chain = wanted.reduce<ResultAsync<void, never>>((prev, unitKey) => {
      const unit = fresh.units.get(unitKey);
      const mine = fresh.items.filter((i) => i.unit === unitKey);
      if (unit === undefined) {
        return prev.map(() => {
          skipped.push(...items.filter((i) => i.unit === unitKey));
        });
      }
      return prev.andThen(() => {
        if (ctx.signal.aborted) {
          failed.push(...mine.map((i) => ({ ...i, errorCode: "ABORTED", message: "cancelled before this item" })));
          return okAsync(undefined);
        }
        return removeUnit(deps, unit, attachments, ctx)
          .map(() => {
            removed.push(...mine);
          })
          .orElse((e) => {
            deps.logger.warn({ unit: unitKey, err: e.toJSON() }, "host cleanup: could not remove a unit");
            failed.push(...mine.map((i) => ({ ...i, errorCode: e.code, message: e.message })));
            return okAsync(undefined);
          });
      });
    }, okAsync(undefined));
    return chain.map((): HostCleanupReport => ({ removed, failed, skipped }));
  });
}
