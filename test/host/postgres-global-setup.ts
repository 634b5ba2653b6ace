import { execFile as execFileCb, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { freeLoopbackPort } from "../../src/testing/loopback-port.js";

/**
 * One private PostgreSQL server for the whole `host` project: Debian's `postgresql` binaries,
 * a cluster in a temp dir, listening on 127.0.0.1 at a free port with its socket in that dir,
 * started as the unprivileged `postgres` user when we are root (initdb refuses root). Tests get
 * `inject("postgres")` and create their own databases; the server is stopped and removed after.
 */

const execFile = promisify(execFileCb);

/** Where tests reach the server. */
export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    postgres: PostgresServer;
  }
}

/** The newest installed server's bin dir (`/usr/lib/postgresql/<major>/bin`). */
function serverBinDir(): string {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, "bin", "pg_ctl")) && existsSync(join(root, d, "bin", "initdb"))) : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined) {
    throw new Error("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql: install the Debian package postgresql (apt-get install postgresql, or bash scripts/host-prereqs.sh)");
  }
  return join(root, newest, "bin");
}


/** uid/gid to run the server as: the `postgres` user when we are root, else ourselves. */
function serverIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    throw new Error("running as root, but there is no postgres user to run the test server as: install the Debian package postgresql");
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const bin = serverBinDir();
  const who = serverIdentity();
  const dir = mkdtempSync(join(tmpdir(), "volkit-pg-"));
  const data = join(dir, "data");
  const socketDir = join(dir, "socket");
  mkdirSync(socketDir);
  if (who !== undefined) for (const p of [dir, socketDir]) chownSync(p, who.uid, who.gid);
  const options = { ...(who ?? {}), env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" }, cwd: dir };
  const port = await freeLoopbackPort();
  const user = "volkit";
  try {
    await execFile(join(bin, "initdb"), ["-D", data, "-U", user, "--auth=trust", "--no-locale", "--encoding=UTF8", "--no-sync"], options);
    // Private: loopback only, its own socket dir, no fsync (a test cluster), enough connections for the race workers.
    const serverOptions = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    await execFile(join(bin, "pg_ctl"), ["-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60", "-o", serverOptions, "start"], options);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const x = e as { stderr?: string; message?: string };
    throw new Error(`could not start the test PostgreSQL server: ${x.stderr ?? x.message ?? String(e)}`);
  }
  project.provide("postgres", { host: "127.0.0.1", port, user });
  return async () => {
    await execFile(join(bin, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "-t", "60", "stop"], options).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
}
