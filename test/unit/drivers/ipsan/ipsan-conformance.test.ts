/**
 * The volkit driver conformance suite on the IP-SAN driver against the in-process array simulator,
 * with data checks on the LUN files the simulator's tgtd would serve (the host project runs the
 * same suite through the iSCSI target). Two setups: full copies by LUN copy (the default), and
 * linked clones within maxCloneDepth 3 on an array with clone pairs.
 */
import { afterAll } from "vitest";
import { wrapDriver } from "../../../../src/drivers/backend.js";
import { createIpsanDriver } from "../../../../src/drivers/ipsan/index.js";
import type { ArraySimulator } from "../../../../src/testing/array-simulator/index.js";
import { describeVolumeDriverConformance, type ConformanceIo } from "../../../../src/testing/conformance.js";
import { unitSimulator } from "./helpers.js";
import { readVolume, writeVolume } from "./ipsan-driver-helpers.js";

const sims: Promise<ArraySimulator>[] = [];
afterAll(async () => {
  for (const s of sims) await (await s).stop();
});

function suite(name: string, simOptions: Parameters<typeof unitSimulator>[0], config: Record<string, unknown>): void {
  let started: Promise<ArraySimulator> | undefined;
  const sim = (): Promise<ArraySimulator> => {
    started ??= unitSimulator(simOptions);
    if (!sims.includes(started)) sims.push(started);
    return started;
  };
  const io: ConformanceIo = {
    write: async (volume, data) => writeVolume(await sim(), volume, data),
    read: async (volume, bytes) => readVolume(await sim(), volume, bytes),
  };
  describeVolumeDriverConformance({
    name,
    create: async () => {
      const s = await sim();
      const driver = (await createIpsanDriver({ driver: "ipsan", ...s.connection(), storagePools: ["StoragePool001"], ...config }))._unsafeUnwrap();
      return wrapDriver(driver, { name: "ipsan-conformance" });
    },
    io,
    ioBytes: 256 * 1024,
    timeoutMs: 60_000,
  });
}

suite("IP-SAN on the array simulator (LUN copies)", { copyDurationMs: 20 }, {});
suite("IP-SAN on the array simulator (linked clones, clone pairs)", { copyDurationMs: 20, productVersion: "V600R003C00" }, { maxCloneDepth: 3, lunType: "thick" });
