import { describe, expect, it } from "vitest";
import { ConfigCheckOutputSchema, ConfigShowOutputSchema } from "../../../src/cli/commands/config-cmd.js";
import { DEFAULT_STORE_PATH } from "../../../src/cli/config.js";
import { EXIT_CODES } from "../../../src/cli/exit-codes.js";
import { ErrorOutputSchema } from "../../../src/cli/output.js";
import { volkit } from "./cli-harness.js";

const GOOD = `
store: { kind: postgres, host: 127.0.0.1, port: 5433, user: volkit, password: pg-Secret-4711, database: volkit }
backends:
  lvm-a:
    driver: lvm
    volumeGroup: cinder-volumes
    target: { helper: lio, portals: ["192.0.2.10:3260"], chap: true }
  nfs-a:
    driver: nfs
    shares: ["192.0.2.20:/srv/nfs/share1"]
types:
  fast: { extraSpecs: { volume_backend_name: lvm-a } }
host:
  hostName: node-1
  connectors:
    iscsi: { multipath: true }
    nfs: { mount: { mountPointBase: /var/lib/volkit/mnt } }
`;

describe("config file", () => {
  it("is found by --config, then $VOLKIT_CONFIG, then ./volkit.yaml, then /etc/volkit/volkit.yaml", async () => {
    const files = { "/work/volkit.yaml": GOOD, "/etc/volkit/volkit.yaml": "backends: {}\n", "/srv/other.json": '{"backends": {}}', "/work/rel.yaml": "{}" };
    const path = async (argv: string[], env: Record<string, string> = {}): Promise<unknown> => (await volkit([...argv, "config", "check", "--json"], { files, env })).json().path;
    expect(await path([])).toBe("/work/volkit.yaml");
    expect(await path([], { VOLKIT_CONFIG: "/srv/other.json" })).toBe("/srv/other.json");
    expect(await path(["--config", "rel.yaml"], { VOLKIT_CONFIG: "/srv/other.json" })).toBe("/work/rel.yaml");
    expect(await path([], {})).toBe("/work/volkit.yaml");
    expect((await volkit(["config", "check", "--json"], { files: { "/etc/volkit/volkit.yaml": "{}" } })).json().path).toBe("/etc/volkit/volkit.yaml");
    const none = await volkit(["config", "show", "--json"]);
    expect(none.code).toBe(0);
    const shown = ConfigShowOutputSchema.parse(none.json());
    expect(shown.path).toBeNull();
    expect(shown.config.store).toEqual({ kind: "sqlite", path: DEFAULT_STORE_PATH, busyTimeoutMs: 10_000 });
  });

  it("checks every backend against its driver and every connector against its own schema", async () => {
    const r = await volkit(["config", "check", "--json"], { files: { "/work/volkit.yaml": GOOD } });
    expect(r.code).toBe(0);
    expect(ConfigCheckOutputSchema.parse(r.json())).toEqual({ path: "/work/volkit.yaml", valid: true, backends: ["lvm-a", "nfs-a"], types: ["fast"], store: "postgres" });
  });

  it("names every bad field with its full path and exits with INVALID_CONFIG's code", async () => {
    const bad = `
backends:
  lvm-a: { driver: lvm, volumeGroup: "-bad", lvmType: sometimes }
  x: { driver: zfs }
host:
  connectors: { iscsi: { multipath: "yes" } }
  rootHelper: [sh, -c]
typo: 1
`;
    const r = await volkit(["backend", "list", "--json"], { files: { "/work/volkit.yaml": bad } });
    expect(r.code).toBe(EXIT_CODES.INVALID_CONFIG);
    expect(r.code).toBe(78);
    const error = ErrorOutputSchema.parse(r.json()).error;
    expect(error.code).toBe("INVALID_CONFIG");
    const paths = (error.details.issues as { path: string[] }[]).map((i) => i.path.join("."));
    expect(paths).toEqual(
      expect.arrayContaining(["backends.lvm-a.volumeGroup", "backends.lvm-a.lvmType", "backends.x.driver", "host.connectors.iscsi.multipath", "host.rootHelper.0", ""]),
    );
    expect(error.details.issues).toContainEqual({ path: [], message: expect.stringContaining("typo") as unknown });
    expect(paths).toEqual(expect.arrayContaining(["backends.lvm-a.volumeGroup"]),
    );
    expect(error.message).toContain("typo");
    const human = await volkit(["backend", "list"], { files: { "/work/volkit.yaml": bad } });
    expect(human.code).toBe(78);
    expect(human.stderr).toMatch(/^volkit: error INVALID_CONFIG: invalid config \/work\/volkit\.yaml/);
    expect(human.stderr).toContain("\n  backends.lvm-a.volumeGroup: ");
    expect(human.stderr).toContain("\n  host.connectors.iscsi.multipath: ");
  });

  it("reports a YAML syntax error by line and column without quoting the file", async () => {
    const text = "store:\n  kind: postgres\n  password: Very-Secret-99\n   host: [127.0.0.1\n";
    const r = await volkit(["config", "show", "--json"], { files: { "/work/volkit.yaml": text } });
    expect(r.code).toBe(78);
    const error = ErrorOutputSchema.parse(r.json()).error;
    expect(error.message).toMatch(/not valid YAML or JSON at line \d+, column \d+/);
    expect(r.stdout).not.toContain("Very-Secret-99");
  });

  it("fails INVALID_CONFIG when --config names a file that is not there", async () => {
    const r = await volkit(["--config", "/nope.yaml", "config", "check"]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain("config file /nope.yaml (from --config) does not exist");
  });

  it("masks every secret in config show, in JSON and in text, and in errors about the config", async () => {
    const withSecrets = `
store: { kind: postgres, connectionString: "postgres://volkit:Conn-Pass-123@127.0.0.1:5433/volkit" }
backends:
  lvm-a: { driver: lvm, target: { helper: tgt, portals: ["192.0.2.10:3260"] } }
  future: { driver: nfs, shares: ["192.0.2.20:/x"], encryptionKey: "Key-Material-42", s3: { secretAccessKey: "S3-Secret-Key-7", accessKeyId: AKIAEXAMPLE } }
`;
    const files = { "/work/volkit.yaml": withSecrets };
    const json = await volkit(["config", "show", "--json"], { files });
    // Fields the driver does not know are kept (its schema is not strict): their secrets are masked by name.
    expect(json.code).toBe(0);
    for (const secret of ["Conn-Pass-123", "Key-Material-42", "S3-Secret-Key-7"]) expect(json.stdout).not.toContain(secret);
    expect(json.json<{ config: { backends: { future: unknown } } }>().config.backends.future).toMatchObject({ encryptionKey: "***", s3: { secretAccessKey: "***", accessKeyId: "AKIAEXAMPLE" } });
    // A refused store (no host, no URL) with a password: the error names the store, never the password.
    const refused = await volkit(["config", "show", "--json"], { files: { "/work/volkit.yaml": `store: { kind: postgres, password: "Iscsi-Secret-99", port: "Iscsi-Secret-99" }\n` } });
    expect(refused.code).toBe(78);
    expect(refused.stdout).not.toContain("Iscsi-Secret-99");
    const ok = `
store: { kind: postgres, connectionString: "postgres://volkit:Conn-Pass-123@127.0.0.1:5433/volkit", password: "Other-Pass-456" }
backends:
  lvm-a: { driver: lvm, target: { helper: tgt, portals: ["192.0.2.10:3260"] } }
`;
    for (const argv of [["config", "show", "--json"], ["config", "show"]]) {
      const r = await volkit(argv, { files: { "/work/volkit.yaml": ok } });
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain("Conn-Pass-123");
      expect(r.stdout).not.toContain("Other-Pass-456");
      expect(r.stdout).toContain("***");
    }
    const shown = ConfigShowOutputSchema.parse((await volkit(["config", "show", "--json"], { files: { "/work/volkit.yaml": ok } })).json());
    expect(shown.config.store).toMatchObject({ kind: "postgres", connectionString: "***", password: "***" });
  });
});
