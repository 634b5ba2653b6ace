/**
 * Command-line entry of the array simulator (scripts/array-simulator.ts runs it).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startArraySimulator } from "./index.js";

/**
 * The `npm run simulator` command: starts the simulator with the command-line options, prints
 * where everything is, and stops it on SIGINT/SIGTERM (then exits the process).
 */
export async function runSimulatorCli(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      http: { type: "boolean", default: false },
      "no-iscsi": { type: "boolean", default: false },
      dir: { type: "string" },
      state: { type: "string" },
      user: { type: "string" },
    },
  });

  const sim = await startArraySimulator({
    protocol: values.http ? "http" : "https",
    iscsi: !values["no-iscsi"],
    ...(values.dir === undefined ? {} : { dir: values.dir }),
    ...(values.state === undefined ? {} : { stateFile: values.state }),
    ...(values.user === undefined ? {} : { user: values.user }),
    ...(process.env.ARRAY_SIMULATOR_PASSWORD ? { password: process.env.ARRAY_SIMULATOR_PASSWORD } : {}),
  });
  const passwordFile = join(sim.dir, "password");
  writeFileSync(passwordFile, `${sim.password}\n`, { mode: 0o600 });

  const lines = [
    "volkit array simulator (OceanStor REST dialect)",
    ...sim.urls.map((u, i) => `  REST URL ${i + 1}:   ${u}`),
    `  user:         ${sim.user}`,
    `  password in:  ${passwordFile}`,
    `  device id:    ${sim.deviceId}`,
    ...(sim.caFile ? [`  CA cert:      ${sim.caFile}`] : []),
    `  data in:      ${sim.dir}`,
    ...sim.iscsi.targets.map((t) => `  iSCSI target: ${t.portal} ${t.iqn}`),
    "Ctrl-C stops it and removes what it made (a --dir you gave is kept).",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void sim.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`stopping the simulator failed: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
