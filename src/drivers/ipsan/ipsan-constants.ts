/**
 * Numeric codes and limits of the OceanStor-style REST dialect (the "DeviceManager" REST API that
 * Cinder's Huawei driver speaks). Values are the ones Cinder's `huawei/constants.py` and
 * `rest_client.py` send and compare against; where a newer Huawei driver adds one, the comment
 * says so.
 */

/** Object type codes: the `TYPE`, `PARENTTYPE` and `ASSOCIATEOBJTYPE` values of request bodies. */
export const OBJECT_TYPE = {
  /** Host group. */
  hostGroup: 14,
  /** Host. */
  host: 21,
  /** LUN. */
  lun: 11,
  /** LUN snapshot. */
  snapshot: 27,
  /** FC port (also the generic port type of `port/associate/portgroup`). */
  fcPort: 212,
  /** Ethernet port (iSCSI front-end port). */
  ethPort: 213,
  /** Storage pool. */
  pool: 216,
  /** LUN copy task. */
  lunCopy: 219,
  /** iSCSI initiator. */
  iscsiInitiator: 222,
  /** FC initiator. */
  fcInitiator: 223,
  /** QoS policy (`ioclass`). */
  qos: 230,
  /** Mapping view. */
  mappingView: 245,
  /** iSCSI target port (`iscsi_tgt_port` entries). */
  iscsiTargetPort: 249,
  /** LUN group. */
  lunGroup: 256,
  /** Port group. */
  portGroup: 257,
} as const;

/** One of the {@link OBJECT_TYPE} codes. */
export type ObjectTypeCode = (typeof OBJECT_TYPE)[keyof typeof OBJECT_TYPE];

/** `HEALTHSTATUS` of every object: `1` normal (anything else is a fault). */
export const HEALTH_NORMAL = "1";

/** `RUNNINGSTATUS` values the dialect uses, per object kind. */
export const RUNNING_STATUS = {
  /** LUN online and ready for I/O (`STATUS_VOLUME_READY`). */
  lunOnline: "27",
  /** LUN offline. */
  lunOffline: "28",
  /** LUN (or snapshot) still initializing after create. */
  initializing: "53",
  /** Snapshot activated (`STATUS_ACTIVE`). */
  snapshotActive: "43",
  /** Snapshot rolling back onto its source LUN. */
  snapshotRollingBack: "44",
  /** Snapshot created but not activated (also "QoS inactive"). */
  snapshotInactive: "45",
  /** LUN copy created, not started (what the array reports before `start`). */
  lunCopyIdle: "36",
  /** LUN copy copying (unconfirmed: Cinder only tests for "complete"). */
  lunCopyCopying: "39",
  /** LUN copy finished (`STATUS_LUNCOPY_READY`). */
  lunCopyComplete: "40",
  /** Ethernet port link up (`STATUS_RUNNING`). */
  portLinkUp: "10",
  /** Ethernet port link down (unconfirmed value). */
  portLinkDown: "11",
  /** QoS policy active (`STATUS_QOS_ACTIVE`). */
  qosActive: "2",
  /** QoS policy inactive (`QOS_INACTIVATED`). */
  qosInactive: "45",
} as const;

/** Clone pair `copyStatus` healthy and `syncStatus` complete (Dorado V6 clone pairs). */
export const CLONE_PAIR_STATUS = { healthy: "0", syncComplete: "2" } as const;

/** `ALLOCTYPE` of a LUN. */
export const ALLOC_TYPE = { thick: 0, thin: 1 } as const;

/** LUN copy / clone / rollback speed: 1 low … 4 highest (Cinder's default is 2, medium). */
export const COPY_SPEED = { low: 1, medium: 2, high: 3, highest: 4 } as const;

/** A copy speed name. */
export type CopySpeed = keyof typeof COPY_SPEED;

/** `accountstate` values in the login answer that forbid using the session. */
export const ACCOUNT_STATE = { passwordExpired: 3, passwordReset: 4 } as const;

/** Capacities are counted in 512-byte sectors (`CAPACITY_UNIT` = 2 Mi sectors per GiB). */
export const SECTOR_BYTES = 512;

/** Sectors in one GiB. */
export const SECTORS_PER_GIB = (1024 * 1024 * 1024) / SECTOR_BYTES;

/** Longest object name the array accepts (`MAX_NAME_LENGTH`). */
export const MAX_NAME_LENGTH = 31;

/** Longest LUN description (`MAX_VOL_DESCRIPTION`). */
export const MAX_DESCRIPTION_LENGTH = 170;

/** Largest page a list query may ask for in one `range=[a-b]`. */
export const MAX_RANGE = 100;

/** Name prefixes Cinder gives the groups it creates per host (kept so both can share an array). */
export const GROUP_PREFIX = {
  hostGroup: "OpenStack_HostGroup_",
  lunGroup: "OpenStack_LunGroup_",
  mappingView: "OpenStack_Mapping_View_",
  portGroup: "OpenStack_PortGroup_",
  qos: "OpenStack_",
} as const;

/** `OPERATIONSYSTEM` of a host: 0 = Linux. */
export const HOST_OS_LINUX = "0";
