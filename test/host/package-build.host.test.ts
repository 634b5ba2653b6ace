/**
 * The package as its build makes it (tsup.config.ts's own options, type declarations left out):
 * - the library: every public entry imports and runs a command through the local runner, and
 *   every package the chunks import is a declared dependency (execa is bundled in);
 * - the `volkit` bin: one bundle run by node without tsx, importing nothing from node_modules but
 *   the native addons, working: its version, a store-backed command on a real SQLite file, and a
 *   command that runs a real tool (qemu-img) through the bundled runner.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { builtinModules, createRequire } from "node:module";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "tsup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageConvertOutputSchema } from "../../src/cli/commands/image.js";
import type { createLocalRunner } from "../../src/exec/local-runner.js";
import { cliBuildOptions, libraryBuildOptions } from "../../tsup.config.js";

const REPO = resolve(import.meta.dirname, "../..");
const MiB = 2 ** 20;
/** Under node_modules/.cache, so the build's dependencies resolve from the repository. */
const OUT = join(REPO, "node_modules", ".cache", `volkit-package-build-${process.pid}`);
const CLI = join(OUT, "cli", "main.js");
const PKG = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
  version: string;
  exports: Record<string, string | { import?: string }>;
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
const isBuiltin = (s: string): boolean => s.startsWith("node:") || builtinModules.includes(s) || builtinModules.includes(s.split("/")[0] as string);
/** The package a bare specifier names (`@scope/name` or `name`). */
const packageOf = (s: string): string => (s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : (s.split("/")[0] as string));
/** Specifiers of a file's static imports and its require() calls. */
function importsOf(code: string): { imports: Set<string>; requires: Set<string> } {
  const imports = new Set([...code.matchAll(/^import\s[^;]*?from\s*["']([^"']+)["']|^import\s*["']([^"']+)["']|^export\s[^;]*?from\s*["']([^"']+)["']/gm)].map((m) => (m[1] ?? m[2] ?? m[3]) as string));
  const requires = new Set([...code.matchAll(/\b__require\d*\(["']([^"']+)["']\)|\brequire\(["']([^"']+)["']\)/g)].map((m) => (m[1] ?? m[2]) as string));
  return { imports, requires };
}
let dir: string;

function volkit(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, VOLKIT_CONFIG: "" } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "volkit-package-build-"));
  await build({ ...libraryBuildOptions(OUT), dts: false, silent: true, config: false });
  await build({ ...cliBuildOptions(join(OUT, "cli")), silent: true, config: false });
}, 180_000);
afterAll(() => {
  rmSync(OUT, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

describe("the library build (dist/)", () => {
  it("imports only node built-ins and declared dependencies; execa is bundled in", () => {
    const declared = new Set([...Object.keys(PKG.dependencies), ...Object.keys(PKG.optionalDependencies ?? {}), ...Object.keys(PKG.peerDependencies ?? {})]);
    const files = readdirSync(OUT, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".js") && !f.startsWith("cli/"));
    expect(files.length).toBeGreaterThan(15);
    const bare = new Set<string>();
    for (const f of files) {
      const { imports, requires } = importsOf(readFileSync(join(OUT, f), "utf8"));
      for (const s of [...imports, ...requires]) if (!s.startsWith(".") && !isBuiltin(s)) bare.add(packageOf(s));
    }
    expect([...bare].filter((p) => !declared.has(p))).toEqual([]);
    expect(bare.has("execa")).toBe(false);
    expect(bare.has("zod")).toBe(true); // its schemas are part of the API: one copy, the caller's
  });

  it("every public entry imports; the root runs a command through the local runner", async () => {
    for (const [subpath, target] of Object.entries(PKG.exports)) {
      const file = typeof target === "string" ? target : target.import;
      if (file === undefined || !file.endsWith(".js")) continue;
      const mod = (await import(join(OUT, file.replace(/^\.\/dist\//, "")))) as Record<string, unknown>;
      expect(Object.keys(mod).length, subpath).toBeGreaterThan(0);
    }
    const root = (await import(join(OUT, "index.js"))) as { createLocalRunner: typeof createLocalRunner };
    const out = (await root.createLocalRunner().run({ argv: ["printf", "%s", "volkit"] }))._unsafeUnwrap();
    expect([out.exitCode, out.stdout]).toEqual([0, "volkit"]);
  });
});

describe("the CLI bundle (dist/cli/main.js)", () => {
  it("imports only node built-ins and the native addons", () => {
    const code = readFileSync(CLI, "utf8");
    expect(code.startsWith("#!/usr/bin/env node\n")).toBe(true);
    const { imports, requires } = importsOf(code);
    const outside = [...imports, ...requires].filter((s) => !isBuiltin(s));
    expect(imports.size).toBeGreaterThan(0);
    // Optional requires inside a try of a bundled dependency, none of them installed: pg's
    // pg-native, the AWS SDK's CRT signers, and `node:sqlite` (esbuild drops the prefix; Node 22+).
    const optional = ["pg-native", "@aws-sdk/signature-v4-crt", "@aws-sdk/signature-v4a", "sqlite"];
    expect(outside.filter((s) => !["better-sqlite3", "ssh2", ...optional].includes(s))).toEqual([]);
    for (const name of optional) expect(() => createRequire(join(REPO, "package.json")).resolve(name), name).toThrow();
  });

  it("prints the package version and runs a store-backed command on a real SQLite file", () => {
    expect(volkit("--version").stdout.trim()).toBe(PKG.version);
    const config = join(dir, "volkit.yaml");
    writeFileSync(
      config,
      [
        `store: { kind: sqlite, path: ${join(dir, "state", "volkit.db")} }`,
        "backends:",
        "  lvm-a: { driver: lvm, volumeGroup: vg-bundle, target: { helper: lio } }",
        "types:",
        "  gold: { description: from the config, extraSpecs: { volume_backend_name: lvm-a } }",
        "",
      ].join("\n"),
    );
    const r = volkit("type", "list", "--config", config, "--json");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { types: { name: string; extraSpecs: Record<string, string> }[] };
    expect(out.types.map((t) => [t.name, t.extraSpecs])).toEqual([["gold", { volume_backend_name: "lvm-a" }]]);
    // The SQLite file the bundled store wrote holds the type.
    const rows = execFileSync(process.execPath, ["-e", `const D=require("better-sqlite3");const db=new D(${JSON.stringify(join(dir, "state", "volkit.db"))},{readonly:true});console.log(JSON.stringify(db.prepare("select name from volume_types").all()))`], { cwd: REPO, encoding: "utf8" });
    expect(JSON.parse(rows)).toEqual([{ name: "gold" }]);
  });

  it("runs a real tool through the bundled command runner (image convert with qemu-img)", () => {
    const raw = join(dir, "disk.raw");
    const data = Buffer.concat([randomBytes(2 * MiB), Buffer.alloc(2 * MiB)]);
    writeFileSync(raw, data);
    const qcow = join(dir, "disk.qcow2");
    const to = volkit("image", "convert", raw, qcow, "-f", "raw", "-O", "qcow2", "--json");
    expect(to.stderr).toBe("");
    expect(ImageConvertOutputSchema.parse(JSON.parse(to.stdout))).toMatchObject({ sourceFormat: "raw", targetFormat: "qcow2", virtualSizeBytes: 4 * MiB });
    const back = join(dir, "back.raw");
    expect(volkit("image", "convert", qcow, back, "-f", "qcow2", "-O", "raw").status).toBe(0);
    const digest = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
    expect(digest(readFileSync(back))).toBe(digest(data));
  });
});
