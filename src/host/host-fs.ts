import { constants } from "node:fs";
import { open, readFile, readdir, readlink, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, relative, sep } from "node:path";
import { ResultAsync, errAsync } from "neverthrow";
import { VolkitError } from "../core/errors.js";

/**
 * The host's kernel-facing files (`/sys`, `/dev`, `/etc`, `/proc`) behind an injectable root.
 *
 * Design choice: {@link createHostFs} uses `node:fs` directly, not the command runner. Connectors
 * run on the compute host that attaches the volume (as os-brick does), so reading sysfs through
 * `cat` processes — or over SSH — would only add latency to polling loops without enabling a real
 * use case. Commands still go through the injected runner; only these file reads and the sysfs
 * control writes (`scan`, `delete`, `rescan`) use this interface. A test points `root` at a
 * temporary tree (see `FakeHostTree`) and sees every write.
 */
export interface HostFs {
  /** The directory host paths are resolved under (`/` on a real host). */
  readonly root: string;
  /** Reads a text file. `DEVICE_NOT_FOUND` (details.errno `ENOENT`) when it does not exist. */
  readFile(path: string): ResultAsync<string, VolkitError>;
  /** Names in a directory, sorted. `DEVICE_NOT_FOUND` when the directory does not exist. */
  readdir(path: string): ResultAsync<string[], VolkitError>;
  /** The target of a symbolic link, as stored (usually relative, like sysfs links). */
  readlink(path: string): ResultAsync<string, VolkitError>;
  /** The host path (under `root`, returned without it) with every link resolved. */
  realpath(path: string): ResultAsync<string, VolkitError>;
  /** Whether the path exists (links followed). Never fails. */
  exists(path: string): ResultAsync<boolean, never>;
  /**
   * Writes `data` to an EXISTING file in one write, without creating it (sysfs control files:
   * `echo 1 > …/delete`). `DEVICE_NOT_FOUND` when the file is gone.
   */
  writeFile(path: string, data: string): ResultAsync<void, VolkitError>;
}

/** Options of {@link createHostFs}. */
export interface HostFsOptions {
  /** Directory standing for the host's `/` (default `/`). */
  readonly root?: string;
  /** Called after each successful {@link HostFs.writeFile} (test trees react to sysfs writes). */
  readonly onWrite?: (path: string, data: string) => void | Promise<void>;
}

/**
 * A {@link HostFs} on the local file system.
 *
 * @example
 * ```ts
 * const fs = createHostFs(); // the real host
 * const wwid = await fs.readFile("/sys/block/sdb/device/wwid");
 * ```
 */
export function createHostFs(options: HostFsOptions = {}): HostFs {
  const root = normalize(options.root ?? "/");
  const real = (p: string): string => hostPath(root, p);
  const wrap = <T>(path: string, op: string, fn: () => Promise<T>): ResultAsync<T, VolkitError> =>
    // The async wrapper turns a synchronous throw (a refused path) into an Err, never a throw.
    ResultAsync.fromPromise((async () => fn())(), (e) => fsError(e, op, path));
  return {
    root,
    readFile: (path) => wrap(path, "read", () => readFile(real(path), "utf8")),
    readdir: (path) => wrap(path, "list", async () => (await readdir(real(path))).sort()),
    readlink: (path) => wrap(path, "readlink", () => readlink(real(path))),
    realpath: (path) =>
      wrap(path, "realpath", async () => {
        const resolved = await realpath(real(path));
        const rel = relative(root, resolved);
        if (rel.startsWith("..") || isAbsolute(rel)) throw Object.assign(new Error(`${path} resolves outside ${root}`), { code: "EXDEV" });
        return `/${rel.split(sep).join("/")}`;
      }),
    exists: (path) => ResultAsync.fromSafePromise((async () => stat(real(path)))().then(() => true, () => false)),
    writeFile: (path, data) => {
      if (data.length === 0) return errAsync(new VolkitError("INVALID_ARGUMENT", `refusing an empty write to ${path}`, { source: "host" }));
      return wrap(path, "write", async () => {
        // O_WRONLY without O_CREAT: a vanished sysfs attribute must fail, not become a new file.
        const handle = await open(real(path), constants.O_WRONLY | constants.O_TRUNC);
        try {
          await handle.write(data);
        } finally {
          await handle.close();
        }
        await options.onWrite?.(path, data);
      });
    },
  };
}

/** Maps an absolute host path under `root`; refuses relative paths and `..` segments. */
export function hostPath(root: string, path: string): string {
  if (!path.startsWith("/") || path.split("/").includes("..") || path.includes("\0")) {
    throw new VolkitError("INVALID_ARGUMENT", `not an absolute host path: ${path}`, { source: "host" });
  }
  return root === "/" ? path : join(root, path);
}

/** True when `error` is a {@link HostFs} failure because the path does not exist. */
export function isNotFound(error: VolkitError): boolean {
  return error.details.errno === "ENOENT" || error.details.errno === "ENODEV" || error.details.errno === "ENXIO";
}

function fsError(cause: unknown, op: string, path: string): VolkitError {
  if (cause instanceof VolkitError) return cause;
  const errno = (cause as NodeJS.ErrnoException).code ?? "EIO";
  const missing = errno === "ENOENT" || errno === "ENODEV" || errno === "ENXIO";
  const message = cause instanceof Error ? cause.message : String(cause);
  return new VolkitError(missing ? "DEVICE_NOT_FOUND" : "INTERNAL", `cannot ${op} ${path}: ${errno}`, {
    source: "host",
    cause,
    details: { path, errno, op, reason: message },
  });
}
