/**
 * The drivers the hostile-input suite drives, keyed by registry name. Every driver registered with
 * volkit (`listDrivers()`) must have an entry here: `drivers.test.ts` fails while one is missing.
 *
 * To add a driver (the IP-SAN and RBD drivers, when they register): add an entry under its
 * registry name with
 * - `variants`: one valid config per way the driver runs (a target helper, a protocol…), each with
 *   the ids it cannot serve (`unservableIds`: valid ids its `idRule` refuses) and, for the
 *   secret-leak tests, a `world`: a scripted runner (FakeRunner rules, a simulator) under which the
 *   runtime's operations on `volume` succeed, plus the secret the calls carry (`plantSecret`);
 * - `configFields`: every config field a caller or a panel sets that reaches a command, a file or
 *   a URL, with the hostile values it must refuse (`INVALID_CONFIG`, nothing run).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CommandRunner, CommandSpec } from "../../../src/exec/runner.js";
import type { VolumeBackend } from "../../../src/drivers/backend.js";
import type { VolumeInput } from "../../../src/core/records.js";
import { createNfsDriver } from "../../../src/drivers/nfs/index.js";
import { wrapDriver } from "../../../src/drivers/backend.js";
import { LocalDirectoryMounts } from "../../../src/remotefs/local-directory-mounts.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { FakeShares } from "../drivers/nfs/fake-share.js";
import { FakeLio } from "../targets/fake-lio.js";
import { FakeTgt } from "../targets/fake-tgt.js";
import { HOSTILE_IQNS, HOSTILE_NAMES, HOSTILE_PATHS, HOSTILE_PORTALS, HOSTILE_SHARES, HOSTILE_SIZES, HOSTILE_TEXT, type Hostile } from "./hostile.js";
import type { Sinks } from "./hostile.js";

const LVM_FIXTURES = join(import.meta.dirname, "../../fixtures/lvm");
const lvmFixture = (name: string): string => readFileSync(join(LVM_FIXTURES, name), "utf8");

/** A scripted world in which the suite's valid calls succeed. */
export interface DriverWorld {
  /** The backend, built on the world's runner as wrapped by the test (to inject failures). */
  readonly backend: VolumeBackend;
}

/** One way a driver runs. */
export interface DriverVariant {
  /** Human-readable label (`lvm with LIO`). */
  readonly label: string;
  /** A valid config for `createBackend`. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Valid ids (by `IdSchema`) this variant's `idRule` refuses. */
  readonly unservableIds: readonly Hostile[];
  /** An existing volume of the world, carrying the planted secret where the driver keeps one. */
  readonly volume: (secret: string) => VolumeInput;
  /** Builds the world on `wrap(runner)` with the sinks' logger and events. */
  readonly world: (wrap: (inner: CommandRunner) => CommandRunner, sinks: Sinks, secret: string) => Promise<DriverWorld>;
}

/** A config field and the hostile values it must refuse. */
export interface ConfigPoison {
  /** Dot path in the config (`target.portals.0`). */
  readonly path: string;
  /** Values to refuse. */
  readonly values: readonly Hostile[];
}

/** How the suite drives one registered driver. */
export interface DriverCase {
  /** Variants of a valid config. */
  readonly variants: readonly DriverVariant[];
  /** Config fields to poison, each against a valid config of the first variant (or `base`). */
  readonly configFields: readonly (ConfigPoison & { readonly base?: Readonly<Record<string, unknown>> })[];
}

/** Root helpers a config must never accept (issue 14, defect 5). */
export const HOSTILE_ROOT_HELPERS: readonly Hostile[] = [
  ["a shell", ["sh", "-c"]],
  ["env with LD_PRELOAD", ["env", "LD_PRELOAD=/tmp/x.so"]],
  ["a bare option", ["--help"]],
  ["sudo with a shell", ["sudo", "-s"]],
  ["sudo preserving the environment", ["sudo", "-E"]],
  ["sudo then a shell", ["sudo", "-n", "--", "sh"]],
  ["a relative sudo", ["./sudo", "-n"]],
  ["sudo in /tmp", ["/tmp/sudo"]],
  ["an element with a space", ["sudo -n"]],
  ["a NUL", ["sudo\u0000", "-n"]],
  ["not an array", "sudo -n"],
];

const NUMBERS: readonly Hostile[] = HOSTILE_SIZES.filter(([label]) => label !== "zero");

/** Routes each command to the first runner whose predicate accepts its argv. */
function route(...routes: readonly (readonly [(argv: readonly string[]) => boolean, CommandRunner])[]): CommandRunner {
  return {
    description: "routed fake",
    run: (spec: CommandSpec) => {
      const found = routes.find(([accepts]) => accepts(spec.argv));
      return (found?.[1] ?? (routes.at(-1) as readonly [unknown, CommandRunner])[1]).run(spec);
    },
  };
}

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
  const { createBackend } = await import("../../../src/drivers/registry.js");
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

const NFS_SHARE = "10.0.0.5:/export/a";
const NFS_DIR = "/mnt/s1";

const nfs: DriverVariant = {
  label: "nfs",
  config: { driver: "nfs", shares: [NFS_SHARE] },
  unservableIds: [],
  // The NFS driver keeps no credential; the planted secret rides in the record's providerAuth.
  volume: (secret) => ({ id: "aaaa", sizeGiB: 1, providerLocation: NFS_SHARE, providerAuth: `CHAP user-aaaa ${secret}` }),
  world: (wrap, sinks) => {
    const shares = new FakeShares([NFS_DIR]);
    shares.put(`${NFS_DIR}/volume-aaaa`, { kind: "image", format: "raw", size: 1024 ** 3 });
    const runner = wrap(shares.runner);
    const mounts = new LocalDirectoryMounts({ runner, directories: { [NFS_SHARE]: NFS_DIR } });
    const driver = createNfsDriver({ driver: "nfs", shares: [NFS_SHARE] }, { runner, mounts })._unsafeUnwrap();
    return Promise.resolve({ backend: wrapDriver(driver, { logger: sinks.logger, events: sinks.events }) });
  },
};

/** Every driver the suite drives, by registry name. */
export const DRIVER_CASES: Readonly<Record<string, DriverCase>> = {
  lvm: {
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
  },
  nfs: {
    variants: [nfs],
    configFields: [
      { path: "shares.0", values: HOSTILE_SHARES },
      { path: "shares.0.options", values: [["exec", "exec"], ["suid after a comma", "vers=3,suid"], ["a second -o", "vers=3 -o exec"], ["a newline", "vers=3\nexec"], ["NUL", "vers=3\u0000"]], base: { driver: "nfs", shares: [{ share: NFS_SHARE, options: "vers=3" }] } },
      { path: "sharesConfig", values: [["a dashed share", "-o exec\n"], ["a share with ..", "10.0.0.5:/a/../b\n"], ["smuggled options", `${NFS_SHARE} -o vers=3,exec\n`], ["NUL", `${NFS_SHARE}\u0000\n`], ["an override", `${NFS_SHARE}\u202e\n`]] },
      { path: "mountPointBase", values: HOSTILE_PATHS.filter(([l]) => l !== "root") },
      { path: "mountOptions", values: [["exec", "exec"], ["an option", "-o exec"], ["a newline", "vers=3\nexec"]] },
      { path: "nfsVersions.0", values: [["an unknown version", "5"], ["an option", "--help"]] },
      { path: "mountAttempts", values: NUMBERS },
      { path: "mountTimeoutMs", values: NUMBERS },
      { path: "rootHelper", values: HOSTILE_ROOT_HELPERS },
      { path: "backendName", values: HOSTILE_TEXT },
    ],
  },
};
