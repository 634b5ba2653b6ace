/**
 * The libvirt disk builder against libvirt's and QEMU's own tools on this host:
 *
 * - every variant is wrapped in a minimal domain and checked with `virt-xml-validate … domain`,
 *   defined on libvirt's test driver (`virsh -c test:///default define --validate`, then
 *   `dumpxml`, parsed back with volkit's parser and compared) and on libvirt's real QEMU driver
 *   (`qemu:///embed`, no daemon: same define/dumpxml round trip, with the QEMU driver's own
 *   define-time validation against the installed QEMU);
 * - file-backed variants are started under the QEMU driver (TCG, no KVM, no display), so QEMU
 *   itself accepts them;
 * - the whole option space (test/fixtures/libvirt/matrix.ts, about 11 400 inputs): every input
 *   the builder accepts (about 3 200) is validated against libvirt's domain schema (one xmllint per
 *   500 documents, what virt-xml-validate runs), defined in libvirt's QEMU driver (one virsh
 *   session for all, on tmpfs: a few seconds) and read back with dumpxml; the last accepted
 *   file-backed input of each layer and bus is started under QEMU;
 * - `attach-device --config` on a defined domain (QEMU driver: the test driver of libvirt 9.0
 *   does not implement attach, which one test shows);
 * - every refused combination is forced through (rendered without checks, test/fixtures/libvirt/
 *   forced-cases.ts) and the table `DISK_RULES[rule].enforcedBy` is verified: each tool listed
 *   there refuses it, each tool not listed accepts it (`nobody` rules: everything accepts it, QEMU
 *   included), measured in batches.
 *
 * Debian packages: libvirt-clients (virsh, virt-xml-validate), libxml2-utils (xmllint, used by
 * virt-xml-validate), libvirt-daemon-driver-qemu (the embedded QEMU driver), qemu-system-x86
 * and qemu-utils (qemu-img, qemu-io). Run as root, the QEMU-driver parts drop to uid 65534 with
 * setpriv (an embedded driver run by root wants the libvirt-qemu user of libvirt-daemon-system).
 * No network: iSCSI sources name 127.0.0.1/127.0.0.2, RBD monitors loopback addresses (127.0.0.x,
 * ::1, localhost), and none of them is contacted (network disks are defined, never started), except
 * the private tgtd on 127.0.0.1 of the network-mode test.
 *
 *   npx vitest run --project host test/host/libvirt.host.test.ts
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildDiskXml,
  DISK_RULES,
  parseDiskXml,
  parseDomainDisks,
  renderDiskXml,
  resolveDisk,
  type DiskDefinition,
  type DiskRule,
  type DiskXmlInput,
  type RuleEnforcer,
} from "../../src/libvirt/index.js";
import { variantMatrix } from "../fixtures/libvirt/matrix.js";
import { iscsiSingle, singlePathDevice, variants, type Variant } from "../fixtures/libvirt/variants.js";
import { forcedCases } from "../fixtures/libvirt/forced-cases.js";
import { controllersFor, defineBatch, domainXml, dumpBatch, PATH, run, schemaBatch, startBatch, type Run } from "../fixtures/libvirt/virsh-batch.js";
import { freeLoopbackPort } from "../../src/testing/loopback-port.js";

const TOOLS = ["virsh", "virt-xml-validate", "xmllint", "qemu-system-x86_64", "qemu-img", "qemu-io", "setpriv", "libvirtd", "tgtd", "tgtadm", "tgt-admin"];
const MISSING_TOOLS = TOOLS.filter((t) => run("sh", ["-c", 'command -v "$1"', "sh", t]).status !== 0);
const HAVE_VIRSH = !MISSING_TOOLS.includes("virsh");
const HAVE_VALIDATE = !MISSING_TOOLS.includes("virt-xml-validate") && !MISSING_TOOLS.includes("xmllint");
const HAVE_QEMU = !["qemu-system-x86_64", "qemu-img", "qemu-io"].some((t) => MISSING_TOOLS.includes(t));
const IS_ROOT = process.getuid?.() === 0;
const APT = "apt-get install -y libvirt-clients libxml2-utils libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils qemu-block-extra tgt";

// ---------------------------------------------------------------------------------------------
// Workspace: images for file-backed variants, domain files, the embedded QEMU driver's root.

const work = mkdtempSync(join(tmpdir(), "volkit-libvirt-"));
chmodSync(work, 0o755);
const mountDir = join(work, "mnt");
const files = join(work, "xml");
const embedRoot = join(work, "embed");
for (const d of [mountDir, files, embedRoot]) {
  mkdirSync(d, { recursive: true });
  chmodSync(d, d === embedRoot ? 0o777 : 0o755);
}
mkdirSync(join(embedRoot, "etc"), { recursive: true });
// Without a daemon there is no virtlogd: let QEMU's output go to a plain log file.
writeFileSync(join(embedRoot, "etc", "qemu.conf"), 'stdio_handler = "file"\n', { mode: 0o644 });
// The embedded driver runs as uid 65534 when we are root (see DROP_ROOT) and creates its tree here.
if (IS_ROOT) for (const p of [embedRoot, join(embedRoot, "etc"), join(embedRoot, "etc", "qemu.conf")]) chownSync(p, 65534, 65534);
afterAll(() => {
  // A failed test may leave a guest running: stop every domain still known to the embedded driver.
  if (EMBED_OK) {
    for (const name of embed(["list", "--name"]).stdout.split("\n").filter(Boolean)) embed(["destroy", name]);
  }
  rmSync(work, { recursive: true, force: true });
});

const ALL = variants(mountDir);
if (HAVE_QEMU) {
  for (const v of ALL) {
    if (!v.file) continue;
    const path = join(mountDir, v.file.name);
    const made = run("qemu-img", ["create", "-q", "-f", v.file.format, path, "16M"]);
    if (made.status !== 0) throw new Error(`qemu-img create ${path}: ${made.stderr}`);
    chmodSync(path, 0o666);
  }
}

const DROP_ROOT = IS_ROOT ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];

/** virsh on libvirt's QEMU driver embedded in the virsh process (state kept under embedRoot). */
const EMBED_VIRSH = [...DROP_ROOT, "virsh", "-q", "-c", `qemu:///embed?root=${embedRoot}`];
const EMBED_ENV = { ...process.env, HOME: embedRoot, LC_ALL: "C" };
function embed(args: readonly string[]): Run {
  const argv = [...EMBED_VIRSH, ...args];
  return run(argv[0] ?? "virsh", argv.slice(1), EMBED_ENV);
}

/** Several commands in one embedded QEMU-driver session (stdin). */
function embedBatch(commands: readonly string[]): Run {
  return run(EMBED_VIRSH[0] ?? "virsh", EMBED_VIRSH.slice(1), EMBED_ENV, commands.map((c) => `${c}\n`).join(""), 300_000);
}

/** Several virsh commands in one process on the test driver (its state lives in the process). */
function testDriver(commands: readonly string[]): Run {
  return run("virsh", ["-q", "-c", "test:///default", commands.join("; ")], { ...process.env, LC_ALL: "C" });
}

const EMBED_OK = HAVE_VIRSH && HAVE_QEMU && embed(["uri"]).status === 0;

// Missing prerequisites fail the suite (never a silent skip): `npm test` runs the host suite as root.
it("has its prerequisites (root, libvirt clients and QEMU driver, QEMU, tgt)", () => {
  expect(MISSING_TOOLS, `missing tools (${APT})`).toEqual([]);
  expect(IS_ROOT, "needs root: tgtd serves the network-mode test").toBe(true);
  expect(EMBED_OK, "libvirt's QEMU driver does not load (apt-get install -y libvirt-daemon-driver-qemu)").toBe(true);
});

let counter = 0;
/** Writes `text` to a fresh file every user can read and returns its path. */
function writeFile(stem: string, text: string): string {
  const path = join(files, `${String(++counter).padStart(3, "0")}-${stem}.xml`);
  writeFileSync(path, text, { mode: 0o644 });
  return path;
}

function domainName(stem: string): string {
  return `volkit-${stem}`.replace(/[^A-Za-z0-9_-]/g, "-");
}

const errorText = (r: Run): string => r.stderr.split("\n").filter((l) => l.startsWith("error:") || /Relax-NG|fails to validate/.test(l)).join(" | ");

/**
 * `actual` (read back from libvirt) in the terms of `expected`: an address libvirt assigned is
 * dropped unless we set one, and of an address we set only the fields we gave are kept (libvirt
 * fills in the rest).
 */
function comparable(actual: DiskDefinition, expected: DiskDefinition): DiskDefinition {
  const { address, ...rest } = actual;
  const want = expected.address;
  if (want === undefined || address === undefined) return want === undefined ? rest : actual;
  const given = Object.fromEntries(Object.entries(address).filter(([k]) => k in want));
  return { ...rest, address: given as NonNullable<DiskDefinition["address"]> };
}

function findDisk(domain: string, dev: string): DiskDefinition {
  const disks = parseDomainDisks(domain)._unsafeUnwrap();
  const disk = disks.find((d) => d.target.dev === dev);
  if (!disk) throw new Error(`no disk ${dev} in:\n${domain}`);
  return disk;
}

const byName = (name: string): Variant => {
  const v = ALL.find((x) => x.name === name);
  if (!v) throw new Error(`no variant ${name}`);
  return v;
};

// ---------------------------------------------------------------------------------------------

describe.skipIf(!HAVE_VIRSH || !HAVE_VALIDATE)("every generated variant against libvirt 9.0", () => {
  it(`covers ${ALL.length} variants`, () => {
    expect(ALL.length).toBeGreaterThanOrEqual(25);
  });

  describe.each(ALL.map((v) => [v.name, v] as const))("%s", (_name, variant) => {
    const xml = buildDiskXml(variant.input)._unsafeUnwrap();
    const expected = parseDiskXml(xml)._unsafeUnwrap();
    const name = domainName(variant.name);
    const controllers = controllersFor(variant.input);

    it("is valid against libvirt's domain schema (virt-xml-validate)", () => {
      const file = writeFile(`${variant.name}-test`, domainXml(name, "test", [xml], controllers));
      const r = run("virt-xml-validate", [file, "domain"]);
      expect(r.status, `${r.stderr}\n${xml}`).toBe(0);
    });

    it("survives define --validate and dumpxml on the test driver", () => {
      const file = writeFile(`${variant.name}-test`, domainXml(name, "test", [xml], controllers));
      const r = testDriver([`define --validate ${file}`, `dumpxml --inactive ${name}`, `undefine ${name}`]);
      expect(errorText(r), xml).toBe("");
      expect(comparable(findDisk(r.stdout, expected.target.dev), expected)).toEqual(expected);
    });

    it.skipIf(!EMBED_OK)("survives define --validate and dumpxml on the QEMU driver", () => {
      const file = writeFile(`${variant.name}-qemu`, domainXml(name, "qemu", [xml], controllers));
      const defined = embed(["define", "--validate", file]);
      try {
        expect(errorText(defined), xml).toBe("");
        const dumped = embed(["dumpxml", "--inactive", name]);
        expect(dumped.status, dumped.stderr).toBe(0);
        expect(comparable(findDisk(dumped.stdout, expected.target.dev), expected)).toEqual(expected);
      } finally {
        embed(["undefine", name]);
      }
    });

    // Block and network sources name devices and portals that do not exist here: only
    // file-backed variants can run.
    if (variant.file === undefined) return;
    it.skipIf(!EMBED_OK)("starts under QEMU (TCG) with the real image", () => {
      const file = writeFile(`${variant.name}-start`, domainXml(name, "qemu", [xml]));
      expect(errorText(embed(["define", file])), xml).toBe("");
      try {
        const started = embed(["start", name]);
        expect(errorText(started), xml).toBe("");
        expect(embed(["domstate", name]).stdout.trim()).toBe("running");
      } finally {
        embed(["destroy", name]);
        embed(["undefine", name]);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The whole option space: every input of the generated matrix the builder accepts.

describe.skipIf(!EMBED_OK || !HAVE_VALIDATE)("every input of the option matrix the builder accepts, against libvirt's schema and QEMU driver", () => {
  const accepted = variantMatrix(mountDir).flatMap((c, i) => {
    const disk = resolveDisk(c.input);
    return disk.isOk() ? [{ c, disk: disk.value, xml: renderDiskXml(disk.value)._unsafeUnwrap(), name: `volkit-m${i}` }] : [];
  });
  // Thousands of small domain files: on tmpfs when there is one (the embedded driver writes each config).
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dir = mkdtempSync(join(base, "volkit-libvirt-matrix-"));
  const root = join(dir, "embed");
  const virsh = [...DROP_ROOT, "virsh", "-q", "-c", `qemu:///embed?root=${root}`];
  const env = { ...process.env, HOME: root, LC_ALL: "C" };
  let schemaFiles: string[] = [];
  let qemuFiles: string[] = [];
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(() => {
    chmodSync(dir, 0o755);
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc", "qemu.conf"), 'stdio_handler = "file"\n', { mode: 0o644 });
    if (IS_ROOT) for (const p of [root, join(root, "etc"), join(root, "etc", "qemu.conf")]) chownSync(p, 65534, 65534);
    const write = (file: string, text: string): string => {
      writeFileSync(join(dir, file), text, { mode: 0o644 });
      return join(dir, file);
    };
    schemaFiles = accepted.map((a) => write(`${a.name}-test.xml`, domainXml(a.name, "test", [a.xml], controllersFor(a.c.input))));
    qemuFiles = accepted.map((a) => write(`${a.name}.xml`, domainXml(a.name, "qemu", [a.xml], controllersFor(a.c.input))));
  });

  it("accepts thousands of inputs", () => {
    expect(accepted.length).toBeGreaterThan(3000);
  });

  it("is valid against libvirt's domain schema (the schema virt-xml-validate uses, one xmllint per 500 documents)", () => {
    const invalid = [...schemaBatch(schemaFiles)].map(([file, why]) => `${accepted[schemaFiles.indexOf(file)]?.c.name}: ${why}`);
    expect(invalid.slice(0, 20), `${invalid.length} invalid`).toEqual([]);
  }, 600_000);

  it("is defined by libvirt's QEMU driver, every one, and dumpxml gives each disk back", () => {
    const started = performance.now();
    const defined = defineBatch(virsh, env, qemuFiles, 900_000);
    const seconds = (performance.now() - started) / 1000;
    console.log(`libvirt's QEMU driver defined ${accepted.length - defined.errors.size} of ${accepted.length} matrix inputs in ${seconds.toFixed(1)} s`);
    const refused = [...defined.errors].map(([file, why]) => `${accepted[qemuFiles.indexOf(file)]?.c.name}: ${why}`);
    expect(refused.slice(0, 20), `${refused.length} refused\n${defined.run.stderr.slice(0, 2000)}`).toEqual([]);

    const dumped = dumpBatch(virsh, env, accepted.map((a) => a.name), 900_000);
    const changed = accepted.flatMap((a) => {
      const doc = dumped.get(a.name);
      if (doc === undefined) return [`${a.c.name}: no dumpxml`];
      const back = comparable(findDisk(doc, a.disk.target.dev), a.disk);
      return isDeepStrictEqual(back, a.disk) ? [] : [`${a.c.name}: libvirt gave back ${JSON.stringify(back)}, volkit wrote ${JSON.stringify(a.disk)}`];
    });
    expect(changed.slice(0, 10), `${changed.length} changed`).toEqual([]);
  }, 900_000);

  it("starts under QEMU (TCG): the last accepted file-backed input of each layer and bus", () => {
    const last = new Map<string, (typeof accepted)[number]>();
    for (const a of accepted) {
      // Encrypted inputs need a libvirt secret the embedded driver cannot hold.
      if (!a.c.file || a.c.input.options.encryption !== undefined) continue;
      last.set(`${a.c.name.split(" ")[0] ?? ""} ${a.disk.target.bus ?? ""}`, a);
    }
    const sample = [...last.values()];
    const files = sample.map((a) => writeFile(`${a.name}-start`, domainXml(a.name, "qemu", [a.xml], controllersFor(a.c.input))));
    const started = startBatch(EMBED_VIRSH, EMBED_ENV, sample.map((a, i) => [files[i] ?? "", a.name] as const), 900_000, embedRoot);
    const failed = sample.flatMap((a) => (started.errors.has(a.name) ? [`${a.c.name}: ${started.errors.get(a.name) ?? ""}`] : []));
    expect(sample.length).toBeGreaterThanOrEqual(20);
    expect(failed).toEqual([]);
  }, 900_000);
});

describe.skipIf(!EMBED_OK)("attach-device --config", () => {
  it("is not implemented by libvirt 9.0's test driver (which is why the QEMU driver is used here)", () => {
    const base = writeFile("attach-base-test", domainXml("volkit-attach", "test", []));
    const disk = writeFile("attach-disk-test", buildDiskXml(byName("iscsi-multipath").input)._unsafeUnwrap());
    const r = testDriver([`define ${base}`, `attach-device volkit-attach ${disk} --config`]);
    expect(r.stderr).toMatch(/not supported by the connection driver: virDomainAttachDeviceFlags/);
  });

  it("attaches several variants to a defined domain and dumpxml shows each of them", () => {
    const base = writeFile("attach-base", domainXml("volkit-attach", "qemu", []));
    expect(errorText(embed(["define", "--validate", base]))).toBe("");
    try {
      const picked = ["iscsi-multipath", "nfs-qcow2", "network-chap-uuid", "lun-scsi", "shareable"].map(byName);
      // Target names must differ within one domain.
      const devs = ["vdb", "vdc", "vdd", "sda", "vde"];
      const expected: DiskDefinition[] = [];
      picked.forEach((v, i) => {
        const dev = devs[i] ?? "vdz";
        const input: DiskXmlInput = { ...v.input, options: { ...v.input.options, target: { ...v.input.options.target, dev } } };
        const xml = buildDiskXml(input)._unsafeUnwrap();
        expected.push(parseDiskXml(xml)._unsafeUnwrap());
        const r = embed(["attach-device", "volkit-attach", writeFile(`attach-${v.name}`, xml), "--config"]);
        expect(errorText(r), xml).toBe("");
      });
      const dumped = embed(["dumpxml", "--inactive", "volkit-attach"]).stdout;
      for (const e of expected) expect(comparable(findDisk(dumped, e.target.dev), e)).toEqual(e);
    } finally {
      embed(["undefine", "volkit-attach"]);
    }
  });

  it("refuses a forced io=native + cache=writeback disk, as buildDiskXml does", () => {
    const input: DiskXmlInput = { connection: iscsiSingle, device: singlePathDevice, options: { target: { dev: "vdb", bus: "virtio" }, driver: { cache: "writeback", io: "native" } } };
    expect(buildDiskXml(input)._unsafeUnwrapErr().details.rule).toBe("io-native-cache");
    const base = writeFile("attach-base2", domainXml("volkit-attach2", "qemu", []));
    expect(errorText(embed(["define", base]))).toBe("");
    try {
      const disk = resolveDisk({ ...input, options: { target: { dev: "vdb", bus: "virtio" } } })._unsafeUnwrap();
      const forced = renderDiskXml({ ...disk, driver: { ...disk.driver, cache: "writeback", io: "native" } })._unsafeUnwrap();
      const r = embed(["attach-device", "volkit-attach2", writeFile("attach-forced", forced), "--config"]);
      expect(r.stderr).toMatch(/io='native' needs either no disk cache or directsync cache mode/);
    } finally {
      embed(["undefine", "volkit-attach2"]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Forced-through refusals.

const FORCED = forcedCases(mountDir);

const MEASURED: readonly RuleEnforcer[] = ["libvirt-schema", "libvirt", "libvirt-qemu", "qemu"];

describe.skipIf(!EMBED_OK || !HAVE_VALIDATE)("refused combinations forced through libvirt and QEMU", () => {
  it("has a forced case for every rule that has an XML form", () => {
    const covered = new Set(FORCED.map((f) => f.rule));
    const missing = (Object.keys(DISK_RULES) as DiskRule[]).filter((r) => !covered.has(r) && !DISK_RULES[r].enforcedBy.includes("input"));
    // multipath-single-path is valid XML by construction (a member path is a block device too).
    expect(missing).toEqual(["multipath-single-path"]);
  });

  /** Every tool's verdict on every forced case, measured in batches: one xmllint, one test-driver and one QEMU-driver session. */
  const verdicts = new Map<number, Partial<Record<RuleEnforcer, Run>>>();
  beforeAll(() => {
    const cases = FORCED.map((f, i) => {
      const name = domainName(`forced-${i}-${f.rule.replace(/^(field|default):/, "")}`);
      return { f, i, name, testFile: writeFile(`${name}-test`, domainXml(name, "test", [f.xml])), qemuFile: writeFile(`${name}-qemu`, domainXml(name, "qemu", [f.xml])) };
    });
    const verdict = (error: string | undefined): Run => ({ status: error === undefined ? 0 : 1, stdout: "", stderr: error ?? "" });
    const schema = schemaBatch(cases.map((c) => c.testFile));
    const test = defineBatch(["virsh", "-q", "-c", "test:///default"], { ...process.env, LC_ALL: "C" }, cases.map((c) => c.testFile), 300_000);
    const defined = defineBatch(EMBED_VIRSH, EMBED_ENV, cases.map((c) => c.qemuFile), 300_000);
    embedBatch(cases.filter((c) => !defined.errors.has(c.qemuFile)).map((c) => `undefine ${c.name}`));
    const startable = cases.filter((c) => c.f.startable === true && c.f.qemu === undefined && !defined.errors.has(c.qemuFile));
    const started = startBatch(EMBED_VIRSH, EMBED_ENV, startable.map((c) => [c.qemuFile, c.name] as const), 600_000, embedRoot);
    for (const c of cases) {
      const v: Partial<Record<RuleEnforcer, Run>> = {
        "libvirt-schema": verdict(schema.get(c.testFile)),
        libvirt: verdict(test.errors.get(c.testFile)),
        "libvirt-qemu": verdict(defined.errors.get(c.qemuFile)),
      };
      if (c.f.qemu) v.qemu = c.f.qemu();
      else if (startable.includes(c)) v.qemu = verdict(started.errors.get(c.name));
      verdicts.set(c.i, v);
    }
  }, 900_000);

  it.each(FORCED.map((f, i) => [`${f.rule} #${i}`, f, i] as const))("%s", (_label, f, i) => {
    const isRule = f.rule in DISK_RULES;
    const expectedEnforcers = f.enforcedBy ?? (isRule ? DISK_RULES[f.rule as DiskRule].enforcedBy : []);
    const expectRefusal = (e: RuleEnforcer): boolean => expectedEnforcers.includes(e) || (e === "libvirt-qemu" && expectedEnforcers.includes("libvirt"));

    // volkit refuses the input first.
    if (f.input) {
      const refused = buildDiskXml(f.input)._unsafeUnwrapErr();
      expect(refused.code).toBe("INVALID_ARGUMENT");
      if (isRule) expect(refused.details.rule).toBe(f.rule);
    }
    const measured = verdicts.get(i);
    if (measured === undefined) throw new Error(`no verdicts for forced case ${i}`);
    const verdictsOf = measured;
    const summary = MEASURED.map((e) => {
      const v = verdictsOf[e];
      return `${e}: ${v === undefined ? "not measured" : v.status === 0 ? "accepts" : `refuses (${errorText(v) || v.stderr.trim()})`}`;
    }).join("\n");
    for (const e of MEASURED) {
      const v = verdictsOf[e];
      if (v === undefined) {
        // Whatever a rule claims QEMU refuses must be shown; "nobody" rules must be shown accepted by QEMU when possible.
        expect(expectRefusal(e), `${e} must be measured for ${f.rule}\n${summary}`).toBe(false);
        continue;
      }
      expect(v.status !== 0, `${f.rule}: ${e} ${expectRefusal(e) ? "should refuse" : "should accept"}\n${summary}\n${f.xml}`).toBe(expectRefusal(e));
      const m = f.messages?.[e];
      if (m) expect(`${v.stderr}${v.stdout}`).toMatch(m);
    }
    if (expectedEnforcers.includes("nobody")) {
      expect(verdictsOf.qemu?.status, `a 'nobody' rule must be shown accepted by QEMU too\n${summary}`).toBe(0);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Network mode end to end: QEMU's own initiator (libiscsi) logs in to a private tgtd.

describe.skipIf(!IS_ROOT || MISSING_TOOLS.length > 0)("network mode end to end: QEMU logs in to a private tgtd with CHAP from a libvirt secret", () => {
  // libvirt's embedded QEMU driver cannot reach a secret driver (it refuses non-direct
  // connections), so this part uses qemu:///session: a per-user libvirtd that virsh starts
  // (as uid 65534 when we are root) under a private HOME and XDG_RUNTIME_DIR, stopped afterwards.
  const home = join(work, "session");
  const runtime = join(home, "run");
  const env = { ...process.env, HOME: home, XDG_RUNTIME_DIR: runtime, LC_ALL: "C" };
  const session = (args: readonly string[]): Run => {
    const argv = [...DROP_ROOT, "virsh", "-q", "-c", "qemu:///session", ...args];
    return run(argv[0] ?? "virsh", argv.slice(1), env);
  };
  const tgtIqn = "iqn.2010-10.org.openstack:volume-e2e";
  const initiator = "iqn.2026-11.io.volkit:compute-e2e";
  const secretUuid = "5d6c7b8a-9f0e-4d1c-8b2a-3e4f5a6b7c8d";
  const password = `E2e-${randomBytes(12).toString("base64url")}`;
  let tgtd: ChildProcess | undefined;
  let control = 0;
  let port = 0;

  const tgtadm = (...args: string[]): Run => run("tgtadm", ["-C", String(control), "--lld", "iscsi", ...args]);
  const secretValue = (value: string): Run => {
    const file = join(home, "secret-value");
    writeFileSync(file, value, { mode: 0o600 });
    if (IS_ROOT) chownSync(file, 65534, 65534);
    try {
      return session(["secret-set-value", secretUuid, "--file", file, "--plain"]);
    } finally {
      rmSync(file, { force: true });
    }
  };
  const connection = () =>
    ({ type: "iscsi", volumeId: "vol-e2e", targetIqn: tgtIqn, targetPortal: `127.0.0.1:${port}`, targetLun: 1, authMethod: "CHAP", authUsername: "volkit-e2e", authPassword: password }) as const;
  const domainFor = (name: string, withInitiator: boolean): string => {
    const xml = buildDiskXml({
      connection: connection(),
      options: { mode: "network", chapSecret: { uuid: secretUuid }, ...(withInitiator ? { initiatorIqn: initiator } : {}), target: { dev: "vdb", bus: "virtio" } },
    })._unsafeUnwrap();
    expect(xml).not.toContain(password);
    return writeFile(name, domainXml(name, "qemu", [xml]));
  };
  /** Starts and stops the domain; a failed start also reports QEMU's own log (libvirt may not quote it). */
  const startAndStop = (name: string, file: string): Run => {
    expect(errorText(session(["define", "--validate", file]))).toBe("");
    try {
      const started = session(["start", name]);
      if (started.status === 0) expect(session(["domstate", name]).stdout.trim()).toBe("running");
      const log = join(home, ".cache", "libvirt", "qemu", "log", `${name}.log`);
      return started.status === 0 || !existsSync(log) ? started : { ...started, stderr: `${started.stderr}${readFileSync(log, "utf8")}` };
    } finally {
      session(["destroy", name]);
      session(["undefine", name]);
    }
  };

  beforeAll(async () => {
    for (const d of [home, runtime]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      if (IS_ROOT) chownSync(d, 65534, 65534);
    }
    for (;;) {
      control = 20000 + Math.floor(Math.random() * 12000);
      if (!existsSync(`/var/run/tgtd/socket.${control}`)) break;
    }
    port = await freeLoopbackPort();
    tgtd = spawn("tgtd", ["-f", "-C", String(control), "--iscsi", `portal=127.0.0.1:${port}`], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, PATH } });
    for (let i = 0; i < 100 && tgtadm("--op", "show", "--mode", "sys").status !== 0; i++) await sleep(50);
    const lun = join(work, "e2e-lun.img");
    expect(run("qemu-img", ["create", "-q", "-f", "raw", lun, "16M"]).status).toBe(0);
    // CHAP user and password go through a 0600 config file, never argv.
    const conf = join(work, "e2e-tgt.conf");
    writeFileSync(conf, `<target ${tgtIqn}>\n  backing-store ${lun}\n  incominguser volkit-e2e ${password}\n  initiator-name ${initiator}\n</target>\n`, { mode: 0o600 });
    const applied = run("tgt-admin", ["-C", String(control), "--conf", conf, "--update", "ALL"]);
    rmSync(conf, { force: true });
    expect(applied.status, applied.stderr).toBe(0);
    // tgt-admin also binds ALL; leave only our initiator in the ACL.
    tgtadm("--op", "unbind", "--mode", "target", "--tid", "1", "-I", "ALL");
    expect(tgtadm("--op", "show", "--mode", "target").stdout).toMatch(new RegExp(`ACL information:\\n\\s+${initiator.replace(/\./g, "\\.")}\\n`));

    const secretXml = writeFile("e2e-secret", `<secret ephemeral='no' private='yes'>\n  <uuid>${secretUuid}</uuid>\n  <usage type='iscsi'><target>volkit-e2e</target></usage>\n</secret>\n`);
    const defined = session(["secret-define", secretXml]);
    expect(defined.status, defined.stderr).toBe(0);
    const set = secretValue(password);
    expect(set.status, set.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const name of session(["list", "--name"]).stdout.split("\n").filter(Boolean)) session(["destroy", name]);
    // The session daemons virsh started for us: stop them by the pids they recorded.
    for (const pidFile of ["libvirtd.pid", "virtlogd.pid"]) {
      const path = join(runtime, "libvirt", pidFile);
      if (!existsSync(path)) continue;
      const pid = Number(readFileSync(path, "utf8").trim());
      if (Number.isInteger(pid) && pid > 1) {
        try {
          process.kill(pid, "SIGTERM");
        } catch {
          // already gone
        }
      }
    }
    if (tgtd && tgtd.exitCode === null) {
      // tgtd ignores SIGTERM while it has targets: the tgt.service ExecStop sequence, then wait.
      tgtadm("--op", "update", "--mode", "sys", "--name", "State", "-v", "offline");
      run("tgt-admin", ["-C", String(control), "--update", "ALL", "-c", "/dev/null", "-f"]);
      tgtadm("--op", "delete", "--mode", "system");
      for (let i = 0; i < 40 && tgtd.exitCode === null; i++) await sleep(50);
      if (tgtd.exitCode === null) tgtd.kill("SIGKILL");
    }
    rmSync(`/var/run/tgtd/socket.${control}`, { force: true });
    rmSync(`/var/run/tgtd/socket.${control}.lock`, { force: true });
  });

  it("starts a guest whose disk QEMU opens over iSCSI with the CHAP password from the secret and our initiator IQN", () => {
    const started = startAndStop("volkit-e2e-ok", domainFor("volkit-e2e-ok", true));
    expect(errorText(started)).toBe("");
  });

  it("is refused by the target's ACL without <initiator> (QEMU's default IQN is not allowed)", () => {
    const started = startAndStop("volkit-e2e-noinit", domainFor("volkit-e2e-noinit", false));
    expect(started.status).not.toBe(0);
    expect(started.stderr).toMatch(/Failed to log in to target\. Status: Target not found/);
  });

  it("is refused by CHAP when the secret holds a wrong password: the password really comes from the secret", () => {
    expect(secretValue("Wrong-password-0000").status).toBe(0);
    try {
      const started = startAndStop("volkit-e2e-badpw", domainFor("volkit-e2e-badpw", true));
      expect(started.status).not.toBe(0);
      expect(started.stderr).toMatch(/Failed to log in to target\. Status: Authentication failure/);
      expect(started.stderr).not.toContain(password);
    } finally {
      expect(secretValue(password).status).toBe(0);
    }
  });
});

