import { z } from "zod";
import { FilePathSchema, HostNameSchema, IqnSchema } from "./validation.js";

/**
 * The attaching host's side: its properties (handed to drivers), the device a connector hands out,
 * and what a disconnect removed or left behind. Re-exported by `records.ts`.
 */

/** The host that wants to attach a volume (os-brick's connector properties), handed to drivers. */
export const HostPropertiesSchema = z.object({
  /** Host name. */
  host: HostNameSchema,
  /** iSCSI initiator IQN (required by iSCSI drivers). */
  initiator: IqnSchema.optional(),
  /** The host's storage IP. */
  ip: z.union([z.ipv4(), z.ipv6()]).optional(),
  /** Whether the host will use multipath. */
  multipath: z.boolean().default(false),
  /** CPU platform, e.g. `x86_64`. */
  platform: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be a platform name like x86_64").optional(),
  /** OS type, e.g. `linux2`. */
  osType: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be an OS type like linux2").optional(),
  /** NVMe host NQN (reserved for NVMe-oF). */
  nqn: z.string().regex(/^nqn\.\d{4}-\d{2}\.[A-Za-z0-9.:_-]{1,200}$/, "must be an NVMe qualified name").optional(),
  /** Whether the attachment should be read-only. */
  readOnly: z.boolean().optional(),
});
/** The attaching host's properties (parsed). */
export type HostProperties = z.output<typeof HostPropertiesSchema>;
/** The attaching host's properties as a caller writes them. */
export type HostPropertiesInput = z.input<typeof HostPropertiesSchema>;



/** A SCSI WWID as sysfs or multipath show it (`3600140…`, `t10.…`, `naa.…`). */
export const ScsiWwidSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,255}$/, "must be a SCSI WWID");

/** What a successful connect hands back (and what disconnect, extend and the libvirt builder take). */
export const AttachedDeviceSchema = z
  .object({
    /** `block` for a device node, `file` for an image file on a mounted share. */
    type: z.enum(["block", "file"]),
    /** Path to use: `/dev/dm-N` (multipath), `/dev/sdX`, `/dev/rbdN`, a local LV, or the volume file on NFS. */
    path: FilePathSchema,
    /** SCSI WWN/WWID (iSCSI), when known. */
    scsiWwn: ScsiWwidSchema.optional(),
    /** Multipath map name (the WWID with user_friendly_names off) when multipath is used. */
    multipathId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, "must be a multipath map name").optional(),
    /** Every path device behind it (`/dev/sdb`, `/dev/sdc`), empty for files. */
    paths: z.array(FilePathSchema.refine((p) => p.startsWith("/dev/"), "must be a device under /dev")).max(64).default([]),
    /** Image format of a file device. */
    format: z.enum(["raw", "qcow2"]).optional(),
    /** Size in bytes, when known. */
    sizeBytes: z.number().int().nonnegative().optional(),
  })
  .refine((d) => d.type === "file" || d.path.startsWith("/dev/"), { message: "a block device path must be under /dev", path: ["path"] });
/** An attached device (parsed). */
export type AttachedDevice = z.output<typeof AttachedDeviceSchema>;
/** An attached device as a connector returns it or a caller hands it back. */
export type AttachedDeviceInput = z.input<typeof AttachedDeviceSchema>;

/** Kinds of host objects a detach removes or reports. */
export const HOST_OBJECT_KINDS = ["session", "node", "device", "map", "mount", "mapping"] as const;

/** Something a disconnect did not remove, and why. */
export const LeftBehindSchema = z.object({
  /** What kind of object remains: an iSCSI session or node record, a SCSI disk, a dm map, a mount, an RBD mapping. */
  kind: z.enum(HOST_OBJECT_KINDS),
  /** Its name (`/dev/sdb`, a map name, `<portal>,<iqn>`, a mount point). */
  name: z.string(),
  /** Why it was left. */
  reason: z.string(),
  /**
   * True when it was kept on purpose and is not an error (a session another LUN still uses, a mount
   * other volumes share); false when removing it failed.
   */
  expected: z.boolean(),
});
/** Something a disconnect left. */
export type LeftBehind = z.output<typeof LeftBehindSchema>;

/** What a disconnect removed and what it left behind (field pain point 3: never silent). */
export const DisconnectReportSchema = z.object({
  /** Objects removed, in order (`map 3600…`, `device /dev/sdb`, `session 127.0.0.1:3260,iqn…`). */
  removed: z.array(z.string()),
  /** Objects still present afterwards; every entry with `expected: false` is a failure. */
  leftBehind: z.array(LeftBehindSchema),
});
/** A disconnect report. */
export type DisconnectReport = z.output<typeof DisconnectReportSchema>;
