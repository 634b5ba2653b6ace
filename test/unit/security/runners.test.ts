/**
 * Hostile input to the runners: the local runner (its root helper, environment and time limits, and
 * each command's spec), the root helper allow-list (issue 14, defect 5), the elevated runner, and
 * the SSH runner's options. Nothing may start, throw, or be killed at once because a value was odd.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { createLocalRunner } from "../../../src/exec/local-runner.js";
import { elevatedRunner, parseRootHelper } from "../../../src/exec/root-helper.js";
import { checkCommandSpec, type CommandSpec } from "../../../src/exec/runner.js";
import { createSshRunner } from "../../../src/exec/ssh-runner.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { HOSTILE_ROOT_HELPERS } from "./driver-cases.js";
import { HOSTILE_NAMES, HOSTILE_PORTALS, expectRefusal, refused } from "./hostile.js";

/** Command specs no runner may start (Node throws on a NUL; a NaN limit kills at once). */
const HOSTILE_SPECS: readonly (readonly [string, CommandSpec])[] = [
  ["a NUL in an argument", { argv: ["echo", "a\u0000b"] }],
  ["a NUL in the program", { argv: ["ech\u0000o", "x"] }],
  ["an empty program", { argv: ["", "x"] }],
  ["an empty argv", { argv: [] as unknown as CommandSpec["argv"] }],
  ["an argument that is not a string", { argv: ["echo", 5 as unknown as string] }],
  ["a NUL in an environment value", { argv: ["echo", "x"], env: { A: "b\u0000c" } }],
  ["an environment name with '='", { argv: ["echo", "x"], env: { "LD_PRELOAD=/x.so A": "b" } }],
  ["an environment name with a space", { argv: ["echo", "x"], env: { "A B": "c" } }],
  ["a relative working directory", { argv: ["echo", "x"], cwd: "tmp" }],
  ["a NUL in the working directory", { argv: ["echo", "x"], cwd: "/tmp\u0000x" }],
  ["a NaN time limit", { argv: ["echo", "x"], timeoutMs: Number.NaN }],
  ["a negative time limit", { argv: ["echo", "x"], timeoutMs: -5 }],
  ["a string time limit", { argv: ["echo", "x"], timeoutMs: "5" as unknown as number }],
];

describe("local runner", () => {
  it.each(HOSTILE_SPECS)("refuses %s with INVALID_ARGUMENT, starting nothing and throwing nothing", async (_label, spec) => {
    const error = await refused(() => createLocalRunner().run(spec));
    expectRefusal(error, ["INVALID_ARGUMENT"]);
  });

  it("a NUL reaches no process even through a root helper", async () => {
    const error = await refused(() => createLocalRunner({ rootHelper: ["sudo", "-n"] }).run({ argv: ["echo", "a\u0000b"] }));
    expectRefusal(error, ["INVALID_ARGUMENT"]);
  });

  it("a time limit longer than setTimeout's 2^31-1 ms does not kill the command after 1 ms", async () => {
    const out = (await createLocalRunner().run({ argv: ["sh", "-c", "sleep 0.2; echo done"], timeoutMs: 2 ** 31 + 5 }))._unsafeUnwrap();
    expect(out.stdout).toBe("done\n");
  });

  it("an operation deadline 30 days away does not time a command out at once", async () => {
    const { createOperationContext } = await import("../../../src/core/context.js");
    const ctx = createOperationContext({ operation: "test", source: "test", deadline: Date.now() + 30 * 24 * 3600_000 });
    const out = (await createLocalRunner().run({ argv: ["sh", "-c", "sleep 0.2; echo done"], signal: ctx.signal, timeoutMs: ctx.remainingMs() ?? 0 }))._unsafeUnwrap();
    expect(out.stdout).toBe("done\n");
    expect(ctx.signal.aborted).toBe(false);
  });

  it.each(HOSTILE_ROOT_HELPERS)("refuses the root helper %s for every command, with INVALID_CONFIG naming no value", async (_label, helper) => {
    const error = await refused(() => createLocalRunner({ rootHelper: helper as string[] }).run({ argv: ["true"] }));
    expectRefusal(error, ["INVALID_CONFIG"]);
    expect(parseRootHelper(helper).isErr()).toBe(true);
  });

  it.each([
    ["a NaN default time limit", { defaultTimeoutMs: Number.NaN }],
    ["a negative default time limit", { defaultTimeoutMs: -1 }],
    ["a kill grace past setTimeout's range", { killGraceMs: 2 ** 31 }],
    ["an environment name with '='", { env: { "A=B": "c" } }],
    ["a NUL in an environment value", { env: { A: "\u0000" } }],
  ])("refuses %s", async (_label, options) => {
    const error = await refused(() => createLocalRunner(options).run({ argv: ["true"] }));
    expectRefusal(error, ["INVALID_CONFIG", "INVALID_ARGUMENT"]);
  });
});

describe("every runner checks a spec the same way", () => {
  it.each(HOSTILE_SPECS)("checkCommandSpec refuses %s without echoing a value", (_label, spec) => {
    const error = checkCommandSpec(spec)._unsafeUnwrapErr();
    expectRefusal(error, ["INVALID_ARGUMENT"]);
    expect(error.message).not.toContain("/x.so");
  });

  it.each(HOSTILE_SPECS)("the elevated runner and the FakeRunner refuse %s too, and the elevated runner passes nothing on", async (_label, spec) => {
    const inner = new FakeRunner({ strict: false });
    const elevated = elevatedRunner(inner, parseRootHelper(["sudo", "-n"])._unsafeUnwrap());
    expectRefusal(await refused(() => elevated.run(spec)), ["INVALID_ARGUMENT"]);
    expect(inner.commands()).toEqual([]);
    expectRefusal(await refused(() => new FakeRunner({ strict: false }).run(spec)), ["INVALID_ARGUMENT"]);
  });
});

describe("SSH runner options", () => {
  const valid = { host: "127.0.0.1", port: 2222, username: "volkit", password: "Ssh-Password-77", insecureSkipHostKeyCheck: true };

  it.each([
    ...HOSTILE_PORTALS.map(([label, v]) => [`host: ${label}`, { host: v }] as const),
    ...HOSTILE_NAMES.map(([label, v]) => [`username: ${label}`, { username: v }] as const),
    ["port 0", { port: 0 }],
    ["port 70000", { port: 70000 }],
    ["a fractional port", { port: 22.5 }],
    ["a NaN connect timeout", { connectTimeoutMs: Number.NaN }],
    ["a connect timeout past setTimeout's range", { connectTimeoutMs: 2 ** 31 }],
    ["a keepalive past setTimeout's range", { keepaliveIntervalMs: 2 ** 31 }],
    ["0 channels", { maxChannels: 0 }],
    ["a hostile root helper", { rootHelper: ["sh", "-c"] }],
    ["an environment name with '='", { env: { "A=B": "c" } }],
    ["a NUL in an environment value", { env: { A: "b\u0000c" } }],
    ["no credential", { password: undefined }],
    ["no host key check", { insecureSkipHostKeyCheck: false }],
  ] as const)("refuses %s with INVALID_CONFIG before connecting", (_label, over) => {
    const error = createSshRunner({ ...valid, ...over } as never)._unsafeUnwrapErr();
    expectRefusal(error, ["INVALID_CONFIG"]);
    expect(inspect(error, { depth: 8 })).not.toContain("Ssh-Password-77");
  });
});
