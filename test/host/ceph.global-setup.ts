/**
 * vitest globalSetup of the `host` project: starts ONE single-node Ceph cluster (bluestore on a
 * sparse file, free loopback ports, cephx) for every Ceph test file of the run and stops it at the
 * end. Test files get it with `sharedCephCluster()` (test/host/ceph-shared.ts). When the cluster
 * cannot start (not root, packages missing), the error is provided instead: the Ceph test files
 * fail with it, the other host tests are unaffected.
 */
import type { TestProject } from "vitest/node";
import { startCephCluster, type CephCluster } from "../../src/testing/ceph-cluster.js";
import { missingCephPrerequisite } from "./ceph-shared.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string): void => console.log(`[ceph] ${line}`);
  let cluster: CephCluster | undefined;
  const missing = missingCephPrerequisite();
  if (missing !== undefined) {
    project.provide("ceph", { error: missing });
  } else {
    try {
      cluster = await startCephCluster({ pools: ["volumes"], log });
      project.provide("ceph", { facts: cluster.facts });
    } catch (e) {
      project.provide("ceph", { error: `the shared Ceph cluster did not start: ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  return async () => {
    if (cluster) await cluster.stop();
  };
}
