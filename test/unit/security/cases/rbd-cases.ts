/**
 * The RBD driver in the hostile-input suite. Its world replays the `rbd`/`ceph` output captured
 * from a real cluster (test/fixtures/rbd, the `drv-*` captures use the driver's names for volume
 * `v1`); the planted secret is the client's cephx key (given as `key`: written to a 0600 key file,
 * never on a command line).
 */
import { createBackend } from "../../../../src/drivers/registry.js";
import { FakeRunner } from "../../../../src/testing/fake-runner.js";
import { replay } from "../../drivers/rbd/captures.js";
import { HOSTILE_NAMES, HOSTILE_PATHS, HOSTILE_PORTALS, HOSTILE_SECRETS, HOSTILE_TEXT, type Hostile } from "../hostile.js";
import { HOSTILE_ROOT_HELPERS, NUMBERS, type DriverCase, type DriverVariant } from "./driver-case.js";

const V1 = "volumes/volume-v1";

/** True when `argv` holds `words` one after the other. */
const has =
  (...words: readonly string[]) =>
  (argv: readonly string[]): boolean =>
    argv.some((_, i) => words.every((w, j) => argv[i + j] === w));

/** rbd and ceph answering as the captures show, for volume v1 with no snapshots and no clones. */
function cephTools(): FakeRunner {
  return new FakeRunner({ strict: false })
    .on(["mktemp"], { stdout: "/tmp/volkit-ceph.AbCdEf12\n" })
    .on(has("namespace", "ls"), replay("namespace-ls"))
    .on(has("info", V1, "--format"), replay("drv-info-volume"))
    .on(has("snap", "ls", V1), replay("snap-ls-empty"))
    .on(has("status", V1), replay("status-idle"))
    .on(has("trash", "ls"), replay("trash-ls-empty"))
    .on(has("df", "--format"), replay("ceph-df"))
    .on(has("mon", "dump"), replay("mon-dump"));
}

const keyed: DriverVariant = {
  label: "rbd with a cephx key and monitors",
  config: { driver: "rbd", monitors: ["v2:127.0.0.1:3300"], clientId: "volkit", key: "AQBq0mhnAAAAABAAunitTestKeyForVolkitRbd0000==", pool: "volumes" },
  unservableIds: [],
  volume: () => ({ id: "v1", sizeGiB: 1 }),
  world: async (wrap, sinks, secret) => {
    const config = { ...keyed.config, key: secret };
    const backend = (await createBackend(config as never, { runner: wrap(cephTools()), logger: sinks.logger, events: sinks.events }))._unsafeUnwrap();
    return { backend };
  },
};

const keyring: DriverVariant = {
  label: "rbd with a cluster, a keyring and a data pool",
  config: { driver: "rbd", clusterName: "ceph", confPath: "/etc/ceph/ceph.conf", clientId: "cinder", keyringPath: "/etc/ceph/ceph.client.cinder.keyring", pool: "volumes", dataPool: "ec-data", imageFeatures: ["layering", "exclusive-lock"] },
  unservableIds: [],
  // With a keyring the driver holds no key: the planted secret rides in the record's providerAuth.
  volume: (secret) => ({ id: "v1", sizeGiB: 1, providerAuth: `CHAP user-v1 ${secret}` }),
  world: async (wrap, sinks) => ({ backend: (await createBackend(keyring.config as never, { runner: wrap(cephTools()), logger: sinks.logger, events: sinks.events }))._unsafeUnwrap() }),
};

const HOSTILE_MONITORS: readonly Hostile[] = [
  ...HOSTILE_PORTALS,
  ["an unclosed vector", "[v2:10.0.0.1:3300"],
  ["a vector without prefixes", "[10.0.0.1:3300,10.0.0.2:3300]"],
  ["two monitors in one entry", "10.0.0.1:6789,10.0.0.2:6789"],
  ["an unknown prefix", "v3:10.0.0.1:3300"],
];

/** How the suite drives the RBD driver. */
export const RBD_CASE: DriverCase = {
  variants: [keyed, keyring],
  configFields: [
    { path: "pool", values: HOSTILE_NAMES },
    { path: "dataPool", values: HOSTILE_NAMES },
    { path: "namespace", values: HOSTILE_NAMES },
    { path: "clientId", values: [...HOSTILE_NAMES, ["the client. prefix", "client.cinder"]] },
    { path: "clusterName", values: HOSTILE_NAMES },
    { path: "monitors.0", values: HOSTILE_MONITORS },
    { path: "monitors", values: [["none", []], ["a string", "10.0.0.1:6789"]] },
    { path: "key", values: [...HOSTILE_SECRETS, ["not base64", "not a key!"], ["10 KB", "A".repeat(10 * 1024)]] },
    { path: "keyringPath", values: HOSTILE_PATHS, base: keyring.config },
    { path: "confPath", values: HOSTILE_PATHS },
    // A directory: mktemp makes a private one inside it, so "/" is a (poor but) valid choice.
    { path: "keyfileDir", values: HOSTILE_PATHS.filter(([l]) => l !== "root") },
    { path: "hostKeyringPath", values: HOSTILE_PATHS },
    { path: "imageFeatures.0", values: HOSTILE_NAMES },
    { path: "imageFeatures", values: [["without layering", ["exclusive-lock"]], ["a repeated feature", ["layering", "layering"]], ["none", []]] },
    { path: "connectTimeoutSec", values: NUMBERS },
    { path: "osdOpTimeoutSec", values: NUMBERS },
    { path: "commandTimeoutMs", values: NUMBERS },
    { path: "maxCloneDepth", values: NUMBERS },
    { path: "maxOverSubscriptionRatio", values: NUMBERS.filter(([l]) => l !== "fraction") },
    { path: "reservedPercentage", values: NUMBERS.filter(([l]) => l !== "fraction") },
    { path: "deleteWithClones", values: HOSTILE_NAMES },
    { path: "libvirtSecretUuid", values: HOSTILE_NAMES },
    { path: "libvirtSecretUsage", values: [...HOSTILE_TEXT, ["a slash", "ceph/client"], ["empty", ""]] },
    { path: "exposeKey", values: [["without a key", true]], base: keyring.config },
    { path: "qosSpecs", values: [["a type with a newline", { "gold\nx": { iopsLimit: 10 } }], ["a negative limit", { gold: { iopsLimit: -1 } }], ["an unknown limit", { gold: { rm: 1 } }]] },
    { path: "rootHelper", values: HOSTILE_ROOT_HELPERS },
    { path: "backendName", values: HOSTILE_TEXT },
  ],
};
