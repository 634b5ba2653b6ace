import { defineConfig } from "tsup";

// One entry per public subpath of package.json "exports".
export default defineConfig({
  entry: {
    index: "src/index.ts",
    "drivers/lvm/index": "src/drivers/lvm/index.ts",
    "connectors/iscsi/index": "src/connectors/iscsi/index.ts",
    "connectors/local/index": "src/connectors/local/index.ts",
    "connectors/nfs/index": "src/connectors/nfs/index.ts",
    "drivers/nfs/index": "src/drivers/nfs/index.ts",
    "drivers/ipsan/index": "src/drivers/ipsan/index.ts",
    "drivers/rbd/index": "src/drivers/rbd/index.ts",
    "connectors/rbd/index": "src/connectors/rbd/index.ts",
    "remotefs/index": "src/remotefs/index.ts",
    "libvirt/index": "src/libvirt/index.ts",
    "service/index": "src/service/index.ts",
    "backup/index": "src/backup/index.ts",
    // The backup worker thread's script, loaded by path (new Worker), so an entry of its own.
    "backup/chunk-worker": "src/backup/chunk-worker.ts",
    "testing/index": "src/testing/index.ts",
    // The `volkit` bin (package.json "bin"); its shebang line is kept and the file made executable.
    "cli/main": "src/cli/main.ts",
  },
  format: ["esm"],
  target: "node20",
  platform: "node",
  dts: true,
  sourcemap: true,
  clean: true,
  splitting: true,
  treeshake: true,
});
