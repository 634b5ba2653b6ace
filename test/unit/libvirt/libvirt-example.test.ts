import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));

describe("examples/libvirt-xml.ts", () => {
  it("prints the iSCSI multipath and NFS qcow2 disks and the typed refusal, and exits 0", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "examples/libvirt-xml.ts"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("<source dev='/dev/dm-3'/>");
    expect(r.stdout).toContain("<driver name='qemu' type='qcow2' cache='none' io='threads'/>");
    expect(r.stdout).toContain("/dev/disk/by-id/virtio-3e9d0a6e-8b5e-4a0e-9");
    expect(r.stdout).toContain("INVALID_ARGUMENT (io-native-cache)");
    expect(r.stdout).not.toContain("example-only-password");
  });
});
