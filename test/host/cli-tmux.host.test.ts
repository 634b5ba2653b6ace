/**
 * The `volkit` command line as a person uses it: in a real terminal (a private tmux server), keys
 * sent, the screen read back. Checks that a long copy draws its progress bar with rate and ETA,
 * that Ctrl-C stops it, kills dd, removes the partial target and exits with ABORTED's code (130),
 * and that colours appear on the terminal and not through a pipe. Needs Debian's tmux package.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = resolve(import.meta.dirname, "../..");
const MiB = 2 ** 20;

function requireTmux(): void {
  const found = spawnSync("tmux", ["-V"], { encoding: "utf8" });
  if (found.error || found.status !== 0) throw new Error("tmux is not installed: install the Debian package tmux (apt-get install tmux, or bash scripts/host-prereqs.sh)");
}

let dir: string;
let socket: string;
const tmux = (...args: string[]): string => execFileSync("tmux", ["-S", socket, ...args], { encoding: "utf8" });
/** The visible screen of the pane (`escapes`: with colour codes). */
const screen = (escapes = false): string => tmux("capture-pane", "-p", "-J", ...(escapes ? ["-e"] : []), "-t", "cli");
/** Types a command line and Enter. */
function type(line: string): void {
  tmux("send-keys", "-t", "cli", "-l", line);
  tmux("send-keys", "-t", "cli", "Enter");
}

/** Polls the screen until `test` holds (or fails with the last screen). */
async function waitForScreen(test: (text: string) => boolean, timeoutMs: number, escapes = false): Promise<string> {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    last = screen(escapes);
    if (test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`screen never matched within ${timeoutMs} ms; last screen:\n${last}`);
}

const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");
/** The CLI as a developer runs it: node with tsx, one process (so Ctrl-C reaches volkit itself). */
const VOLKIT = `node --import tsx ${join(REPO, "src/cli/main.ts")}`;

/** Processes whose command line mentions `text` (a dd left running would). */
function processesMentioning(text: string): string[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .flatMap((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
        return cmd.includes(text) ? [cmd] : [];
      } catch {
        return [];
      }
    });
}

beforeAll(() => {
  requireTmux();
  dir = mkdtempSync(join(tmpdir(), "volkit-cli-tmux-"));
  socket = join(dir, "tmux.sock");
  // A private server on its own socket, a plain bash without rc files, no colour overrides.
  tmux("-f", "/dev/null", "new-session", "-d", "-s", "cli", "-x", "160", "-y", "40", "-c", REPO, "env", "-u", "NO_COLOR", "-u", "FORCE_COLOR", "TERM=xterm-256color", "bash", "--norc", "--noprofile");
  type("PS1='$ '; clear");
});

afterAll(() => {
  if (socket && existsSync(socket)) spawnSync("tmux", ["-S", socket, "kill-server"]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("volkit in a terminal", () => {
  it("draws a progress bar with rate and ETA while copying, and the copy is exact", async () => {
    const source = join(dir, "small.raw");
    const target = join(dir, "small-copy.raw");
    writeFileSync(source, randomBytes(24 * MiB));
    type(`clear; ${VOLKIT} image copy ${source} ${target} --bandwidth-limit 8M --chunk 1M; echo EXIT=$?`);
    const during = await waitForScreen((s) => /\| \d+% \| [\d.]+ MiB \/ 24\.0 MiB \| [\d.]+ MiB\/s \| ETA \d+s/.test(s), 15_000);
    expect(during).toMatch(/image copy \|[\u2588\u2591]+\|/);
    const end = await waitForScreen((s) => /EXIT=\d+/.test(s), 30_000);
    expect(end).toContain("EXIT=0");
    expect(end).toMatch(/copied:\s+.*small\.raw -> .*small-copy\.raw \(new sparse file\)/);
    expect(end).toMatch(/took:\s+\d+\.\d s \(\d+(\.\d)? MiB\/s\)/);
    expect(sha256(target)).toBe(sha256(source));
  });

  it("Ctrl-C cancels the copy: dd is killed, the partial target removed, exit code 130", async () => {
    const source = join(dir, "big.raw");
    const target = join(dir, "big-copy.raw");
    writeFileSync(source, randomBytes(96 * MiB));
    type(`clear; ${VOLKIT} image copy ${source} ${target} --bandwidth-limit 8M --chunk 1M; echo EXIT=$?`);
    await waitForScreen((s) => /MiB\/s \| ETA \d+s/.test(s), 15_000);
    expect(existsSync(target)).toBe(true);
    tmux("send-keys", "-t", "cli", "C-c");
    const end = await waitForScreen((s) => /EXIT=\d+/.test(s), 20_000);
    expect(end).toContain("Ctrl-C: cancelling and rolling back");
    // The abort lands while dd runs (the message names it) or between two of its commands.
    expect(end).toContain("error ABORTED: operation aborted by caller");
    expect(end).toMatch(/operation aborted by caller( while running dd)?; rolled back: removed /);
    expect(end).toContain(`; rolled back: removed ${target}`);
    expect(end).toContain("EXIT=130");
    expect(existsSync(target)).toBe(false);
    expect(processesMentioning(target)).toEqual([]);
  });

  it("colours the terminal, and not a pipe", async () => {
    type(`clear; ${VOLKIT} doctor --only qemu; echo EXIT=$?`);
    const coloured = await waitForScreen((s) => /EXIT=\d+/.test(s), 30_000, true);
    // eslint-disable-next-line no-control-regex -- the colour code is what is checked
    expect(coloured).toMatch(/qemu-img\s+\u001b\[32mok/);
    type(`clear; ${VOLKIT} doctor --only qemu | cat; echo EXIT=$?`);
    const piped = await waitForScreen((s) => /EXIT=\d+/.test(s) && s.includes("qemu-img"), 30_000, true);
    expect(piped).toMatch(/qemu-img\s+ok/);
    expect(piped).not.toContain("\u001b[32m");
  });
});
