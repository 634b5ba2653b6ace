import { setTimeout as sleep } from "node:timers/promises";
import { fail } from "./sim-errors.js";
import { renderSnapshot } from "./sim-render.js";
import { checkName, field, listQuery, optField, queryField, type SimRouter } from "./sim-router.js";
import { groupsOfMember, nextId, type SimSnapshot } from "./sim-state.js";
import type { SimWorld } from "./sim-world.js";

/**
 * Runs a data copy that takes at least the configured copy duration, reporting progress (0-99 while
 * running) through `onProgress`. Used by LUN copies, clone pairs and rollbacks.
 */
export async function timedCopy(world: SimWorld, src: string, dst: string, sectors: number, onProgress: (percent: number) => void): Promise<void> {
  const started = world.now();
  const duration = world.behaviour.copyDurationMs;
  const ticker = setInterval(() => onProgress(Math.min(99, Math.floor(((world.now() - started) / Math.max(1, duration)) * 100))), 50);
  try {
    await Promise.all([world.files.copy(src, dst, sectors), sleep(duration)]);
  } finally {
    clearInterval(ticker);
  }
}

/** Snapshot routes: `/snapshot`, activate, stop, rollback, counts. */
export function registerSnapshotRoutes(router: SimRouter, world: SimWorld): void {
  const { state } = world;
  const snapOf = (id: string): SimSnapshot => {
    const snap = state.snapshots.find((s) => s.id === id);
    if (!snap) throw fail("SNAPSHOT_NOT_EXIST", `snapshot ${id}`);
    return snap;
  };
  const render = (s: SimSnapshot): Record<string, string | number> => renderSnapshot(state, s);
  const inUse = (id: string): boolean =>
    state.lunCopies.some((c) => c.sourceId === id && c.runningStatus === "39") ||
    state.clonePairs.some((p) => p.sourceId === id && p.syncStatus === "1") ||
    state.luns.some((l) => l.isClone && l.cloneSourceId === id);

  router
    .add("POST", "/snapshot", async (req) => {
      const name = checkName(field(req.body, "NAME"));
      const lunId = field(req.body, "PARENTID");
      const lun = state.luns.find((l) => l.id === lunId);
      if (!lun) throw fail("LUN_NOT_EXIST", `LUN ${lunId}`);
      if (state.snapshots.some((s) => s.name === name)) throw fail("OBJECT_NAME_ALREADY_EXIST", `snapshot ${name}`);
      const id = nextId(state, "volume");
      const snap: SimSnapshot = {
        id,
        name,
        description: optField(req.body, "DESCRIPTION") ?? "",
        lunId,
        wwn: `6${world.behaviour.systemWwn.slice(1)}${Number(id).toString(16).padStart(16, "0")}`,
        capacitySectors: lun.capacitySectors,
        runningStatus: "45",
        rollbackRate: "",
        rollbackEndTime: "-1",
        file: world.files.pathOf("snapshot", id),
      };
      state.snapshots.push(snap);
      await world.commit();
      return render(snap);
    })
    .add("POST", "/snapshot/activate", async (req) => {
      const list = req.body.SNAPSHOTLIST;
      if (!Array.isArray(list) || list.length === 0) throw fail("PARAMETER_ERROR", "SNAPSHOTLIST must be a non-empty list");
      const snaps = list.map((id) => snapOf(String(id)));
      for (const snap of snaps) {
        if (snap.runningStatus !== "45") continue;
        const lun = state.luns.find((l) => l.id === snap.lunId);
        if (!lun) throw fail("LUN_NOT_EXIST", `LUN ${snap.lunId}`);
        // The point in time: the LUN's bytes now.
        await world.files.copy(lun.file, snap.file, lun.capacitySectors);
        snap.capacitySectors = lun.capacitySectors;
        snap.runningStatus = "43";
      }
      await world.commit();
      return {};
    })
    .add("PUT", "/snapshot/stop", async (req) => {
      const snap = snapOf(field(req.body, "ID"));
      if (snap.runningStatus === "45") throw fail("SNAPSHOT_NOT_ACTIVATED", `snapshot ${snap.id}`);
      if (snap.runningStatus === "44" || inUse(snap.id)) throw fail("OBJECT_IN_COPY_TASK", `snapshot ${snap.id}`);
      snap.runningStatus = "45";
      await world.files.remove(snap.file);
      await world.commit();
      return {};
    })
    .add("PUT", "/snapshot/rollback", async (req) => {
      const snap = snapOf(field(req.body, "ID"));
      if (snap.runningStatus !== "43") throw fail("SNAPSHOT_NOT_ACTIVATED", `snapshot ${snap.id}`);
      const lun = state.luns.find((l) => l.id === snap.lunId);
      if (!lun) throw fail("LUN_NOT_EXIST", `LUN ${snap.lunId}`);
      snap.runningStatus = "44";
      snap.rollbackRate = "0";
      snap.rollbackEndTime = "-1";
      await world.commit();
      world.background(async () => {
        await timedCopy(world, snap.file, lun.file, lun.capacitySectors, (p) => (snap.rollbackRate = String(p)));
        await world.refreshExport(lun.id);
        if (snap.runningStatus === "44") {
          snap.runningStatus = "43";
          snap.rollbackRate = "100";
          snap.rollbackEndTime = String(Math.floor(world.now() / 1000));
        }
        await world.commit();
      });
      return {};
    })
    .add("PUT", "/snapshot/cancelrollback", async (req) => {
      const snap = snapOf(field(req.body, "ID"));
      if (snap.runningStatus === "44") snap.runningStatus = "43";
      await world.commit();
      return {};
    })
    .add("GET", "/snapshot", (req) => listQuery(state.snapshots.map(render), req.query))
    .add("GET", "/snapshot/count", (req) => {
      const type = req.query.get("ASSOCIATEOBJTYPE");
      if (type === null) return { COUNT: String(state.snapshots.length) };
      if (type !== "256") throw fail("PARAMETER_ERROR", "ASSOCIATEOBJTYPE must be 256");
      const gid = queryField(req.query, "ASSOCIATEOBJID");
      return { COUNT: String((state.lunGroupMembers[gid] ?? []).filter((m) => m.type === 27).length) };
    })
    .add("GET", "/snapshot/:id", (_req, [id = ""]) => render(snapOf(id)))
    .add("PUT", "/snapshot/:id", async (req, [id = ""]) => {
      const snap = snapOf(id);
      const name = optField(req.body, "NAME");
      if (name !== undefined) {
        checkName(name);
        if (state.snapshots.some((s) => s.name === name && s.id !== id)) throw fail("OBJECT_NAME_ALREADY_EXIST", `snapshot ${name}`);
        snap.name = name;
      }
      snap.description = optField(req.body, "DESCRIPTION") ?? snap.description;
      await world.commit();
      return render(snap);
    })
    .add("DELETE", "/snapshot/:id", async (_req, [id = ""]) => {
      const snap = snapOf(id);
      if (groupsOfMember(state, 27, id).length > 0) throw fail("LUN_IN_LUNGROUP", `snapshot ${id} is mapped`);
      if (snap.runningStatus === "44" || inUse(id)) throw fail("OBJECT_IN_COPY_TASK", `snapshot ${id}`);
      state.snapshots.splice(state.snapshots.indexOf(snap), 1);
      await world.commit();
      await world.files.remove(snap.file);
      return {};
    });
}
