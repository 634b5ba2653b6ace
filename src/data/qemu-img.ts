import { type ResultAsync, err, errAsync, ok, type Result } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type { CommandRunner } from "../exec/runner.js";

/** What `qemu-img info --output=json` says about an image. */
export interface ImageInfo {
  /** Image format (`raw`, `qcow2`…). */
  readonly format: string;
  /** Virtual size in bytes. */
  readonly virtualSize: number;
  /** Allocated bytes on the host, when reported. */
  readonly actualSize?: number;
  /** Backing file as recorded in the image (may be relative). */
  readonly backingFilename?: string;
  /** Backing file format. */
  readonly backingFormat?: string;
  /** Cluster size (qcow2). */
  readonly clusterSize?: number;
}

/**
 * Parses `qemu-img info --output=json` (one image, not `--backing-chain`, whose array output is a
 * `PARSE_ERROR`).
 *
 * @example
 * ```ts
 * const info = parseImageInfo(out.stdout); // ok({ format: "qcow2", virtualSize: 67108864, clusterSize: 65536, … })
 * ```
 */
export function parseImageInfo(stdout: string): Result<ImageInfo, VolkitError> {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch (e) {
    return err(new VolkitError("PARSE_ERROR", "qemu-img info did not print JSON", { source: "qemu-img", cause: e }));
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return err(new VolkitError("PARSE_ERROR", "qemu-img info JSON is not one image object (was --backing-chain used?)", { source: "qemu-img" }));
  }
  const o = raw as Record<string, unknown>;
  const size = o["virtual-size"];
  if (typeof o.format !== "string" || typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    return err(new VolkitError("PARSE_ERROR", "qemu-img info JSON lacks format or a valid virtual-size", { source: "qemu-img" }));
  }
  return ok({
    format: o.format,
    virtualSize: size,
    ...(typeof o["actual-size"] === "number" ? { actualSize: o["actual-size"] } : {}),
    ...(typeof o["backing-filename"] === "string" ? { backingFilename: o["backing-filename"] } : {}),
    ...(typeof o["backing-filename-format"] === "string" ? { backingFormat: o["backing-filename-format"] } : {}),
    ...(typeof o["cluster-size"] === "number" ? { clusterSize: o["cluster-size"] } : {}),
  });
}

/**
 * Parses the progress reports of `qemu-img convert -p` (`    (45.00/100%)\r`) and returns the
 * last one in `chunk` as a fraction, or undefined when `chunk` holds no complete report.
 *
 * @example
 * ```ts
 * parseConvertProgress("    (12.50/100%)\r    (25.00/100%)\r"); // 0.25
 * ```
 */
export function parseConvertProgress(chunk: string): number | undefined {
  const matches = [...chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)];
  const last = matches.at(-1)?.[1];
  return last === undefined ? undefined : Number(last) / 100;
}

/** Paths reach qemu-img as positional arguments: one starting with `-` would be read as an option. */
function badSize(sizeBytes: number): ResultAsync<never, VolkitError> | undefined {
  return Number.isSafeInteger(sizeBytes) && sizeBytes > 0
    ? undefined
    : errAsync(new VolkitError("INVALID_ARGUMENT", `image size must be a positive integer of bytes, got ${sizeBytes}`, { source: "qemu-img" }));
}

function badPath(...paths: string[]): ResultAsync<never, VolkitError> | undefined {
  const bad = paths.find((p) => p === "" || p.startsWith("-"));
  return bad === undefined ? undefined : errAsync(new VolkitError("INVALID_ARGUMENT", `unsafe image path '${bad}' (empty or starts with '-')`, { source: "qemu-img" }));
}

/** Options of {@link QemuImg.convert}. */
export interface ConvertRequest {
  /** Source path or URL. */
  readonly source: string;
  /** Source format; probed by qemu-img when absent (never for untrusted images). */
  readonly sourceFormat?: string;
  /** Target path. */
  readonly target: string;
  /** Target format. */
  readonly targetFormat: string;
  /** Target exists already (a device or pre-created file): do not create it (`-n`). */
  readonly targetIsDevice?: boolean;
  /** Cache mode for the target (`none` = O_DIRECT; default `none` for devices). */
  readonly targetCache?: "none" | "writeback" | "unsafe";
  /** Target options (`-o`), e.g. `{ preallocation: "metadata" }`. */
  readonly targetOptions?: Readonly<Record<string, string>>;
  /** Expected source size in bytes, for progress events. */
  readonly bytesTotal?: number;
}

/** Options of {@link QemuImg.create}. */
export interface CreateImageRequest {
  /** File to create. */
  readonly path: string;
  /** Format. */
  readonly format: "raw" | "qcow2";
  /** Virtual size in bytes. */
  readonly sizeBytes: number;
  /** Backing file (qcow2 overlays); stored as given, so pass a relative path for portability. */
  readonly backingFile?: string;
  /** Backing file format. */
  readonly backingFormat?: string;
  /** Preallocation mode (`off`, `metadata`, `falloc`, `full`). */
  readonly preallocation?: "off" | "metadata" | "falloc" | "full";
}

const OPTION_VALUE = /^[A-Za-z0-9_.:/+-]+$/;

/**
 * A thin typed wrapper around `qemu-img` through the runner. Formats are always passed
 * explicitly where known, so a raw image that looks like qcow2 is never misread.
 */
export class QemuImg {
  /** @param runner - runner that has `qemu-img` on its PATH. */
  constructor(private readonly runner: CommandRunner) {}

  /** `qemu-img info --output=json`. */
  info(path: string, ctx: OperationContext, format?: string): ResultAsync<ImageInfo, VolkitError> {
    const bad = badPath(path);
    if (bad) return bad;
    const argv = ["qemu-img", "info", "--output=json", ...(format ? ["-f", format] : []), path] as const;
    return this.runner
      .run({ argv, signal: ctx.signal, env: { LC_ALL: "C" } })
      .andThen((out) => parseImageInfo(out.stdout));
  }

  /** `qemu-img create`. */
  create(req: CreateImageRequest, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const badTarget = badPath(req.path) ?? badSize(req.sizeBytes);
    if (badTarget) return badTarget;
    const opts: string[] = [];
    if (req.backingFile !== undefined) opts.push(`backing_file=${req.backingFile}`);
    if (req.backingFormat !== undefined) opts.push(`backing_fmt=${req.backingFormat}`);
    if (req.preallocation !== undefined) opts.push(`preallocation=${req.preallocation}`);
    const bad = opts.find((o) => !OPTION_VALUE.test(o.split("=")[1] ?? "") || o.includes(","));
    if (bad) return errAsync(new VolkitError("INVALID_ARGUMENT", `unsafe qemu-img option ${bad}`, { source: "qemu-img" }));
    const argv = ["qemu-img", "create", "-q", "-f", req.format, ...(opts.length ? ["-o", opts.join(",")] : []), req.path, String(req.sizeBytes)] as const;
    return this.runner.run({ argv, signal: ctx.signal }).map(() => undefined);
  }

  /** `qemu-img resize` (grow only; `--shrink` is never passed). */
  resize(path: string, sizeBytes: number, format: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const bad = badPath(path) ?? badSize(sizeBytes);
    if (bad) return bad;
    return this.runner.run({ argv: ["qemu-img", "resize", "-q", "-f", format, path, String(sizeBytes)], signal: ctx.signal }).map(() => undefined);
  }

  /** `qemu-img convert -p`, reporting progress through `ctx.progress`. */
  convert(req: ConvertRequest, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const badPaths = badPath(req.source, req.target);
    if (badPaths) return badPaths;
    const opts = Object.entries(req.targetOptions ?? {}).map(([k, v]) => `${k}=${v}`);
    const bad = opts.find((o) => !/^[a-z_]+=[A-Za-z0-9_.:/+-]+$/.test(o));
    if (bad) return errAsync(new VolkitError("INVALID_ARGUMENT", `unsafe qemu-img option ${bad}`, { source: "qemu-img" }));
    const cache = req.targetCache ?? (req.targetIsDevice ? "none" : undefined);
    const argv = [
      "qemu-img",
      "convert",
      "-p",
      ...(req.sourceFormat ? ["-f", req.sourceFormat] : []),
      "-O",
      req.targetFormat,
      ...(cache ? ["-t", cache] : []),
      ...(req.targetIsDevice ? ["-n"] : []),
      ...(opts.length ? ["-o", opts.join(",")] : []),
      req.source,
      req.target,
    ] as const;
    const total = req.bytesTotal;
    // A report can be split across two stdout chunks: keep the text after the last `\r`.
    let pending = "";
    return this.runner
      .run({
        argv,
        signal: ctx.signal,
        env: { LC_ALL: "C" },
        onStdout: (chunk) => {
          pending += chunk;
          const end = pending.lastIndexOf("\r");
          if (end === -1) return;
          const fraction = parseConvertProgress(pending.slice(0, end));
          pending = pending.slice(end + 1);
          if (fraction !== undefined) ctx.progress("convert", total === undefined ? Math.round(fraction * 100) : Math.round(fraction * total), total ?? 100);
        },
      })
      .map(() => undefined);
  }

  /** `qemu-img commit` an overlay into its backing file. */
  commit(path: string, format: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const bad = badPath(path);
    if (bad) return bad;
    return this.runner.run({ argv: ["qemu-img", "commit", "-q", "-f", format, path], signal: ctx.signal }).map(() => undefined);
  }

  /** `qemu-img rebase` (`unsafe` only rewrites the header: use it when the data is identical). */
  rebase(path: string, backingFile: string, backingFormat: string, unsafe: boolean, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const bad = badPath(path);
    if (bad) return bad;
    const argv = ["qemu-img", "rebase", "-q", "-f", "qcow2", ...(unsafe ? ["-u"] : []), "-b", backingFile, "-F", backingFormat, path] as const;
    return this.runner.run({ argv, signal: ctx.signal }).map(() => undefined);
  }
}

