/**
 * The array simulator's object store: plain records per object type, id counters, and the
 * relations (group members, mapping view associations, host LUN ids). Everything here is
 * synchronous, so a request handler validates and changes state in one step before it awaits any
 * file or tgtd work: concurrent requests never see half-made objects.
 */

/** A storage pool. Capacities in 512-byte sectors. */
export interface SimPool {
  id: string;
  name: string;
  totalSectors: number;
}

/** A LUN and its backing file. */
export interface SimLun {
  id: string;
  name: string;
  description: string;
  poolId: string;
  allocType: 0 | 1;
  capacitySectors: number;
  wwn: string;
  /** Epoch ms until which the LUN reports "initializing" (53). */
  readyAt: number;
  /** A clone LUN still depending on its source (Dorado HyperClone), and that source. */
  isClone: boolean;
  cloneSourceId: string;
  /** QoS policy id ("" when none). */
  qosId: string;
  file: string;
}

/** A snapshot of a LUN. */
export interface SimSnapshot {
  id: string;
  name: string;
  description: string;
  lunId: string;
  wwn: string;
  capacitySectors: number;
  /** 45 inactive, 43 active, 44 rolling back. */
  runningStatus: string;
  rollbackRate: string;
  rollbackEndTime: string;
  file: string;
}

/** A LUN copy task. */
export interface SimLunCopy {
  id: string;
  name: string;
  description: string;
  speed: string;
  sourceId: string;
  targetId: string;
  runningStatus: string;
  healthStatus: string;
  progress: number;
  startTime: string;
  stopTime: string;
}

/** A clone pair. */
export interface SimClonePair {
  id: string;
  sourceId: string;
  targetId: string;
  copyRate: string;
  copyStatus: string;
  syncStatus: string;
  progress: number;
}

/** A host. */
export interface SimHost {
  id: string;
  name: string;
  description: string;
  operatingSystem: string;
}

/** A host, LUN or port group. */
export interface SimGroup {
  id: string;
  name: string;
  description: string;
}

/** A LUN group member. */
export interface SimMember {
  type: 11 | 27;
  id: string;
}

/** A mapping view and what it associates. */
export interface SimView {
  id: string;
  name: string;
  description: string;
  hostGroupId: string;
  lunGroupId: string;
  portGroupId: string;
}

/** An iSCSI initiator. The CHAP password is kept for tgtd and never returned by the REST API. */
export interface SimInitiator {
  iqn: string;
  hostId: string;
  useChap: boolean;
  chapName: string;
  chapPassword: string;
  multipathType: string;
}

/** An Ethernet front-end port serving iSCSI. */
export interface SimEthPort {
  id: string;
  name: string;
  location: string;
  ip: string;
  /** "1" normal. */
  healthStatus: string;
  /** "10" link up, "11" link down. */
  runningStatus: string;
}

/** A QoS policy. */
export interface SimQos {
  id: string;
  name: string;
  lunIds: string[];
  enabled: boolean;
  ioType: string;
  limits: Record<string, string>;
}

/** Every object of the simulated array (what the optional state file holds). */
export interface SimStateData {
  counters: Record<string, number>;
  pools: SimPool[];
  luns: SimLun[];
  snapshots: SimSnapshot[];
  lunCopies: SimLunCopy[];
  clonePairs: SimClonePair[];
  hosts: SimHost[];
  hostGroups: SimGroup[];
  lunGroups: SimGroup[];
  portGroups: SimGroup[];
  views: SimView[];
  initiators: SimInitiator[];
  ethPorts: SimEthPort[];
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
