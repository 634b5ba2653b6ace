import { z } from "zod";
import { ArrayIntSchema } from "./ipsan-types.js";

/**
 * zod schemas of the host-side objects of the dialect: hosts, host/LUN/port groups, mapping
 * views, iSCSI initiators and the front-end ports that carry iSCSI.
 */

const ArrayStr = z.union([z.string(), z.number()]).transform(String);
const ArrayBool = z.union([z.boolean(), z.enum(["true", "false"])]).transform((v) => v === true || v === "true");
const optStr = ArrayStr.optional().transform((v) => v ?? "");

/** A host (type 21). */
export const HostSchema = z
  .looseObject({ ID: ArrayStr, NAME: z.string(), DESCRIPTION: optStr, OPERATIONSYSTEM: optStr, ISADD2HOSTGROUP: ArrayBool.optional(), HEALTHSTATUS: optStr })
  .transform((r) => ({
    id: r.ID,
    name: r.NAME,
    description: r.DESCRIPTION,
    operatingSystem: r.OPERATIONSYSTEM,
    inHostGroup: r.ISADD2HOSTGROUP ?? false,
  }));

/** A host. */
export type HostInfo = z.output<typeof HostSchema>;

/** A named group: host group (14), LUN group (256) or port group (257). */
export const GroupSchema = z
  .looseObject({ ID: ArrayStr, NAME: z.string(), DESCRIPTION: optStr, ISADD2MAPPINGVIEW: ArrayBool.optional() })
  .transform((r) => ({ id: r.ID, name: r.NAME, description: r.DESCRIPTION, inMappingView: r.ISADD2MAPPINGVIEW ?? false }));

/** A host, LUN or port group. */
export type GroupInfo = z.output<typeof GroupSchema>;

/** A mapping view (type 245). `AVAILABLEHOSTLUNIDLIST` is a JSON list in a string. */
export const MappingViewSchema = z
  .looseObject({ ID: ArrayStr, NAME: z.string(), DESCRIPTION: optStr, AVAILABLEHOSTLUNIDLIST: optStr })
  .transform((r) => ({ id: r.ID, name: r.NAME, description: r.DESCRIPTION, availableHostLunIds: r.AVAILABLEHOSTLUNIDLIST }));

/** A mapping view. */
export type MappingViewInfo = z.output<typeof MappingViewSchema>;

/** An iSCSI initiator (type 222); its `ID` is the IQN. */
export const IscsiInitiatorSchema = z
  .looseObject({
    ID: z.string(),
    ISFREE: ArrayBool.optional(),
    PARENTID: optStr,
    PARENTNAME: optStr,
    USECHAP: ArrayBool.optional(),
    CHAPNAME: optStr,
    MULTIPATHTYPE: optStr,
    RUNNINGSTATUS: optStr,
  })
  .transform((r) => ({
    iqn: r.ID,
    /** True when the initiator belongs to no host. */
    free: r.ISFREE ?? r.PARENTID === "",
    hostId: r.PARENTID,
    hostName: r.PARENTNAME,
    useChap: r.USECHAP ?? false,
    chapName: r.CHAPNAME,
    multipathType: r.MULTIPATHTYPE,
    runningStatus: r.RUNNINGSTATUS,
  }));

/** An iSCSI initiator. */
export type IscsiInitiatorInfo = z.output<typeof IscsiInitiatorSchema>;

/** An Ethernet front-end port (type 213). */
export const EthPortSchema = z
  .looseObject({
    ID: ArrayStr,
    NAME: optStr,
    LOCATION: optStr,
    IPV4ADDR: optStr,
    IPV6ADDR: optStr,
    HEALTHSTATUS: optStr,
    RUNNINGSTATUS: optStr,
    ISCSITCPPORT: optStr,
  })
  .transform((r) => ({
    id: r.ID,
    name: r.NAME,
    location: r.LOCATION,
    ipv4: r.IPV4ADDR,
    ipv6: r.IPV6ADDR,
    healthStatus: r.HEALTHSTATUS,
    runningStatus: r.RUNNINGSTATUS,
    /** The iSCSI TCP port ("0" or "" means the default 3260). */
    iscsiTcpPort: r.ISCSITCPPORT,
  }));

/** An Ethernet port. */
export type EthPortInfo = z.output<typeof EthPortSchema>;

/**
 * An iSCSI target port entry (type 249). Its `ID` packs the target: `<n>+<iqn>,t,<tpgt>`, and the
 * IQN ends with `:<ipv4>` of the port (what Cinder's `_get_tgt_iqn_from_rest` splits apart).
 */
export const IscsiTargetPortSchema = z
  .looseObject({ ID: z.string(), ETHPORTID: optStr, TPGT: optStr })
  .transform((r, ctx) => {
    const parsed = parseIscsiTargetPortId(r.ID);
    if (!parsed) {
      ctx.addIssue({ code: "custom", message: "iSCSI target port ID is not '<n>+<iqn>,t,<tpgt>'" });
      return z.NEVER;
    }
    return { id: r.ID, ethPortId: r.ETHPORTID, tpgt: r.TPGT, iqn: parsed.iqn, ip: parsed.ip };
  });

/** An iSCSI target of one port. */
export type IscsiTargetPortInfo = z.output<typeof IscsiTargetPortSchema>;

/** Splits `0+iqn.x:…::22004:192.0.2.1,t,0x2005` into the IQN and the port's IPv4 address. */
export function parseIscsiTargetPortId(id: string): { iqn: string; ip: string } | undefined {
  const head = id.split(",")[0] ?? "";
  const plus = head.indexOf("+");
  if (plus < 0) return undefined;
  const iqn = head.slice(plus + 1);
  const ip = /:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(iqn)?.[1];
  return iqn && ip ? { iqn, ip } : undefined;
}

/**
 * A LUN (or snapshot) associated with a host, as `GET /lun/associate?ASSOCIATEOBJTYPE=21` lists it:
 * the host LUN id is in `ASSOCIATEMETADATA`, a JSON object in a string (`{"HostLUNID":1}`).
 */
export const HostLunSchema = z
  .looseObject({ ID: ArrayStr, NAME: optStr, WWN: optStr, ASSOCIATEMETADATA: z.string() })
  .transform((r, ctx) => {
    let hostLunId: number | undefined;
    try {
      const meta: unknown = JSON.parse(r.ASSOCIATEMETADATA);
      const parsed = z.looseObject({ HostLUNID: ArrayIntSchema }).safeParse(meta);
      if (parsed.success) hostLunId = parsed.data.HostLUNID;
    } catch {
      // Reported below without quoting the text.
    }
    if (hostLunId === undefined) {
      ctx.addIssue({ code: "custom", message: "ASSOCIATEMETADATA has no HostLUNID" });
      return z.NEVER;
    }
    return { id: r.ID, name: r.NAME, wwn: r.WWN, hostLunId };
  });

/** A LUN as mapped to a host. */
export type HostLunInfo = z.output<typeof HostLunSchema>;
