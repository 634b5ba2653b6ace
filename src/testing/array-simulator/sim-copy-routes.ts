import { fail } from "./sim-errors.js";
import { field, listQuery, optField, type SimRouter } from "./sim-router.js";
import { nextId, groupsOfMember, type SimClonePair, type SimLunCopy } from "./sim-state.js";
import { timedCopy } from "./sim-snapshot-routes.js";
import type { SimWorld } from "./sim-world.js";

/** LUN copy (`/luncopy`, `/LUNCOPY/…`) and clone pair (`/clonepair/…`) routes. */
export function registerCopyRoutes(router: SimRouter, world: SimWorld): void {
  const { state } = world;

  /** A copy source: a LUN or an active snapshot; its file and size. */
  const sourceOf = (id: string): { file: string; sectors: number } => {
    const lun = state.luns.find((l) => l.id === id);
    if (lun) return { file: lun.file, sectors: lun.capacitySectors };
    const snap = state.snapshots.find((s) => s.id === id);
    if (!snap) throw fail("OBJECT_NOT_EXIST", `copy source ${id}`);
    if (snap.runningStatus !== "43") throw fail("SNAPSHOT_NOT_ACTIVATED", `snapshot ${id}`);
    return { file: snap.file, sectors: snap.capacitySectors };
  };
  const targetOf = (id: string, minSectors: number): { file: string; sectors: number; lunId: string } => {
    const lun = state.luns.find((l) => l.id === id);
    if (!lun) throw fail("LUN_NOT_EXIST", `copy target ${id}`);
    if (lun.capacitySectors < minSectors) throw fail("PARAMETER_ERROR", `target LUN ${id} is smaller than the source`);
    return { file: lun.file, sectors: lun.capacitySectors, lunId: lun.id };
  };
  /** `INVALID;<id>;INVALID;INVALID;INVALID` → id. */
  const lunField = (value: string, key: string): string => {
    const id = value.split(";")[1];
    if (!id || !/^\d+$/.test(id)) throw fail("PARAMETER_ERROR", `${key} must be INVALID;<id>;INVALID;INVALID;INVALID`);
    return id;
  };
  const copyOf = (id: string): SimLunCopy => {
    const copy = state.lunCopies.find((c) => c.id === id);
    if (!copy) throw fail("LUNCOPY_NOT_EXIST", `LUN copy ${id}`);
    return copy;
  };
  const pairOf = (id: string): SimClonePair => {
    const pair = state.clonePairs.find((p) => p.id === id);
    if (!pair) throw fail("CLONE_PAIR_NOT_EXIST", `clone pair ${id}`);
    return pair;
  };
  const renderCopy = (c: SimLunCopy): Record<string, string | number> => ({
    TYPE: 219,
    ID: c.id,
    NAME: c.name,
    DESCRIPTION: c.description,
    COPYSPEED: c.speed,
    LUNCOPYTYPE: "1",
    SOURCELUN: `INVALID;${c.sourceId};INVALID;INVALID;INVALID`,
    TARGETLUN: `INVALID;${c.targetId};INVALID;INVALID;INVALID`,
    HEALTHSTATUS: c.healthStatus,
    RUNNINGSTATUS: c.runningStatus,
    COPYPROGRESS: String(c.progress),
    COPYSTARTTIME: c.startTime,
    COPYSTOPTIME: c.stopTime,
  });
  const renderPair = (p: SimClonePair): Record<string, string> => ({
    ID: p.id,
    sourceID: p.sourceId,
    targetID: p.targetId,
    copyRate: p.copyRate,
    copyStatus: p.copyStatus,
    syncStatus: p.syncStatus,
    syncProgress: String(p.progress),
  });
  const seconds = (): string => String(Math.floor(world.now() / 1000));

  router
    .add("POST", "/luncopy", async (req) => {
      const name = field(req.body, "NAME");
      if (state.lunCopies.some((c) => c.name === name)) throw fail("OBJECT_NAME_ALREADY_EXIST", `LUN copy ${name}`);
      const sourceId = lunField(field(req.body, "SOURCELUN"), "SOURCELUN");
      const targetId = lunField(field(req.body, "TARGETLUN"), "TARGETLUN");
      const source = sourceOf(sourceId);
      targetOf(targetId, source.sectors);
      const speed = optField(req.body, "COPYSPEED") ?? "2";
      if (!["1", "2", "3", "4"].includes(speed)) throw fail("PARAMETER_ERROR", "COPYSPEED must be 1-4");
      const copy: SimLunCopy = {
        id: nextId(state, "luncopy"),
        name,
        description: optField(req.body, "DESCRIPTION") ?? "",
        speed,
        sourceId,
        targetId,
        runningStatus: "36",
        healthStatus: "1",
        progress: 0,
        startTime: "-1",
        stopTime: "-1",
      };
      state.lunCopies.push(copy);
      await world.commit();
      return renderCopy(copy);
    })
    .add("PUT", "/luncopy/start", async (req) => {
      const copy = copyOf(field(req.body, "ID"));
      if (copy.runningStatus === "39") throw fail("OBJECT_IN_COPY_TASK", `LUN copy ${copy.id} is running`);
      const source = sourceOf(copy.sourceId);
      const target = targetOf(copy.targetId, source.sectors);
      copy.runningStatus = "39";
      copy.progress = 0;
      copy.startTime = seconds();
      await world.commit();
      const broken = world.takeCopyFault();
      world.background(async () => {
        if (broken) {
          copy.healthStatus = "2";
          copy.runningStatus = "41";
        } else {
          await timedCopy(world, source.file, target.file, target.sectors, (p) => (copy.progress = p));
          await world.refreshExport(target.lunId);
          if (copy.runningStatus === "39") {
            copy.runningStatus = "40";
            copy.progress = 100;
          }
        }
        copy.stopTime = seconds();
        await world.commit();
      });
      return {};
    })
    .add("PUT", "/luncopy/stop", async (req) => {
      const copy = copyOf(field(req.body, "ID"));
      if (copy.runningStatus === "40") throw fail("LUNCOPY_COMPLETED", `LUN copy ${copy.id}`);
      if (copy.runningStatus !== "39") throw fail("LUNCOPY_ALREADY_STOPPED", `LUN copy ${copy.id}`);
      copy.runningStatus = "41";
      await world.commit();
      return {};
    })
    .add("GET", "/luncopy", (req) => listQuery(state.lunCopies.map(renderCopy), req.query))
    .add("GET", "/luncopy/:id", (_req, [id = ""]) => renderCopy(copyOf(id)))
    .add("DELETE", "/luncopy/:id", async (_req, [id = ""]) => {
      const copy = copyOf(id);
      if (copy.runningStatus === "39") throw fail("OBJECT_IN_USE", `LUN copy ${id} is running`);
      state.lunCopies.splice(state.lunCopies.indexOf(copy), 1);
      await world.commit();
      return {};
    })
    .add("POST", "/clonepair/relation", async (req) => {
      const sourceId = field(req.body, "sourceID");
      const targetId = field(req.body, "targetID");
      const source = sourceOf(sourceId);
      targetOf(targetId, source.sectors);
      const pair: SimClonePair = { id: nextId(state, "clonepair"), sourceId, targetId, copyRate: optField(req.body, "copyRate") ?? "2", copyStatus: "0", syncStatus: "0", progress: 0 };
      state.clonePairs.push(pair);
      await world.commit();
      return renderPair(pair);
    })
    .add("PUT", "/clonepair/synchronize", async (req) => {
      const pair = pairOf(field(req.body, "ID"));
      const action = optField(req.body, "copyAction") ?? "0";
      if (action === "2") {
        if (pair.syncStatus === "1") pair.syncStatus = "0";
        await world.commit();
        return {};
      }
      if (pair.syncStatus === "1") return {};
      const source = sourceOf(pair.sourceId);
      const target = targetOf(pair.targetId, source.sectors);
      pair.syncStatus = "1";
      pair.progress = 0;
      await world.commit();
      const broken = world.takeCopyFault();
      world.background(async () => {
        if (broken) pair.copyStatus = "1";
        else {
          await timedCopy(world, source.file, target.file, target.sectors, (p) => (pair.progress = p));
          await world.refreshExport(target.lunId);
          if (pair.syncStatus === "1") {
            pair.syncStatus = "2";
            pair.progress = 100;
          }
        }
        await world.commit();
      });
      return {};
    })
    .add("GET", "/clonepair", (req) => listQuery(state.clonePairs.map(renderPair), req.query))
    .add("GET", "/clonepair/:id", (_req, [id = ""]) => renderPair(pairOf(id)))
    .add("DELETE", "/clonepair/:id", async (req, [id = ""]) => {
      const pair = pairOf(id);
      if (pair.syncStatus === "1") throw fail("OBJECT_IN_USE", `clone pair ${id} is synchronizing`);
      state.clonePairs.splice(state.clonePairs.indexOf(pair), 1);
      if (optField(req.body, "isDeleteDstLun") === "true") {
        const lun = state.luns.find((l) => l.id === pair.targetId);
        if (lun && groupsOfMember(state, 11, lun.id).length === 0) {
          state.luns.splice(state.luns.indexOf(lun), 1);
          await world.files.remove(lun.file);
        }
      }
      await world.commit();
      return {};
    });
}
