import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm, truncate } from "node:fs/promises";
import { join } from "node:path";
import type { CommandRunner } from "../../exec/runner.js";
import type { SimFiles } from "./sim-world.js";

const SECTOR = 512;

/**
 * LUN and snapshot files in the simulator's directory: sparse files sized in sectors, copied with
 * `cp --reflink=auto --sparse=always` (a reflink where the file system can, else a sparse copy)
 * through the command runner. A copy lands in a temporary file that is renamed over the target,
 * so a reader never sees half a copy (tgtd re-opens replaced files, see the data plane).
 */
export class SimFileStore implements SimFiles {
  readonly #dir: string;
  readonly #runner: CommandRunner;

  /** @param dir - the simulator's data directory; @param runner - runs `cp`. */
  constructor(dir: string, runner: CommandRunner) {
    this.#dir = dir;
    this.#runner = runner;
  }

  /** Creates the `luns/` and `snapshots/` directories. */
  async init(): Promise<void> {
    await mkdir(join(this.#dir, "luns"), { recursive: true });
    await mkdir(join(this.#dir, "snapshots"), { recursive: true });
  }

  /** {@inheritDoc SimFiles.pathOf} */
  pathOf(kind: "lun" | "snapshot", id: string): string {
    return join(this.#dir, kind === "lun" ? "luns" : "snapshots", `${kind}-${id}.img`);
  }

  /** {@inheritDoc SimFiles.create} */
  async create(file: string, sectors: number): Promise<void> {
    const handle = await open(file, "wx", 0o600);
    try {
      await handle.truncate(sectors * SECTOR);
    } finally {
      await handle.close();
    }
  }

  /** {@inheritDoc SimFiles.grow} */
  async grow(file: string, sectors: number): Promise<void> {
    await truncate(file, sectors * SECTOR);
  }

  /** {@inheritDoc SimFiles.copy} */
  async copy(src: string, dst: string, sectors: number): Promise<void> {
    const temp = `${dst}.${randomBytes(4).toString("hex")}.tmp`;
    const out = await this.#runner.run({ argv: ["cp", "--reflink=auto", "--sparse=always", "--", src, temp] });
    if (out.isErr()) {
      await rm(temp, { force: true });
      throw out.error;
    }
    try {
      await truncate(temp, sectors * SECTOR);
      await rename(temp, dst);
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
  }

  /** {@inheritDoc SimFiles.remove} */
  async remove(file: string): Promise<void> {
    await rm(file, { force: true });
  }
}
