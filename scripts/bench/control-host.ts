/**
 * What volkit itself adds on the LVM control path, measured on the host without LVM (benchmark 6's
 * bounds): the runtime's own time in `getVolumeStats` with 500 thin LVs (the LVM driver on a
 * FakeRunner that answers the captured thin report, its LV row repeated 500 times under new
 * names: parse, pool maths and the runtime's record validation, no process), and the cost of one
 * process started through the local runner (execa) against `child_process.execFile` of the same
 * `true`, taking turns. Figures only.
 *
 *   npx tsx scripts/bench/control-host.ts [--rounds 5] [--lvs 500] [--spawns 50]
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { wrapDriver } from "../../src/drivers/backend.js";
import { createLvmDriver } from "../../src/drivers/lvm/index.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import { FakeRunner } from "../../src/testing/fake-runner.js";
import { Results, alternate, machine, must, time } from "./measure.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    lvs: { type: "string", default: "500" },
    spawns: { type: "string", default: "50" },
  },
});
const rounds = Number(values.rounds);
const lvCount = Number(values.lvs);
const spawns = Number(values.spawns);

/** The captured thin report with its first volume row repeated `n` times under new names. */
function bigReport(n: number): string {
  const captured = JSON.parse(readFileSync(new URL("../../test/fixtures/lvm/report-thin.json", import.meta.url), "utf8")) as { report: Array<{ vg: Array<Record<string, string>> }> };
  const rows = captured.report[0]?.vg ?? [];
  const pool = rows.find((r) => r.lv_attr?.startsWith("t"));
  const volume = rows.find((r) => r.lv_name?.startsWith("volume-"));
  if (!pool || !volume) throw new Error("the captured report has no pool or volume row");
  const many = Array.from({ length: n }, (_, i) => ({ ...volume, lv_name: `volume-stat${i}`, thin_id: String(i + 1), lv_count: String(n + 1) }));
  return JSON.stringify({ report: [{ vg: [{ ...pool, lv_count: String(n + 1) }, ...many] }] });
}

console.log(`machine: ${JSON.stringify(machine())}`);
const results = new Results();
const report = bigReport(lvCount);
const fake = new FakeRunner().on((argv) => argv[0] === "vgs", { stdout: report }).on(["hostname"], { stdout: "storage-1\n" });
const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: "volkit-thin", lvmType: "thin" }, { runner: fake })._unsafeUnwrap());
await must(backend.initialize());
const first = await time(() => must(backend.getVolumeStats()));
results.note(`first getVolumeStats of the process (hostname included): ${Math.round(first.ms)} ms; volumes seen: ${first.value.pools[0]?.totalVolumes ?? 0}`);
for (let r = 0; r < rounds; r++) results.add(`6 getVolumeStats, ${lvCount} thin LVs, no process`, "volkit (runtime + parser only)", (await time(() => must(backend.getVolumeStats()))).ms);

const local = createLocalRunner();
const plain = (): Promise<void> => new Promise((resolve, reject) => execFile("true", (e) => (e ? reject(new Error(e.message)) : resolve())));
for (let round = 1; round <= rounds; round++) {
  for (const who of alternate(round, "runner", "execFile")) {
    const r = await time(async () => {
      for (let i = 0; i < spawns; i++) {
        if (who === "runner") await must(local.run({ argv: ["true"] }));
        else await plain();
      }
    });
    results.add("one process (`true`)", who === "runner" ? "volkit" : "child_process.execFile", r.ms / spawns, "ms/cmd");
  }
}
results.note(`machine at the end: ${JSON.stringify(machine())}`);
results.print("control path on the host: what volkit adds");
