import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import { registerSecret } from "../../core/secrets.js";
import { ChapUserSchema, IqnSchema } from "../../core/validation.js";
import { HOST_OS_LINUX, OBJECT_TYPE } from "./ipsan-constants.js";
import { isArrayError } from "./ipsan-errors.js";
import { GroupSchema, HostSchema, IscsiInitiatorSchema, type GroupInfo, type HostInfo, type IscsiInitiatorInfo } from "./ipsan-mapping-types.js";
import { ArrayDescriptionSchema, ArrayIdSchema, ArrayNameSchema, RestApi, check, createOrFind, type Created } from "./ipsan-rest.js";

/**
 * A CHAP secret as arrays accept it: 12-16 characters on OceanStor; the character set is volkit's
 * (safe for tgt, LIO and iscsiadm).
 */
export const ArrayChapSecretSchema = z.string().regex(/^[A-Za-z0-9._~+=/-]{12,16}$/, "must be 12-16 of letters, digits, '._~+=/-' (the array's CHAP rule)");

/** CHAP credentials of one initiator. */
export const ArrayChapSchema = z.object({ name: ChapUserSchema, password: ArrayChapSecretSchema }).strict();

/** CHAP credentials of one initiator. */
export type ArrayChap = z.infer<typeof ArrayChapSchema>;


/** Hosts (`/host`). */
export class HostApi extends RestApi {
  /**
   * `POST /host {TYPE 21, NAME, OPERATIONSYSTEM 0, DESCRIPTION}`; an existing host of that name is
   * returned with `created: false`.
   */
  create(input: { name: string; description?: string }, ctx: OperationContext): ResultAsync<Created<HostInfo>, VolkitError> {
    const schema = z.object({ name: ArrayNameSchema, description: ArrayDescriptionSchema.default("") }).strict();
    return check(schema, input, "host").andThen((spec) =>
      createOrFind(
        this.one({ method: "POST", path: "/host", body: { TYPE: String(OBJECT_TYPE.host), NAME: spec.name, OPERATIONSYSTEM: HOST_OS_LINUX, DESCRIPTION: spec.description }, kind: "host" }, HostSchema, "host", ctx),
        () => this.findByName(spec.name, ctx),
      ),
    );
  }

  /** `GET /host/<id>`, undefined when it does not exist. */
  find(id: string, ctx: OperationContext): ResultAsync<HostInfo | undefined, VolkitError> {
    return check(ArrayIdSchema, id, "host id").andThen((hid) =>
      this.one({ method: "GET", path: `/host/${hid}`, kind: "host" }, HostSchema, "host", ctx).orElse((e) => (isArrayError(e, "HOST_NOT_EXIST", "OBJECT_NOT_EXIST") ? okAsync(undefined) : errAsync(e))),
    );
  }

  /** The host of that name, or undefined. */
  findByName(name: string, ctx: OperationContext): ResultAsync<HostInfo | undefined, VolkitError> {
    return this.byName("/host", name, HostSchema, "host", ctx);
  }

  /** Every host (paged). */
  list(ctx: OperationContext): ResultAsync<HostInfo[], VolkitError> {
    return this.all("/host", HostSchema, "host", ctx);
  }

  /** `DELETE /host/<id>`; a missing host succeeds (returns false). */
  delete(id: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return check(ArrayIdSchema, id, "host id").andThen((hid) => this.act({ method: "DELETE", path: `/host/${hid}`, kind: "host" }, ctx, ["HOST_NOT_EXIST", "OBJECT_NOT_EXIST"]));
  }
}

/** Host groups (`/hostgroup`) and their hosts. */
export class HostGroupApi extends RestApi {
  /** `POST /hostgroup {TYPE 14, NAME}`; an existing group of that name is returned with `created: false`. */
  create(name: string, ctx: OperationContext): ResultAsync<Created<GroupInfo>, VolkitError> {
    return check(ArrayNameSchema, name, "host group name").andThen((n) =>
      createOrFind(this.one({ method: "POST", path: "/hostgroup", body: { TYPE: String(OBJECT_TYPE.hostGroup), NAME: n }, kind: "hostGroup" }, GroupSchema, "host group", ctx), () => this.findByName(n, ctx)),
    );
  }

  /** The host group of that name, or undefined. */
  findByName(name: string, ctx: OperationContext): ResultAsync<GroupInfo | undefined, VolkitError> {
    return this.byName("/hostgroup", name, GroupSchema, "hostGroup", ctx);
  }

  /** `DELETE /hostgroup/<id>`; a missing group succeeds (returns false). */
  delete(id: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return check(ArrayIdSchema, id, "host group id").andThen((gid) => this.act({ method: "DELETE", path: `/hostgroup/${gid}`, kind: "hostGroup" }, ctx, ["HOSTGROUP_NOT_EXIST", "OBJECT_NOT_EXIST"]));
  }

  /** `POST /hostgroup/associate {TYPE 14, ID, ASSOCIATEOBJTYPE 21, ASSOCIATEOBJID}`; already there succeeds. */
  addHost(groupId: string, hostId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(z.tuple([ArrayIdSchema, ArrayIdSchema]), [groupId, hostId], "host group and host ids").andThen(([gid, hid]) =>
      this.act(
        { method: "POST", path: "/hostgroup/associate", body: { TYPE: String(OBJECT_TYPE.hostGroup), ID: gid, ASSOCIATEOBJTYPE: String(OBJECT_TYPE.host), ASSOCIATEOBJID: hid }, kind: "hostGroup" },
        ctx,
        ["HOST_ALREADY_IN_HOSTGROUP"],
      ).map(() => undefined),
    );
  }

  /** `DELETE /host/associate?TYPE=14&ID=<g>&ASSOCIATEOBJTYPE=21&ASSOCIATEOBJID=<h>`; not there succeeds. */
  removeHost(groupId: string, hostId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(z.tuple([ArrayIdSchema, ArrayIdSchema]), [groupId, hostId], "host group and host ids").andThen(([gid, hid]) =>
      this.act({ method: "DELETE", path: `/host/associate?TYPE=14&ID=${gid}&ASSOCIATEOBJTYPE=21&ASSOCIATEOBJID=${hid}`, kind: "hostGroup" }, ctx, ["HOST_NOT_IN_HOSTGROUP", "HOST_NOT_EXIST", "HOSTGROUP_NOT_EXIST"]).map(() => undefined),
    );
  }

  /** The hosts of a group: `GET /host/associate?TYPE=21&ASSOCIATEOBJTYPE=14&ASSOCIATEOBJID=<g>`. */
  hosts(groupId: string, ctx: OperationContext): ResultAsync<HostInfo[], VolkitError> {
    return check(ArrayIdSchema, groupId, "host group id").andThen((gid) =>
      this.many({ method: "GET", path: `/host/associate?TYPE=21&ASSOCIATEOBJTYPE=14&ASSOCIATEOBJID=${gid}`, kind: "hostGroup" }, HostSchema, "host list", ctx),
    );
  }

  /** The host groups of a mapping view: `GET /hostgroup/associate?ASSOCIATEOBJTYPE=245&ASSOCIATEOBJID=<v>`. */
  ofMappingView(viewId: string, ctx: OperationContext): ResultAsync<GroupInfo[], VolkitError> {
    return check(ArrayIdSchema, viewId, "mapping view id").andThen((vid) =>
      this.many({ method: "GET", path: `/hostgroup/associate?ASSOCIATEOBJTYPE=245&ASSOCIATEOBJID=${vid}`, kind: "mappingView" }, GroupSchema, "host group list", ctx),
    );
  }
}

/** iSCSI initiators (`/iscsi_initiator`), their host and CHAP. */
export class InitiatorApi extends RestApi {
  /** `GET /iscsi_initiator/<iqn>`, undefined when the array does not know the initiator. */
  find(iqn: string, ctx: OperationContext): ResultAsync<IscsiInitiatorInfo | undefined, VolkitError> {
    return check(IqnSchema, iqn, "initiator IQN").andThen((name) =>
      this.one({ method: "GET", path: `/iscsi_initiator/${name}`, kind: "initiator" }, IscsiInitiatorSchema, "iSCSI initiator", ctx).orElse((e) =>
        isArrayError(e, "OBJECT_NOT_EXIST") ? okAsync(undefined) : errAsync(e),
      ),
    );
  }

  /** `POST /iscsi_initiator {TYPE 222, ID, USECHAP false}`; an initiator already known succeeds. */
  add(iqn: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(IqnSchema, iqn, "initiator IQN").andThen((name) =>
      this.act({ method: "POST", path: "/iscsi_initiator", body: { TYPE: String(OBJECT_TYPE.iscsiInitiator), ID: name, USECHAP: "false" }, kind: "initiator" }, ctx, ["OBJECT_ID_NOT_UNIQUE", "OBJECT_NAME_ALREADY_EXIST"]).map(
        () => undefined,
      ),
    );
  }

  /**
   * `PUT /iscsi_initiator/<iqn> {TYPE 222, ID, PARENTTYPE 21, PARENTID, USECHAP[, CHAPNAME,
   * CHAPPASSWORD]}`: puts the initiator in a host, with CHAP when given (the password is
   * registered as a secret first). The array refuses an initiator that belongs to another host.
   */
  addToHost(iqn: string, hostId: string, ctx: OperationContext, options: { chap?: ArrayChap } = {}): ResultAsync<void, VolkitError> {
    registerSecret(options.chap?.password);
    const schema = z.object({ iqn: IqnSchema, hostId: ArrayIdSchema, chap: ArrayChapSchema.optional() }).strict();
    return check(schema, { iqn, hostId, ...(options.chap ? { chap: options.chap } : {}) }, "initiator").andThen((spec) =>
      this.act(
        {
          method: "PUT",
          path: `/iscsi_initiator/${spec.iqn}`,
          body: {
            TYPE: String(OBJECT_TYPE.iscsiInitiator),
            ID: spec.iqn,
            PARENTTYPE: String(OBJECT_TYPE.host),
            PARENTID: spec.hostId,
            USECHAP: spec.chap ? "true" : "false",
            ...(spec.chap ? { CHAPNAME: spec.chap.name, CHAPPASSWORD: spec.chap.password } : {}),
          },
          kind: "initiator",
        },
        ctx,
      ).map(() => undefined),
    );
  }

  /**
   * Turns CHAP on (with these credentials) or off for an initiator:
   * `PUT /iscsi_initiator/<iqn> {USECHAP, CHAPNAME, CHAPPASSWORD}` or `{USECHAP false, MULTIPATHTYPE 0}`.
   */
  setChap(iqn: string, chap: ArrayChap | undefined, ctx: OperationContext): ResultAsync<void, VolkitError> {
    registerSecret(chap?.password);
    return check(IqnSchema, iqn, "initiator IQN").andThen((name) =>
      check(ArrayChapSchema.optional(), chap, "CHAP").andThen((c) =>
        this.act(
          {
            method: "PUT",
            path: `/iscsi_initiator/${name}`,
            body: c ? { ID: name, USECHAP: "true", CHAPNAME: c.name, CHAPPASSWORD: c.password } : { ID: name, USECHAP: "false", MULTIPATHTYPE: "0" },
            kind: "initiator",
          },
          ctx,
        ).map(() => undefined),
      ),
    );
  }

  /** `PUT /iscsi_initiator/remove_iscsi_from_host {TYPE 222, ID}`; not in a host succeeds. */
  removeFromHost(iqn: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(IqnSchema, iqn, "initiator IQN").andThen((name) =>
      this.act({ method: "PUT", path: "/iscsi_initiator/remove_iscsi_from_host", body: { TYPE: String(OBJECT_TYPE.iscsiInitiator), ID: name }, kind: "initiator" }, ctx, ["INITIATOR_NOT_IN_HOST", "OBJECT_NOT_EXIST"]).map(
        () => undefined,
      ),
    );
  }

  /** The initiators of a host: `GET /iscsi_initiator?PARENTID=<h>`. */
  ofHost(hostId: string, ctx: OperationContext): ResultAsync<IscsiInitiatorInfo[], VolkitError> {
    return check(ArrayIdSchema, hostId, "host id").andThen((hid) =>
      this.all("/iscsi_initiator", IscsiInitiatorSchema, "initiator", ctx, `PARENTID=${hid}&`).map((list) => list.filter((i) => i.hostId === hid)),
    );
  }

  /** `DELETE /iscsi_initiator/<iqn>`; an unknown initiator succeeds (returns false). */
  delete(iqn: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return check(IqnSchema, iqn, "initiator IQN").andThen((name) => this.act({ method: "DELETE", path: `/iscsi_initiator/${name}`, kind: "initiator" }, ctx, ["OBJECT_NOT_EXIST"]));
  }
}
