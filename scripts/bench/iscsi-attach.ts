/**
 * iSCSI attach/detach benchmark (issue 15, items 1 and 2), run INSIDE the storage lab:
 *
 *   VOLKIT_LAB_KEEP=8 flock /tmp/volkit-lab.lock npx tsx lab/run.ts --timeout 2400 -- npx tsx scripts/bench/iscsi-attach.ts [--rounds 5] [--luns 16]
 *
 * One LIO target with one LUN and one with `--luns` LUNs, both on the lab's two portals
 * (127.0.0.1:3260, 127.0.0.2:3260), dm-multipath (`find_multipaths no`). Each round runs, taking
 * turns (each goes first in one round of three) on the same boot:
 *
 * - volkit: `connectVolume` (multipath, enforced) then `disconnectVolume` of the single LUN;
 * - os-brick (Debian's python3-os-brick, scripts/bench/osbrick-attach.py): `connect_volume` then
 *   `disconnect_volume` of the same LUN; for `--luns`, one thread per LUN, as for volkit;
 * - the plain-tool floor: node records with `node.session.scan=manual`, both logins in parallel,
 *   a targeted sysfs scan per session, then waiting (10 ms sysfs poll) for multipathd's map with
 *   both paths; detach = flush, `multipath -f`, SCSI delete of both paths, both logouts, node
 *   records deleted;
 * - volkit: `--luns` concurrent `connectVolume`, then `--luns` concurrent `disconnectVolume`;
 * - the batch floor: two logins, ONE scan of every LUN per session, waiting for every map with
 *   both paths; detach of everything in parallel.
 *
 * The first volkit attach of the process is reported on its own (warm-up) and not counted. After
 * every run the host is checked for residue (sessions, disks, maps, node records of the target).
 * Prints a table and a JSON line with medians, min and max. Asserts nothing.
 */
import { execFile } from "node:child_process";
import { readFileSync, readdirSync, realpathSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createIscsiConnector } from "../../src/connectors/iscsi/index.js";
import type { ResultAsync } from "neverthrow";
import type { VolkitError } from "../../src/core/errors.js";
import type { AttachedDevice, ConnectionInfo } from "../../src/core/records.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" }, luns: { type: "string", default: "16" } } });
const ROUNDS = Number(values.rounds);
const LUNS = Number(values.luns);
const VG = process.env.VOLKIT_LAB_VG_THICK ?? "volkit-thick";
const PORT = Number(process.env.VOLKIT_LAB_LIO_PORT ?? "3260");
const ADDRESSES = (process.env.VOLKIT_LAB_PORTALS ?? "127.0.0.1,127.0.0.2").split(",");
const PORTALS = ADDRESSES.map((a) => `${a}:${PORT}`);
const SINGLE = "iqn.2026-11.io.volkit:bench-single";
const MANY = "iqn.2026-11.io.volkit:bench-many";

// ------------------------------------------------------------------ plumbing
function run(argv: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0] as string, argv.slice(1), { encoding: "utf8", maxBuffer: 64 << 20 }, (e, stdout, stderr) =>
      e ? reject(new Error(`${argv.join(" ")}: ${e.message} ${stderr}`)) : resolve(stdout),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}
const tryRun = (argv: string[]): Promise<string | undefined> => run(argv).catch(() => undefined);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const read = (p: string): string | undefined => {
  try {
    return readFileSync(p, "utf8").trim();
  } catch {
    return undefined;
  }
};
const list = (p: string): string[] => {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
};
async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 120_000, everyMs = 10): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ------------------------------------------------------------------ sysfs views
interface Session {
  id: string;
  host: number;
  address: string;
  dir: string;
}
function sessionsOf(iqn: string): Session[] {
  return list("/sys/class/iscsi_session").flatMap((s) => {
    if (read(`/sys/class/iscsi_session/${s}/targetname`) !== iqn) return [];
    const id = s.replace("session", "");
    const conn = list("/sys/class/iscsi_connection").find((c) => c.startsWith(`connection${id}:`));
    const address = conn ? read(`/sys/class/iscsi_connection/${conn}/persistent_address`) : undefined;
    let dir: string;
    try {
      dir = realpathSync(`/sys/class/iscsi_session/${s}/device`);
    } catch {
      return [];
    }
    const host = /\/host(\d+)\/session\d+$/.exec(dir)?.[1];
    return address === undefined || host === undefined ? [] : [{ id, host: Number(host), address, dir }];
  });
}
/** LUN → disk of a session. */
function disksOf(s: Session): Map<number, string> {
  const out = new Map<number, string>();
  for (const t of list(s.dir).filter((e) => e.startsWith("target"))) {
    for (const hctl of list(`${s.dir}/${t}`).filter((e) => /^\d+:\d+:\d+:\d+$/.test(e))) {
      const disk = list(`${s.dir}/${t}/${hctl}/block`)[0];
      if (disk) out.set(Number(hctl.split(":")[3]), disk);
    }
  }
  return out;
}
function mapOf(disk: string): string | undefined {
  return list(`/sys/block/${disk}/holders`).find((h) => h.startsWith("dm-") && (read(`/sys/block/${h}/dm/uuid`) ?? "").startsWith("mpath-"));
}
function residue(iqn: string): string[] {
  const sessions = sessionsOf(iqn);
  const disks = sessions.flatMap((s) => [...disksOf(s).values()]);
  const maps = disks.map(mapOf).filter((m): m is string => m !== undefined);
  const left = [...sessions.map((s) => `session${s.id}`), ...disks, ...new Set(maps)];
  return left;
}
async function nodeRecords(iqn: string): Promise<number> {
  const out = await tryRun(["iscsiadm", "-m", "node", "-T", iqn]);
  return out === undefined ? 0 : out.split("\n").filter(Boolean).length;
}

// ------------------------------------------------------------------ lab target
async function setupTargets(): Promise<void> {
  const lvs = [{ name: "bench-single", iqn: SINGLE, lun: 0 }, ...Array.from({ length: LUNS }, (_, i) => ({ name: `bench-many-${i}`, iqn: MANY, lun: i }))];
  for (const lv of lvs) await run(["lvcreate", "-qq", "-y", "-L", "16M", "-n", lv.name, VG]);
  const lines = ["set global auto_add_default_portal=false"];
  for (const lv of lvs) lines.push(`/backstores/block create name=${lv.name} dev=/dev/${VG}/${lv.name}`);
  for (const iqn of [SINGLE, MANY]) {
    lines.push(`/iscsi create ${iqn}`);
    const tpg = `/iscsi/${iqn}/tpg1`;
    lines.push(`${tpg} set attribute authentication=0 generate_node_acls=1 demo_mode_write_protect=0 cache_dynamic_acls=1`);
    for (const a of ADDRESSES) lines.push(`${tpg}/portals create ip_address=${a} ip_port=${PORT}`);
  }
  for (const lv of lvs) lines.push(`/iscsi/${lv.iqn}/tpg1/luns create storage_object=/backstores/block/${lv.name} lun=${lv.lun}`);
  await run(["targetcli"], `${lines.join("\n")}\nexit\n`);
}

function info(iqn: string, lun: number): ConnectionInfo {
  return {
    type: "iscsi",
    volumeId: `bench-${lun}`,
    accessMode: "rw",
    encrypted: false,
    targetDiscovered: false,
    targetIqn: iqn,
    targetPortal: PORTALS[0] ?? "",
    targetLun: lun,
    targetPortals: PORTALS,
    targetIqns: PORTALS.map(() => iqn),
    targetLuns: PORTALS.map(() => lun),
  };
}

// ------------------------------------------------------------------ plain-tool floor
async function floorLogin(iqn: string): Promise<Session[]> {
  await Promise.all(
    PORTALS.map(async (p) => {
      const node = ["iscsiadm", "-m", "node", "-T", iqn, "-p", p];
      await run([...node, "--interface", "default", "--op", "new"]);
      await run([...node, "--op", "update", "-n", "node.session.scan", "-v", "manual"]);
      await run([...node, "--login"]);
    }),
  );
  return until("both sessions", () => {
    const s = sessionsOf(iqn);
    return s.length === PORTALS.length ? s : undefined;
  });
}
/** Waits until every LUN has a disk on every session and one map holding all of them. */
function floorMaps(sessions: readonly Session[], luns: readonly number[]): Promise<string[]> {
  return until("maps with every path", () => {
    const maps: string[] = [];
    for (const l of luns) {
      const disks = sessions.map((s) => disksOf(s).get(l));
      if (disks.some((d) => d === undefined)) return undefined;
      const m = mapOf(disks[0] as string);
      if (!m || list(`/sys/block/${m}/slaves`).length !== disks.length || disks.some((d) => mapOf(d as string) !== m)) return undefined;
      maps.push(m);
    }
    return maps;
  });
}
async function floorAttach(iqn: string, luns: readonly number[]): Promise<string[]> {
  const sessions = await floorLogin(iqn);
  // One scan per session: the LUN itself when alone, every LUN of the target for a batch.
  for (const s of sessions) writeFileSync(`/sys/class/scsi_host/host${s.host}/scan`, luns.length === 1 ? `0 0 ${luns[0] ?? 0}` : "- - -");
  return floorMaps(sessions, luns);
}
async function floorDetach(iqn: string, maps: readonly string[]): Promise<void> {
  const sessions = sessionsOf(iqn);
  const disks = sessions.flatMap((s) => [...disksOf(s).values()]);
  await Promise.all(
    maps.map(async (m) => {
      await run(["blockdev", "--flushbufs", `/dev/${m}`]);
      await run(["multipath", "-f", read(`/sys/block/${m}/dm/name`) ?? m]);
    }),
  );
  for (const d of disks) writeFileSync(`/sys/block/${d}/device/delete`, "1");
  await until("disks gone", () => (disks.every((d) => list(`/sys/block/${d}`).length === 0) ? true : undefined));
  await Promise.all(PORTALS.map((p) => run(["iscsiadm", "-m", "node", "-T", iqn, "-p", p, "--logout"])));
  // One delete for the target's records: two concurrent deletes of one target's records race in
  // iscsiadm ("iface iter could not stat …", exit 6).
  await run(["iscsiadm", "-m", "node", "-T", iqn, "--op", "delete"]);
}

// ------------------------------------------------------------------ os-brick
let osbrickBroken = false;
/** os-brick's attach and detach of `luns` (scripts/bench/osbrick-attach.py, its own timing: import excluded). */
async function osbrick(label: string, iqn: string, luns: readonly number[]): Promise<void> {
  if (osbrickBroken) return;
  try {
    const out = await run(["python3", new URL("./osbrick-attach.py", import.meta.url).pathname, "--iqn", iqn, "--portals", PORTALS.join(","), "--luns", luns.join(",")]);
    const line = out.trim().split("\n").pop() ?? "";
    const t = JSON.parse(line) as { attachMs: number; detachMs: number };
    record(`${label} attach, os-brick`, t.attachMs);
    record(`${label} detach, os-brick`, t.detachMs);
  } catch (e) {
    osbrickBroken = true;
    notes.push(`os-brick failed (not measured further): ${e instanceof Error ? e.message.slice(0, 2000) : String(e)}`);
  }
}

// ------------------------------------------------------------------ measuring
const figures = new Map<string, number[]>();
const notes: string[] = [];
function record(name: string, ms: number): void {
  figures.set(name, [...(figures.get(name) ?? []), ms]);
}
async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const v = await fn();
  record(name, performance.now() - t0);
  return v;
}
async function checkClean(iqn: string, after: string): Promise<void> {
  const left = residue(iqn);
  const nodes = await nodeRecords(iqn);
  if (left.length > 0 || nodes > 0) notes.push(`RESIDUE after ${after}: ${left.join(" ")} node records=${nodes}`);
}
async function must<T>(pending: ResultAsync<T, VolkitError>): Promise<T> {
  const r = await pending;
  if (r.isErr()) throw new Error(`volkit error ${r.error.code}: ${r.error.message}`);
  return r.value;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

/** Prints the table, the ratios and the JSON line of the rounds so far. */
function report(done: number): void {
  const rows = [...figures.entries()].map(([name, xs]) => ({ name, runs: xs.length, medianMs: Math.round(median(xs)), minMs: Math.round(Math.min(...xs)), maxMs: Math.round(Math.max(...xs)) }));
  console.log(`\n==== iSCSI attach/detach, ${done} of ${ROUNDS} rounds (ms) ====`);
  for (const r of rows) console.log(`${r.name.padEnd(28)} median ${String(r.medianMs).padStart(6)}  min ${String(r.minMs).padStart(6)}  max ${String(r.maxMs).padStart(6)}`);
  for (const phase of ["single attach", "single detach", `${LUNS} LUNs attach`, `${LUNS} LUNs detach`]) {
    const v = figures.get(`${phase}, volkit`);
    for (const peer of ["floor", "os-brick"]) {
      const f = figures.get(`${phase}, ${peer}`);
      if (v && f) console.log(`${phase}: volkit / ${peer} = ${(median(v) / median(f)).toFixed(2)}`);
    }
  }
  for (const n of notes) console.log(n);
  console.log(`JSON ${JSON.stringify({ rounds: done, luns: LUNS, rows, notes })}`);
}

await setupTargets();
const connector = createIscsiConnector({ multipath: true, enforceMultipath: true, timeouts: { deviceMs: 120_000, mapMs: 120_000, removeMs: 120_000 } })._unsafeUnwrap();
const deadline = (): { deadline: number } => ({ deadline: Date.now() + 600_000 });
// Where the time of the warm-up and of the first warm single attach/detach goes (the connector's phase timings).
let phaseNotes = 4;
connector.events.on((e) => {
  if (e.type !== "operation:end" || e.volumeId !== "bench-0" || phaseNotes <= 0) return;
  phaseNotes--;
  notes.push(`phases of ${e.operation} (${Math.round(e.durationMs)} ms): ${e.phases.map((p) => `${p.name} ${Math.round(p.durationMs)}`).join(", ")}`);
});

// Warm-up: the first attach of a fresh process (reported, not counted).
{
  const t0 = performance.now();
  const dev = await must(connector.connectVolume(info(SINGLE, 0), deadline()));
  notes.push(`first volkit attach of the process: ${Math.round(performance.now() - t0)} ms`);
  await must(connector.disconnectVolume(info(SINGLE, 0), dev, deadline()));
  await checkClean(SINGLE, "warm-up");
}
const many = Array.from({ length: LUNS }, (_, i) => i);
for (let round = 1; round <= ROUNDS; round++) {
  // The three take turns, each going first in one round of three.
  const order = [["volkit", "os-brick", "floor"], ["os-brick", "floor", "volkit"], ["floor", "volkit", "os-brick"]][(round - 1) % 3] as string[];
  for (const who of order) {
    if (who === "volkit") {
      const dev = await timed("single attach, volkit", () => must(connector.connectVolume(info(SINGLE, 0), deadline())));
      await timed("single detach, volkit", () => must(connector.disconnectVolume(info(SINGLE, 0), dev, deadline())));
      await checkClean(SINGLE, `volkit single round ${round}`);
    } else if (who === "os-brick") {
      await osbrick("single", SINGLE, [0]);
      await checkClean(SINGLE, `os-brick single round ${round}`);
    } else {
      const maps = await timed("single attach, floor", () => floorAttach(SINGLE, [0]));
      await timed("single detach, floor", () => floorDetach(SINGLE, maps));
      await checkClean(SINGLE, `floor single round ${round}`);
    }
  }
  for (const who of order) {
    if (who === "volkit") {
      const devs: AttachedDevice[] = await timed(`${LUNS} LUNs attach, volkit`, () => Promise.all(many.map((l) => must(connector.connectVolume(info(MANY, l), deadline())))));
      await timed(`${LUNS} LUNs detach, volkit`, () => Promise.all(devs.map((d, l) => must(connector.disconnectVolume(info(MANY, l), d, deadline())))));
      await checkClean(MANY, `volkit ${LUNS} LUNs round ${round}`);
    } else if (who === "os-brick") {
      await osbrick(`${LUNS} LUNs`, MANY, many);
      await checkClean(MANY, `os-brick ${LUNS} LUNs round ${round}`);
    } else {
      const maps = await timed(`${LUNS} LUNs attach, floor`, () => floorAttach(MANY, many));
      await timed(`${LUNS} LUNs detach, floor`, () => floorDetach(MANY, maps));
      await checkClean(MANY, `floor ${LUNS} LUNs round ${round}`);
    }
  }
  console.log(`round ${round}/${ROUNDS} done`);
  // The figures so far after every round: a run cut short still leaves them.
  report(round);
}

