import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DOCTOR_CHECKS } from "../../../src/cli/commands/doctor-checks.js";
import { DoctorOutputSchema } from "../../../src/cli/commands/doctor.js";
import { EXIT_CODES } from "../../../src/cli/exit-codes.js";
import { VolkitError } from "../../../src/core/errors.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { FakeHostTree } from "../../../src/testing/fake-tree.js";
import { volkit } from "./cli-harness.js";

const FIXTURES = join(import.meta.dirname, "../../fixtures/cli/doctor");
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");

/** A runner answering every doctor probe as this fixture host did (captured by capture-doctor.sh). */
function capturedHost(): FakeRunner {
  const runner = new FakeRunner();
  for (const check of DOCTOR_CHECKS) {
    if (existsSync(join(FIXTURES, `${check.id}.missing`))) {
      runner.on([...check.probe], { error: new VolkitError("COMMAND_NOT_FOUND", `${check.probe[0]}: not found`, { source: "exec" }) });
    } else {
      runner.on([...check.probe], { stdout: fixture(`${check.id}.stdout`), stderr: fixture(`${check.id}.stderr`), exitCode: Number(fixture(`${check.id}.exit`).trim()) });
    }
  }
  runner.on(["pgrep"], { exitCode: Number(fixture("pgrep-none.exit").trim()) });
  runner.on(["systemctl", "is-active"], { exitCode: 3 });
  return runner;
}

let tree: FakeHostTree;
afterEach(() => tree.cleanup());

describe("volkit doctor", () => {
  it("reports each tool of the captured host, with the apt package and service fix of every missing piece", async () => {
    tree = FakeHostTree.create();
    const runner = capturedHost();
    const r = await volkit(["doctor", "--json"], { runner, hostFs: tree.hostFs() });
    expect(r.code).toBe(EXIT_CODES.COMMAND_NOT_FOUND);
    const out = DoctorOutputSchema.parse(r.json());
    const byId = Object.fromEntries(out.checks.map((c) => [c.id, c]));
    expect(out.ok).toBe(false);
    expect(out.systemd).toBe(false);
    expect(out.checks.map((c) => c.id)).toEqual(DOCTOR_CHECKS.map((c) => c.id));
    expect(byId.lvm).toMatchObject({ status: "ok", version: "LVM version:     2.03.16(2) (2022-05-18)", fixes: [] });
    expect(byId["qemu-img"]).toMatchObject({ status: "ok", version: expect.stringMatching(/^qemu-img version 7\.2/) as unknown });
    expect(byId.tgtadm).toMatchObject({ status: "not-running", version: "1.0.85", service: { unit: "tgt", running: false } });
    expect(byId.tgtadm?.fixes).toEqual(["start tgtd (no systemd here: run it under your init system)"]);
    expect(byId.targetcli).toMatchObject({ status: "missing", fixes: ["apt-get install -y targetcli-fb", "modprobe target_core_mod"] });
    expect(byId.multipathd).toMatchObject({ status: "missing", service: { unit: "multipathd", running: false } });
    expect(byId.multipathd?.fixes).toEqual(["apt-get install -y multipath-tools", "start multipathd (no systemd here: run it under your init system)"]);
    expect(byId["mount.nfs"]?.fixes).toEqual(["apt-get install -y nfs-common"]);
    expect(byId.rbd).toMatchObject({ status: "kernel-missing", kernel: { path: "/sys/bus/rbd", present: false }, fixes: ["modprobe rbd"] });
    // Services looked for without systemd: pgrep of each daemon.
    expect(runner.commandsOf("pgrep")).toEqual(expect.arrayContaining([["pgrep", "-x", "tgtd"], ["pgrep", "-x", "iscsid"]]));
    expect(runner.commandsOf("systemctl")).toEqual([]);
  });

  it("prints the fixes as commands a person can paste", async () => {
    tree = FakeHostTree.create();
    const r = await volkit(["doctor"], { runner: capturedHost(), hostFs: tree.hostFs() });
    expect(r.code).toBe(EXIT_CODES.COMMAND_NOT_FOUND);
    expect(r.stdout).toContain("To fix:");
    for (const fix of ["apt-get install -y targetcli-fb", "apt-get install -y multipath-tools", "apt-get install -y nfs-common", "modprobe rbd"]) expect(r.stdout).toContain(fix);
    expect(r.stdout).toMatch(/^lvm\s+ok\s+lvm2/m);
    expect(r.stdout).not.toContain("\u001b[");
  });

  it("uses systemctl where systemd runs, and exits 0 when the selected areas are fine", async () => {
    tree = FakeHostTree.create().dir("/run/systemd/system").dir("/sys/bus/rbd");
    const runner = capturedHost();
    runner.once(["systemctl", "is-active", "--quiet", "iscsid"], { exitCode: 0 });
    const fine = await volkit(["doctor", "--only", "iscsi,qemu,ceph", "--json"], { runner, hostFs: tree.hostFs() });
    expect(fine.code).toBe(0);
    const out = DoctorOutputSchema.parse(fine.json());
    expect(out).toMatchObject({ ok: true, systemd: true });
    expect(out.checks.map((c) => [c.id, c.status])).toEqual([["iscsiadm", "ok"], ["qemu-img", "ok"], ["ceph", "ok"], ["rbd", "ok"]]);
    expect(runner.commandsOf("systemctl")).toEqual([["systemctl", "is-active", "--quiet", "iscsid"]]);
    const down = await volkit(["doctor", "--only", "tgt", "--json"], { runner, hostFs: tree.hostFs() });
    expect(down.code).toBe(EXIT_CODES.BACKEND_UNAVAILABLE);
    expect(DoctorOutputSchema.parse(down.json()).checks[0]?.fixes).toEqual(["systemctl enable --now tgt"]);
  });

  it("refuses an unknown area before probing anything", async () => {
    tree = FakeHostTree.create();
    const runner = capturedHost();
    const r = await volkit(["doctor", "--only", "iscsi,zfs"], { runner, hostFs: tree.hostFs() });
    expect(r.code).toBe(EXIT_CODES.INVALID_ARGUMENT);
    expect(r.stderr).toContain("INVALID_ARGUMENT");
    expect(runner.commands()).toEqual([]);
  });
});
