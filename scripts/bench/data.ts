/**
 * Benchmarks 3, 4 and 5 (inside the storage lab): the copy engine against `dd` on 1 GiB volumes,
 * taking turns in each round.
 *
 * 3. copy thick → thick: `copyDevice` with the LVM driver's options (1 MiB blocks, O_DIRECT)
 *    against `dd bs=1M iflag=direct oflag=direct`; throughput in MiB/s.
 * 4. sparse copy of a thin volume 10% allocated (32 extents of 3.2 MiB) into a new thin volume:
 *    the LVM driver's `copyVolumeData` (the pool's mapping) against Cinder's way, `dd conv=sparse`
 *    over the whole device, buffered (page cache dropped before each run; `fsync` so the data is
 *    on the device when dd ends, as it is for the O_DIRECT copies) and with Cinder's direct-I/O
 *    flags; the target's allocation is recorded.
 * 5. wipe of a 1 GiB thick volume: `zeroDevice` as the driver's delete runs it against
 *    `dd if=/dev/zero oflag=direct`.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOperationContext } from "../../src/core/context.js";
import { copyDevice, zeroDevice } from "../../src/data/copy.js";
import { wrapDriver } from "../../src/drivers/backend.js";
import { createLvmDriver } from "../../src/drivers/lvm/index.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import { alternate, must, run, time, tryRun, type Results } from "./measure.js";
import { TracingRunner, describeTrace } from "./trace.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const THICK = process.env.VOLKIT_LAB_VG_THICK ?? "volkit-thick";
const THIN = process.env.VOLKIT_LAB_VG_THIN ?? "volkit-thin";
const ctx = () => createOperationContext({ operation: "bench", source: "bench", deadline: Date.now() + 600_000 });
const dropCaches = async (): Promise<void> => {
  await run(["sync"]);
  writeFileSync("/proc/sys/vm/drop_caches", "3");
};
const dataPercent = async (vg: string, lv: string): Promise<number> => Number((await run(["lvs", "--noheadings", "-o", "data_percent", `${vg}/${lv}`])).trim());

/** Options of the data benchmarks. */
export interface DataOptions {
  /** Rounds of each benchmark. */
  readonly rounds: number;
}

/** Runs benchmarks 3, 4 and 5 into `results`. */
export async function dataBenchmarks(results: Results, options: DataOptions): Promise<void> {
  // Every command volkit runs is recorded: the last round's trace of each benchmark is printed as a note.
  const runner = new TracingRunner(createLocalRunner());
  // ---------------------------------------------------------------- 3 and 5: thick
  await run(["lvcreate", "-qq", "-y", "-L", "1g", "-n", "bench-src", THICK]);
  await run(["lvcreate", "-qq", "-y", "-L", "1g", "-n", "bench-dst", THICK]);
  const src = `/dev/${THICK}/bench-src`;
  const dst = `/dev/${THICK}/bench-dst`;
  try {
    await run(["dd", "if=/dev/urandom", `of=${src}`, "bs=4M", "count=256", "oflag=direct", "status=none"]);
    for (let round = 1; round <= options.rounds; round++) {
      for (const who of alternate(round, "volkit", "dd")) {
        runner.take();
        const r =
          who === "volkit"
            ? await time(() => must(copyDevice(runner, { source: src, target: dst, bytes: GiB, blockBytes: MiB, direct: true }, ctx())))
            : await time(() => run(["dd", `if=${src}`, `of=${dst}`, "bs=1M", "iflag=direct", "oflag=direct", "status=none"]));
        results.add("3 copy 1 GiB thick→thick", who === "volkit" ? "volkit" : "dd bs=1M iflag/oflag=direct", GiB / MiB / (r.ms / 1000), "MiB/s", "higher");
        if (who === "volkit" && round === options.rounds) results.note(`3 trace, copy: ${describeTrace(runner.take(), r.ms)}`);
      }
      for (const who of alternate(round, "volkit", "dd")) {
        runner.take();
        const r =
          who === "volkit"
            ? await time(() => must(zeroDevice(runner, { target: dst, bytes: GiB, blockBytes: MiB, direct: true }, ctx())))
            : await time(() => run(["dd", "if=/dev/zero", `of=${dst}`, "bs=1M", "count=1024", "oflag=direct", "status=none"]));
        results.add("5 wipe 1 GiB thick", who === "volkit" ? "volkit" : "dd if=/dev/zero oflag=direct", r.ms);
        if (who === "volkit") {
          const trace = runner.take();
          results.add("5 wipe 1 GiB thick", "volkit: its dd process alone (trace)", trace.reduce((sum, c) => sum + (c.command.startsWith("dd") ? c.ms : 0), 0));
          if (round === options.rounds) results.note(`5 trace, wipe: ${describeTrace(trace, r.ms)}`);
        }
      }
      console.log(`data: thick round ${round}/${options.rounds}`);
    }
  } finally {
    await tryRun(["lvremove", "-qq", "-y", `${THICK}/bench-src`, `${THICK}/bench-dst`]);
  }

  // ---------------------------------------------------------------- 4: thin, sparse
  const driver = createLvmDriver({ driver: "lvm", volumeGroup: THIN, lvmType: "thin" }, { runner })._unsafeUnwrap();
  const backend = wrapDriver(driver);
  await must(backend.setup());
  const source = await must(backend.createVolume({ id: "bench-sparse-src", sizeGiB: 1 }));
  try {
    // 10% of 1 GiB in 32 extents of 3.2 MiB, one every 32 MiB.
    const extent = Buffer.concat([randomBytes(3 * MiB), randomBytes(MiB / 5)]);
    const file = join(tmpdir(), "volkit-bench-extent");
    writeFileSync(file, extent);
    for (let i = 0; i < 32; i++) await run(["dd", `if=${file}`, `of=/dev/${THIN}/volume-${source.id}`, "bs=1M", `seek=${i * 32 * MiB}`, "oflag=seek_bytes,direct", "conv=notrunc", "status=none"]);
    results.note(`4: source thin volume ${await dataPercent(THIN, `volume-${source.id}`)}% allocated`);
    const peers = ["volkit", "dd conv=sparse (buffered)", "dd conv=sparse, Cinder's direct flags"] as const;
    for (let round = 1; round <= options.rounds; round++) {
      for (const who of alternate(round, ...peers)) {
        const target = await must(backend.createVolume({ id: `bench-sparse-dst-${round}-${peers.indexOf(who)}`, sizeGiB: 1 }));
        const to = `/dev/${THIN}/volume-${target.id}`;
        const from = `/dev/${THIN}/volume-${source.id}`;
        if (who === "dd conv=sparse (buffered)") await dropCaches();
        runner.take();
        const r =
          who === "volkit"
            ? await time(() => must(driver.copyVolumeData(source, to, ctx())))
            : who === "dd conv=sparse (buffered)"
              ? await time(() => run(["dd", `if=${from}`, `of=${to}`, "bs=1M", "conv=sparse,fsync", "status=none"]))
              : await time(() => run(["dd", `if=${from}`, `of=${to}`, `count=${GiB}`, "bs=1M", "iflag=count_bytes,direct", "oflag=direct", "conv=sparse", "status=none"]));
        results.add("4 sparse copy 1 GiB thin 10% → thin", who, r.ms);
        if (who === "volkit" && round === options.rounds) results.note(`4 trace, sparse copy: ${describeTrace(runner.take(), r.ms)}`);
        results.add("4 target allocation after the copy", who, await dataPercent(THIN, `volume-${target.id}`), "%");
        await must(backend.deleteVolume(target));
      }
      console.log(`data: sparse round ${round}/${options.rounds}`);
    }
  } finally {
    await must(backend.deleteVolume(source));
  }
}
