import { type ResultAsync, okAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import { HEALTH_NORMAL, RUNNING_STATUS } from "./ipsan-constants.js";
import { EthPortSchema, IscsiTargetPortSchema, type EthPortInfo, type IscsiTargetPortInfo } from "./ipsan-mapping-types.js";
import { ArrayIdSchema, RestApi, check } from "./ipsan-rest.js";

/** The default iSCSI TCP port (arrays report `ISCSITCPPORT` "0" for it). */
const ISCSI_DEFAULT_PORT = 3260;

/** One iSCSI portal of the array with the target IQN served there. */
export interface IscsiPortal {
  /** `ip:port`. */
  readonly portal: string;
  /** IPv4 address. */
  readonly ip: string;
  /** TCP port. */
  readonly port: number;
  /** Target IQN of this port. */
  readonly iqn: string;
  /** Ethernet port id. */
  readonly ethPortId: string;
  /** Healthy and link up. */
  readonly healthy: boolean;
}

/** Front-end ports: Ethernet ports, their iSCSI targets and the array's iSCSI name. */
export class PortApi extends RestApi {
  /** `GET /eth_port`: every Ethernet port. */
  ethPorts(ctx: OperationContext): ResultAsync<EthPortInfo[], VolkitError> {
    return this.many({ method: "GET", path: "/eth_port", kind: "port" }, EthPortSchema, "Ethernet port list", ctx);
  }

  /** `GET /eth_port/associate?TYPE=213&ASSOCIATEOBJTYPE=257&ASSOCIATEOBJID=<g>`: the ports of a port group. */
  ethPortsOfGroup(portGroupId: string, ctx: OperationContext): ResultAsync<EthPortInfo[], VolkitError> {
    return check(ArrayIdSchema, portGroupId, "port group id").andThen((gid) =>
      this.many({ method: "GET", path: `/eth_port/associate?TYPE=213&ASSOCIATEOBJTYPE=257&ASSOCIATEOBJID=${gid}`, kind: "portGroup" }, EthPortSchema, "Ethernet port list", ctx),
    );
  }

  /** `GET /iscsi_tgt_port`: the iSCSI target of every port (`<n>+<iqn>,t,<tpgt>`). */
  iscsiTargets(ctx: OperationContext): ResultAsync<IscsiTargetPortInfo[], VolkitError> {
    return this.many({ method: "GET", path: "/iscsi_tgt_port", kind: "port" }, IscsiTargetPortSchema, "iSCSI target port list", ctx);
  }

  /** `GET /iscsidevicename`: the array's iSCSI name prefix (`CMO_ISCSI_DEVICE_NAME`). */
  iscsiDeviceName(ctx: OperationContext): ResultAsync<string, VolkitError> {
    return this.one({ method: "GET", path: "/iscsidevicename", kind: "port" }, z.array(z.looseObject({ CMO_ISCSI_DEVICE_NAME: z.string() })).min(1), "iSCSI device name", ctx).map(
      (rows) => rows[0]?.CMO_ISCSI_DEVICE_NAME ?? "",
    );
  }

  /**
   * The iSCSI portals of the array (or of one port group): each Ethernet port with an IPv4
   * address joined with the target IQN `/iscsi_tgt_port` lists for that address. With
   * `healthyOnly` (default), only ports that are healthy and link up (`HEALTHSTATUS` 1,
   * `RUNNINGSTATUS` 10), the rule Cinder applies to port group members. The TCP port is
   * `ISCSITCPPORT` when the array reports one, else 3260.
   */
  portals(ctx: OperationContext, options: { portGroupId?: string; healthyOnly?: boolean } = {}): ResultAsync<IscsiPortal[], VolkitError> {
    const ports = options.portGroupId === undefined ? this.ethPorts(ctx) : this.ethPortsOfGroup(options.portGroupId, ctx);
    return ports.andThen((eth) =>
      this.iscsiTargets(ctx).andThen((targets) => {
        const byIp = new Map(targets.map((t) => [t.ip, t]));
        const portals: IscsiPortal[] = [];
        for (const p of eth) {
          const target = byIp.get(p.ipv4);
          if (p.ipv4 === "" || !target) continue;
          const healthy = p.healthStatus === HEALTH_NORMAL && p.runningStatus === RUNNING_STATUS.portLinkUp;
          if ((options.healthyOnly ?? true) && !healthy) continue;
          const tcp = Number(p.iscsiTcpPort);
          const port = Number.isInteger(tcp) && tcp > 0 && tcp < 65536 ? tcp : ISCSI_DEFAULT_PORT;
          portals.push({ portal: `${p.ipv4}:${port}`, ip: p.ipv4, port, iqn: target.iqn, ethPortId: p.id, healthy });
        }
        return okAsync(portals);
      }),
    );
  }
}
