import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { IpsanClient } from "./ipsan-client.js";
import type { IpsanInitiatorConfig, ParsedIpsanConfig } from "./ipsan-config.js";
import type { IscsiPortal } from "./ipsan-port-api.js";

/** Which port group a host's mapping view gets. */
export type PortGroupPlan =
  /** None: the view covers every port. */
  | { readonly kind: "none" }
  /** An existing group of the array, shared by every host (never deleted by volkit). */
  | { readonly kind: "existing"; readonly id: string; readonly name: string }
  /** A group of the host's own (`OpenStack_PortGroup_<host id>`) holding these ports. */
  | { readonly kind: "per-host"; readonly ethPortIds: readonly string[] };

/** The portals a host is given and how its view is limited to them. */
export interface PortalPlan {
  /** Healthy portals, in the array's port order: what the connection info lists. */
  readonly portals: readonly IscsiPortal[];
  /** The port group of the host's mapping view. */
  readonly portGroup: PortGroupPlan;
}

/**
 * Resolves the iSCSI portals for one initiator: its own `targetPortals`/`portGroup`, else the
 * config's, else every port. Only healthy, link-up ports are handed out (Cinder's rule for port
 * group members); a configured IP that is not an iSCSI port of the array, or a port group that does
 * not exist, is `INVALID_CONFIG`; no healthy port at all is `BACKEND_UNAVAILABLE`.
 */
export function resolvePortals(client: IpsanClient, config: ParsedIpsanConfig, initiator: IpsanInitiatorConfig | undefined, ctx: OperationContext): ResultAsync<PortalPlan, VolkitError> {
  const ownChoice = initiator?.targetPortals !== undefined || initiator?.portGroup !== undefined;
  const groupName = ownChoice ? initiator?.portGroup : config.iscsi.portGroup;
  const ips = ownChoice ? initiator?.targetPortals : config.iscsi.targetPortals;
  const healthyOrFail = (plan: PortalPlan): ResultAsync<PortalPlan, VolkitError> =>
    plan.portals.length > 0
      ? okAsync(plan)
      : errAsync(new VolkitError("BACKEND_UNAVAILABLE", "no healthy iSCSI port of the array is available for this host", { source: "ipsan", transient: true, details: { portGroup: groupName, targetPortals: ips } }));

  if (groupName !== undefined) {
    return client.portGroups.findByName(groupName, ctx).andThen((group) => {
      if (!group) return errAsync(new VolkitError("INVALID_CONFIG", `port group ${groupName} does not exist on the array`, { source: "ipsan", details: { portGroup: groupName } }));
      return client.ports.portals(ctx, { portGroupId: group.id, healthyOnly: true }).andThen((portals) => healthyOrFail({ portals, portGroup: { kind: "existing", id: group.id, name: group.name } }));
    });
  }
  return client.ports.portals(ctx, { healthyOnly: false }).andThen((all) => {
    if (ips === undefined) return healthyOrFail({ portals: all.filter((p) => p.healthy), portGroup: { kind: "none" } });
    const unknown = ips.filter((ip) => !all.some((p) => p.ip === ip));
    if (unknown.length > 0) {
      return errAsync(new VolkitError("INVALID_CONFIG", `target portal(s) ${unknown.join(", ")} are not iSCSI ports of the array (it has ${all.map((p) => p.ip).join(", ") || "none"})`, { source: "ipsan", details: { unknown } }));
    }
    const chosen = all.filter((p) => ips.includes(p.ip));
    return healthyOrFail({ portals: chosen.filter((p) => p.healthy), portGroup: { kind: "per-host", ethPortIds: chosen.map((p) => p.ethPortId) } });
  });
}
