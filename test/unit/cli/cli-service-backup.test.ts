import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ok } from "neverthrow";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createHost } from "../../../src/attach/host.js";
import { SERVICE_OUTPUT_SCHEMAS } from "../../../src/cli/commands/service-schemas.js";
import { EXIT_CODES } from "../../../src/cli/exit-codes.js";
import { ErrorOutputSchema } from "../../../src/cli/output.js";
import { createServiceFactory } from "../../../src/cli/service-binding.js";
import { defineDriver } from "../../../src/drivers/driver-definition.js";
import { registerDriver } from "../../../src/drivers/registry.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";
import { MaterializingConnector, SPAN } from "../service/backup-world.js";
import { volkit } from "./cli-harness.js";

/**
 * `volkit backup …` bound to a real `VolumeService`: a `MemoryVolumeDriver` backend (driver
 * `memory-cli-backup`), a connector that materialises its volumes as real files for the backup
 * engine, a SQLite store and a directory repository named in the config file.
 */

let driver = new MemoryVolumeDriver({ capacityGiB: 100 });
registerDriver(
  defineDriver({
    name: "memory-cli-backup",
    title: "Memory (CLI backup test)",
    description: "In-memory volumes for the CLI backup tests",
    configSchema: z.object({ driver: z.literal("memory-cli-backup") }),
    create: () => ok(driver),
  }),
)._unsafeUnwrap();

const dir = mkdtempSync(join(tmpdir(), "volkit-cli-backup-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let connector: MaterializingConnector;
let n = 0;
let repoDir: string;

function config(store: string): string {
  return [
    `store: { kind: sqlite, path: ${JSON.stringify(join(dir, store, "volkit.db"))} }`,
    "backends:",
    "  mem: { driver: memory-cli-backup }",
    "host: { hostName: node-1 }",
    "backupRepositories:",
    `  local: { type: directory, default: true, options: { directory: ${JSON.stringify(repoDir)}, fsync: off } }`,
    "",
  ].join("\n");
}

let files: Record<string, string>;
beforeEach(() => {
  driver = new MemoryVolumeDriver({ capacityGiB: 100 });
  connector = new MaterializingConnector(driver);
  n++;
  repoDir = join(dir, `repo-${n}`);
  files = { "/work/volkit.yaml": config(`store-${n}`) };
});

const factory = () => createServiceFactory({ runner: () => new FakeRunner(), host: createHost({ use: { local: connector } }) });

async function ok0<T = Record<string, unknown>>(argv: readonly string[], path: keyof typeof SERVICE_OUTPUT_SCHEMAS): Promise<T> {
  const r = await volkit([...argv, "--json"], { service: factory(), files });
  expect(r.code, `${argv.join(" ")}: ${r.stdout}`).toBe(0);
  const out = r.json();
  SERVICE_OUTPUT_SCHEMAS[path].parse(out);
  return out as T;
}

async function failed(argv: readonly string[], code: keyof typeof EXIT_CODES) {
  const r = await volkit([...argv, "--json"], { service: factory(), files });
  const error = ErrorOutputSchema.parse(r.json()).error;
  expect(error.code, error.message).toBe(code);
  expect(r.code).toBe(EXIT_CODES[code]);
  return error;
}

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

describe("volkit backup … bound to the service", () => {
  it("creates, lists, verifies, restores (new and existing volume) and deletes; data equal by sha256", async () => {
    await ok0(["volume", "create", "--size", "1", "--id", "vol-1"], "volume create");
    const data = randomBytes(SPAN);
    await driver.io.write({ id: "vol-1", sizeGiB: 1 }, data);

    const created = await ok0<{ backup: { id: string; status: string; repository: string } }>(["backup", "create", "vol-1", "--id", "b-1", "--name", "nightly"], "backup create");
    expect(created.backup).toMatchObject({ id: "b-1", status: "available", repository: "local" });
    const changed = Buffer.from(data);
    randomBytes(4096).copy(changed, 8192);
    await driver.io.write({ id: "vol-1", sizeGiB: 1 }, changed);
    const inc = await ok0<{ backup: { parentId?: string } }>(["backup", "create", "vol-1", "--id", "b-2", "--incremental", "--repository", "local"], "backup create");
    expect(inc.backup.parentId).toBe("b-1");
    expect((await ok0<{ backups: { id: string }[] }>(["backup", "list", "--volume", "vol-1"], "backup list")).backups.map((b) => b.id)).toEqual(["b-1", "b-2"]);

    const verified = await ok0<{ level: string; chunksChecked: number }>(["backup", "verify", "b-2"], "backup verify");
    expect(verified.level).toBe("content");
    expect(verified.chunksChecked).toBeGreaterThan(0);

    const restored = await ok0<{ volume: { id: string; status: string } }>(["backup", "restore", "b-1", "--name", "restored"], "backup restore");
    expect(restored.volume.status).toBe("available");
    expect(sha(await driver.io.read({ id: restored.volume.id, sizeGiB: 1 }, SPAN))).toBe(sha(data));
    await ok0(["backup", "restore", "b-2", "--volume", restored.volume.id], "backup restore");
    expect(sha(await driver.io.read({ id: restored.volume.id, sizeGiB: 1 }, SPAN))).toBe(sha(changed));

    const conflict = await failed(["backup", "delete", "b-1"], "CONFLICT");
    expect(conflict.message).toContain("b-2");
    // --cascade takes the incremental with it, newest first.
    expect(await ok0(["backup", "delete", "b-1", "--cascade"], "backup delete")).toEqual({ backupId: "b-1", deleted: true, deletedIds: ["b-2", "b-1"] });
    expect((await ok0<{ backups: unknown[] }>(["backup", "list"], "backup list")).backups).toEqual([]);
    // Deleting again: nothing to delete, not an error.
    expect(await ok0(["backup", "delete", "b-1"], "backup delete")).toEqual({ backupId: "b-1", deleted: true, deletedIds: [] });
    await failed(["backup", "create", "vol-1", "--repository", "elsewhere"], "INVALID_ARGUMENT");
  }, 60_000);

  it("exports a record and imports it into another store over the same repository", async () => {
    await ok0(["volume", "create", "--size", "1", "--id", "vol-1"], "volume create");
    const data = randomBytes(SPAN);
    await driver.io.write({ id: "vol-1", sizeGiB: 1 }, data);
    await ok0(["backup", "create", "vol-1", "--id", "b-1"], "backup create");
    const exported = await ok0<{ record: Record<string, unknown> }>(["backup", "export-record", "b-1"], "backup export-record");
    expect(exported.record).toMatchObject({ format: "volkit-backup-record", backupId: "b-1" });

    // Another host: a fresh store, same repository.
    files = { "/work/volkit.yaml": config(`store-${n}-dr`), "/work/b-1.json": JSON.stringify(exported.record) };
    await failed(["backup", "show", "b-1"], "BACKUP_NOT_FOUND");
    await failed(["backup", "import-record", "/work/b-1.json", "--repository", "elsewhere"], "INVALID_ARGUMENT");
    await failed(["backup", "import-record", "/work/b-1.json", "--repository", "bad name"], "INVALID_ARGUMENT");
    const imported = await ok0<{ backup: { id: string; status: string; repository: string } }>(["backup", "import-record", "/work/b-1.json", "--repository", "local"], "backup import-record");
    expect(imported.backup).toMatchObject({ id: "b-1", status: "available", repository: "local" });
    const restored = await ok0<{ volume: { id: string } }>(["backup", "restore", "b-1"], "backup restore");
    expect(sha(await driver.io.read({ id: restored.volume.id, sizeGiB: 1 }, SPAN))).toBe(sha(data));
  }, 60_000);
});
