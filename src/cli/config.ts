import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { ResultAsync, err, errAsync, ok, okAsync, type Result } from "neverthrow";
import { parseDocument } from "yaml";
import { z } from "zod";
import { IscsiConnectorConfigSchema } from "../connectors/iscsi/iscsi-config.js";
import { LocalConnectorConfigSchema } from "../connectors/local/local-connector.js";
import { NfsConnectorConfigSchema } from "../connectors/nfs/nfs-connector.js";
import { VolkitError } from "../core/errors.js";
import { HostNameSchema } from "../core/validation.js";
import { driverDefinition } from "../drivers/registry.js";
import { RootHelperSchema } from "../exec/root-helper.js";
import { BackendNameSchema } from "../service/records/record-fields.js";
import { ExtraSpecKeySchema, QosConsumerSchema } from "../service/records/volume-type-record.js";
import { BackupRepositoryNameSchema } from "../service/backup-repositories.js";
import { StoreConfigSchema } from "../service/store/open-store.js";
import { registerConfigSecrets } from "./config-secrets.js";

/**
 * The `volkit` config file (YAML or JSON): the backends (each a driver config for
 * `createBackend`), the volume types, the service's store and this host's connectors. Unknown keys
 * are refused, so a typo names itself; each backend is checked against its driver's own schema and
 * each connector against its connector's, and every bad field is named with its full path
 * (`backends.lvm-a.volumeGroup: …`). Secrets in it are registered for redaction as it is read.
 *
 * ```yaml
 * store: { kind: sqlite, path: /var/lib/volkit/volkit.db }
 * backends:
 *   lvm-a: { driver: lvm, volumeGroup: cinder-volumes, target: { helper: lio, portals: ["192.0.2.10:3260"] } }
 * types:
 *   fast: { extraSpecs: { volume_backend_name: lvm-a } }
 * host:
 *   connectors: { iscsi: { multipath: true } }
 * backupRepositories:
 *   local: { type: directory, default: true, options: { directory: /srv/backups } }
 * ```
 */

/** Where the SQLite store lives when the config names none. */
export const DEFAULT_STORE_PATH = "/var/lib/volkit/volkit.db";

/** The files tried, in order, when neither `--config` nor `$VOLKIT_CONFIG` names one. */
export const DEFAULT_CONFIG_FILES = ["volkit.yaml", "/etc/volkit/volkit.yaml"] as const;

const ConnectorSchemas = { iscsi: IscsiConnectorConfigSchema, nfs: NfsConnectorConfigSchema, local: LocalConnectorConfigSchema } as const;

/** A volume type as the config declares it (keyed by its name). */
export const TypeConfigSchema = z.strictObject({
  /** Description. */
  description: z.string().max(1024).optional(),
  /** Extra specs, as Cinder writes them (`volume_backend_name`, `provisioning:type`, `capabilities:…`). */
  extraSpecs: z.record(ExtraSpecKeySchema, z.string().max(1024)).default({}),
  /** QoS specs linked to the type. */
  qos: z
    .strictObject({
      /** Who applies them. */
      consumer: QosConsumerSchema.default("back-end"),
      /** Key/values (`total_iops_sec`, `read_bytes_sec_max`…). */
      specs: z.record(z.string().regex(/^[A-Za-z0-9_:.-]{1,255}$/, "must be a QoS key"), z.union([z.number().finite(), z.string().max(1024)])).default({}),
    })
    .optional(),
  /** Whether every project may use it. */
  isPublic: z.boolean().default(true),
});

/** This host: its name, the root helper commands run through, and each protocol's connector config. */
export const HostConfigSchema = z.strictObject({
  /** Host name reported to drivers (default: this machine's). */
  hostName: HostNameSchema.optional(),
  /** Program and flags put before every command to run it as root (`[sudo, -n]`); empty when volkit runs as root. */
  rootHelper: RootHelperSchema.optional(),
  /** Connector configs by protocol (`iscsi`, `nfs`, `local`), each checked against its connector's schema. */
  connectors: z.strictObject({ iscsi: z.unknown().optional(), nfs: z.unknown().optional(), local: z.unknown().optional() }).default({}),
});

/**
 * The whole config file, as far as one schema can say: backends and connectors are checked
 * separately against their own schemas by {@link checkConfig}, so a bad backend field and a typo at
 * the top are reported together.
 */
export const CliConfigSchema = z.strictObject({
  /** The service's store (SQLite file by default, PostgreSQL, or memory). */
  store: StoreConfigSchema.default({ kind: "sqlite", path: DEFAULT_STORE_PATH, busyTimeoutMs: 10_000 }),
  /** Backends by name; each value is a driver config (`driver: lvm`, …). */
  backends: z.record(BackendNameSchema, z.looseObject({ driver: z.string() })).default({}),
  /** Volume types by name. */
  types: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/, "must be a type name"), TypeConfigSchema).default({}),
  /** This host. */
  host: HostConfigSchema.prefault({}),
  /**
   * Backup repositories by name: `{ type: directory | nfs | s3, default?: true, options: {…} }`
   * (the options of `createLocalDirectoryRepository`, `createNfsBackupRepository`,
   * `createS3BackupRepository`); checked in full when the service opens. S3 keys are secrets.
   */
  backupRepositories: z.record(BackupRepositoryNameSchema, z.looseObject({ type: z.enum(["directory", "nfs", "s3"]), default: z.boolean().optional(), options: z.looseObject({}) })).default({}),
});

/** A refused field: where and why. */
interface ConfigIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Issues of each backend against its own driver's schema, and of each connector against its own. */
function sectionIssues(raw: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const root = isRecord(raw) ? raw : {};
  for (const [name, backend] of Object.entries(isRecord(root.backends) ? root.backends : {})) {
    const driver = isRecord(backend) ? backend.driver : undefined;
    if (typeof driver !== "string") continue; // the base schema names it
    const definition = driverDefinition(driver);
    if (definition.isErr()) {
      issues.push({ path: ["backends", name, "driver"], message: definition.error.message });
      continue;
    }
    const parsed = definition.value.configSchema.safeParse(backend);
    if (!parsed.success) for (const issue of parsed.error.issues) issues.push({ path: ["backends", name, ...issue.path], message: issue.message });
  }
  const host = isRecord(root.host) ? root.host : {};
  const connectors = isRecord(host.connectors) ? host.connectors : {};
  for (const protocol of Object.keys(ConnectorSchemas) as (keyof typeof ConnectorSchemas)[]) {
    if (connectors[protocol] === undefined) continue;
    const parsed = ConnectorSchemas[protocol].safeParse(connectors[protocol]);
    if (!parsed.success) for (const issue of parsed.error.issues) issues.push({ path: ["host", "connectors", protocol, ...issue.path], message: issue.message });
  }
  return issues;
}

/** Checks a parsed config file: the base schema, every backend and every connector; all bad fields in one `INVALID_CONFIG`. */
export function checkConfig(raw: unknown, path: string): Result<CliConfig, VolkitError> {
  const base = CliConfigSchema.safeParse(raw);
  const issues: ConfigIssue[] = [...(base.success ? [] : base.error.issues), ...sectionIssues(raw)];
  if (issues.length === 0 && base.success) return ok(base.data);
  const text = issues.map((i) => `${i.path.length ? i.path.map(String).join(".") : "(top level)"}: ${i.message}`);
  return err(
    new VolkitError("INVALID_CONFIG", `invalid config ${path}: ${text.join("; ")}`, {
      source: "cli",
      details: { path, issues: issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
    }),
  );
}

/** The config as read and checked. Backend and connector configs are kept as written (input form). */
export type CliConfig = z.output<typeof CliConfigSchema>;

/** A loaded config and where it came from. */
export interface LoadedConfig {
  /** The file read; undefined when no file was found and the defaults apply. */
  readonly path: string | undefined;
  /** The checked config. */
  readonly config: CliConfig;
}

/** Where to look for the config. */
export interface ConfigLookup {
  /** `--config`, when given. */
  readonly explicit?: string | undefined;
  /** The environment (`VOLKIT_CONFIG`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths resolve against (the working directory). */
  readonly cwd: string;
  /** Whether a file exists (injected for tests). */
  readonly exists: (path: string) => Promise<boolean>;
}

/**
 * The config file to read: `--config`, else `$VOLKIT_CONFIG` (each must exist), else the first of
 * `./volkit.yaml` and `/etc/volkit/volkit.yaml` that exists; undefined when none does.
 */
export function findConfigFile(lookup: ConfigLookup): ResultAsync<string | undefined, VolkitError> {
  const named = lookup.explicit ?? (lookup.env.VOLKIT_CONFIG === "" ? undefined : lookup.env.VOLKIT_CONFIG);
  if (named !== undefined) {
    const path = isAbsolute(named) ? named : resolve(lookup.cwd, named);
    const from = lookup.explicit !== undefined ? "--config" : "VOLKIT_CONFIG";
    return ResultAsync.fromSafePromise(lookup.exists(path)).andThen((found) =>
      found ? okAsync(path) : errAsync(new VolkitError("INVALID_CONFIG", `config file ${path} (from ${from}) does not exist`, { source: "cli", details: { path } })),
    );
  }
  const candidates = DEFAULT_CONFIG_FILES.map((f) => (isAbsolute(f) ? f : resolve(lookup.cwd, f)));
  return ResultAsync.fromSafePromise(
    (async () => {
      for (const path of candidates) if (await lookup.exists(path)) return path;
      return undefined;
    })(),
  );
}

/**
 * Parses config text (YAML; JSON is valid YAML) and checks it. A syntax error names its line and
 * column but never quotes the text: the file may hold passwords.
 */
export function parseConfigText(text: string, path: string): ResultAsync<CliConfig, VolkitError> {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const problem = doc.errors[0];
  if (problem !== undefined) {
    const at = lineAndColumn(text, problem.pos[0]);
    const where = ` at line ${at.line}, column ${at.col}`;
    return errAsync(new VolkitError("INVALID_CONFIG", `config file ${path} is not valid YAML or JSON${where} (${problem.code})`, { source: "cli", details: { path, ...(at ? { line: at.line, column: at.col } : {}) } }));
  }
  const raw: unknown = doc.toJS() ?? {};
  // Secrets are registered before the check, so even a refused value is redacted everywhere.
  registerConfigSecrets(raw);
  const checked = checkConfig(raw, path);
  return checked.isOk() ? okAsync(checked.value) : errAsync(checked.error);
}

/** 1-based line and column of an offset. */
function lineAndColumn(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, Math.max(0, offset));
  const line = before.split("\n").length;
  return { line, col: offset - before.lastIndexOf("\n") };
}

/** Finds, reads and checks the config (see {@link findConfigFile}); the defaults when there is no file. */
export function loadConfig(lookup: ConfigLookup, read: (path: string) => Promise<string> = (p) => readFile(p, "utf8")): ResultAsync<LoadedConfig, VolkitError> {
  return findConfigFile(lookup).andThen((path) => {
    if (path === undefined) return parseConfigText("{}", "(defaults)").map((config): LoadedConfig => ({ path: undefined, config }));
    return ResultAsync.fromPromise(read(path), (e) => new VolkitError("INVALID_CONFIG", `cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`, { source: "cli", details: { path } }))
      .andThen((text) => parseConfigText(text, path))
      .map((config): LoadedConfig => ({ path, config }));
  });
}
