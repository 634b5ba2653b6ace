/**
 * Planted secrets under every failure mode of the runner (issue 14, "Done when"): valid calls that
 * carry a recognizable secret (a volume's CHAP credentials in `providerAuth`, an iSCSI connection's
 * CHAP password) run once per command with that command failing in each way a command can
 * (non-zero exit echoing the secret on stdout and stderr, garbage output quoting it, a signal,
 * command not found, a spawn failure, its time limit, the caller's abort or deadline, a runner
 * that throws or rejects), with a logger and an event listener that throw too. No piece of the
 * secret may appear in the error's message, details, `toJSON`, `util.inspect` (causes included),
 * in any event or in any log entry; and the call must return a Result, never throw. Only secrets
 * volkit was given are echoed: a command's output quoting a value volkit never saw cannot be
 * recognized, so calls that carry no secret (createVolume, getVolumeStats) are not in the table.
 *
 * Secrets that only a file the library reads holds (another volume's CHAP in LIO's
 * saveconfig.json, the CHAP of an existing tgt target file) are covered too: they are registered
 * when the file is read, before anything can report them (defect 2).
 */
import type { ResultAsync } from "neverthrow";
import { afterEach, describe, expect, it } from "vitest";
import { attachVolume } from "../../../src/attach/attach.js";
import { createIscsiConnector } from "../../../src/connectors/iscsi/index.js";
import type { VolkitError } from "../../../src/core/errors.js";
import { VolumeSchema, type ConnectionInfoInput, type VolumeInput } from "../../../src/core/records.js";
import type { VolumeBackend } from "../../../src/drivers/backend.js";
import { wrapDriver } from "../../../src/drivers/backend.js";
import type { CommandRunner } from "../../../src/exec/runner.js";
import { FakeConnector } from "../../../src/testing/fake-connector.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";
import { FakeIscsiHost } from "../connectors/fake-iscsi-host.js";
import { IQN, MiB, P1, P2, WWID } from "../connectors/helpers.js";
import { FakeLio } from "../targets/fake-lio.js";
import { FakeTgt } from "../targets/fake-tgt.js";
import { ChaosRunner, FAILURE_MODES, failureQuoting, freshSecret, type Echo } from "./chaos.js";
import { DRIVER_CASES, type DriverVariant, type DriverWorld } from "./driver-cases.js";
import { Sinks, errorText, expectNoLeak } from "./hostile.js";

/** The secret planted in every valid call (a valid CHAP secret: 12-64 of letters, digits, '._~+=/-'). */
const SECRET = "Zq7Xk2Pw9Mt4Vb8NpL6j";
const HOST = { host: "compute-1", initiator: "iqn.1994-05.com.redhat:compute-1" };

/** Observers that throw, quoting the secret: they must cost a log entry, never the operation. */
function hostile(sinks: Sinks, secret: string): void {
  sinks.events.on(() => {
    throw new Error(`listener bug ${secret}`);
  });
  const record = sinks.logger.warn.bind(sinks.logger);
  sinks.logger.warn = (obj, msg) => {
    record(obj, msg);
    throw new Error(`logger bug ${secret}`);
  };
}

/** Runs `call`, which must resolve to a Result; returns everything it reported. */
async function reported(call: () => ResultAsync<unknown, VolkitError>, sinks: Sinks): Promise<string> {
  const result = await call();
  expect(typeof result.isErr).toBe("function");
  // A success may hand back the caller's own record (its providerAuth included): only a failure,
  // events and logs are reports.
  const shown = result.isErr() ? errorText(result.error) : "";
  return `${shown}\n${sinks.text()}`;
}

/** Wraps a world's runner in the run's chaos runner, echoing `secret` where `echoAt` says. */
type Wrap = (inner: CommandRunner, secret: string, echoAt?: (index: number, argv: readonly string[]) => Echo) => CommandRunner;

/** For each command of a clean run and each failure mode: a fresh world failing there; nothing may leak. */
async function chaos(label: string, build: (wrap: Wrap, sinks: Sinks) => Promise<{ readonly call: () => ResultAsync<unknown, VolkitError>; readonly secret: string }>): Promise<number> {
  let clean = 0;
  {
    const sinks = new Sinks();
    let runner: ChaosRunner | undefined;
    const { call } = await build((inner, secret) => (runner = new ChaosRunner(inner, undefined, undefined, secret, new AbortController())), sinks);
    void (await call()); // the clean run only counts commands
    clean = runner?.count ?? 0;
  }
  let runs = 0;
  for (let failAt = 0; failAt < clean; failAt++) {
    for (const mode of FAILURE_MODES) {
      const sinks = new Sinks();
      const caller = new AbortController();
      const { call, secret } = await build((inner, s, echoAt) => new ChaosRunner(inner, failAt, mode, s, caller, echoAt ? (i, spec) => echoAt(i, spec.argv) : undefined), sinks);
      hostile(sinks, secret);
      expectNoLeak(await reported(call, sinks), secret, `${label}: command #${failAt + 1}, ${mode.label}`);
      runs++;
    }
  }
  return runs;
}

/**
 * The runtime operations that carry the volume record (with its planted CHAP secret) or run on a
 * backend whose config holds the planted secret (an array password, a Ceph key). createVolume
 * and getVolumeStats carry none: a command echoing a secret volkit was never given cannot be
 * redacted, so they are not part of this table.
 */
const OPERATIONS: readonly (readonly [string, (b: VolumeBackend, v: VolumeInput) => ResultAsync<unknown, VolkitError>])[] = [
  ["deleteVolume", (b, v) => b.deleteVolume(v)],
  ["extendVolume", (b, v) => b.extendVolume(v, 2)],
  ["createSnapshot", (b, v) => b.createSnapshot({ id: "snap-1", volumeId: v.id, volumeSizeGiB: 1 }, v)],
  ["createClonedVolume", (b, v) => b.createClonedVolume({ id: "cccc", sizeGiB: 1 }, v)],
  ["createExport", (b, v) => b.createExport(v, HOST)],
  ["ensureExport", (b, v) => b.ensureExport(v)],
  ["describeExport", (b, v) => b.describeExport(v)],
  ["initializeConnection", (b, v) => b.initializeConnection(v, HOST)],
  ["terminateConnection", (b, v) => b.terminateConnection(v, HOST)],
  ["removeExport", (b, v) => b.removeExport(v)],
];

/** The call of `op` in a world: on the world's own volume when it made one, with the planted secret in the record where the variant keeps it. */
function callIn(world: DriverWorld, variant: DriverVariant, secret: string, call: (b: VolumeBackend, v: VolumeInput) => ResultAsync<unknown, VolkitError>): () => ResultAsync<unknown, VolkitError> {
  const volume = world.volume ?? variant.volume(secret);
  return () => call(world.backend, volume);
}

/**
 * For a world that talks to its backend over requests (a REST array): each request of a clean run
 * fails in each of the world's modes, quoting the secret; nothing may leak.
 */
async function requestChaos(label: string, variant: DriverVariant, secret: string, call: (b: VolumeBackend, v: VolumeInput) => ResultAsync<unknown, VolkitError>): Promise<number> {
  const clean = await variant.world((inner) => inner, new Sinks(), secret);
  if (!clean.requests) {
    await clean.close?.();
    return 0;
  }
  void (await callIn(clean, variant, secret, call)());
  const count = clean.requests.count();
  const modes = clean.requests.modes;
  await clean.close?.();
  let runs = 0;
  for (let failAt = 0; failAt < count; failAt++) {
    for (const mode of modes) {
      const sinks = new Sinks();
      const world = await variant.world((inner) => inner, sinks, secret);
      try {
        world.requests?.failAt(failAt, mode, secret);
        hostile(sinks, secret);
        expectNoLeak(await reported(callIn(world, variant, secret, call), sinks), secret, `${label}: request #${failAt + 1}, ${mode}`);
        runs++;
      } finally {
        await world.close?.();
      }
    }
  }
  return runs;
}

describe("drivers through the runtime: a planted secret survives no failure mode", () => {
  for (const [name, driverCase] of Object.entries(DRIVER_CASES)) {
    for (const variant of driverCase.variants) {
      const secret = variant.secret ?? SECRET;
      it.each(OPERATIONS.map(([op, call]) => [op, call] as const))(`${name} (${variant.label}): %s`, async (op, call) => {
        const worlds: DriverWorld[] = [];
        let runs = 0;
        try {
          runs += await chaos(`${variant.label} ${op}`, async (wrap, sinks) => {
            const world = await variant.world((inner) => wrap(inner, secret), sinks, secret);
            worlds.push(world);
            return { call: callIn(world, variant, secret, call), secret };
          });
        } finally {
          for (const w of worlds) await w.close?.();
        }
        runs += await requestChaos(`${variant.label} ${op}`, variant, secret, call);
        // An operation the variant serves without a command or a request has nothing to fail.
        if (variant.untouched?.includes(op)) expect(runs, `${op} ran a command or sent a request`).toBe(0);
        else expect(runs).toBeGreaterThan(0);
      }, 120_000);
    }
  }
});

describe("the iSCSI connector: CHAP and discovery CHAP survive no failure mode", () => {
  const info = {
    type: "iscsi",
    volumeId: "aaaa",
    targetIqn: IQN,
    targetPortal: P1,
    targetLun: 0,
    targetPortals: [P1, P2],
    targetIqns: [IQN, IQN],
    targetLuns: [0, 0],
    authMethod: "CHAP",
    authUsername: "user-aaaa",
    authPassword: SECRET,
  } satisfies ConnectionInfoInput;
  // Every chaos run builds a fresh simulated host (a temp sysfs tree each): remove them all.
  const hosts: FakeIscsiHost[] = [];
  afterEach(() => {
    for (const h of hosts.splice(0)) h.cleanup();
  });
  const build = (multipath: boolean) => (wrap: (inner: CommandRunner) => CommandRunner, sinks: Sinks) => {
    const host = new FakeIscsiHost();
    hosts.push(host);
    host.addTarget(IQN, [P1, P2], { 0: { wwid: WWID, sizeBytes: 64 * MiB } }, { username: "user-aaaa", password: SECRET });
    const connector = createIscsiConnector(
      { multipath, poll: { minMs: 1, maxMs: 4 }, timeouts: { deviceMs: 300, mapMs: 300, removeMs: 300 } },
      { runner: wrap(host.runner), hostFs: host.fs, resolveHost: (h) => Promise.resolve([h]), logger: sinks.logger, events: sinks.events },
    )._unsafeUnwrap();
    return Promise.resolve({ host, connector });
  };

  it.each([true, false])("connectVolume (multipath %s)", async (multipath) => {
    const runs = await chaos(`iscsi connect multipath=${multipath}`, async (wrap, sinks) => {
      const { connector } = await build(multipath)((inner) => wrap(inner, SECRET), sinks);
      return { call: () => connector.connectVolume(info), secret: SECRET };
    });
    expect(runs).toBeGreaterThan(0);
  }, 300_000);

  it("disconnectVolume and extendVolume of an attached volume", async () => {
    for (const method of ["disconnectVolume", "extendVolume"] as const) {
      const runs = await chaos(`iscsi ${method}`, async (wrap, sinks) => {
        let failing = false;
        const { connector } = await build(true)((inner) => {
          const chaotic = wrap(inner, SECRET);
          return { description: "attach first", run: (spec) => (failing ? chaotic.run(spec) : inner.run(spec)) };
        }, sinks);
        const device = (await connector.connectVolume(info))._unsafeUnwrap();
        failing = true;
        return { call: () => (method === "disconnectVolume" ? connector.disconnectVolume(info, device) : connector.extendVolume(info, device)), secret: SECRET };
      });
      expect(runs).toBeGreaterThan(0);
    }
  }, 300_000);
});

describe("the attach flow: a connector's failure quoting a registered secret leaks nowhere, rollback included", () => {
  it.each(["connectVolume", "disconnectVolume"] as const)("%s fails", async (method) => {
    const sinks = new Sinks();
    hostile(sinks, SECRET);
    const backend = wrapDriver(new MemoryVolumeDriver(), { name: "mem", logger: sinks.logger, events: sinks.events });
    const created = (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    // The caller's stored record: validated (as attachVolume does) before the connector fails, as a
    // real connector's error is made after the record reached volkit.
    const volume = VolumeSchema.parse({ ...created, providerAuth: `CHAP user-v1 ${SECRET}` });
    const connector = new FakeConnector();
    connector.failNext(method === "connectVolume" ? "connectVolume" : "disconnectVolume", failureQuoting(SECRET));
    const text = await reported(() => attachVolume(backend, volume, { connector, disk: { target: { dev: "vdb", bus: "virtio" } } }), sinks);
    expectNoLeak(text, SECRET, `attach with ${method} failing`);
  });
});

describe("secrets only a file the library reads holds (defect 2)", () => {
  const LIO_SAVE = "/etc/rtslib-fb-target/saveconfig.json";
  const otherVolume = (secret: string): string =>
    JSON.stringify({
      storage_objects: [{ name: "volume-other", plugin: "block", dev: "/dev/vg/volume-other", wwn: "x" }],
      targets: [
        {
          fabric: "iscsi",
          wwn: "iqn.2010-10.org.openstack:volume-other",
          tpgs: [
            {
              tag: 1,
              enable: true,
              attributes: { authentication: 1, generate_node_acls: 0 },
              portals: [{ ip_address: "127.0.0.1", port: 3260 }],
              luns: [{ index: 0, storage_object: "/backstores/block/volume-other" }],
              node_acls: [{ node_wwn: "iqn.1994-05.com.redhat:other", chap_userid: "user-other", chap_password: secret, chap_mutual_password: `${secret}M`, mapped_luns: [{ index: 0, tpg_lun: 0 }] }],
            },
          ],
        },
      ],
    });

  async function lioBackend(wrap: (inner: CommandRunner) => CommandRunner, sinks: Sinks, saveconfig: string, onDisk = saveconfig): Promise<VolumeBackend> {
    const lio = new FakeLio();
    lio.runner.on(["test"], {});
    lio.load(saveconfig, LIO_SAVE);
    lio.files.set(LIO_SAVE, onDisk); // what `cat` shows (a corrupted file's state cannot be loaded)
    const variant = DRIVER_CASES.lvm?.variants.find((v) => v.label === "lvm with LIO") as DriverVariant;
    const { createBackend } = await import("../../../src/drivers/registry.js");
    const { FakeRunner } = await import("../../../src/testing/fake-runner.js");
    const { readFileSync } = await import("node:fs");
    const fx = (n: string): string => readFileSync(new URL(`../../fixtures/lvm/${n}`, import.meta.url), "utf8");
    const lvm = new FakeRunner({ strict: false }).on(["vgs"], { stdout: fx("vgs-thick-plain.json") }).on(["lvs"], { stdout: fx("lvs-thick-plain.json") });
    const runner: CommandRunner = { description: "lio", run: (spec) => (["targetcli", "test"].includes(spec.argv[0]) || (spec.argv[0] === "cat" && spec.argv.at(-1) === LIO_SAVE) ? lio.runner : lvm).run(spec) };
    return (await createBackend(variant.config as never, { runner: wrap(runner), logger: sinks.logger, events: sinks.events }))._unsafeUnwrap();
  }

  it("issue 14, defect 2: a corrupted saveconfig.json leaks no piece of another volume's CHAP secret (message, toJSON, operation:end, warn log, util.inspect)", async () => {
    for (const cut of [0.2, 0.45, 0.5, 0.55, 0.7]) {
      const other = freshSecret("OtherVolSecret");
      const text = otherVolume(other);
      const at = text.indexOf(other) + Math.floor(other.length * cut);
      // A byte that breaks the JSON right inside (or next to) the other volume's secret.
      const corrupted = `${text.slice(0, at)}"}${text.slice(at)}`;
      const sinks = new Sinks();
      const backend = await lioBackend((r) => r, sinks, text, corrupted);
      const result = await backend.createExport({ id: "aaaa", sizeGiB: 1 }, HOST);
      const e = result._unsafeUnwrapErr();
      expect(e.code).toBe("PARSE_ERROR");
      expect(e.message).toMatch(/^LIO saveconfig is not valid JSON at byte \d+ \(line \d+\): /);
      const end = sinks.seen.find((ev) => ev.type === "operation:end");
      expect(end).toMatchObject({ ok: false, errorCode: "PARSE_ERROR" });
      expect(sinks.logs.some((l) => l.level === "warn")).toBe(true);
      expectNoLeak(`${errorText(e)}\n${sinks.text()}`, other, `corrupted at ${cut}`);
    }
  });

  it("another volume's CHAP secrets in a valid saveconfig.json are registered when it is read: later failures echoing them leak nothing", async () => {
    const runs = await chaos("lio other volume", async (wrap, sinks) => {
      const other = freshSecret("LioOther");
      let read = false;
      // Nothing shows the file's secrets before it is read; its own `cat` shows them on stdout only.
      const echoAt = (_i: number, argv: readonly string[]): Echo => {
        if (argv[0] === "cat" && argv.at(-1) === LIO_SAVE) {
          const first = !read;
          read = true;
          return first ? "stdout" : "both";
        }
        return read ? "both" : "none";
      };
      const backend = await lioBackend((inner) => wrap(inner, other, echoAt), sinks, otherVolume(other));
      return { call: () => backend.createExport({ id: "aaaa", sizeGiB: 1 }, HOST), secret: other };
    });
    expect(runs).toBeGreaterThan(0);
  }, 120_000);

  it("the CHAP secret of an existing tgt target file is registered when it is read", async () => {
    const tgt = new FakeTgt();
    const old = freshSecret("TgtOld");
    const dir = "/var/lib/volkit/tgt-volumes";
    tgt.files.set(`${dir}/volume-aaaa`, { content: `<target iqn.2010-10.org.openstack:volume-aaaa>\n  backing-store /dev/volkit-thick/volume-aaaa\n  driver iscsi\n  incominguser user-aaaa ${old}\n  write-cache on\n</target>\n`, mode: "0600" });
    const { parseTgtTargetFile } = await import("../../../src/targets/tgt/tgt-config-file.js");
    const { redactText } = await import("../../../src/core/secrets.js");
    expect(redactText(old)).toBe(old);
    parseTgtTargetFile(tgt.files.get(`${dir}/volume-aaaa`)?.content ?? "")._unsafeUnwrap();
    expect(redactText(`x ${old} y`)).toBe("x *** y");
  });
});
