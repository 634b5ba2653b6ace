import type { CommandSpec } from "../../../src/exec/runner.js";
import type { MountEntry } from "../../../src/remotefs/remotefs-parsers.js";
import { FakeRunner, type FakeReply } from "../../../src/testing/fake-runner.js";

/** What the fake `mount` does with one call (default: mounts it as nfs4). */
export type MountBehaviour = (argv: readonly string[], host: FakeNfsHost) => FakeReply;

/**
 * A scripted host for mount manager tests: a mount table that `mount`/`umount` change and
 * `findmnt -J` prints (in findmnt's JSON shape), and a `stat -f` whose reply can be switched to a
 * stale handle or a hang. Every command is recorded by the underlying {@link FakeRunner}.
 */
export class FakeNfsHost {
  readonly runner = new FakeRunner();
  readonly mounts: MountEntry[] = [{ target: "/", source: "/dev/vda", fstype: "ext4", options: "rw,relatime" }];
  /** Replies of `mount`, used in order; the last one repeats. */
  mountReplies: MountBehaviour[] = [];
  /** Reply of `stat -f`. */
  statfs: FakeReply = { stdout: "4096 262144 200000\n" };
  /** Reply of `umount` (without -l). */
  umount: FakeReply | undefined;
  /** Canonical form `realpath` prints for the base. */
  realpath: ((path: string) => string) | undefined;

  constructor() {
    this.runner
      .on(["realpath"], (spec) => ({ stdout: `${this.realpath ? this.realpath(String(spec.argv.at(-1))) : String(spec.argv.at(-1)).replace(/\/+$/, "")}\n` }))
      .on(["findmnt"], () => ({ stdout: this.findmntJson(), exitCode: 0 }))
      .on((argv) => strip(argv)[0] === "mkdir", {})
      .on((argv) => strip(argv)[0] === "mount", (spec) => this.#mount(spec))
      .on((argv) => strip(argv)[0] === "umount", (spec) => this.#umount(spec))
      .on(["stat", "-f"], () => this.statfs);
  }

  /** findmnt -J -l output for the current table. */
  findmntJson(): string {
    return JSON.stringify({ filesystems: this.mounts.map((m) => ({ target: m.target, source: m.source, fstype: m.fstype, options: m.options })) }, null, 3);
  }

  /** Argv of every call of `program` (root helper prefix removed). */
  calls(program: string): string[][] {
    return this.runner.commands().map(strip).filter((a) => a[0] === program);
  }

  isMounted(target: string): boolean {
    return this.mounts.some((m) => m.target === target);
  }

  #mount(spec: CommandSpec): FakeReply {
    const argv = strip(spec.argv);
    const behaviour = this.mountReplies.length > 1 ? this.mountReplies.shift() : this.mountReplies[0];
    if (behaviour) return behaviour(argv, this);
    return mountOk(argv, this);
  }

  #umount(spec: CommandSpec): FakeReply {
    const argv = strip(spec.argv);
    const target = String(argv.at(-1));
    const lazy = argv.includes("-l");
    if (!lazy && this.umount) return this.umount;
    const i = this.mounts.findIndex((m) => m.target === target);
    if (i === -1) return { exitCode: 32, stderr: `umount: ${target}: not mounted.\n` };
    this.mounts.splice(i, 1);
    return {};
  }
}

/** Default `mount`: success, the share appears as nfs4 with the options given. */
export function mountOk(argv: readonly string[], host: FakeNfsHost): FakeReply {
  const [target, source] = [String(argv.at(-1)), String(argv.at(-2))];
  const o = argv.indexOf("-o");
  host.mounts.push({ target, source, fstype: "nfs4", options: `rw,relatime,${o >= 0 ? String(argv[o + 1]) : ""}` });
  return {};
}

/** A `mount` failing with mount.nfs's exit code 32 and `stderr`. */
export function mountFails(stderr: string): MountBehaviour {
  return () => ({ exitCode: 32, stderr });
}

/** Removes a root helper prefix (`/usr/bin/sudo -n env VAR=value …`) from an argv. */
function strip(argv: readonly string[]): string[] {
  const a = [...argv];
  while (a[0] === "/usr/bin/sudo" || a[0] === "sudo" || a[0] === "-n" || a[0] === "env" || (a[0] !== undefined && /^[A-Z_]+=/.test(a[0]))) a.shift();
  return a;
}
