import { EventEmitter } from "node:events";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SERVICE_OUTPUT_SCHEMAS, type ServiceCommandPath } from "../../../src/cli/commands/service-schemas.js";
import { EXIT_CODES } from "../../../src/cli/exit-codes.js";
import { ErrorOutputSchema } from "../../../src/cli/output.js";
import { VolkitError } from "../../../src/core/errors.js";
import { FakeService } from "./cli-fake-service.js";
import { volkit } from "./cli-harness.js";

let service: FakeService;
const run = (argv: readonly string[], extra: Parameters<typeof volkit>[1] = {}) => volkit(argv, { service: service.factory, ...extra });

afterEach(() => {
  // Every command that opened the service closed it.
  expect(service.closed).toBe(service.opened);
});

/** Each service command once, with the method it must call and the arguments it must pass. */
const CASES: readonly { argv: string[]; path: ServiceCommandPath; method: string; args: unknown[] }[] = [
  { argv: ["type", "create", "fast", "--extra-spec", "volume_backend_name=lvm-a", "--extra-spec", "provisioning:type=thin"], path: "type create", method: "createType", args: [{ name: "fast", extraSpecs: { volume_backend_name: "lvm-a", "provisioning:type": "thin" } }] },
  { argv: ["type", "list"], path: "type list", method: "listTypes", args: [] },
  { argv: ["type", "show", "fast"], path: "type show", method: "getType", args: ["fast"] },
  { argv: ["type", "delete", "fast"], path: "type delete", method: "deleteType", args: ["fast"] },
  { argv: ["volume", "create", "--size", "10", "--type", "fast", "--name", "db1", "--metadata", "owner=ops"], path: "volume create", method: "createVolume", args: [{ sizeGiB: 10, type: "fast", name: "db1", metadata: { owner: "ops" } }] },
  { argv: ["volume", "create", "-s", "20", "--snapshot", "snap-1", "--id", "vol-9", "--multiattach"], path: "volume create", method: "createVolume", args: [{ sizeGiB: 20, id: "vol-9", source: { kind: "snapshot", snapshotId: "snap-1" }, multiattach: true }] },
  { argv: ["volume", "list", "--status", "error,error_deleting", "--backend", "lvm-a", "--limit", "5"], path: "volume list", method: "listVolumes", args: [{ status: ["error", "error_deleting"], backend: "lvm-a", limit: 5 }] },
  { argv: ["volume", "show", "vol-1"], path: "volume show", method: "getVolume", args: ["vol-1"] },
  { argv: ["volume", "delete", "vol-1", "--cascade"], path: "volume delete", method: "deleteVolume", args: ["vol-1", { cascade: true }] },
  { argv: ["volume", "extend", "vol-1", "--size", "20"], path: "volume extend", method: "extendVolume", args: ["vol-1", 20] },
  { argv: ["volume", "snapshot", "vol-1", "--name", "before", "--force"], path: "volume snapshot", method: "snapshotVolume", args: ["vol-1", { name: "before", force: true }] },
  { argv: ["volume", "revert", "vol-1", "--snapshot", "snap-1"], path: "volume revert", method: "revertVolume", args: ["vol-1", "snap-1"] },
  { argv: ["volume", "attach", "vol-1", "--instance", "vm-7", "--disk-dev", "vdb", "--read-only"], path: "volume attach", method: "attachVolume", args: ["vol-1", { instanceId: "vm-7", mode: "ro", disk: { dev: "vdb", bus: "virtio" } }] },
  { argv: ["volume", "detach", "vol-1", "--attachment", "att-1"], path: "volume detach", method: "detachVolume", args: ["vol-1", { attachmentId: "att-1" }] },
  { argv: ["volume", "migrate", "vol-1", "--to", "nfs-a#share1"], path: "volume migrate", method: "migrateVolume", args: ["vol-1", { destination: "nfs-a#share1" }] },
  { argv: ["volume", "retype", "vol-1", "--type", "gold", "--migration-policy", "on-demand"], path: "volume retype", method: "retypeVolume", args: ["vol-1", { type: "gold", migrationPolicy: "on-demand" }] },
  { argv: ["volume", "manage", "--backend", "lvm-a", "--source-name", "legacy-lv", "--name", "legacy"], path: "volume manage", method: "manageVolume", args: [{ backend: "lvm-a", ref: { sourceName: "legacy-lv" }, name: "legacy" }] },
  { argv: ["volume", "unmanage", "vol-1"], path: "volume unmanage", method: "unmanageVolume", args: ["vol-1"] },
  { argv: ["volume", "reset-status", "vol-1", "--status", "available", "--attach-status", "detached"], path: "volume reset-status", method: "resetVolumeStatus", args: ["vol-1", { status: "available", attachStatus: "detached" }] },
  { argv: ["volume", "force-delete", "vol-1"], path: "volume force-delete", method: "forceDeleteVolume", args: ["vol-1"] },
  { argv: ["snapshot", "list", "--volume", "vol-1"], path: "snapshot list", method: "listSnapshots", args: [{ volumeId: "vol-1" }] },
  { argv: ["snapshot", "delete", "snap-1"], path: "snapshot delete", method: "deleteSnapshot", args: ["snap-1"] },
  { argv: ["backup", "create", "vol-1", "--incremental", "--name", "nightly"], path: "backup create", method: "createBackup", args: [{ volumeId: "vol-1", incremental: true, name: "nightly" }] },
  { argv: ["backup", "list", "--volume", "vol-1"], path: "backup list", method: "listBackups", args: [{ volumeId: "vol-1" }] },
  { argv: ["backup", "show", "b-1"], path: "backup show", method: "getBackup", args: ["b-1"] },
  { argv: ["backup", "restore", "b-1", "--volume", "vol-2"], path: "backup restore", method: "restoreBackup", args: ["b-1", { volumeId: "vol-2" }] },
  { argv: ["backup", "verify", "b-1"], path: "backup verify", method: "verifyBackup", args: ["b-1"] },
  { argv: ["backup", "delete", "b-1"], path: "backup delete", method: "deleteBackup", args: ["b-1", {}] },
  { argv: ["backup", "delete", "b-1", "--cascade"], path: "backup delete", method: "deleteBackup", args: ["b-1", { cascade: true }] },
  { argv: ["volume", "migrate", "vol-1", "--to", "lvm-b", "--force-host-copy"], path: "volume migrate", method: "migrateVolume", args: ["vol-1", { destination: "lvm-b", forceHostCopy: true }] },
  { argv: ["volume", "reset-status", "vol-1", "--migration-status", "none"], path: "volume reset-status", method: "resetVolumeStatus", args: ["vol-1", { migrationStatus: "none" }] },
  { argv: ["volume", "reset-status", "vol-1", "--migration-status", "error", "--attach-status", "detached"], path: "volume reset-status", method: "resetVolumeStatus", args: ["vol-1", { attachStatus: "detached", migrationStatus: "error" }] },
  { argv: ["backup", "export-record", "b-1"], path: "backup export-record", method: "exportBackupRecord", args: ["b-1"] },
  { argv: ["image-cache", "list"], path: "image-cache list", method: "listImageCache", args: [] },
  { argv: ["image-cache", "purge", "--image", "debian-12"], path: "image-cache purge", method: "purgeImageCache", args: [{ imageId: "debian-12" }] },
  { argv: ["reconcile", "--dry-run", "--volume", "vol-3"], path: "reconcile", method: "reconcile", args: [{ volumeId: "vol-3", dryRun: true }] },
];

/** Commands that draw a progress bar get an event bus. */
const WITH_PROGRESS = new Set(["createVolume", "deleteVolume", "extendVolume", "revertVolume", "migrateVolume", "retypeVolume", "forceDeleteVolume", "createBackup", "restoreBackup", "verifyBackup"]);

describe("service-backed commands", () => {
  it.each(CASES)("$argv.0 $argv.1 calls $method with the checked arguments and prints its documented JSON shape", async ({ argv, path, method, args }) => {
    service = new FakeService();
    const r = await run([...argv, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(service.calls.map((c) => [c.method, c.args])).toEqual([[method, args]]);
    const call = service.calls[0];
    expect(call?.options?.signal).toBeInstanceOf(AbortSignal);
    expect(call?.options?.events !== undefined).toBe(WITH_PROGRESS.has(method));
    const parsed = SERVICE_OUTPUT_SCHEMAS[path].safeParse(r.json());
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    // Times are ISO strings, never Date objects turned into something else.
    expect(r.stdout).not.toMatch(/"createdAt": "(?!\d{4}-\d\d-\d\dT)/);
    const human = await run(argv);
    expect(human.code).toBe(0);
    expect(human.stdout.length).toBeGreaterThan(0);
  });

  it("never prints a connection's CHAP password, in JSON or text", async () => {
    service = new FakeService();
    for (const argv of [["volume", "show", "vol-1", "--json"], ["volume", "show", "vol-1"], ["volume", "attach", "vol-1", "--json"]]) {
      const r = await run(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain("Chap-Secret-123456");
    }
    const shown = SERVICE_OUTPUT_SCHEMAS["volume show"].parse((await run(["volume", "show", "vol-1", "--json"])).json());
    expect(shown.attachments[0]).toMatchObject({ id: "att-1", connectionType: "iscsi", devicePath: "/dev/dm-3", attachStatus: "attached" });
    expect(shown.volume.createdAt).toBe("2025-03-01T10:00:00.000Z");
  });

  it("refuses bad arguments before opening the service", async () => {
    service = new FakeService();
    for (const argv of [
      ["volume", "create", "--size", "ten"],
      ["volume", "create", "--size", "0"],
      ["volume", "create", "--size", "1", "--snapshot", "s", "--image", "i"],
      ["volume", "show", "../etc"],
      ["volume", "list", "--status", "deleted-ish"],
      ["volume", "reset-status", "vol-1"],
      ["volume", "migrate", "vol-1", "--to", "a#b#c"],
      ["volume", "attach", "vol-1", "--disk-dev", "eth0"],
      ["volume", "manage", "--backend", "lvm-a", "--source-name", "-rf"],
      ["type", "create", "t", "--extra-spec", "novalue"],
      ["image-cache", "purge"],
      ["backup", "restore", "b-1", "--volume", "vol-2", "--name", "x"],
    ]) {
      const r = await run([...argv, "--json"]);
      expect(r.code, argv.join(" ")).toBe(EXIT_CODES.INVALID_ARGUMENT);
      expect(ErrorOutputSchema.parse(r.json()).error.code).toBe("INVALID_ARGUMENT");
    }
    expect(service.opened).toBe(0);
    expect(service.calls).toEqual([]);
  });

  it("exits with the code of the service's error", async () => {
    service = new FakeService();
    service.fail.set("getVolume", new VolkitError("VOLUME_NOT_FOUND", "no volume vol-404", { source: "service" }));
    service.fail.set("deleteVolume", new VolkitError("INVALID_STATE", "cannot delete a volume in status in-use", { source: "service" }));
    service.fail.set("deleteBackup", new VolkitError("BACKUP_IN_USE", "b-2 depends on it", { source: "service" }));
    const missing = await run(["volume", "show", "vol-404", "--json"]);
    expect(missing.code).toBe(EXIT_CODES.VOLUME_NOT_FOUND);
    expect(ErrorOutputSchema.parse(missing.json()).error).toEqual({ code: "VOLUME_NOT_FOUND", message: "no volume vol-404", exitCode: 10, source: "service", details: {} });
    expect((await run(["volume", "delete", "vol-1"])).code).toBe(21);
    const busy = await run(["backup", "delete", "b-1"]);
    expect(busy.code).toBe(17);
    expect(busy.stderr).toBe("volkit: error BACKUP_IN_USE: b-2 depends on it\n");
  });

  it("writes an exported record to a new 0600 file, and imports one from stdin", async () => {
    service = new FakeService();
    const dir = mkdtempSync(join(tmpdir(), "volkit-cli-"));
    try {
      const text = await run(["backup", "export-record", "b-1"]);
      expect(JSON.parse(text.stdout)).toMatchObject({ format: "volkit-backup-record", backupId: "b-1" });
      const file = join(dir, "b-1.json");
      const written = await run(["backup", "export-record", "b-1", "--output", file, "--json"]);
      expect(written.code).toBe(0);
      expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ backupId: "b-1" });
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect((await run(["backup", "export-record", "b-1", "--output", file])).code).toBe(EXIT_CODES.INVALID_ARGUMENT);
      const imported = await run(["backup", "import-record", "-", "--json"], { stdinLines: [readFileSync(file, "utf8")] });
      expect(imported.code).toBe(0);
      expect(SERVICE_OUTPUT_SCHEMAS["backup import-record"].parse(imported.json()).backup.id).toBe("b-1");
      expect(service.calls.at(-1)?.method).toBe("importBackupRecord");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("host cleanup shows the plan and removes only with --yes or a 'y' at the terminal", async () => {
    service = new FakeService();
    const scripted = await run(["host", "cleanup", "--json"]);
    expect(SERVICE_OUTPUT_SCHEMAS["host cleanup"].parse(scripted.json())).toMatchObject({ confirmed: false, removed: [], planned: service.residue });
    expect(service.calls.map((c) => c.method)).toEqual(["planHostCleanup"]);
    const no = await run(["host", "cleanup"], { stdinTTY: true, stdinLines: ["n"] });
    expect(no.stderr).toContain("Remove these 2 items? [y/N]");
    expect(no.stderr).toContain("/dev/mapper/3600140512345");
    expect(service.calls.filter((c) => c.method === "hostCleanup")).toEqual([]);
    const yes = await run(["host", "cleanup"], { stdinTTY: true, stdinLines: ["y"] });
    expect(yes.code).toBe(EXIT_CODES.VOLUME_BUSY); // the failed item's code

    expect(yes.stdout).toContain("removed 1, failed 1");
    const forced = await run(["host", "cleanup", "--yes", "--json"]);
    const out = SERVICE_OUTPUT_SCHEMAS["host cleanup"].parse(forced.json());
    expect(out).toMatchObject({ confirmed: true, removed: [service.residue[0]], failed: [{ errorCode: "VOLUME_BUSY" }] });
    expect(service.calls.filter((c) => c.method === "hostCleanup").length).toBe(2);
    const dry = await run(["host", "cleanup", "--yes", "--dry-run", "--json"]);
    expect(dry.json()).toMatchObject({ confirmed: false });
    expect(service.calls.filter((c) => c.method === "hostCleanup").length).toBe(2);
  });

  it("Ctrl-C cancels a running service call through its signal and exits with ABORTED's code", async () => {
    service = new FakeService();
    service.block.add("createBackup");
    const signals = new EventEmitter();
    setTimeout(() => signals.emit("SIGINT"), 20);
    const r = await run(["backup", "create", "vol-1", "--json"], { signals });
    expect(r.code).toBe(130);
    expect(ErrorOutputSchema.parse(r.json()).error).toMatchObject({ code: "ABORTED", details: { rolledBack: ["b-new"] } });
    expect(r.stderr).toContain("Ctrl-C: cancelling and rolling back");
    expect(service.calls[0]?.options?.signal?.aborted).toBe(true);
    expect(signals.listenerCount("SIGINT")).toBe(0);
  });
});
