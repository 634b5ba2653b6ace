/**
 * The IP-SAN driver in the hostile-input suite. It talks to the array over REST, so its world is
 * the in-process array simulator (REST only, plain HTTP on loopback) and the secret-leak tests fail
 * the world's requests one at a time (array error codes whose description quotes the secret, a
 * session the array ended, HTTP 500) as they fail a command-line driver's commands. The planted
 * secret is the array password and the initiator's CHAP secret (the array's 12-16 character rule).
 */
import { createBackend } from "../../../../src/drivers/registry.js";
import { startArraySimulator } from "../../../../src/testing/array-simulator/index.js";
import { FakeRunner } from "../../../../src/testing/fake-runner.js";
import { HOSTILE_IQNS, HOSTILE_NAMES, HOSTILE_PATHS, HOSTILE_PORTALS, HOSTILE_SECRETS, HOSTILE_TEXT, type Hostile } from "../hostile.js";
import { NUMBERS, type DriverCase, type DriverVariant } from "./driver-case.js";

/** The initiator of the suite's host (drivers.test.ts and secret-leaks.test.ts). */
const INITIATOR = "iqn.1994-05.com.redhat:compute-1";
/** Nothing listens on port 9 of loopback: a request that escapes validation fails as unreachable, never INVALID_ARGUMENT. */
const NOWHERE = "http://127.0.0.1:9/deviceManager/rest/";

/** Array error codes answered in the envelope (ipsan-errors.ts), each quoting the secret in its description. */
const ARRAY_CODES: Readonly<Record<string, number>> = {
  "array error 1 quoting the secret": 1,
  "parameter error quoting the secret": 50331651,
  "session ended by the array (-401) quoting the secret": -401,
  "system busy (transient) quoting the secret": 16797698,
};
const HTTP_500 = "HTTP 500 without an envelope";

const base = {
  driver: "ipsan",
  restUrls: [NOWHERE],
  user: "volkit",
  password: "Array-Passw0rd",
  storagePools: ["StoragePool001"],
  iscsi: { initiators: [{ iqn: INITIATOR, chap: { user: "user-compute-1", password: "Chap-Secret-01" } }] },
};

/** 16 characters: both a valid array password and a valid array CHAP secret. */
const PLANTED = "Zq7Xk2Pw9Mt4Vb8N";

/**
 * The world of `config` (its `iscsi` section with `secret` for every CHAP secret): a fresh array
 * simulator whose password is the secret, holding volume `aaaa`.
 */
function arrayWorld(config: Readonly<Record<string, unknown>>, chap: boolean): DriverVariant["world"] {
  return async (wrap, sinks, secret) => {
    const sim = await startArraySimulator({ protocol: "http", iscsi: false, copyDurationMs: 20, password: secret });
    const settings = {
      ...config,
      ...sim.connection(),
      retries: 1,
      requestTimeoutMs: 5_000,
      loginTimeoutMs: 5_000,
      lunReadyTimeoutMs: 5_000,
      copyTimeoutMs: 10_000,
      ...(chap ? { iscsi: { initiators: [{ iqn: INITIATOR, chap: { user: "user-compute-1", password: secret } }] } } : {}),
    };
    const backend = (await createBackend(settings as never, { runner: wrap(new FakeRunner()), logger: sinks.logger, events: sinks.events }))._unsafeUnwrap();
    const volume = (await backend.createVolume({ id: "aaaa", sizeGiB: 1 }))._unsafeUnwrap();
    const from = sim.requests.length;
    return {
      backend,
      volume,
      close: () => sim.stop(),
      requests: {
        count: () => sim.requests.length - from,
        modes: [...Object.keys(ARRAY_CODES), HTTP_500],
        failAt: (index, mode, quoted) =>
          sim.faults.failNext(mode === HTTP_500 ? { skip: index, httpStatus: 500 } : { skip: index, code: ARRAY_CODES[mode] ?? 1, description: `refused near '${quoted}'` }),
      },
    };
  };
}

/** The array has no export step: mapping is initializeConnection's (Cinder's Huawei driver: create_export is a no-op). */
const EXPORTS = ["createExport", "ensureExport", "removeExport"];

const withChap: DriverVariant = {
  label: "ipsan with CHAP",
  config: base,
  unservableIds: [],
  secret: PLANTED,
  untouched: EXPORTS,
  volume: () => ({ id: "aaaa", sizeGiB: 1 }),
  world: arrayWorld(base, true),
};

const portalsConfig = { ...base, lunType: "thick", iscsi: { targetPortals: ["127.0.0.1", "127.0.0.2"] } };
const portals: DriverVariant = {
  label: "ipsan on given portals, thick LUNs, no CHAP",
  config: portalsConfig,
  unservableIds: [],
  secret: PLANTED,
  untouched: EXPORTS,
  volume: () => ({ id: "aaaa", sizeGiB: 1 }),
  world: arrayWorld(portalsConfig, false),
};

const HOSTILE_URLS: readonly Hostile[] = [
  ...HOSTILE_NAMES,
  ["a file URL", "file:///etc/passwd"],
  ["an ftp URL", "ftp://127.0.0.1/deviceManager/rest/"],
  ["a javascript URL", "javascript:alert(1)"],
  ["credentials in the URL", "https://admin:secret@127.0.0.1:8088/deviceManager/rest/"],
  ["a query", "https://127.0.0.1:8088/deviceManager/rest/?x=1"],
  ["a fragment", "https://127.0.0.1:8088/deviceManager/rest/#x"],
  ["10 KB", `https://127.0.0.1:8088/${"a".repeat(10 * 1024)}/`],
];

/**
 * Array object names and CHAP credentials go into a URL-encoded `filter=NAME::` query and JSON
 * bodies, never a command line: a leading dash is valid there (and `-oProxyCommand=x` is a valid
 * 16-character array CHAP secret).
 */
const DASHED = ["leading dash", "long option", "ssh option"];
const HOSTILE_ARRAY_NAMES = HOSTILE_NAMES.filter(([label]) => !DASHED.slice(0, 2).includes(label));
const RATIOS = NUMBERS.filter(([label]) => label !== "fraction");

/** How the suite drives the IP-SAN driver. */
export const IPSAN_CASE: DriverCase = {
  variants: [withChap, portals],
  configFields: [
    { path: "restUrls.0", values: HOSTILE_URLS },
    { path: "restUrls", values: [["none", []], ["not a list", NOWHERE]] },
    { path: "user", values: [...HOSTILE_TEXT, ["a space", "vol kit"], ["empty", ""], ["a number", 5]] },
    { path: "password", values: [["too short", "abc"], ["10 KB", "p".repeat(10 * 1024)], ["a number", 12345678], ["null", null]] },
    { path: "vstoreName", values: [...HOSTILE_TEXT, ["empty", ""]] },
    { path: "tls.caFile", values: HOSTILE_PATHS },
    { path: "tls.verify", values: [["a string", "false"], ["a number", 0]] },
    { path: "storagePools.0", values: HOSTILE_ARRAY_NAMES },
    { path: "storagePools", values: [["none", []]] },
    { path: "lunType", values: HOSTILE_NAMES },
    { path: "copyMethod", values: HOSTILE_NAMES },
    { path: "copySpeed", values: HOSTILE_NAMES },
    { path: "iscsi.targetPortals.0", values: [...HOSTILE_PORTALS, ["a host name", "array.example.com"], ["an IPv4 with a port", "127.0.0.1:3260"]], base: portals.config },
    { path: "iscsi.portGroup", values: HOSTILE_ARRAY_NAMES },
    { path: "iscsi.initiators.0.iqn", values: HOSTILE_IQNS },
    { path: "iscsi.initiators.0.chap.user", values: HOSTILE_ARRAY_NAMES },
    { path: "iscsi.initiators.0.chap.password", values: [...HOSTILE_SECRETS.filter(([label]) => !DASHED.includes(label)), ["17 characters (the array's rule is 12-16)", "Chap-Secret-01234"]] },
    { path: "iscsi.initiators.0.targetPortals.0", values: HOSTILE_PORTALS },
    { path: "iscsi.initiators.0.portGroup", values: HOSTILE_ARRAY_NAMES },
    { path: "qosSpecs", values: [["a 10 KB type", { ["t".repeat(10 * 1024)]: { maxIops: 10 } }], ["a negative limit", { gold: { maxIops: -1 } }], ["an unknown limit", { gold: { rm: 1 } }]] },
    { path: "lunReadyTimeoutMs", values: NUMBERS },
    { path: "copyTimeoutMs", values: NUMBERS },
    { path: "requestTimeoutMs", values: NUMBERS },
    { path: "loginTimeoutMs", values: NUMBERS },
    { path: "retries", values: NUMBERS },
    { path: "maxConcurrentRequests", values: NUMBERS },
    { path: "maxCloneDepth", values: NUMBERS },
    { path: "maxOverSubscriptionRatio", values: RATIOS },
    { path: "reservedPercentage", values: RATIOS },
    { path: "backendName", values: HOSTILE_TEXT },
  ],
};
