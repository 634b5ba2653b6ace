/**
 * Backup benchmark: on one 1 GiB sparse file-backed volume (about 10% data at scattered offsets,
 * half random, half log-like text — test/host/backup-fixture.ts), in one run, medians of N runs:
 *
 * - volkit `backupFromSource` to a directory: zstd with one worker per core (the default), zstd
 *   with one worker, gzip with one worker per core; and the restore of the default backup;
 * - a fully written volume (`--dense-mib`, default 256; 0 skips it) backed up with N workers,
 *   one, and none, where the CPU column (all threads of this process) shows the cores used;
 * - `dd if=<volume> bs=4M | gzip > <file>` (what a shell script does);
 * - Cinder's own POSIX backup driver (Debian's python3-cinder: `PosixBackupDriver.backup()`, the
 *   chunked driver's real code, zlib, default `backup_file_size`), when `/usr/bin/python3` can
 *   import it; database and notifications are stubbed, nothing else;
 * - volkit to an S3 store and back: radosgw on a private single-node Ceph cluster this script
 *   starts (loopback, free ports, a temp dir; `--s3 off` skips it), through the AWS SDK;
 * - where the two cores go: the dense volume with the directory repository's fsyncs batched (the
 *   default), one per object (`each`, before 0.2's batching) and none (`off`, the bound), with
 *   gzip (compressed on the worker threads) as well as zstd (compressed on libuv's pool), and the
 *   CPU seconds of each row.
 *
 * It prints figures; it asserts nothing. Build first (the engine's worker threads run from dist):
 *
 *   npm run build && npx tsx scripts/bench-backup.ts [--runs 3] [--size-gib 1] [--dir /var/tmp]
 *
 * The page cache is not dropped (the machine is shared): every method reads a warm volume. On a
 * shared, loaded host the wall times scatter; the CPU column (this process's threads, or the
 * Cinder harness's own process time) is the steadier figure.
 */
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { ResultAsync } from "neverthrow";
import { writeDenseVolume, writeSparseVolume } from "../test/host/backup-fixture.js";
import type * as Backup from "../src/backup/index.js";
import { backgroundContext } from "../src/core/context.js";
import type { VolkitError } from "../src/core/errors.js";
import { startCephCluster } from "../src/testing/ceph-cluster.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    "size-gib": { type: "string", default: "1" },
    "dense-mib": { type: "string", default: "256" },
    dir: { type: "string", default: tmpdir() },
    s3: { type: "string", default: "on" },
  },
});
const runs = Number(values.runs);
const sizeBytes = Number(values["size-gib"]) * 1024 ** 3;
const distEntry = new URL("../dist/backup/index.js", import.meta.url);
if (!existsSync(distEntry)) {
  console.error("dist/backup/index.js is missing: run `npm run build` first");
  process.exit(2);
}
const backup = (await import(distEntry.href)) as typeof Backup;
const ctx = backgroundContext("bench", "bench");

function cephVersion(): string {
  const r = spawnSync("ceph", ["--version"], { encoding: "utf8" });
  return /ceph version (\S+)/.exec(r.stdout)?.[1] ?? "unknown";
}

const root = mkdtempSync(join(values.dir, "volkit-bench-backup-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));
const volume = join(root, "volume.raw");
/** A fully written volume: every byte is hashed and compressed, so worker scaling shows. */
const dense = join(root, "dense.raw");
const denseBytes = Number(values["dense-mib"]) * 1024 ** 2;

interface Sample {
  readonly seconds: number;
  readonly bytes: number;
  /** CPU seconds of this process (all its threads), when the method runs in it. */
  readonly cpu?: number;
}
type Method = (round: number) => Promise<Sample>;

/** Runs `op`, timing it (wall seconds, CPU seconds of this process); a failed result throws. */
async function measured<T>(op: () => ResultAsync<T, VolkitError>): Promise<{ seconds: number; cpu: number }> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const r = await op();
  const seconds = (performance.now() - started) / 1000;
  const cpuUsed = process.cpuUsage(cpuBefore);
  if (r.isErr()) throw new Error(`${r.error.code}: ${r.error.message}`);
  return { seconds, cpu: (cpuUsed.user + cpuUsed.system) / 1e6 };
}

/** Bytes under a directory (every object a method stored). */
function treeBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) total += statSync(join(e.parentPath, e.name)).size;
  return total;
}

function volkitBackup(options: Backup.BackupOptions, path = volume, fsync: "batched" | "each" | "off" = "batched"): Method {
  return async (round) => {
    const dir = join(root, `volkit-${round}-${Math.random().toString(36).slice(2)}`);
    const repo = backup.createLocalDirectoryRepository({ directory: dir, fsync })._unsafeUnwrap();
    const { seconds, cpu } = await measured(() => backup.backupFromSource(repo, { path }, { ...options, backupId: "bench" }));
    const bytes = treeBytes(dir);
    rmSync(dir, { recursive: true, force: true });
    return { seconds, bytes, cpu };
  };
}

/** Restore of a default backup into a new sparse file. */
const volkitRestore: Method = async (round) => {
  const dir = join(root, `restore-repo-${round}`);
  const repo = backup.createLocalDirectoryRepository({ directory: dir })._unsafeUnwrap();
  (await backup.backupFromSource(repo, { path: volume }, { backupId: "bench" }))._unsafeUnwrap();
  const out = join(root, `restored-${round}.raw`);
  const { seconds, cpu } = await measured(() => backup.restoreToTarget(repo, "bench", { path: out }));
  const bytes = statSync(out).blocks * 512;
  rmSync(dir, { recursive: true, force: true });
  rmSync(out);
  return { seconds, bytes, cpu };
};

/** The S3 store: radosgw on a private cluster (started below when `--s3 on`). */
let s3: { readonly options: Backup.S3RepositoryOptions; readonly stop: () => Promise<unknown> } | undefined;

async function s3Repo(prefix: string): Promise<Backup.BackupRepository> {
  if (s3 === undefined) throw new Error("no S3 store");
  return (await backup.createS3BackupRepository({ ...s3.options, prefix }))._unsafeUnwrap();
}

/** Bytes stored under a repository's prefix (listing). */
async function repoBytes(repo: Backup.BackupRepository): Promise<number> {
  let total = 0;
  let cursor: string | undefined;
  do {
    const page = (await repo.list("", cursor === undefined ? {} : { cursor }, ctx))._unsafeUnwrap();
    for (const o of page.objects) total += o.size;
    cursor = page.next;
  } while (cursor !== undefined);
  return total;
}

async function emptyRepo(repo: Backup.BackupRepository): Promise<void> {
  (await backup.deleteBackup(repo, "bench", { cascade: true }))._unsafeUnwrap();
  void (await repo.close(ctx));
}

/** volkit backup of the sparse volume into S3 (radosgw). */
const volkitS3: Method = async (round) => {
  const repo = await s3Repo(`backup-${round}/`);
  const { seconds, cpu } = await measured(() => backup.backupFromSource(repo, { path: volume }, { backupId: "bench" }));
  const bytes = await repoBytes(repo);
  await emptyRepo(repo);
  return { seconds, bytes, cpu };
};

/** Restore of a default backup from S3 into a new sparse file. */
const volkitS3Restore: Method = async (round) => {
  const repo = await s3Repo(`restore-${round}/`);
  (await backup.backupFromSource(repo, { path: volume }, { backupId: "bench" }))._unsafeUnwrap();
  const out = join(root, `restored-s3-${round}.raw`);
  const { seconds, cpu } = await measured(() => backup.restoreToTarget(repo, "bench", { path: out }));
  const bytes = statSync(out).blocks * 512;
  await emptyRepo(repo);
  rmSync(out);
  return { seconds, bytes, cpu };
};

/** `dd if=volume bs=4M | gzip > out`, two processes and a pipe, no shell. */
const ddGzip: Method = (round) =>
  new Promise((resolve, reject) => {
    const out = join(root, `dd-${round}.gz`);
    const started = performance.now();
    const dd = spawn("dd", [`if=${volume}`, "bs=4M", "status=none"], { stdio: ["ignore", "pipe", "inherit"] });
    const gzip = spawn("gzip", ["-c"], { stdio: ["pipe", "pipe", "inherit"] });
    dd.stdout.pipe(gzip.stdin);
    const file = createWriteStream(out);
    gzip.stdout.pipe(file);
    file.on("close", () => {
      const seconds = (performance.now() - started) / 1000;
      const bytes = statSync(out).size;
      rmSync(out);
      resolve({ seconds, bytes });
    });
    gzip.on("error", reject);
    dd.on("error", reject);
  });

/** Cinder's PosixBackupDriver.backup() on the same file (see module doc). */
const CINDER_HARNESS = String.raw`
import contextlib, json, os, sys, time
from oslo_config import cfg
CONF = cfg.CONF
vol, out_dir, size_gib = sys.argv[1], sys.argv[2], int(sys.argv[3])
from cinder import context
from cinder.backup.drivers import posix
CONF([], project="cinder", default_config_files=[])
CONF.set_override("backup_posix_path", out_dir)
CONF.set_override("backup_enable_progress_timer", False)
CONF.set_override("connection", "sqlite://", group="database")

class FakeDB:
    def volume_get(self, ctxt, volume_id):
        return {"id": volume_id, "size": size_gib}

class FakeBackup:
    def __init__(self):
        self.id = "bench-backup"; self.volume_id = "bench-volume"; self.parent_id = None
        self.container = None; self.size = size_gib; self.status = "creating"
        self.service_metadata = None; self.object_count = 0; self.display_name = "bench"
        self.display_description = ""; self.created_at = "2026-01-01T00:00:00"
    def __getitem__(self, k): return getattr(self, k)
    def save(self): pass
    def refresh(self): pass
    @contextlib.contextmanager
    def as_read_deleted(self): yield

driver = posix.PosixBackupDriver(context.get_admin_context())
driver.db = FakeDB()
driver._send_progress_notification = lambda *a, **k: None
driver._send_progress_end = lambda *a, **k: None
backup = FakeBackup()
start, cpu = time.monotonic(), time.process_time()
with open(vol, "rb") as f:
    driver.backup(backup, f, backup_metadata=False)
print(json.dumps({"seconds": time.monotonic() - start, "cpu": time.process_time() - cpu, "compression": CONF.backup_compression_algorithm, "objectBytes": CONF.backup_file_size}))
`;

const cinderAvailable = spawnSync("/usr/bin/python3", ["-c", "import cinder.backup.drivers.posix"], { stdio: "ignore" }).status === 0;
let cinderSettings = "";
const cinderPosix: Method = async (round) => {
  const out = join(root, `cinder-${round}`);
  mkdirSync(out);
  const r = spawnSync("/usr/bin/python3", ["-", volume, out, String(Math.ceil(sizeBytes / 1024 ** 3))], { input: CINDER_HARNESS, encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`cinder harness failed: ${r.stderr.slice(-2000)}`);
  const line = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as { seconds: number; cpu: number; compression: string; objectBytes: number };
  cinderSettings = `${line.compression}, backup_file_size ${line.objectBytes}`;
  const bytes = treeBytes(out);
  rmSync(out, { recursive: true, force: true });
  return await Promise.resolve({ seconds: line.seconds, bytes, cpu: line.cpu });
};

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const mib = (n: number): string => (n / 1024 ** 2).toFixed(1);

const layout = writeSparseVolume(volume, sizeBytes, 0.1);
if (denseBytes > 0) writeDenseVolume(dense, denseBytes);
let s3Note = "s3: off (--s3 off)";
if (values.s3 === "on") {
  try {
    const cluster = await startCephCluster({ parentDir: values.dir, pools: [], radosgw: true });
    const user = await cluster.createS3User("bench");
    const endpoint = await cluster.startRadosgw();
    s3 = {
      options: { endpoint, bucket: "volkit-bench", accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey, createBucket: true },
      stop: () => cluster.stop(),
    };
    s3Note = `s3: radosgw (Ceph ${cephVersion()}) on ${endpoint}, single-node cluster, bluestore on a sparse file in ${values.dir}`;
  } catch (e) {
    s3Note = `s3: could not start a Ceph cluster with radosgw (${e instanceof Error ? e.message : String(e)}) — skipped`;
  }
}
const methods: [string, Method][] = [
  [`volkit zstd, ${availableParallelism()} workers (default)`, volkitBackup({})],
  ["volkit zstd, 1 worker", volkitBackup({ threads: 1 })],
  [`volkit gzip, ${availableParallelism()} workers`, volkitBackup({ compression: "gzip" })],
  ["dd bs=4M | gzip", ddGzip],
  ...(cinderAvailable ? ([["cinder posix driver (python3-cinder)", cinderPosix]] as [string, Method][]) : []),
  ["volkit restore (default backup) to a new file", volkitRestore],
  ...(s3 !== undefined
    ? ([
        [`volkit zstd, ${availableParallelism()} workers, to S3 (radosgw)`, volkitS3],
        ["volkit restore from S3 (radosgw) to a new file", volkitS3Restore],
      ] as [string, Method][])
    : []),
  ...(denseBytes > 0
    ? ([
        [`dense ${mib(denseBytes)} MiB: volkit zstd, ${availableParallelism()} workers`, volkitBackup({}, dense)],
        [`dense ${mib(denseBytes)} MiB: volkit zstd, 1 worker`, volkitBackup({ threads: 1 }, dense)],
        [`dense ${mib(denseBytes)} MiB: volkit zstd, main thread only`, volkitBackup({ threads: 0 }, dense)],
        [`dense ${mib(denseBytes)} MiB: zstd, ${availableParallelism()} workers, fsync each`, volkitBackup({}, dense, "each")],
        [`dense ${mib(denseBytes)} MiB: zstd, ${availableParallelism()} workers, fsync off`, volkitBackup({}, dense, "off")],
        [`dense ${mib(denseBytes)} MiB: volkit gzip, ${availableParallelism()} workers`, volkitBackup({ compression: "gzip" }, dense)],
        [`dense ${mib(denseBytes)} MiB: volkit gzip, 1 worker`, volkitBackup({ compression: "gzip", threads: 1 }, dense)],
      ] as [string, Method][])
    : []),
];
const samples = new Map<string, Sample[]>(methods.map(([name]) => [name, []]));
for (let round = 0; round < runs; round++) {
  for (const [name, method] of methods) samples.get(name)?.push(await method(round));
}

console.log(`volume: ${mib(sizeBytes)} MiB sparse file, ${mib(layout.dataBytes)} MiB data in ${layout.extents.length} extents (half random, half text), allocated ${mib(statSync(volume).blocks * 512)} MiB`);
console.log(`host: ${availableParallelism()} cores, node ${process.version}, ${runs} runs each, medians; warm page cache; load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end`);
console.log(s3Note);
if (!cinderAvailable) console.log("cinder: /usr/bin/python3 cannot import cinder.backup.drivers.posix (apt-get install python3-cinder) — skipped");
else console.log(`cinder: ${cinderSettings}`);
console.log("");
console.log(`${"method".padEnd(52)}${"time (s)".padStart(9)}  ${"min-max (s)".padEnd(13)}${"cpu (s)".padStart(8)}${"stored (MiB)".padStart(22)}`);
for (const [name] of methods) {
  const s = samples.get(name) ?? [];
  const t = s.map((x) => x.seconds);
  const cpus = s.flatMap((x) => (x.cpu === undefined ? [] : [x.cpu]));
  const stored = mib(median(s.map((x) => x.bytes)));
  const label = name.includes("restore") ? `${stored} allocated` : stored;
  const range = `${Math.min(...t).toFixed(2)}-${Math.max(...t).toFixed(2)}`;
  console.log(`${name.padEnd(52)}${median(t).toFixed(2).padStart(9)}  ${range.padEnd(13)}${(cpus.length ? median(cpus).toFixed(2) : "-").padStart(8)}${label.padStart(22)}`);
}
if (s3 !== undefined) await s3.stop();
