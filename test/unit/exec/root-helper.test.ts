import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import type * as Execa from "execa";

// Every process the local runner starts goes through execa: record the calls.
const spawned = vi.hoisted(() => ({ calls: [] as unknown[][] }));
vi.mock("execa", async (importOriginal) => {
  const real = await importOriginal<typeof Execa>();
  return {
    ...real,
    execa: (...args: unknown[]) => {
      spawned.calls.push(args);
      return (real.execa as (...a: unknown[]) => unknown)(...args);
    },
  };
});

const { createLocalRunner } = await import("../../../src/exec/local-runner.js");
const { RootHelperSchema, parseRootHelper, withRootHelper } = await import("../../../src/exec/root-helper.js");
const { createSshRunner } = await import("../../../src/exec/ssh-runner.js");

const scratch = mkdtempSync(join(tmpdir(), "volkit-root-helper-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
beforeEach(() => {
  spawned.calls.length = 0;
});

const flag = join(scratch, "pwned");
const TEN_KB = "a".repeat(10 * 1024);

/** Root helpers a config form could carry; every one must be refused before anything runs. */
const HOSTILE: ReadonlyArray<readonly string[]> = [
  ["sh", "-c"],
  ["sh", "-c", `touch ${flag}`],
  ["/bin/sh", "-c", `touch ${flag};`],
  ["env", "LD_PRELOAD=/x"],
  ["env", "LD_PRELOAD=/tmp/evil.so"],
  ["--help"],
  ["-oProxyCommand=touch /tmp/x"],
  ["sudo", "-s"],
  ["sudo", "-i"],
  ["sudo", "-E"],
  ["sudo", "--preserve-env"],
  ["sudo", "-S"],
  ["sudo", "-b"],
  ["sudo", "-nE"],
  ["sudo", "-nu", "root"],
  ["sudo", "--", "sh"],
  ["sudo", "--"],
  ["sudo", "sh", "-c"],
  ["sudo", "-n", "-n"],
  ["sudo", "-u"],
  ["sudo", "-u", "-s"],
  ["sudo", "-u", "root;id"],
  ["sudo", "-u", "#0"],
  ["sudo", "-C", "3"],
  ["sudo", "-D", "/tmp"],
  ["sudo", "-R", "/tmp"],
  ["sudo", "-g", "root"],
  ["sudo", "-u", "root", "-u", "nobody"],
  ["sudo", "env", "LD_PRELOAD=/x"],
  ["doas", "-s"],
  ["doas", "-C", "/etc/doas.conf"],
  ["doas", "--", "sh"],
  ["./sudo"],
  ["bin/sudo"],
  ["../usr/bin/sudo"],
  ["/tmp/sudo"],
  ["/usr/local/bin/sudo"],
  ["/usr/bin/../bin/sh"],
  ["/usr/bin/sudo/"],
  ["SUDO"],
  ["sudo\0"],
  ["sudo", "-n\0"],
  ["sudo", "-u", "root\0"],
  ["sudo ", "-n"],
  ["sudo -n"],
  ["sudo", "-u", "ro ot"],
  ["sudo\n", "-n"],
  ["sud\u202eo"],
  [""],
  ["sudo", ""],
  [TEN_KB],
  ["sudo", "-u", TEN_KB],
  ["/usr/bin/cinder-rootwrap"],
  ["/usr/bin/cinder-rootwrap", "/tmp/rootwrap.conf"],
  ["/usr/bin/cinder-rootwrap", "/etc/cinder/../shadow.conf"],
  ["/usr/bin/cinder-rootwrap", "/etc/cinder/rootwrap.conf", "extra"],
  ["/usr/bin/cinder-rootwrap", "etc/cinder/rootwrap.conf"],
  ["/usr/local/bin/cinder-rootwrap", "/etc/cinder/rootwrap.conf"],
  ["/usr/bin/-rootwrap", "/etc/cinder/rootwrap.conf"],
  ["cinder-rootwrap", "/etc/cinder/rootwrap.conf", "sudo"],
  ["/etc/cinder/rootwrap.conf"],
  Array.from({ length: 9 }, () => "-n"),
];

describe("RootHelperSchema: accepted shapes, normalized", () => {
  const accepted: ReadonlyArray<[readonly string[], readonly string[]]> = [
    [[], []],
    [["sudo"], ["/usr/bin/sudo"]],
    [["sudo", "-n"], ["/usr/bin/sudo", "-n"]],
    [["/usr/bin/sudo", "-n"], ["/usr/bin/sudo", "-n"]],
    [["sudo", "-n", "-u", "volkit"], ["/usr/bin/sudo", "-n", "-u", "volkit"]],
    [["sudo", "-u", "cinder", "-n"], ["/usr/bin/sudo", "-u", "cinder", "-n"]],
    [["doas"], ["/usr/bin/doas"]],
    [["doas", "-n"], ["/usr/bin/doas", "-n"]],
    [["/usr/bin/doas", "-u", "_volkit"], ["/usr/bin/doas", "-u", "_volkit"]],
    [["/usr/bin/cinder-rootwrap", "/etc/cinder/rootwrap.conf"], ["/usr/bin/cinder-rootwrap", "/etc/cinder/rootwrap.conf"]],
    [["sudo", "cinder-rootwrap", "/etc/cinder/rootwrap.conf"], ["/usr/bin/sudo", "/usr/bin/cinder-rootwrap", "/etc/cinder/rootwrap.conf"]],
    [["sudo", "-n", "/usr/bin/os-brick-rootwrap", "/etc/os-brick/rootwrap.conf"], ["/usr/bin/sudo", "-n", "/usr/bin/os-brick-rootwrap", "/etc/os-brick/rootwrap.conf"]],
  ];
  it.each(accepted)("%j → %j", (input, normalized) => {
    expect(parseRootHelper(input)._unsafeUnwrap()).toEqual(normalized);
    expect(RootHelperSchema.parse(input)).toEqual(normalized);
  });

  it("carries a title and description into the JSON Schema panels render", () => {
    const schema = z.toJSONSchema(z.object({ rootHelper: RootHelperSchema.optional() }), { io: "input", unrepresentable: "any" }) as unknown as {
      properties: { rootHelper: { title?: string; description?: string; type?: string; items?: { pattern?: string; maxLength?: number } } };
    };
    const field = schema.properties.rootHelper;
    expect(field.title).toBe("Root helper");
    expect(field.description).toMatch(/sudo or doas/);
    expect(field.type).toBe("array");
    expect(field.items?.maxLength).toBe(255);
    expect(field.items?.pattern).toBeDefined();
  });
});

describe("hostile root helpers: INVALID_CONFIG, zero commands", () => {
  it.each(HOSTILE.map((h) => [h]))("%j is refused by the schema", (helper) => {
    const e = parseRootHelper(helper)._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_CONFIG");
    // Named by position, never echoed (a 10 KB value, a path, a control character).
    for (const marker of [TEN_KB, "LD_PRELOAD", "touch", "evil", "\u202e", "\0", "ProxyCommand", "shadow", "root;id", "ro ot"]) {
      expect(JSON.stringify(e.toJSON()) + e.message).not.toContain(marker);
    }
  });

  it.each(HOSTILE.map((h) => [h]))("%j: the local runner refuses every command and starts no process", async (helper) => {
    const runner = createLocalRunner({ rootHelper: helper });
    const target = join(scratch, `touched-${spawned.calls.length}-${Math.random()}`);
    const e = (await runner.run({ argv: ["touch", target] }))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_CONFIG");
    expect(spawned.calls).toEqual([]);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(flag)).toBe(false);
  });

  describe("the SSH runner", () => {
    let server: Server;
    let port = 0;
    let connections = 0;
    beforeEach(async () => {
      connections = 0;
      server = createServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const address = server.address();
      port = typeof address === "object" && address !== null ? address.port : 0;
      return () => new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it.each(HOSTILE.map((h) => [h]))("%j is refused at creation, before any connection", async (helper) => {
      const r = createSshRunner({ host: "127.0.0.1", port, username: "volkit", password: "not-used", insecureSkipHostKeyCheck: true, rootHelper: helper });
      const e = r._unsafeUnwrapErr();
      expect(e.code).toBe("INVALID_CONFIG");
      expect(e.message).toMatch(/rootHelper/);
      await sleep(20);
      expect(connections).toBe(0);
    });

    it("accepts an allowed helper and describes it normalized (the listener proves it would connect)", async () => {
      const r = createSshRunner({ host: "127.0.0.1", port, username: "volkit", password: "not-used", insecureSkipHostKeyCheck: true, rootHelper: ["sudo", "-n"] })._unsafeUnwrap();
      expect(r.description).toBe(`ssh volkit@127.0.0.1:${port} via /usr/bin/sudo -n`);
      expect((await r.run({ argv: ["true"] }))._unsafeUnwrapErr().code).toBe("BACKEND_UNAVAILABLE");
      expect(connections).toBe(1);
      expect((await r.close()).isOk()).toBe(true);
    });
  });
});

describe("withRootHelper: the environment goes after the helper", () => {
  it("puts env NAME=value between the helper and the command, values unchanged", () => {
    const argv = withRootHelper(["/usr/bin/sudo", "-n"], { LVM_SYSTEM_DIR: "/etc/volkit lvm", LC_ALL: "C" }, ["lvs", "--", "vg0"])._unsafeUnwrap();
    expect(argv).toEqual(["/usr/bin/sudo", "-n", "env", "LVM_SYSTEM_DIR=/etc/volkit lvm", "LC_ALL=C", "lvs", "--", "vg0"]);
  });

  it("adds nothing without variables, and only env without a helper", () => {
    expect(withRootHelper(["/usr/bin/doas"], {}, ["true"])._unsafeUnwrap()).toEqual(["/usr/bin/doas", "true"]);
    expect(withRootHelper([], {}, ["true"])._unsafeUnwrap()).toEqual(["true"]);
    expect(withRootHelper([], { A: "1" }, ["true"])._unsafeUnwrap()).toEqual(["env", "A=1", "true"]);
  });

  it.each([["LD_PRELOAD=x"], ["A B"], ["-u"], ["1A"], [""], ["A;id"], ["A\0"]])("refuses the variable name %j with INVALID_ARGUMENT", (name) => {
    expect(withRootHelper(["/usr/bin/sudo"], { [name]: "v" }, ["true"])._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
  });

  it("refuses a value with a NUL byte without echoing it", () => {
    const e = withRootHelper(["/usr/bin/sudo"], { TOKEN: "secret-part\0rest" }, ["true"])._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.message).not.toContain("secret-part");
  });

  it("the local runner refuses a bad variable name with a helper before starting anything", async () => {
    const r = createLocalRunner({ rootHelper: ["sudo", "-n"] });
    expect((await r.run({ argv: ["true"], env: { "X;touch /tmp/y": "1" } }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(spawned.calls).toEqual([]);
  });
});
