#!/usr/bin/env node
/**
 * The `volkit` bin (package.json "bin"; built to dist/cli/main.js). Runs one command line and
 * exits with its code. The service-backed commands open the volume service from the config file
 * through src/cli/service-binding.ts, with commands run through the config's root helper.
 */
import { createLocalRunner } from "../exec/local-runner.js";
import { processEnvironment } from "./cli-env.js";
import { runCli } from "./program.js";
import { createServiceFactory } from "./service-binding.js";

const service = createServiceFactory({ runner: (rootHelper) => createLocalRunner(rootHelper === undefined ? {} : { rootHelper }) });

process.exitCode = await runCli(process.argv.slice(2), processEnvironment(service));
