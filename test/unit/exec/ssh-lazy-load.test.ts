/**
 * Importing volkit for local use must not load `ssh2` (and its native crypto addons): the SSH
 * runner loads it on its first connect. Checked in a fresh Node process, where nothing else has
 * loaded ssh2 yet: first every public entry point is imported, then an SSH runner is created, then
 * it connects (to a closed loopback port), and ssh2's CommonJS modules and the shared objects mapped
 * into the process are read after each step.
 */
import { execFile } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { freeLoopbackPort } from "../../../src/testing/loopback-port.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** The modules behind package.json "exports" (tsup.config.ts entries). */
const ENTRY_POINTS = [
  "src/index.ts",
  "src/drivers/lvm/index.ts",
  "src/drivers/nfs/index.ts",
  "src/connectors/iscsi/index.ts",
  "src/connectors/local/index.ts",
  "src/connectors/nfs/index.ts",
  "src/remotefs/index.ts",
  "src/libvirt/index.ts",
];

/** Runs in the child: prints, after each step, how much of ssh2 is loaded. */
const PROBE = `
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
const [entries, port] = JSON.parse(process.env.VOLKIT_PROBE);
const cache = createRequire(process.cwd() + "/").cache;
const loaded = () => ({
  ssh2Modules: Object.keys(cache).filter((p) => p.includes("/node_modules/ssh2/")).length,
  addons: new Set(readFileSync("/proc/self/maps", "utf8").split("\\n").filter((l) => /\\/node_modules\\/(ssh2|cpu-features)\\/.*\\.node$/.test(l)).map((l) => l.split(/\\s+/).pop())).size,
});
const steps = {};
let volkit;
for (const entry of entries) {
  const mod = await import(entry);
  volkit ??= mod;
  steps[entry] = loaded();
}
const runner = volkit.createSshRunner({ host: "127.0.0.1", port, username: "volkit", password: "not-used", insecureSkipHostKeyCheck: true })._unsafeUnwrap();
steps.created = loaded();
const result = await runner.run({ argv: ["true"] });
steps.connected = { ...loaded(), code: result.isErr() ? result.error.code : "ok" };
await runner.close();
console.log(JSON.stringify(steps));
`;

describe("ssh2 is loaded only when an SSH runner connects", () => {
  it("no public entry point loads ssh2; creating a runner does not either; its first connect does", async () => {
    const port = await freeLoopbackPort();
    const entries = ENTRY_POINTS.map((p) => pathToFileURL(`${root}${p}`).href);
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", PROBE], {
      cwd: root,
      env: { ...process.env, VOLKIT_PROBE: JSON.stringify([entries, port]) },
      timeout: 60_000,
    });
    const steps = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, { ssh2Modules: number; addons: number; code?: string }>;
    for (const entry of entries) expect(steps[entry], entry).toEqual({ ssh2Modules: 0, addons: 0 });
    expect(steps.created).toEqual({ ssh2Modules: 0, addons: 0 });
    // Positive control: the probe does see ssh2 once it is loaded (the connect itself fails: nothing listens).
    expect(steps.connected?.code).toBe("BACKEND_UNAVAILABLE");
    expect(steps.connected?.ssh2Modules).toBeGreaterThan(0);
  });
});

describe("a failed load of ssh2", () => {
  afterEach(() => {
    vi.doUnmock("ssh2");
    vi.resetModules();
  });

  it("fails the command with NOT_SUPPORTED (nothing thrown), and the next connect loads it again", async () => {
    vi.resetModules();
    vi.doMock("ssh2", () => {
      throw new Error("Cannot find module 'ssh2'");
    });
    const { createSshRunner } = await import("../../../src/exec/ssh-runner.js");
    const port = await freeLoopbackPort();
    const runner = createSshRunner({ host: "127.0.0.1", port, username: "volkit", password: "not-used", insecureSkipHostKeyCheck: true })._unsafeUnwrap();
    const first = (await runner.run({ argv: ["true"] }))._unsafeUnwrapErr();
    expect(first.code).toBe("NOT_SUPPORTED");
    expect(first.message).toMatch(/ssh2 package could not be loaded/);
    vi.doUnmock("ssh2");
    const second = (await runner.run({ argv: ["true"] }))._unsafeUnwrapErr();
    expect(second.code).toBe("BACKEND_UNAVAILABLE"); // loaded now; nothing listens on the port
    expect((await runner.close()).isOk()).toBe(true);
  });
});
