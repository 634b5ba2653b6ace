import { EventEmitter } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ImageConvertOutputSchema, ImageCopyOutputSchema } from "../../../src/cli/commands/image.js";
import { EXIT_CODES } from "../../../src/cli/exit-codes.js";
import { ErrorOutputSchema } from "../../../src/cli/output.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { volkit } from "./cli-harness.js";

const QEMU = join(import.meta.dirname, "../../fixtures/qemu-img");
const MiB = 2 ** 20;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "volkit-cli-image-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("volkit image copy", () => {
  it("copies in paced dd chunks into a new sparse file and reports the copy", async () => {
    const source = join(dir, "src.raw");
    writeFileSync(source, Buffer.alloc(4 * MiB, 7));
    const target = join(dir, "dst.raw");
    const runner = new FakeRunner().on(["dd"], {});
    const r = await volkit(["image", "copy", source, target, "--chunk", "1M", "--json"], { runner, cwd: dir });
    expect(r.code).toBe(0);
    const out = ImageCopyOutputSchema.parse(r.json());
    expect(out).toMatchObject({ source, target, bytes: 4 * MiB, created: true, chunks: 4 });
    expect(statSync(target).size).toBe(4 * MiB);
    const dd = runner.commandsOf("dd");
    expect(dd).toHaveLength(4);
    expect(dd[1]).toEqual(["dd", `if=${source}`, `of=${target}`, `bs=${MiB}`, `skip=${MiB}`, `seek=${MiB}`, `count=${MiB}`, "iflag=count_bytes,skip_bytes,direct", "oflag=seek_bytes,direct", "conv=notrunc,sparse", "status=none"]);
  });

  it("Ctrl-C kills the running dd, removes the target it created and exits 130", async () => {
    const source = join(dir, "src.raw");
    writeFileSync(source, Buffer.alloc(4 * MiB));
    const target = join(dir, "dst.raw");
    const signals = new EventEmitter();
    // Ctrl-C once dd is running (not on a timer: on a loaded host a timer can fire before dd starts).
    const runner = new FakeRunner().on(["dd"], () => {
      setImmediate(() => signals.emit("SIGINT"));
      return { delayMs: 60_000 };
    });
    const r = await volkit(["image", "copy", "src.raw", "dst.raw", "--json"], { runner, cwd: dir, signals });
    expect(r.code).toBe(EXIT_CODES.ABORTED);
    const error = ErrorOutputSchema.parse(r.json()).error;
    expect(error).toMatchObject({ code: "ABORTED", details: { rolledBack: [target] } });
    expect(existsSync(target)).toBe(false);
    expect(runner.calls[0]?.signal?.aborted).toBe(true);
  });

  it("refuses an existing target unless --overwrite, and then never removes it", async () => {
    const source = join(dir, "src.raw");
    writeFileSync(source, Buffer.alloc(MiB));
    const target = join(dir, "dev.raw");
    writeFileSync(target, "keep me");
    const runner = new FakeRunner().on(["dd"], { exitCode: 1, stderr: "dd: error writing '/x': No space left on device" });
    const refused = await volkit(["image", "copy", source, target], { runner });
    expect(refused.code).toBe(EXIT_CODES.INVALID_ARGUMENT);
    expect(runner.calls).toEqual([]);
    const failed = await volkit(["image", "copy", source, target, "--overwrite", "--no-direct", "--json"], { runner });
    expect(failed.code).toBe(EXIT_CODES.COMMAND_FAILED);
    expect(ErrorOutputSchema.parse(failed.json()).error.details).toMatchObject({ partial: target });
    expect(readFileSync(target, "utf8")).toBe("keep me");
    expect(runner.commandsOf("dd")[0]).toContain("conv=notrunc");
    expect(runner.commandsOf("dd")[0]).toContain("oflag=seek_bytes");
  });

  it("checks sizes and paths before running anything", async () => {
    const runner = new FakeRunner();
    for (const argv of [["image", "copy", "/nope/src", join(dir, "x")], ["image", "copy", join(dir, "a"), join(dir, "b"), "--bandwidth-limit", "fast"]]) {
      const r = await volkit(argv, { runner });
      expect([EXIT_CODES.NOT_FOUND, EXIT_CODES.INVALID_ARGUMENT]).toContain(r.code);
    }
    expect(runner.calls).toEqual([]);
  });
});

describe("volkit image convert", () => {
  it("converts through qemu-img with progress and reports the image", async () => {
    const source = join(dir, "disk.raw");
    writeFileSync(source, "");
    const runner = new FakeRunner()
      .on(["qemu-img", "info"], { stdout: readFileSync(join(QEMU, "info-raw.json"), "utf8") })
      .on(["qemu-img", "convert"], (spec) => {
        spec.onStdout?.(readFileSync(join(QEMU, "convert-progress.txt"), "utf8"));
        return {};
      });
    const r = await volkit(["image", "convert", "disk.raw", "disk.qcow2", "-f", "raw", "-O", "qcow2", "--json"], { runner, cwd: dir });
    expect(r.code).toBe(0);
    expect(ImageConvertOutputSchema.parse(r.json())).toMatchObject({ source, sourceFormat: "raw", target: join(dir, "disk.qcow2"), targetFormat: "qcow2", virtualSizeBytes: 67108864 });
    expect(runner.commandsOf("qemu-img")[1]).toEqual(["qemu-img", "convert", "-p", "-f", "raw", "-O", "qcow2", source, join(dir, "disk.qcow2")]);
  });

  it("removes the partial target when qemu-img fails or is cancelled, and refuses an existing one", async () => {
    const target = join(dir, "out.qcow2");
    const runner = new FakeRunner()
      .on(["qemu-img", "info"], { stdout: readFileSync(join(QEMU, "info-raw.json"), "utf8") })
      .on(["qemu-img", "convert"], () => {
        writeFileSync(target, "partial");
        return { exitCode: 1, stderr: "qemu-img: error while writing at byte 0: No space left on device" };
      });
    const r = await volkit(["image", "convert", join(dir, "in.raw"), target, "-O", "qcow2", "--json"], { runner });
    expect(r.code).toBe(EXIT_CODES.COMMAND_FAILED);
    expect(ErrorOutputSchema.parse(r.json()).error.details).toMatchObject({ rolledBack: [target] });
    expect(existsSync(target)).toBe(false);
    writeFileSync(target, "mine");
    const taken = await volkit(["image", "convert", join(dir, "in.raw"), target, "-O", "qcow2"], { runner });
    expect(taken.code).toBe(EXIT_CODES.INVALID_ARGUMENT);
    expect(readFileSync(target, "utf8")).toBe("mine");
    expect((await volkit(["image", "convert", "a", "b", "-O", "exe"], { runner })).code).toBe(EXIT_CODES.INVALID_ARGUMENT);
  });
});
