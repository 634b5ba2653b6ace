import { describe, expect, it } from "vitest";
import { commandFailed } from "../../../src/exec/runner.js";

describe("commandFailed", () => {
  it("quotes the last non-empty stderr line, without lvm's indentation", () => {
    const stderr = '  WARNING: Device /dev/sdb has size of 0 sectors.\n\n  Volume group "vg0" not found\n  Cannot process volume group vg0\n';
    const e = commandFailed({ argv: ["lvcreate", "-n", "x", "vg0"] }, 5, stderr);
    expect(e.message).toBe("lvcreate exited with code 5: Cannot process volume group vg0");
    expect(e.details.stderr).toBe('WARNING: Device /dev/sdb has size of 0 sectors.\n\n  Volume group "vg0" not found\n  Cannot process volume group vg0');
  });

  it("takes the last line of CRLF output, trimmed", () => {
    const e = commandFailed({ argv: ["iscsiadm", "-m", "node"] }, 21, "iscsiadm: config warning\r\n  iscsiadm: No records found\r\n");
    expect(e.message).toBe("iscsiadm exited with code 21: iscsiadm: No records found");
  });

  it("has no suffix when stderr is empty", () => {
    expect(commandFailed({ argv: ["false"] }, 1, "  \n").message).toBe("false exited with code 1");
  });
});
