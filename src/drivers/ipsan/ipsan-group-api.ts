import { type ResultAsync, okAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import { OBJECT_TYPE } from "./ipsan-constants.js";
import { GroupSchema, HostLunSchema, MappingViewSchema, type GroupInfo, type HostLunInfo, type MappingViewInfo } from "./ipsan-mapping-types.js";
import { ArrayDescriptionSchema, ArrayIdSchema, ArrayNameSchema, RestApi, check, createOrFind, type Created } from "./ipsan-rest.js";
import { CountSchema, LunSchema, type LunInfo } from "./ipsan-types.js";

/** What a LUN group holds: LUNs (11) or snapshots (27, mapped for backup). */
export type LunGroupMember = "lun" | "snapshot";

const memberType = (m: LunGroupMember): number => (m === "lun" ? OBJECT_TYPE.lun : OBJECT_TYPE.snapshot);
const Ids = z.tuple([ArrayIdSchema, ArrayIdSchema]);

/** LUN groups (`/lungroup`) and their members. */
export class LunGroupApi extends RestApi {
  /** `POST /lungroup {NAME, DESCRIPTION, APPTYPE 0, GROUPTYPE 0}`; an existing group of that name is returned with `created: false`. */
  create(name: string, ctx: OperationContext): ResultAsync<Created<GroupInfo>, VolkitError> {
    return check(ArrayNameSchema, name, "LUN group name").andThen((n) =>
      createOrFind(this.one({ method: "POST", path: "/lungroup", body: { NAME: n, DESCRIPTION: n, APPTYPE: "0", GROUPTYPE: "0" }, kind: "lunGroup" }, GroupSchema, "LUN group", ctx), () => this.findByName(n, ctx)),
    );
  }

  /** The LUN group of that name, or undefined. */
  findByName(name: string, ctx: OperationContext): ResultAsync<GroupInfo | undefined, VolkitError> {
    return this.byName("/lungroup", name, GroupSchema, "lunGroup", ctx);
  }

  /** `DELETE /lungroup/<id>`; a missing group succeeds (returns false). The array refuses a group still in a mapping view. */
  delete(id: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return check(ArrayIdSchema, id, "LUN group id").andThen((gid) => this.act({ method: "DELETE", path: `/lungroup/${gid}`, kind: "lunGroup" }, ctx, ["OBJECT_NOT_EXIST"]));
  }

  /**
   * `POST /lungroup/associate {ID, ASSOCIATEOBJTYPE 11|27, ASSOCIATEOBJID}`; already a member
   * succeeds. Returns whether this call added it (false: it was a member already).
   */
  add(groupId: string, objectId: string, member: LunGroupMember, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return check(Ids, [groupId, objectId], "LUN group and object ids").andThen(([gid, oid]) =>
      this.act({ method: "POST", path: "/lungroup/associate", body: { ID: gid, ASSOCIATEOBJTYPE: String(memberType(member)), ASSOCIATEOBJID: oid }, kind: "lunGroup" }, ctx, [
        "LUN_ALREADY_IN_LUNGROUP",
        "OBJECT_ID_NOT_UNIQUE",
      ]),
    );
  }

  /** `DELETE /lungroup/associate?ID=<g>&ASSOCIATEOBJTYPE=<t>&ASSOCIATEOBJID=<o>`; not a member succeeds. */
  remove(groupId: string, objectId: string, member: LunGroupMember, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(Ids, [groupId, objectId], "LUN group and object ids").andThen(([gid, oid]) =>
      this.act({ method: "DELETE", path: `/lungroup/associate?ID=${gid}&ASSOCIATEOBJTYPE=${memberType(member)}&ASSOCIATEOBJID=${oid}`, kind: "lunGroup" }, ctx, ["OBJECT_NOT_EXIST"]).map(() => undefined),
    );
  }

  /** The LUN groups an object is in: `GET /lungroup/associate?TYPE=256&ASSOCIATEOBJTYPE=<t>&ASSOCIATEOBJID=<o>`. */
  ofObject(objectId: string, member: LunGroupMember, ctx: OperationContext): ResultAsync<GroupInfo[], VolkitError> {
    return check(ArrayIdSchema, objectId, "object id").andThen((oid) =>
      this.many({ method: "GET", path: `/lungroup/associate?TYPE=256&ASSOCIATEOBJTYPE=${memberType(member)}&ASSOCIATEOBJID=${oid}`, kind: "lunGroup" }, GroupSchema, "LUN group list", ctx),
    );
  }

  /** The LUNs of a group: `GET /lun/associate?TYPE=11&ASSOCIATEOBJTYPE=256&ASSOCIATEOBJID=<g>`. */
  luns(groupId: string, ctx: OperationContext): ResultAsync<LunInfo[], VolkitError> {
    return check(ArrayIdSchema, groupId, "LUN group id").andThen((gid) =>
      this.many({ method: "GET", path: `/lun/associate?TYPE=11&ASSOCIATEOBJTYPE=256&ASSOCIATEOBJID=${gid}`, kind: "lunGroup" }, LunSchema, "LUN list", ctx),
    );
  }

  /** LUNs plus snapshots in a group (`/lun/count` and `/snapshot/count` with `ASSOCIATEOBJTYPE=256`). */
  countMembers(groupId: string, ctx: OperationContext): ResultAsync<number, VolkitError> {
    return check(ArrayIdSchema, groupId, "LUN group id").andThen((gid) =>
      this.one({ method: "GET", path: `/lun/count?TYPE=11&ASSOCIATEOBJTYPE=256&ASSOCIATEOBJID=${gid}`, kind: "lunGroup" }, CountSchema, "LUN count", ctx).andThen((luns) =>
        this.one({ method: "GET", path: `/snapshot/count?TYPE=27&ASSOCIATEOBJTYPE=256&ASSOCIATEOBJID=${gid}`, kind: "lunGroup" }, CountSchema, "snapshot count", ctx).map((snaps) => luns + snaps),
      ),
    );
  }

  /** The LUN group of a mapping view (at most one): `GET /lungroup/associate?ASSOCIATEOBJTYPE=245&ASSOCIATEOBJID=<v>`. */
  ofMappingView(viewId: string, ctx: OperationContext): ResultAsync<GroupInfo | undefined, VolkitError> {
    return check(ArrayIdSchema, viewId, "mapping view id").andThen((vid) =>
      this.many({ method: "GET", path: `/lungroup/associate?ASSOCIATEOBJTYPE=245&ASSOCIATEOBJID=${vid}`, kind: "mappingView" }, GroupSchema, "LUN group list", ctx).map((g) => g[0]),
    );
  }
}

/** Port groups (`/portgroup`) and the Ethernet ports in them. */
export class PortGroupApi extends RestApi {
  /** `POST /portgroup {NAME, DESCRIPTION, TYPE 257}`; an existing group of that name is returned with `created: false`. */
  create(name: string, ctx: OperationContext, description = ""): ResultAsync<Created<GroupInfo>, VolkitError> {
    return check(z.tuple([ArrayNameSchema, ArrayDescriptionSchema]), [name, description], "port group").andThen(([n, d]) =>
      createOrFind(this.one({ method: "POST", path: "/portgroup", body: { NAME: n, DESCRIPTION: d, TYPE: OBJECT_TYPE.portGroup }, kind: "portGroup" }, GroupSchema, "port group", ctx), () => this.findByName(n, ctx)),
    );
  }

  /** The port group of that name, or undefined. */
  findByName(name: string, ctx: OperationContext): ResultAsync<GroupInfo | undefined, VolkitError> {
    return this.byName("/portgroup", name, GroupSchema, "portGroup", ctx);
  }

  /** `DELETE /portgroup/<id>`; a missing group succeeds (returns false). */
  delete(id: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return check(ArrayIdSchema, id, "port group id").andThen((gid) => this.act({ method: "DELETE", path: `/portgroup/${gid}`, kind: "portGroup" }, ctx, ["PORTGROUP_NOT_EXIST", "OBJECT_NOT_EXIST"]));
  }

  /** `POST /port/associate/portgroup {ID, TYPE 257, ASSOCIATEOBJTYPE 213, ASSOCIATEOBJID}`; already there succeeds. */
  addEthPort(groupId: string, portId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(Ids, [groupId, portId], "port group and port ids").andThen(([gid, pid]) =>
      this.act(
        { method: "POST", path: "/port/associate/portgroup", body: { ID: gid, TYPE: OBJECT_TYPE.portGroup, ASSOCIATEOBJTYPE: OBJECT_TYPE.ethPort, ASSOCIATEOBJID: pid }, kind: "portGroup" },
        ctx,
        ["PORT_ALREADY_IN_PORTGROUP"],
      ).map(() => undefined),
    );
  }

  /** `DELETE /port/associate/portgroup?ID=<g>&TYPE=257&ASSOCIATEOBJTYPE=213&ASSOCIATEOBJID=<p>`; not there succeeds. */
  removeEthPort(groupId: string, portId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(Ids, [groupId, portId], "port group and port ids").andThen(([gid, pid]) =>
      this.act({ method: "DELETE", path: `/port/associate/portgroup?ID=${gid}&TYPE=257&ASSOCIATEOBJTYPE=213&ASSOCIATEOBJID=${pid}`, kind: "portGroup" }, ctx, ["PORT_NOT_IN_PORTGROUP"]).map(() => undefined),
    );
  }

  /** The port group of a mapping view, if any: `GET /portgroup/associate?ASSOCIATEOBJTYPE=245&ASSOCIATEOBJID=<v>`. */
  ofMappingView(viewId: string, ctx: OperationContext): ResultAsync<GroupInfo | undefined, VolkitError> {
    return check(ArrayIdSchema, viewId, "mapping view id").andThen((vid) =>
      this.many({ method: "GET", path: `/portgroup/associate?ASSOCIATEOBJTYPE=245&ASSOCIATEOBJID=${vid}`, kind: "mappingView" }, GroupSchema, "port group list", ctx).map((g) => g[0]),
    );
  }
}

/** What a mapping view associates: a host group, a LUN group and optionally a port group. */
export type ViewMember = { readonly hostGroupId: string } | { readonly lunGroupId: string } | { readonly portGroupId: string };

const viewMember = (m: ViewMember): { type: number; id: string } =>
  "hostGroupId" in m ? { type: OBJECT_TYPE.hostGroup, id: m.hostGroupId } : "lunGroupId" in m ? { type: OBJECT_TYPE.lunGroup, id: m.lunGroupId } : { type: OBJECT_TYPE.portGroup, id: m.portGroupId };

/** Mapping views (`/mappingview`): a host group sees a LUN group (through a port group). */
export class MappingViewApi extends RestApi {
  /** `POST /mappingview {NAME, TYPE 245}`; an existing view of that name is returned with `created: false`. */
  create(name: string, ctx: OperationContext): ResultAsync<Created<MappingViewInfo>, VolkitError> {
    return check(ArrayNameSchema, name, "mapping view name").andThen((n) =>
      createOrFind(this.one({ method: "POST", path: "/mappingview", body: { NAME: n, TYPE: String(OBJECT_TYPE.mappingView) }, kind: "mappingView" }, MappingViewSchema, "mapping view", ctx), () => this.findByName(n, ctx)),
    );
  }

  /** The mapping view of that name, or undefined. */
  findByName(name: string, ctx: OperationContext): ResultAsync<MappingViewInfo | undefined, VolkitError> {
    return this.byName("/mappingview", name, MappingViewSchema, "mappingView", ctx);
  }

  /** `GET /mappingview/<id>` (with `AVAILABLEHOSTLUNIDLIST`). */
  get(id: string, ctx: OperationContext): ResultAsync<MappingViewInfo, VolkitError> {
    return check(ArrayIdSchema, id, "mapping view id").andThen((vid) => this.one({ method: "GET", path: `/mappingview/${vid}`, kind: "mappingView" }, MappingViewSchema, "mapping view", ctx));
  }

  /** `DELETE /mappingview/<id>`; a missing view succeeds (returns false). */
  delete(id: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return check(ArrayIdSchema, id, "mapping view id").andThen((vid) => this.act({ method: "DELETE", path: `/mappingview/${vid}`, kind: "mappingView" }, ctx, ["MAPPINGVIEW_NOT_EXIST", "OBJECT_NOT_EXIST"]));
  }

  /** `PUT /MAPPINGVIEW/CREATE_ASSOCIATE {TYPE 245, ID, ASSOCIATEOBJTYPE, ASSOCIATEOBJID}`; already associated succeeds. */
  associate(viewId: string, member: ViewMember, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const m = viewMember(member);
    return check(Ids, [viewId, m.id], "mapping view and group ids").andThen(([vid, gid]) =>
      this.act({ method: "PUT", path: "/MAPPINGVIEW/CREATE_ASSOCIATE", body: { TYPE: String(OBJECT_TYPE.mappingView), ID: vid, ASSOCIATEOBJTYPE: String(m.type), ASSOCIATEOBJID: gid }, kind: "mappingView" }, ctx, [
        "HOSTGROUP_ALREADY_IN_MAPPINGVIEW",
        "LUNGROUP_ALREADY_IN_MAPPINGVIEW",
        "PORTGROUP_ALREADY_IN_MAPPINGVIEW",
      ]).map(() => undefined),
    );
  }

  /** `PUT /mappingview/REMOVE_ASSOCIATE {…}`; not associated succeeds. */
  dissociate(viewId: string, member: ViewMember, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const m = viewMember(member);
    return check(Ids, [viewId, m.id], "mapping view and group ids").andThen(([vid, gid]) =>
      this.act({ method: "PUT", path: "/mappingview/REMOVE_ASSOCIATE", body: { TYPE: String(OBJECT_TYPE.mappingView), ID: vid, ASSOCIATEOBJTYPE: String(m.type), ASSOCIATEOBJID: gid }, kind: "mappingView" }, ctx, [
        "HOSTGROUP_NOT_IN_MAPPINGVIEW",
        "LUNGROUP_NOT_IN_MAPPINGVIEW",
        "PORTGROUP_NOT_IN_MAPPINGVIEW",
      ]).map(() => undefined),
    );
  }

  /** The views a group is in: `GET /mappingview/associate?TYPE=245&ASSOCIATEOBJTYPE=<t>&ASSOCIATEOBJID=<g>`. */
  ofGroup(member: ViewMember, ctx: OperationContext): ResultAsync<MappingViewInfo[], VolkitError> {
    const m = viewMember(member);
    return check(ArrayIdSchema, m.id, "group id").andThen((gid) =>
      this.many({ method: "GET", path: `/mappingview/associate?TYPE=245&ASSOCIATEOBJTYPE=${m.type}&ASSOCIATEOBJID=${gid}`, kind: "mappingView" }, MappingViewSchema, "mapping view list", ctx),
    );
  }

  /**
   * The LUNs (or snapshots) a host sees, with their host LUN ids:
   * `GET /lun/associate?TYPE=11&ASSOCIATEOBJTYPE=21&ASSOCIATEOBJID=<h>` (`ASSOCIATEMETADATA.HostLUNID`).
   */
  hostLuns(hostId: string, ctx: OperationContext, member: LunGroupMember = "lun"): ResultAsync<HostLunInfo[], VolkitError> {
    const base = member === "lun" ? "/lun/associate?TYPE=11" : "/snapshot/associate?TYPE=27";
    return check(ArrayIdSchema, hostId, "host id").andThen((hid) =>
      this.many({ method: "GET", path: `${base}&ASSOCIATEOBJTYPE=21&ASSOCIATEOBJID=${hid}`, kind: "host" }, HostLunSchema, "host LUN list", ctx),
    );
  }

  /** The host LUN id under which `hostId` sees `objectId`, or undefined when it is not mapped to it. */
  hostLunId(hostId: string, objectId: string, ctx: OperationContext, member: LunGroupMember = "lun"): ResultAsync<number | undefined, VolkitError> {
    return check(ArrayIdSchema, objectId, "object id").andThen((oid) => this.hostLuns(hostId, ctx, member).andThen((luns) => okAsync(luns.find((l) => l.id === oid)?.hostLunId)));
  }
}
