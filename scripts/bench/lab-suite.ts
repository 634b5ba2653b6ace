/**
 * The data-path, LVM and image-cache benchmarks of issue 15 (3–7), run INSIDE the storage lab
 * (scripts/bench/main.ts boots it and starts this; run it yourself with
 * `npx tsx lab/run.ts -- npx tsx scripts/bench/lab-suite.ts [--only data,control,image] …`). The iSCSI
 * attach/detach benchmarks (1, 2) are scripts/bench/iscsi-attach.ts.
 * Each benchmark takes turns with its peer in every round; the table and a `BENCH-JSON` line are
 * printed at the end. Figures only: nothing asserts.
 */
import { parseArgs } from "node:util";
import { controlBenchmarks } from "./control.js";
import { dataBenchmarks } from "./data.js";
import { imageBenchmarks } from "./image.js";
import { Results, machine } from "./measure.js";

const { values } = parseArgs({
  options: {
    only: { type: "string", default: "data,control,image" },
    rounds: { type: "string", default: "5" },
    ops: { type: "string", default: "100" },
    blocks: { type: "string", default: "10" },
    "stats-lvs": { type: "string", default: "500" },
    "image-mib": { type: "string", default: "256" },
  },
});
if (process.env.VOLKIT_LAB !== "1") {
  console.error("scripts/bench/lab-suite.ts runs inside the storage lab: npm run bench");
  process.exit(2);
}
const only = new Set((values.only ?? "").split(",").filter(Boolean));
const rounds = Number(values.rounds);
const results = new Results();
console.log(`machine: ${JSON.stringify(machine())}`);
const started = Date.now();
try {
  // The table so far is printed after each group: a run cut short by the lab's deadline keeps what it measured.
  if (only.has("data")) {
    await dataBenchmarks(results, { rounds });
    results.print("so far: data");
  }
  if (only.has("control")) {
    await controlBenchmarks(results, { ops: Number(values.ops), blocks: Number(values.blocks), statsLvs: Number(values["stats-lvs"]), rounds });
    results.print("so far: control");
  }
  if (only.has("image")) {
    await imageBenchmarks(results, { rounds, imageMiB: Number(values["image-mib"]) });
  }
} catch (e) {
  results.note(`STOPPED: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  results.note(`suite took ${Math.round((Date.now() - started) / 1000)} s; machine at the end: ${JSON.stringify(machine())}`);
  results.print(`volkit benchmarks (${[...only].join(", ")})`);
}
