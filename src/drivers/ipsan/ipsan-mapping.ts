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
import type { GroupInfo, HostInfo } from "./ipsan-mapping-types.js";
import { arrayHostName, perHostGroupNames } from "./ipsan-names.js";
import { resolvePortals, type PortGroupPlan } from "./ipsan-portals.js";
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

  /** @param deps - REST client, parsed config, LUNs, and the lock backend for per-host locks. */
  constructor(deps: { client: IpsanClient; config: ParsedIpsanConfig; luns: IpsanLuns; locks: LockBackend }) {
    this.#client = deps.client;
    this.#config = deps.config;
    this.#luns = deps.luns;
    this.#locks = deps.locks;
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
      return withLock(this.#locks, hostLockKey(hostName), ctx.signal, () => this.#unmap(hostName, lun.id, ctx));
    });
  }

  /** Removes the LUN from every host's LUN group volkit made (tearing down emptied hosts). */
  unmapEverywhere(lun: LunInfo, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#client.lunGroups.ofObject(lun.id, "lun", ctx).andThen((groups) =>
      groups
        .filter((g) => g.name.startsWith(GROUP_PREFIX.lunGroup))
        .reduce<ResultAsync<void, VolkitError>>(
          (chain, group) =>
            chain.andThen(() =>
              this.#client.hosts.find(group.name.slice(GROUP_PREFIX.lunGroup.length), ctx).andThen((owner) =>
                owner
                  ? withLock(this.#locks, hostLockKey(owner.name), ctx.signal, () => this.#unmap(owner.name, lun.id, ctx))
                  : this.#client.lunGroups.remove(group.id, lun.id, "lun", ctx),
              ),
            ),
          okAsync(undefined),
        ),
    );
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
    return ResultAsync.fromSafePromise(this.#unmap(hostName, lunAdded ? lunId : undefined, rc)).andThen((r) => {
      if (r.isErr()) ctx.logger.warn({ hostName, lunId, err: r.error.toJSON() }, "ipsan: undoing a failed mapping failed too");
      return errAsync(original);
    });
  }

  /**
   * Takes the LUN out of the host's LUN group; when the group is then empty, takes the host's
   * mapping down: view associations, view, LUN group, the host's own port group, host group, the
   * initiators (CHAP off) and the host. Objects another admin attached to the host are left alone.
   * Runs under the host's lock; every step tolerates what is already gone.
   */
  #unmap(hostName: string, lunId: string | undefined, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const c = this.#client;
    return c.hosts.findByName(hostName, ctx).andThen((host) => {
      if (!host) return okAsync(undefined);
      const names = perHostGroupNames(host.id);
      return c.lunGroups.findByName(names.lunGroup, ctx).andThen((lunGroup) => {
        const removed = lunGroup && lunId !== undefined ? c.lunGroups.remove(lunGroup.id, lunId, "lun", ctx) : okAsync<void, VolkitError>(undefined);
        return removed
          .andThen(() => (lunGroup ? c.lunGroups.countMembers(lunGroup.id, ctx) : okAsync(0)))
          .andThen((left) => (left > 0 ? okAsync(undefined) : this.#teardown(host, lunGroup, lunId === undefined, ctx)));
      });
    });
  }

  /**
   * Takes a host's mapping objects down. The host object itself goes only when volkit's objects
   * showed it was mapped by volkit (or `afterFailedMap`: this process just made them), never a host
   * an administrator made for something else.
   */
  #teardown(host: HostInfo, lunGroup: GroupInfo | undefined, afterFailedMap: boolean, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const c = this.#client;
    const names = perHostGroupNames(host.id);
    let ours = afterFailedMap || lunGroup !== undefined;
    const view = c.mappingViews.findByName(names.mappingView, ctx).andThen((v) => {
      if (!v) return okAsync(undefined);
      ours = true;
      return c.hostGroups
        .ofMappingView(v.id, ctx)
        .andThen((hgs) => hgs.reduce<ResultAsync<void, VolkitError>>((chain, g) => chain.andThen(() => c.mappingViews.dissociate(v.id, { hostGroupId: g.id }, ctx)), okAsync(undefined)))
        .andThen(() => c.lunGroups.ofMappingView(v.id, ctx))
        .andThen((lg) => (lg ? c.mappingViews.dissociate(v.id, { lunGroupId: lg.id }, ctx) : okAsync(undefined)))
        .andThen(() => c.portGroups.ofMappingView(v.id, ctx))
        .andThen((pg) => (pg ? c.mappingViews.dissociate(v.id, { portGroupId: pg.id }, ctx) : okAsync(undefined)))
        .andThen(() => c.mappingViews.delete(v.id, ctx))
        .map(() => undefined);
    });
    const ownPortGroup = (): ResultAsync<void, VolkitError> =>
      c.portGroups.findByName(names.portGroup, ctx).andThen((pg) => (pg ? c.portGroups.delete(pg.id, ctx).map(() => undefined) : okAsync(undefined)));
    const hostGroup = (): ResultAsync<void, VolkitError> =>
      c.hostGroups.findByName(names.hostGroup, ctx).andThen((hg) => {
        if (!hg) return okAsync(undefined);
        ours = true;
        return c.hostGroups.removeHost(hg.id, host.id, ctx).andThen(() => c.hostGroups.delete(hg.id, ctx)).map(() => undefined);
      });
    const hostItself = (): ResultAsync<void, VolkitError> =>
      c.hosts.find(host.id, ctx).andThen((fresh) => {
        // Not mapped by volkit, or still in a group of someone else's: leave the host and its initiators.
        if (!fresh || !ours || fresh.inHostGroup) return okAsync(undefined);
        return c.initiators
          .ofHost(host.id, ctx)
          .andThen((inits) =>
            inits.reduce<ResultAsync<void, VolkitError>>(
              (chain, i) => chain.andThen(() => (i.useChap ? c.initiators.setChap(i.iqn, undefined, ctx) : okAsync(undefined))).andThen(() => c.initiators.removeFromHost(i.iqn, ctx)).andThen(() => c.initiators.delete(i.iqn, ctx)).map(() => undefined),
              okAsync(undefined),
            ),
          )
          .andThen(() => c.hosts.delete(host.id, ctx))
          .map(() => undefined);
      });
    return view
      .andThen(() => (lunGroup ? c.lunGroups.delete(lunGroup.id, ctx) : okAsync(false)))
      .andThen(ownPortGroup)
      .andThen(hostGroup)
      .andThen(hostItself);
  }
}
