import { basename, dirname } from "node:path";
import type { CommandSpec } from "../../../../src/exec/runner.js";
import { FakeRunner, type FakeReply } from "../../../../src/testing/fake-runner.js";

/** One file in a fake share. */
export type FakeFile =
  | { kind: "image"; format: "raw" | "qcow2"; size: number; backing?: string; backingFormat?: string; prealloc?: string; mode?: string }
  | { kind: "text"; text: string; mode?: string };

/** Capacity a fake share reports through `stat -f` (bytes). */
export interface FakeCapacity {
  total: number;
  available: number;
}

const GiB = 1024 ** 3;

/**
 * An in-memory model of share directories driven by the commands the NFS driver runs (test, cat,
 * dd, chmod, mv, rm, truncate, find, du, stat -f, qemu-img info/create/commit/rebase/resize/convert),
 * so driver flows can be unit-tested with exact argv assertions. `qemu-img info` prints JSON in the
 * shape of the captured fixtures.
 */
export class FakeShares {
  readonly runner = new FakeRunner();
  readonly dirs = new Map<string, Map<string, FakeFile>>();
  readonly capacity = new Map<string, FakeCapacity>();
  /** Directories `test -w` reports as not writable. */
  readonly readOnly = new Set<string>();

  constructor(dirs: readonly string[]) {
    for (const d of dirs) {
      this.dirs.set(d, new Map());
      this.capacity.set(d, { total: 100 * GiB, available: 90 * GiB });
    }
    const r = this.runner;
    r.on(["qemu-img", "--version"], { stdout: "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n" });
    r.on(["test"], (s) => this.#test(s.argv));
    r.on(["stat", "-f"], (s) => this.#statfs(String(s.argv.at(-1))));
    r.on(["cat"], (s) => this.#cat(String(s.argv.at(-1))));
    r.on(["dd"], (s) => this.#dd(s));
    r.on(["chmod"], (s) => this.#update(String(s.argv.at(-1)), (f) => ({ ...f, mode: String(s.argv[1]) })));
    r.on(["mv"], (s) => this.#mv(String(s.argv.at(-2)), String(s.argv.at(-1))));
    r.on(["rm"], (s) => this.#rm(s.argv.slice(s.argv.indexOf("--") + 1)));
    r.on(["truncate"], (s) => this.#truncate(String(s.argv.at(-1)), Number(s.argv[2])));
    r.on(["find"], (s) => this.#find(s.argv));
    r.on(["du"], (s) => this.#du(String(s.argv.at(-1))));
    r.on(["qemu-img", "info"], (s) => this.#info(s.argv));
    r.on(["qemu-img", "create"], (s) => this.#create(s.argv));
    r.on(["qemu-img", "commit"], (s) => this.#commit(String(s.argv.at(-1))));
    r.on(["qemu-img", "rebase"], (s) => this.#rebase(s.argv));
    r.on(["qemu-img", "resize"], (s) => this.#update(String(s.argv.at(-2)), (f) => (f.kind === "image" ? { ...f, size: Math.max(f.size, Number(s.argv.at(-1))) } : f)));
    r.on(["qemu-img", "convert"], (s) => this.#convert(s.argv));
  }

  /** The file at `path`, if any. */
  get(path: string): FakeFile | undefined {
    return this.dirs.get(dirname(path))?.get(basename(path));
  }

  /** Puts a file. */
  put(path: string, file: FakeFile): void {
    this.dirs.get(dirname(path))?.set(basename(path), file);
  }

  /** Names in a directory, sorted. */
  names(dir: string): string[] {
    return [...(this.dirs.get(dir)?.keys() ?? [])].sort();
  }

  /** Argv of the calls whose program is `program` (and subcommand, for qemu-img). */
  calls(program: string, sub?: string): string[][] {
    return this.runner.commands().filter((a) => a[0] === program && (sub === undefined || a[1] === sub));
  }

  #missing(path: string, tool: string): FakeReply {
    return { exitCode: 1, stderr: `${tool}: ${path}: No such file or directory\n` };
  }

  #test(argv: readonly string[]): FakeReply {
    const [, flag, path] = argv as [string, string, string];
    if (flag === "-d") return { exitCode: this.dirs.has(path) ? 0 : 1 };
    if (flag === "-w") return { exitCode: this.dirs.has(path) && !this.readOnly.has(path) ? 0 : 1 };
    return { exitCode: this.get(path) ? 0 : 1 };
  }

  #statfs(dir: string): FakeReply {
    const c = this.capacity.get(dir);
    if (!c) return this.#missing(dir, "stat");
    return { stdout: `4096 ${c.total / 4096} ${c.available / 4096}\n` };
  }

  #cat(path: string): FakeReply {
    const f = this.get(path);
    if (!f) return { exitCode: 1, stderr: `cat: ${path}: No such file or directory\n` };
    return f.kind === "text" ? { stdout: f.text } : { stdout: "<binary>" };
  }

  #dd(spec: CommandSpec): FakeReply {
    const of = spec.argv.find((a) => a.startsWith("of="))?.slice(3) ?? "";
    this.put(of, { kind: "text", text: String(spec.stdin ?? "") });
    return {};
  }

  #update(path: string, fn: (f: FakeFile) => FakeFile): FakeReply {
    const f = this.get(path);
    if (!f) return this.#missing(path, "fake");
    this.put(path, fn(f));
    return {};
  }

  #mv(from: string, to: string): FakeReply {
    const f = this.get(from);
    if (!f) return this.#missing(from, "mv");
    this.dirs.get(dirname(from))?.delete(basename(from));
    this.put(to, f);
    return {};
  }

  #rm(paths: readonly string[]): FakeReply {
    for (const p of paths) this.dirs.get(dirname(p))?.delete(basename(p));
    return {};
  }

  #truncate(path: string, size: number): FakeReply {
    const f = this.get(path);
    this.put(path, f && f.kind === "image" ? { ...f, size } : { kind: "image", format: "raw", size });
    return {};
  }

  #find(argv: readonly string[]): FakeReply {
    const dir = String(argv[1]);
    const patterns = argv.flatMap((a, i) => (a === "-name" ? [String(argv[i + 1])] : []));
    const re = patterns.map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`));
    const names = this.names(dir).filter((n) => re.some((r) => r.test(n)));
    // `-exec grep -l -F -e <text> -- {} +`: the paths of the text files containing <text>; exit 1 when none.
    if (argv.includes("-exec")) {
      const text = String(argv[argv.indexOf("-e") + 1]);
      const hits = names.filter((n) => {
        const f = this.get(`${dir}/${n}`);
        return f?.kind === "text" && f.text.includes(text);
      });
      return { exitCode: hits.length > 0 ? 0 : 1, stdout: hits.map((n) => `${dir}/${n}\n`).join("") };
    }
    return { stdout: names.map((n) => `${n}\n`).join("") };
  }

  #du(dir: string): FakeReply {
    let sum = 4096;
    for (const [name, f] of this.dirs.get(dir) ?? []) {
      if (name.includes("snapshot")) continue;
      sum += f.kind === "text" ? f.text.length : f.format === "raw" || f.prealloc === "metadata" ? f.size : 200_704;
    }
    return { stdout: `${sum}\t${dir}\n` };
  }

  #info(argv: readonly string[]): FakeReply {
    const path = String(argv.at(-1));
    const f = this.get(path);
    if (!f || f.kind !== "image") return { exitCode: 1, stderr: `qemu-img: Could not open '${path}': Could not open '${path}': No such file or directory\n` };
    const fi = argv.indexOf("-f");
    const asked = fi >= 0 ? argv[fi + 1] : undefined;
    if (asked === "qcow2" && f.format !== "qcow2") return { exitCode: 1, stderr: `qemu-img: Could not open '${path}': Image is not in qcow2 format\n` };
    const format = asked ?? f.format;
    const json: Record<string, unknown> = { "virtual-size": f.size, filename: path, format, "actual-size": 200_704, "dirty-flag": false };
    if (format === "qcow2") {
      json["cluster-size"] = 65536;
      json["format-specific"] = { type: "qcow2", data: { compat: "1.1", "compression-type": "zlib", "lazy-refcounts": false, "refcount-bits": 16, corrupt: false, "extended-l2": false } };
      if (f.backing !== undefined) {
        json["backing-filename"] = f.backing;
        json["full-backing-filename"] = f.backing.startsWith("/") ? f.backing : `${dirname(path)}/${f.backing}`;
        if (f.backingFormat) json["backing-filename-format"] = f.backingFormat;
      }
    }
    return { stdout: JSON.stringify(json, null, 4) };
  }

  #create(argv: readonly string[]): FakeReply {
    const fi = argv.indexOf("-f");
    const format = argv[fi + 1] as "raw" | "qcow2";
    const oi = argv.indexOf("-o");
    const opts = Object.fromEntries((oi >= 0 ? String(argv[oi + 1]) : "").split(",").filter(Boolean).map((kv) => kv.split("=") as [string, string]));
    const path = String(argv.at(-2));
    if (opts.backing_file !== undefined && !this.get(`${dirname(path)}/${opts.backing_file}`)) {
      return { exitCode: 1, stderr: `qemu-img: ${path}: Could not open backing file\n` };
    }
    this.put(path, {
      kind: "image",
      format,
      size: Number(argv.at(-1)),
      ...(opts.backing_file === undefined ? {} : { backing: opts.backing_file }),
      ...(opts.backing_fmt === undefined ? {} : { backingFormat: opts.backing_fmt }),
      ...(opts.preallocation === undefined ? {} : { prealloc: opts.preallocation }),
    });
    return {};
  }

  #commit(path: string): FakeReply {
    const f = this.get(path);
    if (!f || f.kind !== "image" || f.backing === undefined) return { exitCode: 1, stderr: "qemu-img: cannot commit\n" };
    const backingPath = `${dirname(path)}/${f.backing}`;
    return this.#update(backingPath, (b) => (b.kind === "image" ? { ...b, size: Math.max(b.size, f.size) } : b));
  }

  #rebase(argv: readonly string[]): FakeReply {
    const b = String(argv[argv.indexOf("-b") + 1]);
    const fmt = String(argv[argv.indexOf("-F") + 1]);
    return this.#update(String(argv.at(-1)), (f) => (f.kind === "image" ? { ...f, backing: b, backingFormat: fmt } : f));
  }

  #convert(argv: readonly string[]): FakeReply {
    const [src, dst] = [String(argv.at(-2)), String(argv.at(-1))];
    const s = this.get(src);
    if (!s || s.kind !== "image") return this.#missing(src, "qemu-img");
    const format = argv[argv.indexOf("-O") + 1] as "raw" | "qcow2";
    const oi = argv.indexOf("-o");
    const prealloc = oi >= 0 ? /preallocation=(\w+)/.exec(String(argv[oi + 1]))?.[1] : undefined;
    this.put(dst, { kind: "image", format, size: s.size, ...(prealloc ? { prealloc } : {}) });
    return { stdout: "    (100.00/100%)\r" };
  }
}
