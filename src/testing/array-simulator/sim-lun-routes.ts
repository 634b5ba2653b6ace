import { fail } from "./sim-errors.js";
import { consumedSectors, renderLun, renderPool } from "./sim-render.js";
import { checkName, field, intField, listQuery, optField, queryField, type SimRequest, type SimRouter } from "./sim-router.js";
import { groupsOfMember, nextId, sourceDepth, type SimLun, type SimPool } from "./sim-state.js";
import type { SimWorld } from "./sim-world.js";

/** LUN routes: `/lun`, `/lun/expand`, clone LUNs, `/lunclone_split_switch`, `/storagepool`, `/system/`. */
export function registerLunRoutes(router: SimRouter, world: SimWorld): void {
  const { state } = world;

  const lunOf = (id: string): SimLun => {
    const lun = state.luns.find((l) => l.id === id);
    if (!lun) throw fail("LUN_NOT_EXIST", `LUN ${id}`);
    return lun;
  };
  const poolOf = (id: string): SimPool => {
    const pool = state.pools.find((p) => p.id === id);
    if (!pool) throw fail("OBJECT_NOT_EXIST", `storage pool ${id}`);
    return pool;
  };
  const needFree = (pool: SimPool, sectors: number): void => {
    if (consumedSectors(state, pool.id) + sectors > pool.totalSectors) throw fail("POOL_INSUFFICIENT_CAPACITY", `pool ${pool.name}`);
  };
  const render = (lun: SimLun): Record<string, string | number> => renderLun(state, lun, world.now());
  const wwnOf = (id: string): string => `6${world.behaviour.systemWwn.slice(1)}${Number(id).toString(16).padStart(16, "0")}`;

  const createLun = async (req: SimRequest): Promise<unknown> => {
    const name = checkName(field(req.body, "NAME"));
    if (state.luns.some((l) => l.name === name)) throw fail("OBJECT_NAME_ALREADY_EXIST", `LUN ${name}`);
    if (optField(req.body, "ISCLONE") === "true") return createClone(req, name);
    const pool = poolOf(field(req.body, "PARENTID"));
    const capacity = intField(req.body, "CAPACITY");
    if (capacity < 1) throw fail("PARAMETER_ERROR", "CAPACITY must be positive");
    const alloc = optField(req.body, "ALLOCTYPE") ?? "0";
    if (alloc !== "0" && alloc !== "1") throw fail("PARAMETER_ERROR", "ALLOCTYPE must be 0 (thick) or 1 (thin)");
    if (alloc === "0") needFree(pool, capacity);
    else if (capacity > pool.totalSectors) throw fail("POOL_INSUFFICIENT_CAPACITY", "a thin LUN cannot exceed the pool size");
    const id = nextId(state, "volume");
    const lun: SimLun = {
      id,
      name,
      description: optField(req.body, "DESCRIPTION") ?? "",
      poolId: pool.id,
      allocType: alloc === "0" ? 0 : 1,
      capacitySectors: capacity,
      wwn: wwnOf(id),
      readyAt: world.now() + world.behaviour.lunInitMs,
      isClone: false,
      cloneSourceId: "",
      qosId: "",
      file: world.files.pathOf("lun", id),
    };
    state.luns.push(lun);
    try {
      await world.files.create(lun.file, capacity);
    } catch (e) {
      state.luns.splice(state.luns.indexOf(lun), 1);
      throw e;
    }
    await world.commit();
    return render(lun);
  };

  const createClone = async (req: SimRequest, name: string): Promise<unknown> => {
    const sourceId = field(req.body, "CLONESOURCEID");
    const srcLun = state.luns.find((l) => l.id === sourceId);
    const srcSnap = state.snapshots.find((s) => s.id === sourceId);
    if (!srcLun && !srcSnap) throw fail("OBJECT_NOT_EXIST", `clone source ${sourceId}`);
    if (srcSnap && srcSnap.runningStatus !== "43") throw fail("SNAPSHOT_NOT_ACTIVATED", `snapshot ${sourceId}`);
    if (sourceDepth(state, sourceId) + 1 > world.behaviour.maxCloneDepth) throw fail("CLONE_DEPTH_EXCEEDED", `limit ${world.behaviour.maxCloneDepth}`);
    const base = srcLun ?? lunOf(srcSnap?.lunId ?? "");
    const id = nextId(state, "volume");
    const lun: SimLun = {
      ...base,
      id,
      name,
      description: optField(req.body, "DESCRIPTION") ?? "",
      capacitySectors: srcSnap ? srcSnap.capacitySectors : base.capacitySectors,
      wwn: wwnOf(id),
      readyAt: world.now(),
      isClone: true,
      cloneSourceId: sourceId,
      qosId: "",
      file: world.files.pathOf("lun", id),
    };
    state.luns.push(lun);
    try {
      await world.files.copy(srcSnap ? srcSnap.file : base.file, lun.file, lun.capacitySectors);
    } catch (e) {
      state.luns.splice(state.luns.indexOf(lun), 1);
      throw e;
    }
    await world.commit();
    return render(lun);
  };

  router
    .add("POST", "/lun", createLun)
    .add("GET", "/lun", (req) => listQuery(state.luns.map(render), req.query))
    .add("GET", "/lun/count", (req) => ({ COUNT: String(countLuns(req)) }))
    .add("GET", "/lun/:id", (_req, [id = ""]) => render(lunOf(id)))
    .add("PUT", "/lun/expand", async (req) => {
      const lun = lunOf(field(req.body, "ID"));
      const capacity = intField(req.body, "CAPACITY");
      if (capacity <= lun.capacitySectors) throw fail("CAPACITY_NOT_LARGER", `${capacity} <= ${lun.capacitySectors}`);
      if (lun.allocType === 0) needFree(poolOf(lun.poolId), capacity - lun.capacitySectors);
      await world.files.grow(lun.file, capacity);
      lun.capacitySectors = capacity;
      await world.commit();
      await world.refreshExport(lun.id);
      return render(lun);
    })
    .add("PUT", "/lun/:id", async (req, [id = ""]) => {
      const lun = lunOf(id);
      const name = optField(req.body, "NAME");
      if (name !== undefined) {
        checkName(name);
        if (state.luns.some((l) => l.name === name && l.id !== id)) throw fail("OBJECT_NAME_ALREADY_EXIST", `LUN ${name}`);
        lun.name = name;
      }
      const description = optField(req.body, "DESCRIPTION");
      if (description !== undefined) lun.description = description;
      await world.commit();
      return render(lun);
    })
    .add("DELETE", "/lun/:id", async (_req, [id = ""]) => {
      const lun = lunOf(id);
      if (groupsOfMember(state, 11, id).length > 0) throw fail("LUN_IN_LUNGROUP", `LUN ${id}`);
      if (state.snapshots.some((s) => s.lunId === id)) throw fail("LUN_HAS_SNAPSHOTS", `LUN ${id}`);
      const busy =
        state.lunCopies.some((c) => (c.sourceId === id || c.targetId === id) && c.runningStatus !== "40") ||
        state.clonePairs.some((p) => (p.sourceId === id || p.targetId === id) && p.syncStatus !== "2") ||
        state.luns.some((l) => l.isClone && l.cloneSourceId === id);
      if (busy) throw fail("OBJECT_IN_COPY_TASK", `LUN ${id}`);
      if (lun.qosId !== "") throw fail("OBJECT_IN_USE", `LUN ${id} is in QoS policy ${lun.qosId}`);
      state.luns.splice(state.luns.indexOf(lun), 1);
      await world.commit();
      await world.files.remove(lun.file);
      return {};
    })
    .add("PUT", "/lunclone_split_switch", async (req) => {
      const lun = lunOf(field(req.body, "ID"));
      const action = optField(req.body, "SPLITACTION") ?? "1";
      if (!lun.isClone) throw fail("CLONE_PAIR_SYNC_COMPLETE", `LUN ${lun.id} is not a clone`);
      if (action === "1") {
        lun.isClone = false;
        lun.cloneSourceId = "";
        await world.commit();
      }
      return {};
    })
    .add("GET", "/storagepool", (req) => listQuery(state.pools.map((p) => renderPool(state, p)), req.query))
    .add("GET", "/storagepool/:id", (_req, [id = ""]) => renderPool(state, poolOf(id)))
    .add("GET", "/system", () => system())
    .add("GET", "/system/", () => system());

  function system(): Record<string, string | number> {
    return {
      TYPE: 201,
      ID: world.behaviour.deviceId,
      NAME: "volkit-array-simulator",
      PRODUCTMODE: "805",
      PRODUCTVERSION: world.behaviour.productVersion,
      wwn: world.behaviour.systemWwn,
      HEALTHSTATUS: "1",
      RUNNINGSTATUS: "1",
    };
  }

  /** `/lun/count`: all LUNs, or those in a LUN group (`ASSOCIATEOBJTYPE=256`). */
  function countLuns(req: SimRequest): number {
    const type = req.query.get("ASSOCIATEOBJTYPE");
    if (type === null) return state.luns.length;
    if (type !== "256") throw fail("PARAMETER_ERROR", "ASSOCIATEOBJTYPE must be 256");
    const gid = queryField(req.query, "ASSOCIATEOBJID");
    return (state.lunGroupMembers[gid] ?? []).filter((m) => m.type === 11).length;
  }
}
