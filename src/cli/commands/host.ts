import type { Command } from "commander";
import type { ConnectorConfigs } from "../../connectors/registry.js";
import { DEFAULT_MOUNT_POINT_BASE } from "../../remotefs/nfs-share.js";
import { group, leaf, type CliRun } from "../command-kit.js";
import { EXIT_CODES, EXIT_OK } from "../exit-codes.js";
import { fields, table } from "../output.js";
import { formatBytes } from "../units.js";
import { HostShowOutputSchema, readHostInventory, type HostShowOutput } from "./host-inventory.js";

function renderHost(out: HostShowOutput, paint: Parameters<typeof table>[2]): string {
  const protoRows = out.protocols.map((p) => {
    const props = p.properties;
    const detail = props
      ? [props.initiator && `initiator ${props.initiator}`, props.ip && `ip ${props.ip}`, `multipath ${props.multipath ? "yes" : "no"}`, props.platform && `platform ${props.platform}`].filter(Boolean).join(", ")
      : paint.paint("warn", `${p.error?.code ?? "?"}: ${p.error?.message ?? ""}`);
    return [p.protocol, detail];
  });
  const sessionRows = out.iscsiSessions.flatMap((s) =>
    s.luns.length === 0 ? [[String(s.id), s.portal, s.targetIqn, s.state, "", ""]] : s.luns.map((l) => [String(s.id), s.portal, s.targetIqn, s.state, String(l.lun), l.disk ?? ""]),
  );
  const mapRows = out.multipathMaps.map((m) => [m.name, m.dm, m.sizeBytes === null ? "?" : formatBytes(m.sizeBytes), m.paths.join(",")]);
  const mountRows = out.nfsMounts.map((m) => [m.mountPoint, m.share, m.fstype]);
  const rbdRows = out.rbdMappings.map((r) => [r.device, `${r.pool}/${r.namespace ? `${r.namespace}/` : ""}${r.image}${r.snapshot ? `@${r.snapshot}` : ""}`]);
  return [
    fields([["host", out.hostName]], paint),
    "",
    paint.paint("bold", "Connector properties"),
    table(["protocol", "properties"], protoRows, paint),
    "",
    paint.paint("bold", "iSCSI sessions"),
    table(["session", "portal", "target", "state", "lun", "disk"], sessionRows, paint),
    "",
    paint.paint("bold", "Multipath maps"),
    table(["map", "dm", "size", "paths"], mapRows, paint),
    "",
    paint.paint("bold", `NFS mounts under ${out.mountPointBase}`),
    table(["mount point", "share", "type"], mountRows, paint),
    "",
    paint.paint("bold", "RBD mappings"),
    table(["device", "image"], rbdRows, paint),
    ...(out.errors.length ? ["", paint.paint("warn", "Not read:"), ...out.errors.map((e) => `  ${e.section}: ${e.code}: ${e.message}`)] : []),
  ].join("\n");
}

/** Registers `volkit host` (and `host show`); returns the group so `host cleanup` can join it. */
export function registerHost(program: Command, run: CliRun): Command {
  const host = group(program, "host", "this host: connector properties, sessions, maps and mounts volkit owns");
  leaf(host, run, {
    name: "show",
    description: "show this host's connector properties, iSCSI sessions, multipath maps, NFS mounts and RBD mappings",
    examples: ["host show", "host show --json"],
    output: { schema: HostShowOutputSchema, human: renderHost },
    run: (ctx) =>
      ctx.config().andThen((loaded) => {
        const hostConfig = loaded.config.host;
        const connectors = hostConfig.connectors as ConnectorConfigs;
        const nfs = connectors.nfs as { readonly mount?: { readonly mountPointBase?: string } } | undefined;
        return ctx
          .runner()
          .andThen((runner) =>
            readHostInventory({
              runner,
              fs: ctx.env.hostFs,
              hostName: hostConfig.hostName,
              connectors,
              mountPointBase: nfs?.mount?.mountPointBase ?? DEFAULT_MOUNT_POINT_BASE,
              signal: ctx.cancel.signal,
            }),
          )
          .map((out) => {
            const failed = out.errors[0]?.code;
            return { data: out, exitCode: failed === undefined ? EXIT_OK : (EXIT_CODES as Record<string, number>)[failed] ?? EXIT_CODES.INTERNAL };
          });
      }),
  });
  return host;
}
