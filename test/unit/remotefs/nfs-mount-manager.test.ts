import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createOperationContext } from "../../../src/core/context.js";
import { createNfsMountManager, type NfsMountManagerOptions } from "../../../src/remotefs/nfs-mount-manager.js";
import { mountPointFor } from "../../../src/remotefs/nfs-share.js";
import { FakeNfsHost, mountFails, mountOk } from "./fake-nfs-host.js";

const FIXTURES = join(import.meta.dirname, "../../fixtures/nfs");
const fx = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");

const BASE = "/var/lib/volkit/mnt";
const SHARE = "127.0.0.1:/srv/nfs/share1";
const MP = mountPointFor(BASE, SHARE);
const ctx = (deadlineMs?: number) => createOperationContext({ operation: "test", source: "test", ...(deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs }) });

function manager(host: FakeNfsHost, options: NfsMountManagerOptions = {}) {
  return createNfsMountManager(host.runner, { mountPointBase: BASE, retryMinDelayMs: 1, retryMaxDelayMs: 5, ...options })._unsafeUnwrap();
}

describe("NfsMountManager: mounting", () => {
  it("mounts a share at <base>/<md5> with vers=4.2 and hardening, verified in the kernel table", async () => {
    const host = new FakeNfsHost();
    const m = manager(host);
    const lease = (await m.acquire({ share: SHARE }, ctx()))._unsafeUnwrap();
    expect(lease).toEqual({ share: SHARE, mountPoint: MP, mountedByManager: true, references: 1, version: "4.2" });
    expect(host.calls("mkdir")).toEqual([["mkdir", "-p", "-m", "0755", "--", MP]]);
    expect(host.calls("mount")).toEqual([["mount", "-t", "nfs", "-o", "vers=4.2,nosuid,nodev,noexec", SHARE, MP]]);
    expect(host.calls("findmnt")[0]).toEqual(["findmnt", "-J", "-l", "-k", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"]);
    expect(host.isMounted(MP)).toBe(true);
  });

  it("falls back 4.2 → 4.1 → 4 → 3 when the server does not offer a version", async () => {
    const host = new FakeNfsHost();
    const unsupported = mountFails(fx("mount-version-unsupported.stderr"));
    host.mountReplies = [unsupported, unsupported, unsupported, mountOk];
    const lease = (await manager(host).acquire({ share: SHARE, options: "timeo=600" }, ctx()))._unsafeUnwrap();
    expect(lease.version).toBe("3");
    expect(host.calls("mount").map((a) => a[4])).toEqual([
      "timeo=600,vers=4.2,nosuid,nodev,noexec",
      "timeo=600,vers=4.1,nosuid,nodev,noexec",
      "timeo=600,vers=4,nosuid,nodev,noexec",
      "timeo=600,vers=3,nosuid,nodev,noexec",
    ]);
  });

  it("tries the configured versions only", async () => {
    const host = new FakeNfsHost();
    host.mountReplies = [mountFails(fx("mount-version-unsupported.stderr")), mountOk];
    const lease = (await manager(host, { versions: ["4.1", "3"] }).acquire({ share: SHARE }, ctx()))._unsafeUnwrap();
    expect(lease.version).toBe("3");
    expect(host.calls("mount").map((a) => a[4])).toEqual(["vers=4.1,nosuid,nodev,noexec", "vers=3,nosuid,nodev,noexec"]);
  });

  it("tries only the pinned version", async () => {
    const host = new FakeNfsHost();
    host.mountReplies = [mountFails(fx("mount-version-unsupported.stderr"))];
    const e = (await manager(host, { mountAttempts: 2 }).acquire({ share: SHARE, options: "nfsvers=4,minorversion=2" }, ctx()))._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(host.calls("mount").map((a) => a[4])).toEqual(["nfsvers=4,minorversion=2,nosuid,nodev,noexec"]);
  });

  it("retries with back-off while the server is unreachable, then succeeds", async () => {
    const host = new FakeNfsHost();
    const refused = mountFails(fx("mount-refused.stderr"));
    host.mountReplies = [refused, refused, mountOk];
    const lease = (await manager(host, { mountAttempts: 3 }).acquire({ share: SHARE }, ctx()))._unsafeUnwrap();
    expect(lease.mountedByManager).toBe(true);
    // An unreachable server ends the version sweep at once: three attempts, each with 4.2.
    expect(host.calls("mount").map((a) => a[4])).toEqual(Array(3).fill("vers=4.2,nosuid,nodev,noexec"));
  });

  it("gives up after mountAttempts with a transient BACKEND_UNAVAILABLE", async () => {
    const host = new FakeNfsHost();
    host.mountReplies = [mountFails(fx("mount-refused.stderr"))];
    const e = (await manager(host, { mountAttempts: 2 }).acquire({ share: SHARE }, ctx()))._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(e.transient).toBe(true);
    expect(host.calls("mount")).toHaveLength(2);
  });

  it("kills a mount that hangs at mountTimeoutMs and reports the unresponsive server in time", async () => {
    const host = new FakeNfsHost();
    host.mountReplies = [() => ({ delayMs: 60_000 })];
    const started = performance.now();
    const e = (await manager(host, { mountAttempts: 2, mountTimeoutMs: 150 }).acquire({ share: SHARE }, ctx()))._unsafeUnwrapErr();
    const elapsed = performance.now() - started;
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(e.message).toContain("did not answer the mount within 150 ms");
    expect(host.calls("mount")).toHaveLength(2);
    expect(elapsed).toBeLessThan(2000);
    expect(host.runner.calls.find((c) => c.argv[0] === "mount")?.signal?.aborted).toBe(true);
  });

  it("stops at the operation's deadline with TIMEOUT", async () => {
    const host = new FakeNfsHost();
    host.mountReplies = [() => ({ delayMs: 60_000 })];
    const started = performance.now();
    const e = (await manager(host, { mountAttempts: 5 }).acquire({ share: SHARE }, ctx(200)))._unsafeUnwrapErr();
    expect(e.code).toBe("TIMEOUT");
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("refuses at once when mount.nfs is missing (captured on a host without nfs-common)", async () => {
    const host = new FakeNfsHost();
    host.mountReplies = [mountFails(fx("mount-no-helper.stderr"))];
    const e = (await manager(host, { mountAttempts: 3 }).acquire({ share: SHARE }, ctx()))._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(e.message).toContain("nfs-common");
    expect(e.transient).toBe(false);
    expect(host.calls("mount")).toHaveLength(1);
  });

  it("says a root helper is needed when mount is refused to a user", async () => {
    const host = new FakeNfsHost();
    host.mountReplies = [mountFails(fx("mount-not-root.stderr"))];
    const e = (await manager(host).acquire({ share: SHARE }, ctx()))._unsafeUnwrapErr();
    expect(e.message).toContain("root helper");
    expect(host.calls("mount")).toHaveLength(1);
  });

  it("lists every version's reason when the export does not exist", async () => {
    const host = new FakeNfsHost();
    host.mountReplies = [mountFails(fx("mount-no-export.stderr"))];
    const e = (await manager(host, { mountAttempts: 3 }).acquire({ share: "127.0.0.1:/srv/nfs/nope" }, ctx()))._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(e.transient).toBe(false);
    expect(host.calls("mount")).toHaveLength(4); // 4.2, 4.1, 4, 3 once each; not retried
    expect(e.details.failures).toHaveLength(4);
  });

  it("uses the root helper only for mkdir, mount and umount", async () => {
    const host = new FakeNfsHost();
    const m = manager(host, { rootHelper: ["sudo", "-n"] });
    (await m.acquire({ share: SHARE }, ctx()))._unsafeUnwrap();
    (await m.probe(SHARE, ctx()))._unsafeUnwrap();
    (await m.release(SHARE, ctx()))._unsafeUnwrap();
    // The helper is normalized to its absolute path; the environment follows it (sudo resets its own).
    const privileged = host.runner.commands().filter((a) => a[0] === "/usr/bin/sudo");
    expect(new Set(privileged.map((a) => a.slice(0, 4).join(" ")))).toEqual(new Set(["/usr/bin/sudo -n env LC_ALL=C"]));
    const plain = host.runner.commands().filter((a) => a[0] !== "/usr/bin/sudo").map((a) => a[0]);
    expect(new Set(privileged.map((a) => a[4]))).toEqual(new Set(["mkdir", "mount", "umount"]));
    expect(new Set(plain)).toEqual(new Set(["realpath", "findmnt", "stat"]));
  });

  it("refuses invalid shares and smuggled options before running anything", async () => {
    const host = new FakeNfsHost();
    const m = manager(host);
    for (const spec of [{ share: "-oexec:/x" }, { share: "h:/x y" }, { share: SHARE, options: "vers=3,exec" }, { share: SHARE, options: "ro -o" }]) {
      expect((await m.acquire(spec, ctx()))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    }
    expect(host.runner.calls).toEqual([]);
  });

  it("refuses a mount point base that is not canonical", async () => {
    const host = new FakeNfsHost();
    host.realpath = () => "/srv/real/mnt";
    const e = (await manager(host).acquire({ share: SHARE }, ctx()))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_CONFIG");
    expect(host.calls("mount")).toEqual([]);
  });

  it("refuses a mount point holding another filesystem", async () => {
    const host = new FakeNfsHost();
    host.mounts.push({ target: MP, source: "tmpfs", fstype: "tmpfs", options: "rw" });
    const e = (await manager(host).acquire({ share: SHARE }, ctx()))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_STATE");
    expect(host.calls("mount")).toEqual([]);
  });
});

describe("NfsMountManager: reference counts", () => {
  it("mounts once for two users and unmounts after the last release", async () => {
    const host = new FakeNfsHost();
    const m = manager(host);
    const [a, b] = await Promise.all([m.acquire({ share: SHARE }, ctx()), m.acquire({ share: SHARE }, ctx())]);
    expect(a._unsafeUnwrap().references + b._unsafeUnwrap().references).toBe(3); // 1 and 2
    expect(host.calls("mount")).toHaveLength(1);
    expect(m.references(SHARE)).toBe(2);
    const first = (await m.release(SHARE, ctx()))._unsafeUnwrap();
    expect(first).toMatchObject({ unmounted: false, references: 1, stillMountedReason: "still used by 1 other user(s)" });
    expect(host.calls("umount")).toEqual([]);
    const last = (await m.release(SHARE, ctx()))._unsafeUnwrap();
    expect(last).toMatchObject({ unmounted: true, references: 0, unmountMode: "normal" });
    expect(host.calls("umount")).toEqual([["umount", "-c", MP]]);
    expect(host.isMounted(MP)).toBe(false);
    // Releasing again is harmless.
    expect((await m.release(SHARE, ctx()))._unsafeUnwrap()).toMatchObject({ unmounted: false, references: 0 });
  });

  it("reuses a mount made by someone else and never unmounts it", async () => {
    const host = new FakeNfsHost();
    host.mounts.push({ target: MP, source: SHARE, fstype: "nfs4", options: "rw,vers=4.2" });
    const m = manager(host);
    const lease = (await m.acquire({ share: SHARE }, ctx()))._unsafeUnwrap();
    expect(lease.mountedByManager).toBe(false);
    const r = (await m.release(SHARE, ctx()))._unsafeUnwrap();
    expect(r).toMatchObject({ unmounted: false, stillMountedReason: "mounted outside this manager; left as found" });
    expect(host.calls("mount")).toEqual([]);
    expect(host.calls("umount")).toEqual([]);
  });

  it("keeps a busy mount and reports why", async () => {
    const host = new FakeNfsHost();
    const m = manager(host);
    (await m.acquire({ share: SHARE }, ctx()))._unsafeUnwrap();
    host.umount = { exitCode: 32, stderr: fx("umount-busy.stderr") };
    const r = (await m.release(SHARE, ctx()))._unsafeUnwrap();
    expect(r).toMatchObject({ unmounted: false, references: 0 });
    expect(r.stillMountedReason).toContain("busy");
    // A retried release tries the unmount again.
    expect((await m.release(SHARE, ctx()))._unsafeUnwrap().unmounted).toBe(false);
    expect(host.calls("umount")).toHaveLength(2);
    // Acquired again, it is reused (still ours) and unmounted once it is free.
    host.umount = undefined;
    expect((await m.acquire({ share: SHARE }, ctx()))._unsafeUnwrap().mountedByManager).toBe(true);
    expect((await m.release(SHARE, ctx()))._unsafeUnwrap().unmounted).toBe(true);
    expect(host.calls("mount")).toHaveLength(1);
  });

  it("detaches lazily when umount hangs on a dead server", async () => {
    const host = new FakeNfsHost();
    const m = manager(host, { commandTimeoutMs: 100 });
    (await m.acquire({ share: SHARE }, ctx()))._unsafeUnwrap();
    host.umount = { delayMs: 60_000 };
    const r = (await m.release(SHARE, ctx()))._unsafeUnwrap();
    expect(r).toMatchObject({ unmounted: true, unmountMode: "lazy" });
    expect(host.calls("umount")).toEqual([["umount", "-c", MP], ["umount", "-l", "-c", MP]]);
  });
});

describe("NfsMountManager: health probes", () => {
  it("returns the capacity from a bounded statfs", async () => {
    const host = new FakeNfsHost();
    host.statfs = { stdout: fx("statfs-tmpfs.txt") };
    const m = manager(host);
    (await m.acquire({ share: SHARE }, ctx()))._unsafeUnwrap();
    const s = (await m.probe(SHARE, ctx()))._unsafeUnwrap();
    expect(s).toMatchObject({ share: SHARE, mountPoint: MP, blockSize: 4096, totalBytes: 1073741824, remounted: false });
    expect(host.runner.calls.find((c) => c.argv[0] === "stat")?.timeoutMs).toBe(15_000);
  });

  it("replaces a stale mount: lazy unmount, then mount again", async () => {
    const host = new FakeNfsHost();
    host.mounts.push({ target: MP, source: SHARE, fstype: "nfs4", options: "rw" });
    host.statfs = { exitCode: 1, stderr: fx("statfs-stale-v3.stderr") };
    const m = manager(host);
    const acquired = m.acquire({ share: SHARE }, ctx());
    // The first statfs sees the stale handle; after the remount the share answers again.
    setTimeout(() => (host.statfs = { stdout: "4096 100 50\n" }), 0);
    const lease = (await acquired)._unsafeUnwrap();
    expect(lease.mountedByManager).toBe(true);
    expect(host.calls("umount")).toEqual([["umount", "-l", "-c", MP]]);
    expect(host.calls("mount")).toHaveLength(1);
  });

  it("probing a stale held share remounts it", async () => {
    const host = new FakeNfsHost();
    const m = manager(host);
    (await m.acquire({ share: SHARE }, ctx()))._unsafeUnwrap();
    let stale = true;
    host.runner.once(["stat", "-f"], () => (stale ? ((stale = false), { exitCode: 1, stderr: fx("statfs-stale-v3.stderr") }) : { stdout: "4096 1 1\n" }));
    const s = (await m.probe(SHARE, ctx()))._unsafeUnwrap();
    expect(s.remounted).toBe(true);
    expect(host.calls("mount")).toHaveLength(2);
  });

  it("a share that stops answering fails the probe with BACKEND_UNAVAILABLE within probeTimeoutMs", async () => {
    const host = new FakeNfsHost();
    const m = manager(host, { probeTimeoutMs: 150 });
    (await m.acquire({ share: SHARE }, ctx()))._unsafeUnwrap();
    host.statfs = { delayMs: 60_000 };
    const started = performance.now();
    const e = (await m.probe(SHARE, ctx()))._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(e.details.hung).toBe(true);
    expect(performance.now() - started).toBeLessThan(1500);
    // Nothing was unmounted: a hung hard mount may come back.
    expect(host.calls("umount")).toEqual([]);
  });

  it("a withdrawn export (permission denied) is BACKEND_UNAVAILABLE and is not remounted", async () => {
    const host = new FakeNfsHost();
    const m = manager(host);
    (await m.acquire({ share: SHARE }, ctx()))._unsafeUnwrap();
    host.statfs = { exitCode: 1, stderr: fx("statfs-unexported.stderr") };
    const e = (await m.probe(SHARE, ctx()))._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(e.message).toContain("Permission denied");
    expect(host.calls("mount")).toHaveLength(1);
  });

  it("mounts again a held share that vanished from the kernel table", async () => {
    const host = new FakeNfsHost();
    const m = manager(host);
    (await m.acquire({ share: SHARE }, ctx()))._unsafeUnwrap();
    host.mounts.splice(host.mounts.findIndex((x) => x.target === MP), 1);
    expect((await m.probe(SHARE, ctx()))._unsafeUnwrap().remounted).toBe(true);
    expect(host.calls("mount")).toHaveLength(2);
  });

  it("refuses to probe a share nobody acquired (statfs would read the local directory)", async () => {
    const host = new FakeNfsHost();
    expect((await manager(host).probe(SHARE, ctx()))._unsafeUnwrapErr().code).toBe("INVALID_STATE");
    expect(host.runner.calls).toEqual([]);
  });
});
