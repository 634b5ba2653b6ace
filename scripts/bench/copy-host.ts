/**
 * Benchmarks 3 and 5 on the host, without the lab (when the lab is busy, or to see the engine
 * without TCG's emulated disk):
 *
 *   npx tsx scripts/bench/copy-host.ts [--rounds 5] [--mib 1024] [--dir /var/tmp]
 *
 * On two preallocated files of `--mib` MiB in a private directory under `--dir` (a filesystem
 * with O_DIRECT, not tmpfs), taking turns in each round:
 * - copy: `copyDevice` (one long-lived dd, 1 MiB blocks, O_DIRECT, the LVM driver's options)
 *   vs `dd bs=1M iflag=direct oflag=direct`, and the engine with 64 MiB chunks (one dd per
 *   chunk, what a bandwidth limit or `copyChunkBytes` gives);
 * - wipe: `zeroDevice` vs `dd if=/dev/zero oflag=direct`, with the duration of volkit's dd
 *   process alone (from a command trace) as a third row.
 * Figures only; nothing asserts.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createOperationContext } from "../../src/core/context.js";
import { copyDevice, zeroDevice } from "../../src/data/copy.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import { Results, alternate, machine, must, run, time } from "./measure.js";
import { TracingRunner } from "./trace.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" }, mib: { type: "string", default: "1024" }, dir: { type: "string", default: "/var/tmp" } } });
const MiB = 1024 * 1024;
const rounds = Number(values.rounds);
const size = Number(values.mib) * MiB;
const dir = mkdtempSync(join(values.dir ?? "/var/tmp", "volkit-copy-bench-"));
const src = join(dir, "src");
const dst = join(dir, "dst");
// Traced: the dd process's own duration is reported next to volkit's total (what is dd, what is around it).
const runner = new TracingRunner(createLocalRunner());
const ddMs = (): number => runner.take().reduce((sum, c) => sum + (c.command.startsWith("dd") ? c.ms : 0), 0);
const ctx = () => createOperationContext({ operation: "bench", source: "bench", deadline: Date.now() + 600_000 });
const results = new Results();
const mibps = (ms: number): number => size / MiB / (ms / 1000);

console.log(`machine: ${JSON.stringify(machine())}`);
try {
  // Random data (incompressible, no zero blocks), written once; the target preallocated.
  writeFileSync(src, Buffer.alloc(0));
  for (let i = 0; i < size / (64 * MiB); i++) writeFileSync(src, randomBytes(64 * MiB), { flag: "a" });
  await run(["fallocate", "-l", String(size), dst]);
  const copyName = `3 copy ${values.mib} MiB file→file`;
  const wipeName = `5 wipe ${values.mib} MiB file`;
  for (let round = 1; round <= rounds; round++) {
    for (const who of alternate(round, "volkit", "dd", "chunked")) {
      const r =
        who === "volkit"
          ? await time(() => must(copyDevice(runner, { source: src, target: dst, bytes: size, blockBytes: MiB, direct: true }, ctx())))
          : who === "chunked"
            ? await time(() => must(copyDevice(runner, { source: src, target: dst, bytes: size, blockBytes: MiB, chunkBytes: 64 * MiB, direct: true }, ctx())))
            : await time(() => run(["dd", `if=${src}`, `of=${dst}`, "bs=1M", "iflag=direct", "oflag=direct", "conv=notrunc", "status=none"]));
      results.add(copyName, who === "volkit" ? "volkit" : who === "dd" ? "dd bs=1M iflag/oflag=direct" : "volkit, 64 MiB chunks (one dd each)", mibps(r.ms), "MiB/s", "higher");
    }
    for (const who of alternate(round, "volkit", "dd")) {
      runner.take();
      const r =
        who === "volkit"
          ? await time(() => must(zeroDevice(runner, { target: dst, bytes: size, blockBytes: MiB, direct: true }, ctx())))
          : await time(() => run(["dd", "if=/dev/zero", `of=${dst}`, "bs=1M", `count=${size / MiB}`, "oflag=direct", "conv=notrunc", "status=none"]));
      results.add(wipeName, who === "volkit" ? "volkit" : "dd if=/dev/zero oflag=direct", r.ms);
      if (who === "volkit") results.add(wipeName, "volkit: its dd process alone (trace)", ddMs());
    }
    console.log(`copy-host: round ${round}/${rounds}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  results.print("copy engine vs dd on the host (files, O_DIRECT)");
}
