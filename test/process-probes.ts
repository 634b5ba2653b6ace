/**
 * Process probes shared by the runner tests (unit tests of the local runner, the SSH runner's host
 * test): find a test's own processes by their exact command line and poll until a condition holds.
 */
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

/** Pids of processes whose full command line is exactly `cmdline` (`pgrep -x -f`; dots matched literally). */
export function pgrepExact(cmdline: string): number[] {
  try {
    return execFileSync("pgrep", ["-x", "-f", cmdline.replaceAll(".", "\\.")], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** Polls `predicate` every `stepMs` until it holds (true) or `ms` have passed (false). */
export async function waitFor(predicate: () => boolean, ms: number, stepMs = 20): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (predicate()) return true;
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
}

/**
 * A `sleep` duration nobody else uses, `<tens><digit>.<micro>` seconds (e.g. tens 5: 50-58 s), so
 * `pgrepExact("sleep " + it)` finds only the caller's process.
 */
export function uniqueSeconds(tens: number): string {
  return `${tens}${Math.floor(Math.random() * 9)}.${Math.floor(Math.random() * 1e6)}`;
}
