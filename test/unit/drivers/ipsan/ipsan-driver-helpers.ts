import { createHash, randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import type { Volume } from "../../../../src/core/records.js";
import { wrapDriver, type VolumeBackend } from "../../../../src/drivers/backend.js";
import type { IpsanConfig } from "../../../../src/drivers/ipsan/ipsan-config.js";
import type { IpsanDriver } from "../../../../src/drivers/ipsan/ipsan-driver.js";
import type { IpsanFactoryDeps } from "../../../../src/drivers/ipsan/ipsan-factory.js";
import { createIpsanDriver } from "../../../../src/drivers/ipsan/index.js";
import type { ArraySimulator } from "../../../../src/testing/array-simulator/index.js";

/** The IP-SAN driver on `sim` (fast retries), wrapped in the runtime like a caller holds it. */
export async function ipsanOn(sim: ArraySimulator, overrides: Partial<IpsanConfig> = {}, deps: IpsanFactoryDeps = {}): Promise<{ driver: IpsanDriver; backend: VolumeBackend }> {
  const config: IpsanConfig = { driver: "ipsan", ...sim.connection(), retries: 1, storagePools: ["StoragePool001"], lunReadyTimeoutMs: 10_000, copyTimeoutMs: 30_000, ...overrides };
  const driver = (await createIpsanDriver(config, deps))._unsafeUnwrap();
  return { driver, backend: wrapDriver(driver) };
}

/** The backing file of a volume's LUN in the simulator. */
export function lunFileOf(sim: ArraySimulator, volume: Pick<Volume, "providerId">): string {
  const lun = sim.snapshot().luns.find((l) => l.id === volume.providerId);
  if (!lun) throw new Error(`no LUN ${volume.providerId ?? "?"} in the simulator`);
  return lun.file;
}

/** Writes `data` at offset 0 of a volume's LUN file (what a host would write through the target). */
export async function writeVolume(sim: ArraySimulator, volume: Pick<Volume, "providerId">, data: Buffer): Promise<void> {
  const handle = await open(lunFileOf(sim, volume), "r+");
  try {
    await handle.write(data, 0, data.length, 0);
  } finally {
    await handle.close();
  }
}

/** Reads the first `bytes` of a volume's LUN file. */
export async function readVolume(sim: ArraySimulator, volume: Pick<Volume, "providerId">, bytes: number): Promise<Buffer> {
  const handle = await open(lunFileOf(sim, volume), "r");
  try {
    const out = Buffer.alloc(bytes);
    await handle.read(out, 0, bytes, 0);
    return out;
  } finally {
    await handle.close();
  }
}

/** sha256 hex. */
export const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** Random bytes. */
export const noise = (bytes: number): Buffer => randomBytes(bytes);

/** Counts of every kind of array object, for "nothing duplicated or orphaned" checks. */
export function objectCounts(sim: ArraySimulator): Record<string, number> {
  const s = sim.snapshot();
  return {
    luns: s.luns.length,
    snapshots: s.snapshots.length,
    lunCopies: s.lunCopies.length,
    clonePairs: s.clonePairs.length,
    hosts: s.hosts.length,
    hostGroups: s.hostGroups.length,
    lunGroups: s.lunGroups.length,
    portGroups: s.portGroups.length,
    views: s.views.length,
    initiators: s.initiators.length,
    qos: s.qos.length,
  };
}

/**
 * Problems of the array's state that a converged driver must never leave: QoS policies without
 * LUNs, LUNs pointing at missing policies, LUN groups or views of hosts that do not exist, views
 * without their groups, hosts in no view.
 */
export function orphans(sim: ArraySimulator): string[] {
  const s = sim.snapshot();
  const out: string[] = [];
  for (const q of s.qos) if (q.lunIds.length === 0) out.push(`empty QoS policy ${q.name}`);
  for (const l of s.luns) if (l.qosId !== "" && !s.qos.some((q) => q.id === l.qosId)) out.push(`LUN ${l.name} in missing QoS policy ${l.qosId}`);
  for (const l of s.luns) if (/:copying/.test(l.description)) out.push(`half-made LUN ${l.name}`);
  for (const g of [...s.lunGroups, ...s.hostGroups, ...s.portGroups]) {
    const hostId = /_(\d+)$/.exec(g.name)?.[1];
    if (hostId !== undefined && !s.hosts.some((h) => h.id === hostId)) out.push(`group ${g.name} of a missing host`);
  }
  for (const v of s.views) if (v.hostGroupId === "" || v.lunGroupId === "") out.push(`incomplete view ${v.name}`);
  for (const g of s.lunGroups) if ((s.lunGroupMembers[g.id] ?? []).length === 0) out.push(`empty LUN group ${g.name}`);
  for (const h of s.hosts) if (!s.views.some((v) => (s.hostGroupHosts[v.hostGroupId] ?? []).includes(h.id))) out.push(`host ${h.name} in no view`);
  // A free initiator is not flagged: it grants nothing, Cinder leaves one after every unmap, and the
  // next mapping of that host takes it back (volkit deletes the ones it frees, but a crash between
  // the two calls can leave one).
  for (const c of s.lunCopies) out.push(`LUN copy task ${c.name}`);
  for (const p of s.clonePairs) out.push(`clone pair ${p.id}`);
  for (const snap of s.snapshots) if (snap.description === "volkit-clone-source") out.push(`temporary clone snapshot ${snap.name}`);
  return out;
}
