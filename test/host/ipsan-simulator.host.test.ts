/**
 * The IP-SAN client against the array simulator with its REAL iSCSI data plane (a private tgtd):
 *
 *   sudo npx vitest run --project host test/host/ipsan-simulator.host.test.ts
 *
 * Everything is made through the client over HTTPS (LUN, host, initiator with CHAP, host/LUN
 * groups, mapping view), then the LUN is written and read by real initiators: qemu-img/qemu-io over
 * `iscsi://` (CHAP from a 0600 secret file) and libiscsi's tools (CHAP from the environment), never
 * with a secret in argv. Snapshots, LUN copies and rollbacks are checked by sha256 through the
 * target. Needs root and: tgt, libiscsi-bin, qemu-utils, qemu-block-extra, openssl.
 */
import { execFile, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOperationContext } from "../../src/core/context.js";
import { createIpsanClient, type IpsanClient } from "../../src/drivers/ipsan/ipsan-client.js";
import type { IscsiPortal } from "../../src/drivers/ipsan/ipsan-port-api.js";
import { startArraySimulator, type ArraySimulator } from "../../src/testing/array-simulator/index.js";

const run = promisify(execFile);
const TOOLS = ["tgtd", "tgtadm", "iscsi-inq", "iscsi-readcapacity16", "qemu-img", "qemu-io", "openssl"];
const MiB = 1024 * 1024;
const LUN_BYTES = 64 * MiB;
const DATA_BYTES = 16 * MiB;
const INITIATOR = `iqn.2024-01.org.volkit:ipsan-host-${process.pid}`;
const CHAP = { name: "volkit-ipsan", password: randomBytes(9).toString("base64url").slice(0, 14) };

function missingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (tgtd)";
  const PATH = `${process.env.PATH ?? ""}:/usr/sbin:/sbin`;
  const missing = TOOLS.filter((t) => spawnSync("sh", ["-c", 'command -v "$1"', "sh", t], { env: { ...process.env, PATH } }).status !== 0);
  return missing.length ? `missing tools: ${missing.join(", ")} (apt-get install -y tgt libiscsi-bin qemu-utils qemu-block-extra openssl)` : undefined;
}

// Missing prerequisites fail the suite (never a silent skip): `npm test` installs them as root.
const missing = missingPrerequisite();

/** Runs a tool; failures come back as values (no command line or environment in messages). */
async function tool(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 * MiB });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; code?: number };
    return { stdout: x.stdout ?? "", stderr: x.stderr ?? "", code: typeof x.code === "number" ? x.code : -1 };
  }
}

const sha256 = (buf: Buffer): string => createHash("sha256").update(buf).digest("hex");
const ctx = () => createOperationContext({ operation: "host-test", source: "ipsan-test", deadline: Date.now() + 60_000 });

describe("IP-SAN client + array simulator with a real tgtd data plane", () => {
  it("has its prerequisites (root, tgt, libiscsi-bin, qemu-utils, qemu-block-extra, openssl)", () => {
    expect(missing).toBeUndefined();
  });

  let sim: ArraySimulator;
  let client: IpsanClient;
  let dir = "";
  let secretFile = "";
  let portals: IscsiPortal[] = [];
  let hostId = "";
  let lunGroupId = "";
  let lunId = "";
  let hostLunId = 0;

  const chapEnv = (password = CHAP.password): Record<string, string> => ({ LIBISCSI_CHAP_USERNAME: CHAP.name, LIBISCSI_CHAP_PASSWORD: password });
  const url = (portal: IscsiPortal, lun: number): string => `iscsi://${portal.portal}/${portal.iqn}/${lun}`;
  const imageOpts = (portal: IscsiPortal, lun: number): string[] => [
    "--object", `secret,id=sec0,file=${secretFile}`,
    "--image-opts", `driver=iscsi,transport=tcp,portal=${portal.portal},target=${portal.iqn},lun=${lun},user=${CHAP.name},password-secret=sec0,initiator-name=${INITIATOR}`,
  ];
  /** Writes `file` to the LUN over iSCSI. */
  const writeLun = async (portal: IscsiPortal, lun: number, file: string): Promise<void> => {
    const opts = imageOpts(portal, lun);
    const w = await tool("qemu-img", ["convert", "-n", "--object", opts[1] ?? "", "-f", "raw", file, "--target-image-opts", opts[3] ?? ""]);
    expect(w.stderr).toBe("");
    expect(w.code).toBe(0);
  };
  /** Reads the first `bytes` of the LUN over iSCSI. */
  const readLun = async (portal: IscsiPortal, lun: number, bytes = DATA_BYTES): Promise<Buffer> => {
    const out = join(dir, `read-${randomBytes(4).toString("hex")}.raw`);
    const r = await tool("qemu-img", ["convert", ...imageOpts(portal, lun), "-O", "raw", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const data = readFileSync(out).subarray(0, bytes);
    rmSync(out, { force: true });
    return data;
  };
  const mapLun = async (id: string): Promise<number> => {
    (await client.lunGroups.add(lunGroupId, id, "lun", ctx()))._unsafeUnwrap();
    const n = (await client.mappingViews.hostLunId(hostId, id, ctx()))._unsafeUnwrap();
    expect(n).toBeGreaterThanOrEqual(1);
    return n ?? 0;
  };

  beforeAll(async () => {
    if (missing) return;
    dir = mkdtempSync(join(tmpdir(), "volkit-ipsan-host-"));
    secretFile = join(dir, "chap.secret");
    writeFileSync(secretFile, CHAP.password, { mode: 0o600 });
    sim = await startArraySimulator({ protocol: "https", copyDurationMs: 100 });
    client = (await createIpsanClient(sim.connection()))._unsafeUnwrap();
  });

  afterAll(async () => {
    const controlPort = sim?.iscsi.controlPort();
    const simDir = sim?.dir;
    if (client) void (await client.close(ctx()));
    await sim?.stop();
    if (controlPort !== undefined) {
      expect(existsSync(`/var/run/tgtd/socket.${controlPort}`)).toBe(false);
      expect((await tool("tgtadm", ["-C", String(controlPort), "--op", "show", "--mode", "sys"])).code).not.toBe(0);
    }
    if (simDir) expect(existsSync(simDir)).toBe(false);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("maps a new LUN to a host with CHAP through the REST API; tgtd serves it on both portals", async () => {
    const c = ctx();
    const pool = (await client.pools.findByName("StoragePool001", c))._unsafeUnwrap();
    expect(pool).toBeDefined();
    lunId = (await client.luns.create({ name: "host-lun-1", poolId: pool?.id ?? "", capacitySectors: LUN_BYTES / 512, allocType: "thin" }, c))._unsafeUnwrap().value.id;
    hostId = (await client.hosts.create({ name: "ipsan-host-1" }, c))._unsafeUnwrap().value.id;
    (await client.initiators.add(INITIATOR, c))._unsafeUnwrap();
    (await client.initiators.addToHost(INITIATOR, hostId, c, { chap: CHAP }))._unsafeUnwrap();
    const hostGroup = (await client.hostGroups.create(`OpenStack_HostGroup_${hostId}`, c))._unsafeUnwrap().value;
    (await client.hostGroups.addHost(hostGroup.id, hostId, c))._unsafeUnwrap();
    lunGroupId = (await client.lunGroups.create(`OpenStack_LunGroup_${hostId}`, c))._unsafeUnwrap().value.id;
    const view = (await client.mappingViews.create(`OpenStack_Mapping_View_${hostId}`, c))._unsafeUnwrap().value;
    (await client.mappingViews.associate(view.id, { hostGroupId: hostGroup.id }, c))._unsafeUnwrap();
    (await client.mappingViews.associate(view.id, { lunGroupId }, c))._unsafeUnwrap();
    hostLunId = await mapLun(lunId);
    portals = (await client.ports.portals(c))._unsafeUnwrap();
    expect(portals.map((p) => p.portal)).toEqual(sim.iscsi.portals);
    for (const portal of portals) {
      const cap = await tool("iscsi-readcapacity16", ["-i", INITIATOR, url(portal, hostLunId)], chapEnv());
      expect(cap.code).toBe(0);
      expect(cap.stdout).toContain(`Total size:${LUN_BYTES}`);
    }
  });

  it("both portals present the same SCSI identity (the LUN's WWN), so multipath sees one device", async () => {
    const wwn = (await client.luns.get(lunId, ctx()))._unsafeUnwrap().wwn;
    const ids = [];
    for (const portal of portals) {
      const vpd = await tool("iscsi-inq", ["-i", INITIATOR, "-e", "1", "-c", "131", url(portal, hostLunId)], chapEnv());
      expect(vpd.code).toBe(0);
      ids.push(vpd.stdout);
    }
    expect(ids[0]).toContain(wwn);
    expect(ids[1]).toBe(ids[0]);
  });

  it("writes random data through the target with qemu-img and reads the same bytes back (and in the LUN file)", async () => {
    const src = join(dir, "data.raw");
    const data = randomBytes(DATA_BYTES);
    writeFileSync(src, data);
    const [first, second] = portals;
    if (!first || !second) throw new Error("two portals expected");
    await writeLun(first, hostLunId, src);
    expect(sha256(await readLun(second, hostLunId))).toBe(sha256(data));
    const file = sim.snapshot().luns.find((l) => l.id === lunId)?.file ?? "";
    expect(sha256(readFileSync(file).subarray(0, DATA_BYTES))).toBe(sha256(data));
  });

  it("refuses a wrong CHAP secret and an initiator the array does not know", async () => {
    const portal = portals[0];
    if (!portal) throw new Error("no portal");
    const wrong = await tool("iscsi-inq", ["-i", INITIATOR, url(portal, hostLunId)], chapEnv("Wrong-Secret-99"));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/Authentication failure/);
    const stranger = await tool("iscsi-inq", ["-i", "iqn.2024-01.org.volkit:stranger", url(portal, hostLunId)], chapEnv());
    expect(stranger.code).not.toBe(0);
    const right = await tool("iscsi-inq", ["-i", INITIATOR, url(portal, hostLunId)], chapEnv());
    expect(right.code).toBe(0);
  });

  it("snapshot and LUN copy preserve the data; rollback brings it back through the target", async () => {
    const c = ctx();
    const portal = portals[0];
    if (!portal) throw new Error("no portal");
    const original = await readLun(portal, hostLunId);
    const snap = (await client.snapshots.create({ name: "host-snap-1", lunId }, c))._unsafeUnwrap().value;
    (await client.snapshots.activate([snap.id], c))._unsafeUnwrap();
    // Overwrite the LUN through iSCSI after the snapshot.
    const changedFile = join(dir, "changed.raw");
    const changed = randomBytes(DATA_BYTES);
    writeFileSync(changedFile, changed);
    await writeLun(portal, hostLunId, changedFile);
    expect(sha256(await readLun(portal, hostLunId))).toBe(sha256(changed));
    // A LUN copy of the snapshot into a new (bigger) LUN holds the original bytes.
    const copyLun = (await client.luns.create({ name: "host-lun-copy", poolId: "0", capacitySectors: (2 * LUN_BYTES) / 512, allocType: "thin" }, c))._unsafeUnwrap().value;
    (await client.luns.waitReady(copyLun.id, 10_000, c))._unsafeUnwrap();
    const copyId = (await client.lunCopies.create({ name: "host-copy-1", sourceId: snap.id, targetId: copyLun.id, speed: "high" }, c))._unsafeUnwrap();
    (await client.lunCopies.start(copyId, c))._unsafeUnwrap();
    (await client.lunCopies.waitComplete(copyId, 30_000, c))._unsafeUnwrap();
    (await client.lunCopies.delete(copyId, c))._unsafeUnwrap();
    const copyHostLun = await mapLun(copyLun.id);
    expect(sha256(await readLun(portal, copyHostLun))).toBe(sha256(original));
    const cap = await tool("iscsi-readcapacity16", ["-i", INITIATOR, url(portal, copyHostLun)], chapEnv());
    expect(cap.stdout).toContain(`Total size:${2 * LUN_BYTES}`);
    // Rollback while mapped: the target serves the snapshot's bytes again.
    (await client.snapshots.rollback(snap.id, "highest", c))._unsafeUnwrap();
    (await client.snapshots.waitRollback(snap.id, 30_000, c))._unsafeUnwrap();
    expect(sha256(await readLun(portal, hostLunId))).toBe(sha256(original));
    (await client.snapshots.stop(snap.id, c))._unsafeUnwrap();
    (await client.snapshots.delete(snap.id, c))._unsafeUnwrap();
  });

  it("an expanded LUN shows its new size through the target", async () => {
    const portal = portals[0];
    if (!portal) throw new Error("no portal");
    (await client.luns.expand(lunId, (2 * LUN_BYTES) / 512, ctx()))._unsafeUnwrap();
    const cap = await tool("iscsi-readcapacity16", ["-i", INITIATOR, url(portal, hostLunId)], chapEnv());
    expect(cap.code).toBe(0);
    expect(cap.stdout).toContain(`Total size:${2 * LUN_BYTES}`);
  });

  it("one portal down: logins there fail, the other portal still serves; back up it serves again", async () => {
    const [first, second] = portals;
    if (!first || !second) throw new Error("two portals expected");
    await sim.faults.portalDown(1);
    expect((await tool("iscsi-inq", ["-i", INITIATOR, url(second, hostLunId)], chapEnv())).code).not.toBe(0);
    expect((await tool("iscsi-inq", ["-i", INITIATOR, url(first, hostLunId)], chapEnv())).code).toBe(0);
    expect((await client.ports.portals(ctx()))._unsafeUnwrap().map((p) => p.portal)).toEqual([first.portal]);
    await sim.faults.portalUp(1);
    expect((await tool("iscsi-inq", ["-i", INITIATOR, url(second, hostLunId)], chapEnv())).code).toBe(0);
  });

  it("an unmapped LUN is no longer served", async () => {
    const portal = portals[0];
    if (!portal) throw new Error("no portal");
    (await client.lunGroups.remove(lunGroupId, lunId, "lun", ctx()))._unsafeUnwrap();
    expect((await client.mappingViews.hostLunId(hostId, lunId, ctx()))._unsafeUnwrap()).toBeUndefined();
    const cap = await tool("iscsi-readcapacity16", ["-i", INITIATOR, url(portal, hostLunId)], chapEnv());
    expect(cap.code).not.toBe(0);
  });

  it("an unreachable array is BACKEND_UNAVAILABLE within the deadline (refused and hanging controllers)", async () => {
    for (const mode of ["refuse", "hang"] as const) {
      await sim.faults.unreachable(mode);
      const started = Date.now();
      const c = createOperationContext({ operation: "host-test", source: "ipsan-test", deadline: Date.now() + 3_000 });
      const error = (await client.luns.get(lunId, c))._unsafeUnwrapErr();
      expect(error.code).toBe("BACKEND_UNAVAILABLE");
      expect(Date.now() - started).toBeLessThan(3_000);
      await sim.faults.reachable();
    }
    expect((await client.luns.get(lunId, ctx()))._unsafeUnwrap().id).toBe(lunId);
  });
});

describe("array simulator data plane under 32 hosts mapping at once", () => {
  it("gives every host its LUN under a distinct host LUN id, exported on both port targets", async () => {
    expect(missing).toBeUndefined();
    const sim = await startArraySimulator({ protocol: "http" });
    try {
      const client = (await createIpsanClient({ ...sim.connection(), maxConcurrentRequests: 32 }))._unsafeUnwrap();
      const HOSTS = 32;
      // Each host runs Cinder's initialize_connection sequence on its own, all at once.
      const mapped = await Promise.all(
        Array.from({ length: HOSTS }, async (_v, i) => {
          const c = ctx();
          const iqn = `iqn.2024-01.org.volkit:many-${i}`;
          const lun = (await client.luns.create({ name: `many-lun-${i}`, poolId: "0", capacitySectors: 2048 * (i + 1), allocType: "thin" }, c))._unsafeUnwrap().value;
          const host = (await client.hosts.create({ name: `many-host-${i}` }, c))._unsafeUnwrap().value;
          (await client.initiators.add(iqn, c))._unsafeUnwrap();
          (await client.initiators.addToHost(iqn, host.id, c, { chap: { name: `many-user-${i}`, password: `Many-Secret-${String(i).padStart(2, "0")}` } }))._unsafeUnwrap();
          const hg = (await client.hostGroups.create(`OpenStack_HostGroup_${host.id}`, c))._unsafeUnwrap().value;
          (await client.hostGroups.addHost(hg.id, host.id, c))._unsafeUnwrap();
          const lg = (await client.lunGroups.create(`OpenStack_LunGroup_${host.id}`, c))._unsafeUnwrap().value;
          (await client.lunGroups.add(lg.id, lun.id, "lun", c))._unsafeUnwrap();
          const view = (await client.mappingViews.create(`OpenStack_Mapping_View_${host.id}`, c))._unsafeUnwrap().value;
          (await client.mappingViews.associate(view.id, { hostGroupId: hg.id }, c))._unsafeUnwrap();
          (await client.mappingViews.associate(view.id, { lunGroupId: lg.id }, c))._unsafeUnwrap();
          const hostLun = (await client.mappingViews.hostLunId(host.id, lun.id, c))._unsafeUnwrap();
          return { i, iqn, hostLun: hostLun ?? 0, bytes: 2048 * (i + 1) * 512 };
        }),
      );
      expect(new Set(mapped.map((m) => m.hostLun)).size).toBe(HOSTS);
      expect(mapped.every((m) => m.hostLun >= 1)).toBe(true);
      const show = await tool("tgtadm", ["-C", String(sim.iscsi.controlPort()), "--lld", "iscsi", "--op", "show", "--mode", "target"]);
      for (const target of show.stdout.split(/^Target \d+: /m).slice(1)) {
        expect(target.match(/Backing store type: rdwr/g)).toHaveLength(HOSTS);
        expect(target.match(/iqn\.2024-01\.org\.volkit:many-/g)).toHaveLength(HOSTS);
      }
      // A few hosts read their own LUN's size through the target with their own CHAP.
      const portal = sim.iscsi.targets[1];
      for (const m of [mapped[0], mapped[17], mapped[31]]) {
        if (!m || !portal) throw new Error("missing mapping");
        const cap = await tool("iscsi-readcapacity16", ["-i", m.iqn, `iscsi://${portal.portal}/${portal.iqn}/${m.hostLun}`], {
          LIBISCSI_CHAP_USERNAME: `many-user-${m.i}`,
          LIBISCSI_CHAP_PASSWORD: `Many-Secret-${String(m.i).padStart(2, "0")}`,
        });
        expect(cap.code).toBe(0);
        expect(cap.stdout).toContain(`Total size:${m.bytes}`);
      }
      void (await client.close(ctx()));
    } finally {
      await sim.stop();
    }
  });
});
