/**
 * The single-node Ceph cluster shared by the host tests: `ceph.global-setup.ts` starts it once per
 * vitest run of the `host` project and provides its facts; test files call {@link sharedCephCluster}.
 */
import { spawnSync } from "node:child_process";
import { inject } from "vitest";
import { attachCephCluster, type CephCluster, type CephClusterFacts } from "../../src/testing/ceph-cluster.js";

/** What the global setup provides: the cluster's facts, or why it could not start one. */
export type SharedCeph = { readonly facts: CephClusterFacts } | { readonly error: string };

declare module "vitest" {
  export interface ProvidedContext {
    /** The shared Ceph cluster (see test/host/ceph.global-setup.ts). */
    ceph: SharedCeph;
  }
}

/** Debian packages the Ceph host tests need, by the tool each provides. */
export const CEPH_TOOLS: Readonly<Record<string, string>> = {
  "ceph-mon": "ceph-mon",
  "ceph-mgr": "ceph-mgr",
  "ceph-osd": "ceph-osd",
  ceph: "ceph-common",
  rbd: "ceph-common",
  "ceph-authtool": "ceph-common",
  monmaptool: "ceph-common",
  radosgw: "radosgw",
  "radosgw-admin": "radosgw",
  "qemu-img": "qemu-utils",
  "qemu-io": "qemu-utils",
};

/** Why the Ceph host tests cannot run here (naming the apt packages), or undefined. */
export function missingCephPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return "the Ceph host tests need root (they start ceph-mon, ceph-osd, ceph-mgr, radosgw)";
  const PATH = `${process.env.PATH ?? ""}:/usr/sbin:/sbin:/usr/bin`;
  const missing = Object.keys(CEPH_TOOLS).filter((t) => spawnSync("sh", ["-c", 'command -v "$1"', "sh", t], { env: { ...process.env, PATH } }).status !== 0);
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map((t) => CEPH_TOOLS[t]))];
  return `missing ${missing.join(", ")}: apt-get install -y --no-install-recommends ${packages.join(" ")} (or run bash scripts/host-prereqs.sh)`;
}

/** The shared cluster, or an Error naming what is missing (the caller's prerequisite test fails with it). */
export function sharedCephCluster(): CephCluster | Error {
  const shared = inject("ceph");
  if ("error" in shared) return new Error(shared.error);
  return attachCephCluster(shared.facts);
}
