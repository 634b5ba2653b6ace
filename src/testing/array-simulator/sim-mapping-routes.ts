import { fail } from "./sim-errors.js";
import { portTargetIqn, renderEthPort, renderGroup, renderLun, renderSnapshot, renderView } from "./sim-render.js";
import { checkName, field, listQuery, optField, queryField, type SimRequest, type SimRouter } from "./sim-router.js";
import { groupsOfMember, nextId, refreshHostLunIds, type SimGroup, type SimMember, type SimView } from "./sim-state.js";
import type { SimWorld } from "./sim-world.js";

/** The view slot each group type fills. */
const SLOT = { "14": "hostGroupId", "256": "lunGroupId", "257": "portGroupId" } as const;
type SlotType = keyof typeof SLOT;

/**
 * LUN group, port group and mapping view routes, their associations, the host-side LUN lists
 * (`/lun/associate`, `/snapshot/associate` with host LUN ids) and the front-end ports.
 */
export function registerMappingRoutes(router: SimRouter, world: SimWorld): void {
  const { state } = world;
  const lunGroupOf = (id: string): SimGroup => {
    const g = state.lunGroups.find((x) => x.id === id);
    if (!g) throw fail("OBJECT_NOT_EXIST", `LUN group ${id}`);
    return g;
  };
  const portGroupOf = (id: string): SimGroup => {
    const g = state.portGroups.find((x) => x.id === id);
    if (!g) throw fail("PORTGROUP_NOT_EXIST", `port group ${id}`);
    return g;
  };
  const viewOf = (id: string): SimView => {
    const v = state.views.find((x) => x.id === id);
    if (!v) throw fail("MAPPINGVIEW_NOT_EXIST", `mapping view ${id}`);
    return v;
  };
  const groupOfType = (type: SlotType, id: string): SimGroup => {
    if (type === "256") return lunGroupOf(id);
    if (type === "257") return portGroupOf(id);
    const g = state.hostGroups.find((x) => x.id === id);
    if (!g) throw fail("HOSTGROUP_NOT_EXIST", `host group ${id}`);
    return g;
  };
  const slotType = (value: string): SlotType => {
    if (value !== "14" && value !== "256" && value !== "257") throw fail("PARAMETER_ERROR", "ASSOCIATEOBJTYPE must be 14, 256 or 257");
    return value;
  };
  const memberType = (value: string): 11 | 27 => {
    if (value === "11") return 11;
    if (value === "27") return 27;
    throw fail("PARAMETER_ERROR", "ASSOCIATEOBJTYPE must be 11 or 27");
  };
  const memberExists = (m: SimMember): void => {
    if (m.type === 11 && !state.luns.some((l) => l.id === m.id)) throw fail("LUN_NOT_EXIST", `LUN ${m.id}`);
    if (m.type === 27 && !state.snapshots.some((s) => s.id === m.id && s.runningStatus === "43")) throw fail("SNAPSHOT_NOT_EXIST", `active snapshot ${m.id}`);
  };
  const renderMember = (m: SimMember): Record<string, string | number> => {
    if (m.type === 11) {
      const lun = state.luns.find((l) => l.id === m.id);
      return lun ? renderLun(state, lun, world.now()) : { ID: m.id };
    }
    const snap = state.snapshots.find((s) => s.id === m.id);
    return snap ? renderSnapshot(state, snap) : { ID: m.id };
  };
  /** Members a host sees, with `ASSOCIATEMETADATA` holding the host LUN id. */
  const hostMembers = (req: SimRequest, type: 11 | 27): unknown => {
    const aType = queryField(req.query, "ASSOCIATEOBJTYPE");
    const oid = queryField(req.query, "ASSOCIATEOBJID");
    if (aType === "256") return listQuery((state.lunGroupMembers[oid] ?? []).filter((m) => m.type === type).map(renderMember), req.query);
    if (aType !== "21") throw fail("PARAMETER_ERROR", "ASSOCIATEOBJTYPE must be 256 or 21");
    if (!state.hosts.some((h) => h.id === oid)) throw fail("HOST_NOT_EXIST", `host ${oid}`);
    const out: Record<string, string | number>[] = [];
    for (const [key, hostLunId] of Object.entries(state.hostLunIds)) {
      const [hostId, t, id = ""] = key.split(":");
      if (hostId !== oid || t !== String(type)) continue;
      out.push({ ...renderMember({ type, id }), ASSOCIATEMETADATA: JSON.stringify({ HostLUNID: hostLunId }) });
    }
    return listQuery(out, req.query);
  };
  const commitMapping = async (): Promise<void> => {
    refreshHostLunIds(state);
    await world.commit();
  };

  router
    // LUN groups.
    .add("POST", "/lungroup", async (req) => {
      const name = checkName(field(req.body, "NAME"));
      if (state.lunGroups.some((g) => g.name === name)) throw fail("OBJECT_NAME_ALREADY_EXIST", `LUN group ${name}`);
      const group: SimGroup = { id: nextId(state, "lungroup"), name, description: optField(req.body, "DESCRIPTION") ?? "" };
      state.lunGroups.push(group);
      state.lunGroupMembers[group.id] = [];
      await world.commit();
      return renderGroup(state, group, 256);
    })
    .add("GET", "/lungroup", (req) => listQuery(state.lunGroups.map((g) => renderGroup(state, g, 256)), req.query))
    .add("POST", "/lungroup/associate", async (req) => {
      const gid = field(req.body, "ID");
      lunGroupOf(gid);
      const member: SimMember = { type: memberType(field(req.body, "ASSOCIATEOBJTYPE")), id: field(req.body, "ASSOCIATEOBJID") };
      memberExists(member);
      const members = state.lunGroupMembers[gid] ?? [];
      if (members.some((m) => m.type === member.type && m.id === member.id)) throw fail("LUN_ALREADY_IN_LUNGROUP", `object ${member.id} in LUN group ${gid}`);
      state.lunGroupMembers[gid] = [...members, member];
      await commitMapping();
      return {};
    })
    .add("DELETE", "/lungroup/associate", async (req) => {
      const gid = queryField(req.query, "ID");
      lunGroupOf(gid);
      const type = memberType(queryField(req.query, "ASSOCIATEOBJTYPE"));
      const id = queryField(req.query, "ASSOCIATEOBJID");
      const members = state.lunGroupMembers[gid] ?? [];
      if (!members.some((m) => m.type === type && m.id === id)) throw fail("OBJECT_NOT_EXIST", `object ${id} is not in LUN group ${gid}`);
      state.lunGroupMembers[gid] = members.filter((m) => !(m.type === type && m.id === id));
      await commitMapping();
      return {};
    })
    .add("GET", "/lungroup/associate", (req) => {
      const type = queryField(req.query, "ASSOCIATEOBJTYPE");
      const oid = queryField(req.query, "ASSOCIATEOBJID");
      if (type === "245") return lunGroupsOfView(oid);
      return groupsOfMember(state, memberType(type), oid).map((gid) => renderGroup(state, lunGroupOf(gid), 256));
    })
    .add("GET", "/lungroup/associate/mappingview", (req) => lunGroupsOfView(queryField(req.query, "ASSOCIATEOBJID")))
    .add("GET", "/mappingview/associate/lungroup", (req) => lunGroupsOfView(queryField(req.query, "ASSOCIATEOBJID")))
    .add("GET", "/lungroup/:id", (_req, [id = ""]) => renderGroup(state, lunGroupOf(id), 256))
    .add("DELETE", "/lungroup/:id", async (_req, [id = ""]) => {
      const group = lunGroupOf(id);
      if (state.views.some((v) => v.lunGroupId === id)) throw fail("OBJECT_IN_USE", `LUN group ${id} is in a mapping view`);
      if ((state.lunGroupMembers[id] ?? []).length > 0) throw fail("OBJECT_IN_USE", `LUN group ${id} is not empty`);
      state.lunGroups.splice(state.lunGroups.indexOf(group), 1);
      delete state.lunGroupMembers[id];
      await world.commit();
      return {};
    })
    .add("GET", "/lun/associate", (req) => hostMembers(req, 11))
    .add("GET", "/snapshot/associate", (req) => hostMembers(req, 27))
    // Port groups and ports.
    .add("POST", "/portgroup", async (req) => {
      const name = checkName(field(req.body, "NAME"));
      if (state.portGroups.some((g) => g.name === name)) throw fail("OBJECT_NAME_ALREADY_EXIST", `port group ${name}`);
      const group: SimGroup = { id: nextId(state, "portgroup"), name, description: optField(req.body, "DESCRIPTION") ?? "" };
      state.portGroups.push(group);
      state.portGroupPorts[group.id] = [];
      await world.commit();
      return renderGroup(state, group, 257);
    })
    .add("GET", "/portgroup", (req) => listQuery(state.portGroups.map((g) => renderGroup(state, g, 257)), req.query))
    .add("GET", "/portgroup/associate", (req) => {
      const type = queryField(req.query, "ASSOCIATEOBJTYPE");
      const oid = queryField(req.query, "ASSOCIATEOBJID");
      if (type === "245") return state.views.filter((v) => v.id === oid && v.portGroupId !== "").map((v) => renderGroup(state, portGroupOf(v.portGroupId), 257));
      if (type === "213" || type === "212") return state.portGroups.filter((g) => (state.portGroupPorts[g.id] ?? []).includes(oid)).map((g) => renderGroup(state, g, 257));
      throw fail("PARAMETER_ERROR", "ASSOCIATEOBJTYPE must be 245, 212 or 213");
    })
    .add("GET", "/portgroup/associate/mappingview", (req) => {
      const view = viewOf(queryField(req.query, "ASSOCIATEOBJID"));
      return view.portGroupId === "" ? [] : [renderGroup(state, portGroupOf(view.portGroupId), 257)];
    })
    .add("GET", "/portgroup/:id", (_req, [id = ""]) => renderGroup(state, portGroupOf(id), 257))
    .add("PUT", "/portgroup/:id", async (req, [id = ""]) => {
      const group = portGroupOf(id);
      group.description = optField(req.body, "DESCRIPTION") ?? group.description;
      await world.commit();
      return renderGroup(state, group, 257);
    })
    .add("DELETE", "/portgroup/:id", async (_req, [id = ""]) => {
      const group = portGroupOf(id);
      if (state.views.some((v) => v.portGroupId === id)) throw fail("OBJECT_IN_USE", `port group ${id} is in a mapping view`);
      state.portGroups.splice(state.portGroups.indexOf(group), 1);
      delete state.portGroupPorts[id];
      await world.commit();
      return {};
    })
    .add("POST", "/port/associate/portgroup", async (req) => {
      const gid = field(req.body, "ID");
      portGroupOf(gid);
      const pid = field(req.body, "ASSOCIATEOBJID");
      if (!state.ethPorts.some((p) => p.id === pid)) throw fail("OBJECT_NOT_EXIST", `port ${pid}`);
      const ports = state.portGroupPorts[gid] ?? [];
      if (ports.includes(pid)) throw fail("PORT_ALREADY_IN_PORTGROUP", `port ${pid} in group ${gid}`);
      state.portGroupPorts[gid] = [...ports, pid];
      await commitMapping();
      return {};
    })
    .add("DELETE", "/port/associate/portgroup", async (req) => {
      const gid = queryField(req.query, "ID");
      portGroupOf(gid);
      const pid = queryField(req.query, "ASSOCIATEOBJID");
      const ports = state.portGroupPorts[gid] ?? [];
      if (!ports.includes(pid)) throw fail("PORT_NOT_IN_PORTGROUP", `port ${pid} in group ${gid}`);
      state.portGroupPorts[gid] = ports.filter((p) => p !== pid);
      await commitMapping();
      return {};
    })
    .add("GET", "/eth_port", (req) => listQuery(state.ethPorts.map((p) => renderEthPort(p, world.iscsiPort)), req.query))
    .add("GET", "/eth_port/associate", (req) => {
      if (queryField(req.query, "ASSOCIATEOBJTYPE") !== "257") throw fail("PARAMETER_ERROR", "ASSOCIATEOBJTYPE must be 257");
      const gid = queryField(req.query, "ASSOCIATEOBJID");
      portGroupOf(gid);
      const ids = state.portGroupPorts[gid] ?? [];
      return state.ethPorts.filter((p) => ids.includes(p.id)).map((p) => renderEthPort(p, world.iscsiPort));
    })
    .add("GET", "/iscsi_tgt_port", () =>
      state.ethPorts.map((p, i) => ({ TYPE: 249, ID: `${i}+${portTargetIqn(world.behaviour.systemWwn, p)},t,0x${(0x101 + i).toString(16).padStart(4, "0")}`, ETHPORTID: p.id, TPGT: String(0x101 + i) })),
    )
    .add("GET", "/iscsidevicename", () => [{ CMO_ISCSI_DEVICE_NAME: `iqn.2006-08.com.huawei:oceanstor:${world.behaviour.systemWwn}:` }])
    // Mapping views.
    .add("POST", "/mappingview", async (req) => {
      const name = checkName(field(req.body, "NAME"));
      if (state.views.some((v) => v.name === name)) throw fail("OBJECT_NAME_ALREADY_EXIST", `mapping view ${name}`);
      const view: SimView = { id: nextId(state, "mappingview"), name, description: optField(req.body, "DESCRIPTION") ?? "", hostGroupId: "", lunGroupId: "", portGroupId: "" };
      state.views.push(view);
      await world.commit();
      return renderView(state, view);
    })
    .add("GET", "/mappingview", (req) => listQuery(state.views.map((v) => renderView(state, v)), req.query))
    .add("PUT", "/mappingview/create_associate", async (req) => {
      const view = viewOf(field(req.body, "ID"));
      const type = slotType(field(req.body, "ASSOCIATEOBJTYPE"));
      const gid = field(req.body, "ASSOCIATEOBJID");
      groupOfType(type, gid);
      const slot = SLOT[type];
      if (view[slot] === gid) {
        throw fail(type === "14" ? "HOSTGROUP_ALREADY_IN_MAPPINGVIEW" : type === "256" ? "LUNGROUP_ALREADY_IN_MAPPINGVIEW" : "PORTGROUP_ALREADY_IN_MAPPINGVIEW", `group ${gid} in view ${view.id}`);
      }
      if (view[slot] !== "") throw fail("PARAMETER_ERROR", `mapping view ${view.id} already has a group of type ${type}`);
      view[slot] = gid;
      await commitMapping();
      return {};
    })
    .add("PUT", "/mappingview/remove_associate", async (req) => {
      const view = viewOf(field(req.body, "ID"));
      const type = slotType(field(req.body, "ASSOCIATEOBJTYPE"));
      const gid = field(req.body, "ASSOCIATEOBJID");
      const slot = SLOT[type];
      if (view[slot] !== gid) {
        throw fail(type === "14" ? "HOSTGROUP_NOT_IN_MAPPINGVIEW" : type === "256" ? "LUNGROUP_NOT_IN_MAPPINGVIEW" : "PORTGROUP_NOT_IN_MAPPINGVIEW", `group ${gid} in view ${view.id}`);
      }
      view[slot] = "";
      await commitMapping();
      return {};
    })
    .add("GET", "/mappingview/associate", (req) => {
      const type = slotType(queryField(req.query, "ASSOCIATEOBJTYPE"));
      const gid = queryField(req.query, "ASSOCIATEOBJID");
      return state.views.filter((v) => v[SLOT[type]] === gid).map((v) => renderView(state, v));
    })
    .add("GET", "/mappingview/associate/portgroup", (req) => {
      const gid = queryField(req.query, "ASSOCIATEOBJID");
      return state.views.filter((v) => v.portGroupId === gid).map((v) => renderView(state, v));
    })
    .add("GET", "/mappingview/:id", (_req, [id = ""]) => renderView(state, viewOf(id)))
    .add("DELETE", "/mappingview/:id", async (_req, [id = ""]) => {
      const view = viewOf(id);
      if (view.hostGroupId !== "" || view.lunGroupId !== "" || view.portGroupId !== "") throw fail("OBJECT_IN_USE", `mapping view ${id} still has groups`);
      state.views.splice(state.views.indexOf(view), 1);
      await commitMapping();
      return {};
    });

  function lunGroupsOfView(viewId: string): unknown {
    const view = viewOf(viewId);
    return view.lunGroupId === "" ? [] : [renderGroup(state, lunGroupOf(view.lunGroupId), 256)];
  }
}
