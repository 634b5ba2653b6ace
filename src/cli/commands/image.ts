import { open, rm, stat, truncate } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import { createOperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { FilePathSchema, validate } from "../../core/validation.js";
import { copyDevice } from "../../data/copy.js";
import { QemuImg } from "../../data/qemu-img.js";
import type { HostFs } from "../../host/host-fs.js";
import { blockDeviceSize, kernelNameOf } from "../../host/block-sysfs.js";
import { runWithRollback } from "../cancel.js";
import { group, leaf, type CliRun, type CommandContext } from "../command-kit.js";
import { fields } from "../output.js";
import { formatBytes, parseBytes } from "../units.js";

/**
 * `volkit image convert` (qemu-img convert through the `QemuImg` wrapper) and `volkit image copy`
 * (a raw byte copy through the copy engine, with a bandwidth limit): long operations with a
 * progress bar, cancelled by Ctrl-C. A target file the command created is removed when the
 * command fails or is cancelled; an existing target (`image copy --overwrite` onto a device) is
 * never removed, and its partial contents are reported.
 */

const FORMATS = ["raw", "qcow2", "vmdk", "vdi", "vhdx", "vpc", "qed"] as const;

/** `volkit image convert --json`. */
export const ImageConvertOutputSchema = z.object({
  /** Source path. */
  source: z.string(),
  /** Source format (as given, or as qemu-img probed it). */
  sourceFormat: z.string(),
  /** Target path (created). */
  target: z.string(),
  /** Target format. */
  targetFormat: z.string(),
  /** Virtual size in bytes. */
  virtualSizeBytes: z.number().int(),
  /** Wall-clock duration. */
  durationMs: z.number(),
});

/** `volkit image copy --json`. */
export const ImageCopyOutputSchema = z.object({
  /** Source path. */
  source: z.string(),
  /** Target path. */
  target: z.string(),
  /** Bytes copied. */
  bytes: z.number().int(),
  /** Whether the command created the target (a sparse file). */
  created: z.boolean(),
  /** dd invocations. */
  chunks: z.number().int(),
  /** Wall-clock duration. */
  durationMs: z.number(),
  /** Average rate, bytes per second. */
  bytesPerSecond: z.number(),
});

function pathArg(ctx: CommandContext, value: unknown, what: string): ResultAsync<string, VolkitError> {
  const text = typeof value === "string" ? resolve(ctx.env.cwd, value) : "";
  const r = validate(FilePathSchema, text, what);
  return r.isOk() ? okAsync(r.value) : errAsync(r.error);
}

const fsCall = <T>(what: string, path: string, fn: () => Promise<T>): ResultAsync<T, VolkitError> =>
  ResultAsync.fromPromise(fn(), (e) => {
    const errno = (e as NodeJS.ErrnoException).code ?? "EIO";
    return new VolkitError(errno === "ENOENT" ? "NOT_FOUND" : "INTERNAL", `cannot ${what} ${path}: ${errno}`, { source: "cli", details: { path, errno } });
  });

/** Whether a path exists (never fails). */
function exists(path: string): ResultAsync<boolean, never> {
  return ResultAsync.fromSafePromise(stat(path).then(() => true, () => false));
}

/** Removes a file the command created; a file already gone is fine. */
export function removeCreated(path: string): ResultAsync<readonly string[], VolkitError> {
  return fsCall("remove", path, () => rm(path, { force: true })).map(() => [path]);
}

/** Size in bytes of a regular file or a block device. */
function sourceSize(fs: HostFs, path: string): ResultAsync<number, VolkitError> {
  return fsCall("stat", path, () => stat(path)).andThen((st) => {
    if (st.isFile()) return okAsync(st.size);
    if (st.isBlockDevice()) {
      return kernelNameOf(fs, path).andThen((name) =>
        name === undefined ? errAsync(new VolkitError("DEVICE_NOT_FOUND", `cannot find the kernel name of ${path}`, { source: "cli" })) : blockDeviceSize(fs, name),
      );
    }
    return errAsync(new VolkitError("INVALID_ARGUMENT", `${path} is neither a file nor a block device`, { source: "cli" }));
  });
}

/** Creates the target of a copy as a sparse file of `bytes` (it must not exist). */
function createSparse(path: string, bytes: number): ResultAsync<void, VolkitError> {
  return fsCall("create", path, async () => {
    const handle = await open(path, "wx", 0o600);
    await handle.close();
    await truncate(path, bytes);
  });
}

function convert(ctx: CommandContext, args: readonly unknown[], options: Readonly<Record<string, unknown>>) {
  const targetFormat = validate(z.enum(FORMATS), options.outputFormat, "-O/--output-format");
  const sourceFormat = options.format === undefined ? undefined : validate(z.enum(FORMATS), options.format, "-f/--format");
  if (targetFormat.isErr()) return errAsync(targetFormat.error);
  if (sourceFormat?.isErr()) return errAsync(sourceFormat.error);
  const srcFormat = sourceFormat?.isOk() ? sourceFormat.value : undefined;
  const outFormat = targetFormat.value;
  return ResultAsync.combine([pathArg(ctx, args[0], "source"), pathArg(ctx, args[1], "target")] as const).andThen(([source, target]) =>
    exists(target).andThen((taken) => {
      if (taken) return errAsync(new VolkitError("INVALID_ARGUMENT", `target ${target} exists; convert writes a new file (remove it first)`, { source: "cli", details: { target } }));
      return ctx.runner().andThen((runner) => {
        const qemu = new QemuImg(runner);
        const progress = ctx.progress("image");
        const op = createOperationContext({ operation: "imageConvert", source: "cli", signal: ctx.cancel.signal, events: progress.events });
        const started = performance.now();
        return qemu
          .info(source, op, srcFormat)
          .andThen((info) =>
            runWithRollback(
              () =>
                qemu
                  .convert({ source, sourceFormat: info.format, target, targetFormat: outFormat, bytesTotal: info.virtualSize }, op)
                  .map(() => ({
                    data: { source, sourceFormat: info.format, target, targetFormat: outFormat, virtualSizeBytes: info.virtualSize, durationMs: performance.now() - started },
                  })),
              () => removeCreated(target),
            ),
          )
          .andThen((r) => (progress.finish(), okAsync(r)))
          .orElse((e) => (progress.finish(), errAsync(e)));
      });
    }),
  );
}

function copy(ctx: CommandContext, args: readonly unknown[], options: Readonly<Record<string, unknown>>) {
  const size = (value: unknown, what: string): ResultAsync<number | undefined, VolkitError> => {
    if (value === undefined) return okAsync(undefined);
    const parsed = parseBytes(typeof value === "string" ? value : "", what);
    return parsed.isOk() ? okAsync(parsed.value) : errAsync(parsed.error);
  };
  const limit = size(options.bandwidthLimit, "--bandwidth-limit").map((n) => n ?? 0);
  const chunk = size(options.chunk, "--chunk");
  return ResultAsync.combine([pathArg(ctx, args[0], "source"), pathArg(ctx, args[1], "target"), limit, chunk] as const).andThen(([source, target, bandwidthLimitBps, chunkBytes]) =>
    ResultAsync.combine([sourceSize(ctx.env.hostFs, source), exists(target)] as const).andThen(([bytes, taken]) => {
      if (taken && options.overwrite !== true) {
        return errAsync(new VolkitError("INVALID_ARGUMENT", `target ${target} exists; pass --overwrite to write into it (a cancelled copy then leaves it partly written)`, { source: "cli", details: { target } }));
      }
      const created = !taken;
      return ctx.runner().andThen((runner) => {
        const progress = ctx.progress("image");
        const op = createOperationContext({ operation: "imageCopy", source: "cli", signal: ctx.cancel.signal, events: progress.events });
        const work = (): ResultAsync<{ data: z.output<typeof ImageCopyOutputSchema> }, VolkitError> =>
          (created ? createSparse(target, bytes) : okAsync(undefined))
            .andThen(() =>
              copyDevice(
                runner,
                {
                  source,
                  target,
                  bytes,
                  // A new sparse file reads as zeros: zero blocks need not be written.
                  sparse: created,
                  direct: options.direct !== false,
                  bandwidthLimitBps,
                  ...(chunkBytes === undefined ? {} : { chunkBytes }),
                },
                op,
              ),
            )
            .map((report) => ({
              data: { source, target, bytes: report.bytes, created, chunks: report.chunks, durationMs: report.durationMs, bytesPerSecond: report.durationMs > 0 ? (report.bytes * 1000) / report.durationMs : 0 },
            }));
        const undo = (): ResultAsync<readonly string[], VolkitError> => (created ? removeCreated(target) : okAsync([]));
        return runWithRollback(work, undo)
          .andThen((r) => (progress.finish(), okAsync(r)))
          .orElse((e) => (progress.finish(), errAsync(created ? e : new VolkitError(e.code, `${e.message}; ${target} existed before and was left partly written`, { cause: e, details: { ...e.details, partial: target } }))));
      });
    }),
  );
}

/** Registers `volkit image convert|copy`. */
export function registerImage(program: Command, run: CliRun): void {
  const image = group(program, "image", "disk images and raw copies on this host (progress bar, Ctrl-C rolls back)");
  leaf(image, run, {
    name: "convert <source> <target>",
    description: "convert a disk image with qemu-img into a new file; Ctrl-C stops it and removes the partial target",
    examples: ["image convert debian-12.qcow2 /var/lib/images/debian-12.raw -O raw", "image convert disk.raw disk.qcow2 -f raw -O qcow2 --json"],
    configure: (cmd) =>
      cmd
        .requiredOption("-O, --output-format <format>", `target format (${FORMATS.join(", ")})`)
        .option("-f, --format <format>", "source format (default: probed by qemu-img; give it for untrusted images)"),
    output: {
      schema: ImageConvertOutputSchema,
      human: (out, paint) =>
        fields(
          [
            ["converted", `${out.source} (${out.sourceFormat}) -> ${out.target} (${out.targetFormat})`],
            ["virtual size", formatBytes(out.virtualSizeBytes)],
            ["took", `${(out.durationMs / 1000).toFixed(1)} s`],
          ],
          paint,
        ),
    },
    run: convert,
  });
  leaf(image, run, {
    name: "copy <source> <target>",
    description: "copy a file or block device byte for byte (dd in chunks, O_DIRECT, optional bandwidth limit); Ctrl-C removes a target it created",
    examples: ["image copy /dev/vg0/vol-1 /var/backups/vol-1.raw --bandwidth-limit 100M", "image copy base.raw /dev/sdx --overwrite --no-direct"],
    configure: (cmd) =>
      cmd
        .option("--bandwidth-limit <rate>", "bytes per second at most (16M, 1G…); default unlimited")
        .option("--chunk <size>", "bytes per dd run (progress is reported per chunk); default 64M, or about one second under a limit")
        .option("--no-direct", "buffered I/O (for file systems that refuse O_DIRECT, or sizes not a multiple of 512)")
        .option("--overwrite", "write into an existing target (a device); it is not removed if the copy fails"),
    output: {
      schema: ImageCopyOutputSchema,
      human: (out, paint) =>
        fields(
          [
            ["copied", `${out.source} -> ${out.target}${out.created ? " (new sparse file)" : ""}`],
            ["bytes", `${formatBytes(out.bytes)} in ${out.chunks} chunks`],
            ["took", `${(out.durationMs / 1000).toFixed(1)} s (${formatBytes(out.bytesPerSecond)}/s)`],
          ],
          paint,
        ),
    },
    run: copy,
  });
}
