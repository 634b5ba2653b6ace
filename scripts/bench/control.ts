/**
 * Benchmark 6 (inside the storage lab): the LVM control path on thin volumes.
 *
 * - create + delete of a 1 GiB thin LV through the runtime (`backend.createVolume` then
 *   `deleteVolume`) against the same `lvcreate`/`lvremove` in a bash loop, in alternating blocks;
 *   a second loop also runs the reads the runtime does for safety (one report before the create,
 *   one `lvs` before the delete), which isolates the runtime's own overhead;
 * - a thin clone through the runtime against one `lvcreate -s`;
 * - `getVolumeStats` with 500 thin LVs against the one report command it runs, and against the
 *   `vgs` + `lvs` pair the driver used to run;
 * - the first operation of a fresh Node process (import of the built package, then the first
 *   `createVolume`), against the same process's second `createVolume`, and the import of zod and
 *   execa alone.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { wrapDriver, type VolumeBackend } from "../../src/drivers/backend.js";
import { createLvmDriver } from "../../src/drivers/lvm/index.js";
import { LVS_FIELDS, VG_LV_FIELDS } from "../../src/drivers/lvm/lvm-parsers.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import { alternate, median, must, run, time, tryRun, type Results } from "./measure.js";
import { TracingRunner, describeTrace } from "./trace.js";

const VG = process.env.VOLKIT_LAB_VG_THIN ?? "volkit-thin";
const POOL = `${VG}-pool`;
const ENV = { ...process.env, LC_ALL: "C", LVM_SUPPRESS_FD_WARNINGS: "1" };
const REMOVE_CONFIG = "activation { retry_deactivation = 1 }";

/** Options of the control-path benchmarks. */
export interface ControlOptions {
  /** create+delete pairs per side. */
  readonly ops: number;
  /** Blocks the pairs are split into (sides alternate per block). */
  readonly blocks: number;
  /** Thin LVs present for the stats benchmark. */
  readonly statsLvs: number;
  /** Rounds of the stats, clone and fresh-process benchmarks. */
  readonly rounds: number;
}

function bash(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("bash", ["-euc", script], { env: ENV, encoding: "utf8", maxBuffer: 64 << 20 }, (e, stdout, stderr) => (e ? reject(new Error(`${e.message} ${stderr}`)) : resolve(stdout)));
  });
}

/** `n` create+delete pairs of the bash loop; `reads` adds the runtime's safety reads. */
function shellLoop(prefix: string, n: number, reads: boolean): string {
  const report = reads ? `vgs --reportformat json --units b --nosuffix -o ${VG_LV_FIELDS} ${VG} >/dev/null; ` : "";
  const lvs = reads ? `lvs --reportformat json --units b --nosuffix -o ${LVS_FIELDS} ${VG} >/dev/null; ` : "";
  return (
    `for i in $(seq 1 ${n}); do ${report}lvcreate --yes --wipesignatures y -T -V 1g -n ${prefix}-$i ${VG}/${POOL} >/dev/null; ` +
    `${lvs}lvremove --yes --config '${REMOVE_CONFIG}' -f ${VG}/${prefix}-$i >/dev/null; done`
  );
}

/** The runner of the benchmarked backend: every command it runs is recorded. */
const traced = new TracingRunner(createLocalRunner());

async function createDelete(results: Results, backend: VolumeBackend, options: ControlOptions): Promise<void> {
  const per = Math.max(1, Math.round(options.ops / options.blocks));
  const sides = ["volkit", "bash loop, same lvcreate/lvremove", "bash loop + the runtime's reads"] as const;
  for (let block = 1; block <= options.blocks; block++) {
    for (const who of alternate(block, ...sides)) {
      const r = await time(async () => {
        if (who === "volkit") {
          for (let i = 0; i < per; i++) {
            traced.take();
            const c = await time(() => must(backend.createVolume({ id: `cd-${block}-${i}`, sizeGiB: 1 })));
            const createTrace = traced.take();
            const d = await time(() => must(backend.deleteVolume(c.value)));
            if (block === options.blocks && i === per - 1) {
              results.note(`6 trace, create thin LV: ${describeTrace(createTrace, c.ms)}`);
              results.note(`6 trace, delete thin LV: ${describeTrace(traced.take(), d.ms)}`);
            }
          }
        } else {
          await bash(shellLoop(`sh${block}${who.length}`, per, who !== "bash loop, same lvcreate/lvremove"));
        }
      });
      results.add("6 create+delete thin LV", who, r.ms / per, "ms/op");
    }
    console.log(`control: create+delete block ${block}/${options.blocks}`);
  }
}

async function thinClone(results: Results, backend: VolumeBackend, options: ControlOptions): Promise<void> {
  const source = await must(backend.createVolume({ id: "clone-src", sizeGiB: 1 }));
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const who of alternate(round, "volkit", "lvcreate -s")) {
        if (who === "volkit") {
          traced.take();
          const r = await time(() => must(backend.createClonedVolume({ id: `clone-${round}`, sizeGiB: 1 }, source)));
          results.add("6 thin clone", "volkit", r.ms);
          if (round === options.rounds) results.note(`6 trace, thin clone: ${describeTrace(traced.take(), r.ms)}`);
          await must(backend.deleteVolume(r.value));
        } else {
          const r = await time(() => run(["lvcreate", "--yes", "-s", "-n", `shclone-${round}`, "--setactivationskip", "n", `${VG}/volume-${source.id}`]));
          results.add("6 thin clone", "lvcreate -s (one command)", r.ms);
          await run(["lvremove", "-qq", "-y", `${VG}/shclone-${round}`]);
        }
      }
    }
  } finally {
    await must(backend.deleteVolume(source));
  }
}

async function stats(results: Results, backend: VolumeBackend, options: ControlOptions): Promise<void> {
  // One lvm process creates them all (lvm's shell reads commands from stdin); inactive, so no
  // device-mapper work, which stats do not need.
  const names = Array.from({ length: options.statsLvs }, (_, i) => `volume-stat${i}`);
  const created = await time(() => run(["lvm"], `${names.map((n) => `lvcreate --yes -an -T -V 1g -n ${n} ${VG}/${POOL}`).join("\n")}\n`));
  results.note(`6: created ${options.statsLvs} thin LVs in ${Math.round(created.ms / 1000)} s (one lvm shell)`);
  try {
    const report = ["vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", VG_LV_FIELDS, VG];
    for (let round = 1; round <= options.rounds; round++) {
      for (const who of alternate(round, "volkit", "report", "pair")) {
        if (who === "volkit") {
          traced.take();
          const r = await time(() => must(backend.getVolumeStats()));
          if (round === options.rounds) results.note(`6 trace, getVolumeStats: ${describeTrace(traced.take(), r.ms)}`);
          const volumes = r.value.pools[0]?.totalVolumes ?? 0;
          if (volumes < options.statsLvs) results.note(`6: stats saw only ${volumes} volumes`);
          results.add(`6 getVolumeStats, ${options.statsLvs} thin LVs`, "volkit", r.ms);
        } else if (who === "report") {
          results.add(`6 getVolumeStats, ${options.statsLvs} thin LVs`, "the one report command", (await time(() => run(report))).ms);
        } else {
          const pair = await time(async () => {
            await run(["vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "vg_name,vg_size,vg_free,lv_count,vg_uuid,vg_extent_size", VG]);
            await run(["lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", LVS_FIELDS, VG]);
          });
          results.add(`6 getVolumeStats, ${options.statsLvs} thin LVs`, "vgs + lvs (the old pair)", pair.ms);
        }
      }
    }
  } finally {
    await run(["lvremove", "-qq", "-y", "-S", "lv_name=~^volume-stat", VG]);
  }
}

/** The code a fresh process runs: import the built package, create twice, delete both. */
function freshProcessCode(dist: string, round: number): string {
  return `
const t0 = performance.now();
const volkit = await import(${JSON.stringify(dist)});
const t1 = performance.now();
const backend = (await volkit.createBackend({ driver: "lvm", volumeGroup: ${JSON.stringify(VG)}, lvmType: "thin" }))._unsafeUnwrap();
const a = (await backend.createVolume({ id: "fresh-a-${round}", sizeGiB: 1 }))._unsafeUnwrap();
const t2 = performance.now();
const b = (await backend.createVolume({ id: "fresh-b-${round}", sizeGiB: 1 }))._unsafeUnwrap();
const t3 = performance.now();
(await backend.deleteVolume(a))._unsafeUnwrap();
(await backend.deleteVolume(b))._unsafeUnwrap();
console.log(JSON.stringify({ importMs: t1 - t0, firstCreateMs: t2 - t1, warmCreateMs: t3 - t2 }));
`;
}

async function freshProcess(results: Results, options: ControlOptions): Promise<void> {
  const dist = new URL("../../dist/index.js", import.meta.url);
  if (!existsSync(dist)) {
    results.note("6: dist/index.js is missing (run `npm run build` before the lab run): fresh-process figures skipped");
    return;
  }
  const importOf = (module: string): string => `const t = performance.now(); await import(${JSON.stringify(module)}); console.log(JSON.stringify({ ms: performance.now() - t }));`;
  for (let round = 1; round <= options.rounds; round++) {
    const wall = await time(() => run(["node", "--input-type=module", "-e", freshProcessCode(dist.href, round)]));
    const f = JSON.parse(wall.value) as { importMs: number; firstCreateMs: number; warmCreateMs: number };
    results.add("6 fresh process: import volkit", "volkit", f.importMs);
    results.add("6 fresh process: first createVolume", "volkit", f.firstCreateMs);
    results.add("6 fresh process: first createVolume", "same process, second createVolume", f.warmCreateMs);
    results.add("6 fresh process: node start to exit", "volkit", wall.ms);
    results.add("6 fresh process: node start to exit", "node -e 0", (await time(() => run(["node", "-e", "0"]))).ms);
    for (const module of ["zod", "execa"]) {
      const out = await run(["node", "--input-type=module", "-e", importOf(module)]);
      results.add("6 fresh process: import volkit", `import ${module} alone`, (JSON.parse(out) as { ms: number }).ms);
    }
  }
}

/** Runs benchmark 6 into `results`. */
export async function controlBenchmarks(results: Results, options: ControlOptions): Promise<void> {
  const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: VG, lvmType: "thin" }, { runner: traced })._unsafeUnwrap());
  await must(backend.setup());
  try {
    await createDelete(results, backend, options);
    await thinClone(results, backend, options);
    await stats(results, backend, options);
    await freshProcess(results, options);
  } finally {
    // Anything a failed run left (never the pool: other benchmarks share it).
    await tryRun(["lvremove", "-qq", "-y", "-S", "lv_name=~^(volume-|sh|shclone-)", VG]);
  }
  const perOp = results.rows.filter((r) => r.bench === "6 create+delete thin LV");
  const volkit = perOp.find((r) => r.who === "volkit");
  for (const peer of perOp.filter((r) => r.who !== "volkit")) {
    if (volkit) results.note(`6: runtime overhead vs "${peer.who}": ${Math.round(median(volkit.samples) - median(peer.samples))} ms per create+delete`);
  }
}
