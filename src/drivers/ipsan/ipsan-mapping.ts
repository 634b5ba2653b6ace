import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { withLock, type LockBackend } from "../../core/locks.js";
import type { ConnectionInfoInput, HostProperties, Volume } from "../../core/records.js";
import type { ExportState } from "../volume-driver.js";
import type { IpsanClient } from "./ipsan-client.js";
import type { ParsedIpsanConfig } from "./ipsan-config.js";
import { GROUP_PREFIX } from "./ipsan-constants.js";
import type { IpsanLuns } from "./ipsan-luns.js";
import type { HostInfo } from "./ipsan-mapping-types.js";
import { arrayHostName, lunDescription, parseLunDescription, perHostGroupNames } from "./ipsan-names.js";
import { resolvePortals, type PortGroupPlan } from "./ipsan-portals.js";
import { HostTeardown } from "./ipsan-teardown.js";
import type { LunInfo } from "./ipsan-types.js";

/** Lock key of one host's mapping objects. */
export function hostLockKey(arrayHostName: string): string {
  return `ipsan-host:${arrayHostName}`;
}

/**
 * Host access the way Cinder's Huawei iSCSI driver grants it: per host, a host object with the
 * initiator (CHAP when configured), `OpenStack_HostGroup_<id>`, `OpenStack_LunGroup_<id>` holding the
 * host's LUNs, optionally a port group, and `OpenStack_Mapping_View_<id>` tying them together; the
 * array then exposes the LUN group to the host under host LUN ids.
 *
 * Everything touching one host's objects runs under a lock keyed by that host (never one global
 * lock: hosts map in parallel). When a host's LUN group becomes empty, its view, groups, initiator
 * and host are taken down again. Every step is find-or-create, so a retry after a crash converges.
 */
export class IpsanMappings {
  readonly #client: IpsanClient;
  readonly #config: ParsedIpsanConfig;
  readonly #luns: IpsanLuns;
  readonly #locks: LockBackend;
  readonly #teardown: HostTeardown;

  /** @param deps - REST client, parsed config, LUNs, and the lock backend for per-host locks. */
  constructor(deps: { client: IpsanClient; config: ParsedIpsanConfig; luns: IpsanLuns; locks: LockBackend }) {
    this.#client = deps.client;
    this.#config = deps.config;
    this.#luns = deps.luns;
    this.#locks = deps.locks;
    this.#teardown = new HostTeardown(deps.client);
  }

  /** Maps the volume's LUN to the host and returns its iSCSI connection info (every healthy portal). */
  initialize(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError> {
    const iqn = host.initiator;
    if (iqn === undefined) return errAsync(new VolkitError("INVALID_ARGUMENT", `host ${host.host} has no iSCSI initiator name; the IP-SAN driver exports over iSCSI`, { source: "ipsan" }));
    const initiator = this.#config.iscsi.initiators.find((i) => i.iqn === iqn);
    const hostName = arrayHostName(host.host);
    return this.#luns.require(volume, ctx).andThen((lun) =>
      withLock(this.#locks, hostLockKey(hostName), ctx.signal, () =>
        ctx.phase("portals", () => resolvePortals(this.#client, this.#config, initiator, ctx)).andThen((plan) => {
          const first = plan.portals[0];
          if (!first) return errAsync(new VolkitError("BACKEND_UNAVAILABLE", "no healthy iSCSI port of the array is available for this host", { source: "ipsan", transient: true }));
          const progress = { lunAdded: false };
          return ctx
            .phase("map", () => this.#map(lun, hostName, host.host, iqn, plan.portGroup, progress, ctx))
            .orElse((e) => this.#undoMap(hostName, lun.id, progress.lunAdded, e, ctx))
            .map((hostLunId): ConnectionInfoInput => {
              const portals = plan.portals;
              const chap = initiator?.chap;
              return {
                type: "iscsi",
                volumeId: volume.id,
                accessMode: host.readOnly ? "ro" : "rw",
                targetDiscovered: false,
                targetIqn: first.iqn,
                targetPortal: first.portal,
                targetLun: hostLunId,
                targetPortals: portals.map((p) => p.portal),
                targetIqns: portals.map((p) => p.iqn),
                targetLuns: portals.map(() => hostLunId),
                ...(chap ? { authMethod: "CHAP" as const, authUsername: chap.user, authPassword: chap.password } : {}),
              };
            });
        }),
      ),
    );
  }

  /** Revokes one host's access (or every volkit mapping's, without a host); a missing volume succeeds. */
  terminate(volume: Volume, host: HostProperties | undefined, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#luns.find(volume, ctx).andThen((lun) => {
      if (!lun) return okAsync(undefined);
      if (host === undefined) return this.unmapEverywhere(lun, ctx);
      const hostName = arrayHostName(host.host);
      return withLock(this.#locks, hostLockKey(hostName), ctx.signal, () =>
        this.#client.hosts.findByName(hostName, ctx).andThen((found) => {
          const initiator = host.initiator === undefined ? {} : { initiator: host.initiator };
          if (found) return this.#teardown.unmapHost(found, lun.id, { label: host.host, ...initiator }, ctx);
          // The host is gone already (a retry after a crash late in its teardown): finish what is left.
          return this.#orphanGroupsOf(lun.id, ctx).andThen(() => (host.initiator === undefined ? okAsync(undefined) : this.#teardown.dropFreeInitiator(host.initiator, ctx)));
        }),
      );
    });
  }

  /**
   * Removes the LUN from every host's LUN group volkit made (tearing down emptied hosts). The host
   * ids go into the LUN's description first, so a retry after a crash finds hosts whose group the
   * LUN already left; they leave the description when all are done.
   */
  unmapEverywhere(lun: LunInfo, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const c = this.#client;
    const marker = parseLunDescription(lun.description);
    return c.lunGroups.ofObject(lun.id, "lun", ctx).andThen((groups) => {
      const owned = groups.filter((g) => g.name.startsWith(GROUP_PREFIX.lunGroup)).map((g) => g.name.slice(GROUP_PREFIX.lunGroup.length));
      const hostIds = [...new Set([...(marker?.unmapping ?? []), ...owned])];
      if (hostIds.length === 0) return okAsync(undefined);
      const note = (unmapping: readonly string[]): ResultAsync<void, VolkitError> =>
        marker ? c.luns.update(lun.id, { description: lunDescription({ ...marker, unmapping }) }, ctx) : okAsync(undefined);
      const one = (hostId: string): ResultAsync<void, VolkitError> =>
        c.hosts.find(hostId, ctx).andThen((owner) => {
          if (owner) return withLock(this.#locks, hostLockKey(owner.name), ctx.signal, () => this.#teardown.unmapHost(owner, lun.id, { ours: true }, ctx));
          return c.lunGroups.findByName(perHostGroupNames(hostId).lunGroup, ctx).andThen((g) => (g ? this.#teardown.dropOrphanGroup(g, lun.id, ctx) : okAsync(undefined)));
        });
      return note(hostIds)
        .andThen(() => hostIds.reduce<ResultAsync<void, VolkitError>>((chain, id) => chain.andThen(() => one(id)), okAsync(undefined)))
        .andThen(() => note([]));
    });
  }

  /** Whether the LUN is in any LUN group, and the hosts that see it through mapping views. */
  describe(volume: Volume, ctx: OperationContext): ResultAsync<ExportState, VolkitError> {
    const c = this.#client;
    return this.#luns.find(volume, ctx).andThen((lun) => {
      if (!lun) return okAsync<ExportState, VolkitError>({ exported: false, hosts: [] });
      return c.lunGroups.ofObject(lun.id, "lun", ctx).andThen((groups) =>
        ResultAsync.combine(
          groups.map((g) =>
            c.mappingViews
              .ofGroup({ lunGroupId: g.id }, ctx)
              .andThen((views) => ResultAsync.combine(views.map((v) => c.hostGroups.ofMappingView(v.id, ctx))))
              .andThen((hgs) => ResultAsync.combine(hgs.flat().map((hg) => c.hostGroups.hosts(hg.id, ctx))))
              .map((hosts) => hosts.flat().map((h) => h.description || h.name)),
          ),
        ).map((names): ExportState => ({ exported: groups.length > 0, hosts: [...new Set(names.flat())].sort() })),
      );
    });
  }

  /** The find-or-create steps of a mapping; returns the host LUN id. Runs under the host's lock. */
  #map(lun: LunInfo, hostName: string, hostLabel: string, iqn: string, portGroup: PortGroupPlan, progress: { lunAdded: boolean }, ctx: OperationContext): ResultAsync<number, VolkitError> {
    const c = this.#client;
    return c.hosts.create({ name: hostName, description: hostLabel.slice(0, 170) }, ctx).andThen(({ value: host }) => {
      const names = perHostGroupNames(host.id);
      return this.#ensureInitiator(iqn, host, ctx)
        .andThen(() => c.hostGroups.create(names.hostGroup, ctx))
        .andThen(({ value: hostGroup }) => c.hostGroups.addHost(hostGroup.id, host.id, ctx).map(() => hostGroup))
        .andThen((hostGroup) =>
          c.lunGroups.create(names.lunGroup, ctx).andThen(({ value: lunGroup }) =>
            c.lunGroups
              .add(lunGroup.id, lun.id, "lun", ctx)
              .andThen((added) => {
                progress.lunAdded = added;
                return this.#ensurePortGroup(portGroup, names.portGroup, ctx);
              })
              .andThen((portGroupId) =>
                c.mappingViews.create(names.mappingView, ctx).andThen(({ value: view }) =>
                  c.mappingViews
                    .associate(view.id, { hostGroupId: hostGroup.id }, ctx)
                    .andThen(() => c.mappingViews.associate(view.id, { lunGroupId: lunGroup.id }, ctx))
                    .andThen(() => (portGroupId === undefined ? okAsync(undefined) : c.mappingViews.associate(view.id, { portGroupId }, ctx))),
                ),
              ),
          ),
        )
        .andThen(() => c.mappingViews.hostLunId(host.id, lun.id, ctx))
        .andThen((n) =>
          n === undefined ? errAsync(new VolkitError("INVALID_STATE", `LUN ${lun.id} is in host ${host.id}'s mapping view but the array reports no host LUN id`, { source: "ipsan", details: { lunId: lun.id, hostId: host.id } })) : okAsync(n),
        );
    });
  }

  /** Adds the initiator to the array and the host, with the configured CHAP (set again each time: the secret may have changed). */
  #ensureInitiator(iqn: string, host: HostInfo, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const inits = this.#client.initiators;
    const chapConf = this.#config.iscsi.initiators.find((i) => i.iqn === iqn)?.chap;
    const chap = chapConf ? { name: chapConf.user, password: chapConf.password } : undefined;
    return inits.find(iqn, ctx).andThen((found) => {
      if (found && found.hostId !== "" && found.hostId !== host.id) {
        return errAsync(new VolkitError("INVALID_STATE", `initiator ${iqn} belongs to another host on the array (${found.hostName || found.hostId})`, { source: "ipsan", details: { initiator: iqn, hostId: found.hostId } }));
      }
      const added = found ? okAsync<void, VolkitError>(undefined) : inits.add(iqn, ctx);
      if (found?.hostId === host.id) {
        return chap || found.useChap ? inits.setChap(iqn, chap, ctx) : okAsync(undefined);
      }
      return added.andThen(() => inits.addToHost(iqn, host.id, ctx, chap ? { chap } : {}));
    });
  }

  /** The port group the view gets: an existing one, the host's own (made and filled), or none. */
  #ensurePortGroup(plan: PortGroupPlan, name: string, ctx: OperationContext): ResultAsync<string | undefined, VolkitError> {
    if (plan.kind === "none") return okAsync(undefined);
    if (plan.kind === "existing") return okAsync(plan.id);
    const groups = this.#client.portGroups;
    return groups.create(name, ctx, "volkit per-host port group").andThen(({ value: group }) =>
      plan.ethPortIds.reduce<ResultAsync<void, VolkitError>>((chain, portId) => chain.andThen(() => groups.addEthPort(group.id, portId, ctx)), okAsync(undefined)).map(() => group.id),
    );
  }

  /**
   * A failed mapping: takes the LUN out again when this call put it in (never a mapping an earlier
   * call made), and the host's objects when nothing is mapped through them; returns the error.
   */
  #undoMap(hostName: string, lunId: string, lunAdded: boolean, original: VolkitError, ctx: OperationContext): ResultAsync<never, VolkitError> {
    const rc = rollbackContext(ctx, 2 * 60_000);
    const undo = this.#client.hosts.findByName(hostName, rc).andThen((host) => (host ? this.#teardown.unmapHost(host, lunAdded ? lunId : undefined, { ours: true }, rc) : okAsync(undefined)));
    return ResultAsync.fromSafePromise(undo).andThen((r) => {
      if (r.isErr()) ctx.logger.warn({ hostName, lunId, err: r.error.toJSON() }, "ipsan: undoing a failed mapping failed too");
      return errAsync(original);
    });
  }

  /** The LUN's groups of hosts that are gone (an interrupted teardown), dropped. */
  #orphanGroupsOf(lunId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const c = this.#client;
    return c.lunGroups.ofObject(lunId, "lun", ctx).andThen((groups) =>
      groups
        .filter((g) => g.name.startsWith(GROUP_PREFIX.lunGroup))
        .reduce<ResultAsync<void, VolkitError>>(
          (chain, g) => chain.andThen(() => c.hosts.find(g.name.slice(GROUP_PREFIX.lunGroup.length), ctx).andThen((owner) => (owner ? okAsync(undefined) : this.#teardown.dropOrphanGroup(g, lunId, ctx)))),
          okAsync(undefined),
        ),
    );
  }
}
