/**
 * The array simulator's object store: plain records per object type, id counters, and the
 * relations (group members, mapping view associations, host LUN ids). Everything here is
 * synchronous, so a request handler validates and changes state in one step before it awaits any
 * file or tgtd work: concurrent requests never see half-made objects.
 */

/** A storage pool. Capacities in 512-byte sectors. */
export interface SimPool {
  /** Pool id. */
  id: string;
  /** Pool name. */
  name: string;
  /** Capacity in 512-byte sectors. */
  totalSectors: number;
}

/** A LUN and its backing file. */
export interface SimLun {
  /** LUN id (shared id space with snapshots). */
  id: string;
  /** LUN name. */
  name: string;
  /** Free text. */
  description: string;
  /** Pool id. */
  poolId: string;
  /** 0 thick, 1 thin. */
  allocType: 0 | 1;
  /** Size in sectors. */
  capacitySectors: number;
  /** 32 hex digits, also the SCSI id tgtd presents. */
  wwn: string;
  /** Epoch ms until which the LUN reports "initializing" (53). */
  readyAt: number;
  /** A clone LUN still depending on its source (Dorado HyperClone). */
  isClone: boolean;
  /** The LUN or snapshot an unsplit clone depends on. */
  cloneSourceId: string;
  /** QoS policy id ("" when none). */
  qosId: string;
  /** Backing file. */
  file: string;
}

/** A snapshot of a LUN. */
export interface SimSnapshot {
  /** Snapshot id. */
  id: string;
  /** Snapshot name. */
  name: string;
  /** Free text. */
  description: string;
  /** Source LUN. */
  lunId: string;
  /** 32 hex digits. */
  wwn: string;
  /** Size at activation. */
  capacitySectors: number;
  /** 45 inactive, 43 active, 44 rolling back. */
  runningStatus: string;
  /** Rollback progress in percent ("" before any). */
  rollbackRate: string;
  /** Epoch seconds a rollback ended, or "-1". */
  rollbackEndTime: string;
  /** Point-in-time copy (exists while active). */
  file: string;
}

/** A LUN copy task. */
export interface SimLunCopy {
  /** Task id. */
  id: string;
  /** Task name. */
  name: string;
  /** Free text. */
  description: string;
  /** COPYSPEED 1-4. */
  speed: string;
  /** Source LUN or snapshot. */
  sourceId: string;
  /** Target LUN. */
  targetId: string;
  /** 36 idle, 39 copying, 40 complete, 41 stopped. */
  runningStatus: string;
  /** 1 normal, 2 faulty. */
  healthStatus: string;
  /** Percent done. */
  progress: number;
  /** Epoch seconds, or "-1". */
  startTime: string;
  /** Epoch seconds, or "-1". */
  stopTime: string;
}

/** A clone pair. */
export interface SimClonePair {
  /** Pair id. */
  id: string;
  /** Source LUN or snapshot. */
  sourceId: string;
  /** Target LUN. */
  targetId: string;
  /** Speed 1-4. */
  copyRate: string;
  /** "0" healthy. */
  copyStatus: string;
  /** "0" not synced, "1" syncing, "2" complete. */
  syncStatus: string;
  /** Percent done. */
  progress: number;
}

/** A host. */
export interface SimHost {
  /** Host id. */
  id: string;
  /** Host name. */
  name: string;
  /** Free text. */
  description: string;
  /** OPERATIONSYSTEM code ("0" Linux). */
  operatingSystem: string;
}

/** A host, LUN or port group. */
export interface SimGroup {
  /** Group id. */
  id: string;
  /** Group name. */
  name: string;
  /** Free text. */
  description: string;
}

/** A LUN group member. */
export interface SimMember {
  /** 11 LUN, 27 snapshot. */
  type: 11 | 27;
  /** Object id. */
  id: string;
}

/** A mapping view and what it associates. */
export interface SimView {
  /** View id. */
  id: string;
  /** View name. */
  name: string;
  /** Free text. */
  description: string;
  /** Associated host group ("" none). */
  hostGroupId: string;
  /** Associated LUN group ("" none). */
  lunGroupId: string;
  /** Associated port group ("" none). */
  portGroupId: string;
}

/** An iSCSI initiator. The CHAP password is kept for tgtd and never returned by the REST API. */
export interface SimInitiator {
  /** Initiator name (its id). */
  iqn: string;
  /** Host it belongs to ("" free). */
  hostId: string;
  /** CHAP required. */
  useChap: boolean;
  /** CHAP user. */
  chapName: string;
  /** CHAP secret (for tgtd only). */
  chapPassword: string;
  /** MULTIPATHTYPE. */
  multipathType: string;
}

/** An Ethernet front-end port serving iSCSI. */
export interface SimEthPort {
  /** Port id. */
  id: string;
  /** Port name. */
  name: string;
  /** Location like CTE0.A.IOM0.P0. */
  location: string;
  /** IPv4 address of the portal. */
  ip: string;
  /** "1" normal. */
  healthStatus: string;
  /** "10" link up, "11" link down. */
  runningStatus: string;
}

/** A QoS policy. */
export interface SimQos {
  /** Policy id. */
  id: string;
  /** Policy name. */
  name: string;
  /** LUNs in the policy. */
  lunIds: string[];
  /** Activated. */
  enabled: boolean;
  /** IOTYPE 0 read, 1 write, 2 both. */
  ioType: string;
  /** MAXIOPS, MAXBANDWIDTH, MINIOPS, MINBANDWIDTH, LATENCY as set. */
  limits: Record<string, string>;
}

/** Every object of the simulated array (what the optional state file holds). */
export interface SimStateData {
  /** Id counters by kind. */
  counters: Record<string, number>;
  /** Storage pools. */
  pools: SimPool[];
  /** LUNs. */
  luns: SimLun[];
  /** Snapshots. */
  snapshots: SimSnapshot[];
  /** LUN copy tasks. */
  lunCopies: SimLunCopy[];
  /** Clone pairs. */
  clonePairs: SimClonePair[];
  /** Hosts. */
  hosts: SimHost[];
  /** Host groups. */
  hostGroups: SimGroup[];
  /** LUN groups. */
  lunGroups: SimGroup[];
  /** Port groups. */
  portGroups: SimGroup[];
  /** Mapping views. */
  views: SimView[];
  /** iSCSI initiators. */
  initiators: SimInitiator[];
  /** Front-end Ethernet ports. */
  ethPorts: SimEthPort[];
  /** QoS policies. */
  qos: SimQos[];
  /** host group id → host ids. */
  hostGroupHosts: Record<string, string[]>;
  /** LUN group id → members. */
  lunGroupMembers: Record<string, SimMember[]>;
  /** port group id → eth port ids. */
  portGroupPorts: Record<string, string[]>;
  /** `<hostId>:<type>:<objectId>` → host LUN id (unique across the array, see the data plane). */
  hostLunIds: Record<string, number>;
}

/** A fresh, empty state. */
export function emptyState(): SimStateData {
  return {
    counters: {},
    pools: [],
    luns: [],
    snapshots: [],
    lunCopies: [],
    clonePairs: [],
    hosts: [],
    hostGroups: [],
    lunGroups: [],
    portGroups: [],
    views: [],
    initiators: [],
    ethPorts: [],
    qos: [],
    hostGroupHosts: {},
    lunGroupMembers: {},
    portGroupPorts: {},
    hostLunIds: {},
  };
}

/**
 * Next id of a counter. LUNs and snapshots draw from one counter ("volume"): the dialect passes a
 * snapshot id where a LUN id goes (`SOURCELUN` of a LUN copy, `CLONESOURCEID`), so they must not clash.
 */
export function nextId(state: SimStateData, counter: string): string {
  const n = (state.counters[counter] ?? 0) + 1;
  state.counters[counter] = n;
  return String(n);
}

/** The views whose host group contains `hostId`. */
export function viewsOfHost(state: SimStateData, hostId: string): SimView[] {
  return state.views.filter((v) => v.hostGroupId !== "" && (state.hostGroupHosts[v.hostGroupId] ?? []).includes(hostId));
}

/** LUN group ids a LUN or snapshot is a member of. */
export function groupsOfMember(state: SimStateData, type: 11 | 27, id: string): string[] {
  return Object.entries(state.lunGroupMembers)
    .filter(([, members]) => members.some((m) => m.type === type && m.id === id))
    .map(([gid]) => gid);
}

/** The members a host sees through its mapping views, each once. */
export function membersOfHost(state: SimStateData, hostId: string): SimMember[] {
  const seen = new Map<string, SimMember>();
  for (const view of viewsOfHost(state, hostId)) {
    for (const m of state.lunGroupMembers[view.lunGroupId] ?? []) seen.set(`${m.type}:${m.id}`, m);
  }
  return [...seen.values()];
}

/**
 * Assigns host LUN ids to every (host, member) pair that is mapped and drops the ids of pairs that
 * are not anymore. Ids are unique across the whole array (a real array numbers per host): the data
 * plane exports every mapped LUN on one shared tgtd target per port, under its host LUN id.
 */
export function refreshHostLunIds(state: SimStateData): void {
  const wanted = new Set<string>();
  for (const host of state.hosts) {
    for (const m of membersOfHost(state, host.id)) wanted.add(`${host.id}:${m.type}:${m.id}`);
  }
  for (const key of Object.keys(state.hostLunIds)) if (!wanted.has(key)) delete state.hostLunIds[key];
  const used = new Set(Object.values(state.hostLunIds));
  let next = 1;
  for (const key of [...wanted].sort()) {
    if (state.hostLunIds[key] !== undefined) continue;
    while (used.has(next)) next++;
    state.hostLunIds[key] = next;
    used.add(next);
  }
}

/** Clone depth of a LUN: 0 for an independent LUN, source depth + 1 for an unsplit clone. */
export function cloneDepth(state: SimStateData, lunId: string, guard = 0): number {
  const lun = state.luns.find((l) => l.id === lunId);
  if (!lun || !lun.isClone || guard > 64) return 0;
  return 1 + sourceDepth(state, lun.cloneSourceId, guard + 1);
}

/** Depth a clone of `sourceId` (a LUN or a snapshot) starts from. */
export function sourceDepth(state: SimStateData, sourceId: string, guard = 0): number {
  const snap = state.snapshots.find((s) => s.id === sourceId);
  return snap ? cloneDepth(state, snap.lunId, guard) : cloneDepth(state, sourceId, guard);
}
