/** The LVM driver in the hostile-input suite: local, with tgt, with LIO. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CommandRunner } from "../../../../src/exec/runner.js";
import type { VolumeBackend } from "../../../../src/drivers/backend.js";
import { FakeRunner } from "../../../../src/testing/fake-runner.js";
import { FakeLio } from "../../targets/fake-lio.js";
import { FakeTgt } from "../../targets/fake-tgt.js";
import { HOSTILE_IQNS, HOSTILE_NAMES, HOSTILE_PATHS, HOSTILE_PORTALS, HOSTILE_TEXT, type Sinks } from "../hostile.js";
import { HOSTILE_ROOT_HELPERS, NUMBERS, route, type DriverCase, type DriverVariant } from "./driver-case.js";

const LVM_FIXTURES = join(import.meta.dirname, "../../../fixtures/lvm");
const lvmFixture = (name: string): string => readFileSync(join(LVM_FIXTURES, name), "utf8");

/** lvm2 from the captured plain-thick fixtures (`volume-aaaa`), every other command succeeding silently. */
function lvmTools(): FakeRunner {
  return new FakeRunner({ strict: false })
    .on(["vgs"], { stdout: lvmFixture("vgs-thick-plain.json") })
    .on(["lvs"], { stdout: lvmFixture("lvs-thick-plain.json") })
    .on(["hostname"], { stdout: "storage-1\n" });
}

const TGT_DIR = "/var/lib/volkit/tgt-volumes";
const LIO_SAVE = "/etc/rtslib-fb-target/saveconfig.json";

async function lvmBackend(config: Readonly<Record<string, unknown>>, runner: CommandRunner, sinks: Sinks): Promise<VolumeBackend> {
  const { createBackend } = await import("../../../../src/drivers/registry.js");
  return (await createBackend(config as { driver: "lvm" }, { runner, logger: sinks.logger, events: sinks.events }))._unsafeUnwrap();
}

const lvmLocal: DriverVariant = {
  label: "lvm without a target",
  config: { driver: "lvm", volumeGroup: "volkit-thick", lvmType: "default" },
  unservableIds: [["lvm2's reserved sub-volume name", "x_tdata"]],
  volume: (secret) => ({ id: "aaaa", sizeGiB: 1, providerAuth: `CHAP user-aaaa ${secret}` }),
  world: async (wrap, sinks) => ({ backend: await lvmBackend(lvmLocal.config, wrap(lvmTools()), sinks) }),
};

const lvmTgt: DriverVariant = {
  label: "lvm with tgt",
  config: { driver: "lvm", volumeGroup: "volkit-thick", lvmType: "default", target: { helper: "tgt", portals: ["127.0.0.1:3260", "127.0.0.2:3260"], volumesDir: TGT_DIR } },
  unservableIds: [
    ["an underscore (not in an IQN)", "v_1"],
    ["upper case (not in an IQN)", "Vol1"],
  ],
  volume: (secret) => ({ id: "aaaa", sizeGiB: 1, providerAuth: `CHAP user-aaaa ${secret}` }),
  world: async (wrap, sinks) => {
    const tgt = new FakeTgt();
    const inDir = (argv: readonly string[]): boolean => argv.some((a) => a.startsWith(TGT_DIR) || a.startsWith(`of=${TGT_DIR}`));
    const runner = route([(a) => a[0] === "tgtadm" || a[0] === "tgt-admin" || inDir(a), tgt.runner], [() => true, lvmTools()]);
    return { backend: await lvmBackend(lvmTgt.config, wrap(runner), sinks) };
  },
};

const lvmLio: DriverVariant = {
  label: "lvm with LIO",
  config: { driver: "lvm", volumeGroup: "volkit-thick", lvmType: "default", target: { helper: "lio", portals: ["127.0.0.1:3260", "127.0.0.2:3260"] } },
  unservableIds: lvmTgt.unservableIds,
  volume: (secret) => ({ id: "aaaa", sizeGiB: 1, providerAuth: `CHAP user-aaaa ${secret}` }),
  world: async (wrap, sinks) => {
    const lio = new FakeLio();
    lio.runner.on(["test"], {});
    lio.files.set(LIO_SAVE, JSON.stringify({ storage_objects: [], targets: [] }));
    const runner = route([(a) => a[0] === "targetcli" || a[0] === "test" || (a[0] === "cat" && a.at(-1) === LIO_SAVE), lio.runner], [() => true, lvmTools()]);
    return { backend: await lvmBackend(lvmLio.config, wrap(runner), sinks) };
  },
};

/** How the suite drives the LVM driver. */
export const LVM_CASE: DriverCase = {
  variants: [lvmLocal, lvmTgt, lvmLio],
  configFields: [
    { path: "volumeGroup", values: HOSTILE_NAMES },
    { path: "thinPoolName", values: HOSTILE_NAMES },
    { path: "lvmConfFile", values: HOSTILE_PATHS },
    { path: "volumeClearIonice", values: [...HOSTILE_NAMES, ["a second class", "-c3 -c1"]] },
    { path: "volumeClearSizeMiB", values: NUMBERS.filter(([l]) => l !== "beyond 64 PiB") },
    { path: "thinPoolPercentOfFree", values: NUMBERS },
    { path: "mirrors", values: NUMBERS },
    { path: "copyBlockBytes", values: NUMBERS },
    { path: "copyBandwidthLimitBps", values: NUMBERS.filter(([l]) => l !== "beyond 64 PiB") },
    { path: "rootHelper", values: HOSTILE_ROOT_HELPERS },
    { path: "backendName", values: HOSTILE_TEXT },
    { path: "host", values: HOSTILE_TEXT },
    { path: "target.portals.0", values: HOSTILE_PORTALS, base: lvmTgt.config },
    { path: "target.iqnPrefix", values: HOSTILE_IQNS, base: lvmTgt.config },
    { path: "target.volumesDir", values: HOSTILE_PATHS.filter(([l]) => l !== "root"), base: lvmTgt.config },
    { path: "target.lioSaveFile", values: [...HOSTILE_PATHS, ["a space", "/etc/target/my config.json"], ["a quote", "/etc/target/x'.json"]], base: lvmLio.config },
    { path: "target.portals.0", values: [["a host name (LIO binds IPs)", "storage.example.com:3260"]], base: lvmLio.config },
    { path: "target.helper", values: HOSTILE_NAMES, base: lvmTgt.config },
  ],
};
