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
 * - `attach-device --config` on a defined domain (QEMU driver: the test driver of libvirt 9.0
 *   does not implement attach, which one test shows);
 * - every refused combination is forced through (rendered without checks) and the table
 *   `DISK_RULES[rule].enforcedBy` is verified: each tool listed there refuses it, each tool not
 *   listed accepts it (`nobody` rules: everything accepts it, QEMU included).
 *
 * Debian packages: libvirt-clients (virsh, virt-xml-validate), libxml2-utils (xmllint, used by
 * virt-xml-validate), libvirt-daemon-driver-qemu (the embedded QEMU driver), qemu-system-x86
 * and qemu-utils (qemu-img, qemu-io). Run as root, the QEMU-driver parts drop to uid 65534 with
 * setpriv (an embedded driver run by root wants the libvirt-qemu user of libvirt-daemon-system).
 * No network: iSCSI sources name 127.0.0.1/127.0.0.2 and are never contacted.
 *
 *   npx vitest run --project host test/host/libvirt.host.test.ts
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildDiskXml,
  DISK_RULES,
  parseDiskXml,
  parseDomainDisks,
  renderDiskXml,
  resolveDisk,
  type DiskAuth,
  type DiskDefinition,
  type DiskRule,
  type DiskXmlInput,
  type NetworkDiskSource,
  type RuleEnforcer,
} from "../../src/libvirt/index.js";
import { iscsiMultipath, iscsiSingle, localLv, lvDevice, nfsDevice, nfsRaw, singlePathDevice, variants, type Variant } from "../fixtures/libvirt/variants.js";

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** PATH with the sbin directories (tgtd, libvirtd) for non-login root shells. */
const PATH = `${process.env.PATH ?? ""}:/usr/sbin:/sbin`;

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Run {
  const r: SpawnSyncReturns<string> = spawnSync(file, args, { encoding: "utf8", timeout: 60_000, env: { ...env, PATH } });
  return { status: r.status ?? (r.error ? 127 : 1), stdout: r.stdout ?? "", stderr: `${r.stderr ?? ""}${r.error ? String(r.error) : ""}` };
}

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
const rawImage = join(mountDir, nfsRaw.name);

const DROP_ROOT = IS_ROOT ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];

/** virsh on libvirt's QEMU driver embedded in the virsh process (state kept under embedRoot). */
function embed(args: readonly string[]): Run {
  const argv = [...DROP_ROOT, "virsh", "-q", "-c", `qemu:///embed?root=${embedRoot}`, ...args];
  return run(argv[0] ?? "virsh", argv.slice(1), { ...process.env, HOME: embedRoot, LC_ALL: "C" });
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

function indent(xml: string, by: string): string {
  return xml
    .trimEnd()
    .split("\n")
    .map((l) => by + l)
    .join("\n");
}

/** A minimal domain around `disks`: enough for the schema, both drivers and a TCG start. */
function domainXml(name: string, type: "test" | "qemu", disks: readonly string[]): string {
  return [
    `<domain type='${type}'>`,
    `  <name>${name}</name>`,
    "  <memory unit='KiB'>65536</memory>",
    "  <os>",
    "    <type arch='x86_64' machine='pc'>hvm</type>",
    "  </os>",
    "  <devices>",
    ...disks.map((d) => indent(d, "    ")),
    "  </devices>",
    "</domain>",
    "",
  ].join("\n");
}

function domainName(stem: string): string {
  return `volkit-${stem}`.replace(/[^A-Za-z0-9_-]/g, "-");
}

const errorText = (r: Run): string => r.stderr.split("\n").filter((l) => l.startsWith("error:") || /Relax-NG|fails to validate/.test(l)).join(" | ");

/** `expected` as libvirt reports it back: auto-assigned addresses are dropped unless we set one. */
function comparable(actual: DiskDefinition, expected: DiskDefinition): DiskDefinition {
  if (expected.address !== undefined || actual.address === undefined) return actual;
  const { address: _ignored, ...rest } = actual;
  return rest;
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

    it("is valid against libvirt's domain schema (virt-xml-validate)", () => {
      const file = writeFile(`${variant.name}-test`, domainXml(name, "test", [xml]));
      const r = run("virt-xml-validate", [file, "domain"]);
      expect(r.status, `${r.stderr}\n${xml}`).toBe(0);
    });

    it("survives define --validate and dumpxml on the test driver", () => {
      const file = writeFile(`${variant.name}-test`, domainXml(name, "test", [xml]));
      const r = testDriver([`define --validate ${file}`, `dumpxml --inactive ${name}`, `undefine ${name}`]);
      expect(errorText(r), xml).toBe("");
      expect(comparable(findDisk(r.stdout, expected.target.dev), expected)).toEqual(expected);
    });

    it.skipIf(!EMBED_OK)("survives define --validate and dumpxml on the QEMU driver", () => {
      const file = writeFile(`${variant.name}-qemu`, domainXml(name, "qemu", [xml]));
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

/** A refused case: what the builder is given, and the XML it would have had to write. */
interface Forced {
  /** Combination rule (or a field-level check, named `field:<what>`). */
  readonly rule: DiskRule | `field:${string}`;
  /** The input the builder refuses (omitted for rules whose input has no XML form). */
  readonly input?: DiskXmlInput;
  /** The XML forced through anyway. */
  readonly xml: string;
  /** Who must refuse it (default: `DISK_RULES[rule].enforcedBy`). */
  readonly enforcedBy?: readonly RuleEnforcer[];
  /** The forced disk is backed by a real image: QEMU's verdict comes from starting the guest. */
  readonly startable?: boolean;
  /** Otherwise QEMU's verdict comes from running QEMU directly with the equivalent options. */
  readonly qemu?: () => Run;
  /** Expected refusal text, per tool. */
  readonly messages?: Partial<Record<RuleEnforcer, RegExp>>;
}

const fileDisk = resolveDisk({ connection: nfsRaw, device: nfsDevice(mountDir, "raw"), options: { target: { dev: "vdb", bus: "virtio" } } })._unsafeUnwrap();
const blockDisk = resolveDisk({ connection: iscsiSingle, device: singlePathDevice, options: { target: { dev: "vdb", bus: "virtio" } } })._unsafeUnwrap();
const networkDisk = resolveDisk({ connection: iscsiMultipath, options: { mode: "network", portal: 0, chapSecret: { uuid: "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b" }, target: { dev: "vdb", bus: "virtio" } } })._unsafeUnwrap();
const render = (d: DiskDefinition): string => renderDiskXml(d)._unsafeUnwrap();
/** The block disk without its default serial (a `lun` must not carry one). */
const { serial: _serial, ...lunDisk } = blockDisk;
const withDriver = (d: DiskDefinition, driver: Partial<NonNullable<DiskDefinition["driver"]>>): DiskDefinition => ({ ...d, driver: { ...d.driver, ...driver } });
const vdb = { dev: "vdb", bus: "virtio" } as const;

/** The network disk with its source (and auth) changed. */
function withNetwork(change: (source: NetworkDiskSource, auth: DiskAuth) => NetworkDiskSource): DiskDefinition {
  const source = networkDisk.source;
  if (source?.kind !== "network" || source.auth === undefined) throw new Error("network variant without CHAP auth");
  return { ...networkDisk, source: change(source, source.auth) };
}

/** QEMU with one drive and one device, paused, quit at once through QMP: refusals happen before. */
function qemuDirect(driveOptions: string, device: string): Run {
  const args = ["-machine", "pc", "-accel", "tcg", "-nodefaults", "-display", "none", "-S", "-qmp", "stdio", "-drive", `if=none,id=d0,file=${rawImage},format=raw${driveOptions}`];
  if (device !== "") args.push("-device", `${device},drive=d0`);
  const r = spawnSync("qemu-system-x86_64", args, { encoding: "utf8", timeout: 30_000, input: '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' });
  return { status: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

const FORCED: Forced[] = [
  {
    rule: "io-native-cache",
    input: { connection: localLv, device: lvDevice, options: { target: vdb, driver: { cache: "writeback", io: "native" } } },
    xml: render(withDriver(blockDisk, { cache: "writeback", io: "native" })),
    qemu: () => run("qemu-io", ["-f", "raw", "-t", "writeback", "-i", "native", "-c", "quit", rawImage]),
    messages: { "libvirt-qemu": /io='native' needs either no disk cache or directsync/, qemu: /aio=native was specified, but it requires cache\.direct=on/ },
  },
  {
    rule: "iotune-total-vs-rw",
    input: { connection: nfsRaw, device: nfsDevice(mountDir, "raw"), options: { target: vdb, iotune: { totalBytesSec: 1000, readBytesSec: 10 } } },
    xml: render({ ...fileDisk, iotune: { totalBytesSec: 1000, readBytesSec: 10 } }),
    qemu: () => qemuDirect(",throttling.bps-total=1000,throttling.bps-read=10", ""),
    messages: { libvirt: /total and read\/write bytes_sec cannot be set at the same time/, qemu: /cannot be used at the same time/ },
  },
  {
    rule: "iotune-total-vs-rw",
    input: { connection: { ...nfsRaw, qosSpecs: { total_iops_sec_max: 100, write_iops_sec_max: 50, total_iops_sec: 10, write_iops_sec: 5 } }, device: nfsDevice(mountDir, "raw"), options: { target: vdb } },
    xml: render({ ...fileDisk, iotune: { totalIopsSec: 10, totalIopsSecMax: 100, writeIopsSecMax: 50 } }),
    qemu: () => qemuDirect(",throttling.iops-total=10,throttling.iops-total-max=100,throttling.iops-write-max=50", ""),
    messages: { libvirt: /total and read\/write iops_sec_max cannot be set at the same time/ },
  },
  {
    rule: "iotune-max-needs-base",
    input: { connection: nfsRaw, device: nfsDevice(mountDir, "raw"), options: { target: vdb, iotune: { totalBytesSecMax: 2000 } } },
    xml: render({ ...fileDisk, iotune: { totalBytesSecMax: 2000 } }),
    startable: true,
    messages: { qemu: /bps_max\/iops_max require corresponding bps\/iops values/ },
  },
  {
    rule: "iotune-max-below-base",
    input: { connection: nfsRaw, device: nfsDevice(mountDir, "raw"), options: { target: vdb, iotune: { readIopsSec: 500, readIopsSecMax: 100 } } },
    xml: render({ ...fileDisk, iotune: { readIopsSec: 500, readIopsSecMax: 100 } }),
    startable: true,
    messages: { qemu: /bps_max\/iops_max cannot be lower than bps\/iops/ },
  },
  {
    rule: "iotune-length-needs-max",
    input: { connection: nfsRaw, device: nfsDevice(mountDir, "raw"), options: { target: vdb, iotune: { writeBytesSec: 1000, writeBytesSecMaxLength: 10 } } },
    xml: render({ ...fileDisk, iotune: { writeBytesSec: 1000, writeBytesSecMaxLength: 10 } }),
    startable: true,
    messages: { qemu: /burst length set without burst rate/ },
  },
  {
    rule: "iotune-size-needs-iops",
    input: { connection: nfsRaw, device: nfsDevice(mountDir, "raw"), options: { target: vdb, iotune: { totalBytesSec: 1000, sizeIopsSec: 4096 } } },
    xml: render({ ...fileDisk, iotune: { totalBytesSec: 1000, sizeIopsSec: 4096 } }),
    startable: true,
    messages: { qemu: /iops size requires an iops value to be set/ },
  },
  {
    rule: "iotune-value",
    input: { connection: { ...nfsRaw, qosSpecs: { total_bytes_sec: 2e15 } }, device: nfsDevice(mountDir, "raw"), options: { target: vdb } },
    xml: render({ ...fileDisk, iotune: { totalBytesSec: 2e15 } }),
    qemu: () => qemuDirect(",throttling.bps-total=2000000000000000", ""),
    messages: { "libvirt-qemu": /must be no more than 1000000000000000/, qemu: /must be within \[0, 1000000000000000\]/ },
  },
  {
    rule: "network-portal",
    input: { connection: iscsiMultipath, options: { mode: "network", chapSecret: { uuid: "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b" }, target: vdb } },
    xml: render(withNetwork((s) => ({ ...s, hosts: [{ name: "127.0.0.1", port: 3260 }, { name: "127.0.0.2", port: 3260 }] }))),
  },
  {
    rule: "secret-uuid-xor-usage",
    input: { connection: iscsiMultipath, options: { mode: "network", portal: 0, chapSecret: { uuid: "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", usage: "volkit" }, target: vdb } },
    xml: render(withNetwork((s, auth) => ({ ...s, auth: { ...auth, usage: "volkit" } }))),
    messages: { libvirt: /either secret uuid or usage expected/ },
  },
  {
    rule: "secret-uuid-xor-usage",
    input: { connection: iscsiMultipath, options: { mode: "network", portal: 0, chapSecret: {}, target: vdb } },
    xml: render(withNetwork((s, auth) => ({ ...s, auth: { username: auth.username, secretType: "iscsi" } }))),
    messages: { libvirt: /missing secret uuid or usage attribute/ },
  },
  {
    rule: "auth-username",
    input: { connection: { ...iscsiMultipath, authUsername: "user@example.org" }, options: { mode: "network", portal: 0, chapSecret: { usage: "volkit" }, target: vdb } },
    xml: render(withNetwork((s, auth) => ({ ...s, auth: { ...auth, username: "user@example.org" } }))),
  },
  {
    rule: "fdc-bus",
    input: { connection: localLv, device: lvDevice, options: { target: { dev: "fda", bus: "fdc" } } },
    xml: render({ ...blockDisk, target: { dev: "fda", bus: "fdc" } }),
    messages: { libvirt: /Invalid bus type 'fdc' for disk/ },
  },
  {
    rule: "lun-bus",
    input: { connection: iscsiSingle, device: singlePathDevice, options: { device: "lun", target: vdb } },
    xml: render({ ...lunDisk, device: "lun", target: vdb }),
    qemu: () => qemuDirect("", "virtio-blk-pci,scsi=on"),
    messages: { qemu: /Please set scsi=off for virtio-blk devices/ },
  },
  {
    rule: "lun-bus",
    input: { connection: iscsiSingle, device: singlePathDevice, options: { device: "lun", target: { dev: "hdb", bus: "ide" } } },
    xml: render({ ...lunDisk, device: "lun", target: { dev: "hdb", bus: "ide" } }),
    enforcedBy: ["libvirt-qemu"],
    messages: { "libvirt-qemu": /disk device='lun' is not supported for bus='ide'/ },
  },
  {
    rule: "lun-source",
    input: { connection: nfsRaw, device: nfsDevice(mountDir, "raw"), options: { device: "lun", target: { dev: "sda", bus: "scsi" } } },
    xml: render({ ...fileDisk, serial: "x", device: "lun", target: { dev: "sda", bus: "scsi" } }).replace(/\n *<serial>x<\/serial>/, ""),
    messages: { libvirt: /disk device='lun' is only valid for block type disk source/ },
  },
  {
    rule: "lun-format",
    input: { connection: iscsiSingle, device: singlePathDevice, options: { device: "lun", driver: { type: "qcow2" }, target: { dev: "sda", bus: "scsi" } } },
    xml: render({ ...withDriver(lunDisk, { type: "qcow2" }), device: "lun", target: { dev: "sda", bus: "scsi" } }),
    messages: { libvirt: /disk device 'lun' must use 'raw' format/ },
  },
  {
    rule: "lun-serial",
    input: { connection: iscsiSingle, device: singlePathDevice, options: { device: "lun", serial: "abc", target: { dev: "sda", bus: "scsi" } } },
    xml: render({ ...lunDisk, device: "lun", serial: "abc", target: { dev: "sda", bus: "scsi" } }),
    messages: { "libvirt-qemu": /scsi-block 'lun' devices do not support the serial property/ },
  },
  {
    rule: "lun-encryption",
    input: { connection: { ...iscsiSingle, encrypted: true }, device: singlePathDevice, options: { device: "lun", encryption: { format: "luks", secretUuid: "0f1e2d3c-4b5a-4968-8776-655443322110" }, target: { dev: "sda", bus: "scsi" } } },
    xml: render({
      ...lunDisk,
      device: "lun",
      target: { dev: "sda", bus: "scsi" },
      encryption: { format: "luks", secretType: "passphrase", secretUuid: "0f1e2d3c-4b5a-4968-8776-655443322110" },
    }),
    messages: { libvirt: /disk device 'lun' doesn't support encryption/ },
  },
  {
    rule: "cdrom-bus",
    input: { connection: nfsRaw, device: nfsDevice(mountDir, "raw"), options: { device: "cdrom", target: vdb } },
    xml: render({ ...fileDisk, device: "cdrom", readonly: true }),
    messages: { "libvirt-qemu": /does not support ejectable media/ },
  },
  {
    rule: "readonly-bus",
    input: { connection: { ...localLv, accessMode: "ro" }, device: lvDevice, options: { target: { dev: "hdb", bus: "ide" } } },
    xml: render({ ...blockDisk, readonly: true, target: { dev: "hdb", bus: "ide" } }),
    qemu: () => qemuDirect(",readonly=on", "ide-hd"),
    messages: { "libvirt-qemu": /readonly ide disks are not supported/, qemu: /Block node is read-only/ },
  },
  {
    rule: "shareable-cache",
    input: { connection: nfsRaw, device: nfsDevice(mountDir, "raw"), options: { target: vdb, shareable: true, driver: { cache: "writeback" } } },
    xml: render({ ...withDriver(fileDisk, { cache: "writeback", io: "threads" }), shareable: true }),
    startable: true,
  },
  {
    rule: "shareable-format",
    input: { connection: { ...nfsRaw, format: "qcow2" }, device: nfsDevice(mountDir, "qcow2", `${nfsRaw.name}.qcow2`), options: { target: vdb, shareable: true } },
    xml: render({ ...withDriver(fileDisk, { type: "qcow2" }), source: { kind: "file", file: join(mountDir, `${nfsRaw.name}.qcow2`) }, shareable: true }),
    messages: { "libvirt-qemu": /shared access for disk 'vdb' requires use of supported storage format/ },
  },
  {
    rule: "discard-bus",
    input: { connection: nfsRaw, device: nfsDevice(mountDir, "raw"), options: { target: { dev: "sdb", bus: "usb" }, driver: { discard: "unmap" } } },
    xml: render({ ...withDriver(fileDisk, { discard: "unmap" }), target: { dev: "sdb", bus: "usb" } }),
    startable: true,
  },
  {
    rule: "serial-length",
    input: { connection: nfsRaw, device: nfsDevice(mountDir, "raw"), options: { target: vdb, serial: "3e9d0a6e-8b5e-4a0e-9a0e-0b1c2d3e4f50" } },
    xml: render({ ...fileDisk, serial: "3e9d0a6e-8b5e-4a0e-9a0e-0b1c2d3e4f50" }),
    startable: true,
  },
  {
    rule: "blockio-size",
    input: { connection: { ...iscsiSingle, logicalBlockSize: 1000 }, device: singlePathDevice, options: { target: vdb } },
    xml: render({ ...fileDisk, blockio: { logicalBlockSize: 1000 } }),
    startable: true,
    messages: { qemu: /logical_block_size.*(not a power of 2|doesn't take value)/ },
  },
  {
    rule: "blockio-order",
    input: { connection: nfsRaw, device: nfsDevice(mountDir, "raw"), options: { target: vdb, blockio: { logicalBlockSize: 4096, physicalBlockSize: 512 } } },
    xml: render({ ...fileDisk, blockio: { logicalBlockSize: 4096, physicalBlockSize: 512 } }),
    startable: true,
    messages: { qemu: /logical_block_size > physical_block_size not supported/ },
  },
  {
    rule: "address-pci-bus",
    input: { connection: localLv, device: lvDevice, options: { target: { dev: "sdb", bus: "scsi" }, address: { type: "pci", slot: 7 } } },
    xml: render({ ...blockDisk, target: { dev: "sdb", bus: "scsi" }, address: { type: "pci", domain: 0, bus: 0, slot: 7, function: 0 } }),
    messages: { libvirt: /Invalid address type 'pci' for the disk 'sdb' with the bus type 'scsi'/ },
  },
  {
    rule: "address-drive-bus",
    input: { connection: localLv, device: lvDevice, options: { target: vdb, address: { type: "drive", unit: 1 } } },
    xml: render({ ...blockDisk, address: { type: "drive", controller: 0, bus: 0, target: 0, unit: 1 } }),
    messages: { "libvirt-qemu": /virtio disk cannot have an address of type 'drive'/ },
  },
  {
    rule: "scsi-address-bus",
    input: { connection: localLv, device: lvDevice, options: { target: { dev: "sdb", bus: "scsi" }, address: { type: "drive", bus: 1 } } },
    xml: render({ ...blockDisk, target: { dev: "sdb", bus: "scsi" }, address: { type: "drive", controller: 0, bus: 1, target: 0, unit: 1 } }),
    messages: { "libvirt-qemu": /SCSI controller only supports 1 bus/ },
  },
  // Field-level checks (zod): target dev, bus, serial characters, boot order.
  {
    rule: "field:target-dev",
    input: { connection: localLv, device: lvDevice, options: { target: { dev: "disk1", bus: "virtio" } } },
    xml: render({ ...blockDisk, target: { dev: "disk1", bus: "virtio" } }),
    enforcedBy: ["libvirt-schema", "libvirt"],
    messages: { libvirt: /Unknown disk name 'disk1'/ },
  },
  {
    rule: "field:bus",
    xml: render(blockDisk).replace("bus='virtio'", "bus='nvme'"),
    enforcedBy: ["libvirt-schema", "libvirt"],
    messages: { libvirt: /Invalid value for attribute 'bus' in element 'target': 'nvme'/ },
  },
  {
    rule: "field:serial-characters",
    input: { connection: localLv, device: lvDevice, options: { target: vdb, serial: "vol/1" } },
    xml: render({ ...fileDisk, serial: "vol/1" }),
    enforcedBy: ["libvirt-schema", "libvirt-qemu"],
    messages: { "libvirt-qemu": /serial 'vol\/1' contains unsafe characters/ },
    startable: true,
  },
  {
    rule: "field:boot-order",
    input: { connection: localLv, device: lvDevice, options: { target: vdb, bootOrder: 0 } },
    xml: render({ ...blockDisk, bootOrder: 0 }),
    enforcedBy: ["libvirt-schema", "libvirt"],
  },
];

const MEASURED: readonly RuleEnforcer[] = ["libvirt-schema", "libvirt", "libvirt-qemu", "qemu"];

describe.skipIf(!EMBED_OK || !HAVE_VALIDATE)("refused combinations forced through libvirt and QEMU", () => {
  it("has a forced case for every rule that has an XML form", () => {
    const covered = new Set(FORCED.map((f) => f.rule));
    const missing = (Object.keys(DISK_RULES) as DiskRule[]).filter((r) => !covered.has(r) && !DISK_RULES[r].enforcedBy.includes("input"));
    // multipath-single-path is valid XML by construction (a member path is a block device too).
    expect(missing).toEqual(["multipath-single-path"]);
  });

  it.each(FORCED.map((f, i) => [`${f.rule} #${i}`, f] as const))("%s", (_label, f) => {
    const expectedEnforcers = f.enforcedBy ?? (f.rule.startsWith("field:") ? [] : DISK_RULES[f.rule as DiskRule].enforcedBy);
    const expectRefusal = (e: RuleEnforcer): boolean => expectedEnforcers.includes(e) || (e === "libvirt-qemu" && expectedEnforcers.includes("libvirt"));

    // volkit refuses the input first.
    if (f.input) {
      const refused = buildDiskXml(f.input)._unsafeUnwrapErr();
      expect(refused.code).toBe("INVALID_ARGUMENT");
      if (!f.rule.startsWith("field:")) expect(refused.details.rule).toBe(f.rule);
    }

    const name = domainName(`forced-${f.rule.replace("field:", "")}`);
    const verdicts: Partial<Record<RuleEnforcer, Run>> = {};
    verdicts["libvirt-schema"] = run("virt-xml-validate", [writeFile(`${name}-schema`, domainXml(name, "test", [f.xml])), "domain"]);
    const t = testDriver([`define ${writeFile(`${name}-test`, domainXml(name, "test", [f.xml]))}`, `undefine ${name}`]);
    verdicts.libvirt = { ...t, status: /error: Failed to define domain/.test(t.stderr) ? 1 : 0 };
    const defined = embed(["define", writeFile(`${name}-qemu`, domainXml(name, "qemu", [f.xml]))]);
    verdicts["libvirt-qemu"] = defined;
    try {
      if (f.qemu) {
        verdicts.qemu = f.qemu();
      } else if (f.startable && defined.status === 0) {
        verdicts.qemu = embed(["start", name]);
        embed(["destroy", name]);
      }
    } finally {
      if (defined.status === 0) embed(["undefine", name]);
    }

    const summary = MEASURED.map((e) => `${e}: ${verdicts[e] === undefined ? "not measured" : verdicts[e].status === 0 ? "accepts" : `refuses (${errorText(verdicts[e]) || verdicts[e].stderr.trim()})`}`).join("\n");
    for (const e of MEASURED) {
      const v = verdicts[e];
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
      expect(verdicts.qemu?.status, `a 'nobody' rule must be shown accepted by QEMU too\n${summary}`).toBe(0);
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
    port = await freeTcpPort();
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

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const p = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(p));
    });
  });
}
