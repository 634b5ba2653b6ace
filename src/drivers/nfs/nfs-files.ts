import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { QemuImg } from "../../data/qemu-img.js";
import type { Argv, CommandOutput, CommandRunner } from "../../exec/runner.js";
import { runBounded } from "../../remotefs/bounded-run.js";
import { isStaleHandle } from "../../remotefs/remotefs-parsers.js";
import { tempFileName } from "./nfs-names.js";
import { isImageLocked, parseDu, parseNameList, parseVolumeImage, type ImageExpectations, type VolumeFormat, type VolumeImage } from "./nfs-parsers.js";

/** Options of {@link ShareFiles}. */
export interface ShareFilesOptions {
  /** Bound on short commands (the child is killed past it). */
  readonly timeoutMs: number;
  /** Mode of every file created (`0660` secure, `0666` otherwise). */
  readonly fileMode: "0660" | "0666";
}

const LC = { LC_ALL: "C" } as const;

/**
 * File work on mounted shares, all through the injected runner (so it runs unprivileged, through
 * a root helper or over SSH alike). Short commands are bounded by `timeoutMs`, so a share that
 * stops answering yields a typed error instead of a hang; long ones (`qemu-img convert`, `commit`,
 * full preallocation) run under the operation's signal and deadline.
 */
export class ShareFiles {
  /** qemu-img wrapper on the same runner, for the long operations. */
  readonly qemu: QemuImg;

  /** @param runner - runs the file commands; @param options - bounds and file mode. */
  constructor(
    private readonly runner: CommandRunner,
    private readonly options: ShareFilesOptions,
  ) {
    this.qemu = new QemuImg(runner);
  }

  /** Mode given to new files. */
  get fileMode(): string {
    return this.options.fileMode;
  }

  /** Runs a short, bounded command. */
  run(argv: Argv, ctx: OperationContext, extra: { okExitCodes?: readonly number[]; stdin?: string } = {}): ResultAsync<CommandOutput, VolkitError> {
    return runBounded(this.runner, { argv, env: LC, ...extra }, ctx, this.options.timeoutMs).mapErr(staleToUnavailable);
  }

  /** True when `path` exists. */
  exists(path: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return this.run(["test", "-e", path], ctx, { okExitCodes: [0, 1] }).map((o) => o.exitCode === 0);
  }

  /** True when the runner's user may create files in `dir`. */
  writable(dir: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return this.run(["test", "-w", dir], ctx, { okExitCodes: [0, 1] }).map((o) => o.exitCode === 0);
  }

  /** The text of `path`, or undefined when it does not exist. */
  readText(path: string, ctx: OperationContext): ResultAsync<string | undefined, VolkitError> {
    return this.run(["cat", "--", path], ctx, { okExitCodes: [0, 1] }).andThen((o) => {
      if (o.exitCode === 0) return okAsync(o.stdout);
      return /No such file/.test(o.stderr) ? okAsync(undefined) : errAsync(new VolkitError("COMMAND_FAILED", `cannot read ${path}: ${o.stderr.trim()}`, { source: "nfs" }));
    });
  }

  /** Writes `text` to a temporary (fsynced, mode set), then renames it over `path` atomically. */
  writeAtomic(path: string, text: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const tmp = tempFileName(path, "write");
    return this.run(["dd", `of=${tmp}`, "conv=fsync", "status=none"], ctx, { stdin: text })
      .andThen(() => this.chmod(tmp, ctx))
      .andThen(() => this.rename(tmp, path, ctx));
  }

  /** Names of the files directly in `dir` matching one of the `find -name` patterns. */
  list(dir: string, patterns: readonly string[], ctx: OperationContext): ResultAsync<string[], VolkitError> {
    const names = patterns.flatMap((p, i) => (i === 0 ? ["-name", p] : ["-o", "-name", p]));
    return this.run(["find", dir, "-mindepth", "1", "-maxdepth", "1", "-type", "f", "(", ...names, ")", "-printf", "%f\\n"], ctx).map((o) => parseNameList(o.stdout));
  }

  /** `rm -f` (missing files are fine). */
  remove(paths: readonly string[], ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (paths.length === 0) return okAsync(undefined);
    return this.run(["rm", "-f", "--", ...paths] as unknown as Argv, ctx).map(() => undefined);
  }

  /** Atomic rename within a share. */
  rename(from: string, to: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.run(["mv", "-f", "-T", "--", from, to], ctx).map(() => undefined);
  }

  /** Sets the configured file mode. */
  chmod(path: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.run(["chmod", this.options.fileMode, "--", path], ctx).map(() => undefined);
  }

  /** Creates (or resizes) a sparse file of `bytes`. */
  truncate(path: string, bytes: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.run(["truncate", "-s", String(bytes), "--", path], ctx).map(() => undefined);
  }

  /** Cinder's allocated bytes of a share: apparent sizes of everything but `*snapshot*`. */
  allocatedBytes(dir: string, ctx: OperationContext): ResultAsync<number, VolkitError> {
    return this.run(["du", "-sb", "--apparent-size", "--exclude=*snapshot*", dir], ctx).andThen((o) => parseDu(o.stdout));
  }

  /**
   * `qemu-img info -U` (works while a VM has the image open) of a volume image, validated by
   * `parseVolumeImage`. `format` is passed when known; only a base image is ever probed.
   */
  imageInfo(path: string, format: VolumeFormat | undefined, expect: ImageExpectations, ctx: OperationContext): ResultAsync<VolumeImage, VolkitError> {
    const argv: Argv = ["qemu-img", "info", "--output=json", "-U", ...(format ? ["-f", format] : []), path];
    return this.run(argv, ctx).andThen((o) => parseVolumeImage(o.stdout, expect));
  }

  /** `qemu-img resize`, preallocating the new tail when asked. */
  resize(path: string, format: VolumeFormat, bytes: number, preallocation: "off" | "metadata" | "full", ctx: OperationContext): ResultAsync<void, VolkitError> {
    const prealloc = preallocation === "off" ? [] : [`--preallocation=${preallocation}`];
    return this.runner
      .run({ argv: ["qemu-img", "resize", "-q", "-f", format, ...prealloc, path, String(bytes)], env: LC, signal: ctx.signal })
      .map(() => undefined)
      .mapErr(qemuError);
  }
}

/** A stale handle seen by a file command: the share needs the mount manager's repair. */
function staleToUnavailable(e: VolkitError): VolkitError {
  if (e.code === "COMMAND_FAILED" && isStaleHandle(String(e.details.stderr ?? ""))) {
    return new VolkitError("BACKEND_UNAVAILABLE", `stale NFS file handle: ${e.message}`, { source: "nfs", transient: true, cause: e, details: { ...e.details, stale: true } });
  }
  return e;
}

/** qemu-img failures: an image locked by a running VM is `VOLUME_BUSY`. */
export function qemuError(e: VolkitError): VolkitError {
  const stderr = String(e.details.stderr ?? "");
  if (e.code === "COMMAND_FAILED" && isImageLocked(stderr)) {
    return new VolkitError("VOLUME_BUSY", `image is in use by another process (a running VM?): ${e.message}`, { source: "nfs", cause: e, details: e.details });
  }
  return staleToUnavailable(e);
}
