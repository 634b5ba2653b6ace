import { err, ok, type Result } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../core/errors.js";

/**
 * Every status a service record can have and every transition between them, in one place (Cinder's
 * `cinder/objects/fields.py` statuses and the conditions of `cinder/volume/api.py`). An operation
 * starts from one of its allowed statuses by moving the record to a transient status with a
 * conditional update, and ends in its success or failure status. The store turns these tables into
 * `UPDATE … WHERE status IN (…)` statements, so the rules are never written twice.
 */

// ---------------------------------------------------------------- statuses

/** Volume statuses (Cinder's `VolumeStatus`, plus `reverting` and `unmanaging` its API sets). */
export const VOLUME_STATUSES = [
  "creating",
  "available",
  "reserved",
  "attaching",
  "detaching",
  "in-use",
  "maintenance",
  "deleting",
  "awaiting-transfer",
  "error",
  "error_deleting",
  "backing-up",
  "restoring-backup",
  "error_backing-up",
  "error_restoring",
  "error_extending",
  "downloading",
  "uploading",
  "retyping",
  "extending",
  "managing",
  "error_managing",
  "reverting",
  "unmanaging",
] as const;
/** A volume status. */
export type VolumeStatus = (typeof VOLUME_STATUSES)[number];
/** Schema of {@link VolumeStatus}. */
export const VolumeStatusSchema = z.enum(VOLUME_STATUSES);

/** Attach statuses of a volume and of an attachment (Cinder's `VolumeAttachStatus`). */
export const ATTACH_STATUSES = ["reserved", "attaching", "attached", "detaching", "detached", "error_attaching", "error_detaching", "deleted"] as const;
/** An attach status. */
export type AttachStatus = (typeof ATTACH_STATUSES)[number];
/** Schema of {@link AttachStatus}. */
export const AttachStatusSchema = z.enum(ATTACH_STATUSES);

/**
 * Attachment statuses during which the host may hold the volume: a volume with such an attachment
 * cannot be deleted or unmanaged. `error_attaching` is not live: a failed attach rolled back.
 */
export const LIVE_ATTACH_STATUSES = ["reserved", "attaching", "attached", "detaching", "error_detaching"] as const satisfies readonly AttachStatus[];

/** Snapshot statuses (Cinder's `SnapshotStatus`; records are removed, never `deleted`). */
export const SNAPSHOT_STATUSES = ["creating", "available", "deleting", "error", "error_deleting", "unmanaging", "backing-up", "restoring"] as const;
/** A snapshot status. */
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];
/** Schema of {@link SnapshotStatus}. */
export const SnapshotStatusSchema = z.enum(SNAPSHOT_STATUSES);

/** Snapshot statuses a cascading volume delete may remove (Cinder's deletable snapshots). */
export const DELETABLE_SNAPSHOT_STATUSES = ["available", "error", "deleting", "error_deleting"] as const satisfies readonly SnapshotStatus[];

/** Backup statuses (Cinder's `BackupStatus`; records are removed, never `deleted`). */
export const BACKUP_STATUSES = ["creating", "available", "deleting", "error", "error_deleting", "restoring"] as const;
/** A backup status. */
export type BackupStatus = (typeof BACKUP_STATUSES)[number];
/** Schema of {@link BackupStatus}. */
export const BackupStatusSchema = z.enum(BACKUP_STATUSES);

/** Migration statuses; `target:<id>` marks the temporary destination volume of a migration. */
export const MIGRATION_STATUSES = ["starting", "migrating", "completing", "success", "error", "deleting"] as const;
/** A migration status. */
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number] | `target:${string}`;
/** Schema of {@link MigrationStatus}. */
export const MigrationStatusSchema = z.union([z.enum(MIGRATION_STATUSES), z.templateLiteral(["target:", z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/)])]);
/** Migration statuses that let another operation start (Cinder's `AVAILABLE_MIGRATION_STATUS`, plus none). */
export const IDLE_MIGRATION_STATUSES = ["deleting", "error", "success"] as const satisfies readonly MigrationStatus[];

// ---------------------------------------------------------------- volume operations

/** Operations that move a volume through its statuses. */
export const VOLUME_OPERATIONS = [
  "create",
  "manage",
  "download",
  "delete",
  "forceDelete",
  "unmanage",
  "reserve",
  "attach",
  "detach",
  "extend",
  "createSnapshot",
  "revert",
  "backup",
  "restoreBackup",
  "uploadToImage",
  "retype",
  "migrate",
  "transfer",
] as const;
/** A volume operation. */
export type VolumeOperation = (typeof VOLUME_OPERATIONS)[number];

/**
 * Where an operation ends: a status, `previous` (the status before it started), `by-attachments`
 * (`in-use` while an attachment is attached, else `available`: Cinder's unreserve/detach rule), or
 * `removed` (the record is deleted).
 */
export type VolumeFinal = VolumeStatus | "previous" | "by-attachments" | "removed";
/** The volume's attach status at the end of an operation: a status or `by-attachments`. */
export type AttachFinal = AttachStatus | "by-attachments";

/**
 * A status an operation may start from. `when: "multiattach"` = only if the volume is multiattach
 * (checked by the store in the same statement); `when: "force"` = only if the caller passed `force`.
 */
export interface FromStatus {
  /** The status. */
  readonly status: VolumeStatus;
  /** Extra condition. */
  readonly when?: "multiattach" | "force";
}

/**
 * Conditions on other rows or columns the store checks atomically with the status:
 * `noSnapshots` (Cinder's `volume_has_snapshots_filter`), `deletableSnapshots` (with `cascade`),
 * `noLiveAttachments`, `migrationIdle`.
 */
export type VolumeGuard = "noSnapshots" | "deletableSnapshots" | "noLiveAttachments" | "migrationIdle";

/** The rule of one volume operation. */
export interface VolumeRule {
  /** Statuses it may start from; `initial` = it creates the record; `any` = every status (admin force). */
  readonly from: readonly FromStatus[] | "initial" | "any";
  /** Status while it runs; `null` = the status is only checked, not changed (a snapshot of the volume). */
  readonly transient: VolumeStatus | null;
  /** Status on success. */
  readonly onSuccess: VolumeFinal;
  /** Status on failure. */
  readonly onFailure: VolumeFinal;
  /** Further conditions. */
  readonly guards: readonly VolumeGuard[];
  /** Attach status while it runs and at its end, when the operation changes it. */
  readonly attach?: { readonly transient: AttachStatus; readonly onSuccess: AttachFinal; readonly onFailure: AttachFinal };
}

const from = (...statuses: (VolumeStatus | FromStatus)[]): readonly FromStatus[] => statuses.map((s) => (typeof s === "string" ? { status: s } : s));

/**
 * The volume transition table. Sources: Cinder's `volume/api.py` (`delete`, `reserve_volume`,
 * `begin_detaching`, `_extend`, `revert_to_snapshot`, `copy_volume_to_image`, `migrate_volume`,
 * `retype`) and `volume/manager.py`. Deliberate differences: `delete` also starts from
 * `error_deleting` (retrying a failed delete needs no force), and `migrate` always locks the volume
 * in `maintenance` (Cinder's `lock_volume`).
 */
export const VOLUME_RULES: { readonly [Op in VolumeOperation]: VolumeRule } = {
  create: { from: "initial", transient: "creating", onSuccess: "available", onFailure: "error", guards: [] },
  manage: { from: "initial", transient: "managing", onSuccess: "available", onFailure: "error_managing", guards: [] },
  download: { from: from("creating"), transient: "downloading", onSuccess: "available", onFailure: "error", guards: [] },
  delete: {
    from: from("available", "error", "error_restoring", "error_extending", "error_managing", "error_deleting"),
    transient: "deleting",
    onSuccess: "removed",
    onFailure: "error_deleting",
    guards: ["noSnapshots", "noLiveAttachments", "migrationIdle"],
  },
  forceDelete: { from: "any", transient: "deleting", onSuccess: "removed", onFailure: "error_deleting", guards: [] },
  unmanage: { from: from("available", "error"), transient: "unmanaging", onSuccess: "removed", onFailure: "error", guards: ["noSnapshots", "noLiveAttachments", "migrationIdle"] },
  reserve: { from: from("available", { status: "in-use", when: "multiattach" }), transient: "reserved", onSuccess: "reserved", onFailure: "by-attachments", guards: ["migrationIdle"] },
  attach: {
    from: from("available", "reserved", { status: "in-use", when: "multiattach" }),
    transient: "attaching",
    onSuccess: "in-use",
    onFailure: "by-attachments",
    guards: ["migrationIdle"],
    attach: { transient: "attaching", onSuccess: "attached", onFailure: "by-attachments" },
  },
  detach: {
    from: from("in-use"),
    transient: "detaching",
    onSuccess: "by-attachments",
    onFailure: "in-use",
    guards: ["migrationIdle"],
    attach: { transient: "detaching", onSuccess: "by-attachments", onFailure: "attached" },
  },
  extend: { from: from("available", "in-use"), transient: "extending", onSuccess: "previous", onFailure: "error_extending", guards: ["migrationIdle"] },
  createSnapshot: { from: from("available", { status: "in-use", when: "force" }), transient: null, onSuccess: "previous", onFailure: "previous", guards: ["migrationIdle"] },
  revert: { from: from("available"), transient: "reverting", onSuccess: "available", onFailure: "error", guards: ["migrationIdle"] },
  backup: { from: from("available", { status: "in-use", when: "force" }), transient: "backing-up", onSuccess: "previous", onFailure: "previous", guards: ["migrationIdle"] },
  restoreBackup: { from: from("available"), transient: "restoring-backup", onSuccess: "available", onFailure: "error_restoring", guards: ["migrationIdle"] },
  uploadToImage: { from: from("available", { status: "in-use", when: "force" }), transient: "uploading", onSuccess: "previous", onFailure: "previous", guards: ["migrationIdle"] },
  retype: { from: from("available", "in-use"), transient: "retyping", onSuccess: "previous", onFailure: "previous", guards: ["migrationIdle"] },
  migrate: { from: from("available", "in-use"), transient: "maintenance", onSuccess: "previous", onFailure: "previous", guards: ["noSnapshots", "migrationIdle"] },
  transfer: { from: from("available"), transient: "awaiting-transfer", onSuccess: "available", onFailure: "available", guards: ["migrationIdle"] },
};

/** Caller options that widen where an operation may start. */
export interface StartOptions {
  /** Allow the `when: "force"` statuses (a snapshot or backup of an in-use volume). */
  readonly force?: boolean;
  /** Delete: snapshots in a deletable status do not block (they are deleted with the volume). */
  readonly cascade?: boolean;
}

/** The conditions the store turns into one conditional update. */
export interface StartConditions {
  /** The operation. */
  readonly op: VolumeOperation;
  /** Statuses allowed without a further condition; `any` = every status. */
  readonly statuses: readonly VolumeStatus[] | "any";
  /** Statuses allowed only when the volume is multiattach. */
  readonly multiattachStatuses: readonly VolumeStatus[];
  /** Row and cross-table guards. */
  readonly guards: readonly VolumeGuard[];
  /** The status the volume moves to (`null`: unchanged). */
  readonly transient: VolumeStatus | null;
}

/** What the store needs to start `op`; `INVALID_ARGUMENT` for operations that create the record. */
export function startConditions(op: VolumeOperation, options: StartOptions = {}): Result<StartConditions, VolkitError> {
  const rule = VOLUME_RULES[op];
  if (rule.from === "initial") {
    return err(new VolkitError("INVALID_ARGUMENT", `volume operation ${op} creates its record (insert it with status ${String(rule.transient)})`, { source: "service" }));
  }
  const guards = rule.guards.map((g) => (g === "noSnapshots" && options.cascade === true && op === "delete" ? "deletableSnapshots" : g));
  if (rule.from === "any") return ok({ op, statuses: "any", multiattachStatuses: [], guards, transient: rule.transient });
  const statuses = rule.from.filter((f) => f.when === undefined || (f.when === "force" && options.force === true)).map((f) => f.status);
  const multiattachStatuses = rule.from.filter((f) => f.when === "multiattach").map((f) => f.status);
  return ok({ op, statuses, multiattachStatuses, guards, transient: rule.transient });
}

/** The facts about a volume that decide whether an operation may start. */
export interface VolumeFacts {
  /** Current status. */
  readonly status: VolumeStatus;
  /** Whether the volume is multiattach. */
  readonly multiattach: boolean;
  /** Current migration status. */
  readonly migrationStatus?: MigrationStatus | undefined;
  /** Statuses of its snapshots. */
  readonly snapshotStatuses?: readonly SnapshotStatus[];
  /** Statuses of its attachments. */
  readonly attachmentStatuses?: readonly AttachStatus[];
}

/** The outcome of {@link canStart}: where the volume goes now, and where it may end. */
export interface TransitionPlan {
  /** The operation. */
  readonly op: VolumeOperation;
  /** Status while it runs (`null`: unchanged). */
  readonly transient: VolumeStatus | null;
  /** Status on success. */
  readonly onSuccess: VolumeFinal;
  /** Status on failure. */
  readonly onFailure: VolumeFinal;
}

/** Why a guard refuses, for messages. */
const GUARD_REASONS: { readonly [G in VolumeGuard]: string } = {
  noSnapshots: "the volume has snapshots",
  deletableSnapshots: "the volume has snapshots that cannot be deleted now",
  noLiveAttachments: "the volume has attachments",
  migrationIdle: "the volume is being migrated",
};

/** Evaluates one guard against facts (the store evaluates the same guard in SQL). */
function guardHolds(guard: VolumeGuard, facts: VolumeFacts): boolean {
  switch (guard) {
    case "noSnapshots":
      return (facts.snapshotStatuses ?? []).length === 0;
    case "deletableSnapshots":
      return (facts.snapshotStatuses ?? []).every((s) => (DELETABLE_SNAPSHOT_STATUSES as readonly string[]).includes(s));
    case "noLiveAttachments":
      return !(facts.attachmentStatuses ?? []).some((s) => (LIVE_ATTACH_STATUSES as readonly string[]).includes(s));
    case "migrationIdle":
      return facts.migrationStatus === undefined || (IDLE_MIGRATION_STATUSES as readonly string[]).includes(facts.migrationStatus);
  }
}

/**
 * Whether `op` may start on a volume with these facts, and where it moves it. The store re-checks
 * the same conditions atomically when the operation really starts; this is for callers that want
 * to know first (a panel greying out buttons, a precondition message).
 *
 * @example
 * ```ts
 * canStart("delete", { status: "in-use", multiattach: false }); // Err INVALID_STATE
 * canStart("attach", { status: "available", multiattach: false })._unsafeUnwrap().transient; // "attaching"
 * ```
 */
export function canStart(op: VolumeOperation, facts: VolumeFacts, options: StartOptions = {}): Result<TransitionPlan, VolkitError> {
  return startConditions(op, options).andThen((c) => {
    if (c.statuses !== "any" && !c.statuses.includes(facts.status) && !(facts.multiattach && c.multiattachStatuses.includes(facts.status))) {
      const allowed = [...c.statuses, ...c.multiattachStatuses.map((s) => `${s} (multiattach)`)];
      return err(
        new VolkitError("INVALID_STATE", `cannot ${op} a volume in status ${facts.status}; allowed: ${allowed.join(", ")}`, {
          source: "service",
          details: { op, status: facts.status, allowed },
        }),
      );
    }
    const failed = c.guards.find((g) => !guardHolds(g, facts));
    if (failed !== undefined) {
      return err(new VolkitError("INVALID_STATE", `cannot ${op} the volume: ${GUARD_REASONS[failed]}`, { source: "service", details: { op, status: facts.status, guard: failed } }));
    }
    const rule = VOLUME_RULES[op];
    return ok({ op, transient: c.transient, onSuccess: rule.onSuccess, onFailure: rule.onFailure });
  });
}

/** Explains a refused start for an error message (guards are listed, not evaluated). */
export function describeStart(c: StartConditions): string {
  const statuses = c.statuses === "any" ? ["any status"] : [...c.statuses, ...c.multiattachStatuses.map((s) => `${s} (multiattach)`)];
  const guards = c.guards.map((g) => `not: ${GUARD_REASONS[g]}`);
  return [`status ${statuses.join(" or ")}`, ...guards].join("; ");
}

/**
 * Resolves where an operation ends: `previous` becomes the status before it started (`available`
 * when unknown), `by-attachments` becomes `in-use` while an attachment is attached.
 */
export function resolveFinal(op: VolumeOperation, outcome: "success" | "failure", facts: { readonly previousStatus?: VolumeStatus | undefined; readonly hasAttached: boolean }): VolumeStatus | "removed" {
  const rule = VOLUME_RULES[op];
  const final = outcome === "success" ? rule.onSuccess : rule.onFailure;
  if (final === "previous") return facts.previousStatus ?? "available";
  if (final === "by-attachments") return facts.hasAttached ? "in-use" : "available";
  return final;
}

/** Resolves the volume's attach status at the end of an operation (`undefined`: unchanged). */
export function resolveAttachFinal(op: VolumeOperation, outcome: "success" | "failure", hasAttached: boolean): AttachStatus | undefined {
  const rule = VOLUME_RULES[op].attach;
  if (rule === undefined) return undefined;
  const final = outcome === "success" ? rule.onSuccess : rule.onFailure;
  if (final === "by-attachments") return hasAttached ? "attached" : "detached";
  return final;
}

// ---------------------------------------------------------------- snapshots, attachments, backups

/** The rule of an operation on a record with a single status column. */
export interface SimpleRule<S extends string> {
  /** Statuses it may start from; `initial` = it creates the record in `transient`. */
  readonly from: readonly S[] | "initial";
  /** Status while it runs. */
  readonly transient: S;
  /** Status on success, or `removed`. */
  readonly onSuccess: S | "removed";
  /** Status on failure, or `removed`. */
  readonly onFailure: S | "removed";
}

/** Snapshot operations (Cinder's snapshot API and manager). */
export const SNAPSHOT_RULES = {
  create: { from: "initial", transient: "creating", onSuccess: "available", onFailure: "error" },
  delete: { from: ["available", "error", "error_deleting"], transient: "deleting", onSuccess: "removed", onFailure: "error_deleting" },
  restore: { from: ["available"], transient: "restoring", onSuccess: "available", onFailure: "available" },
  backup: { from: ["available"], transient: "backing-up", onSuccess: "available", onFailure: "available" },
  unmanage: { from: ["available", "error"], transient: "unmanaging", onSuccess: "removed", onFailure: "error" },
} as const satisfies Record<string, SimpleRule<SnapshotStatus>>;
/** A snapshot operation. */
export type SnapshotOperation = keyof typeof SNAPSHOT_RULES;

/** Attachment operations (Cinder's attachment_create/update/complete/delete). */
export const ATTACHMENT_RULES = {
  reserve: { from: "initial", transient: "reserved", onSuccess: "reserved", onFailure: "removed" },
  attach: { from: ["reserved"], transient: "attaching", onSuccess: "attached", onFailure: "error_attaching" },
  detach: { from: ["attached", "error_detaching", "error_attaching"], transient: "detaching", onSuccess: "detached", onFailure: "error_detaching" },
} as const satisfies Record<string, SimpleRule<AttachStatus>>;
/** An attachment operation. */
export type AttachmentOperation = keyof typeof ATTACHMENT_RULES;

/** Backup operations (Cinder's backup API). */
export const BACKUP_RULES = {
  create: { from: "initial", transient: "creating", onSuccess: "available", onFailure: "error" },
  delete: { from: ["available", "error", "error_deleting"], transient: "deleting", onSuccess: "removed", onFailure: "error_deleting" },
  restore: { from: ["available"], transient: "restoring", onSuccess: "available", onFailure: "available" },
} as const satisfies Record<string, SimpleRule<BackupStatus>>;
/** A backup operation. */
export type BackupOperation = keyof typeof BACKUP_RULES;

/**
 * Whether a single-status operation may start from `status` (`undefined`: the record does not
 * exist yet). Returns the rule, or `INVALID_STATE` naming the allowed statuses.
 *
 * @example
 * ```ts
 * canStartSimple(SNAPSHOT_RULES, "delete", "creating"); // Err INVALID_STATE
 * ```
 */
export function canStartSimple<S extends string>(
  rules: Readonly<Record<string, SimpleRule<S>>>,
  op: string,
  status: NoInfer<S> | undefined,
): Result<SimpleRule<S>, VolkitError> {
  const rule = rules[op];
  if (rule === undefined) return err(new VolkitError("INVALID_ARGUMENT", `unknown operation ${op}`, { source: "service" }));
  const allowed = rule.from === "initial" ? status === undefined : status !== undefined && rule.from.includes(status);
  if (allowed) return ok(rule);
  const expected = rule.from === "initial" ? "no record yet" : rule.from.join(", ");
  return err(new VolkitError("INVALID_STATE", `cannot ${op} from status ${status ?? "(none)"}; allowed: ${expected}`, { source: "service", details: { op, status, allowed: expected } }));
}
