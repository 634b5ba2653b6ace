/**
 * `npm run bench`: builds the package (the fresh-process benchmark imports dist/), boots the
 * storage lab ONCE under the machine-wide lab lock, and runs scripts/bench/lab-suite.ts in it.
 * Arguments after `--` go to the suite (`npm run bench -- --only data --rounds 3`); `--no-build`
 * skips the build. The lab's console (the suite's progress, table and BENCH-JSON line) is
 * streamed through; the exit code is the lab run's. The host's load average is printed before and
 * after the lab run (the "before" once the lab lock is held).
 */
import { spawn } from "node:child_process";
import { loadavg } from "node:os";

const args = process.argv.slice(2);
const build = !args.includes("--no-build");
const suiteArgs = args.filter((a) => a !== "--no-build");

function go(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: "inherit", env });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

if (build) {
  const built = await go(["npm", "run", "build"]);
  if (built !== 0) process.exit(built);
}
// One VM at a time on this machine (the lock), and other recipes' cached images kept (KEEP).
const env = { ...process.env, VOLKIT_LAB_KEEP: process.env.VOLKIT_LAB_KEEP ?? "8", VOLKIT_LAB_DISK_GIB: process.env.VOLKIT_LAB_DISK_GIB ?? "10" };
// The host's load around the lab run (the guest prints its own): figures are only as good as it is quiet.
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(" ");
// The "before" line is printed by a tiny shell once the lock is held (the wait in the queue is not the run).
const stamp = 'echo "bench: host load average when the lab lock was taken: $(cut -d" " -f1-3 /proc/loadavg) ($(date -u +%FT%TZ))"; exec "$@"';
const code = await go(["flock", "/tmp/volkit-lab.lock", "sh", "-c", stamp, "sh", "npx", "tsx", "lab/run.ts", "--timeout", process.env.VOLKIT_BENCH_TIMEOUT ?? "5400", "--", "npx", "tsx", "scripts/bench/lab-suite.ts", ...suiteArgs], env);
console.log(`bench: host load average after the lab run: ${load()} (${new Date().toISOString()})`);
process.exit(code);
