import { statSync } from "node:fs";
import { RUNNING_STATUS } from "../../drivers/ipsan/ipsan-constants.js";
import { groupsOfMember, type SimEthPort, type SimGroup, type SimHost, type SimInitiator, type SimLun, type SimPool, type SimQos, type SimSnapshot, type SimStateData, type SimView } from "./sim-state.js";

/**
 * Renders simulator records as the array sends them: upper-case field names, numbers and booleans
 * as strings, `TYPE` as a number (as in the answers Cinder's unit tests replay).
 */

/** One rendered object. */
export type Rendered = Record<string, string | number>;

const bool = (b: boolean): string => (b ? "true" : "false");

/** Sectors a file really occupies (thin LUNs count what was written). */
export function allocatedSectors(file: string): number {
  try {
    return statSync(file).blocks;
  } catch {
    return 0;
  }
}

/** Sectors a pool has given away: thick LUNs in full, thin LUNs and snapshots as allocated. */
export function consumedSectors(state: SimStateData, poolId: string): number {
  let used = 0;
  for (const lun of state.luns) {
    if (lun.poolId !== poolId) continue;
    used += lun.allocType === 0 ? lun.capacitySectors : allocatedSectors(lun.file);
  }
  for (const snap of state.snapshots) {
    const lun = state.luns.find((l) => l.id === snap.lunId);
    if (lun?.poolId === poolId) used += allocatedSectors(snap.file);
  }
  return used;
}

/** A pool. */
export function renderPool(state: SimStateData, pool: SimPool): Rendered {
  const used = Math.min(pool.totalSectors, consumedSectors(state, pool.id));
  return {
    TYPE: 216,
    ID: pool.id,
    NAME: pool.name,
    USAGETYPE: "1",
    HEALTHSTATUS: "1",
    RUNNINGSTATUS: "27",
    USERTOTALCAPACITY: String(pool.totalSectors),
    USERFREECAPACITY: String(pool.totalSectors - used),
    USERCONSUMEDCAPACITY: String(used),
    TIER0CAPACITY: "0",
    TIER1CAPACITY: String(pool.totalSectors),
    TIER2CAPACITY: "0",
  };
}

/** A LUN. */
export function renderLun(state: SimStateData, lun: SimLun, now: number): Rendered {
  const pool = state.pools.find((p) => p.id === lun.poolId);
  const copies = state.lunCopies.filter((c) => c.sourceId === lun.id || c.targetId === lun.id).map((c) => c.id);
  return {
    TYPE: 11,
    ID: lun.id,
    NAME: lun.name,
    DESCRIPTION: lun.description,
    PARENTTYPE: 216,
    PARENTID: lun.poolId,
    PARENTNAME: pool?.name ?? "",
    WWN: lun.wwn,
    ALLOCTYPE: String(lun.allocType),
    CAPACITY: String(lun.capacitySectors),
    ALLOCCAPACITY: String(lun.allocType === 0 ? lun.capacitySectors : allocatedSectors(lun.file)),
    HEALTHSTATUS: "1",
    RUNNINGSTATUS: now < lun.readyAt ? RUNNING_STATUS.initializing : RUNNING_STATUS.lunOnline,
    IOCLASSID: lun.qosId,
    ISADD2LUNGROUP: bool(groupsOfMember(state, 11, lun.id).length > 0),
    LUNCOPYIDS: JSON.stringify(copies),
    ISCLONE: bool(lun.isClone),
    CLONESOURCEID: lun.isClone ? lun.cloneSourceId : "",
    SUBTYPE: "0",
    OWNINGCONTROLLER: "0A",
    EXPOSEDTOINITIATOR: bool(groupsOfMember(state, 11, lun.id).length > 0),
  };
}

/** A snapshot. */
export function renderSnapshot(state: SimStateData, snap: SimSnapshot): Rendered {
  const lun = state.luns.find((l) => l.id === snap.lunId);
  return {
    TYPE: 27,
    ID: snap.id,
    NAME: snap.name,
    DESCRIPTION: snap.description,
    PARENTTYPE: 11,
    PARENTID: snap.lunId,
    PARENTNAME: lun?.name ?? "",
    WWN: snap.wwn,
    USERCAPACITY: String(snap.capacitySectors),
    HEALTHSTATUS: "1",
    RUNNINGSTATUS: snap.runningStatus,
    EXPOSEDTOINITIATOR: bool(groupsOfMember(state, 27, snap.id).length > 0),
    ROLLBACKRATE: snap.rollbackRate,
    ROLLBACKENDTIME: snap.rollbackEndTime,
  };
}

/** A host. */
export function renderHost(state: SimStateData, host: SimHost): Rendered {
  const groups = Object.entries(state.hostGroupHosts).filter(([, ids]) => ids.includes(host.id)).map(([gid]) => gid);
  return {
    TYPE: 21,
    ID: host.id,
    NAME: host.name,
    DESCRIPTION: host.description,
    OPERATIONSYSTEM: host.operatingSystem,
    ISADD2HOSTGROUP: bool(groups.length > 0),
    PARENTTYPE: 14,
    PARENTID: groups[0] ?? "",
    HEALTHSTATUS: "1",
    RUNNINGSTATUS: "1",
  };
}

/** A host group (14), LUN group (256) or port group (257). */
export function renderGroup(state: SimStateData, group: SimGroup, type: 14 | 256 | 257): Rendered {
  const key = type === 14 ? "hostGroupId" : type === 256 ? "lunGroupId" : "portGroupId";
  const inView = state.views.some((v) => v[key] === group.id);
  return {
    TYPE: type,
    ID: group.id,
    NAME: group.name,
    DESCRIPTION: group.description,
    ISADD2MAPPINGVIEW: bool(inView),
    ...(type === 256 ? { APPTYPE: "0", GROUPTYPE: "0" } : {}),
  };
}

/** A mapping view; `AVAILABLEHOSTLUNIDLIST` lists the next free host LUN ids. */
export function renderView(state: SimStateData, view: SimView): Rendered {
  const used = new Set(Object.values(state.hostLunIds));
  const free: number[] = [];
  for (let n = 1; free.length < 16; n++) if (!used.has(n)) free.push(n);
  return {
    TYPE: 245,
    ID: view.id,
    NAME: view.name,
    DESCRIPTION: view.description,
    WORKMODE: "255",
    HEALTHSTATUS: "1",
    RUNNINGSTATUS: "27",
    ENABLEINBANDCOMMAND: "true",
    INBANDLUNWWN: "",
    AVAILABLEHOSTLUNIDLIST: JSON.stringify(free),
  };
}

/** An iSCSI initiator (never its CHAP password). */
export function renderInitiator(state: SimStateData, ini: SimInitiator, loggedIn: boolean): Rendered {
  const host = state.hosts.find((h) => h.id === ini.hostId);
  return {
    TYPE: 222,
    ID: ini.iqn,
    NAME: "",
    ISFREE: bool(ini.hostId === ""),
    PARENTTYPE: 21,
    PARENTID: ini.hostId,
    PARENTNAME: host?.name ?? "",
    USECHAP: bool(ini.useChap),
    CHAPNAME: ini.useChap ? ini.chapName : "",
    MULTIPATHTYPE: ini.multipathType,
    OPERATIONSYSTEM: "255",
    HEALTHSTATUS: "1",
    RUNNINGSTATUS: loggedIn ? "27" : "28",
  };
}

/**
 * The iSCSI target name of a front-end port, shaped like an OceanStor's
 * (`iqn.2006-08.com.huawei:oceanstor:<wwn>::<n>:<ip>`): Cinder reads the port's IP from its end.
 */
export function portTargetIqn(systemWwn: string, port: SimEthPort): string {
  return `iqn.2006-08.com.huawei:oceanstor:${systemWwn}::${20000 + Number(port.id)}:${port.ip}`;
}

/** An Ethernet port carrying iSCSI on `iscsiPort`. */
export function renderEthPort(port: SimEthPort, iscsiPort: number): Rendered {
  return {
    TYPE: 213,
    ID: port.id,
    NAME: port.name,
    LOCATION: port.location,
    PARENTTYPE: 209,
    PARENTID: port.location.split(".").slice(0, 2).join("."),
    IPV4ADDR: port.ip,
    IPV4MASK: "255.0.0.0",
    IPV6ADDR: "",
    ISCSINAME: port.name,
    ISCSITCPPORT: String(iscsiPort),
    HEALTHSTATUS: port.healthStatus,
    RUNNINGSTATUS: port.runningStatus,
    LOGICTYPE: "0",
    INIORTGT: "4",
    SPEED: "10000",
    MTU: "1500",
  };
}

/** A QoS policy. */
export function renderQos(qos: SimQos): Rendered {
  return {
    TYPE: 230,
    ID: qos.id,
    NAME: qos.name,
    LUNLIST: JSON.stringify(qos.lunIds),
    FSLIST: '[""]',
    ENABLESTATUS: bool(qos.enabled),
    RUNNINGSTATUS: qos.enabled ? RUNNING_STATUS.qosActive : RUNNING_STATUS.qosInactive,
    IOTYPE: qos.ioType,
    CLASSTYPE: "1",
    SCHEDULEPOLICY: "2",
    LATENCY: "0",
    ...qos.limits,
  };
}
