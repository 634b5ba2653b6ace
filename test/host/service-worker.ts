/**
 * One volume-service process of service-postgres.host.test.ts: its own `VolumeService` on the
 * shared PostgreSQL store and the shared file backend (the example `FileVolumeDriver`: sparse files
 * in one directory, so every process sees the same volumes). It runs the service methods the test
 * sends, at the time it says, and can die by SIGKILL at a chosen service event
 * (`VOLKIT_KILL_AT=volume.create.progress:created`) or hang inside a chosen driver call.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ResultAsync, ok, okAsync, type Result } from "neverthrow";
import { z } from "zod";
import { FileVolumeDriver } from "../../examples/driver-author.js";
import { createHost } from "../../src/attach/host.js";
import type { OperationContext, OperationOptions } from "../../src/core/context.js";
import type { VolkitError } from "../../src/core/errors.js";
import { EventBus } from "../../src/core/events.js";
import { ConnectionInfoSchema, type AttachedDevice, type ConnectionInfoInput, type DisconnectReport, type HostProperties, type VolumeInput, type VolumeSpec } from "../../src/core/records.js";
import type { Connector } from "../../src/connectors/connector.js";
import { defineDriver } from "../../src/drivers/driver-definition.js";
import { createVolumeService, type VolumeService, type VolumeServiceConfig } from "../../src/service/index.js";

/** Messages from the test. */
export type ToWorker = { type: "call"; id: number; method: string; args: unknown[]; startAt?: number } | { type: "exit" };
/** Messages to the test. */
export type FromWorker =
  | { type: "ready"; worker: string; owner: string }
  | { type: "fatal"; worker: string; error: string }
  | { type: "result"; id: number; worker: string; ok: boolean; value?: unknown; code?: string; message?: string };

const worker = process.env.VOLKIT_WORKER ?? "?";
const hostName = process.env.VOLKIT_WORKER_HOST ?? "node-1";
const killAt = process.env.VOLKIT_KILL_AT;
const hangAfter = process.env.VOLKIT_HANG_AFTER;
const send = (m: FromWorker): void => void process.send?.(m);

/** The file driver, hanging after the chosen call's work when asked (an operation caught mid-way). */
class FileDriver extends FileVolumeDriver {
  override createVolume(spec: VolumeSpec, ctx: OperationContext): ResultAsync<VolumeInput, VolkitError> {
    return super.createVolume(spec, ctx).andThen((v) => (hangAfter === "createVolume" ? new ResultAsync<VolumeInput, VolkitError>(new Promise(() => undefined)) : okAsync(v)));
  }
}

/** This "host": attaches the file backend's volumes as files (what a VM's raw disk would open). */
class FileConnector implements Connector {
  readonly protocol = "local" as const;
  readonly events = new EventBus();
  getHostProperties(): ResultAsync<HostProperties, VolkitError> {
    return okAsync({ host: hostName, multipath: false });
  }
  connectVolume(info: ConnectionInfoInput, _o?: OperationOptions): ResultAsync<AttachedDevice, VolkitError> {
    const i = ConnectionInfoSchema.parse(info);
    return okAsync({ type: "file", path: i.type === "local" ? i.devicePath : "/nonexistent", format: "raw", paths: [] });
  }
  disconnectVolume(): ResultAsync<DisconnectReport, VolkitError> {
    return okAsync({ removed: [], leftBehind: [] });
  }
  extendVolume(): ResultAsync<number, VolkitError> {
    return okAsync(0);
  }
}

const fileDriver = defineDriver({
  name: "file-example",
  title: "Files (example driver)",
  description: "Sparse files in one directory",
  configSchema: z.object({ driver: z.literal("file-example"), backendName: z.string().optional(), directory: z.string(), capacityGiB: z.number() }),
  create: (c) => ok(new FileDriver({ directory: c.directory, capacityGiB: c.capacityGiB })),
});

const config = JSON.parse(process.env.VOLKIT_SERVICE_CONFIG ?? "{}") as VolumeServiceConfig;
const opened = await createVolumeService(config, { drivers: [fileDriver], host: createHost({ use: { local: new FileConnector() } }) });
if (opened.isErr()) {
  send({ type: "fatal", worker, error: `${opened.error.code}: ${opened.error.message}` });
  process.exit(1);
}
const service: VolumeService = opened.value;
service.events.on((e) => {
  if (killAt !== undefined && `${e.type}${e.phase === "progress" ? `:${e.step}` : ""}` === killAt) process.kill(process.pid, "SIGKILL");
});

process.on("message", (m: ToWorker) => {
  void (async () => {
    if (m.type === "exit") {
      const closed = await service.close();
      if (closed.isErr()) console.error(`worker ${worker}: close failed: ${closed.error.message}`);
      process.disconnect();
      return;
    }
    if (m.startAt !== undefined) {
      const early = m.startAt - Date.now() - 3;
      if (early > 0) await sleep(early);
      while (Date.now() < m.startAt) {
        /* spin: every racer fires within a millisecond */
      }
    }
    const method = (service as unknown as Record<string, (...a: unknown[]) => PromiseLike<Result<unknown, VolkitError>>>)[m.method];
    if (method === undefined) return send({ type: "result", id: m.id, worker, ok: false, code: "INVALID_ARGUMENT", message: `no method ${m.method}` });
    const r = await method.apply(service, m.args);
    send(r.isOk() ? { type: "result", id: m.id, worker, ok: true, value: JSON.parse(JSON.stringify(r.value ?? null)) as unknown } : { type: "result", id: m.id, worker, ok: false, code: r.error.code, message: r.error.message });
  })();
});

send({ type: "ready", worker, owner: service.owner });
