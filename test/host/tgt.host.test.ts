/**
 * TgtHelper against a REAL tgtd on this host (userspace, no VM):
 *
 *   sudo npx vitest run --project host test/host/tgt.host.test.ts
 *
 * Starts a private `tgtd -f -C <port> --iscsi portal=127.0.0.1:<port>` (never the system tgtd),
 * exports a 64 MiB sparse file through the helper with the local runner, and checks it with
 * libiscsi and qemu's iSCSI driver: capacity, data written and read back over iSCSI, CHAP enforced,
 * online size refresh, removal. Needs root and: tgt, libiscsi-bin, qemu-utils, qemu-block-extra, lsof.
 * CHAP secrets reach the tools through the environment (libiscsi) or a 0600 file (qemu), never argv.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backgroundContext } from "../../src/core/context.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import type { CommandRunner } from "../../src/exec/runner.js";
import { TargetConfigSchema } from "../../src/targets/target-helper.js";
import { TgtHelper } from "../../src/targets/tgt/tgt-helper.js";
import { freeLoopbackPort } from "../../src/testing/loopback-port.js";

const run = promisify(execFile);
// lsof: tgt-admin uses it to skip backing stores in use (the LUN 1 re-add test relies on that).
const TOOLS = ["tgtd", "tgtadm", "tgt-admin", "iscsi-inq", "iscsi-readcapacity16", "qemu-img", "qemu-io", "lsof"];
const SIZE = 64 * 1024 * 1024;
const CHAP = { username: "volkit-host-user", password: randomBytes(12).toString("base64url") };

function missingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (tgtd, tgt-admin)";
  const PATH = `${process.env.PATH ?? ""}:/usr/sbin:/sbin`;
  const missing = TOOLS.filter((t) => spawnSync("sh", ["-c", 'command -v "$1"', "sh", t], { env: { ...process.env, PATH } }).status !== 0);
  return missing.length ? `missing tools: ${missing.join(", ")} (apt-get install -y tgt libiscsi-bin qemu-utils qemu-block-extra lsof)` : undefined;
}

// Missing prerequisites fail the suite (never a silent skip): `npm test` installs them as root.
const missing = missingPrerequisite();


/** Runs a command; failures are rethrown without the command line or environment (no secrets in logs). */
async function tool(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; code?: number };
    return { stdout: x.stdout ?? "", stderr: x.stderr ?? "", code: typeof x.code === "number" ? x.code : -1 };
  }
}

const sha256 = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("TgtHelper on a real tgtd", () => {
  it("has its prerequisites (root, tgt, libiscsi-bin, qemu-utils, lsof)", () => {
    expect(missing).toBeUndefined();
  });

  const ctx = backgroundContext("host-test", "test");
  let dir = "";
  let controlPort = 0;
  let portal = "";
  let tgtd: ChildProcess | undefined;
  let helper: TgtHelper;
  let volume = "";
  const volumeId = `host-${process.pid}`;
  let iqn = "";
  const url = (): string => `iscsi://127.0.0.1:${portal.split(":")[1]}/${iqn}/1`;
  const chapEnv = (password = CHAP.password): Record<string, string> => ({ LIBISCSI_CHAP_USERNAME: CHAP.username, LIBISCSI_CHAP_PASSWORD: password });
  const tgtadm = (...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> => tool("tgtadm", ["-C", String(controlPort), ...args]);
  const imageOpts = (secretFile: string): string[] => [
    "--object", `secret,id=sec0,file=${secretFile}`,
  ];
  const target = (): string => `driver=iscsi,transport=tcp,portal=${portal},target=${iqn},lun=1,user=${CHAP.username},password-secret=sec0`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "volkit-tgt-host-"));
    // tgtadm accepts control ports 0-32767; pick one no daemon answers on.
    for (;;) {
      controlPort = 20000 + Math.floor(Math.random() * 12000);
      if (!existsSync(`/var/run/tgtd/socket.${controlPort}`)) break;
    }
    portal = `127.0.0.1:${await freeLoopbackPort()}`;
    tgtd = spawn("tgtd", ["-f", "-C", String(controlPort), "--iscsi", `portal=${portal}`], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    tgtd.stderr?.on("data", (b: Buffer) => (log += b.toString()));
    for (let i = 0; i < 100; i++) {
      if ((await tgtadm("--op", "show", "--mode", "sys")).code === 0) break;
      if (tgtd.exitCode !== null) throw new Error(`tgtd exited: ${log}`);
      await sleep(50);
    }
    volume = join(dir, "volume.img");
    writeFileSync(volume, "");
    truncateSync(volume, SIZE);
    const config = TargetConfigSchema.parse({ portals: [portal], volumesDir: join(dir, "volumes"), chap: true });
    helper = new TgtHelper(config, createLocalRunner(), { controlPort });
    iqn = `${config.iqnPrefix}volume-${volumeId}`;
  });

  afterAll(async () => {
    if (tgtd && tgtd.exitCode === null) {
      // tgtd ignores SIGTERM while it has targets: the tgt.service ExecStop sequence, then wait.
      await tgtadm("--op", "update", "--mode", "sys", "--name", "State", "-v", "offline");
      await tool("tgt-admin", ["-C", String(controlPort), "--update", "ALL", "-c", "/dev/null", "-f"]);
      await tgtadm("--op", "delete", "--mode", "system");
      for (let i = 0; i < 40 && tgtd.exitCode === null; i++) await sleep(50);
      if (tgtd.exitCode === null) tgtd.kill("SIGKILL");
    }
    rmSync(`/var/run/tgtd/socket.${controlPort}`, { force: true });
    rmSync(`/var/run/tgtd/socket.${controlPort}.lock`, { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("check() sees a ready tgtd", async () => {
    (await helper.check(ctx))._unsafeUnwrap();
  });

  it("exports the volume: 0600 target file, LUN 1 with the right capacity, CHAP required", async () => {
    const exp = (await helper.createExport({ volumeId, devicePath: volume, chap: CHAP }, ctx))._unsafeUnwrap();
    expect(exp).toMatchObject({ iqn, lun: 1, portals: [portal], providerLocation: `${portal},${exp.tid} ${iqn} 1` });
    const file = join(dir, "volumes", `volume-${volumeId}`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toBe(`<target ${iqn}>\n  backing-store ${volume}\n  driver iscsi\n  incominguser ${CHAP.username} ${CHAP.password}\n  write-cache on\n</target>\n`);
    const cap = await tool("iscsi-readcapacity16", [url()], chapEnv());
    expect(cap.code).toBe(0);
    expect(cap.stdout).toContain(`Total size:${SIZE}`);
  });

  it("writes random data over iSCSI and reads the same bytes back", async () => {
    const src = join(dir, "src.bin");
    const back = join(dir, "back.bin");
    const secret = join(dir, "chap.secret");
    writeFileSync(src, randomBytes(SIZE));
    writeFileSync(secret, CHAP.password, { mode: 0o600 });
    const w = await tool("qemu-img", ["convert", "-n", ...imageOpts(secret), "-f", "raw", src, "--target-image-opts", target()]);
    expect(w.stderr).toBe("");
    expect(w.code).toBe(0);
    const r = await tool("qemu-img", ["convert", ...imageOpts(secret), "--image-opts", target(), "-O", "raw", back]);
    expect(r.code).toBe(0);
    expect(sha256(back)).toBe(sha256(src));
    expect(sha256(volume)).toBe(sha256(src));
  });

  it("rejects a login with a wrong CHAP secret or without CHAP", async () => {
    const wrong = await tool("iscsi-inq", [url()], chapEnv("WrongSecret-123456"));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/Authentication failure/);
    const none = await tool("iscsi-inq", [url()]);
    expect(none.code).not.toBe(0);
    const right = await tool("iscsi-inq", [url()], chapEnv());
    expect(right.code).toBe(0);
  });

  it("is idempotent: a second createExport keeps the one target and its tid", async () => {
    const before = (await helper.getExport(volumeId, ctx))._unsafeUnwrap();
    const again = (await helper.ensureExport({ volumeId, devicePath: volume, chap: CHAP }, ctx))._unsafeUnwrap();
    expect(again).toEqual(before);
    const show = await tgtadm("--lld", "iscsi", "--op", "show", "--mode", "target");
    expect(show.stdout.match(/^Target \d+:/gm)).toHaveLength(1);
  });

  it("a changed CHAP secret reaches tgtd (tgt-admin alone keeps the old password), tid unchanged", async () => {
    const before = (await helper.getExport(volumeId, ctx))._unsafeUnwrap();
    const rotated = { username: CHAP.username, password: randomBytes(12).toString("base64url") };
    const after = (await helper.createExport({ volumeId, devicePath: volume, chap: rotated }, ctx))._unsafeUnwrap();
    expect(after.tid).toBe(before?.tid);
    expect((await tool("iscsi-inq", [url()], chapEnv(rotated.password))).code).toBe(0);
    expect((await tool("iscsi-inq", [url()], chapEnv(CHAP.password))).code).not.toBe(0);
    (await helper.createExport({ volumeId, devicePath: volume, chap: CHAP }, ctx))._unsafeUnwrap();
    expect((await tool("iscsi-inq", [url()], chapEnv(CHAP.password))).code).toBe(0);
  });

  it("refreshSize makes a grown device visible while an initiator stays logged in", async () => {
    const secret = join(dir, "chap.secret");
    // qemu-io keeps its session open until its stdin closes.
    const holder = spawn("qemu-io", [...imageOpts(secret), "--image-opts", target()], { stdio: ["pipe", "ignore", "ignore"] });
    try {
      let sessions = 0;
      for (let i = 0; i < 100 && sessions === 0; i++) {
        await sleep(50);
        sessions = ((await tgtadm("--lld", "iscsi", "--op", "show", "--mode", "target")).stdout.match(/Connection:/g) ?? []).length;
      }
      expect(sessions).toBe(1);
      truncateSync(volume, 2 * SIZE);
      (await helper.refreshSize({ volumeId, devicePath: volume, chap: CHAP }, ctx))._unsafeUnwrap();
      const cap = await tool("iscsi-readcapacity16", [url()], chapEnv());
      expect(cap.stdout).toContain(`Total size:${2 * SIZE}`);
      const show = (await tgtadm("--lld", "iscsi", "--op", "show", "--mode", "target")).stdout;
      expect(show.match(/Connection:/g)).toHaveLength(1);
    } finally {
      holder.stdin?.end();
      holder.kill();
    }
  });

  it("the target file brings the export back after a tgtd restart (tgt-admin -e with include <volumesDir>/*)", async () => {
    const before = (await helper.getExport(volumeId, ctx))._unsafeUnwrap();
    expect(before).toBeDefined();
    // What a restart loses: every target and account.
    await tool("tgt-admin", ["-C", String(controlPort), "--delete", "ALL", "-f"]);
    await tgtadm("--lld", "iscsi", "--mode", "account", "--op", "delete", "--user", CHAP.username);
    expect((await helper.getExport(volumeId, ctx))._unsafeUnwrap()).toBeUndefined();
    const conf = join(dir, "targets.conf");
    writeFileSync(conf, `include ${join(dir, "volumes")}/*\n`);
    const e = await tool("tgt-admin", ["-C", String(controlPort), "-e", "-c", conf]);
    expect(e.code).toBe(0);
    expect((await helper.getExport(volumeId, ctx))._unsafeUnwrap()?.iqn).toBe(iqn);
    expect((await tool("iscsi-inq", [url()], chapEnv())).code).toBe(0);
    expect((await tool("iscsi-inq", [url()], chapEnv("WrongSecret-123456"))).code).not.toBe(0);
  });

  it("re-adds LUN 1 when tgt-admin skips a backing store that is open elsewhere (lsof)", async () => {
    const other = join(dir, "busy.img");
    writeFileSync(other, "");
    truncateSync(other, SIZE);
    const fd = openSync(other, "r"); // this process holds it open: tgt-admin's lsof check skips it
    try {
      const id = `busy-${process.pid}`;
      const seen: string[][] = [];
      const local = createLocalRunner();
      const recording: CommandRunner = { description: "recording", run: (spec) => (seen.push([...spec.argv]), local.run(spec)) };
      const busyHelper = new TgtHelper(TargetConfigSchema.parse({ portals: [portal], volumesDir: join(dir, "volumes") }), recording, { controlPort });
      const exp = (await busyHelper.createExport({ volumeId: id, devicePath: other }, ctx))._unsafeUnwrap();
      expect(exp.lun).toBe(1);
      // tgt-admin skipped the LUN; the helper added it itself:
      expect(seen).toContainEqual(["tgtadm", "-C", String(controlPort), "--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", String(exp.tid), "--lun", "1", "-b", other]);
      const show = (await tgtadm("--lld", "iscsi", "--op", "show", "--mode", "target")).stdout;
      expect(show).toContain(`Backing store path: ${other}`);
      const cap = await tool("iscsi-readcapacity16", [`iscsi://${portal}/${exp.iqn}/1`]);
      expect(cap.stdout).toContain(`Total size:${SIZE}`);
      (await helper.removeExport(id, ctx))._unsafeUnwrap();
    } finally {
      closeSync(fd);
    }
  });

  it("removeExport deletes target, account and file; logins fail; removing again is fine", async () => {
    (await helper.removeExport(volumeId, ctx))._unsafeUnwrap();
    expect((await tgtadm("--lld", "iscsi", "--op", "show", "--mode", "target")).stdout).not.toContain(iqn);
    expect((await tgtadm("--lld", "iscsi", "--op", "show", "--mode", "account")).stdout).not.toContain(CHAP.username);
    expect(existsSync(join(dir, "volumes", `volume-${volumeId}`))).toBe(false);
    const login = await tool("iscsi-inq", [url()], chapEnv());
    expect(login.code).not.toBe(0);
    (await helper.removeExport(volumeId, ctx))._unsafeUnwrap();
    expect((await helper.getExport(volumeId, ctx))._unsafeUnwrap()).toBeUndefined();
  });
});
