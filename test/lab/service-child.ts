/**
 * The process the lab's crash test kills: a `VolumeService` on the lab's real backends and the
 * shared SQLite file, running one operation (`VOLKIT_CHILD_OP`: `{ method, args }`), that sends
 * itself SIGKILL the moment `VOLKIT_KILL_AT` happens:
 *
 * - `svc:<event type>[:<step>]`: a service event (`svc:volume.attach.progress:connection`);
 * - `op:<source>:<operation>`: the end of a backend's or connector's operation
 *   (`op:iscsi:connectVolume`: the host is logged in and has its map, the service has not recorded
 *   the device yet).
 *
 * It never reaches its end in a passing test: exit code 3 says the kill point was not reached.
 * The lab test bundles it (tsup) so each start costs node's start-up, not a TypeScript compile.
 */
import { createVolumeService, type VolumeServiceConfig } from "../../src/service/index.js";

const config = JSON.parse(process.env.VOLKIT_CHILD_CONFIG ?? "{}") as VolumeServiceConfig;
const op = JSON.parse(process.env.VOLKIT_CHILD_OP ?? "{}") as { method: string; args: unknown[] };
const killAt = process.env.VOLKIT_KILL_AT ?? "";

const opened = await createVolumeService({ ...config, reconcileOnOpen: false });
if (opened.isErr()) {
  console.error(`child: open failed: ${opened.error.code}: ${opened.error.message}`);
  process.exit(2);
}
const service = opened.value;
const die = (): void => void process.kill(process.pid, "SIGKILL");
service.events.on((e) => {
  if (`svc:${e.type}${e.phase === "progress" ? `:${e.step}` : ""}` === killAt) die();
});
service.operations.on((e) => {
  if (e.type === "operation:end" && e.ok && `op:${e.source}:${e.operation}` === killAt) die();
});
const method = (service as unknown as Record<string, (...a: unknown[]) => PromiseLike<{ isOk(): boolean; error?: { code: string; message: string } }>>)[op.method];
if (method === undefined) {
  console.error(`child: no method ${op.method}`);
  process.exit(2);
}
const r = await method.apply(service, op.args);
console.error(`child: ${op.method} ended without reaching ${killAt}: ${r.isOk() ? "ok" : `${r.error?.code ?? "?"}: ${r.error?.message ?? ""}`}`);
process.exit(3);
