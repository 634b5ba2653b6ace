/**
 * The SSH runner against a real OpenSSH server: a private `sshd` started by this file on
 * 127.0.0.1 with its own host key, client key, authorized_keys and pid file in a temp dir.
 *
 * Needs `/usr/sbin/sshd` (Debian: `apt-get install -y openssh-server`), `ssh-keygen`, `pgrep`
 * (procps), and `sudo` (the root helper tests: the login user must be allowed `sudo -n`, as root
 * is). Runs as root (creates /run/sshd, the privilege-separation directory) or as a user for whom
 * /run/sshd already exists; it logs in as the user running the tests.
 *
 *   npx vitest run --project host test/host/ssh-runner.host.test.ts
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redactText } from "../../src/core/secrets.js";
import { createSshRunner, sshHostKeyFingerprint, type SshRunner, type SshRunnerOptions } from "../../src/exec/ssh-runner.js";
import { freeLoopbackPort } from "../../src/testing/loopback-port.js";
import { pgrepExact, waitFor as pollUntil } from "../process-probes.js";

const SSHD = "/usr/sbin/sshd";

interface Sshd {
  readonly dir: string;
  readonly port: number;
  readonly process: ChildProcess;
  readonly hostKeyLine: string;
  readonly fingerprint: string;
  readonly clientKey: string;
  log: string;
}

let sshd: Sshd;
const runners: SshRunner[] = [];

function keygen(path: string): void {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "volkit-test", "-f", path], { stdio: "ignore" });
}

async function startSshd(): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: apt-get install -y openssh-server`);
  if (!existsSync("/run/sshd")) mkdirSync("/run/sshd", { mode: 0o755, recursive: true });
  const dir = mkdtempSync(join(tmpdir(), "volkit-sshd-"));
  keygen(join(dir, "host_ed25519"));
  keygen(join(dir, "client_ed25519"));
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client_ed25519.pub")), { mode: 0o600 });
  const port = await freeLoopbackPort();
  const config = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${join(dir, "host_ed25519")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    `AllowUsers ${userInfo().username}`,
    "UsePAM no",
    "StrictModes no",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin prohibit-password",
    "MaxSessions 10",
    "PrintMotd no",
    "LogLevel VERBOSE",
  ].join("\n");
  writeFileSync(join(dir, "sshd_config"), `${config}\n`);
  const child = spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
  const server: Sshd = {
    dir,
    port,
    process: child,
    hostKeyLine: readFileSync(join(dir, "host_ed25519.pub"), "utf8").trim(),
    fingerprint: "",
    clientKey: readFileSync(join(dir, "client_ed25519"), "utf8"),
    log: "",
  };
  child.stderr?.on("data", (b: Buffer) => (server.log += b.toString("utf8")));
  const deadline = Date.now() + 10_000;
  while (!server.log.includes("Server listening on")) {
    if (child.exitCode !== null) throw new Error(`sshd exited ${child.exitCode}: ${server.log}`);
    if (Date.now() > deadline) throw new Error(`sshd did not start: ${server.log}`);
    await sleep(25);
  }
  const blob = server.hostKeyLine.split(" ")[1] ?? "";
  return { ...server, fingerprint: sshHostKeyFingerprint(Buffer.from(blob, "base64")), log: server.log };
}

function keygenFingerprint(pubFile: string): string {
  return execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", pubFile], { encoding: "utf8" }).split(" ")[1] ?? "";
}

/** Per-connection sshd processes (children of the listener). */
function sshdConnections(): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(sshd.process.pid)], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** {@link pollUntil} with this file's 25 ms step. */
const waitFor = (predicate: () => boolean, ms: number): Promise<boolean> => pollUntil(predicate, ms, 25);

function baseOptions(overrides: Partial<SshRunnerOptions> = {}): SshRunnerOptions {
  return {
    host: "127.0.0.1",
    port: sshd.port,
    username: userInfo().username,
    privateKey: sshd.clientKey,
    hostKey: sshd.fingerprint,
    connectTimeoutMs: 10_000,
    ...overrides,
  };
}

function runner(overrides: Partial<SshRunnerOptions> = {}): SshRunner {
  const r = createSshRunner(baseOptions(overrides));
  if (r.isErr()) throw r.error;
  runners.push(r.value);
  return r.value;
}

/** The client's source port as the server saw it: identifies the TCP connection a command used. */
async function clientPort(r: SshRunner): Promise<string> {
  const out = (await r.run({ argv: ["sh", "-c", 'echo "$SSH_CLIENT"'] }))._unsafeUnwrap();
  const port = out.stdout.trim().split(" ")[1];
  expect(port).toMatch(/^\d+$/);
  return port ?? "";
}

beforeAll(async () => {
  if (!existsSync("/usr/bin/sudo")) throw new Error("/usr/bin/sudo is missing (the root helper tests use it): apt-get install -y sudo");
  sshd = await startSshd();
});

afterAll(async () => {
  for (const r of runners) expect((await r.close()).isOk()).toBe(true);
  if (sshd?.process.exitCode === null) {
    sshd.process.kill("SIGTERM");
    await waitFor(() => sshd.process.exitCode !== null || sshd.process.signalCode !== null, 5000);
  }
  if (sshd) rmSync(sshd.dir, { recursive: true, force: true });
});

describe("ssh runner: options", () => {
  it("computes the same SHA256 fingerprint as ssh-keygen", () => {
    expect(sshd.fingerprint).toBe(keygenFingerprint(join(sshd.dir, "host_ed25519.pub")));
  });

  it("requires a host key check unless insecureSkipHostKeyCheck is explicitly true", () => {
    const { hostKey: _omit, ...noKey } = baseOptions();
    const r = createSshRunner(noKey);
    expect(r._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(r._unsafeUnwrapErr().message).toMatch(/host key/);
    expect(createSshRunner({ ...noKey, insecureSkipHostKeyCheck: false })._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(createSshRunner({ ...noKey, insecureSkipHostKeyCheck: true }).isOk()).toBe(true);
    expect(createSshRunner({ ...noKey, hostVerifier: () => true }).isOk()).toBe(true);
  });

  it("rejects missing credentials, unusable host keys and option-like user names", () => {
    const { privateKey: _k, ...noCredential } = baseOptions();
    expect(createSshRunner(noCredential)._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    const badKey = createSshRunner(baseOptions({ hostKey: "not a key" }))._unsafeUnwrapErr();
    expect(badKey.code).toBe("INVALID_CONFIG");
    expect(badKey.message).toMatch(/hostKey\[0\]/);
    expect(createSshRunner(baseOptions({ username: "-oProxyCommand=touch /tmp/x" }))._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(createSshRunner(baseOptions({ port: 70000 }))._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(createSshRunner(baseOptions({ env: { "BAD-NAME": "x" } }))._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
  });

  it("describes itself without credentials, with the root helper normalized", () => {
    const r = runner({ rootHelper: ["sudo", "-n"] });
    expect(r.description).toBe(`ssh ${userInfo().username}@127.0.0.1:${sshd.port} via /usr/bin/sudo -n`);
  });

  it("refuses a root helper outside the allow-list before connecting", () => {
    for (const rootHelper of [["env"], ["env", "-i", "PATH=/usr/bin:/bin"], ["sh", "-c"], ["sudo", "-s"], ["sudo", "--", "sh"]]) {
      expect(createSshRunner(baseOptions({ rootHelper }))._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    }
  });
});

describe("ssh runner: argv reaches the remote program byte for byte", () => {
  it("round-trips hostile arguments exactly and runs nothing they contain", async () => {
    const pwned = join(sshd.dir, "pwned");
    const args = [
      "plain",
      "two words",
      "",
      "-n",
      "--help",
      "it's",
      "'",
      "''",
      `"double" and 'single'`,
      "$(touch " + pwned + "-1)",
      "`touch " + pwned + "-2`",
      "; touch " + pwned + "-3",
      "a && touch " + pwned + "-4 || b",
      "| cat > " + pwned + "-5",
      "line1\nline2\n",
      "\ttab\r\n",
      "$HOME ${PATH} $$ $? $1",
      "* ? [a-z] ~ ~root",
      "back\\slash \\' \\\\",
      "héllo wörld ✓ 🚀",
      "'\\''",
      "#not a comment",
      "!event",
      "{a,b}",
    ];
    const r = runner();
    const out = (await r.run({ argv: ["printf", "%s\\0", ...args] }))._unsafeUnwrap();
    const received = out.stdout.split("\0");
    expect(received.pop()).toBe(""); // trailing terminator
    expect(received).toEqual(args);
    for (let i = 1; i <= 5; i++) expect(existsSync(`${pwned}-${i}`)).toBe(false);
  });

  it("passes an argument made of random printable bytes unchanged", async () => {
    const r = runner();
    const chars = Array.from(randomBytes(512), (b) => String.fromCharCode(32 + (b % 95))).join("");
    const out = (await r.run({ argv: ["printf", "%s", chars] }))._unsafeUnwrap();
    expect(out.stdout).toBe(chars);
  });

  it("refuses an argument with a NUL byte before connecting", async () => {
    const r = runner({ port: 1 }); // nothing listens: a connection attempt would fail differently
    const e = (await r.run({ argv: ["echo", "a\0b"] }))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
  });

  it("runs in the requested working directory, even one with spaces and quotes", async () => {
    const dir = join(sshd.dir, "work dir 'q'");
    mkdirSync(dir);
    const r = runner();
    const out = (await r.run({ argv: ["pwd"], cwd: dir }))._unsafeUnwrap();
    expect(out.stdout).toBe(`${dir}\n`);
  });
});

describe("ssh runner: stdin, stdout, stderr, exit codes", () => {
  it("feeds stdin and returns stdout", async () => {
    const r = runner();
    const input = "line one\nit's $(not run)\n";
    const out = (await r.run({ argv: ["cat"], stdin: input }))._unsafeUnwrap();
    expect(out.stdout).toBe(input);
    expect(out.exitCode).toBe(0);
  });

  it("carries 4 MiB of binary stdin intact", async () => {
    const r = runner();
    const data = randomBytes(4 * 1024 * 1024);
    const out = (await r.run({ argv: ["sha256sum"], stdin: new Uint8Array(data) }))._unsafeUnwrap();
    expect(out.stdout.split(" ")[0]).toBe(createHash("sha256").update(data).digest("hex"));
  });

  it("closes stdin when none is given, so readers of stdin end", async () => {
    const r = runner();
    const out = (await r.run({ argv: ["cat"], timeoutMs: 5000 }))._unsafeUnwrap();
    expect(out.stdout).toBe("");
  });

  it("returns large stdout completely", async () => {
    const r = runner();
    const out = (await r.run({ argv: ["seq", "1", "200000"] }))._unsafeUnwrap();
    const lines = out.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(200000);
    expect(lines[199999]).toBe("200000");
  });

  it("streams stdout and stderr chunks (multi-byte characters intact)", async () => {
    const r = runner();
    const errChunks: string[] = [];
    const outChunks: string[] = [];
    const out = (
      await r.run({
        argv: ["sh", "-c", 'for i in 1 2 3; do echo "progress $i ✓" >&2; echo "out $i"; sleep 0.05; done'],
        onStderr: (c) => errChunks.push(c),
        onStdout: (c) => outChunks.push(c),
      })
    )._unsafeUnwrap();
    expect(errChunks.join("")).toBe("progress 1 ✓\nprogress 2 ✓\nprogress 3 ✓\n");
    expect(errChunks.length).toBeGreaterThanOrEqual(2);
    expect(outChunks.join("")).toBe(out.stdout);
    expect(out.stderr).toBe("progress 1 ✓\nprogress 2 ✓\nprogress 3 ✓\n");
  });

  it("maps a non-zero exit to COMMAND_FAILED with exit code, stderr and stdout", async () => {
    const r = runner();
    const e = (await r.run({ argv: ["sh", "-c", "echo partial; echo 'disk on fire' >&2; exit 3"] }))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    expect(e.details.exitCode).toBe(3);
    expect(e.details.stderr).toBe("disk on fire");
    expect(e.details.stdout).toBe("partial");
    expect(e.details.command).toEqual(["sh", "-c", "echo partial; echo 'disk on fire' >&2; exit 3"]);
    expect(e.message).toBe("sh exited with code 3: disk on fire");
  });

  it("accepts exit codes listed in okExitCodes", async () => {
    const r = runner();
    const out = (await r.run({ argv: ["sh", "-c", "echo ok; exit 21"], okExitCodes: [0, 21] }))._unsafeUnwrap();
    expect(out.exitCode).toBe(21);
    expect(out.stdout).toBe("ok\n");
  });

  it("maps exit 127 (no such program) to COMMAND_NOT_FOUND", async () => {
    const r = runner();
    const e = (await r.run({ argv: ["volkit-no-such-program-7f3a", "--x"] }))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_NOT_FOUND");
    expect(e.details.exitCode).toBe(127);
    expect(e.details.command).toEqual(["volkit-no-such-program-7f3a", "--x"]);
  });

  it("reports a command killed by a signal with the signal name and no exit code", async () => {
    const r = runner();
    const e = (await r.run({ argv: ["sh", "-c", "kill -TERM $$"] }))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    expect(e.details.signal).toBe("SIGTERM");
    expect(e.details.exitCode).toBeUndefined();
  });
});

describe("ssh runner: environment and root helper", () => {
  it("passes env values exactly via an env argv prefix, per-command over runner-wide", async () => {
    const r = runner({ env: { VOLKIT_A: "runner", VOLKIT_B: "runner-b" } });
    const tricky = "spaces and 'quotes' $(not run) \"dq\"\nnewline";
    const out = (
      await r.run({ argv: ["sh", "-c", 'printf "%s|%s|%s" "$VOLKIT_A" "$VOLKIT_B" "$VOLKIT_C"'], env: { VOLKIT_A: "command", VOLKIT_C: tricky } })
    )._unsafeUnwrap();
    expect(out.stdout).toBe(`command|runner-b|${tricky}`);
  });

  it("refuses an invalid per-command env name", async () => {
    const r = runner();
    const e = (await r.run({ argv: ["true"], env: { "X;touch /tmp/y": "1" } }))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
  });

  it("prefixes the root helper, with env after it so the helper cannot drop it", async () => {
    // sudo's env_reset drops the session's variables (SSH_CLIENT); ours must come after it.
    const r = runner({ rootHelper: ["sudo", "-n"] });
    const out = (
      await r.run({ argv: ["sh", "-c", 'printf "%s|%s|%s" "$VOLKIT_X" "${SSH_CLIENT:-unset}" "${SUDO_USER:-no sudo}"'], env: { VOLKIT_X: "kept 'q'" } })
    )._unsafeUnwrap();
    expect(out.stdout).toBe(`kept 'q'|unset|${userInfo().username}`);
    // Without the helper the session's variables are there: the difference above is sudo's doing.
    const plain = (await runner().run({ argv: ["sh", "-c", 'printf "%s" "${SSH_CLIENT:-unset}"'] }))._unsafeUnwrap();
    expect(plain.stdout).not.toBe("unset");
  });

  it("a timeout kills a command run through the root helper, its process group included", async () => {
    const r = runner({ rootHelper: ["sudo", "-n"] });
    (await r.run({ argv: ["true"] }))._unsafeUnwrap(); // connect first so the timeout measures the command only
    const seconds = `3${Math.floor(Math.random() * 9) + 1}.${randomUUID().replace(/\D/g, "").slice(0, 8) || "1"}`;
    const pending = r.run({ argv: ["sh", "-c", `sleep ${seconds}; echo done`], timeoutMs: 2000 });
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 1, 1900)).toBe(true);
    expect((await pending)._unsafeUnwrapErr().code).toBe("TIMEOUT");
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 0, 3000)).toBe(true);
  });
});

describe("ssh runner: timeout and abort kill the remote command", () => {
  const marker = (): string => `3${Math.floor(Math.random() * 9) + 1}.${randomUUID().replace(/\D/g, "").slice(0, 8) || "1"}`;

  it("timeoutMs → TIMEOUT quickly, and the remote sleep is gone", async () => {
    const r = runner();
    await clientPort(r); // connect first so the timeout measures the command only
    const seconds = marker();
    const cmdline = `sleep ${seconds}`;
    const t0 = performance.now();
    // Long enough for the exec (bash start-up included) to begin before the timeout fires.
    const pending = r.run({ argv: ["sleep", seconds], timeoutMs: 2000 });
    expect(await waitFor(() => pgrepExact(cmdline).length === 1, 1900)).toBe(true); // it really started
    const e = (await pending)._unsafeUnwrapErr();
    const elapsed = performance.now() - t0;
    expect(e.code).toBe("TIMEOUT");
    expect(e.transient).toBe(true);
    expect(e.details.timeoutMs).toBe(2000);
    expect(elapsed).toBeLessThan(4500); // not the 30 s of the sleep
    expect(await waitFor(() => pgrepExact(cmdline).length === 0, 2000)).toBe(true);
  });

  it("AbortSignal → ABORTED, and the remote command (a child of a shell) is gone", async () => {
    const r = runner();
    await clientPort(r);
    const seconds = marker();
    const cmdline = `sleep ${seconds}`;
    const ac = new AbortController();
    // The shell stays the parent (`; echo`), so the kill must reach the whole process group.
    const pending = r.run({ argv: ["sh", "-c", `sleep ${seconds}; echo done`], signal: ac.signal });
    expect(await waitFor(() => pgrepExact(cmdline).length === 1, 3000)).toBe(true);
    const t0 = performance.now();
    ac.abort();
    const e = (await pending)._unsafeUnwrapErr();
    expect(e.code).toBe("ABORTED");
    expect(performance.now() - t0).toBeLessThan(2500);
    expect(await waitFor(() => pgrepExact(cmdline).length === 0, 2000)).toBe(true);
  });

  it("kills a command that is reading stdin (stdin already at EOF) too", async () => {
    const r = runner();
    await clientPort(r);
    const seconds = marker();
    const cmdline = `sleep ${seconds}`;
    const pending = r.run({ argv: ["sleep", seconds], stdin: "some input", timeoutMs: 2000 });
    expect(await waitFor(() => pgrepExact(cmdline).length === 1, 1900)).toBe(true);
    expect((await pending)._unsafeUnwrapErr().code).toBe("TIMEOUT");
    expect(await waitFor(() => pgrepExact(cmdline).length === 0, 2000)).toBe(true);
  });

  it("an already-aborted signal → ABORTED without running anything", async () => {
    const r = runner();
    const flag = join(sshd.dir, `not-created-${randomUUID()}`);
    const e = (await r.run({ argv: ["touch", flag], signal: AbortSignal.abort() }))._unsafeUnwrapErr();
    expect(e.code).toBe("ABORTED");
    await sleep(200);
    expect(existsSync(flag)).toBe(false);
  });

  it("a deadline-style abort reason maps to TIMEOUT", async () => {
    const r = runner();
    const e = (await r.run({ argv: ["sleep", "5"], signal: AbortSignal.timeout(300) }))._unsafeUnwrapErr();
    expect(e.code).toBe("TIMEOUT");
  });
});

describe("ssh runner: host key checking", () => {
  it("refuses a server whose key does not match, before running anything", async () => {
    const other = join(sshd.dir, `other_${randomUUID()}`);
    keygen(other);
    const wrong = keygenFingerprint(`${other}.pub`);
    const r = runner({ hostKey: wrong });
    const flag = join(sshd.dir, `not-created-${randomUUID()}`);
    const e = (await r.run({ argv: ["touch", flag] }))._unsafeUnwrapErr();
    expect(e.code).toBe("AUTH_FAILED");
    expect(e.details.reason).toBe("host-key-mismatch");
    expect(e.details.presentedFingerprint).toBe(sshd.fingerprint);
    expect(existsSync(flag)).toBe(false);
  });

  it("accepts the key given as a public key line or a known_hosts line, and among several", async () => {
    const [type, blob] = sshd.hostKeyLine.split(" ");
    for (const hostKey of [sshd.hostKeyLine, `[127.0.0.1]:${sshd.port} ${type} ${blob}`, ["SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", sshd.fingerprint]]) {
      const out = (await runner({ hostKey }).run({ argv: ["echo", "trusted"] }))._unsafeUnwrap();
      expect(out.stdout).toBe("trusted\n");
    }
  });

  it("consults a custom hostVerifier with the key and its fingerprint", async () => {
    const seen: string[] = [];
    const { hostKey: _omit, ...rest } = baseOptions();
    const refused = createSshRunner({ ...rest, hostVerifier: (_key, fp) => (seen.push(fp), false) })._unsafeUnwrap();
    runners.push(refused);
    expect((await refused.run({ argv: ["true"] }))._unsafeUnwrapErr().details.reason).toBe("host-key-mismatch");
    expect(seen).toEqual([sshd.fingerprint]);
    const accepted = createSshRunner({ ...rest, hostVerifier: (key, fp) => sshHostKeyFingerprint(key) === fp && fp === sshd.fingerprint })._unsafeUnwrap();
    runners.push(accepted);
    expect((await accepted.run({ argv: ["echo", "hi"] }))._unsafeUnwrap().stdout).toBe("hi\n");
  });

  it("connects without checking only when insecureSkipHostKeyCheck is true", async () => {
    const { hostKey: _omit, ...rest } = baseOptions();
    const r = createSshRunner({ ...rest, insecureSkipHostKeyCheck: true })._unsafeUnwrap();
    runners.push(r);
    expect((await r.run({ argv: ["echo", "unchecked"] }))._unsafeUnwrap().stdout).toBe("unchecked\n");
  });
});

describe("ssh runner: connection reuse, reconnect, close, failures", () => {
  it("reuses one lazily opened connection for many commands", async () => {
    const before = sshdConnections().length;
    const r = runner();
    expect(sshdConnections().length).toBe(before); // nothing opened until the first command
    const ports = new Set<string>();
    for (let i = 0; i < 5; i++) ports.add(await clientPort(r));
    expect(ports.size).toBe(1);
    expect(sshdConnections().length).toBe(before + 1);
  });

  it("runs more concurrent commands than the server's MaxSessions on one connection", async () => {
    const r = runner({ maxChannels: 4 });
    const results = await Promise.all(
      Array.from({ length: 14 }, (_, i) => r.run({ argv: ["sh", "-c", `sleep 0.2; echo "$SSH_CLIENT" ${i}`] })),
    );
    const lines = results.map((x) => x._unsafeUnwrap().stdout.trim());
    expect(lines.map((l) => l.split(" ").at(-1))).toEqual(Array.from({ length: 14 }, (_, i) => String(i)));
    expect(new Set(lines.map((l) => l.split(" ")[1])).size).toBe(1);
  });

  it("reconnects when the connection dropped", async () => {
    const r = runner();
    const first = await clientPort(r);
    const before = new Set(sshdConnections());
    const mine = [...before];
    // Kill the server side of every current connection (processes this test's sshd started).
    for (const pid of mine) process.kill(pid, "SIGKILL");
    expect(await waitFor(() => sshdConnections().every((p) => !before.has(p)), 3000)).toBe(true);
    const second = await clientPort(r);
    expect(second).not.toBe(first);
    expect((await r.run({ argv: ["echo", "again"] }))._unsafeUnwrap().stdout).toBe("again\n");
  });

  it("reconnects even when the drop is noticed only by the next command", async () => {
    const warnings: string[] = [];
    const r = runner({ logger: { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (_o, msg) => void warnings.push(msg ?? "") } });
    const first = await clientPort(r);
    for (const pid of sshdConnections()) process.kill(pid, "SIGKILL");
    const second = await clientPort(r); // no wait: the runner may still hold the dead connection
    expect(second).not.toBe(first);
    // The command was sent on the dead connection (in the same tick), failed to open, and was retried.
    expect(warnings).toContain("ssh channel open failed"); // (a socket reset may be logged too)
  });

  it("close() ends the connection and later runs fail with INVALID_STATE", async () => {
    const r = runner();
    await clientPort(r);
    const before = sshdConnections().length;
    expect((await r.close()).isOk()).toBe(true);
    expect(await waitFor(() => sshdConnections().length === before - 1, 3000)).toBe(true);
    const e = (await r.run({ argv: ["true"] }))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_STATE");
    expect((await r.close()).isOk()).toBe(true); // idempotent
  });

  it("close() kills a running command", async () => {
    const r = runner();
    await clientPort(r);
    const seconds = `4${Math.floor(Math.random() * 9)}.${Date.now() % 100000}`;
    const pending = r.run({ argv: ["sleep", seconds] });
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 1, 3000)).toBe(true);
    expect((await r.close()).isOk()).toBe(true);
    const e = (await pending)._unsafeUnwrapErr();
    expect(["BACKEND_UNAVAILABLE", "COMMAND_FAILED"]).toContain(e.code);
    expect(await waitFor(() => pgrepExact(`sleep ${seconds}`).length === 0, 2000)).toBe(true);
  });

  it("fails with transient BACKEND_UNAVAILABLE when nothing listens", async () => {
    const r = runner({ port: await freeLoopbackPort() });
    const e = (await r.run({ argv: ["true"] }))._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(e.transient).toBe(true);
    expect(e.details.reason).toBe("unreachable");
  });

  it("fails with AUTH_FAILED for a key the server does not accept", async () => {
    const other = join(sshd.dir, `stranger_${randomUUID()}`);
    keygen(other);
    const r = runner({ privateKey: readFileSync(other, "utf8") });
    const e = (await r.run({ argv: ["true"] }))._unsafeUnwrapErr();
    expect(e.code).toBe("AUTH_FAILED");
    expect(e.details.reason).toBe("authentication");
  });
});

describe("ssh runner: secrets", () => {
  it("redacts per-command secrets from COMMAND_FAILED message, argv, stderr and stdout", async () => {
    const secret = `chap-${randomUUID()}`;
    const r = runner();
    const e = (
      await r.run({
        argv: ["sh", "-c", 'echo "out $1"; echo "bad secret $1" >&2; exit 4', "sh", secret],
        secrets: [secret],
      })
    )._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    const serialized = JSON.stringify(e) + e.message + String(e.stack);
    expect(serialized).not.toContain(secret);
    expect(e.details.command).toEqual(["sh", "-c", 'echo "out $1"; echo "bad secret $1" >&2; exit 4', "sh", "***"]);
    expect(e.details.stderr).toBe("bad secret ***");
    expect(e.details.stdout).toBe("out ***");
  });

  it("registers the password and passphrase as secrets and never echoes them", async () => {
    const password = `pw-${randomUUID()}`;
    const passphrase = `pp-${randomUUID()}`;
    const { privateKey: _k, ...rest } = baseOptions();
    const r = createSshRunner({ ...rest, password, passphrase })._unsafeUnwrap();
    runners.push(r);
    expect(redactText(`x ${password} y ${passphrase}`)).toBe("x *** y ***");
    const e = (await r.run({ argv: ["true"] }))._unsafeUnwrapErr(); // server allows keys only
    expect(e.code).toBe("AUTH_FAILED");
    expect(JSON.stringify(e) + e.message).not.toContain(password);
    expect(r.description).not.toContain(password);
  });
});
