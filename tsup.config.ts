import { defineConfig, type Options } from "tsup";

/** A `require` for CommonJS dependencies bundled into ESM output (cross-spawn, commander): esbuild's has none. */
const REQUIRE_BANNER = { js: 'import { createRequire as __volkitCreateRequire } from "node:module"; const require = __volkitCreateRequire(import.meta.url);' };

/**
 * One self-contained ESM file per entry: dependencies bundled in (tree-shaken), except native
 * addons, which load their `.node` binaries from node_modules. For programs that start often: a
 * process loading the split library build reads ~700 module files (0.6–0.9 s on a host, 11–27 s in
 * the emulated lab guest); a bundle reads ~20 (0.3–0.4 s, 4.6 s). Used for the CLI and by the lab
 * tests' child processes.
 */
export function selfContainedBuildOptions(entry: Record<string, string>, outDir: string): Options {
  return {
    entry,
    outDir,
    format: ["esm"],
    target: "node20",
    platform: "node",
    splitting: false,
    treeshake: true,
    dts: false,
    // No source map: it would add 12 MB to the package; CLI failures are reported as typed errors.
    sourcemap: false,
    clean: true,
    // Everything but the native addons (better-sqlite3; ssh2 and its optional cpu-features).
    noExternal: [/^(?!better-sqlite3|ssh2|cpu-features)/],
    // __dirname/__filename shims for the CommonJS dependencies bundled into ESM.
    shims: true,
    banner: REQUIRE_BANNER,
  };
}

/**
 * The `volkit` bin (package.json "bin") as one file, `<outDir>/main.js`; the shebang line is kept
 * and the file made executable. Used by the build and the CLI tests.
 */
export function cliBuildOptions(outDir: string): Options {
  return selfContainedBuildOptions({ main: "src/cli/main.ts" }, outDir);
}

/**
 * The library: one entry per public subpath of package.json "exports" (and the backup worker),
 * split into shared chunks, with type declarations. Used by the build and the package host test.
 */
export function libraryBuildOptions(outDir: string): Options {
  return {
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
      // The backup worker thread's script, loaded by path (new Worker), so an entry of its own
      // (the CLI bundle finds it at ../backup/chunk-worker.js).
      "backup/chunk-worker": "src/backup/chunk-worker.ts",
      "testing/index": "src/testing/index.ts",
    },
    outDir,
    format: ["esm"],
    target: "node20",
    platform: "node",
    dts: true,
    sourcemap: true,
    // Everything but cli/, which the CLI build writes at the same time.
    clean: ["**/*", "!cli/**"],
    splitting: true,
    treeshake: true,
    // execa and its ~140 module files go into the chunks (it is not part of the API): a fresh
    // process imports the package reading ~120 files instead of ~260 (zod, the rest of them,
    // stays external: its schemas are part of the API).
    noExternal: ["execa"],
    banner: REQUIRE_BANNER,
  };
}

// The library, then the CLI bundle under dist/cli (its own clean; the library's spares it).
export default defineConfig([libraryBuildOptions("dist"), cliBuildOptions("dist/cli")]);
