/**
 * volkit storage lab runner: boots the lab guest under qemu (TCG) and runs one command in it.
 *
 *   npx tsx lab/run.ts [options] -- <argv...>
 *   npx tsx lab/run.ts --shell
 *
 * Options:
 *   --timeout SECONDS     deadline for the VM (boot + command); default $VOLKIT_LAB_TIMEOUT or 1200
 *   --keep-output FILE    also write the complete, unfiltered serial console output to FILE
 *   --env KEY=VALUE       extra environment for the command (repeatable)
 *   --memory MIB          guest memory (default $VOLKIT_LAB_MEMORY or 3072)
 *   --verbose             do not filter the boot/kernel console lines
 *   --shell               no command: interactive root shell in the guest (stdin/stdout attached)
 *
 * Exit code: the command's exit code; 2 = host prerequisites missing (qemu, debootstrap, root),
 * 3 = guest setup failed (the component is named), 4 = the VM ended without reporting a status,
 * 124 = deadline exceeded, 130/143 = interrupted.
 *
 * Only node: built-ins are used (run with tsx).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  createWriteStream,
  existsSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
  type WriteStream,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative, resolve, isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";

const LAB_DIR = dirname(fileURLToPath(import.meta.url));
const PROJECT = realpathSync(resolve(LAB_DIR, ".."));
const PREFIX = "volkit-lab:";

const EXIT_PREREQ = 2;
const EXIT_SETUP = 3;
const EXIT_NO_STATUS = 4;
const EXIT_DEADLINE = 124;

interface Options {
  timeoutS: number;
  keepOutput?: string;
  env: string[];
  memoryMiB: number;
  verbose: boolean;
  shell: boolean;
  argv: string[];
}

function usage(msg?: string): never {
  if (msg) process.stderr.write(`${PREFIX} ${msg}\n`);
  process.stderr.write(
    "usage: npx tsx lab/run.ts [--timeout SECONDS] [--keep-output FILE] [--env K=V]... [--memory MIB] [--verbose] -- <argv...>\n" +
      "       npx tsx lab/run.ts --shell\n",
  );
  process.exit(64);
}

function parseArgs(args: string[]): Options {
  const envTimeout = Number(process.env.VOLKIT_LAB_TIMEOUT ?? "");
  const envMemory = Number(process.env.VOLKIT_LAB_MEMORY ?? "");
  const o: Options = {
    timeoutS: Number.isFinite(envTimeout) && envTimeout > 0 ? envTimeout : 1200,
    env: [],
    memoryMiB: Number.isFinite(envMemory) && envMemory >= 512 ? envMemory : 3072,
    verbose: process.env.VOLKIT_LAB_VERBOSE === "1",
    shell: false,
    argv: [],
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === "--") {
      o.argv = args.slice(i + 1);
      break;
    } else if (a === "--timeout") {
      o.timeoutS = Number(value());
      if (!Number.isFinite(o.timeoutS) || o.timeoutS <= 0) usage("--timeout needs a positive number of seconds");
    } else if (a === "--keep-output") o.keepOutput = resolve(value());
    else if (a === "--env") {
      const kv = value();
      if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(kv)) usage(`--env expects KEY=VALUE, got ${kv}`);
      o.env.push(kv);
    } else if (a === "--memory") o.memoryMiB = Number(value());
    else if (a === "--verbose") o.verbose = true;
    else if (a === "--shell") o.shell = true;
    else if (a === "-h" || a === "--help") usage();
    else if (a.startsWith("-")) usage(`unknown option ${a}`);
    else {
      o.argv = args.slice(i);
      break;
    }
  }
  if (!o.shell && o.argv.length === 0) usage("no command given");
  return o;
}

function which(cmd: string): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter);
  // root's tools live in sbin, which a non-root PATH often lacks
  dirs.push("/usr/local/sbin", "/usr/sbin", "/sbin");
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, cmd);
    try {
      accessSync(p, fsConstants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

const secs = (ms: number): string => (ms / 1000).toFixed(1);
const log = (msg: string): void => void process.stderr.write(`${PREFIX} ${msg}\n`);

// ------------------------------------------------------------------ state for cleanup
let qemu: ChildProcess | undefined;
let builder: ChildProcess | undefined;
const tempDirs: string[] = [];
let keepStream: WriteStream | undefined;

function cleanupTemp(): void {
  if (process.env.VOLKIT_LAB_KEEP_TMP === "1") {
    log(`keeping temp dirs: ${tempDirs.join(" ")}`);
    return;
  }
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}

function killQemu(): Promise<void> {
  const q = qemu;
  if (!q || q.exitCode !== null || q.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(() => {
      q.kill("SIGKILL");
    }, 5000);
    q.once("exit", () => {
      clearTimeout(t);
      res();
    });
    q.kill("SIGTERM");
  });
}

let finishing: Promise<never> | undefined;

/** Stops qemu and the builder, removes temp dirs, exits. The first caller's code wins. */
function finish(code: number): Promise<never> {
  finishing ??= doFinish(code);
  return finishing;
}

async function doFinish(code: number): Promise<never> {
  await killQemu();
  if (builder && builder.exitCode === null) builder.kill("SIGTERM");
  await new Promise<void>((res) => (keepStream ? keepStream.end(res) : res()));
  cleanupTemp();
  process.exit(code);
}

for (const [sig, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
] as const) {
  process.on(sig, () => {
    log(`${sig} received; stopping qemu`);
    void finish(code);
  });
}

/**
 * Launchers such as `npx tsx` or `npm run` may die from a signal without passing it on
 * (`sh -c` does not forward SIGTERM). Watch the wrapper processes between us and the caller
 * (ancestors whose command line mentions lab/run.ts) and stop when one of them is gone.
 */
function watchLaunchers(): void {
  const chain: number[] = [];
  let pid = process.ppid;
  for (let depth = 0; depth < 8 && pid > 1; depth++) {
    let cmdline: string;
    let stat: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      break;
    }
    if (!cmdline.includes("lab/run.ts")) break;
    chain.push(pid);
    pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  }
  if (chain.length === 0) return;
  const timer = setInterval(() => {
    for (const p of chain) {
      try {
        process.kill(p, 0);
      } catch {
        clearInterval(timer);
        log(`launcher process ${p} is gone; stopping qemu`);
        void finish(143);
        return;
      }
    }
  }, 1000);
  timer.unref();
}

// ------------------------------------------------------------------ prerequisites + image
function preflight(): void {
  const isRoot = process.getuid?.() === 0;
  const check = spawnSync(join(LAB_DIR, "build.sh"), ["--check"], { encoding: "utf8" });
  const cached = check.status === 0;
  const missing: Array<[string, string]> = [];
  if (!which("qemu-system-x86_64")) missing.push(["qemu-system-x86_64", "qemu-system-x86"]);
  if (!cached) {
    if (!which("debootstrap")) missing.push(["debootstrap", "debootstrap"]);
    if (!which("mkfs.ext4")) missing.push(["mkfs.ext4", "e2fsprogs"]);
  }
  if (missing.length && !isRoot) {
    log(`missing host tools: ${missing.map((m) => m[0]).join(", ")}`);
    log(`install them with: sudo apt-get install -y ${[...new Set(missing.map((m) => m[1]))].join(" ")}`);
    process.exit(EXIT_PREREQ);
  }
  if (!cached && !isRoot) {
    log(`the guest image is not cached (${process.env.VOLKIT_LAB_CACHE ?? "/var/cache/volkit-lab"}) and building it needs root:`);
    log("run once: sudo lab/build.sh   (or run this runner as root)");
    process.exit(EXIT_PREREQ);
  }
  if (missing.some((m) => m[0] === "qemu-system-x86_64")) {
    log("installing qemu-system-x86 (apt-get)");
    const r = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "qemu-system-x86"], {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (r.status !== 0 || !which("qemu-system-x86_64")) {
      log("could not install qemu-system-x86: apt-get install -y qemu-system-x86");
      process.exit(EXIT_PREREQ);
    }
  }
}

function ensureImage(): Promise<{ dir: string; cached: boolean; ms: number }> {
  const t0 = Date.now();
  const cached = spawnSync(join(LAB_DIR, "build.sh"), ["--check"]).status === 0;
  return new Promise((res, rej) => {
    let out = "";
    builder = spawn(join(LAB_DIR, "build.sh"), [], { stdio: ["ignore", "pipe", "inherit"] });
    builder.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    builder.on("error", rej);
    builder.on("exit", (code, signal) => {
      builder = undefined;
      const dir = out.trim().split("\n").pop() ?? "";
      if (code === 0 && dir && existsSync(join(dir, "rootfs.img"))) res({ dir, cached, ms: Date.now() - t0 });
      else if (code === EXIT_PREREQ) process.exit(EXIT_PREREQ);
      else rej(new Error(`lab/build.sh failed (${signal ?? `exit ${code}`})`));
    });
  });
}

// ------------------------------------------------------------------ console filter
/** Streams the serial console: hides firmware/kernel/initramfs output before the lab init starts. */
class ConsoleFilter {
  private partial = "";
  started = false;
  private done = false;
  private flushTimer: NodeJS.Timeout | undefined;
  readonly tail: string[] = [];
  onLine: (line: string) => void = () => {};

  constructor(private readonly verbose: boolean) {}

  write(chunk: string): void {
    const text = this.partial + chunk.replace(/\r/g, "");
    const lines = text.split("\n");
    this.partial = lines.pop() ?? "";
    for (const l of lines) this.line(l, true);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    // progress output without newline (e.g. test reporters) is shown after a short pause
    if (this.partial && this.started) {
      this.flushTimer = setTimeout(() => {
        if (this.partial) {
          process.stdout.write(this.partial);
          this.partial = "";
        }
      }, 150);
    }
  }

  end(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.partial) this.line(this.partial, false);
    this.partial = "";
  }

  private line(l: string, newline: boolean): void {
    this.tail.push(l);
    if (this.tail.length > 60) this.tail.shift();
    if (this.started && !this.done && (l.includes(`${PREFIX} command exited with`) || l.includes(`${PREFIX} SETUP FAILED`))) this.done = true;
    else if (this.done && /^\[\s*\d+\.\d+\] /.test(l) && !this.verbose) return; // "sysrq: Power Off" etc.
    if (!this.started && l.includes(`${PREFIX} init started`)) {
      this.started = true;
      l = l.slice(l.indexOf(`${PREFIX} init started`)); // drop the firmware's terminal resets before it
    }
    this.onLine(l);
    // after the init has started, everything is shown: the init silences kernel console
    // messages (dmesg -n 1), and the command's own output may look like kernel lines
    const show = this.verbose || this.started;
    // (if the start of this line was flushed early as a partial line, l is only the rest)
    if (show) process.stdout.write(l + (newline ? "\n" : ""));
  }
}

// ------------------------------------------------------------------ main
async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const tStart = Date.now();
  watchLaunchers();
  preflight();
  // VOLKIT_LAB_IMAGE_DIR: developer override (an image dir with rootfs.img, vmlinuz, initrd.img)
  const image = process.env.VOLKIT_LAB_IMAGE_DIR
    ? { dir: resolve(process.env.VOLKIT_LAB_IMAGE_DIR), cached: true, ms: 0 }
    : await ensureImage();
  log(`image ready (${image.cached ? "cached" : "built"}) in ${secs(image.ms)} s: ${image.dir}`);

  // control share + scratch disks
  const ctl = mkdtempSync(join(tmpdir(), "volkit-lab-ctl-"));
  tempDirs.push(ctl);
  const disks = mkdtempSync(join(process.env.VOLKIT_LAB_DISK_DIR ?? tmpdir(), "volkit-lab-disks-"));
  tempDirs.push(disks);
  // sparse: costs host disk only for what the guest writes (zero writes become holes, see detect-zeroes)
  const diskBytes = Number(process.env.VOLKIT_LAB_DISK_GIB ?? "8") * 1024 ** 3;
  for (const name of ["thick", "thin"]) {
    const fd = openSync(join(disks, `${name}.raw`), "w");
    ftruncateSync(fd, diskBytes); // sparse: fresh and empty each boot
    closeSync(fd);
  }

  const cwd = process.cwd();
  const rel = relative(PROJECT, cwd);
  const guestCwd = rel === "" || (!rel.startsWith("..") && !isAbsolute(rel)) ? cwd : PROJECT;
  writeFileSync(join(ctl, "project"), PROJECT);
  writeFileSync(join(ctl, "cwd"), guestCwd);
  if (process.env.VOLKIT_LAB_PROJECT_CACHE) writeFileSync(join(ctl, "project-cache"), process.env.VOLKIT_LAB_PROJECT_CACHE);
  if (!opts.shell) writeFileSync(join(ctl, "argv"), opts.argv.join("\0") + "\0");

  const isTty = Boolean(process.stdout.isTTY);
  const env: string[] = [];
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (["CI", "FORCE_COLOR", "NO_COLOR", "DEBUG"].includes(k) || (k.startsWith("VOLKIT_") && !k.startsWith("VOLKIT_LAB"))) {
      env.push(`${k}=${v}`);
    }
  }
  if (isTty || opts.shell) {
    env.push(`TERM=${process.env.TERM ?? "xterm"}`);
    if (process.stdout.columns) env.push(`VOLKIT_LAB_COLUMNS=${process.stdout.columns}`, `VOLKIT_LAB_ROWS=${process.stdout.rows}`);
    writeFileSync(join(ctl, "tty"), "1\n"); // the command runs on the console tty
  } else {
    // output goes to a pipe/file: the guest pipes the command's output too (no tty)
    env.push("TERM=dumb");
  }
  env.push(...opts.env);
  writeFileSync(join(ctl, "env"), env.map((e) => e + "\0").join(""));

  // the host's node (+ npm/npx) shared read-only; the guest links them into /usr/local/bin
  const nodeBin = dirname(realpathSync(process.execPath));
  const nodeModules = [join(nodeBin, "..", "lib", "node_modules")].find((d) => existsSync(join(d, "npm")));
  writeFileSync(join(ctl, "node"), nodeModules ? "node npm\n" : "node\n");

  const append = [
    "root=/dev/vda",
    "rw",
    "console=ttyS0",
    "init=/volkit-init",
    "quiet",
    "loglevel=3",
    "fsck.mode=skip",
    "panic=-1",
    ...(/\s/.test(PROJECT) ? [] : [`volkit.project=${PROJECT}`]),
  ].join(" ");
  const virtfs = (path: string, tag: string, ro: boolean): string[] => [
    "-virtfs",
    `local,path=${path},mount_tag=${tag},security_model=none${ro ? ",readonly=on" : ""}`,
  ];
  const args = [
    "-M", "q35",
    "-m", String(opts.memoryMiB),
    "-smp", "2",
    "-accel", "tcg",
    "-cpu", process.env.VOLKIT_LAB_CPU ?? "max",
    "-nographic",
    "-no-reboot",
    "-nic", "none",
    "-kernel", join(image.dir, "vmlinuz"),
    "-initrd", join(image.dir, "initrd.img"),
    "-append", append,
    // rootfs: never modified by runs (snapshot=on keeps writes in a temporary overlay)
    "-drive", `file=${join(image.dir, "rootfs.img")},if=none,id=root,format=raw,snapshot=on`,
    "-device", "virtio-blk-pci,drive=root,serial=volkit-root",
    "-drive", `file=${join(disks, "thick.raw")},if=none,id=thick,format=raw,cache=unsafe,discard=unmap,detect-zeroes=unmap`,
    "-device", "virtio-blk-pci,drive=thick,serial=volkit-thick",
    "-drive", `file=${join(disks, "thin.raw")},if=none,id=thin,format=raw,cache=unsafe,discard=unmap,detect-zeroes=unmap`,
    "-device", "virtio-blk-pci,drive=thin,serial=volkit-thin",
    ...virtfs(ctl, "volkitctl", false),
    ...virtfs(PROJECT, "volkitproj", false),
    ...virtfs(nodeBin, "volkitnode", true),
    ...(nodeModules ? virtfs(nodeModules, "volkitnpm", true) : []),
  ];
  const qemuBin = which("qemu-system-x86_64")!;
  if (opts.verbose) log(`${qemuBin} ${args.join(" ")}`);

  if (opts.keepOutput) keepStream = createWriteStream(opts.keepOutput);
  const deadlineMs = opts.timeoutS * 1000;
  const tBoot = Date.now();
  let tReady: number | undefined;
  let tCmdEnd: number | undefined;

  qemu = spawn(qemuBin, args, {
    // --shell: the terminal is the guest console; otherwise our stdin stays out of the guest
    stdio: opts.shell ? "inherit" : ["pipe", "pipe", "pipe"],
    env: { ...process.env, TMPDIR: process.env.VOLKIT_LAB_DISK_DIR ?? tmpdir() },
  });
  const filter = new ConsoleFilter(opts.verbose);
  filter.onLine = (l) => {
    if (!tReady && l.includes(`${PREFIX} ready after`)) tReady = Date.now();
    if (!tCmdEnd && l.includes(`${PREFIX} command exited with`)) tCmdEnd = Date.now();
  };
  if (!opts.shell) {
    qemu.stdout!.setEncoding("utf8"); // decodes multi-byte characters split across chunks
    qemu.stdout!.on("data", (d: string) => {
      keepStream?.write(d.replace(/\r/g, ""));
      filter.write(d);
    });
    qemu.stderr!.on("data", (d: Buffer) => process.stderr.write(d));
  }

  let deadlineHit = false;
  const deadline = setTimeout(() => {
    deadlineHit = true;
    log(`deadline of ${opts.timeoutS} s exceeded; killing qemu`);
    void killQemu();
  }, deadlineMs);

  const qemuExit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    qemu!.on("error", (e) => {
      log(`cannot start ${qemuBin}: ${e.message}`);
      res({ code: null, signal: null });
    });
    qemu!.on("exit", (code, signal) => res({ code, signal }));
  });
  clearTimeout(deadline);
  filter.end();
  if (finishing) await finishing; // stopped by a signal: finish() reports and exits

  const tEnd = Date.now();
  const timings = [
    `image ${secs(image.ms)} s (${image.cached ? "cached" : "built"})`,
    `boot-to-ready ${tReady ? secs(tReady - tBoot) + " s" : "n/a"}`,
    `command ${tReady ? secs((tCmdEnd ?? tEnd) - tReady) + " s" : "n/a"}`,
    `total ${secs(tEnd - tStart)} s`,
  ].join(", ");

  if (deadlineHit) {
    log(`timings: ${timings}`);
    log(`deadline of ${opts.timeoutS} s exceeded; qemu killed`);
    await finish(EXIT_DEADLINE);
  }

  const status = existsSync(join(ctl, "status")) ? readFileSync(join(ctl, "status"), "utf8").trim() : "";
  log(`timings: ${timings}`);
  let m: RegExpMatchArray | null;
  if ((m = /^ok (\d+)$/.exec(status))) {
    await finish(Number(m[1]));
  } else if ((m = /^setup (.+)$/.exec(status))) {
    log(`guest setup failed: ${m[1]} (see the lines above)`);
    await finish(EXIT_SETUP);
  }
  if (!filter.started && !opts.verbose && !opts.shell) {
    // the guest never reached its init: show what the firmware/kernel/initramfs said
    process.stdout.write(`${PREFIX} --- last console lines ---\n${filter.tail.join("\n")}\n`);
  }
  log(
    `the VM ended without reporting a status (qemu ${qemuExit.signal ? `signal ${qemuExit.signal}` : `exit ${qemuExit.code}`})`,
  );
  await finish(EXIT_NO_STATUS);
}

main().catch(async (e: unknown) => {
  log(`error: ${e instanceof Error ? e.message : String(e)}`);
  await finish(1);
});
