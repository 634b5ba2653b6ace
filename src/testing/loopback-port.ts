import { createServer } from "node:net";

/**
 * Free TCP ports for test daemons (tgtd, sshd, Ceph, PostgreSQL, the array simulator): tests never
 * use fixed ports, because other suites run on the same machine at the same time.
 */

/** Listens on `port` (0: the kernel picks) at `host` and closes again; the port, or undefined when taken. */
function probe(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === "object" && address !== null ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A TCP port that was free a moment ago on every one of `hosts` (default 127.0.0.1): the kernel
 * picks it on the first host, the others are checked (two portals, 127.0.0.1 and 127.0.0.2, must
 * share a port). Rejects after 20 tries without a common free port.
 *
 * @example
 * ```ts
 * const port = await freeLoopbackPort(["127.0.0.1", "127.0.0.2"]);
 * ```
 */
export async function freeLoopbackPort(hosts: readonly string[] = ["127.0.0.1"]): Promise<number> {
  const [first = "127.0.0.1", ...others] = hosts;
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await probe(first, 0);
    if (port === undefined) continue;
    const elsewhere = await Promise.all(others.map((h) => probe(h, port)));
    if (elsewhere.every((p) => p !== undefined)) return port;
  }
  throw new Error(`no TCP port free on every one of ${hosts.join(", ")}`);
}
