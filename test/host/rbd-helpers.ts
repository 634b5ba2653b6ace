/**
 * Helpers of the RBD host tests: a backend of the RBD driver on the shared cluster as a
 * restricted client, and data I/O through librbd in userspace (qemu-io / qemu-img on `rbd:`
 * filenames: this host's kernel has no rbd module).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Volume } from "../../src/core/records.js";
import type { VolumeBackend } from "../../src/drivers/backend.js";
import { createBackend } from "../../src/drivers/registry.js";
import type { RbdConfig } from "../../src/drivers/rbd/rbd-config.js";
import type { CephClient, CephCluster } from "../../src/testing/ceph-cluster.js";

const run = promisify(execFile);
const MiB = 1024 ** 2;

/** A restricted client's view of one pool: backends on it and raw data access to its images. */
export class RbdPoolFixture {
  readonly #backends: VolumeBackend[] = [];

  constructor(
    readonly cluster: CephCluster,
    readonly pool: string,
    readonly user: CephClient,
  ) {}

  /** An RBD backend as the restricted user (monitors + key: no config file, key file on disk only). */
  async backend(config: Partial<RbdConfig> = {}): Promise<VolumeBackend> {
    const made = (await createBackend({ driver: "rbd", monitors: [`v2:${this.cluster.monV2}`], clientId: this.user.id, key: this.user.key, pool: this.pool, connectTimeoutSec: 5, ...config }))._unsafeUnwrap();
    this.#backends.push(made);
    return made;
  }

  /** Closes every backend made here (each removes its key file); true when all closed cleanly. */
  async closeAll(): Promise<boolean> {
    const results = await Promise.all(this.#backends.splice(0).map((b) => b.close()));
    return results.every((r) => r.isOk());
  }

  /** The `rbd:` filename of an image (or snapshot) for qemu-img/qemu-io, with the user's keyring. */
  filename(image: string, snapshot?: string): string {
    return `rbd:${this.pool}/${image}${snapshot === undefined ? "" : `@${snapshot}`}:conf=${this.cluster.confPath}:id=${this.user.id}:keyring=${this.user.keyringPath}`;
  }

  /** Writes `data` at `offset` of an image through librbd. */
  async write(image: string, data: Buffer, offset = 0): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), "volkit-rbd-io-"));
    try {
      const file = join(dir, "data");
      writeFileSync(file, data);
      await run("qemu-io", ["-f", "raw", "-c", `write -q -s ${file} ${offset} ${data.length}`, this.filename(image)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Reads `length` bytes at `offset` of an image (or snapshot) through librbd. */
  async read(image: string, length: number, offset = 0, snapshot?: string): Promise<Buffer> {
    const dir = mkdtempSync(join(tmpdir(), "volkit-rbd-io-"));
    try {
      const out = join(dir, "out");
      // qemu-img dd counts 64 KiB blocks (offsets and lengths here are multiples of it), and its
      // count includes the skipped blocks.
      const bs = 64 * 1024;
      await run("qemu-img", ["dd", "-f", "raw", "-O", "raw", `bs=${bs}`, `skip=${offset / bs}`, `count=${(offset + length) / bs}`, `if=${this.filename(image, snapshot)}`, `of=${out}`], { maxBuffer: 64 * MiB });
      return readFileSync(out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Writes to / reads from a volume's image. */
  volumeIo(): { write: (v: Volume, data: Buffer) => Promise<void>; read: (v: Volume, bytes: number) => Promise<Buffer> } {
    return { write: (v, data) => this.write(`volume-${v.id}`, data), read: (v, bytes) => this.read(`volume-${v.id}`, bytes) };
  }

  /** `rbd <args> --format json` as admin, parsed. */
  async json<T>(args: readonly string[]): Promise<T> {
    return JSON.parse(await this.cluster.rbd([...args, "--format", "json"])) as T;
  }
}

/** sha256 hex of a buffer. */
export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
