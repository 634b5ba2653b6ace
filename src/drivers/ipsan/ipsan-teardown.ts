import { type ResultAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import type { IpsanClient } from "./ipsan-client.js";
import type { GroupInfo, HostInfo } from "./ipsan-mapping-types.js";
import { perHostGroupNames } from "./ipsan-names.js";

/** What tells the teardown that a host object is volkit's to delete. */
export interface UnmapOptions {
  /** The host's name before hashing, which volkit writes into the hosts it makes (Cinder does too). */
  readonly label?: string;
  /** The caller knows volkit mapped this host (a mapping it just made, or a breadcrumb on the LUN). */
  readonly ours?: boolean;
  /**
   * The host's initiator, when the caller knows it: after a teardown it is deleted if it was left
   * free (a crash between taking it out of the host and deleting it).
   */
  readonly initiator?: string;
}

/** Runs the steps in order, each after the previous one succeeded. */
function inOrder(steps: readonly (() => ResultAsync<unknown, VolkitError>)[]): ResultAsync<void, VolkitError> {
  return steps.reduce<ResultAsync<void, VolkitError>>((chain, step) => chain.andThen(() => step().map(() => undefined)), okAsync(undefined));
}

/**
 * Taking one host's mapping of a LUN down, in an order that survives a crash at any step: while
 * the host object exists, a retry of the terminate finds everything by the host's name; the LUN
 * leaves its group before the group goes; the host goes last. Deletes of a mapped volume, which
 * cannot find the host by name, leave a breadcrumb on the LUN first (see `IpsanMappings`).
 */
export class HostTeardown {
  readonly #client: IpsanClient;

  /** @param client - the REST client. */
  constructor(client: IpsanClient) {
    this.#client = client;
  }

  /**
   * Takes `lunId` out of the host's LUN group; when the group holds nothing else (or with no LUN,
   * when it is empty), takes the host's mapping down: the LUN group out of the view, the LUN out of
   * the group, the group, the rest of the view and the view, the host's own port group, the host
   * group, then the initiators (CHAP off) and the host. The host object goes only when it is
   * volkit's (see {@link UnmapOptions}) and in no other host group. Every step tolerates what is gone.
   */
  unmapHost(host: HostInfo, lunId: string | undefined, options: UnmapOptions, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const c = this.#client;
    return c.lunGroups.findByName(perHostGroupNames(host.id).lunGroup, ctx).andThen((lunGroup) => {
      if (!lunGroup) return this.#teardown(host, undefined, undefined, options, ctx);
      const member = lunId === undefined ? okAsync<boolean, VolkitError>(false) : c.lunGroups.ofObject(lunId, "lun", ctx).map((gs) => gs.some((g) => g.id === lunGroup.id));
      return member.andThen((mine) =>
        c.lunGroups.countMembers(lunGroup.id, ctx).andThen((total) => {
          if (total - (mine ? 1 : 0) > 0) return mine && lunId !== undefined ? c.lunGroups.remove(lunGroup.id, lunId, "lun", ctx) : okAsync(undefined);
          return this.#teardown(host, lunGroup, mine ? lunId : undefined, options, ctx);
        }),
      );
    });
  }

  /** The LUN group of a host that is gone: `lunId` leaves it, and it goes when empty. */
  dropOrphanGroup(group: GroupInfo, lunId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const groups = this.#client.lunGroups;
    return groups
      .remove(group.id, lunId, "lun", ctx)
      .andThen(() => groups.countMembers(group.id, ctx))
      .andThen((left) => (left > 0 ? okAsync(undefined) : groups.delete(group.id, ctx).map(() => undefined)));
  }

  #teardown(host: HostInfo, lunGroup: GroupInfo | undefined, lunId: string | undefined, options: UnmapOptions, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const c = this.#client;
    const names = perHostGroupNames(host.id);
    let ours = options.ours === true || lunGroup !== undefined || (options.label !== undefined && host.description === options.label.slice(0, 170));
    return c.mappingViews.findByName(names.mappingView, ctx).andThen((view) => {
      if (view) ours = true;
      return inOrder([
        () => (view && lunGroup ? c.mappingViews.dissociate(view.id, { lunGroupId: lunGroup.id }, ctx) : okAsync(undefined)),
        () => (lunGroup && lunId !== undefined ? c.lunGroups.remove(lunGroup.id, lunId, "lun", ctx) : okAsync(undefined)),
        () => (lunGroup ? c.lunGroups.delete(lunGroup.id, ctx) : okAsync(false)),
        () => (view ? this.#removeView(view.id, ctx) : okAsync(undefined)),
        () => c.portGroups.findByName(names.portGroup, ctx).andThen((pg) => (pg ? c.portGroups.delete(pg.id, ctx) : okAsync(false))),
        () =>
          c.hostGroups.findByName(names.hostGroup, ctx).andThen((hg) => {
            if (!hg) return okAsync(false);
            ours = true;
            return c.hostGroups.removeHost(hg.id, host.id, ctx).andThen(() => c.hostGroups.delete(hg.id, ctx));
          }),
        () => (ours ? this.#removeHost(host.id, ctx) : okAsync(undefined)),
        () => (options.initiator === undefined ? okAsync(undefined) : this.dropFreeInitiator(options.initiator, ctx)),
      ]);
    });
  }

  /** Deletes the initiator when it belongs to no host (CHAP turned off first). */
  dropFreeInitiator(iqn: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const inits = this.#client.initiators;
    return inits.find(iqn, ctx).andThen((found) => {
      if (!found || found.hostId !== "") return okAsync(undefined);
      return inOrder([() => (found.useChap ? inits.setChap(iqn, undefined, ctx) : okAsync(undefined)), () => inits.delete(iqn, ctx)]);
    });
  }

  /** Every association of the view (some may be gone already), then the view. */
  #removeView(viewId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const c = this.#client;
    return inOrder([
      () => c.lunGroups.ofMappingView(viewId, ctx).andThen((lg) => (lg ? c.mappingViews.dissociate(viewId, { lunGroupId: lg.id }, ctx) : okAsync(undefined))),
      () => c.hostGroups.ofMappingView(viewId, ctx).andThen((hgs) => inOrder(hgs.map((g) => () => c.mappingViews.dissociate(viewId, { hostGroupId: g.id }, ctx)))),
      () => c.portGroups.ofMappingView(viewId, ctx).andThen((pg) => (pg ? c.mappingViews.dissociate(viewId, { portGroupId: pg.id }, ctx) : okAsync(undefined))),
      () => c.mappingViews.delete(viewId, ctx),
    ]);
  }

  /** The host's initiators (CHAP off, out of the host, deleted), then the host; one still in another group stays. */
  #removeHost(hostId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const c = this.#client;
    return c.hosts.find(hostId, ctx).andThen((fresh) => {
      if (!fresh || fresh.inHostGroup) return okAsync(undefined);
      return c.initiators.ofHost(hostId, ctx).andThen((inits) =>
        inOrder([
          ...inits.map((i) => () => inOrder([() => (i.useChap ? c.initiators.setChap(i.iqn, undefined, ctx) : okAsync(undefined)), () => c.initiators.removeFromHost(i.iqn, ctx), () => c.initiators.delete(i.iqn, ctx)])),
          () => c.hosts.delete(hostId, ctx),
        ]),
      );
    });
  }
}
