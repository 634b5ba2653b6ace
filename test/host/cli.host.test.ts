/**
 * `volkit doctor`, `host show` and `image convert` against this host's real tools and kernel:
 * the bin is run as a child process (node with tsx) and its --json output checked with the
 * command's schema and against what the tools themselves say.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOCTOR_CHECKS } from "../../src/cli/commands/doctor-checks.js";
import { DoctorOutputSchema } from "../../src/cli/commands/doctor.js";
import { HostShowOutputSchema } from "../../src/cli/commands/host-inventory.js";
import { ImageConvertOutputSchema } from "../../src/cli/commands/image.js";
import { SimulatorOutputSchema } from "../../src/cli/commands/simulator.js";
import { EXIT_CODES } from "../../src/cli/exit-codes.js";

const REPO = resolve(import.meta.dirname, "../..");
const MiB = 2 ** 20;

/** Runs the CLI; returns exit status and output. */
function volkit(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(REPO, "src/cli/main.ts"), ...args], { cwd: REPO, encoding: "utf8", env: { ...process.env, VOLKIT_CONFIG: "" } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Whether `program` is an executable on PATH (what "installed" means to doctor). */
function onPath(program: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((d) => {
    try {
      accessSync(join(d, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

let dir: string;
beforeAll(() => {
  if (!onPath("qemu-img")) throw new Error("qemu-img is not installed: install the Debian package qemu-utils (bash scripts/host-prereqs.sh)");
  dir = mkdtempSync(join(tmpdir(), "volkit-cli-host-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("volkit doctor on this host", () => {
  it("finds exactly the tools that are installed and quotes their own version line", () => {
    const r = volkit("doctor", "--json");
    const out = DoctorOutputSchema.parse(JSON.parse(r.stdout));
    expect(out.systemd).toBe(existsSync("/run/systemd/system"));
    for (const check of DOCTOR_CHECKS) {
      const found = out.checks.find((c) => c.id === check.id);
      const installed = onPath(check.probe[0]);
      expect(found?.status === "missing", check.id).toBe(!installed);
      if (!installed) {
        expect(found?.fixes[0]).toBe(`apt-get install -y ${check.package}`);
        continue;
      }
      const probe = spawnSync(check.probe[0], check.probe.slice(1), { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
      const first = `${probe.stdout}\n${probe.stderr}`.split("\n").map((l) => l.trim()).find((l) => l !== "");
      expect(found?.version, check.id).toBe(first?.slice(0, 160));
    }
    expect(out.checks.find((c) => c.id === "qemu-img")?.status).toBe("ok");
    expect(r.status).toBe(out.ok ? 0 : out.checks.some((c) => c.status === "missing") ? 31 : out.checks.some((c) => c.status === "unknown") ? 30 : 33);
  });
});

describe("volkit host show on this host", () => {
  it("lists the kernel's iSCSI sessions, multipath maps and RBD mappings as sysfs has them", () => {
    const r = volkit("host", "show", "--json");
    const out = HostShowOutputSchema.parse(JSON.parse(r.stdout));
    const sessions = existsSync("/sys/class/iscsi_session") ? readdirSync("/sys/class/iscsi_session").filter((s) => /^session\d+$/.test(s)) : [];
    expect(out.iscsiSessions.map((s) => `session${s.id}`).sort()).toEqual(sessions.sort());
    const mpath = readdirSync("/sys/block")
      .filter((b) => b.startsWith("dm-"))
      .filter((b) => {
        try {
          return readFileSync(`/sys/block/${b}/dm/uuid`, "utf8").startsWith("mpath-");
        } catch {
          return false;
        }
      });
    expect(out.multipathMaps.map((m) => m.dm).sort()).toEqual(mpath.sort());
    const rbd = existsSync("/sys/bus/rbd/devices") ? readdirSync("/sys/bus/rbd/devices") : [];
    expect(out.rbdMappings.map((m) => m.id).sort()).toEqual(rbd.sort());
    const local = out.protocols.find((p) => p.protocol === "local");
    expect(local?.properties?.host).toBe(execFileSync("hostname", { encoding: "utf8" }).trim());
    // findmnt is util-linux: always there, so the NFS section always reads.
    expect(out.errors.map((e) => e.section)).not.toContain("nfsMounts");
    expect(r.status).toBe(out.errors.length === 0 ? 0 : EXIT_CODES[out.errors[0]?.code as keyof typeof EXIT_CODES]);
  });
});

describe("volkit image convert with the real qemu-img", () => {
  it("converts raw to qcow2 and back with the same bytes, and refuses to overwrite", () => {
    const raw = join(dir, "disk.raw");
    const data = Buffer.concat([randomBytes(3 * MiB), Buffer.alloc(5 * MiB), randomBytes(MiB)]);
    writeFileSync(raw, data);
    const qcow = join(dir, "disk.qcow2");
    const to = volkit("image", "convert", raw, qcow, "-f", "raw", "-O", "qcow2", "--json");
    expect(to.stderr).toBe("");
    expect(to.status).toBe(0);
    expect(ImageConvertOutputSchema.parse(JSON.parse(to.stdout))).toMatchObject({ sourceFormat: "raw", targetFormat: "qcow2", virtualSizeBytes: 9 * MiB });
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", qcow], { encoding: "utf8" })) as { format: string; "virtual-size": number };
    expect([info.format, info["virtual-size"]]).toEqual(["qcow2", 9 * MiB]);
    const back = join(dir, "back.raw");
    expect(volkit("image", "convert", qcow, back, "-f", "qcow2", "-O", "raw").status).toBe(0);
    const digest = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
    expect(digest(readFileSync(back))).toBe(digest(data));
    const again = volkit("image", "convert", raw, qcow, "-O", "qcow2");
    expect(again.status).toBe(2);
    expect(again.stderr).toContain("exists");
  });

  it("removes the partial target when qemu-img fails half-way (a full file system)", () => {
    const source = join(dir, "big.raw");
    writeFileSync(source, randomBytes(8 * MiB));
    // A 2 MiB tmpfs: qemu-img creates the target, writes until ENOSPC and fails.
    const small = join(dir, "small");
    mkdirSync(small);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m,mode=0700", "volkit-cli-test", small]);
    try {
      const target = join(small, "out.raw");
      const r = volkit("image", "convert", source, target, "-f", "raw", "-O", "raw", "--json");
      expect(r.status).toBe(30);
      const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; details: { rolledBack?: string[] } } }).error;
      expect(error.code).toBe("COMMAND_FAILED");
      expect(error.message).toMatch(/No space left on device/);
      expect(error.details.rolledBack).toEqual([target]);
      expect(existsSync(target)).toBe(false);
    } finally {
      execFileSync("umount", [small]);
    }
  });
});

describe("volkit simulator", () => {
  it("serves the array's REST API on loopback with the password in a 0600 file (never printed), and Ctrl-C stops it", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO, "src/cli/main.ts"), "simulator", "--http", "--no-iscsi", "--json"], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    try {
      const until = Date.now() + 30_000;
      let info: ReturnType<typeof SimulatorOutputSchema.parse> | undefined;
      while (info === undefined && Date.now() < until) {
        try {
          info = SimulatorOutputSchema.parse(JSON.parse(stdout));
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      if (info === undefined) throw new Error(`the simulator printed no JSON in 30 s: ${stdout}`);
      expect(info.urls.length).toBe(2);
      expect(info.iscsiTargets).toEqual([]);
      expect(info.urls.every((u) => /^http:\/\/127\.0\.0\.[12]:\d+\/deviceManager\/rest\/$/.test(u))).toBe(true);
      expect(statSync(info.authFile).mode & 0o777).toBe(0o600);
      const password = readFileSync(info.authFile, "utf8").trim();
      expect(password.length).toBeGreaterThanOrEqual(8);
      expect(stdout).not.toContain(password);
      const login = await fetch(`${info.urls[0] ?? ""}xx/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: info.user, password, scope: "0" }) });
      const body = (await login.json()) as { error: { code: number }; data: { deviceid?: string } };
      expect(body.error.code).toBe(0);
      expect(body.data.deviceid).toBe(info.deviceId);
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(existsSync(info.dataDir)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
