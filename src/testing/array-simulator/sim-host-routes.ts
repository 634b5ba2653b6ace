import { fail } from "./sim-errors.js";
import { renderGroup, renderHost, renderInitiator } from "./sim-render.js";
import { checkName, field, listQuery, optField, queryField, type SimRequest, type SimRouter } from "./sim-router.js";
import { nextId, type SimGroup, type SimHost, type SimInitiator } from "./sim-state.js";
import type { SimWorld } from "./sim-world.js";

/** iSCSI qualified names the simulator accepts as initiator ids. */
const IQN = /^(iqn\.\d{4}-\d{2}\.[a-z0-9][a-z0-9.-]*(:[A-Za-z0-9.:_-]+)?|eui\.[0-9A-Fa-f]{16})$/;

/** OceanStor's CHAP rule: the password has 12 to 16 characters. */
const CHAP_PASSWORD = /^.{12,16}$/s;

/** Host, host group and iSCSI initiator routes. */
export function registerHostRoutes(router: SimRouter, world: SimWorld): void {
  const { state } = world;
  const hostOf = (id: string): SimHost => {
    const host = state.hosts.find((h) => h.id === id);
    if (!host) throw fail("HOST_NOT_EXIST", `host ${id}`);
    return host;
  };
  const groupOf = (id: string): SimGroup => {
    const group = state.hostGroups.find((g) => g.id === id);
    if (!group) throw fail("HOSTGROUP_NOT_EXIST", `host group ${id}`);
    return group;
  };
  const initiatorOf = (iqn: string): SimInitiator => {
    const ini = state.initiators.find((i) => i.iqn === iqn);
    if (!ini) throw fail("OBJECT_NOT_EXIST", `initiator ${iqn}`);
    return ini;
  };
  const renderIni = (i: SimInitiator): Record<string, string | number> => renderInitiator(state, i, false);

  /** PUT on an initiator: host membership, CHAP, multipath type. */
  const updateInitiator = async (req: SimRequest, iqn: string): Promise<unknown> => {
    const ini = initiatorOf(iqn);
    const parent = optField(req.body, "PARENTID");
    if (parent !== undefined && parent !== ini.hostId) {
      hostOf(parent);
      if (ini.hostId !== "") throw fail("INITIATOR_IN_OTHER_HOST", `initiator ${iqn} is in host ${ini.hostId}`);
    }
    const useChap = optField(req.body, "USECHAP");
    if (useChap === "true") {
      const name = field(req.body, "CHAPNAME");
      const password = field(req.body, "CHAPPASSWORD");
      if (!/^[A-Za-z0-9._:@-]{1,64}$/.test(name)) throw fail("PARAMETER_ERROR", "CHAPNAME is invalid");
      if (!CHAP_PASSWORD.test(password)) throw fail("PARAMETER_ERROR", "CHAPPASSWORD must have 12 to 16 characters");
      ini.useChap = true;
      ini.chapName = name;
      ini.chapPassword = password;
    } else if (useChap === "false") {
      ini.useChap = false;
      ini.chapName = "";
      ini.chapPassword = "";
    }
    if (parent !== undefined) ini.hostId = parent;
    ini.multipathType = optField(req.body, "MULTIPATHTYPE") ?? ini.multipathType;
    await world.commit();
    return renderIni(ini);
  };

  router
    .add("POST", "/host", async (req) => {
      const name = checkName(field(req.body, "NAME"));
      if (state.hosts.some((h) => h.name === name)) throw fail("OBJECT_NAME_ALREADY_EXIST", `host ${name}`);
      const host: SimHost = { id: nextId(state, "host"), name, description: optField(req.body, "DESCRIPTION") ?? "", operatingSystem: optField(req.body, "OPERATIONSYSTEM") ?? "0" };
      state.hosts.push(host);
      await world.commit();
      return renderHost(state, host);
    })
    .add("GET", "/host", (req) => listQuery(state.hosts.map((h) => renderHost(state, h)), req.query))
    .add("GET", "/host/associate", (req) => {
      // Hosts of a host group: TYPE=21&ASSOCIATEOBJTYPE=14&ASSOCIATEOBJID=<g>.
      if (queryField(req.query, "ASSOCIATEOBJTYPE") !== "14") throw fail("PARAMETER_ERROR", "ASSOCIATEOBJTYPE must be 14");
      const gid = queryField(req.query, "ASSOCIATEOBJID");
      groupOf(gid);
      return (state.hostGroupHosts[gid] ?? []).map((id) => renderHost(state, hostOf(id)));
    })
    .add("DELETE", "/host/associate", async (req) => {
      // Remove a host from a host group: TYPE=14&ID=<g>&ASSOCIATEOBJTYPE=21&ASSOCIATEOBJID=<h>.
      const gid = queryField(req.query, "ID");
      const hid = queryField(req.query, "ASSOCIATEOBJID");
      groupOf(gid);
      hostOf(hid);
      const hosts = state.hostGroupHosts[gid] ?? [];
      if (!hosts.includes(hid)) throw fail("HOST_NOT_IN_HOSTGROUP", `host ${hid} in group ${gid}`);
      state.hostGroupHosts[gid] = hosts.filter((h) => h !== hid);
      await world.commit();
      return {};
    })
    .add("GET", "/host/:id", (_req, [id = ""]) => renderHost(state, hostOf(id)))
    .add("PUT", "/host/:id", async (req, [id = ""]) => {
      const host = hostOf(id);
      const name = optField(req.body, "NAME");
      if (name !== undefined) {
        checkName(name);
        if (state.hosts.some((h) => h.name === name && h.id !== id)) throw fail("OBJECT_NAME_ALREADY_EXIST", `host ${name}`);
        host.name = name;
      }
      host.description = optField(req.body, "DESCRIPTION") ?? host.description;
      await world.commit();
      return renderHost(state, host);
    })
    .add("DELETE", "/host/:id", async (_req, [id = ""]) => {
      const host = hostOf(id);
      if (Object.values(state.hostGroupHosts).some((ids) => ids.includes(id))) throw fail("OBJECT_IN_USE", `host ${id} is in a host group`);
      if (state.initiators.some((i) => i.hostId === id)) throw fail("OBJECT_IN_USE", `host ${id} has initiators`);
      state.hosts.splice(state.hosts.indexOf(host), 1);
      await world.commit();
      return {};
    })
    .add("POST", "/hostgroup", async (req) => {
      const name = checkName(field(req.body, "NAME"));
      if (state.hostGroups.some((g) => g.name === name)) throw fail("OBJECT_NAME_ALREADY_EXIST", `host group ${name}`);
      const group: SimGroup = { id: nextId(state, "hostgroup"), name, description: optField(req.body, "DESCRIPTION") ?? "" };
      state.hostGroups.push(group);
      state.hostGroupHosts[group.id] = [];
      await world.commit();
      return renderGroup(state, group, 14);
    })
    .add("GET", "/hostgroup", (req) => listQuery(state.hostGroups.map((g) => renderGroup(state, g, 14)), req.query))
    .add("POST", "/hostgroup/associate", async (req) => {
      const gid = field(req.body, "ID");
      const hid = field(req.body, "ASSOCIATEOBJID");
      groupOf(gid);
      hostOf(hid);
      const hosts = state.hostGroupHosts[gid] ?? [];
      if (hosts.includes(hid)) throw fail("HOST_ALREADY_IN_HOSTGROUP", `host ${hid} in group ${gid}`);
      state.hostGroupHosts[gid] = [...hosts, hid];
      await world.commit();
      return {};
    })
    .add("GET", "/hostgroup/associate", (req) => {
      const type = queryField(req.query, "ASSOCIATEOBJTYPE");
      const oid = queryField(req.query, "ASSOCIATEOBJID");
      if (type === "245") return state.views.filter((v) => v.id === oid && v.hostGroupId !== "").map((v) => renderGroup(state, groupOf(v.hostGroupId), 14));
      if (type === "21") return state.hostGroups.filter((g) => (state.hostGroupHosts[g.id] ?? []).includes(oid)).map((g) => renderGroup(state, g, 14));
      throw fail("PARAMETER_ERROR", "ASSOCIATEOBJTYPE must be 245 or 21");
    })
    .add("GET", "/hostgroup/:id", (_req, [id = ""]) => renderGroup(state, groupOf(id), 14))
    .add("DELETE", "/hostgroup/:id", async (_req, [id = ""]) => {
      const group = groupOf(id);
      if (state.views.some((v) => v.hostGroupId === id)) throw fail("OBJECT_IN_USE", `host group ${id} is in a mapping view`);
      if ((state.hostGroupHosts[id] ?? []).length > 0) throw fail("OBJECT_IN_USE", `host group ${id} has hosts`);
      state.hostGroups.splice(state.hostGroups.indexOf(group), 1);
      delete state.hostGroupHosts[id];
      await world.commit();
      return {};
    })
    .add("POST", "/iscsi_initiator", async (req) => {
      const iqn = field(req.body, "ID");
      if (!IQN.test(iqn)) throw fail("PARAMETER_ERROR", "ID is not an iSCSI name");
      if (state.initiators.some((i) => i.iqn === iqn)) throw fail("OBJECT_ID_NOT_UNIQUE", `initiator ${iqn}`);
      const ini: SimInitiator = { iqn, hostId: "", useChap: false, chapName: "", chapPassword: "", multipathType: "0" };
      state.initiators.push(ini);
      if (optField(req.body, "USECHAP") === "true") await updateInitiator(req, iqn);
      await world.commit();
      return renderIni(ini);
    })
    .add("GET", "/iscsi_initiator", (req) => listQuery(state.initiators.map(renderIni), req.query))
    .add("PUT", "/iscsi_initiator", (req) => updateInitiator(req, field(req.body, "ID")))
    .add("PUT", "/iscsi_initiator/remove_iscsi_from_host", async (req) => {
      const ini = initiatorOf(field(req.body, "ID"));
      if (ini.hostId === "") throw fail("INITIATOR_NOT_IN_HOST", `initiator ${ini.iqn}`);
      ini.hostId = "";
      await world.commit();
      return {};
    })
    .add("GET", "/iscsi_initiator/:iqn", (_req, [iqn = ""]) => renderIni(initiatorOf(iqn)))
    .add("PUT", "/iscsi_initiator/:iqn", (req, [iqn = ""]) => updateInitiator(req, iqn))
    .add("DELETE", "/iscsi_initiator/:iqn", async (_req, [iqn = ""]) => {
      const ini = initiatorOf(iqn);
      if (ini.hostId !== "") throw fail("OBJECT_IN_USE", `initiator ${iqn} is in host ${ini.hostId}`);
      state.initiators.splice(state.initiators.indexOf(ini), 1);
      await world.commit();
      return {};
    });
}
