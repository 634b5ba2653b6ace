import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { backgroundContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { waitFor } from "../../host/wait.js";
import type { CommandOutput, CommandRunner } from "../../exec/runner.js";
import { parseTgtTargets, type TgtTarget } from "../../targets/tgt/tgt-parsers.js";

/** Where tgtd puts the control socket of `-C <port>`. */
const SOCKET_DIR = "/var/run/tgtd";

/**
 * A private tgtd for the simulator's data plane: its own control port (never the system daemon's),
 * its own iSCSI portals, started in the foreground through the command runner and stopped with
 * tgt's own shutdown sequence (the runner kills it if that fails).
 */
export class SimTgtd {
  readonly #runner: CommandRunner;
  readonly #controlPort: number;
  readonly #stop = new AbortController();
  readonly #exited: ResultAsync<CommandOutput, VolkitError>;
  #running = true;

  private constructor(runner: CommandRunner, controlPort: number, exited: ResultAsync<CommandOutput, VolkitError>) {
    this.#runner = runner;
    this.#controlPort = controlPort;
    this.#exited = exited;
    void exited.then(() => (this.#running = false));
  }

  /** The management port (`tgtadm -C`). */
  get controlPort(): number {
    return this.#controlPort;
  }

  /**
   * Starts `tgtd -f -C <free control port> --iscsi portal=<first>` and adds the other portals with
   * `tgtadm --op new --mode portal`. Resolves once tgtd answers `tgtadm --op show --mode sys`.
   */
  static async start(runner: CommandRunner, portals: readonly string[]): Promise<SimTgtd> {
    const [first, ...rest] = portals;
    if (first === undefined) throw new VolkitError("INVALID_ARGUMENT", "tgtd needs at least one portal", { source: "array-simulator" });
    let controlPort = 0;
    // tgtadm control ports are 0-32767; pick one no other daemon's socket uses.
    for (let i = 0; i < 100; i++) {
      const candidate = 20000 + Math.floor(Math.random() * 12000);
      if (!existsSync(`${SOCKET_DIR}/socket.${candidate}`)) {
        controlPort = candidate;
        break;
      }
    }
    if (controlPort === 0) throw new VolkitError("INTERNAL", "no free tgtd control port", { source: "array-simulator" });
    const stop = new AbortController();
    const exited = runner.run({ argv: ["tgtd", "-f", "-C", String(controlPort), "--iscsi", `portal=${first}`], signal: stop.signal, okExitCodes: [0, 1, 255] });
    const tgtd = new SimTgtd(runner, controlPort, exited);
    tgtd.#stop.signal.addEventListener("abort", () => stop.abort(), { once: true });
    const ctx = backgroundContext("tgtd-start", "array-simulator");
    const ready = await waitFor(
      () =>
        tgtd
          .#run(["--op", "show", "--mode", "sys"])
          .map((): true | undefined => true)
          .orElse((e) =>
            tgtd.#running
              ? okAsync(undefined)
              : errAsync(new VolkitError("COMMAND_FAILED", "tgtd exited during start (is another daemon on the iSCSI port? are you root?)", { source: "array-simulator", cause: e })),
          ),
      { timeoutMs: 10_000, signal: ctx.signal, onTimeout: () => new VolkitError("TIMEOUT", "tgtd did not start within 10 s", { source: "array-simulator" }) },
    );
    if (ready.isErr()) {
      await tgtd.stop();
      throw ready.error;
    }
    for (const portal of rest) await tgtd.tgtadm(["--lld", "iscsi", "--op", "new", "--mode", "portal", "--param", `portal=${portal}`]);
    return tgtd;
  }

  /** Runs `tgtadm -C <port> …`; a failure throws (with secrets redacted from the message). */
  async tgtadm(args: readonly string[], secrets: readonly string[] = []): Promise<string> {
    const out = await this.#run(args, secrets);
    if (out.isErr()) throw out.error;
    return out.value.stdout;
  }

  /** Every target with its sessions and LUNs. */
  async targets(): Promise<TgtTarget[]> {
    const parsed = parseTgtTargets(await this.tgtadm(["--lld", "iscsi", "--op", "show", "--mode", "target"]));
    if (parsed.isErr()) throw parsed.error;
    return parsed.value;
  }

  /** Shuts tgtd down (offline, delete targets, delete system), then removes its control socket. */
  async stop(): Promise<void> {
    if (this.#running) {
      const quiet = async (args: readonly string[]): Promise<void> => void (await this.#run(args));
      await quiet(["--op", "update", "--mode", "sys", "--name", "State", "-v", "offline"]);
      const targets = await this.targets().catch(() => [] as TgtTarget[]);
      for (const t of targets) await quiet(["--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", String(t.tid), "--force"]);
      await quiet(["--op", "delete", "--mode", "system"]);
      const timer = setTimeout(() => this.#stop.abort(), 3_000);
      void (await this.#exited);
      clearTimeout(timer);
    }
    await rm(`${SOCKET_DIR}/socket.${this.#controlPort}`, { force: true });
    await rm(`${SOCKET_DIR}/socket.${this.#controlPort}.lock`, { force: true });
  }

  #run(args: readonly string[], secrets: readonly string[] = []): ResultAsync<CommandOutput, VolkitError> {
    return this.#runner.run({ argv: ["tgtadm", "-C", String(this.#controlPort), ...args], env: { LC_ALL: "C" }, timeoutMs: 30_000, secrets });
  }
}
