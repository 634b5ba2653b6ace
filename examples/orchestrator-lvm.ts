/**
 * An orchestrator using volkit's LVM driver: create a volume, snapshot it, clone it, export the
 * clone over iSCSI and print the connection info a compute host needs.
 *
 * Run it where lvm2 and a target (LIO) exist, e.g. inside the storage lab:
 *   npx tsx lab/run.ts -- npx tsx examples/orchestrator-lvm.ts
 * Environment: VOLKIT_VG (default: the lab's thin VG), VOLKIT_PORTALS (comma-separated).
 */
import { randomUUID } from "node:crypto";
import { createDriver, type VolkitError } from "../src/index.js";

const vg = process.env.VOLKIT_VG ?? process.env.VOLKIT_LAB_VG_THIN ?? "cinder-volumes";
const portals = (process.env.VOLKIT_PORTALS ?? process.env.VOLKIT_LAB_PORTALS ?? "127.0.0.1").split(",").map((p) => (p.includes(":") ? p : `${p}:3260`));

async function main(): Promise<number> {
  const created = await createDriver({ driver: "lvm", volumeGroup: vg, lvmType: "auto", target: { helper: "lio", portals, chap: true } });
  if (created.isErr()) return fail(created.error);
  const backend = created.value;
  backend.events.on((e) => {
    if (e.type === "operation:end") console.log(`  ${e.operation} ${e.ok ? "ok" : e.errorCode} in ${e.durationMs} ms [${e.phases.map((p) => `${p.name} ${p.durationMs}`).join(", ")}]`);
  });

  const result = await backend
    .createVolume({ id: randomUUID(), sizeGiB: 1, displayName: "db-data" })
    .andThen((volume) =>
      backend.createSnapshot({ id: randomUUID(), volumeId: volume.id, volumeSizeGiB: volume.sizeGiB }, volume).andThen((snapshot) =>
        backend.createClonedVolume({ id: randomUUID(), sizeGiB: 2 }, volume).andThen((clone) =>
          backend.createExport(clone).andThen((update) => {
            const exported = { ...clone, ...update };
            return backend
              .initializeConnection(exported, { host: "compute-1", initiator: "iqn.2026-11.io.volkit:compute-1", multipath: true })
              .map((info) => ({ volume, snapshot, clone: exported, info }));
          }),
        ),
      ),
    );
  if (result.isErr()) return fail(result.error);
  const { volume, snapshot, clone, info } = result.value;
  // Never print secrets: show the connection info without the CHAP password.
  console.log(JSON.stringify({ ...info, ...(info.type === "iscsi" ? { authPassword: "***" } : {}) }, null, 2));

  // Clean up in reverse order; each step is safe to retry.
  const cleanup = await backend
    .terminateConnection(clone)
    .andThen(() => backend.removeExport(clone))
    .andThen(() => backend.deleteVolume(clone))
    .andThen(() => backend.deleteSnapshot(snapshot))
    .andThen(() => backend.deleteVolume(volume));
  return cleanup.isOk() ? 0 : fail(cleanup.error);
}

function fail(error: VolkitError): number {
  console.error(`failed: ${error.code}: ${error.message}`);
  return 1;
}

process.exitCode = await main();
