/**
 * The Ceph test fixture itself (src/testing/ceph-cluster.ts), on a private cluster of its own
 * (not the shared one): every daemon listens on 127.0.0.1 only, a handle attached from the facts
 * works, and stop() leaves no daemon and no directory behind. Prints start and stop times.
 *
 *   sudo npx vitest run --project host test/host/ceph-cluster.host.test.ts
 *
 * Needs root and ceph-mon, ceph-mgr, ceph-osd, ceph-common, radosgw (iproute2's `ss`).
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { attachCephCluster, startCephCluster } from "../../src/testing/ceph-cluster.js";
import { missingCephPrerequisite } from "./ceph-shared.js";

const run = promisify(execFile);
const missing = missingCephPrerequisite();

/** Pids of the daemons named by the cluster's pid files. */
function daemonPids(dir: string): Map<string, number> {
  const names = ["mon.a", "mgr.x", "osd.0", "client.rgw.x"];
  return new Map(names.filter((n) => existsSync(join(dir, "run", `${n}.pid`))).map((n) => [n, Number(readFileSync(join(dir, "run", `${n}.pid`), "utf8").trim())]));
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

describe("startCephCluster (private cluster)", () => {
  it("has its prerequisites (root, Ceph packages, radosgw)", () => {
    expect(missing).toBeUndefined();
  });
  if (missing !== undefined) return;

  it("starts mon, mgr, osd and radosgw on loopback only, serves a pool, and stops without leftovers", async () => {
    const cluster = await startCephCluster({ pools: ["p1"], radosgw: true });
    let stopped = false;
    try {
      console.log(`[ceph-fixture] start with radosgw: ${cluster.startMs} ms`);
      const pids = daemonPids(cluster.dir);
      expect([...pids.keys()].sort()).toEqual(["client.rgw.x", "mgr.x", "mon.a", "osd.0"]);
      // Every listening socket of every daemon is on 127.0.0.1 (the machine's network rule).
      const listening = (await run("ss", ["-ltnpH"])).stdout.split("\n").filter((l) => [...pids.values()].some((pid) => l.includes(`pid=${pid},`)));
      expect(listening.length).toBeGreaterThanOrEqual(5);
      for (const line of listening) expect(line.split(/\s+/)[3], line).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(listening.some((l) => l.includes(cluster.monV2))).toBe(true);
      // A handle built from the serializable facts (what test files get through inject).
      const attached = attachCephCluster(JSON.parse(JSON.stringify(cluster.facts)) as typeof cluster.facts);
      await attached.createPool("p2");
      expect(JSON.parse(await attached.ceph(["osd", "pool", "ls", "--format", "json"]))).toEqual(expect.arrayContaining(["p1", "p2"]));
      await attached.rbd(["create", "--size", "8M", "p2/img"]);
      expect((await attached.rbd(["ls", "p2"])).trim()).toBe("img");
      await cluster.waitForStats();
      expect(JSON.parse(await cluster.ceph(["health", "--format", "json"]))).toMatchObject({ status: "HEALTH_OK" });

      const report = await cluster.stop();
      stopped = true;
      console.log(`[ceph-fixture] stop: ${report.stopMs} ms, killed: ${report.killed.join(", ") || "none"}`);
      expect(report.killed).toEqual([]);
      for (const [name, pid] of pids) expect(alive(pid), name).toBe(false);
      expect(existsSync(cluster.dir)).toBe(false);
      await expect(run("rbd", ["--conf", "/dev/null", "-m", cluster.monV2, "--client-mount-timeout", "1", "ls", "p1"])).rejects.toMatchObject({ code: 110 });
    } finally {
      if (!stopped) await cluster.stop();
    }
  }, 180_000);
});
