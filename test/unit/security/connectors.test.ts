/**
 * Hostile input to every connector method (iSCSI, NFS, local; RBD when it lands: add it to
 * CONNECTORS) and to each connector's config: every field of the connection info and of the
 * device handed back is checked before any command runs or any host file is read or written.
 */
import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { Connector } from "../../../src/connectors/connector.js";
import { createIscsiConnector } from "../../../src/connectors/iscsi/index.js";
import { createLocalConnector } from "../../../src/connectors/local/index.js";
import { createNfsConnector } from "../../../src/connectors/nfs/index.js";
import { VolkitError } from "../../../src/core/errors.js";
import type { HostFs } from "../../../src/host/host-fs.js";
import { mountPointFor } from "../../../src/remotefs/nfs-share.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { HOSTILE_ROOT_HELPERS } from "./driver-cases.js";
import { HOSTILE_IQNS, HOSTILE_NAMES, HOSTILE_PATHS, HOSTILE_PORTALS, HOSTILE_SECRETS, HOSTILE_SHARES, Sinks, expectRefusal, refused, withField, type Hostile } from "./hostile.js";

/** A host file system that records every access and answers none (nothing may be touched). */
class RecordingFs implements HostFs {
  readonly root = "/";
  readonly touched: string[] = [];
  #no(op: string, path: string): ResultAsync<never, VolkitError> {
    this.touched.push(`${op} ${path}`);
    return errAsync(new VolkitError("DEVICE_NOT_FOUND", "recording fs", { source: "test" }));
  }
  readFile(path: string): ResultAsync<string, VolkitError> {
    return this.#no("read", path);
  }
  readdir(path: string): ResultAsync<string[], VolkitError> {
    return this.#no("readdir", path);
  }
  readlink(path: string): ResultAsync<string, VolkitError> {
    return this.#no("readlink", path);
  }
  realpath(path: string): ResultAsync<string, VolkitError> {
    return this.#no("realpath", path);
  }
  exists(path: string): ResultAsync<boolean, never> {
    this.touched.push(`exists ${path}`);
    return okAsync(false);
  }
  writeFile(path: string, _data: string): ResultAsync<void, VolkitError> {
    return this.#no("write", path);
  }
}

const NUMBERS_NOT_LUNS: readonly Hostile[] = [
  ["fraction", 1.5],
  ["negative", -1],
  ["past 16383", 16384],
  ["NaN", Number.NaN],
  ["a string", "0"],
  ["a shell string", "0;reboot"],
];
const NOT_DEVICE_PATHS: readonly Hostile[] = [...HOSTILE_PATHS, ["a file outside /dev", "/etc/shadow"]];
/**
 * CHAP users and secrets: a leading dash is allowed (the value always follows `-v`, or sits in a
 * file or on stdin), and `-oProxyCommand=x` is a valid 16-character secret.
 */
const DASHED = ["leading dash", "long option", "ssh option"];
const CHAP_USERS: readonly Hostile[] = HOSTILE_NAMES.filter(([label]) => !DASHED.includes(label));
const CHAP_SECRETS: readonly Hostile[] = HOSTILE_SECRETS.filter(([label]) => !DASHED.includes(label));

const SHARE = "127.0.0.1:/srv/nfs/share1";
const MP = mountPointFor("/var/lib/volkit/mnt", SHARE);

interface ConnectorCase {
  readonly build: (runner: FakeRunner, fs: HostFs, sinks: Sinks) => Connector;
  readonly info: Record<string, unknown>;
  readonly device: Record<string, unknown>;
  readonly infoFields: Readonly<Record<string, readonly Hostile[]>>;
  readonly configFields: Readonly<Record<string, readonly Hostile[]>>;
  readonly create: (config: Record<string, unknown>) => { isErr(): boolean; error?: VolkitError };
}

const IQN = "iqn.2010-10.org.openstack:volume-aaaa";
const COMMON_INFO_FIELDS: Readonly<Record<string, readonly Hostile[]>> = {
  volumeId: HOSTILE_NAMES,
  type: [["another protocol", "rbd"], ["a hostile type", "iscsi;reboot"], ["none", undefined]],
  accessMode: [["a hostile mode", "rw;reboot"]],
  qosSpecs: [["a hostile key", { "total_iops_sec;x": 5 }], ["a negative limit", { total_iops_sec: -1 }], ["NaN", { total_iops_sec: Number.NaN }]],
};
const DEVICE_FIELDS: Readonly<Record<string, readonly Hostile[]>> = {
  path: NOT_DEVICE_PATHS,
  type: [["a hostile type", "block;x"]],
  "paths.0": NOT_DEVICE_PATHS,
  multipathId: HOSTILE_NAMES,
  scsiWwn: HOSTILE_NAMES.filter(([label]) => label !== "space"),
  sizeBytes: [["fraction", 1.5], ["negative", -1], ["a string", "1"]],
};

/** Every built-in connector; add RBD (and NVMe-oF) here when they land. */
const CONNECTORS: Readonly<Record<string, ConnectorCase>> = {
  iscsi: {
    build: (runner, fs, sinks) => createIscsiConnector({ multipath: true }, { runner, hostFs: fs, logger: sinks.logger, events: sinks.events })._unsafeUnwrap(),
    info: {
      type: "iscsi",
      volumeId: "aaaa",
      targetIqn: IQN,
      targetPortal: "127.0.0.1:3260",
      targetLun: 0,
      targetPortals: ["127.0.0.1:3260", "127.0.0.2:3260"],
      targetIqns: [IQN, IQN],
      targetLuns: [0, 0],
      authMethod: "CHAP",
      authUsername: "user-aaaa",
      authPassword: "Zq7Xk2Pw9Mt4Vb8N",
      discoveryAuthMethod: "CHAP",
      discoveryAuthUsername: "disc-user",
      discoveryAuthPassword: "Disc-Zq7Xk2Pw9Mt4",
    },
    device: { type: "block", path: "/dev/dm-3", paths: ["/dev/sdb", "/dev/sdc"], multipathId: "36001405cd392699b3044eb2b6a99fd8c", scsiWwn: "naa.6001405cd392699b3044eb2b6a99fd8c" },
    infoFields: {
      ...COMMON_INFO_FIELDS,
      targetIqn: HOSTILE_IQNS,
      targetPortal: HOSTILE_PORTALS,
      targetLun: NUMBERS_NOT_LUNS,
      "targetPortals.1": HOSTILE_PORTALS,
      "targetIqns.1": HOSTILE_IQNS,
      "targetLuns.1": NUMBERS_NOT_LUNS,
      targetPortals: [["65 portals", Array.from({ length: 65 }, () => "127.0.0.1:3260")], ["arrays of other lengths", ["127.0.0.1:3260"]]],
      authUsername: CHAP_USERS,
      authPassword: CHAP_SECRETS,
      discoveryAuthUsername: CHAP_USERS,
      discoveryAuthPassword: CHAP_SECRETS,
      authMethod: [["another method", "PAP"]],
      logicalBlockSize: [["fraction", 512.5], ["zero", 0], ["huge", 2 ** 40]],
    },
    configFields: {
      hostName: HOSTILE_NAMES,
      ip: [...HOSTILE_NAMES, ["an IPv4 with a port", "10.0.0.1:3260"]],
      retries: [["negative", -1], ["fraction", 1.5], ["NaN", Number.NaN], ["huge", 1000]],
      "poll.minMs": [["zero", 0], ["negative", -1], ["NaN", Number.NaN]],
    },
    create: (config) => createIscsiConnector(config),
  },
  nfs: {
    build: (runner, fs, sinks) => createNfsConnector({}, { runner, hostFs: fs, logger: sinks.logger, events: sinks.events })._unsafeUnwrap(),
    info: { type: "nfs", volumeId: "v1", export: SHARE, name: "volume-v1", format: "raw", options: "vers=4.1" },
    device: { type: "file", path: `${MP}/volume-v1`, format: "raw", paths: [] },
    infoFields: {
      ...COMMON_INFO_FIELDS,
      export: HOSTILE_SHARES,
      name: HOSTILE_NAMES,
      options: [["exec", "exec"], ["a second -o", "vers=3 -o exec"], ["a newline", "vers=3\nexec"], ["suid", "suid"], ["NUL", "vers=3\u0000"]],
      format: [["vmdk", "vmdk"], ["a hostile format", "raw;x"]],
      mountPointBase: HOSTILE_PATHS.filter(([label]) => label !== "root"),
    },
    configFields: {
      hostName: HOSTILE_NAMES,
      commandTimeoutMs: [["zero", 0], ["NaN", Number.NaN], ["fraction", 1.5]],
      "mount.mountPointBase": HOSTILE_PATHS.filter(([label]) => label !== "root"),
      "mount.rootHelper": HOSTILE_ROOT_HELPERS,
      "mount.mountOptions": [["exec", "exec"], ["an option", "-o exec"]],
    },
    create: (config) => createNfsConnector(config),
  },
  local: {
    build: (runner, fs, sinks) => createLocalConnector({}, { runner, hostFs: fs, logger: sinks.logger, events: sinks.events })._unsafeUnwrap(),
    info: { type: "local", volumeId: "v1", devicePath: "/dev/vg/volume-v1" },
    device: { type: "block", path: "/dev/vg/volume-v1", paths: [] },
    infoFields: { ...COMMON_INFO_FIELDS, devicePath: HOSTILE_PATHS },
    configFields: {
      hostName: HOSTILE_NAMES,
      flushTimeoutMs: [["zero", 0], ["NaN", Number.NaN], ["huge", 2 ** 40]],
    },
    create: (config) => createLocalConnector(config),
  },
};

type Method = "connectVolume" | "disconnectVolume" | "extendVolume";
const METHODS: readonly Method[] = ["connectVolume", "disconnectVolume", "extendVolume"];

function call(c: Connector, method: Method, info: unknown, device: unknown, options: Record<string, unknown> = {}): ResultAsync<unknown, VolkitError> {
  if (method === "connectVolume") return c.connectVolume(info as never, options);
  if (method === "disconnectVolume") return c.disconnectVolume(info as never, device as never, options);
  return c.extendVolume(info as never, device as never, options);
}

async function expectNothingTouched(kase: ConnectorCase, label: string, run: (c: Connector) => ResultAsync<unknown, VolkitError>): Promise<void> {
  const runner = new FakeRunner();
  const fs = new RecordingFs();
  const sinks = new Sinks();
  const error = await refused(() => run(kase.build(runner, fs, sinks)));
  expectRefusal(error, ["INVALID_ARGUMENT"]);
  expect(runner.commands(), `${label}: commands ran`).toEqual([]);
  expect(fs.touched, `${label}: host files touched`).toEqual([]);
  expect(sinks.seen, `${label}: an operation started`).toEqual([]);
}

for (const [name, kase] of Object.entries(CONNECTORS)) {
  describe(`${name} connector: every method refuses hostile input before anything runs`, () => {
    for (const method of METHODS) {
      for (const [field, values] of Object.entries(kase.infoFields)) {
        it(`${method} refuses a hostile connection info ${field}`, async () => {
          for (const [label, value] of values) {
            await expectNothingTouched(kase, `${method} ${field} = ${label}`, (c) => call(c, method, withField(kase.info, field, value), kase.device));
          }
        });
      }
      if (method !== "connectVolume") {
        for (const [field, values] of Object.entries(DEVICE_FIELDS)) {
          it(`${method} refuses a hostile device ${field}`, async () => {
            for (const [label, value] of values) {
              await expectNothingTouched(kase, `${method} device ${field} = ${label}`, (c) => call(c, method, kase.info, withField(kase.device, field, value)));
            }
          });
        }
      }
      it(`${method} refuses connection info and devices that are not objects, and unusable options`, async () => {
        for (const [label, info] of [["null", null], ["a string", "iscsi"], ["an array", []]] as const) {
          await expectNothingTouched(kase, `${method} info ${label}`, (c) => call(c, method, info, kase.device));
        }
        if (method !== "connectVolume") {
          for (const [label, device] of [["null", null], ["a string", "/dev/sdb"]] as const) {
            await expectNothingTouched(kase, `${method} device ${label}`, (c) => call(c, method, kase.info, device));
          }
        }
        await expectNothingTouched(kase, `${method} NaN deadline`, (c) => call(c, method, kase.info, kase.device, { deadline: Number.NaN }));
      });
    }
  });

  describe(`${name} connector config`, () => {
    for (const [field, values] of Object.entries(kase.configFields)) {
      it(`refuses a hostile ${field} with INVALID_CONFIG`, () => {
        for (const [label, value] of values) {
          const r = kase.create(withField({}, field, value));
          expect(r.isErr(), `${field} = ${label} was accepted`).toBe(true);
          expectRefusal(r.error as VolkitError, ["INVALID_CONFIG"]);
        }
      });
    }
  });
}

describe("issue 14, defect 1: NfsConnector.extendVolume never hands a caller's device path to qemu-img", () => {
  it.each([
    ["--help", "--help"],
    ["-oProxyCommand=x", "-oProxyCommand=x"],
    ["../../etc/shadow", "../../etc/shadow"],
    ["a relative path", "volume-v1"],
    ["a NUL", `${MP}/volume-v1\u0000`],
    ["another file on the share", `${MP}/volume-v2`],
    ["a file elsewhere", "/etc/shadow"],
  ])("%s: INVALID_ARGUMENT, no command", async (_label, path) => {
    await expectNothingTouched(CONNECTORS.nfs as ConnectorCase, `extendVolume ${path}`, (c) => c.extendVolume(CONNECTORS.nfs?.info as never, { type: "file", path, format: "raw", paths: [] }));
  });
});
