import { closeSync, mkdtempSync, openSync, readSync, rmSync, truncateSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ResultAsync, errAsync, ok, okAsync } from "neverthrow";
import { z } from "zod";
import { afterAll } from "vitest";
import { createHost } from "../../../src/attach/host.js";
import { EventBus } from "../../../src/core/events.js";
import { VolkitError } from "../../../src/core/errors.js";
import type { AttachedDevice, ConnectionInfoInput, DisconnectReport, HostProperties } from "../../../src/core/records.js";
import type { Connector } from "../../../src/connectors/connector.js";
import { defineDriver } from "../../../src/drivers/driver-definition.js";
import { createVolumeService, type RepositoryOpener, type ServiceBackupRepositoryConfig, type ServiceEvent, type ServiceStore, type VolumeService, type VolumeServiceConfig } from "../../../src/service/index.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";
import { GiB } from "./service-harness.js";

/** Temp directories the worlds of this test file made, removed after the file's tests. */
const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Bytes of a memory volume the tests write and read back (the rest reads as zeros). */
export const SPAN = 4 * 1024 * 1024;

/**
 * This host's `local` connector for the memory driver, with real files: connecting a volume
 * writes its bytes into a sparse 1 GiB file (the device the backup engine reads and the restore
 * writes); disconnecting writes the file's bytes back into the memory volume.
 */
export class MaterializingConnector implements Connector {
  readonly protocol = "local" as const;
  readonly events = new EventBus();
  readonly dir = tempDir("volkit-svc-backup-");
  /** Volume ids attached now. */
  readonly attached = new Set<string>();
  constructor(readonly driver: MemoryVolumeDriver) {}

  getHostProperties(): ResultAsync<HostProperties, VolkitError> {
    return okAsync({ host: "node-1", multipath: false });
  }

  connectVolume(info: ConnectionInfoInput): ResultAsync<AttachedDevice, VolkitError> {
    if (info.type !== "local") return errAsync(new VolkitError("INVALID_ARGUMENT", "not local", { source: "unit" }));
    const path = join(this.dir, info.volumeId);
    return ResultAsync.fromSafePromise(this.driver.io.read({ id: info.volumeId, sizeGiB: 1 }, SPAN)).map((data) => {
      const fd = openSync(path, "w");
      writeSync(fd, data, 0, data.length, 0);
      closeSync(fd);
      truncateSync(path, GiB);
      this.attached.add(info.volumeId);
      return { type: "file" as const, path, paths: [], format: "raw" as const };
    });
  }

  disconnectVolume(info: ConnectionInfoInput): ResultAsync<DisconnectReport, VolkitError> {
    if (info.type !== "local") return errAsync(new VolkitError("INVALID_ARGUMENT", "not local", { source: "unit" }));
    const path = join(this.dir, info.volumeId);
    if (!this.attached.delete(info.volumeId)) return okAsync({ removed: [], leftBehind: [] });
    const fd = openSync(path, "r");
    const data = Buffer.alloc(SPAN);
    readSync(fd, data, 0, SPAN, 0);
    closeSync(fd);
    rmSync(path);
    return ResultAsync.fromSafePromise(this.driver.io.write({ id: info.volumeId, sizeGiB: 1 }, data)).map(() => ({ removed: [`file ${info.volumeId}`], leftBehind: [] }));
  }

  extendVolume(): ResultAsync<number, VolkitError> {
    return okAsync(0);
  }
}

/** Options of {@link backupWorld}. */
export interface BackupWorldOptions {
  readonly latencyMs?: number;
  readonly repoDir?: string;
  readonly repositories?: readonly ServiceBackupRepositoryConfig[];
  /** A store the test opened (shared by every instance `open()` makes); default a memory store per service. */
  readonly store?: ServiceStore;
  /** How instances open repositories (a fault injected after N objects). */
  readonly openRepository?: RepositoryOpener;
}

/** A service on one memory backend, the materializing connector and a directory repository; `open()` makes further instances on the same parts. */
export async function backupWorld(options: BackupWorldOptions = {}) {
  const driver = new MemoryVolumeDriver({ capacityGiB: 100, ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }) });
  const connector = new MaterializingConnector(driver);
  const repoDir = options.repoDir ?? tempDir("volkit-svc-repo-");
  const definition = defineDriver({
    name: "memory",
    title: "Memory (test)",
    description: "In-memory volumes for the service backup tests",
    configSchema: z.object({ driver: z.literal("memory") }),
    create: () => ok(driver),
  });
  const events: ServiceEvent[] = [];
  const host = createHost({ use: { local: connector } });
  const open = async (overrides: Partial<VolumeServiceConfig> = {}): Promise<VolumeService> => {
    const opened = (
      await createVolumeService(
        {
          backends: [{ name: "mem", config: { driver: "memory" } }],
          store: { kind: "memory" },
          host: { hostName: "node-1" },
          statsIntervalMs: 3_600_000,
          backupRepositories: options.repositories === undefined ? [{ name: "local", type: "directory", default: true, options: { directory: repoDir, fsync: "off" } }] : [...options.repositories],
          ...overrides,
        },
        {
          host,
          drivers: [definition],
          ...(options.store === undefined ? {} : { store: options.store }),
          ...(options.openRepository === undefined ? {} : { openRepository: options.openRepository }),
        },
      )
    )._unsafeUnwrap();
    opened.events.on((e) => events.push(e));
    return opened;
  };
  const service = await open();
  return { driver, connector, repoDir, service, events, open };
}
