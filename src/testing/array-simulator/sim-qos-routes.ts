import { fail } from "./sim-errors.js";
import { renderQos } from "./sim-render.js";
import { checkName, field, listQuery, optField, type SimRequest, type SimRouter } from "./sim-router.js";
import { nextId, type SimQos } from "./sim-state.js";
import type { SimWorld } from "./sim-world.js";

const UPPER = ["MAXIOPS", "MAXBANDWIDTH"] as const;
const LOWER = ["MINIOPS", "MINBANDWIDTH", "LATENCY"] as const;

/** QoS policy routes (`/ioclass`) and the `/<object>/count` queries feature checks use. */
export function registerQosRoutes(router: SimRouter, world: SimWorld): void {
  const { state } = world;
  const qosOf = (id: string): SimQos => {
    const q = state.qos.find((x) => x.id === id);
    if (!q) throw fail("OBJECT_NOT_EXIST", `QoS policy ${id}`);
    return q;
  };
  /** LUNLIST: a list of ids (or a JSON list in a string); every LUN must exist and be free or in `owner`. */
  const lunList = (value: unknown, owner: string): string[] => {
    let list: unknown = value;
    if (typeof value === "string") {
      try {
        list = JSON.parse(value);
      } catch {
        throw fail("PARAMETER_ERROR", "LUNLIST must be a list");
      }
    }
    if (!Array.isArray(list)) throw fail("PARAMETER_ERROR", "LUNLIST must be a list");
    const ids = list.map((x) => String(x)).filter((x) => x !== "");
    if (ids.length > 64) throw fail("PARAMETER_ERROR", "a QoS policy holds at most 64 LUNs");
    for (const id of ids) {
      const lun = state.luns.find((l) => l.id === id);
      if (!lun) throw fail("LUN_NOT_EXIST", `LUN ${id}`);
      if (lun.qosId !== "" && lun.qosId !== owner) throw fail("OBJECT_IN_USE", `LUN ${id} is in QoS policy ${lun.qosId}`);
    }
    return ids;
  };
  const assign = (qos: SimQos, ids: string[]): void => {
    for (const lun of state.luns) if (lun.qosId === qos.id && !ids.includes(lun.id)) lun.qosId = "";
    for (const lun of state.luns) if (ids.includes(lun.id)) lun.qosId = qos.id;
    qos.lunIds = ids;
  };
  const activate = async (req: SimRequest, id: string): Promise<unknown> => {
    const qos = qosOf(id);
    const status = field(req.body, "ENABLESTATUS");
    if (status !== "true" && status !== "false") throw fail("PARAMETER_ERROR", "ENABLESTATUS must be true or false");
    qos.enabled = status === "true";
    await world.commit();
    return {};
  };

  router
    .add("POST", "/ioclass", async (req) => {
      const name = checkName(field(req.body, "NAME"));
      if (state.qos.some((q) => q.name === name)) throw fail("OBJECT_NAME_ALREADY_EXIST", `QoS policy ${name}`);
      const limits: Record<string, string> = {};
      for (const key of [...UPPER, ...LOWER]) {
        const v = optField(req.body, key);
        if (v === undefined || v === "" || v === "0") continue;
        if (!/^\d+$/.test(v)) throw fail("PARAMETER_ERROR", `${key} must be a positive whole number`);
        limits[key] = v;
      }
      const keys = Object.keys(limits);
      if (keys.length === 0) throw fail("PARAMETER_ERROR", "a QoS policy needs a limit");
      if (keys.some((k) => (UPPER as readonly string[]).includes(k)) && keys.some((k) => (LOWER as readonly string[]).includes(k))) {
        throw fail("PARAMETER_ERROR", "upper and lower limits cannot be mixed");
      }
      const ioType = optField(req.body, "IOTYPE") ?? "2";
      if (!["0", "1", "2"].includes(ioType)) throw fail("PARAMETER_ERROR", "IOTYPE must be 0, 1 or 2");
      const qos: SimQos = { id: nextId(state, "qos"), name, lunIds: [], enabled: false, ioType, limits };
      const ids = lunList(req.body.LUNLIST ?? [], qos.id);
      state.qos.push(qos);
      assign(qos, ids);
      await world.commit();
      return renderQos(qos);
    })
    .add("GET", "/ioclass", (req) => listQuery(state.qos.map(renderQos), req.query))
    .add("GET", "/ioclass/count", () => ({ COUNT: String(state.qos.length) }))
    .add("PUT", "/ioclass/active", (req) => activate(req, field(req.body, "ID")))
    .add("PUT", "/ioclass/active/:id", (req, [id = ""]) => activate(req, id))
    .add("GET", "/ioclass/:id", (_req, [id = ""]) => renderQos(qosOf(id)))
    .add("PUT", "/ioclass/:id", async (req, [id = ""]) => {
      const qos = qosOf(id);
      if (req.body.LUNLIST !== undefined) assign(qos, lunList(req.body.LUNLIST, qos.id));
      await world.commit();
      return renderQos(qos);
    })
    .add("DELETE", "/ioclass/:id", async (_req, [id = ""]) => {
      const qos = qosOf(id);
      if (qos.enabled) throw fail("OBJECT_IN_USE", `QoS policy ${id} is active`);
      assign(qos, []);
      state.qos.splice(state.qos.indexOf(qos), 1);
      await world.commit();
      return {};
    });

  const counts: Record<string, () => number> = {
    host: () => state.hosts.length,
    hostgroup: () => state.hostGroups.length,
    lungroup: () => state.lunGroups.length,
    portgroup: () => state.portGroups.length,
    mappingview: () => state.views.length,
    luncopy: () => state.lunCopies.length,
    iscsi_initiator: () => state.initiators.length,
    storagepool: () => state.pools.length,
  };
  for (const [name, count] of Object.entries(counts)) router.add("GET", `/${name}/count`, () => ({ COUNT: String(count()) }));
}
