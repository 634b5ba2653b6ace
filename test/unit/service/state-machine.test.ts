import { describe, expect, it } from "vitest";
import {
  ATTACHMENT_RULES,
  BACKUP_RULES,
  SNAPSHOT_RULES,
  VOLUME_OPERATIONS,
  VOLUME_RULES,
  VOLUME_STATUSES,
  canStart,
  canStartSimple,
  resolveAttachFinal,
  resolveFinal,
  startConditions,
  type VolumeOperation,
  type VolumeStatus,
} from "../../../src/service/index.js";

/**
 * The expected table, written out from Cinder's volume/api.py conditions (not derived from the
 * implementation): statuses each operation starts from, plus those it needs multiattach or force for.
 */
const EXPECTED: Record<VolumeOperation, { from: readonly VolumeStatus[] | "initial" | "any"; multiattach?: VolumeStatus[]; force?: VolumeStatus[]; transient: VolumeStatus | null }> = {
  create: { from: "initial", transient: "creating" },
  manage: { from: "initial", transient: "managing" },
  download: { from: ["creating"], transient: "downloading" },
  delete: { from: ["available", "error", "error_restoring", "error_extending", "error_managing", "error_deleting"], transient: "deleting" },
  forceDelete: { from: "any", transient: "deleting" },
  unmanage: { from: ["available", "error"], transient: "unmanaging" },
  reserve: { from: ["available"], multiattach: ["in-use"], transient: "reserved" },
  attach: { from: ["available", "reserved"], multiattach: ["in-use"], transient: "attaching" },
  detach: { from: ["in-use"], transient: "detaching" },
  extend: { from: ["available", "in-use"], transient: "extending" },
  createSnapshot: { from: ["available"], force: ["in-use"], transient: null },
  revert: { from: ["available"], transient: "reverting" },
  backup: { from: ["available"], force: ["in-use"], transient: "backing-up" },
  restoreBackup: { from: ["available"], transient: "restoring-backup" },
  uploadToImage: { from: ["available"], force: ["in-use"], transient: "uploading" },
  retype: { from: ["available", "in-use"], transient: "retyping" },
  migrate: { from: ["available", "in-use"], transient: "maintenance" },
  transfer: { from: ["available"], transient: "awaiting-transfer" },
};

describe("volume state machine", () => {
  it("covers every operation", () => {
    expect(Object.keys(VOLUME_RULES).sort()).toEqual([...VOLUME_OPERATIONS].sort());
    expect(Object.keys(EXPECTED).sort()).toEqual([...VOLUME_OPERATIONS].sort());
  });

  for (const op of VOLUME_OPERATIONS) {
    const e = EXPECTED[op];
    it(`${op}: starts exactly from ${typeof e.from === "string" ? e.from : e.from.join(", ")} and moves to ${String(e.transient)}`, () => {
      expect(VOLUME_RULES[op].transient).toBe(e.transient);
      for (const status of VOLUME_STATUSES) {
        for (const multiattach of [false, true]) {
          for (const force of [false, true]) {
            const verdict = canStart(op, { status, multiattach }, { force });
            let allowed: boolean;
            if (e.from === "initial") allowed = false;
            else if (e.from === "any") allowed = true;
            else allowed = e.from.includes(status) || (multiattach && (e.multiattach ?? []).includes(status)) || (force && (e.force ?? []).includes(status));
            expect(verdict.isOk(), `${op} from ${status} multiattach=${String(multiattach)} force=${String(force)}`).toBe(allowed);
            if (verdict.isErr()) expect(verdict.error.code).toBe(e.from === "initial" ? "INVALID_ARGUMENT" : "INVALID_STATE");
            else expect(verdict.value.transient).toBe(e.transient);
          }
        }
      }
    });
  }

  it("names the allowed statuses when it refuses", () => {
    const e = canStart("delete", { status: "in-use", multiattach: false })._unsafeUnwrapErr();
    expect(e.message).toBe("cannot delete a volume in status in-use; allowed: available, error, error_restoring, error_extending, error_managing, error_deleting");
    expect(e.details).toMatchObject({ op: "delete", status: "in-use" });
  });

  it("checks the guards: snapshots, cascade, live attachments, migrations", () => {
    expect(canStart("delete", { status: "available", multiattach: false, snapshotStatuses: ["available"] })._unsafeUnwrapErr().message).toMatch(/has snapshots/);
    expect(canStart("delete", { status: "available", multiattach: false, snapshotStatuses: ["available", "error"] }, { cascade: true }).isOk()).toBe(true);
    expect(canStart("delete", { status: "available", multiattach: false, snapshotStatuses: ["creating"] }, { cascade: true })._unsafeUnwrapErr().details).toMatchObject({ guard: "deletableSnapshots" });
    expect(canStart("delete", { status: "error", multiattach: false, attachmentStatuses: ["error_detaching"] })._unsafeUnwrapErr().details).toMatchObject({ guard: "noLiveAttachments" });
    // A failed attach left a record that does not hold the volume.
    expect(canStart("delete", { status: "error", multiattach: false, attachmentStatuses: ["error_attaching", "detached"] }).isOk()).toBe(true);
    expect(canStart("attach", { status: "available", multiattach: false, migrationStatus: "migrating" })._unsafeUnwrapErr().details).toMatchObject({ guard: "migrationIdle" });
    expect(canStart("attach", { status: "available", multiattach: false, migrationStatus: "success" }).isOk()).toBe(true);
    expect(canStart("migrate", { status: "available", multiattach: false, snapshotStatuses: ["available"] }).isErr()).toBe(true);
    expect(canStart("forceDelete", { status: "attaching", multiattach: false, snapshotStatuses: ["creating"], attachmentStatuses: ["attaching"] }).isOk()).toBe(true);
  });

  it("turns cascade into the deletable-snapshots guard for delete only", () => {
    expect(startConditions("delete", { cascade: true })._unsafeUnwrap().guards).toContain("deletableSnapshots");
    expect(startConditions("migrate", { cascade: true })._unsafeUnwrap().guards).toContain("noSnapshots");
  });

  it("resolves where operations end: previous status, by attachments, removal, errors", () => {
    expect(resolveFinal("extend", "success", { previousStatus: "in-use", hasAttached: true })).toBe("in-use");
    expect(resolveFinal("extend", "success", { previousStatus: "available", hasAttached: false })).toBe("available");
    expect(resolveFinal("extend", "failure", { previousStatus: "in-use", hasAttached: true })).toBe("error_extending");
    expect(resolveFinal("retype", "failure", { hasAttached: false })).toBe("available");
    expect(resolveFinal("detach", "success", { hasAttached: true })).toBe("in-use");
    expect(resolveFinal("detach", "success", { hasAttached: false })).toBe("available");
    expect(resolveFinal("detach", "failure", { hasAttached: false })).toBe("in-use");
    expect(resolveFinal("attach", "failure", { hasAttached: false })).toBe("available");
    expect(resolveFinal("delete", "success", { hasAttached: false })).toBe("removed");
    expect(resolveFinal("delete", "failure", { hasAttached: false })).toBe("error_deleting");
    expect(resolveFinal("revert", "failure", { hasAttached: false })).toBe("error");
    expect(resolveFinal("restoreBackup", "failure", { hasAttached: false })).toBe("error_restoring");
    expect(resolveFinal("create", "failure", { hasAttached: false })).toBe("error");
    expect(resolveFinal("manage", "failure", { hasAttached: false })).toBe("error_managing");
    expect(resolveAttachFinal("attach", "success", true)).toBe("attached");
    expect(resolveAttachFinal("detach", "success", false)).toBe("detached");
    expect(resolveAttachFinal("detach", "failure", false)).toBe("attached");
    expect(resolveAttachFinal("extend", "success", true)).toBeUndefined();
  });
});

describe("snapshot, attachment and backup state machines", () => {
  it("start only from their statuses", () => {
    expect(canStartSimple(SNAPSHOT_RULES, "delete", "available").isOk()).toBe(true);
    expect(canStartSimple(SNAPSHOT_RULES, "delete", "creating")._unsafeUnwrapErr().code).toBe("INVALID_STATE");
    expect(canStartSimple(SNAPSHOT_RULES, "create", undefined)._unsafeUnwrap().transient).toBe("creating");
    expect(canStartSimple(SNAPSHOT_RULES, "create", "available").isErr()).toBe(true);
    expect(canStartSimple(ATTACHMENT_RULES, "attach", "reserved")._unsafeUnwrap().onSuccess).toBe("attached");
    expect(canStartSimple(ATTACHMENT_RULES, "detach", "error_attaching")._unsafeUnwrap().transient).toBe("detaching");
    expect(canStartSimple(ATTACHMENT_RULES, "detach", "detached").isErr()).toBe(true);
    expect(canStartSimple(BACKUP_RULES, "restore", "available")._unsafeUnwrap().onFailure).toBe("available");
    expect(canStartSimple(BACKUP_RULES, "delete", "restoring").isErr()).toBe(true);
  });
});
