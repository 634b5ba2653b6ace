import { EventEmitter } from "node:events";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { type Command } from "commander";
import { errAsync, okAsync } from "neverthrow";
import { describe, expect, it, vi } from "vitest";
import { listenForCancel, runWithRollback } from "../../../src/cli/cancel.js";
import { painterFor, shouldColour } from "../../../src/cli/colour.js";
import { CliRun } from "../../../src/cli/command-kit.js";
import { EXIT_CODES } from "../../../src/cli/exit-codes.js";
import { ErrorOutputSchema } from "../../../src/cli/output.js";
import { RateMeter, progressText } from "../../../src/cli/progress.js";
import { CLI_VERSION, allCommands, buildProgram } from "../../../src/cli/program.js";
import { formatBytes, formatSeconds, parseBytes } from "../../../src/cli/units.js";
import { abortReasonToError } from "../../../src/core/context.js";
import { ERROR_CODES, VolkitError } from "../../../src/core/errors.js";
import { Captured, volkit } from "./cli-harness.js";

describe("exit codes", () => {
  it("give every error code its own number, with the conventional ones where they exist", () => {
    const numbers = ERROR_CODES.map((c) => EXIT_CODES[c]);
    expect(new Set(numbers).size).toBe(ERROR_CODES.length);
    expect(numbers.every((n) => Number.isInteger(n) && n > 1 && n < 256)).toBe(true);
    expect(EXIT_CODES).toMatchObject({ INVALID_ARGUMENT: 2, INTERNAL: 70, INVALID_CONFIG: 78, TIMEOUT: 124, ABORTED: 130 });
  });

  it("are 2 for a command line the parser refuses, with a JSON error under --json", async () => {
    const unknown = await volkit(["volume", "frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const missing = await volkit(["image", "convert", "a.raw", "--json"]);
    expect(missing.code).toBe(2);
    expect(ErrorOutputSchema.parse(missing.json()).error).toMatchObject({ code: "INVALID_ARGUMENT", exitCode: 2 });
    expect((await volkit(["--help"])).code).toBe(0);
    expect((await volkit(["--version"])).stdout.trim()).toBe(CLI_VERSION);
  });

  it("follow the error of a service command that has no service bound (NOT_SUPPORTED)", async () => {
    const r = await volkit(["volume", "list", "--json"]);
    expect(r.code).toBe(EXIT_CODES.NOT_SUPPORTED);
    expect(ErrorOutputSchema.parse(r.json()).error).toMatchObject({ code: "NOT_SUPPORTED", exitCode: 24 });
  });

  it("CLI_VERSION is the package version", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(CLI_VERSION).toBe(pkg.version);
  });
});

describe("colours", () => {
  it("are on only for a terminal, never with NO_COLOR or TERM=dumb, forced by FORCE_COLOR", () => {
    expect(shouldColour({ isTTY: true }, {})).toBe(true);
    expect(shouldColour({ isTTY: false }, {})).toBe(false);
    expect(shouldColour({}, {})).toBe(false);
    expect(shouldColour({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(shouldColour({ isTTY: true }, { NO_COLOR: "" })).toBe(true);
    expect(shouldColour({ isTTY: true }, { TERM: "dumb" })).toBe(false);
    expect(shouldColour({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
    expect(shouldColour({ isTTY: false }, { FORCE_COLOR: "0" })).toBe(false);
    expect(painterFor({ isTTY: true }, {}).paint("ok", "x")).toBe("\u001b[32mx\u001b[39m");
    expect(painterFor({ isTTY: false }, {}).paint("ok", "x")).toBe("x");
  });

  it("reach the output of a command on a terminal only, and never its JSON", async () => {
    const tty = await volkit(["schema", "--help"], { stdoutTTY: true });
    expect(tty.code).toBe(0);
    const errTty = await volkit(["volume", "list"], { stderrTTY: true });
    expect(errTty.stderr).toContain("\u001b[31merror\u001b[39m");
    const errPipe = await volkit(["volume", "list"], { stderrTTY: false });
    expect(errPipe.stderr).not.toContain("\u001b[");
    const noColor = await volkit(["volume", "list"], { stderrTTY: true, env: { NO_COLOR: "1" } });
    expect(noColor.stderr).not.toContain("\u001b[");
    const json = await volkit(["volume", "list", "--json"], { stdoutTTY: true, stderrTTY: true });
    expect(json.stdout).not.toContain("\u001b[");
  });
});

describe("help and the command tree", () => {
  const tree = (): Command => buildProgram(new CliRun({} as never, () => undefined));

  it("gives every leaf command a --json schema and at least one example in its --help", async () => {
    const run = new CliRun({} as never, () => undefined);
    const program = buildProgram(run);
    const leaves = allCommands(program).filter((c) => c.commands.length === 0 && c.parent);
    expect(leaves.length).toBeGreaterThanOrEqual(45);
    for (const cmd of leaves) {
      const path = [cmd.parent?.parent ? cmd.parent.name() : "", cmd.name()].filter(Boolean).join(" ");
      expect(run.schemas.has(path), path).toBe(true);
      expect(run.examples.get(path)?.length ?? 0, path).toBeGreaterThan(0);
      const help = await volkit([...path.split(" "), "--help"]);
      expect(help.code, path).toBe(0);
      expect(help.stdout, path).toContain(`$ volkit ${run.examples.get(path)?.[0] ?? "?"}`);
    }
  });

  it("shows the examples in --help", async () => {
    const r = await volkit(["volume", "attach", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Examples:\n  $ volkit volume attach vol-1");
    expect((await volkit(["doctor", "--help"])).stdout).toContain("$ volkit doctor --only iscsi,multipath --json");
    expect(tree().name()).toBe("volkit");
  });

  it("generates bash completion from the tree that completes commands, subcommands and options", async () => {
    const script = (await volkit(["completion", "bash"])).stdout;
    const complete = (...words: string[]): string[] => {
      const out = execFileSync("bash", ["-c", `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _volkit; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: "utf8" });
      return out.split("\n").filter((l) => l !== "");
    };
    expect(complete("volkit", "vol")).toEqual(["volume"]);
    expect(complete("volkit", "volume", "")).toEqual(expect.arrayContaining(["create", "attach", "detach", "reset-status", "force-delete", "--json", "--config"]));
    expect(complete("volkit", "--json", "backend", "s")).toEqual(["stats", "setup"]);
    expect(complete("volkit", "volume", "extend", "--s")).toEqual(["--size"]);
    expect(complete("volkit", "host", "")).toEqual(expect.arrayContaining(["show", "cleanup"]));
    // The new flags complete too.
    expect(complete("volkit", "backup", "delete", "--c")).toEqual(expect.arrayContaining(["--cascade"]));
    expect(complete("volkit", "backup", "import-record", "--r")).toEqual(["--repository"]);
    expect(complete("volkit", "host", "cleanup", "--")).toEqual(expect.arrayContaining(["--yes", "--dry-run"]));
    expect(complete("volkit", "volume", "migrate", "--f")).toEqual(["--force-host-copy"]);
  });

  it("generates zsh completion naming every command path", async () => {
    const r = await volkit(["completion", "zsh"]);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith("#compdef volkit")).toBe(true);
    for (const path of ["'volume'", "'volume attach'", "'backup export-record'", "'image-cache purge'", "'host cleanup'"]) expect(r.stdout).toContain(`${path})`);
    expect(r.stdout).toContain("'reset-status:admin: set a volume");
    expect((await volkit(["completion", "fish"])).code).toBe(2);
  });
});

describe("progress", () => {
  it("measures the rate over a window and derives the time left", () => {
    let now = 0;
    const meter = new RateMeter(5000, () => now);
    meter.sample(0);
    expect(progressText(0, 100 * 2 ** 20, meter)).toEqual({ done: "0 B", total: "100 MiB", rate: "-- B/s", eta: "--" });
    now = 1000;
    meter.sample(8 * 2 ** 20);
    now = 2000;
    meter.sample(16 * 2 ** 20);
    expect(progressText(16 * 2 ** 20, 100 * 2 ** 20, meter)).toEqual({ done: "16.0 MiB", total: "100 MiB", rate: "8.0 MiB/s", eta: "11s" });
    // Older samples leave the window: a slower phase shows its own rate.
    for (let t = 3000; t <= 9000; t += 1000) {
      now = t;
      meter.sample(16 * 2 ** 20 + ((t - 2000) / 1000) * 2 ** 20);
    }
    expect(meter.rate()).toBeCloseTo(2 ** 20, 0);
  });

  it("formats sizes and durations for people", () => {
    expect(parseBytes("16M", "x")._unsafeUnwrap()).toBe(16 * 2 ** 20);
    expect(parseBytes("1.5GiB", "x")._unsafeUnwrap()).toBe(1.5 * 2 ** 30);
    expect(parseBytes("10GB", "x")._unsafeUnwrap()).toBe(10 * 1000 ** 3);
    expect(parseBytes("4096", "x")._unsafeUnwrap()).toBe(4096);
    expect(parseBytes("fast", "--bandwidth-limit")._unsafeUnwrapErr().message).toContain("--bandwidth-limit");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatSeconds(75)).toBe("1m15s");
    expect(formatSeconds(3725)).toBe("1h02m05s");
  });
});

describe("Ctrl-C", () => {
  it("aborts the signal with an ABORTED reason first, and quits at once the second time", () => {
    const signals = new EventEmitter();
    const notes: string[] = [];
    const forceExit = vi.fn();
    const cancel = listenForCancel({ signals, notify: (m) => notes.push(m), forceExit });
    expect(cancel.signal.aborted).toBe(false);
    signals.emit("SIGINT");
    expect(cancel.signal.aborted).toBe(true);
    expect(abortReasonToError(cancel.signal.reason).code).toBe("ABORTED");
    expect(forceExit).not.toHaveBeenCalled();
    signals.emit("SIGINT");
    expect(forceExit).toHaveBeenCalledWith(130);
    expect(notes[0]).toContain("rolling back");
    cancel.dispose();
    expect(signals.listenerCount("SIGINT")).toBe(0);
  });

  it("runWithRollback undoes on failure and says what it removed (or that the undo failed)", async () => {
    const undo = vi.fn(() => okAsync(["/tmp/x"]));
    const failed = await runWithRollback(() => errAsync(new VolkitError("ABORTED", "stopped")), undo);
    expect(failed._unsafeUnwrapErr()).toMatchObject({ code: "ABORTED", message: "stopped; rolled back: removed /tmp/x", details: { rolledBack: ["/tmp/x"] } });
    const badUndo = await runWithRollback(() => errAsync(new VolkitError("TIMEOUT", "late")), () => errAsync(new VolkitError("INTERNAL", "EBUSY")));
    expect(badUndo._unsafeUnwrapErr()).toMatchObject({ code: "TIMEOUT", details: { rollbackError: "INTERNAL: EBUSY" } });
    const fine = vi.fn(() => okAsync([]));
    expect((await runWithRollback(() => okAsync(1), fine))._unsafeUnwrap()).toBe(1);
    expect(fine).not.toHaveBeenCalled();
  });

  it("Captured stands in for a stream", () => {
    const c = new Captured(true);
    c.write("a");
    expect([c.text, c.isTTY]).toEqual(["a", true]);
  });
});
