import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CommandRunner } from "../../exec/runner.js";
import type { ListenerTls } from "./sim-server.js";

/**
 * A self-signed certificate for the simulator's HTTPS listeners, made with `openssl req -x509`
 * (through the command runner): an EC P-256 key, valid two days, for the loopback addresses the
 * listeners use. Clients trust it by taking the certificate file as their CA bundle.
 */
export async function makeSelfSignedCert(runner: CommandRunner, dir: string, hosts: readonly string[]): Promise<ListenerTls & { readonly certFile: string }> {
  const keyFile = join(dir, "tls-key.pem");
  const certFile = join(dir, "tls-cert.pem");
  const san = ["DNS:localhost", ...hosts.map((h) => (/^\d+(\.\d+){3}$/.test(h) ? `IP:${h}` : `DNS:${h}`))].join(",");
  const out = await runner.run({
    argv: [
      "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=volkit-array-simulator",
      "-addext", `subjectAltName=${san}`,
    ],
    timeoutMs: 30_000,
  });
  if (out.isErr()) throw out.error;
  return { key: await readFile(keyFile, "utf8"), cert: await readFile(certFile, "utf8"), certFile };
}
