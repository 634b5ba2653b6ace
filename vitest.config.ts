import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          // The default 5 s is too tight on a loaded 2-core machine for the few tests that run many
          // cases in one test (the hostile-input tables) or spawn bash for completions.
          testTimeout: 20_000,
        },
      },
      {
        // Real tools on this host (tgtd, libiscsi, qemu-img, virt-xml-validate, Ceph), no VM.
        test: {
          name: "host",
          include: ["test/host/**/*.host.test.ts"],
          environment: "node",
          // Shared fixtures for the whole project: one private single-node Ceph cluster (RBD, S3)
          // and one private PostgreSQL server (127.0.0.1, free ports, temp dirs).
          globalSetup: ["test/host/ceph.global-setup.ts", "test/host/postgres-global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        // Runs inside the storage lab VM (see lab/README.md): real kernel, LVM, iSCSI, multipath, NFS.
        test: {
          name: "lab",
          include: ["test/lab/**/*.lab.test.ts"],
          environment: "node",
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
