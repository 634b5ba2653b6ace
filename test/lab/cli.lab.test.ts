/**
 * An operator's session with the `volkit` bin on real components, inside the storage lab: the CLI
 * is built once (tsup, as `npm run build` does) and spawned as a person would run it
 * (`node volkit.mjs --config volkit.yaml … --json`, from a work directory outside the repository),
 * bound to the volume service on a SQLite store, with an LVM backend (thick VG) exported by LIO
 * with CHAP on 127.0.0.1 and this host's iSCSI connector. Every command's `--json` output is
 * parsed with the command's schema and checked against what the tools themselves show (lvs,
 * sysfs iSCSI sessions, LIO's configfs), and the data written through the attached device is read
 * back (sha256) through the device, the LV and the snapshot. The second session leaves residue on
 * purpose (an attachment record deleted by hand), removes it with `host cleanup` (checked with the
 * iSCSI host-state probes) while a claimed attachment keeps its session and data, then backs a
 * volume up into a directory repository, restores it into a new volume and reads it back through an
 * attach (sha256 against the source LV).
 *
 *   VOLKIT_LAB_KEEP=8 flock /tmp/volkit-lab.lock npx tsx lab/run.ts -- npx vitest run --project lab test/lab/cli.lab.test.ts
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { build } from "tsup";
import { cliBuildOptions } from "../../tsup.config.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { HostShowOutputSchema } from "../../src/cli/commands/host-inventory.js";
import { sysfsWwidToUdev } from "../../src/host/block-sysfs.js";
import { openStore } from "../../src/service/store/open-store.js";
import { disksWithWwid, expectClean, mapsWithWwid, nodeRecords, sessionsOf } from "./iscsi-host-state.js";
import { SERVICE_OUTPUT_SCHEMAS } from "../../src/cli/commands/service-schemas.js";
import { EXIT_CODES } from "../../src/cli/exit-codes.js";
import { ErrorOutputSchema } from "../../src/cli/output.js";
import { deviceSize, lab, lvsRows, pattern, readAt, sha256, writeAt } from "./helpers.js";

const REPO = resolve(import.meta.dirname, "../..");
/**
 * The CLI built once from the source under test, as the package's build makes `dist/cli/main.js`
 * (one bundle, tsup.config.ts's `cliBuildOptions`), with the backup worker at `backup/` beside it.
 * It sits under node_modules/.cache so its native addons resolve from the repository.
 */
const CLI_OUT = join(REPO, "node_modules", ".cache", "volkit-cli-lab");
const CLI = join(CLI_OUT, "cli", "main.js");
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const IQN_PREFIX = "iqn.2010-10.org.openstack:";
const PORTAL = `127.0.0.1:${lab.lioPort}`;
const work = mkdtempSync("/var/tmp/volkit-cli-lab-");
const configPath = join(work, "volkit.yaml");
const storePath = join(work, "state", "volkit.db");
const backupDir = join(work, "backups");
const timings: string[] = [];

type Schemas = typeof SERVICE_OUTPUT_SCHEMAS;

/** Runs `volkit <args> --config … --json`; returns the exit status and the parsed stdout. */
function volkit(args: readonly string[]): { status: number; json: unknown; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args, "--config", configPath, "--json"], {
    cwd: work,
    encoding: "utf8",
    env: { ...process.env, VOLKIT_CONFIG: "" },
    timeout: 300_000,
  });
  timings.push(`volkit ${args.join(" ").padEnd(70)} ${(performance.now() - t0).toFixed(0).padStart(7)} ms  exit ${r.status ?? "signal"}`);
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    throw new Error(`volkit ${args.join(" ")}: stdout is not JSON (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
  return { status: r.status ?? -1, json, stderr: r.stderr };
}

/** A command that must succeed; its output parsed with its schema. */
function ok<P extends keyof Schemas>(path: P, args: readonly string[]): z.output<Schemas[P]> {
  const r = volkit(args);
  expect(r.status, `volkit ${args.join(" ")}: ${JSON.stringify(r.json)} ${r.stderr}`).toBe(0);
  return SERVICE_OUTPUT_SCHEMAS[path].parse(r.json) as z.output<Schemas[P]>;
}

/** A command that must fail with `code` (and the exit code that follows it). */
function fails(args: readonly string[], code: keyof typeof EXIT_CODES): string {
  const r = volkit(args);
  const error = ErrorOutputSchema.parse(r.json).error;
  expect(error.code, error.message).toBe(code);
  expect(r.status).toBe(EXIT_CODES[code]);
  return error.message;
}

const lioTargets = (): string[] => (existsSync("/sys/kernel/config/target/iscsi") ? readdirSync("/sys/kernel/config/target/iscsi").filter((d) => d.startsWith(IQN_PREFIX)).sort() : []);
const sessionTargets = (): string[] => (existsSync("/sys/class/iscsi_session") ? readdirSync("/sys/class/iscsi_session").map((s) => readFileSync(`/sys/class/iscsi_session/${s}/targetname`, "utf8").trim()) : []);
const lvNames = (): string[] => [...lvsRows(lab.vgThick).keys()].filter((n) => n.startsWith("volume-") || n.startsWith("_snapshot-")).sort();

beforeAll(async () => {
  rmSync(CLI_OUT, { recursive: true, force: true });
  await build({ ...cliBuildOptions(join(CLI_OUT, "cli")), entry: { main: join(REPO, "src/cli/main.ts") }, silent: true, config: false });
  await build({ entry: { "backup/chunk-worker": join(REPO, "src/backup/chunk-worker.ts") }, outDir: CLI_OUT, format: ["esm"], platform: "node", target: "node20", splitting: false, dts: false, clean: false, silent: true, config: false, sourcemap: false });
  writeFileSync(
    configPath,
    [
      "# volkit config of the CLI lab test",
      `store: { kind: sqlite, path: ${storePath} }`,
      "backends:",
      "  lvm-lab:",
      "    driver: lvm",
      `    volumeGroup: ${lab.vgThick}`,
      "    lvmType: default",
      "    volumeClear: none",
      `    target: { helper: lio, portals: ["${PORTAL}"], chap: true }`,
      "types:",
      "  lab: { description: LVM thick over LIO, extraSpecs: { volume_backend_name: lvm-lab } }",
      "host:",
      "  connectors: { iscsi: { multipath: false } }",
      "backupRepositories:",
      `  lab-dir: { type: directory, default: true, options: { directory: ${backupDir} } }`,
      "",
    ].join("\n"),
  );
});

afterAll(() => {
  // Whatever a failed step left: force-delete through the CLI itself, then the work dir.
  if (existsSync(storePath)) {
    const left = volkit(["volume", "list"]);
    const volumes = (left.json as { volumes?: { id: string }[] }).volumes ?? [];
    for (const v of volumes) volkit(["volume", "force-delete", v.id]);
  }
  rmSync(work, { recursive: true, force: true });
  console.log(`\n==== volkit CLI lab session ====\n${timings.join("\n")}\n`);
}, 600_000);

describe("an operator's session with volkit on LVM + LIO + open-iscsi", () => {
  it("create, attach, host show, write and read back, detach, snapshot, delete", () => {
    expect(lvNames(), "no volume LV before the session").toEqual([]);
    expect(sessionTargets().filter((t) => t.startsWith(IQN_PREFIX)), "no session before").toEqual([]);

    // The config's type, in the store the CLI created at the configured path.
    const types = ok("type list", ["type", "list"]);
    expect(types.types.map((t) => [t.name, t.extraSpecs])).toEqual([["lab", { volume_backend_name: "lvm-lab" }]]);
    expect(statSync(storePath).isFile()).toBe(true);

    // ---------------------------------------------------------------- create on real LVM
    const { volume } = ok("volume create", ["volume", "create", "--size", "1", "--type", "lab", "--name", "cli-lab"]);
    expect(volume).toMatchObject({ status: "available", attachStatus: "detached", backend: "lvm-lab", volumeTypeId: "lab", sizeGiB: 1, name: "cli-lab" });
    const lv = `volume-${volume.id}`;
    expect(lvNames()).toEqual([lv]);
    expect(Number(lvsRows(lab.vgThick).get(lv)?.lv_size)).toBe(GiB);
    expect(ok("volume list", ["volume", "list"]).volumes.map((v) => v.id)).toEqual([volume.id]);

    // ---------------------------------------------------------------- attach over iSCSI
    const attached = ok("volume attach", ["volume", "attach", volume.id, "--instance", "vm-lab", "--disk-dev", "vdb"]);
    expect(attached.volume.status).toBe("in-use");
    expect(attached.attachment).toMatchObject({ attachStatus: "attached", instanceId: "vm-lab", connectionType: "iscsi", devicePath: attached.devicePath });
    expect(attached.xml).toContain("<target dev='vdb' bus='virtio'/>");
    // CHAP is on, and its secret is in no output.
    expect(JSON.stringify(attached)).not.toMatch(/auth_password|authPassword|chap/i);
    const device = attached.devicePath;
    expect(statSync(device).isBlockDevice()).toBe(true);
    expect(deviceSize(device)).toBe(GiB);
    const target = `${IQN_PREFIX}volume-${volume.id}`;
    expect(lioTargets()).toEqual([target]);
    expect(sessionTargets()).toEqual([target]);

    // ---------------------------------------------------------------- host show: the session and its disk
    const hostShow = volkit(["host", "show"]);
    expect(hostShow.status).toBe(0);
    const host = HostShowOutputSchema.parse(hostShow.json);
    const session = host.iscsiSessions.find((s) => s.targetIqn === target);
    expect(session, JSON.stringify(host.iscsiSessions)).toMatchObject({ portal: PORTAL, state: "LOGGED_IN" });
    const disk = basename(realpathSync(device));
    expect(session?.luns.map((l) => l.disk)).toContain(disk);
    expect(host.protocols.find((p) => p.protocol === "iscsi")?.properties?.initiator).toBe(lab.initiator);

    // ---------------------------------------------------------------- data through the device
    const head = pattern(4 * MiB);
    const tail = pattern(4 * MiB);
    writeAt(device, 0, head.data);
    writeAt(device, GiB - 4 * MiB, tail.data);
    expect(sha256(readAt(device, 0, 4 * MiB))).toBe(head.sha);
    expect(sha256(readAt(device, GiB - 4 * MiB, 4 * MiB))).toBe(tail.sha);
    // The bytes landed on the LV behind the target.
    const lvPath = `/dev/${lab.vgThick}/${lv}`;
    expect(sha256(readAt(lvPath, 0, 4 * MiB))).toBe(head.sha);
    expect(sha256(readAt(lvPath, GiB - 4 * MiB, 4 * MiB))).toBe(tail.sha);

    const shown = ok("volume show", ["volume", "show", volume.id]);
    expect(shown.volume.status).toBe("in-use");
    expect(shown.attachments).toEqual([expect.objectContaining({ id: attached.attachment.id, attachStatus: "attached", devicePath: device })]);
    // An attached volume is not deleted.
    fails(["volume", "delete", volume.id], "INVALID_STATE");

    // ---------------------------------------------------------------- detach
    const detached = ok("volume detach", ["volume", "detach", volume.id]);
    expect(detached.volume).toMatchObject({ status: "available", attachStatus: "detached" });
    expect(detached.report.leftBehind.filter((l) => !l.expected)).toEqual([]);
    expect(sessionTargets()).toEqual([]);
    expect(lioTargets()).toEqual([]);
    // The SCSI disk is gone from the kernel (sysfs; the /dev links follow through udev).
    expect(existsSync(`/sys/block/${disk}`), `${disk} after detach`).toBe(false);
    expect(HostShowOutputSchema.parse(volkit(["host", "show"]).json).iscsiSessions.filter((s) => s.targetIqn === target)).toEqual([]);

    // ---------------------------------------------------------------- snapshot
    const { snapshot } = ok("volume snapshot", ["volume", "snapshot", volume.id, "--name", "before-change"]);
    expect(snapshot).toMatchObject({ volumeId: volume.id, status: "available", name: "before-change", sizeGiB: 1 });
    expect(lvNames()).toEqual([`_snapshot-${snapshot.id}`, lv].sort());
    // The snapshot keeps the bytes of the moment it was taken while the volume changes.
    const change = pattern(4 * MiB);
    writeAt(lvPath, 0, change.data);
    const snapPath = `/dev/${lab.vgThick}/_snapshot-${snapshot.id}`;
    expect(sha256(readAt(snapPath, 0, 4 * MiB))).toBe(head.sha);
    expect(sha256(readAt(snapPath, GiB - 4 * MiB, 4 * MiB))).toBe(tail.sha);
    expect(sha256(readAt(lvPath, 0, 4 * MiB))).toBe(change.sha);
    expect(ok("snapshot list", ["snapshot", "list", "--volume", volume.id]).snapshots.map((s) => s.id)).toEqual([snapshot.id]);

    // ---------------------------------------------------------------- delete
    expect(fails(["volume", "delete", volume.id], "INVALID_STATE")).toMatch(/snapshot|cascade/i);
    expect(ok("snapshot delete", ["snapshot", "delete", snapshot.id])).toEqual({ snapshotId: snapshot.id, deleted: true });
    expect(lvNames()).toEqual([lv]);
    expect(ok("volume delete", ["volume", "delete", volume.id])).toEqual({ volumeId: volume.id, deleted: true });
    expect(lvNames()).toEqual([]);
    expect(ok("volume list", ["volume", "list"]).volumes).toEqual([]);
    fails(["volume", "show", volume.id], "VOLUME_NOT_FOUND");
    // Deleting again is not an error.
    expect(ok("volume delete", ["volume", "delete", volume.id])).toEqual({ volumeId: volume.id, deleted: true });
    expect(lioTargets()).toEqual([]);
  }, 900_000);

  it("host cleanup removes what a lost attachment record left and keeps a claimed attachment; backup, restore into a new volume, delete", async () => {
    // ---------------------------------------------------------------- two attached volumes, one record lost
    const kept = ok("volume create", ["volume", "create", "--size", "1", "--type", "lab", "--name", "kept"]).volume;
    const lost = ok("volume create", ["volume", "create", "--size", "1", "--type", "lab", "--name", "lost"]).volume;
    const keptAtt = ok("volume attach", ["volume", "attach", kept.id]);
    const lostAtt = ok("volume attach", ["volume", "attach", lost.id]);
    const keptIqn = `${IQN_PREFIX}volume-${kept.id}`;
    const lostIqn = `${IQN_PREFIX}volume-${lost.id}`;
    const keptDisk = basename(realpathSync(keptAtt.devicePath));
    const lostDisk = basename(realpathSync(lostAtt.devicePath));
    const lostWwid = sysfsWwidToUdev(readFileSync(`/sys/block/${lostDisk}/device/wwid`, "utf8"));
    const data = pattern(4 * MiB);
    writeAt(keptAtt.devicePath, 0, data.data);
    // The lost volume's attachment record goes (a hand edit of the database): its session, disk and
    // node record are now residue no record claims.
    const store = (await openStore({ kind: "sqlite", path: storePath }))._unsafeUnwrap();
    (await store.attachments.remove(lostAtt.attachment.id))._unsafeUnwrap();
    (await store.close())._unsafeUnwrap();
    expect(sessionsOf(lostIqn)).toHaveLength(1);
    expect(nodeRecords(lostIqn)).toBeGreaterThan(0);

    // ---------------------------------------------------------------- the plan, then the cleanup
    const plan = ok("host cleanup", ["host", "cleanup"]);
    expect(plan.confirmed).toBe(false);
    // The lab's multipathd (find_multipaths no) builds a map over every new disk on its own: when
    // it did, the map is residue of the same unit.
    const maps = plan.planned.filter((i) => i.kind === "multipath-map");
    expect(maps.map((m) => [m.name.includes(lostWwid), m.volumeId, m.unit])).toEqual(mapsWithWwid(lostWwid).map(() => [true, lost.id, plan.planned[0]?.unit]));
    const lostItems = plan.planned.filter((i) => i.volumeId === lost.id);
    expect(lostItems.filter((i) => i.kind !== "multipath-map").map((i) => [i.kind, i.name, i.volumeId, i.removal])).toEqual([
      ["scsi-device", `/dev/${lostDisk}`, lost.id, "iscsi-disconnect"],
      ["iscsi-session", `${PORTAL},${lostIqn}`, lost.id, "iscsi-disconnect"],
    ]);
    // Anything else is a node record an earlier suite of this boot left (no session uses it).
    expect(plan.planned.filter((i) => i.volumeId !== lost.id).map((i) => i.kind)).toEqual(plan.planned.filter((i) => i.volumeId !== lost.id).map(() => "iscsi-node"));
    expect(JSON.stringify(plan.planned)).not.toContain(kept.id);
    const cleaned = ok("host cleanup", ["host", "cleanup", "--yes"]);
    expect(cleaned).toMatchObject({ confirmed: true, failed: [], skipped: [] });
    expect(cleaned.removed).toEqual(plan.planned);
    expectClean(lostIqn, lostWwid);
    expect(existsSync(`/sys/block/${lostDisk}`)).toBe(false);
    // The claimed attachment is untouched: its session, its disk, its data.
    expect(sessionsOf(keptIqn)).toHaveLength(1);
    expect(basename(realpathSync(keptAtt.devicePath))).toBe(keptDisk);
    expect(sha256(readAt(keptAtt.devicePath, 0, 4 * MiB))).toBe(data.sha);
    // Nothing is left to clean.
    expect(ok("host cleanup", ["host", "cleanup", "--yes"])).toEqual({ planned: [], confirmed: false, removed: [], failed: [], skipped: [] });
    // The lost volume goes with force-delete (its target and LV on the storage side).
    expect(ok("volume force-delete", ["volume", "force-delete", lost.id])).toEqual({ volumeId: lost.id, deleted: true });
    expect(lioTargets()).toEqual([keptIqn]);

    // ---------------------------------------------------------------- backup, restore into a new volume
    ok("volume detach", ["volume", "detach", kept.id]);
    expect(sessionTargets()).toEqual([]);
    const { backup } = ok("backup create", ["backup", "create", kept.id, "--name", "lab-full"]);
    expect(backup).toMatchObject({ volumeId: kept.id, status: "available", repository: "lab-dir", name: "lab-full", sizeGiB: 1 });
    expect(readdirSync(backupDir).length).toBeGreaterThan(0);
    expect(ok("backup list", ["backup", "list", "--volume", kept.id]).backups.map((b) => b.id)).toEqual([backup.id]);
    const restored = ok("backup restore", ["backup", "restore", backup.id, "--name", "restored"]);
    expect(restored.volume).toMatchObject({ status: "available", sizeGiB: 1, name: "restored", backend: "lvm-lab" });
    expect(restored.volume.id).not.toBe(kept.id);
    // The restored bytes, read through an iSCSI attach of the new volume.
    const back = ok("volume attach", ["volume", "attach", restored.volume.id]);
    expect(sha256(readAt(back.devicePath, 0, 4 * MiB))).toBe(data.sha);
    // Beyond what was written: the same bytes as the source LV (zeros or not), head and tail.
    const keptLv = `/dev/${lab.vgThick}/volume-${kept.id}`;
    expect(sha256(readAt(back.devicePath, 0, 16 * MiB))).toBe(sha256(readAt(keptLv, 0, 16 * MiB)));
    expect(sha256(readAt(back.devicePath, GiB - 16 * MiB, 16 * MiB))).toBe(sha256(readAt(keptLv, GiB - 16 * MiB, 16 * MiB)));
    ok("volume detach", ["volume", "detach", restored.volume.id]);

    // ---------------------------------------------------------------- delete everything
    expect(ok("backup delete", ["backup", "delete", backup.id])).toMatchObject({ backupId: backup.id, deleted: true });
    expect(ok("backup list", ["backup", "list"]).backups).toEqual([]);
    fails(["backup", "show", backup.id], "BACKUP_NOT_FOUND");
    for (const id of [kept.id, restored.volume.id]) expect(ok("volume delete", ["volume", "delete", id])).toEqual({ volumeId: id, deleted: true });
    expect(lvNames()).toEqual([]);
    expect(lioTargets()).toEqual([]);
    expect(sessionTargets().filter((t) => t.startsWith(IQN_PREFIX))).toEqual([]);
    expect(disksWithWwid(lostWwid)).toEqual([]);
  }, 1_500_000);
});
