import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** The Ceph test cluster's daemons as processes: found through pid files, signalled, waited for. */

/** Pid of daemon `name` from its pid file, when that process is alive and runs with `confPath`. */
export function daemonPid(dir: string, confPath: string, name: string): number | undefined {
  const file = join(dir, "run", `${name}.pid`);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    // Only a process started with this cluster's config: a reused pid is someone else's.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return cmdline.includes(confPath) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Last resort when the starting process exits without `stop()`: SIGKILL every daemon of the
 * cluster and remove its directory (synchronous: this runs in an `exit` handler).
 */
export function killAll(dir: string, confPath: string): void {
  if (!existsSync(join(dir, "run"))) return;
  const names = readdirSync(join(dir, "run")).filter((f) => f.endsWith(".pid")).map((f) => f.slice(0, -4));
  for (const name of names) {
    const pid = daemonPid(dir, confPath, name);
    if (pid !== undefined) signal(pid, "SIGKILL");
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Sends `sig` to `pid`; a process already gone is fine. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie (exited, not yet reaped by its parent) counts as gone.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Waits up to `timeoutMs` for `pid` to exit; true when it did. */
export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

/** Polls `probe` (50 ms, growing to 500 ms) until true; throws after `timeoutMs`. */
export async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  let delay = 50;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`ceph fixture: timed out waiting for ${what}`);
    await sleep(delay);
    delay = Math.min(500, delay * 1.5);
  }
}

/** Milliseconds since `since` (a `performance.now()`), rounded. */
export function ms(since: number): number {
  return Math.round(performance.now() - since);
}
