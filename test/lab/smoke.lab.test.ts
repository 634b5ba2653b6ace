/**
 * Storage lab smoke test: runs INSIDE the lab guest (see lab/README.md) and checks that the
 * fixed environment the driver tests rely on is really there.
 *
 *   npx tsx lab/run.ts -- npx vitest run --project lab test/lab/smoke.lab.test.ts
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmdirSync, writeFileSync, existsSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, expect } from "vitest";

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
}

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (is this running inside the lab guest?)`);
  return v;
}

interface VgsReport {
  report: Array<{ vg: Array<{ vg_name: string; lv_count: string; pv_count: string; vg_size: string }> }>;
}

describe("storage lab environment", () => {
  it("runs inside the lab guest", () => {
    expect(process.env.VOLKIT_LAB, "not inside the storage lab: run via `npx tsx lab/run.ts -- npx vitest run --project lab`").toBe("1");
  });

  it("exports the lab environment variables", () => {
    for (const name of [
      "VOLKIT_LAB_VG_THICK",
      "VOLKIT_LAB_VG_THIN",
      "VOLKIT_LAB_INITIATOR",
      "VOLKIT_LAB_PORTALS",
      "VOLKIT_LAB_TGT_PORT",
      "VOLKIT_LAB_LIO_PORT",
      "VOLKIT_LAB_TGT_VOLUMES_DIR",
      "VOLKIT_LAB_NFS_SHARES",
    ]) {
      expect(process.env[name], name).toBeTruthy();
    }
    const file = readFileSync("/run/volkit-lab.env", "utf8");
    expect(file).toContain(`VOLKIT_LAB_VG_THICK=${env("VOLKIT_LAB_VG_THICK")}`);
    expect(env("VOLKIT_LAB_PORTALS").split(",")).toEqual(["127.0.0.1", "127.0.0.2"]);
  });

  // Emptiness at boot is not asserted here: the lab files share one boot and run in any order.
  it("has both volume groups, each on one scratch PV", () => {
    const out = run("vgs", ["--reportformat", "json", "--units", "b", "-o", "vg_name,lv_count,pv_count,vg_size"]);
    const vgs = (JSON.parse(out) as VgsReport).report[0]!.vg;
    for (const name of [env("VOLKIT_LAB_VG_THICK"), env("VOLKIT_LAB_VG_THIN")]) {
      const vg = vgs.find((v) => v.vg_name === name);
      expect(vg, `VG ${name}`).toBeDefined();
      expect(Number(vg!.pv_count)).toBe(1);
      expect(Number.parseInt(vg!.vg_size, 10)).toBeGreaterThan(1024 ** 3);
    }
  });

  it("tgtd answers on its control socket and listens on both portals", () => {
    run("tgtadm", ["--lld", "iscsi", "--op", "show", "--mode", "target"]);
    const portals = run("tgtadm", ["--lld", "iscsi", "--op", "show", "--mode", "portal"]);
    const port = env("VOLKIT_LAB_TGT_PORT");
    for (const ip of env("VOLKIT_LAB_PORTALS").split(",")) expect(portals).toContain(`${ip}:${port}`);
    expect(existsSync(env("VOLKIT_LAB_TGT_VOLUMES_DIR"))).toBe(true);
  });

  it("has the LIO target core in configfs and the iSCSI fabric module loaded (the fabric directory is targetcli's to make)", () => {
    expect(readFileSync("/sys/kernel/config/target/version", "utf8")).toMatch(/Target Engine Core/);
    expect(existsSync("/sys/module/iscsi_target_mod")).toBe(true);
  });

  it("runs iscsid with the lab initiator name", () => {
    const name = readFileSync("/etc/iscsi/initiatorname.iscsi", "utf8");
    expect(name).toMatch(new RegExp(`^InitiatorName=${env("VOLKIT_LAB_INITIATOR").replace(/\./g, "\\.")}$`, "m"));
    run("pgrep", ["-x", "iscsid"]);
    // talks to iscsid over its socket; "No active sessions" exits 21
    let code = 0;
    try {
      run("iscsiadm", ["-m", "session"]);
    } catch (e) {
      code = (e as { status?: number }).status ?? -1;
    }
    expect([0, 21]).toContain(code);
  });

  it("runs multipathd", () => {
    expect(run("multipathd", ["show", "status"])).toMatch(/path checker states|paths:/);
  });

  it.each(["4.1", "3"])("mounts the NFS exports (vers=%s), writes and reads back", (vers) => {
    const [share1] = env("VOLKIT_LAB_NFS_SHARES").split(",");
    const dir = mkdtempSync(join(tmpdir(), "volkit-nfs-"));
    run("mount", ["-t", "nfs", "-o", `vers=${vers},timeo=50,retrans=2`, share1!, dir]);
    try {
      const file = join(dir, `smoke-${vers}-${process.pid}.txt`);
      writeFileSync(file, `hello over nfs ${vers}\n`);
      expect(readFileSync(file, "utf8")).toBe(`hello over nfs ${vers}\n`);
      unlinkSync(file);
    } finally {
      run("umount", [dir]);
      rmdirSync(dir);
    }
  });
});
