import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { createHostFs, hostPath, type HostFs } from "../host/host-fs.js";

/** A write a {@link FakeHostTree} saw through its {@link HostFs}. */
export interface RecordedWrite {
  /** Host path written. */
  readonly path: string;
  /** Data written. */
  readonly data: string;
  /** Order of the write among all writes (0-based). */
  readonly seq: number;
}

/** Reacts to a write (e.g. creates a disk after `…/scan`); the match of the rule's pattern is passed. */
export type WriteHook = (path: string, data: string, match: RegExpExecArray) => void | Promise<void>;

/**
 * A fake host file tree in a temporary directory, for unit tests of code that reads `/sys`,
 * `/dev`, `/etc` or `/proc` through a {@link HostFs}. Links are created relative, like the
 * kernel's, so `readlink` and `realpath` behave as on a host. Writes through {@link hostFs} are
 * recorded and can trigger hooks that mutate the tree, which is how a test simulates the kernel
 * answering `echo '0 0 1' > /sys/class/scsi_host/host2/scan`.
 *
 * @example
 * ```ts
 * const tree = FakeHostTree.create()
 *   .file("/etc/iscsi/initiatorname.iscsi", "InitiatorName=iqn.2004-10.com.ubuntu:01:abc\n");
 * tree.onWrite(/^\/sys\/block\/(sd\w+)\/device\/delete$/, (_p, _d, m) => tree.remove(`/sys/block/${m[1]}`));
 * const fs = tree.hostFs();
 * // …run the code under test with `fs`…
 * tree.cleanup();
 * ```
 */
export class FakeHostTree {
  /** The temporary directory standing for `/`. */
  readonly root: string;
  /** Every write made through {@link hostFs}, in order. */
  readonly writes: RecordedWrite[] = [];
  readonly #hooks: { pattern: RegExp; hook: WriteHook }[] = [];

  private constructor(root: string) {
    this.root = root;
  }

  /** Creates an empty tree under a new temporary directory. */
  static create(prefix = "volkit-host-"): FakeHostTree {
    return new FakeHostTree(mkdtempSync(join(tmpdir(), prefix)));
  }

  /** Creates (or overwrites) a file with `content`, creating parent directories. */
  file(path: string, content = ""): this {
    const real = this.#real(path);
    mkdirSync(dirname(real), { recursive: true });
    writeFileSync(real, content);
    return this;
  }

  /** Creates a directory (and its parents). */
  dir(path: string): this {
    mkdirSync(this.#real(path), { recursive: true });
    return this;
  }

  /** Creates a symbolic link at `path` pointing to the host path `target`, stored relative. */
  symlink(path: string, target: string): this {
    const real = this.#real(path);
    mkdirSync(dirname(real), { recursive: true });
    rmSync(real, { force: true, recursive: true });
    symlinkSync(relative(dirname(path), target) || ".", real);
    return this;
  }

  /** Removes a file, link or directory tree; a missing path is ignored. */
  remove(path: string): this {
    rmSync(this.#real(path), { recursive: true, force: true });
    return this;
  }

  /** Whether `path` exists (links followed). */
  exists(path: string): boolean {
    return existsSync(this.#real(path));
  }

  /** Whether `path` itself exists (links not followed). */
  lexists(path: string): boolean {
    try {
      lstatSync(this.#real(path));
      return true;
    } catch {
      return false;
    }
  }

  /** Content of a file. */
  read(path: string): string {
    return readFileSync(this.#real(path), "utf8");
  }

  /** Entries of a directory (sorted); empty when missing. */
  list(path: string): string[] {
    try {
      return readdirSync(this.#real(path)).sort();
    } catch {
      return [];
    }
  }

  /** Runs `hook` after every write whose path matches `pattern` (hooks run in the order added). */
  onWrite(pattern: RegExp, hook: WriteHook): this {
    this.#hooks.push({ pattern, hook });
    return this;
  }

  /** Writes recorded for paths matching `pattern`. */
  writesTo(pattern: RegExp): RecordedWrite[] {
    return this.writes.filter((w) => pattern.test(w.path));
  }

  /** A {@link HostFs} rooted at this tree that records writes and runs the hooks. */
  hostFs(): HostFs {
    return createHostFs({
      root: this.root,
      onWrite: async (path, data) => {
        this.writes.push({ path, data, seq: this.writes.length });
        for (const { pattern, hook } of this.#hooks) {
          const m = pattern.exec(path);
          if (m) await hook(path, data, m);
        }
      },
    });
  }

  /** Deletes the temporary directory. */
  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  #real(path: string): string {
    return hostPath(this.root, path);
  }
}
