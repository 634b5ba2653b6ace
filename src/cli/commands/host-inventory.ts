import { hostname } from "node:os";
import { ResultAsync, okAsync } from "neverthrow";
import { z } from "zod";
import { createHost } from "../../attach/host.js";
import type { ConnectorConfigs } from "../../connectors/registry.js";
import { listIscsiSessions, sessionLuns } from "../../connectors/iscsi/iscsi-sysfs.js";
import type { VolkitError } from "../../core/errors.js";
import { HostPropertiesSchema, type Protocol } from "../../core/records.js";
import type { CommandRunner } from "../../exec/runner.js";
import { blockDeviceSize, dmSlaves, listDmDevices, orMissing } from "../../host/block-sysfs.js";
import type { HostFs } from "../../host/host-fs.js";
import { parseFindmnt } from "../../remotefs/remotefs-parsers.js";

/**
 * What `volkit host show` reads: this host's properties as each connector reports them, and what
 * the kernel holds for volumes (iSCSI sessions and their LUNs, multipath maps, NFS mounts under
 * volkit's mount point base, krbd mappings). Sessions, maps and mappings come from sysfs (no
 * iscsiadm, no multipath process); mounts from `findmnt -J` through the runner. A section that
 * cannot be read is reported in `errors` and the others are still shown.
 */

const ErrorEntrySchema = z.object({ code: z.string(), message: z.string() });

/** `volkit host show --json`. */
export const HostShowOutputSchema = z.object({
  /** This host's name as connectors report it. */
  hostName: z.string(),
  /** Per protocol: the properties a driver receives, or why the connector could not give them. */
  protocols: z.array(z.object({ protocol: z.enum(["iscsi", "nfs", "local"]), properties: HostPropertiesSchema.optional(), error: ErrorEntrySchema.optional() })),
  /** iSCSI sessions (sysfs), with their LUNs. */
  iscsiSessions: z.array(
    z.object({
      /** Session id (`session<N>`). */
      id: z.number().int(),
      /** Target IQN. */
      targetIqn: z.string(),
      /** `address:port` (`[v6]:port`). */
      portal: z.string(),
      /** `LOGGED_IN`, `FAILED`, `FREE`. */
      state: z.string(),
      /** SCSI host number. */
      scsiHost: z.number().int(),
      /** LUNs the kernel scanned, with their disk once bound. */
      luns: z.array(z.object({ lun: z.number().int(), hctl: z.string(), disk: z.string().optional() })),
    }),
  ),
  /** dm-multipath maps (dm uuid `mpath-…`). */
  multipathMaps: z.array(z.object({ name: z.string(), dm: z.string(), wwid: z.string(), sizeBytes: z.number().int().nullable(), paths: z.array(z.string()) })),
  /** Where volkit mounts NFS shares. */
  mountPointBase: z.string(),
  /** NFS mounts under the mount point base. */
  nfsMounts: z.array(z.object({ mountPoint: z.string(), share: z.string(), fstype: z.string(), options: z.string() })),
  /** Kernel RBD mappings (`/sys/bus/rbd/devices`). */
  rbdMappings: z.array(z.object({ id: z.string(), pool: z.string(), namespace: z.string().optional(), image: z.string(), snapshot: z.string().optional(), device: z.string() })),
  /** Sections that could not be read. */
  errors: z.array(ErrorEntrySchema.extend({ section: z.string() })),
});
/** `volkit host show --json`. */
export type HostShowOutput = z.output<typeof HostShowOutputSchema>;

/** Inputs of {@link readHostInventory}. */
export interface HostInventoryDeps {
  /** Runs findmnt and the connectors' commands. */
  readonly runner: CommandRunner;
  /** /sys of this host. */
  readonly fs: HostFs;
  /** Host name from the config. */
  readonly hostName?: string | undefined;
  /** Connector configs from the config. */
  readonly connectors: ConnectorConfigs;
  /** The NFS mount point base. */
  readonly mountPointBase: string;
  /** Ctrl-C. */
  readonly signal: AbortSignal;
}

type Section<T> = ResultAsync<{ value: T; error?: { section: string; code: string; message: string } }, never>;

function section<T>(name: string, read: ResultAsync<T, VolkitError>, empty: T): Section<T> {
  return read.map((value) => ({ value })).orElse((e) => okAsync({ value: empty, error: { section: name, code: e.code, message: e.message } }));
}

const PROTOCOLS = ["iscsi", "nfs", "local"] as const satisfies readonly Protocol[];

function protocols(deps: HostInventoryDeps): ResultAsync<HostShowOutput["protocols"], never> {
  const host = createHost({ connectors: deps.connectors, runner: deps.runner, hostFs: deps.fs, ...(deps.hostName === undefined ? {} : { hostName: deps.hostName }) });
  return ResultAsync.combine(
    PROTOCOLS.map((protocol) =>
      host
        .hostProperties(protocol, { signal: deps.signal })
        .map((properties) => ({ protocol, properties }))
        .orElse((e) => okAsync({ protocol, error: { code: e.code, message: e.message } })),
    ),
  );
}

function sessions(fs: HostFs): ResultAsync<HostShowOutput["iscsiSessions"], VolkitError> {
  return listIscsiSessions(fs).andThen((all) =>
    ResultAsync.combine(
      all.map((s) =>
        sessionLuns(fs, s).map((luns) => ({
          id: s.id,
          targetIqn: s.targetIqn,
          portal: s.address.includes(":") ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`,
          state: s.state,
          scsiHost: s.host,
          luns: luns.map((l) => ({ lun: l.lun, hctl: l.hctl, ...(l.disk === undefined ? {} : { disk: l.disk }) })),
        })),
      ),
    ),
  );
}

function multipathMaps(fs: HostFs): ResultAsync<HostShowOutput["multipathMaps"], VolkitError> {
  return listDmDevices(fs).andThen((maps) =>
    ResultAsync.combine(
      maps
        .filter((m) => m.uuid.startsWith("mpath-"))
        .map((m) =>
          ResultAsync.combine([orMissing(blockDeviceSize(fs, m.dm)), dmSlaves(fs, m.dm)] as const).map(([size, paths]) => ({
            name: m.name,
            dm: m.dm,
            wwid: m.uuid.slice("mpath-".length),
            sizeBytes: size ?? null,
            paths,
          })),
        ),
    ),
  );
}

function nfsMounts(deps: HostInventoryDeps): ResultAsync<HostShowOutput["nfsMounts"], VolkitError> {
  const base = deps.mountPointBase.replace(/\/+$/, "");
  return deps.runner
    .run({ argv: ["findmnt", "-J", "-l", "-k", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"], okExitCodes: [0, 1], env: { LC_ALL: "C" }, timeoutMs: 30_000, signal: deps.signal })
    .andThen((out) => parseFindmnt(out.stdout))
    .map((mounts) =>
      mounts.filter((m) => m.target.startsWith(`${base}/`) && m.fstype.startsWith("nfs")).map((m) => ({ mountPoint: m.target, share: m.source, fstype: m.fstype, options: m.options })),
    );
}

function rbdMappings(fs: HostFs): ResultAsync<HostShowOutput["rbdMappings"], VolkitError> {
  const base = "/sys/bus/rbd/devices";
  const attr = (id: string, name: string): ResultAsync<string | undefined, VolkitError> => orMissing(fs.readFile(`${base}/${id}/${name}`)).map((v) => v?.trim());
  return orMissing(fs.readdir(base)).andThen((ids) =>
    ResultAsync.combine(
      (ids ?? [])
        .filter((id) => /^\d+$/.test(id))
        .map((id) =>
          ResultAsync.combine([attr(id, "pool"), attr(id, "pool_ns"), attr(id, "name"), attr(id, "current_snap")] as const).map(([pool, ns, image, snap]) => ({
            id,
            pool: pool ?? "",
            ...(ns ? { namespace: ns } : {}),
            image: image ?? "",
            ...(snap && snap !== "-" ? { snapshot: snap } : {}),
            device: `/dev/rbd${id}`,
          })),
        ),
    ),
  );
}

/** Reads everything `host show` prints. */
export function readHostInventory(deps: HostInventoryDeps): ResultAsync<HostShowOutput, never> {
  return ResultAsync.combine([
    protocols(deps),
    section("iscsiSessions", sessions(deps.fs), []),
    section("multipathMaps", multipathMaps(deps.fs), []),
    section("nfsMounts", nfsMounts(deps), []),
    section("rbdMappings", rbdMappings(deps.fs), []),
  ] as const).map(([protos, iscsi, maps, mounts, rbd]) => ({
    hostName: protos.find((p) => p.properties !== undefined)?.properties?.host ?? deps.hostName ?? hostname(),
    protocols: protos,
    iscsiSessions: iscsi.value,
    multipathMaps: maps.value,
    mountPointBase: deps.mountPointBase,
    nfsMounts: mounts.value,
    rbdMappings: rbd.value,
    errors: [iscsi.error, maps.error, mounts.error, rbd.error].filter((e): e is NonNullable<typeof e> => e !== undefined),
  }));
}
