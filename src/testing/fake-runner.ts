import { setTimeout as sleep } from "node:timers/promises";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { abortReasonToError } from "../core/context.js";
import { type VolkitError } from "../core/errors.js";
import { checkCommandSpec, commandFailed, type CommandOutput, type CommandRunner, type CommandSpec } from "../exec/runner.js";

/** A scripted reply of {@link FakeRunner}. */
export interface FakeReply {
  /** Standard output (default ""). */
  readonly stdout?: string;
  /** Standard error (default ""). */
  readonly stderr?: string;
  /** Exit code (default 0); rejected unless in the spec's `okExitCodes`. */
  readonly exitCode?: number;
  /** Simulated run time; abort during it yields `ABORTED`/`TIMEOUT` like a killed child. */
  readonly delayMs?: number;
  /** Return this error instead of running (e.g. `COMMAND_NOT_FOUND`). */
  readonly error?: VolkitError;
}

/** Which commands a rule applies to: an argv prefix, a regex over the space-joined argv, or a predicate. */
export type FakeMatcher = readonly string[] | RegExp | ((argv: readonly string[]) => boolean);

interface Rule {
  readonly matcher: FakeMatcher;
  readonly reply: FakeReply | ((spec: CommandSpec) => FakeReply);
  readonly once: boolean;
}

/**
 * A scriptable {@link CommandRunner} that records every call, for unit tests of drivers and
 * connectors. Rules are tried in the order they were added; `once` rules are used up. A command no
 * rule matches fails with exit code 127 (strict mode), so an unexpected command fails the test.
 *
 * @example
 * ```ts
 * const runner = new FakeRunner()
 *   .on(["vgs"], { stdout: captured.vgsJson })
 *   .once(["lvcreate"], { exitCode: 5, stderr: "Insufficient free space" });
 * // …run the driver…
 * expect(runner.commands()).toContainEqual(["lvs", "--reportformat", "json", "vg"]);
 * ```
 */
export class FakeRunner implements CommandRunner {
  /** {@inheritDoc index!CommandRunner.description} */
  readonly description = "fake";
  /** Every call, in order. */
  readonly calls: CommandSpec[] = [];
  readonly #rules: Rule[] = [];
  readonly #strict: boolean;

  /** @param options - `strict: false` makes unmatched commands succeed with empty output. */
  constructor(options: { readonly strict?: boolean } = {}) {
    this.#strict = options.strict ?? true;
  }

  /** Adds a rule used for every matching call. */
  on(matcher: FakeMatcher, reply: FakeReply | ((spec: CommandSpec) => FakeReply)): this {
    this.#rules.push({ matcher, reply, once: false });
    return this;
  }

  /** Adds a rule used for the next matching call only; it takes precedence over `on` rules. */
  once(matcher: FakeMatcher, reply: FakeReply | ((spec: CommandSpec) => FakeReply)): this {
    const firstPersistent = this.#rules.findIndex((r) => !r.once);
    const rule = { matcher, reply, once: true };
    if (firstPersistent === -1) this.#rules.push(rule);
    else this.#rules.splice(firstPersistent, 0, rule);
    return this;
  }

  /** The argv of every call, in order. */
  commands(): string[][] {
    return this.calls.map((c) => [...c.argv]);
  }

  /** The argv of every call whose program (argv[0]) is `program`. */
  commandsOf(program: string): string[][] {
    return this.commands().filter((a) => a[0] === program);
  }

  /** Forgets recorded calls (rules stay). */
  clearCalls(): void {
    this.calls.length = 0;
  }

  /** {@inheritDoc index!CommandRunner.run} */
  run(spec: CommandSpec): ResultAsync<CommandOutput, VolkitError> {
    this.calls.push(spec);
    // Refuses what every real runner refuses (a NUL byte, a NaN time limit…), after recording it.
    const checked = checkCommandSpec(spec);
    if (checked.isErr()) return errAsync(checked.error);
    if (spec.signal?.aborted) return errAsync(abortReasonToError(spec.signal.reason, "exec"));
    const index = this.#rules.findIndex((r) => matches(r.matcher, spec.argv));
    const rule = this.#rules[index];
    if (!rule) {
      if (!this.#strict) return okAsync({ argv: spec.argv, exitCode: 0, stdout: "", stderr: "", durationMs: 0 });
      return errAsync(commandFailed(spec, 127, `FakeRunner: no rule for: ${spec.argv.join(" ")}`));
    }
    if (rule.once) this.#rules.splice(index, 1);
    const reply = typeof rule.reply === "function" ? rule.reply(spec) : rule.reply;
    const delay = reply.delayMs ?? 0;
    const wait = delay > 0
      ? ResultAsync.fromPromise(sleep(delay, undefined, spec.signal ? { signal: spec.signal } : {}), () => abortReasonToError(spec.signal?.reason, "exec"))
      : okAsync(undefined);
    return wait.andThen(() => {
      if (reply.error) return errAsync(reply.error);
      const exitCode = reply.exitCode ?? 0;
      const stdout = reply.stdout ?? "";
      const stderr = reply.stderr ?? "";
      if (reply.stdout !== undefined) spec.onStdout?.(stdout);
      if (reply.stderr !== undefined) spec.onStderr?.(stderr);
      if (!(spec.okExitCodes ?? [0]).includes(exitCode)) return errAsync(commandFailed(spec, exitCode, stderr, stdout));
      return okAsync({ argv: spec.argv, exitCode, stdout, stderr, durationMs: delay });
    });
  }
}

function matches(matcher: FakeMatcher, argv: readonly string[]): boolean {
  if (typeof matcher === "function") return matcher(argv);
  if (matcher instanceof RegExp) return matcher.test(argv.join(" "));
  return matcher.every((part, i) => argv[i] === part);
}
