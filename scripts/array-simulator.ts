/**
 * Runs the simulated OceanStor-style IP-SAN array until Ctrl-C:
 *
 *   npm run simulator                 # HTTPS, iSCSI data plane (needs root and tgt)
 *   npm run simulator -- --http       # plain HTTP
 *   npm run simulator -- --no-iscsi   # REST only
 *   npm run simulator -- --dir /var/tmp/array --state /var/tmp/array/state.json   # keep data across runs
 *
 * Prints the REST URLs, the user, where the password, the CA certificate and the LUN files are.
 * The password is written to a 0600 file in the data directory, never printed.
 */
import { runSimulatorCli } from "../src/testing/array-simulator/sim-cli.js";

await runSimulatorCli(process.argv.slice(2));
