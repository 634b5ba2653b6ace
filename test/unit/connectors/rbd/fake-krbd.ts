/**
 * A fake host with the kernel rbd client's sysfs, rebuilt from what the storage lab's kernel
 * showed (test/fixtures/rbd/kernel-sysfs-*.txt, captured by capture.ts --kernel): each mapping's
 * attributes and links replayed into a {@link FakeHostTree}, plus the `/dev/rbd<N>` node and the
 * write-only `refresh` attribute the dump cannot read.
 */
import { readlinkSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { FakeHostTree } from "../../../../src/testing/fake-tree.js";
import { fixtureText } from "../../drivers/rbd/captures.js";

/** One captured line: a link or an attribute with its content. */
type Entry = { readonly path: string; readonly link: string } | { readonly path: string; readonly content: string };

/** The captured sysfs entries of mapping `id` in `file`, with the id renamed to `as`. */
function entriesOf(file: string, id: string, as: string): Entry[] {
  const own = new RegExp(`^/sys/(bus/rbd/devices/${id}|block/rbd${id}|class/block/rbd${id})[/ ]`);
  return fixtureText(file)
    .split("\n")
    .filter((line) => own.test(line))
    .map((line): Entry => {
      const rename = (p: string): string => p.replace(new RegExp(`(devices/(?:rbd/)?)${id}(?=/|$)`), `$1${as}`).replaceAll(`rbd${id}`, `rbd${as}`);
      const link = / -> (.*)$/.exec(line);
      if (link?.[1] !== undefined) return { path: rename(line.slice(0, line.indexOf(" -> "))), link: rename(link[1]) };
      const space = line.indexOf(" ");
      return { path: rename(line.slice(0, space)), content: JSON.parse(line.slice(space + 1)) as string };
    });
}

/** A fake host tree holding kernel rbd mappings replayed from the captures. */
export class FakeKrbdHost {
  /** The tree standing for `/`. */
  readonly tree = FakeHostTree.create("volkit-krbd-");

  constructor() {
    // The bus directory exists once the module is loaded, mappings or not.
    this.tree.dir("/sys/bus/rbd/devices");
  }

  /** Adds mapping `as` (default: the captured id) as captured in `file` for mapping `id`. */
  map(id: string, options: { readonly as?: string; readonly file?: string } = {}): this {
    const as = options.as ?? id;
    const entries = entriesOf(options.file ?? "kernel-sysfs-mapped.txt", id, as);
    if (entries.length === 0) throw new Error(`no captured sysfs entries for mapping ${id}`);
    for (const e of entries) {
      if ("link" in e) {
        const target = posix.resolve(dirname(e.path), e.link);
        this.tree.dir(target).symlink(e.path, target);
      } else {
        this.tree.file(e.path, e.content);
      }
    }
    this.tree.file(`/sys/bus/rbd/devices/${as}/refresh`, "").file(`/dev/rbd${as}`, "");
    return this;
  }

  /** Replaces mapping `id`'s attributes with another capture of it (e.g. after a resize). */
  update(id: string, file: string): this {
    for (const e of entriesOf(file, id, id)) if ("content" in e) this.tree.file(e.path, e.content);
    return this;
  }

  /** Removes mapping `id` as the kernel does on unmap (its device directories, links and node). */
  unmap(id: string): this {
    for (const link of [`/sys/bus/rbd/devices/${id}`, `/sys/block/rbd${id}`]) {
      if (this.tree.lexists(link)) this.tree.remove(posix.resolve(dirname(link), readlinkSync(join(this.tree.root, link))));
    }
    this.tree.remove(`/sys/bus/rbd/devices/${id}`).remove(`/sys/block/rbd${id}`).remove(`/sys/class/block/rbd${id}`).remove(`/dev/rbd${id}`);
    return this;
  }
}
