/**
 * An orchestrator using volkit's LVM driver: create a volume, snapshot it, clone it, attach the
 * clone on this host over iSCSI (multipath through LIO) with its libvirt `<disk>` XML, detach,
 * clean up. The library owns the attach and detach flows: export, connection, login, map and XML
 * are one call, and so is the way back.
 *
 * Run it where lvm2, LIO and open-iscsi exist, e.g. inside the storage lab:
 *   npx tsx lab/run.ts -- npx tsx examples/orchestrator-lvm.ts
 * Environment: VOLKIT_VG (default: the lab's thin VG), VOLKIT_PORTALS (comma-separated).
 */
import { randomUUID } from "node:crypto";
import { attachVolume, createBackend, createHost, detachVolume, type VolkitError } from "../src/index.js";

const vg = process.env.VOLKIT_VG ?? process.env.VOLKIT_LAB_VG_THIN ?? "cinder-volumes";
const portals = (process.env.VOLKIT_PORTALS ?? process.env.VOLKIT_LAB_PORTALS ?? "127.0.0.1").split(",").map((p) => (p.includes(":") ? p : `${p}:3260`));

async function main(): Promise<number> {
  const created = await createBackend({ driver: "lvm", volumeGroup: vg, lvmType: "auto", target: { helper: "lio", portals, chap: true } });
  if (created.isErr()) return fail(created.error);
  const backend = created.value;
  backend.events.on((e) => {
    if (e.type === "operation:end") console.log(`  ${e.operation} ${e.ok ? "ok" : e.errorCode} in ${e.durationMs} ms [${e.phases.map((p) => `${p.name} ${p.durationMs}`).join(", ")}]`);
  });
  // This machine: multipath over every portal, never a single path.
  const host = createHost({ connectors: { iscsi: { multipath: portals.length > 1, enforceMultipath: portals.length > 1 } } });

  const volume = await backend.createVolume({ id: randomUUID(), sizeGiB: 1, displayName: "db-data" });
  if (volume.isErr()) return fail(volume.error);
  const snapshot = await backend.createSnapshot({ id: randomUUID(), volumeId: volume.value.id, volumeSizeGiB: volume.value.sizeGiB }, volume.value);
  if (snapshot.isErr()) return fail(snapshot.error);
  const clone = await backend.createClonedVolume({ id: randomUUID(), sizeGiB: 2 }, volume.value);
  if (clone.isErr()) return fail(clone.error);

  const attachment = await attachVolume(backend, clone.value, { host, disk: { target: { dev: "vdb", bus: "virtio" } }, deadline: Date.now() + 180_000 });
  if (attachment.isErr()) return fail(attachment.error);
  console.log(`attached ${attachment.value.device.path} (${attachment.value.device.paths.join(" + ")})`);
  console.log(attachment.value.xml);

  const detached = await detachVolume(attachment.value);
  if (detached.isErr()) return fail(detached.error);
  console.log(`detached: removed ${detached.value.disconnect.removed.join(", ")}; export removed: ${detached.value.exportRemoved}`);

  // Clean up in reverse order; each step is safe to retry.
  const cleanup = await backend
    .deleteVolume(attachment.value.volume)
    .andThen(() => backend.deleteSnapshot(snapshot.value))
    .andThen(() => backend.deleteVolume(volume.value));
  return cleanup.isOk() ? 0 : fail(cleanup.error);
}

function fail(error: VolkitError): number {
  console.error(`failed: ${error.code}: ${error.message}`); // secrets are redacted
  return 1;
}

process.exitCode = await main();
