import { describe, expect, it } from "vitest";
import { VolkitError } from "../../../../src/core/errors.js";
import { classifyRbdError, errnoOf, RBD_EXIT } from "../../../../src/drivers/rbd/rbd-errors.js";
import { commandFailed, type Argv } from "../../../../src/exec/runner.js";
import { capture } from "./captures.js";

/** The COMMAND_FAILED error the runner returns for a captured failure. */
function failed(name: string): VolkitError {
  const c = capture(name);
  return commandFailed({ argv: [c.program, ...c.args] as unknown as Argv }, c.exitCode, c.stderr, c.stdout);
}

const IMAGE = { target: "volumes/base" };
const SNAP = { target: "volumes/base@s1", snapshot: true };

describe("classifyRbdError on captured rbd/ceph failures", () => {
  it.each([
    ["info-missing", IMAGE, "VOLUME_NOT_FOUND", RBD_EXIT.MISSING],
    ["rm-missing", IMAGE, "VOLUME_NOT_FOUND", RBD_EXIT.MISSING],
    ["snap-ls-missing", IMAGE, "VOLUME_NOT_FOUND", RBD_EXIT.MISSING],
    ["rename-missing", IMAGE, "VOLUME_NOT_FOUND", RBD_EXIT.MISSING],
    ["info-missing-snapshot", SNAP, "SNAPSHOT_NOT_FOUND", RBD_EXIT.MISSING],
    ["snap-rm-missing", SNAP, "SNAPSHOT_NOT_FOUND", RBD_EXIT.MISSING],
    ["trash-rm-missing", IMAGE, "VOLUME_NOT_FOUND", RBD_EXIT.MISSING],
    ["ls-missing-pool", { target: "nopool" }, "BACKEND_UNAVAILABLE", RBD_EXIT.MISSING],
    ["create-exists", IMAGE, "VOLUME_EXISTS", RBD_EXIT.EXISTS],
    ["clone-exists", IMAGE, "VOLUME_EXISTS", RBD_EXIT.EXISTS],
    ["snap-create-exists", SNAP, "SNAPSHOT_EXISTS", RBD_EXIT.EXISTS],
    ["rm-has-snapshots", IMAGE, "VOLUME_BUSY", RBD_EXIT.HAS_SNAPSHOTS],
    ["rm-watched", IMAGE, "VOLUME_BUSY", RBD_EXIT.BUSY],
    ["snap-rm-protected", SNAP, "VOLUME_BUSY", RBD_EXIT.BUSY],
    ["snap-unprotect-children", SNAP, "VOLUME_BUSY", RBD_EXIT.BUSY],
    ["snap-unprotect-by-id-children", SNAP, "VOLUME_BUSY", RBD_EXIT.BUSY],
    ["trash-rm-has-snapshots", IMAGE, "VOLUME_BUSY", RBD_EXIT.HAS_SNAPSHOTS],
    ["info-by-id-missing", IMAGE, "VOLUME_NOT_FOUND", RBD_EXIT.MISSING],
    ["namespace-ls-missing-pool", { target: "nopool" }, "BACKEND_UNAVAILABLE", RBD_EXIT.MISSING],
    ["resize-shrink", IMAGE, "INVALID_ARGUMENT", RBD_EXIT.INVALID],
    ["clone-unprotected", IMAGE, "INVALID_ARGUMENT", RBD_EXIT.INVALID],
    ["flatten-not-clone", IMAGE, "INVALID_ARGUMENT", RBD_EXIT.INVALID],
    ["config-set-invalid-key", IMAGE, "INVALID_ARGUMENT", RBD_EXIT.INVALID],
    ["eperm-ls-other-pool", { target: "other" }, "AUTH_FAILED", RBD_EXIT.PERMISSION],
    ["eperm-create-other-pool", { target: "other/x" }, "AUTH_FAILED", RBD_EXIT.PERMISSION],
    ["auth-wrong-key", IMAGE, "AUTH_FAILED", RBD_EXIT.AUTH],
    ["auth-unknown-client", IMAGE, "AUTH_FAILED", RBD_EXIT.AUTH],
    ["auth-missing-keyring", IMAGE, "AUTH_FAILED", RBD_EXIT.MISSING],
    ["ceph-df-wrong-key", { target: "cluster" }, "AUTH_FAILED", RBD_EXIT.AUTH],
    ["ceph-df-missing-keyring", { target: "cluster" }, "AUTH_FAILED", RBD_EXIT.MISSING],
    ["ceph-eacces", { target: "cluster" }, "AUTH_FAILED", RBD_EXIT.AUTH],
  ] as const)("%s → %s", (name, subject, code, errno) => {
    const e = classifyRbdError(failed(name), subject);
    expect(e.code).toBe(code);
    expect(e.details.errno).toBe(errno);
    expect(e.details.target).toBe(subject.target);
    expect(e.transient).toBe(false);
    expect(e.source).toBe("rbd");
    // The reason is the CLI's own line, not a librbd log line.
    expect(e.message).not.toMatch(/^\S+: \d{4}-\d\d-\d\dT/);
  });

  it("reports an unreadable config file as INVALID_CONFIG (both CLIs exit 1)", () => {
    for (const name of ["rbd-missing-conf", "ceph-missing-conf"]) {
      const e = classifyRbdError(failed(name), { target: "cluster" });
      expect(e.code, name).toBe("INVALID_CONFIG");
      expect(capture(name).exitCode).toBe(1);
    }
  });

  it("tells a trash entry still in its deferment (exit 1, EPERM) from a caps refusal", () => {
    const e = classifyRbdError(failed("trash-rm-deferred"), { target: "trash volumes/x" });
    expect(e.code).toBe("INVALID_STATE");
    expect(e.details.errno).toBe(RBD_EXIT.PERMISSION);
    expect(e.message).toMatch(/deferment/);
  });

  it("names the CLI's reason in the message", () => {
    expect(classifyRbdError(failed("rm-has-snapshots"), IMAGE).message).toBe(
      "volumes/base is busy: rbd: image has snapshots - these must be deleted with 'rbd snap purge' before the image can be removed.",
    );
    // In these two, a librbd log line landed inside the CLI's line.
    expect(classifyRbdError(failed("create-exists"), IMAGE).message).toBe("volumes/base exists: rbd: create error: (17) File exists");
    expect(classifyRbdError(failed("snap-unprotect-children"), SNAP).message).toBe("volumes/base@s1 is busy: rbd: unprotecting snap failed: (16) Device or resource busy");
  });

  it("marks a cluster that did not answer in time as transient BACKEND_UNAVAILABLE (rbd exits 110, ceph prints [errno 110] and exits 1)", () => {
    for (const name of ["no-monitor", "ceph-df-no-monitor"]) {
      const e = classifyRbdError(failed(name), { target: "cluster" });
      expect(e.code).toBe("BACKEND_UNAVAILABLE");
      expect(e.transient).toBe(true);
      expect(errnoOf(failed(name))).toBe(RBD_EXIT.TIMED_OUT);
    }
    expect(capture("ceph-df-no-monitor").exitCode).toBe(1);
  });

  it("leaves errors that are not command failures alone", () => {
    const timeout = new VolkitError("TIMEOUT", "rbd timed out after 1000 ms and was killed", { transient: true });
    expect(classifyRbdError(timeout, IMAGE)).toBe(timeout);
    const notFound = new VolkitError("COMMAND_NOT_FOUND", "command not found: rbd");
    expect(classifyRbdError(notFound, IMAGE)).toBe(notFound);
  });

  it("keeps an unknown errno as COMMAND_FAILED", () => {
    const odd = commandFailed({ argv: ["rbd", "bench"] }, 7, "rbd: something odd: (7) Argument list too long");
    expect(classifyRbdError(odd, IMAGE)).toBe(odd);
  });
});
